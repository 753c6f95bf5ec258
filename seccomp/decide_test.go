package seccomp

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestDecide(t *testing.T) {
	arg := []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}
	f := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write"}, Action: specs.ActAllow},
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: arg},
			{Names: []string{"socket"}, Action: specs.ActAllow, Args: arg},
			{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: uintPtr(97)},
			{Names: []string{"ptrace"}, Action: specs.ActErrno},
			{Names: []string{"mount"}, Action: specs.ActKillProcess},
			{Names: []string{"read"}, Action: specs.ActKillProcess},
		},
	}
	tests := []struct {
		name string
		f    *specs.LinuxSeccomp
		call string
		want Decision
	}{
		{"nil filter allows", nil, "ptrace", Decision{Action: specs.ActAllow}},
		{"first unconditional rule", f, "read", Decision{Action: specs.ActAllow}},
		{"argument rule only", f, "personality", Decision{Action: specs.ActAllow, Conditional: true}},
		{"unconditional rule overrides argument rule", f, "socket", Decision{Action: specs.ActErrno, Errno: 97}},
		{"errno defaults to EPERM", f, "ptrace", Decision{Action: specs.ActErrno, Errno: 1}},
		{"kill has no errno", f, "mount", Decision{Action: specs.ActKillProcess}},
		{"default without defaultErrnoRet", f, "open", Decision{Action: specs.ActErrno, Errno: 1}},
		{"default with defaultErrnoRet", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintPtr(38)}, "open", Decision{Action: specs.ActErrno, Errno: 38}},
		{"log default", &specs.LinuxSeccomp{DefaultAction: specs.ActLog}, "open", Decision{Action: specs.ActLog}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Decide(tc.f, tc.call); got != tc.want {
				t.Errorf("Decide(%s) = %+v, want %+v", tc.call, got, tc.want)
			}
			if got := indexFilter(tc.f).decide(tc.call); got != tc.want {
				t.Errorf("indexFilter.decide(%s) = %+v, want %+v", tc.call, got, tc.want)
			}
		})
	}
}

func TestSameDecisions(t *testing.T) {
	a := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpMaskedEqual}}},
	}}
	b := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintPtr(38), Syscalls: []specs.LinuxSyscall{
		{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 2, Op: specs.OpMaskedEqual}}},
		{Names: []string{"read"}, Action: specs.ActErrno, ErrnoRet: uintPtr(1)},
	}}
	if ok, diff := sameDecisions(a, b, []string{"read"}); !ok {
		t.Errorf("read: %s", diff)
	}
	if ok, _ := sameDecisions(a, b, []string{"clone"}); ok {
		t.Error("different argument rules compare equal")
	}
	if ok, _ := sameDecisions(a, b, []string{"write"}); ok {
		t.Error("EPERM and ENOSYS defaults compare equal")
	}
}
