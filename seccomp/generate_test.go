package seccomp

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/confinehq/confine/profiles"
)

// webAllow is a hand-written allow list of a small server.
var webAllow = profiles.List{"accept4", "bind", "brk", "clone", "close", "epoll_create1", "exit_group",
	"listen", "mmap", "openat", "read", "socket", "write"}

func profile(s profiles.Seccomp, priv profiles.Privileges) *profiles.Profile {
	return &profiles.Profile{APIVersion: profiles.APIVersion, Name: "test", Mode: profiles.ModeEnforce, Seccomp: s, Privileges: priv}
}

var nnpOn = profiles.Privileges{NoNewPrivileges: profiles.Bool(true)}

func TestGenerateGolden(t *testing.T) {
	tests := []struct {
		name   string
		p      *profiles.Profile
		goarch string
	}{
		{"allow-errno", profile(profiles.Seccomp{Allow: webAllow}, profiles.Privileges{}), "amd64"},
		{"allow-errno-nnp", profile(profiles.Seccomp{Allow: webAllow}, nnpOn), "amd64"},
		{"allow-errno-arm64", profile(profiles.Seccomp{Allow: webAllow}, nnpOn), "arm64"},
		{"allow-kill", profile(profiles.Seccomp{DefaultAction: profiles.ActionKill, Allow: webAllow}, nnpOn), "amd64"},
		{"allow-log", profile(profiles.Seccomp{DefaultAction: profiles.ActionLog, Allow: webAllow, Deny: profiles.List{"ptrace", "copy_file_range"}}, nnpOn), "amd64"},
		{"allow-deny-errno", profile(profiles.Seccomp{Allow: webAllow, Deny: profiles.List{"ptrace", "clone3"}}, nnpOn), "amd64"},
		{"denylist-errno", profile(profiles.Seccomp{Deny: profiles.List{"ptrace", "mount", "copy_file_range"}}, profiles.Privileges{}), "amd64"},
		{"denylist-kill", profile(profiles.Seccomp{DefaultAction: profiles.ActionKill, Deny: profiles.List{"ptrace", "mount"}}, profiles.Privileges{}), "amd64"},
		{"docker-default", profile(profiles.Seccomp{Base: profiles.BaseDockerDefault}, profiles.Privileges{}), "amd64"},
		{"docker-default-arm64", profile(profiles.Seccomp{Base: profiles.BaseDockerDefault}, profiles.Privileges{}), "arm64"},
		{"docker-default-kill", profile(profiles.Seccomp{Base: profiles.BaseDockerDefault, DefaultAction: profiles.ActionKill}, profiles.Privileges{}), "amd64"},
		{"docker-default-sysadmin", profile(profiles.Seccomp{Base: profiles.BaseDockerDefault, Allow: profiles.List{"personality"}, Deny: profiles.List{"mount"}},
			profiles.Privileges{Capabilities: profiles.List{"SYS_ADMIN", "CHOWN"}}), "amd64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Generate(tc.p, tc.goarch)
			if err != nil {
				t.Fatal(err)
			}
			checkFilter(t, f)
			golden(t, "generate-"+tc.name+".json", specJSON(t, f))
			// Deterministic: a second run gives the same bytes.
			again, err := Generate(tc.p, tc.goarch)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(specJSON(t, f), specJSON(t, again)) {
				t.Error("two runs differ")
			}
		})
	}
}

func TestGenerateNoSection(t *testing.T) {
	for _, p := range []*profiles.Profile{nil, profile(profiles.Seccomp{}, profiles.Privileges{})} {
		f, err := Generate(p, "amd64")
		if f != nil || err != nil {
			t.Errorf("Generate(%v) = %v, %v; want nil, nil", p, f, err)
		}
	}
	// Even for an architecture it does not support.
	if f, err := Generate(profile(profiles.Seccomp{}, profiles.Privileges{}), "mips"); f != nil || err != nil {
		t.Errorf("got %v, %v", f, err)
	}
}

