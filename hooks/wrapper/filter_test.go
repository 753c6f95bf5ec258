package wrapper

import (
	"testing"

	"github.com/confinehq/confine/profiles"
	"github.com/confinehq/confine/seccomp"
	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestFilter(t *testing.T) {
	const lp = "/run/confine/seccomp/c1.sock"
	prof := func(mode profiles.Mode, sc profiles.Seccomp) *profiles.Profile {
		return &profiles.Profile{APIVersion: profiles.APIVersion, Name: "p", Mode: mode, Seccomp: sc}
	}
	denyMkdir := profiles.Seccomp{Base: profiles.BaseDockerDefault, DefaultAction: profiles.ActionErrno, Deny: profiles.List{"mkdir", "mkdirat"}}
	killList := profiles.Seccomp{DefaultAction: profiles.ActionKill, Allow: profiles.List{"read", "write", "exit_group", "mkdir"}}
	tests := []struct {
		name     string
		p        *profiles.Profile
		listener string
		wantNil  bool
		// what the filter does with syscalls (seccomp.Decide)
		want map[string]specs.LinuxSeccompAction
		// whether any rule or the default refuses a syscall
		refuses      bool
		wantListener string
	}{
		{
			name: "enforce: Generate", p: prof(profiles.ModeEnforce, denyMkdir),
			want:    map[string]specs.LinuxSeccompAction{"mkdir": specs.ActErrno, "mkdirat": specs.ActErrno, "read": specs.ActAllow, "kexec_load": specs.ActErrno},
			refuses: true,
		},
		{
			name: "enforce kill list", p: prof(profiles.ModeEnforce, killList),
			want:    map[string]specs.LinuxSeccompAction{"mkdir": specs.ActAllow, "ptrace": specs.ActKillProcess},
			refuses: true,
		},
		{
			name: "enforce with listener: refusals notify confined", p: prof(profiles.ModeEnforce, denyMkdir), listener: lp,
			want:    map[string]specs.LinuxSeccompAction{"mkdir": specs.ActNotify, "read": specs.ActAllow},
			refuses: true, wantListener: lp,
		},
		{
			name: "monitor: refusals are logged, not enforced", p: prof(profiles.ModeMonitor, denyMkdir),
			want: map[string]specs.LinuxSeccompAction{"mkdir": specs.ActLog, "read": specs.ActAllow, "kexec_load": specs.ActLog},
		},
		{
			name: "monitor kill list: no kills", p: prof(profiles.ModeMonitor, killList),
			want: map[string]specs.LinuxSeccompAction{"mkdir": specs.ActAllow, "ptrace": specs.ActLog},
		},
		{
			name: "learn without listener: log only", p: prof(profiles.ModeLearn, killList),
			want: map[string]specs.LinuxSeccompAction{"ptrace": specs.ActLog},
		},
		{
			name: "learn with listener: everything allowed, the unknown reported", p: prof(profiles.ModeLearn, killList), listener: lp,
			want:         map[string]specs.LinuxSeccompAction{"read": specs.ActAllow, "ptrace": specs.ActNotify, "write": specs.ActAllow},
			wantListener: lp,
		},
		{
			name: "monitor with listener", p: prof(profiles.ModeMonitor, denyMkdir), listener: lp,
			want:         map[string]specs.LinuxSeccompAction{"mkdir": specs.ActNotify},
			wantListener: lp,
		},
		{name: "enforce without a seccomp section", p: prof(profiles.ModeEnforce, profiles.Seccomp{}), wantNil: true},
		{name: "monitor without a seccomp section", p: prof(profiles.ModeMonitor, profiles.Seccomp{}), wantNil: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Filter(tt.p, "amd64", tt.listener)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantNil {
				if f != nil {
					t.Fatalf("filter = %+v, want nil", f)
				}
				return
			}
			if f == nil {
				t.Fatal("nil filter")
			}
			for sc, want := range tt.want {
				if got := seccomp.Decide(f, sc).Action; got != want {
					t.Errorf("%s: %s, want %s", sc, got, want)
				}
			}
			if got := refusesAny(f); got != tt.refuses {
				t.Errorf("filter refuses syscalls: %v, want %v", got, tt.refuses)
			}
			if f.ListenerPath != tt.wantListener {
				t.Errorf("listenerPath = %q, want %q", f.ListenerPath, tt.wantListener)
			}
		})
	}
}

func refusesAny(f *specs.LinuxSeccomp) bool {
	if refuses(f.DefaultAction) {
		return true
	}
	for _, r := range f.Syscalls {
		if refuses(r.Action) {
			return true
		}
	}
	return false
}

func TestLogOnlyLeavesTheInputAlone(t *testing.T) {
	one := uint(1)
	in := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: &one,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"a"}, Action: specs.ActErrno, ErrnoRet: &one}, {Names: []string{"b"}, Action: specs.ActAllow}}}
	want := &specs.LinuxSeccomp{DefaultAction: specs.ActLog,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"a"}, Action: specs.ActLog}, {Names: []string{"b"}, Action: specs.ActAllow}}}
	got := logOnly(in)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("logOnly (-want +got):\n%s", diff)
	}
	if in.DefaultAction != specs.ActErrno || in.Syscalls[0].Action != specs.ActErrno {
		t.Error("logOnly modified its input")
	}
}
