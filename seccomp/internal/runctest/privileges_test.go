package runctest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/confinehq/confine/profiles"
	"github.com/confinehq/confine/seccomp"
)

// allCaps is every capability this test holds, so that what refuses a
// call in these tests is the filter, not a missing capability.
func allCaps(t *testing.T) *specs.LinuxCapabilities {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	var bnd uint64
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			bnd, err = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	var all []string
	for bit := 0; bit < 64; bit++ {
		if bnd&(1<<bit) != 0 {
			all = append(all, "CAP_"+profiles.CapabilityName(bit))
		}
	}
	return &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
}

// privops builds the static privops helper into dir/bin.
func privops(t *testing.T, dir string) {
	t.Helper()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "privops"), "github.com/confinehq/confine/internal/testbed/cmd/privops")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building privops: %v\n%s", err, out)
	}
}

// TestPrivilegeRulesRunc loads the filters of profiles whose privilege
// rules are off into the real runc and libseccomp: the privileged
// arguments are refused (EPERM), the same syscalls with ordinary
// arguments still work, as a deny list (default allow) and as an allow
// list that names the guarded syscalls outright.
func TestPrivilegeRulesRunc(t *testing.T) {
	runc := runcPath(t)
	tools := t.TempDir()
	privops(t, tools)
	off := profiles.Bool(false)
	privs := profiles.Privileges{Ptrace: off, Namespaces: off, RawSockets: off, Setid: off, Kernel: off}
	script := strings.Join([]string{
		"cd /tmp", "touch f",
		"/opt/privops socket-packet", "/opt/privops socket-raw", "/opt/privops socket-inet",
		"/opt/privops chmod-suid f", "/opt/privops chmod f",
		"/opt/privops mknod-chr dev", "/opt/privops mkfifo fifo",
		"/opt/privops unshare",
		"true",
	}, "; ")
	want := []string{
		"refused: operation not permitted", "refused: operation not permitted", "ok",
		"refused: operation not permitted", "ok",
		"refused: operation not permitted", "ok",
		"refused: operation not permitted",
	}
	everything := profiles.List(seccomp.KnownSyscalls(seccomp.HostArch()))
	var most profiles.List
	for _, n := range everything {
		if n != "socketcall" && n != "acct" {
			most = append(most, n)
		}
	}
	tests := []struct {
		name    string
		seccomp profiles.Seccomp
	}{
		{"deny list", profiles.Seccomp{Deny: profiles.List{"acct"}}},
		{"allow list naming the guarded syscalls", profiles.Seccomp{DefaultAction: profiles.ActionErrno, Allow: everything}},
		{"allow list without socketcall", profiles.Seccomp{DefaultAction: profiles.ActionErrno, Allow: most}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &profiles.Profile{Name: "priv", Seccomp: tc.seccomp, Privileges: privs}
			for _, withRules := range []bool{false, true} {
				if !withRules {
					p = &profiles.Profile{Name: "priv", Seccomp: tc.seccomp}
				} else {
					p = &profiles.Profile{Name: "priv", Seccomp: tc.seccomp, Privileges: privs}
				}
				dir := bundle(t, runc, func(s *specs.Spec) {
					s.Process.Args = []string{"sh", "-c", script}
					s.Process.NoNewPrivileges = true
					s.Process.Capabilities = allCaps(t)
					s.Mounts = append(s.Mounts, specs.Mount{Destination: "/opt/privops", Source: filepath.Join(tools, "privops"), Type: "bind", Options: []string{"bind", "ro"}})
					s.Linux.Seccomp = filterFor(t, p)
				})
				for _, l := range []string{"touch"} {
					_ = os.Symlink("busybox", filepath.Join(dir, "rootfs", "bin", l))
				}
				code, out := runRunc(t, runc, dir)
				lines := strings.Split(strings.TrimSpace(out), "\n")
				if code != 0 || len(lines) != len(want) {
					t.Fatalf("rules=%v: exit %d, output:\n%s", withRules, code, out)
				}
				for i, l := range lines {
					w := want[i]
					if !withRules {
						w = "ok"
					}
					if l != w {
						t.Errorf("rules=%v: call %d: %q, want %q\n%s", withRules, i, l, w, out)
					}
				}
			}
		})
	}
}