// TestGenerateDecisions checks what filters do with single syscalls.
func TestGenerateDecisions(t *testing.T) {
	allow := func(n string) Decision { return Decision{Action: specs.ActAllow} }
	eperm := Decision{Action: specs.ActErrno, Errno: 1}
	enosys := Decision{Action: specs.ActErrno, Errno: 38}
	kill := Decision{Action: specs.ActKillProcess}
	logged := Decision{Action: specs.ActLog}
	condAllow := Decision{Action: specs.ActAllow, Conditional: true}
	tests := []struct {
		name   string
		p      *profiles.Profile
		goarch string
		want   map[string]Decision
	}{
		{"errno allow list", profile(profiles.Seccomp{Allow: webAllow}, profiles.Privileges{}), "amd64", map[string]Decision{
			"read": allow("read"), "fstatfs": allow("floor"), "setuid": allow("early floor"),
			"ptrace": eperm, "chown32": eperm, "socketcall": eperm, // x86-only names are refused too
			"clone3": enosys, "copy_file_range": enosys, // FallbackSyscalls
			"mseal": enosys, // unknown to libseccomp 2.5.4
		}},
		{"errno allow list, no_new_privs forced", profile(profiles.Seccomp{Allow: webAllow}, nnpOn), "amd64", map[string]Decision{
			"fstatfs": allow("floor"), "setuid": eperm, "faccessat2": enosys,
		}},
		{"kill", profile(profiles.Seccomp{DefaultAction: profiles.ActionKill, Allow: webAllow, Deny: profiles.List{"mount", "clone3"}}, nnpOn), "amd64", map[string]Decision{
			"read": allow(""), "ptrace": kill, "mseal": kill, "copy_file_range": enosys, "mount": kill, "clone3": kill,
		}},
		{"log", profile(profiles.Seccomp{DefaultAction: profiles.ActionLog, Allow: webAllow, Deny: profiles.List{"mount", "copy_file_range"}}, nnpOn), "amd64", map[string]Decision{
			"read": allow(""), "ptrace": logged, "mount": eperm, "copy_file_range": enosys,
		}},
		{"deny list errno", profile(profiles.Seccomp{Deny: profiles.List{"mount", "copy_file_range"}}, profiles.Privileges{}), "amd64", map[string]Decision{
			"ptrace": allow(""), "mount": eperm, "copy_file_range": enosys, "mseal": allow(""),
		}},
		{"deny list kill", profile(profiles.Seccomp{DefaultAction: profiles.ActionKill, Deny: profiles.List{"mount"}}, profiles.Privileges{}), "amd64", map[string]Decision{
			"ptrace": allow(""), "mount": kill,
		}},
		{"docker-default", profile(profiles.Seccomp{Base: profiles.BaseDockerDefault}, profiles.Privileges{}), "amd64", map[string]Decision{
			"read": allow(""), "chroot": allow("SYS_CHROOT"), "arch_prctl": allow(""), "ptrace": allow("minKernel 4.8"),
			"clone": condAllow, "personality": condAllow, "socket": condAllow,
			"clone3": enosys, "mount": eperm, "reboot": eperm, "bpf": eperm,
			"set_tls": enosys, // an ARM syscall: unknown on amd64
		}},
		{"docker-default arm64", profile(profiles.Seccomp{Base: profiles.BaseDockerDefault}, profiles.Privileges{}), "arm64", map[string]Decision{
			"set_tls": allow("arm"), "clone": condAllow, "mount": eperm,
		}},
		{"docker-default, caps without SYS_CHROOT", profile(profiles.Seccomp{Base: profiles.BaseDockerDefault}, profiles.Privileges{Capabilities: profiles.List{"NET_BIND_SERVICE"}}), "amd64", map[string]Decision{
			"chroot": eperm, "read": allow(""),
		}},
		{"docker-default, SYS_ADMIN, allow and deny on top", profile(profiles.Seccomp{Base: profiles.BaseDockerDefault, Allow: profiles.List{"personality"}, Deny: profiles.List{"mount", "socket"}},
			profiles.Privileges{Capabilities: profiles.List{"CAP_SYS_ADMIN"}}), "amd64", map[string]Decision{
			"clone": allow(""), "clone3": allow(""), "mount": eperm, "umount2": allow(""), "chroot": eperm,
			"personality": allow(""), "socket": eperm,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Generate(tc.p, tc.goarch)
			if err != nil {
				t.Fatal(err)
			}
			checkFilter(t, f)
			for name, want := range tc.want {
				if got := Decide(f, name); got != want {
					t.Errorf("Decide(%s) = %+v, want %+v", name, got, want)
				}
			}
		})
	}
}

