package rules

import (
	"errors"
	"testing"

	"github.com/confinehq/confine/monitor/proc"
	"github.com/confinehq/confine/profiles"
	"github.com/google/go-cmp/cmp"
)

const fixtures = "../../testdata/proc"

func TestCaptureFixtures(t *testing.T) {
	const containerCaps = 0xa80425fb
	root := []uint32{0, 0, 0}
	tests := []struct {
		name    string
		pid     int
		opts    CaptureOptions
		want    ProcessSnapshot
		wantErr error
	}{
		{
			name: "container init with a secret read and two files written",
			pid:  12844,
			want: ProcessSnapshot{
				PID: 12844, StartTime: 450778, Exe: "/bin/busybox", OtherUIDs: root, CapEff: containerCaps,
				Fds: []Fd{{Path: "/etc/shadow"}, {Path: "/tmp/out", Write: true}, {Path: "/tmp/rw", Write: true}},
			},
		},
		{
			name: "listener",
			pid:  12857,
			want: ProcessSnapshot{
				PID: 12857, StartTime: 450779, Exe: "/bin/busybox", OtherUIDs: root, CapEff: containerCaps,
				// A daemon's stdio: /dev/null opened read-write.
				Fds:     []Fd{{Path: "/dev/null", Write: true}, {Path: "/dev/null", Write: true}, {Path: "/dev/null", Write: true}},
				Listens: []uint16{8080},
			},
		},
		{
			name: "client connected to the listener",
			pid:  20157,
			want: ProcessSnapshot{
				PID: 20157, StartTime: 469123, Exe: "/bin/busybox", OtherUIDs: root, CapEff: containerCaps,
				Conns: []Conn{{Proto: "tcp", Local: ap("127.0.0.1:51730"), Remote: ap("127.0.0.1:8080"), State: "ESTABLISHED"}},
			},
		},
		{
			name: "deleted executable",
			pid:  12867,
			want: ProcessSnapshot{
				PID: 12867, StartTime: 450830, Exe: "/tmp/busybox", ExeDeleted: true, OtherUIDs: root, CapEff: containerCaps,
				Fds: []Fd{{Path: "/dev/null"}},
			},
		},
		{
			name: "memfd executable",
			pid:  18334,
			want: ProcessSnapshot{
				PID: 18334, StartTime: 463752, Exe: "/memfd:payload", ExeDeleted: true, ExeMemfd: true, OtherUIDs: root, CapEff: 0x1fffeffffff,
				// The memfd is still open: " (deleted)" is stripped from fd paths.
				Fds: []Fd{
					{Path: "/dev/null"},
					{Path: "/dev/null", Write: true},
					{Path: "/tmp/cproc/host/memfd.err", Write: true},
					{Path: "/memfd:payload", Write: true},
					{Path: "/dev/null"},
				},
			},
		},
		{
			name: "host process: inbound vs outbound, UDP, O_PATH skipped, chroot-style root stripped",
			pid:  16861,
			opts: CaptureOptions{ContainerRoot: "/tmp/cproc"},
			want: ProcessSnapshot{
				PID: 16861, StartTime: 462560, Exe: "/usr/bin/python3.11", UID: 65534, OtherUIDs: []uint32{65534, 65534, 65534},
				Fds: []Fd{
					{Path: "/dev/null"},
					{Path: "/host/net.pid", Write: true},
					{Path: "/host/net.err", Write: true},
					{Path: "/dev/null"},
					{Path: "/host/written.log", Write: true},
				},
				Conns: []Conn{
					{Proto: "tcp", Local: ap("127.0.0.1:18080"), Remote: ap("127.0.0.1:51196"), State: "ESTABLISHED", Inbound: true},
					{Proto: "tcp6", Local: ap("[::ffff:127.0.0.1]:51196"), Remote: ap("[::ffff:127.0.0.1]:18080"), State: "ESTABLISHED"},
					{Proto: "tcp6", Local: ap("[::1]:18443"), Remote: ap("[::1]:48346"), State: "ESTABLISHED", Inbound: true},
					{Proto: "tcp6", Local: ap("[::1]:48346"), Remote: ap("[::1]:18443"), State: "ESTABLISHED"},
					{Proto: "udp", Local: ap("127.0.0.1:60678"), Remote: ap("127.0.0.53:53"), State: "ESTABLISHED"},
					{Proto: "udp6", Local: ap("[fd00::2]:55142"), Remote: ap("[2001:db8::1234:5678]:443"), State: "ESTABLISHED"},
				},
				Listens: []uint16{15300, 15353, 18080, 18443},
			},
		},
		{name: "zombie", pid: 18666, wantErr: proc.ErrZombie},
	}
	fs, err := proc.NewFS(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := fs.Proc(tt.pid)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Capture(p, tt.opts)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Capture() error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmpAddr); diff != "" {
				t.Errorf("Capture() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// Sockets read once for a namespace are used instead of reading again.
func TestCaptureSharedSockets(t *testing.T) {
	fs, err := proc.NewFS(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	p, err := fs.Proc(20157)
	if err != nil {
		t.Fatal(err)
	}
	shared := []proc.Socket{{Proto: proc.TCP, Local: ap("127.0.0.1:1"), Remote: ap("10.9.9.9:22"), State: proc.StateEstablished, Inode: 32881}}
	got, err := Capture(p, CaptureOptions{Sockets: shared})
	if err != nil {
		t.Fatal(err)
	}
	want := []Conn{{Proto: "tcp", Local: ap("127.0.0.1:1"), Remote: ap("10.9.9.9:22"), State: "ESTABLISHED"}}
	if diff := cmp.Diff(want, got.Conns, cmpAddr); diff != "" {
		t.Errorf("Conns mismatch (-want +got):\n%s", diff)
	}
}

// The captured container, end to end: snapshot, then the spec's example
// profile.
func TestCaptureAndEvaluate(t *testing.T) {
	fs, err := proc.NewFS(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	set := mustCompile(t, &profiles.Profile{
		Name:  "web",
		Mode:  profiles.ModeEnforce,
		Exec:  profiles.Exec{Allow: profiles.List{"/bin/busybox"}},
		Files: profiles.Files{Deny: profiles.List{"/etc/shadow"}, ReadOnly: profiles.List{"/etc/**"}},
		Network: profiles.Network{
			Egress: profiles.List{"10.0.0.0/8:5432"},
			Listen: profiles.Ports{80},
		},
		Privileges: profiles.Privileges{AllowRoot: profiles.Bool(false), Capabilities: profiles.List{"NET_BIND_SERVICE"}},
	})
	rootV := Violation{Rule: RulePrivilege, Subject: "0", SubjectKind: SubjectUID, Detail: "running as root (privileges.allowRoot is false)"}
	got := map[int][]Violation{}
	for _, pid := range []int{12844, 12857, 20157, 12867} {
		p, err := fs.Proc(pid)
		if err != nil {
			t.Fatal(err)
		}
		snap, err := Capture(p, CaptureOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var vs []Violation
		for _, v := range set.Evaluate(snap) {
			if v.SubjectKind != SubjectCapability { // runc's default set: checked elsewhere
				vs = append(vs, v)
			}
		}
		got[pid] = vs
	}
	want := map[int][]Violation{
		12844: {{Rule: RuleFile, Subject: "/etc/shadow", SubjectKind: SubjectPath, Detail: "open of a path in files.deny"}, rootV},
		12857: {{Rule: RuleNetwork, Subject: "8080", SubjectKind: SubjectPort, Detail: "listening on a port outside network.listen"}, rootV},
		20157: {{Rule: RuleNetwork, Subject: "127.0.0.1:8080", SubjectKind: SubjectPeer, Detail: "TCP connection to a peer outside network.egress"}, rootV},
		12867: {{Rule: RuleExec, Subject: "/tmp/busybox", SubjectKind: SubjectPath, Detail: DetailFileless}, rootV},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("violations mismatch (-want +got):\n%s", diff)
	}
}
