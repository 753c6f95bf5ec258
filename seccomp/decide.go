package seccomp

import (
	"fmt"
	"reflect"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Decision is what a filter does with one syscall, judged by its name.
type Decision struct {
	Action specs.LinuxSeccompAction
	// Errno is the error returned for SCMP_ACT_ERRNO (EPERM when the rule
	// or the default sets none, as runc does); 0 for other actions.
	Errno uint
	// Conditional is set when every rule naming the syscall filters on its
	// arguments: Action and Errno are then those of the first such rule,
	// taken when its arguments match; other calls get the default action.
	Conditional bool
}

// Decide evaluates a filter for a syscall name the way runc and
// libseccomp build it, without arguments: the first rule naming the
// syscall without argument conditions decides (libseccomp lets such a rule
// override argument rules of the same syscall); failing that, the first
// rule with argument conditions decides, marked Conditional; failing that,
// the default action. Architectures are not considered. A nil filter
// allows everything.
func Decide(s *specs.LinuxSeccomp, name string) Decision {
	if s == nil {
		return Decision{Action: specs.ActAllow}
	}
	var cond *specs.LinuxSyscall
	for i := range s.Syscalls {
		r := &s.Syscalls[i]
		if !contains(r.Names, name) {
			continue
		}
		if len(r.Args) == 0 {
			return decision(r.Action, r.ErrnoRet, false)
		}
		if cond == nil {
			cond = r
		}
	}
	if cond != nil {
		return decision(cond.Action, cond.ErrnoRet, true)
	}
	return decision(s.DefaultAction, s.DefaultErrnoRet, false)
}

func decision(a specs.LinuxSeccompAction, errno *uint, conditional bool) Decision {
	d := Decision{Action: a, Conditional: conditional}
	if a == specs.ActErrno {
		d.Errno = errnoEPERM
		if errno != nil {
			d.Errno = *errno
		}
	}
	return d
}

// sameDecisions reports whether two filters decide alike for every name in
// known: the same Decision, and for a syscall filtered on its arguments
// the same argument rules (calls that match none of them get each
// filter's default action, which may differ). diff describes the first
// difference.
func sameDecisions(a, b *specs.LinuxSeccomp, known []string) (same bool, diff string) {
	for _, n := range known {
		da, db := Decide(a, n), Decide(b, n)
		if da != db {
			return false, fmt.Sprintf("%s: %+v vs %+v", n, da, db)
		}
		if da.Conditional && !reflect.DeepEqual(argRules(a, n), argRules(b, n)) {
			return false, fmt.Sprintf("%s: argument rules %v vs %v", n, argRules(a, n), argRules(b, n))
		}
	}
	return true, ""
}

// argRules returns the argument-filtered rules naming n, as sorted
// strings.
func argRules(s *specs.LinuxSeccomp, n string) []string {
	var out []string
	for _, r := range s.Syscalls {
		if len(r.Args) > 0 && contains(r.Names, n) {
			e := ""
			if r.ErrnoRet != nil {
				e = fmt.Sprintf("(%d)", *r.ErrnoRet)
			}
			out = append(out, fmt.Sprintf("%s%s if %s", r.Action, e, describeArgs(r.Args)))
		}
	}
	sort.Strings(out)
	return out
}