// TestGenerateBaseKeepsArgumentRules checks that the docker-default base
// keeps Docker's argument rules unless the profile names the syscall.
func TestGenerateBaseKeepsArgumentRules(t *testing.T) {
	f, err := Generate(profile(profiles.Seccomp{Base: profiles.BaseDockerDefault}, profiles.Privileges{}), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"clone":       {"SCMP_ACT_ALLOW if arg0 & 0x7e020000 == 0x0"},
		"socket":      {"SCMP_ACT_ALLOW if arg0 < 38", "SCMP_ACT_ALLOW if arg0 == 0x27", "SCMP_ACT_ALLOW if arg0 > 40"},
		"personality": {"SCMP_ACT_ALLOW if arg0 == 0x0", "SCMP_ACT_ALLOW if arg0 == 0x20000", "SCMP_ACT_ALLOW if arg0 == 0x20008", "SCMP_ACT_ALLOW if arg0 == 0x8", "SCMP_ACT_ALLOW if arg0 == 0xffffffff"},
	}
	for n, w := range want {
		if got := argRules(f, n); !reflect.DeepEqual(got, w) {
			t.Errorf("%s: %q, want %q", n, got, w)
		}
	}
}

// TestDockerDefaultCoversFloor: the baseline is "exactly Docker's default,
// no looser", so the runtime floor must add nothing to it.
func TestDockerDefaultCoversFloor(t *testing.T) {
	for _, goarch := range []string{"amd64", "arm64"} {
		notes, err := Explain(profile(profiles.Seccomp{Base: profiles.BaseDockerDefault}, profiles.Privileges{}), goarch)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range notes {
			if strings.Contains(n, "floor") {
				t.Errorf("%s: the floor adds to docker-default: %s", goarch, n)
			}
		}
	}
}

func TestExplain(t *testing.T) {
	p := profile(profiles.Seccomp{Base: profiles.BaseDockerDefault, Allow: profiles.List{"clone"}, Deny: profiles.List{"chroot"}}, profiles.Privileges{})
	notes, err := Explain(p, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(notes, "\n")
	for _, want := range []string{
		"base docker-default resolved for amd64 with Docker's default capabilities",
		"docker-default syscalls[17] (bpf, clone, clone3,",
		"includes caps [CAP_SYS_ADMIN]: CAP_SYS_ADMIN not granted",
		"docker-default syscalls[22] (chroot): applies: includes caps [CAP_SYS_CHROOT] granted",
		"docker-default syscalls[18] for clone replaced by the profile's own rule",
		"chroot: denied by the profile although the base allows it",
		"includes minKernel 4.8 <= 5.4",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("notes lack %q:\n%s", want, all)
		}
	}
	notes, err = Explain(profile(profiles.Seccomp{Allow: profiles.List{"read"}}, nnpOn), "amd64")
	if err != nil || len(notes) != 1 || !strings.HasPrefix(notes[0], "runtime floor allowed for runc's init: close, ") {
		t.Errorf("Explain = %q, %v", notes, err)
	}
	if notes, err := Explain(nil, "amd64"); notes != nil || err != nil {
		t.Errorf("Explain(nil) = %q, %v", notes, err)
	}
}

