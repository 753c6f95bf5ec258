package rules

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/confinehq/confine/profiles"
	"github.com/google/go-cmp/cmp"
)

var cmpAddr = cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })

var ap = netip.MustParseAddrPort

// Capability bits used below (linux/capability.h).
const (
	capChown          = 1 << 0
	capNetBindService = 1 << 10
	capNetRaw         = 1 << 13
	capSysAdmin       = 1 << 21
)

func mustCompile(t *testing.T, p *profiles.Profile) *Set {
	t.Helper()
	s, err := Compile(p)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s
}

func TestCompileErrors(t *testing.T) {
	p := &profiles.Profile{
		Name: "bad",
		Mode: profiles.ModeEnforce,
		Exec: profiles.Exec{Allow: profiles.List{"/bin/sh", "relative"}},
		Files: profiles.Files{
			Deny:  profiles.List{"/etc/[shadow"},
			Watch: profiles.List{"/x/**.log"},
		},
		Network: profiles.Network{
			Egress: profiles.List{"10.0.0.0/33:80", "db.internal:5432"},
			Listen: profiles.Ports{0, 80},
		},
		Privileges: profiles.Privileges{Capabilities: profiles.List{"NET_BIND_SERVICE", "FLY"}},
	}
	_, err := Compile(p)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Compile() error = %v, want ErrInvalid", err)
	}
	for _, want := range []string{
		`profile "bad"`,
		`exec.allow[1]: bad path glob "relative": offset 0: not an absolute path`,
		`files.deny[0]: bad path glob "/etc/[shadow": offset 5: unterminated character class`,
		`files.watch[0]: bad path glob "/x/**.log": offset 3: ** must be a whole path segment`,
		`network.egress[0]: egress "10.0.0.0/33:80": bad CIDR`,
		`network.listen[0]: port 0 is outside 1-65535`,
		`privileges.capabilities[1]: unknown capability "FLY"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Compile() error does not contain %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "db.internal") || strings.Contains(err.Error(), "[0]: unknown capability") {
		t.Errorf("Compile() reports valid entries:\n%v", err)
	}
}

func TestHosts(t *testing.T) {
	s := mustCompile(t, &profiles.Profile{Name: "h", Network: profiles.Network{
		Egress: profiles.List{"db.internal:5432", "10.0.0.0/8:*", "*:53", "api.example.com:443", "DB.internal.:80"},
	}})
	want := []string{"api.example.com", "db.internal"}
	if diff := cmp.Diff(want, s.Hosts()); diff != "" {
		t.Errorf("Hosts() mismatch (-want +got):\n%s", diff)
	}
	if s.Name() != "h" || s.Mode() != "" {
		t.Errorf("Name(), Mode() = %q, %q", s.Name(), s.Mode())
	}
}

func TestEvaluate(t *testing.T) {
	web := &profiles.Profile{
		Name: "web",
		Mode: profiles.ModeMonitor,
		Exec: profiles.Exec{Allow: profiles.List{"/bin/busybox", "/usr/sbin/*"}},
		Files: profiles.Files{
			Deny:     profiles.List{"/etc/shadow", "/run/secrets/db"},
			ReadOnly: profiles.List{"/etc/**"},
			Watch:    profiles.List{"/run/secrets/**"},
		},
		Network: profiles.Network{
			Egress: profiles.List{"10.0.0.0/8:5432", "127.0.0.1:*", "[fd00::/8]:443", "db.internal:5432", "*:53"},
			Listen: profiles.Ports{80, 443},
		},
		Privileges: profiles.Privileges{
			AllowRoot:    profiles.Bool(false),
			Capabilities: profiles.List{"NET_BIND_SERVICE"},
		},
	}
	open := &profiles.Profile{Name: "open", Mode: profiles.ModeMonitor}
	openEnforce := &profiles.Profile{Name: "open-enforce", Mode: profiles.ModeEnforce}
	nothing := &profiles.Profile{
		Name:       "nothing",
		Mode:       profiles.ModeEnforce,
		Exec:       profiles.Exec{Allow: profiles.List{}},
		Network:    profiles.Network{Egress: profiles.List{}, Listen: profiles.Ports{}},
		Privileges: profiles.Privileges{Capabilities: profiles.List{}},
	}
	// A well-behaved process under "web".
	good := ProcessSnapshot{
		PID: 10, StartTime: 99, Exe: "/usr/sbin/nginx", UID: 101, OtherUIDs: []uint32{101, 101, 101},
		CapEff: capNetBindService,
		Fds: []Fd{
			{Path: "/etc/nginx/nginx.conf"},
			{Path: "/var/log/nginx/access.log", Write: true},
			{Path: "/dev/null", Write: true},
			{Path: "/dev/pts/0", Write: true},
		},
		Conns: []Conn{
			{Proto: "tcp", Local: ap("10.1.1.1:40000"), Remote: ap("10.2.3.4:5432"), State: "ESTABLISHED"},
			{Proto: "tcp6", Local: ap("[::ffff:127.0.0.1]:40001"), Remote: ap("[::ffff:127.0.0.1]:9000"), State: "ESTABLISHED"},
			{Proto: "tcp", Local: ap("10.1.1.1:80"), Remote: ap("203.0.113.9:51000"), State: "ESTABLISHED", Inbound: true},
			{Proto: "udp", Local: ap("10.1.1.1:41000"), Remote: ap("192.0.2.53:53"), State: "ESTABLISHED"},
			{Proto: "tcp6", Local: ap("[fd00::2]:41000"), Remote: ap("[fd12::1]:443"), State: "SYN_SENT"},
		},
		Listens: []uint16{80, 443},
	}
	with := func(f func(*ProcessSnapshot)) ProcessSnapshot {
		s := good
		f(&s)
		return s
	}

	tests := []struct {
		name     string
		profile  *profiles.Profile
		resolved map[string][]netip.Addr
		snap     ProcessSnapshot
		want     []Violation
	}{
		{name: "well-behaved process", profile: web, snap: good},
		{
			name:    "executable not allowed",
			profile: web,
			snap:    with(func(s *ProcessSnapshot) { s.Exe = "/tmp/xmrig" }),
			want:    []Violation{{Rule: RuleExec, Subject: "/tmp/xmrig", SubjectKind: SubjectPath, Detail: "executable not in exec.allow"}},
		},
		{
			name:    "glob does not cross segments",
			profile: web,
			snap:    with(func(s *ProcessSnapshot) { s.Exe = "/usr/sbin/x/evil" }),
			want:    []Violation{{Rule: RuleExec, Subject: "/usr/sbin/x/evil", SubjectKind: SubjectPath, Detail: "executable not in exec.allow"}},
		},
		{
			name:    "deleted executable at an allowed path",
			profile: web,
			snap:    with(func(s *ProcessSnapshot) { s.ExeDeleted = true }),
			want:    []Violation{{Rule: RuleExec, Subject: "/usr/sbin/nginx", SubjectKind: SubjectPath, Detail: DetailFileless}},
		},
		{
			name:    "memfd executable",
			profile: web,
			snap:    with(func(s *ProcessSnapshot) { s.Exe, s.ExeDeleted, s.ExeMemfd = "/memfd:payload", true, true }),
			want:    []Violation{{Rule: RuleExec, Subject: "/memfd:payload", SubjectKind: SubjectPath, Detail: DetailFileless}},
		},
		{
			name:    "fileless without exec.allow in monitor mode is allowed",
			profile: open,
			snap:    with(func(s *ProcessSnapshot) { s.Exe, s.ExeMemfd = "/memfd:payload", true }),
		},
		{
			name:    "fileless without exec.allow in enforce mode",
			profile: openEnforce,
			snap:    with(func(s *ProcessSnapshot) { s.Exe, s.ExeMemfd = "/memfd:payload", true }),
			want:    []Violation{{Rule: RuleExec, Subject: "/memfd:payload", SubjectKind: SubjectPath, Detail: DetailFileless}},
		},
		{
			name:    "unknown executable is not checked",
			profile: web,
			snap:    with(func(s *ProcessSnapshot) { s.Exe = "" }),
		},
		{
			name:    "denied file, read-only write, watched secret, all once",
			profile: web,
			snap: with(func(s *ProcessSnapshot) {
				s.Fds = []Fd{
					{Path: "/etc/shadow"},
					{Path: "/etc/shadow"},
					{Path: "/etc/passwd", Write: true},
					{Path: "/etc/hosts"},
					{Path: "/run/secrets/api-key"},
					{Path: "/run/secrets/db"},
					{Path: "pipe:[123]"},
					{Path: "/memfd:buf", Write: true},
				}
			}),
			want: []Violation{
				{Rule: RuleFile, Subject: "/etc/shadow", SubjectKind: SubjectPath, Detail: "open of a path in files.deny"},
				{Rule: RuleFile, Subject: "/etc/passwd", SubjectKind: SubjectPath, Detail: "opened for writing, path is in files.readOnly"},
				{Rule: RuleFile, Subject: "/run/secrets/api-key", SubjectKind: SubjectPath, Detail: "open of a path in files.watch", Watch: true},
				{Rule: RuleFile, Subject: "/run/secrets/db", SubjectKind: SubjectPath, Detail: "open of a path in files.deny"},
			},
		},
		{
			name:    "egress outside the list, loopback included",
			profile: web,
			snap: with(func(s *ProcessSnapshot) {
				s.Conns = []Conn{
					{Proto: "tcp", Local: ap("10.1.1.1:40000"), Remote: ap("10.2.3.4:22"), State: "ESTABLISHED"},
					{Proto: "tcp", Local: ap("127.0.0.1:40000"), Remote: ap("127.0.0.2:80"), State: "ESTABLISHED"},
					{Proto: "tcp6", Local: ap("[::ffff:10.1.1.1]:40000"), Remote: ap("[::ffff:198.51.100.7]:443"), State: "SYN_SENT"},
					{Proto: "udp6", Local: ap("[fd00::2]:5000"), Remote: ap("[2001:db8::1]:443"), State: "ESTABLISHED"},
				}
			}),
			want: []Violation{
				{Rule: RuleNetwork, Subject: "10.2.3.4:22", SubjectKind: SubjectPeer, Detail: "TCP connection to a peer outside network.egress"},
				{Rule: RuleNetwork, Subject: "127.0.0.2:80", SubjectKind: SubjectPeer, Detail: "TCP connection to a peer outside network.egress"},
				{Rule: RuleNetwork, Subject: "198.51.100.7:443", SubjectKind: SubjectPeer, Detail: "TCP connection to a peer outside network.egress"},
				{Rule: RuleNetwork, Subject: "[2001:db8::1]:443", SubjectKind: SubjectPeer, Detail: "UDP connection to a peer outside network.egress"},
			},
		},
		{
			name:    "unresolved host name admits nothing",
			profile: web,
			snap: with(func(s *ProcessSnapshot) {
				s.Conns = []Conn{{Proto: "tcp", Local: ap("172.16.0.2:40000"), Remote: ap("172.16.0.9:5432"), State: "ESTABLISHED"}}
			}),
			want: []Violation{{Rule: RuleNetwork, Subject: "172.16.0.9:5432", SubjectKind: SubjectPeer, Detail: "TCP connection to a peer outside network.egress"}},
		},
		{
			name:     "resolved host name admits its addresses on its port",
			profile:  web,
			resolved: map[string][]netip.Addr{"DB.internal.": {netip.MustParseAddr("172.16.0.9")}},
			snap: with(func(s *ProcessSnapshot) {
				s.Conns = []Conn{
					{Proto: "tcp", Local: ap("172.16.0.2:40000"), Remote: ap("172.16.0.9:5432"), State: "ESTABLISHED"},
					{Proto: "tcp6", Local: ap("[::ffff:172.16.0.2]:40001"), Remote: ap("[::ffff:172.16.0.9]:5432"), State: "ESTABLISHED"},
					{Proto: "tcp", Local: ap("172.16.0.2:40002"), Remote: ap("172.16.0.9:22"), State: "ESTABLISHED"},
				}
			}),
			want: []Violation{{Rule: RuleNetwork, Subject: "172.16.0.9:22", SubjectKind: SubjectPeer, Detail: "TCP connection to a peer outside network.egress"}},
		},
		{
			name:    "listening outside the list",
			profile: web,
			snap:    with(func(s *ProcessSnapshot) { s.Listens = []uint16{80, 8080, 4444} }),
			want: []Violation{
				{Rule: RuleNetwork, Subject: "8080", SubjectKind: SubjectPort, Detail: "listening on a port outside network.listen"},
				{Rule: RuleNetwork, Subject: "4444", SubjectKind: SubjectPort, Detail: "listening on a port outside network.listen"},
			},
		},
		{
			name:    "root and extra capabilities",
			profile: web,
			snap: with(func(s *ProcessSnapshot) {
				s.UID, s.OtherUIDs = 0, []uint32{0, 0, 0}
				s.CapEff = capChown | capNetBindService | capNetRaw | capSysAdmin
			}),
			want: []Violation{
				{Rule: RulePrivilege, Subject: "0", SubjectKind: SubjectUID, Detail: "running as root (privileges.allowRoot is false)"},
				{Rule: RulePrivilege, Subject: "CAP_CHOWN", SubjectKind: SubjectCapability, Detail: "effective capability not in privileges.capabilities"},
				{Rule: RulePrivilege, Subject: "CAP_NET_RAW", SubjectKind: SubjectCapability, Detail: "effective capability not in privileges.capabilities"},
				{Rule: RulePrivilege, Subject: "CAP_SYS_ADMIN", SubjectKind: SubjectCapability, Detail: "effective capability not in privileges.capabilities"},
			},
		},
		{
			name:    "saved uid 0 can switch back",
			profile: web,
			snap:    with(func(s *ProcessSnapshot) { s.OtherUIDs = []uint32{101, 0, 101} }),
			want: []Violation{{Rule: RulePrivilege, Subject: "0", SubjectKind: SubjectUID,
				Detail: "can switch back to root: real, saved or filesystem uid is 0 (privileges.allowRoot is false)"}},
		},
		{
			name:    "a capability bit the table does not know",
			profile: web,
			snap:    with(func(s *ProcessSnapshot) { s.CapEff |= 1 << 50 }),
			want:    []Violation{{Rule: RulePrivilege, Subject: "CAP_50", SubjectKind: SubjectCapability, Detail: "effective capability not in privileges.capabilities"}},
		},
		{
			name:    "root allowed and capabilities unchecked when the profile is silent",
			profile: open,
			snap: with(func(s *ProcessSnapshot) {
				s.UID, s.CapEff, s.Exe = 0, 0x1ffffffffff, "/anything"
				s.Listens = []uint16{1, 2}
				s.Conns = []Conn{{Proto: "tcp", Remote: ap("1.2.3.4:5"), State: "ESTABLISHED"}}
			}),
		},
		{
			name:    "empty lists allow nothing",
			profile: nothing,
			snap:    with(func(s *ProcessSnapshot) { s.Conns = s.Conns[:1] }),
			want: []Violation{
				{Rule: RuleExec, Subject: "/usr/sbin/nginx", SubjectKind: SubjectPath, Detail: "executable not in exec.allow"},
				{Rule: RuleNetwork, Subject: "10.2.3.4:5432", SubjectKind: SubjectPeer, Detail: "TCP connection to a peer outside network.egress"},
				{Rule: RuleNetwork, Subject: "80", SubjectKind: SubjectPort, Detail: "listening on a port outside network.listen"},
				{Rule: RuleNetwork, Subject: "443", SubjectKind: SubjectPort, Detail: "listening on a port outside network.listen"},
				{Rule: RulePrivilege, Subject: "CAP_NET_BIND_SERVICE", SubjectKind: SubjectCapability, Detail: "effective capability not in privileges.capabilities"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustCompile(t, tt.profile)
			if tt.resolved != nil {
				s = s.WithResolved(tt.resolved)
			}
			got := s.Evaluate(tt.snap)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Evaluate() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWithResolvedCopies(t *testing.T) {
	s := mustCompile(t, &profiles.Profile{Name: "r", Network: profiles.Network{Egress: profiles.List{"db:5432"}}})
	r := s.WithResolved(map[string][]netip.Addr{"db": {netip.MustParseAddr("10.0.0.1")}})
	snap := ProcessSnapshot{Conns: []Conn{{Proto: "tcp", Remote: ap("10.0.0.1:5432"), State: "ESTABLISHED"}}}
	if v := r.Evaluate(snap); len(v) != 0 {
		t.Errorf("resolved set: %v", v)
	}
	if v := s.Evaluate(snap); len(v) != 1 {
		t.Errorf("original set changed by WithResolved: %v", v)
	}
}

func TestIsFilePath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/etc/passwd", true},
		{"/dev/sda", true},
		{"/dev/pts", true},
		{"/dev/pts/0", false},
		{"/dev/null", false},
		{"/dev/urandom", false},
		{"/memfd:x", false},
		{"pipe:[1]", false},
		{"anon_inode:[eventfd]", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := IsFilePath(tt.path); got != tt.want {
				t.Errorf("IsFilePath(%q) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}
