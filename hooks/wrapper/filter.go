package wrapper

import (
	"github.com/confinehq/confine/profiles"
	"github.com/confinehq/confine/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Filter is the one place that maps a decided profile's mode (and
// confined's seccomp listener, when it runs one for the container) to the
// seccomp filter injected into the spec. nil means the profile brings no
// filter and the spec keeps the one it has.
//
//	mode     listener   filter
//	enforce  no         seccomp.Generate: refused syscalls get EPERM/ENOSYS or a kill
//	enforce  yes        seccomp.GenerateEnforceNotify: refusals also reach confined as alerts
//	monitor  no         Generate, every refusal turned into SCMP_ACT_LOG (allowed, logged by the kernel)
//	learn    no         the same log-only filter (nil without a seccomp section)
//	monitor  yes        seccomp.GenerateMonitorNotify (the allow list as known):
//	learn    yes        everything allowed, the rest reported to confined
//
// Monitor and learn never deny a syscall: "nothing is denied" holds for
// seccomp too.
func Filter(p *profiles.Profile, goarch, listenerPath string) (*specs.LinuxSeccomp, error) {
	if p.Mode == profiles.ModeEnforce {
		if listenerPath != "" {
			return seccomp.GenerateEnforceNotify(p, goarch, listenerPath)
		}
		return seccomp.Generate(p, goarch)
	}
	if listenerPath != "" {
		return seccomp.GenerateMonitorNotify(p, goarch, listenerPath)
	}
	f, err := seccomp.Generate(p, goarch)
	if err != nil || f == nil {
		return nil, err
	}
	return logOnly(f), nil
}

// logOnly turns every action that refuses a syscall (errno, kill, trap,
// trace) into SCMP_ACT_LOG: what enforce mode would refuse is allowed and
// logged by the kernel instead.
func logOnly(f *specs.LinuxSeccomp) *specs.LinuxSeccomp {
	out := *f
	if refuses(out.DefaultAction) {
		out.DefaultAction = specs.ActLog
		out.DefaultErrnoRet = nil
	}
	out.Syscalls = make([]specs.LinuxSyscall, len(f.Syscalls))
	for i, r := range f.Syscalls {
		if refuses(r.Action) {
			r.Action = specs.ActLog
			r.ErrnoRet = nil
		}
		out.Syscalls[i] = r
	}
	return &out
}

func refuses(a specs.LinuxSeccompAction) bool {
	switch a {
	case specs.ActAllow, specs.ActLog, specs.ActNotify:
		return false
	}
	return true
}
