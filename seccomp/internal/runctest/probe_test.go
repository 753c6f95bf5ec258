package runctest

import (
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/confinehq/confine/profiles"
	"github.com/confinehq/confine/seccomp"
)

// TestProbeRuntimeFloor re-measures the runtime floor on the installed
// runc: for each floor syscall it runs containers (kill default, so a
// missing syscall is fatal) with that syscall removed, and logs how many
// failed. It takes about 15 s and runs only with CONFINE_PROBE_FLOOR=1
// (go test ./seccomp/internal/runctest -run Probe -v). Results with runc
// 1.1.5 are in the documentation of seccomp.RuntimeFloor.
func TestProbeRuntimeFloor(t *testing.T) {
	if os.Getenv("CONFINE_PROBE_FLOOR") != "1" {
		t.Skip("set CONFINE_PROBE_FLOOR=1 to measure the runtime floor")
	}
	runc := runcPath(t)
	workload := append([]string{"execve", "exit_group", "write"}, busyboxSyscalls...)
	for _, nnp := range []bool{true, false} {
		names := seccomp.RuntimeFloor
		if !nnp {
			names = append(append([]string(nil), seccomp.RuntimeFloor...), seccomp.EarlyInitFloor...)
		}
		for _, n := range names {
			fails := 0
			for i := 0; i < 3; i++ {
				p := &profiles.Profile{Name: "probe", Seccomp: profiles.Seccomp{DefaultAction: profiles.ActionKill, Allow: profiles.List(workload)}}
				if nnp {
					p.Privileges.NoNewPrivileges = profiles.Bool(true)
				}
				f := without(filterFor(t, p), n)
				dir := bundle(t, runc, func(s *specs.Spec) {
					s.Process.Args = []string{"echo", "ok"}
					s.Process.NoNewPrivileges = nnp
					if !nnp {
						s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{5}, Umask: uint32Ptr(0o027)}
						s.Process.Cwd = "/tmp"
					}
					s.Linux.Seccomp = f
				})
				if code, _ := runRunc(t, runc, dir); code != 0 {
					fails++
				}
			}
			t.Logf("no_new_privs=%v without %-16s failed %d/3", nnp, n, fails)
		}
	}
}
