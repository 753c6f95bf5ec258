package runctest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/profiles"
	"github.com/confinehq/confine/seccomp"
)

// busyboxSyscalls is what the static busybox of Debian calls to run
// `echo` and `true` as root and as a user (strace, audit): the workload's part of the allow lists below,
// kept apart from the runtime floor on purpose.
var busyboxSyscalls = []string{
	"arch_prctl", "brk", "getegid", "geteuid", "getgid", "getrandom", "getuid", "mprotect", "prctl", "prlimit64",
	"readlink", "rseq", "set_robust_list", "set_tid_address",
}

// runcPath finds runc the way the testbed does.
func runcPath(t *testing.T) string {
	t.Helper()
	testbed.RequiresRoot(t)
	testbed.RequireTools(t, "runc", "busybox")
	return testbed.RuncPath()
}

// bundle writes an OCI bundle with a busybox rootfs and the spec runc
// generates (`runc spec`), changed by edit.
func bundle(t *testing.T, runc string, edit func(*specs.Spec)) string {
	t.Helper()
	return testbed.Bundle(t, runc, []string{"sh", "true", "echo", "mkdir"}, edit)
}

// runRunc runs the bundle with `runc run` under a private state directory
// and returns the exit status and everything written to stdout and stderr.
func runRunc(t *testing.T, runc, dir string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := filepath.Join(dir, "state")
	id := testbed.UniqueID("floor")
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, runc, "--root", root, "run", "--bundle", dir, id)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	_ = exec.Command(runc, "--root", root, "delete", "--force", id).Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String()
	}
	t.Fatalf("runc run: %v: %s", err, out.String())
	return -1, ""
}

// filterFor generates the filter of a profile for the host.
func filterFor(t *testing.T, p *profiles.Profile) *specs.LinuxSeccomp {
	t.Helper()
	f, err := seccomp.Generate(p, seccomp.HostArch())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// without removes names from every rule of f.
func without(f *specs.LinuxSeccomp, names ...string) *specs.LinuxSeccomp {
	drop := map[string]bool{}
	for _, n := range names {
		drop[n] = true
	}
	for i := range f.Syscalls {
		var keep []string
		for _, n := range f.Syscalls[i].Names {
			if !drop[n] {
				keep = append(keep, n)
			}
		}
		f.Syscalls[i].Names = keep
	}
	return f
}

// TestRuntimeFloorRunc proves, on the real runc, that an allow list of
// nothing but the workload's syscalls plus the runtime floor starts
// containers, with no_new_privileges on (filter loaded just before execve)
// and off (filter loaded before the switch to the container's user), and
// that the floor is needed: without fstatfs, or without the early-init
// floor when no_new_privileges is off, every container fails.
func TestRuntimeFloorRunc(t *testing.T) {
	runc := runcPath(t)
	workload := append([]string{"execve", "exit_group", "write"}, busyboxSyscalls...)
	nnp := func(on bool) *bool { return &on }
	asUser := func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{5, 6}, Umask: uint32Ptr(0o027)}
		s.Process.Cwd = "/tmp"
	}
	tests := []struct {
		name string
		// profile's privileges.noNewPrivileges and the spec's flag
		profileNNP *bool
		specNNP    bool
		action     string
		user       bool
		args       []string
		remove     []string // names removed from the generated filter
		wantExit   int
		wantOut    string
	}{
		{name: "no_new_privs on, late floor only", profileNNP: nnp(true), specNNP: true, args: []string{"echo", "ok"}, wantOut: "ok"},
		{name: "no_new_privs on, kill default", profileNNP: nnp(true), specNNP: true, action: profiles.ActionKill, args: []string{"echo", "ok"}, wantOut: "ok"},
		{name: "no_new_privs off, early-init floor", specNNP: false, user: true, args: []string{"echo", "ok"}, wantOut: "ok"},
		{name: "no_new_privs off, kill default", specNNP: false, user: true, action: profiles.ActionKill, args: []string{"echo", "ok"}, wantOut: "ok"},
		{name: "no_new_privs on with the early floor too", specNNP: true, user: true, args: []string{"echo", "ok"}, wantOut: "ok"},
		{name: "known syscall outside the list gets EPERM", profileNNP: nnp(true), specNNP: true, args: []string{"mkdir", "/tmp/x"}, wantExit: 1, wantOut: "Operation not permitted"},
		{name: "without fstatfs runc's init fails", profileNNP: nnp(true), specNNP: true, args: []string{"true"}, remove: []string{"fstatfs"}, wantExit: 1, wantOut: "ensure /proc/self/fd is on procfs|fstatfs fsmount:fscontext:proc: function not implemented"}, // runc 1.1 | 1.2+
		{name: "early-init floor missing with no_new_privs off", profileNNP: nnp(true), specNNP: false, user: true, args: []string{"true"}, wantExit: 1, wantOut: "operation not permitted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &profiles.Profile{Name: "floor", Seccomp: profiles.Seccomp{DefaultAction: tc.action, Allow: profiles.List(workload)},
				Privileges: profiles.Privileges{NoNewPrivileges: tc.profileNNP}}
			f := without(filterFor(t, p), tc.remove...)
			dir := bundle(t, runc, func(s *specs.Spec) {
				s.Process.Args = tc.args
				s.Process.NoNewPrivileges = tc.specNNP
				if tc.user {
					asUser(s)
				}
				s.Linux.Seccomp = f
			})
			code, out := runRunc(t, runc, dir)
			if code != tc.wantExit || !containsOneOf(out, tc.wantOut) {
				t.Fatalf("exit %d, output %q; want exit %d and %q", code, out, tc.wantExit, tc.wantOut)
			}
		})
	}
}

// TestDockerDefaultBaseRunc runs the embedded baseline (base
// docker-default) on runc, with the process as root and as a user.
func TestDockerDefaultBaseRunc(t *testing.T) {
	runc := runcPath(t)
	p := &profiles.Profile{Name: "baseline", Seccomp: profiles.Seccomp{Base: profiles.BaseDockerDefault, DefaultAction: profiles.ActionErrno}}
	for _, nnp := range []bool{true, false} {
		t.Run(fmt.Sprintf("no_new_privs=%v", nnp), func(t *testing.T) {
			dir := bundle(t, runc, func(s *specs.Spec) {
				s.Process.Args = []string{"sh", "-c", "echo ok; mkdir /tmp/d && echo made"}
				s.Process.NoNewPrivileges = nnp
				s.Linux.Seccomp = filterFor(t, p)
			})
			code, out := runRunc(t, runc, dir)
			if code != 0 || !strings.Contains(out, "ok") || !strings.Contains(out, "made") {
				t.Fatalf("exit %d, output %q", code, out)
			}
		})
	}
}

func uint32Ptr(v uint32) *uint32 { return &v }

// containsOneOf reports whether out contains one of the |-separated
// alternatives of want (runc versions word their errors differently).
func containsOneOf(out, want string) bool {
	for _, w := range strings.Split(want, "|") {
		if strings.Contains(out, w) {
			return true
		}
	}
	return false
}