func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		name   string
		s      profiles.Seccomp
		priv   profiles.Privileges
		goarch string
		want   []string
	}{
		{"bad action", profiles.Seccomp{DefaultAction: "deny", Allow: profiles.List{"read"}}, profiles.Privileges{}, "amd64",
			[]string{"seccomp.defaultAction", `"deny" is not errno, kill or log`}},
		{"bad base", profiles.Seccomp{Base: "podman-default"}, profiles.Privileges{}, "amd64",
			[]string{"seccomp.base", `unknown base "podman-default"`}},
		{"bad allow name", profiles.Seccomp{Allow: profiles.List{"read", "Open!"}}, profiles.Privileges{}, "amd64",
			[]string{"seccomp.allow[1]", `"Open!" is not a syscall name`}},
		{"bad deny name", profiles.Seccomp{Deny: profiles.List{"x y"}}, profiles.Privileges{}, "amd64",
			[]string{"seccomp.deny[0]", `"x y" is not a syscall name`}},
		{"allowed and denied", profiles.Seccomp{Allow: profiles.List{"ptrace"}, Deny: profiles.List{"mount", "ptrace"}}, profiles.Privileges{}, "amd64",
			[]string{"seccomp.deny[1]", `"ptrace" is both allowed and denied`}},
		{"deny the runtime floor", profiles.Seccomp{Deny: profiles.List{"fstatfs"}}, nnpOn, "amd64",
			[]string{"seccomp.deny[0]", `runc's init needs "fstatfs"`, "RuntimeFloor"}},
		{"deny the early-init floor", profiles.Seccomp{Allow: profiles.List{"read"}, Deny: profiles.List{"setuid"}}, profiles.Privileges{}, "amd64",
			[]string{"seccomp.deny[0]", `"setuid"`, "privileges.noNewPrivileges: true"}},
		{"unsupported architecture", profiles.Seccomp{Allow: profiles.List{"read"}}, profiles.Privileges{}, "riscv64",
			[]string{`unsupported architecture "riscv64"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Generate(profile(tc.s, tc.priv), tc.goarch)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	// Denying the early-init floor is fine once no_new_privileges is forced.
	if _, err := Generate(profile(profiles.Seccomp{Allow: profiles.List{"read"}, Deny: profiles.List{"setuid"}}, nnpOn), "amd64"); err != nil {
		t.Errorf("deny setuid with no_new_privileges: %v", err)
	}
}

func TestGenerateNotify(t *testing.T) {
	known := []string{"openat", "epoll_wait", "accept4"}
	f, err := GenerateNotify(nil, "amd64", known, "/run/confine/seccomp.sock")
	if err != nil {
		t.Fatal(err)
	}
	checkFilter(t, f)
	golden(t, "notify-learn.json", specJSON(t, f))
	for n, want := range map[string]specs.LinuxSeccompAction{
		"epoll_wait": specs.ActAllow, "fstatfs": specs.ActAllow, "write": specs.ActAllow,
		"ptrace": specs.ActNotify, "setuid": specs.ActNotify, "mseal": specs.ActAllow,
	} {
		if got := Decide(f, n).Action; got != want {
			t.Errorf("%s: %s, want %s", n, got, want)
		}
	}
	if f.DefaultAction != specs.ActAllow || f.ListenerPath != "/run/confine/seccomp.sock" {
		t.Errorf("default %s, listener %q", f.DefaultAction, f.ListenerPath)
	}
	// The profile's own filter: what it allows is not sent.
	base, err := GenerateNotify(profile(profiles.Seccomp{Base: profiles.BaseDockerDefault, Deny: profiles.List{"chroot"}}, profiles.Privileges{}), "amd64", nil, "/x")
	if err != nil {
		t.Fatal(err)
	}
	checkFilter(t, base)
	for n, want := range map[string]specs.LinuxSeccompAction{
		"read": specs.ActAllow, "clone": specs.ActAllow, "socket": specs.ActAllow, "chroot": specs.ActNotify,
		"mount": specs.ActNotify, "clone3": specs.ActNotify,
	} {
		if got := Decide(base, n).Action; got != want {
			t.Errorf("docker-default %s: %s, want %s", n, got, want)
		}
	}
	// A deny list skips nothing more; a bad profile is an error.
	if dl, err := GenerateNotify(profile(profiles.Seccomp{Deny: profiles.List{"mount"}}, profiles.Privileges{}), "amd64", nil, "/x"); err != nil || Decide(dl, "ptrace").Action != specs.ActNotify {
		t.Errorf("deny list: %v", err)
	}
	if _, err := GenerateNotify(profile(profiles.Seccomp{Allow: profiles.List{"Bad"}}, profiles.Privileges{}), "amd64", nil, "/x"); err == nil {
		t.Error("bad profile accepted")
	}
	if _, err := GenerateNotify(nil, "amd64", known, ""); err == nil || !strings.Contains(err.Error(), "empty listener path") {
		t.Errorf("empty listener path: %v", err)
	}
	if _, err := GenerateNotify(nil, "sparc", known, "/x"); err == nil || !strings.Contains(err.Error(), `"sparc"`) {
		t.Errorf("bad arch: %v", err)
	}
}

func TestGenerateEnforceNotify(t *testing.T) {
	const sock = "/run/confine/seccomp.sock"
	p := profile(profiles.Seccomp{Allow: webAllow, Deny: profiles.List{"ptrace", "clone3"}}, nnpOn)
	f, err := GenerateEnforceNotify(p, "amd64", sock)
	if err != nil {
		t.Fatal(err)
	}
	checkFilter(t, f)
	golden(t, "notify-enforce.json", specJSON(t, f))
	for n, want := range map[string]Decision{
		"read": {Action: specs.ActAllow}, "ptrace": {Action: specs.ActNotify}, "mount": {Action: specs.ActNotify},
		"clone3": {Action: specs.ActErrno, Errno: 38}, "mseal": {Action: specs.ActErrno, Errno: 38},
	} {
		if got := Decide(f, n); got != want {
			t.Errorf("%s: %+v, want %+v", n, got, want)
		}
	}
	// A deny list may refuse write: it stays EPERM, never NOTIFY.
	deny := profile(profiles.Seccomp{Deny: profiles.List{"write", "ptrace"}}, nnpOn)
	if _, err := Generate(deny, "amd64"); err == nil {
		t.Fatal("denying write must fail: it is in the runtime floor")
	}
	// Kill mode keeps its kills; the listener path is harmless there.
	k, err := GenerateEnforceNotify(profile(profiles.Seccomp{DefaultAction: profiles.ActionKill, Allow: webAllow}, nnpOn), "amd64", sock)
	if err != nil {
		t.Fatal(err)
	}
	checkFilter(t, k)
	if d := Decide(k, "ptrace"); d.Action != specs.ActKillProcess {
		t.Errorf("kill mode ptrace: %+v", d)
	}
	if f, err := GenerateEnforceNotify(profile(profiles.Seccomp{}, nnpOn), "amd64", sock); f != nil || err != nil {
		t.Errorf("no section: %v, %v", f, err)
	}
	if _, err := GenerateEnforceNotify(p, "amd64", ""); err == nil {
		t.Error("empty listener path accepted")
	}
}

// TestNotifyRefusalsWrite covers the write exception, which no valid
// profile reaches (write is in the runtime floor).
func TestNotifyRefusalsWrite(t *testing.T) {
	f := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"ptrace", "write"}, Action: specs.ActErrno, ErrnoRet: uintPtr(1)},
		{Names: []string{"write"}, Action: specs.ActErrno, ErrnoRet: uintPtr(1)},
		{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: uintPtr(38)},
	}}
	notifyRefusals(f, "/x")
	want := []specs.LinuxSyscall{
		{Names: []string{"write"}, Action: specs.ActErrno, ErrnoRet: uintPtr(1)},
		{Names: []string{"ptrace"}, Action: specs.ActNotify},
		{Names: []string{"write"}, Action: specs.ActErrno, ErrnoRet: uintPtr(1)},
		{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: uintPtr(38)},
	}
	if !reflect.DeepEqual(f.Syscalls, want) || f.ListenerPath != "/x" {
		t.Errorf("got %+v", f.Syscalls)
	}
}

func TestKnownSyscalls(t *testing.T) {
	for goarch, want := range map[string][]string{
		"amd64": {"read", "write", "clone3", "arch_prctl", "chown32", "socketcall", "newfstatat"},
		"arm64": {"read", "write", "clone3", "set_tls", "arm_fadvise64_64", "chown32", "newfstatat"},
	} {
		l := KnownSyscalls(goarch)
		if !sort.StringsAreSorted(l) || len(l) < 300 {
			t.Errorf("%s: %d names, sorted %v", goarch, len(l), sort.StringsAreSorted(l))
		}
		for _, n := range want {
			if i := sort.SearchStrings(l, n); i == len(l) || l[i] != n {
				t.Errorf("%s: %s missing", goarch, n)
			}
		}
		for _, n := range l {
			if !isSyscallName(n) {
				t.Errorf("%s: bad name %q", goarch, n)
			}
		}
	}
	if KnownSyscalls("arm64")[0] == "arch_prctl" || contains(KnownSyscalls("arm64"), "arch_prctl") {
		t.Error("arm64 knows arch_prctl")
	}
	if KnownSyscalls("mips") != nil {
		t.Error("mips has a table")
	}
	// Every floor and fallback name exists for both architectures.
	for _, goarch := range []string{"amd64", "arm64"} {
		fam, _ := family(goarch)
		for _, n := range append(append(append([]string(nil), RuntimeFloor...), EarlyInitFloor...), FallbackSyscalls...) {
			if !fam.isKnown(n) {
				t.Errorf("%s: %s is not known", goarch, n)
			}
		}
	}
}

func TestFilterJSONIsOCI(t *testing.T) {
	f, err := Generate(profile(profiles.Seccomp{Allow: webAllow}, nnpOn), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(f)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var back specs.LinuxSeccomp
	if err := dec.Decode(&back); err != nil || !reflect.DeepEqual(&back, f) {
		t.Errorf("round trip: %v", err)
	}
}
