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
	ia, ib := indexFilter(a), indexFilter(b)
	for _, n := range known {
		da, db := ia.decide(n), ib.decide(n)
		if da != db {
			return false, fmt.Sprintf("%s: %+v vs %+v", n, da, db)
		}
		if da.Conditional && !reflect.DeepEqual(ia.argRules(n), ib.argRules(n)) {
			return false, fmt.Sprintf("%s: argument rules %v vs %v", n, ia.argRules(n), ib.argRules(n))
		}
	}
	return true, ""
}

// filterIndex answers Decide for many names in constant time each.
type filterIndex struct {
	s *specs.LinuxSeccomp
	// uncond is the first rule without arguments per name; cond lists the
	// rules with arguments per name.
	uncond map[string]int
	cond   map[string][]int
}

func indexFilter(s *specs.LinuxSeccomp) *filterIndex {
	x := &filterIndex{s: s, uncond: map[string]int{}, cond: map[string][]int{}}
	if s == nil {
		return x
	}
	for i, r := range s.Syscalls {
		for _, n := range r.Names {
			if len(r.Args) > 0 {
				x.cond[n] = append(x.cond[n], i)
			} else if _, ok := x.uncond[n]; !ok {
				x.uncond[n] = i
			}
		}
	}
	return x
}

// decide is Decide(x.s, n).
func (x *filterIndex) decide(n string) Decision {
	if x.s == nil {
		return Decision{Action: specs.ActAllow}
	}
	if i, ok := x.uncond[n]; ok {
		r := x.s.Syscalls[i]
		return decision(r.Action, r.ErrnoRet, false)
	}
	if l := x.cond[n]; len(l) > 0 {
		r := x.s.Syscalls[l[0]]
		return decision(r.Action, r.ErrnoRet, true)
	}
	return decision(x.s.DefaultAction, x.s.DefaultErrnoRet, false)
}

// argRules returns the argument-filtered rules naming n, as sorted
// strings.
func (x *filterIndex) argRules(n string) []string {
	var out []string
	for _, i := range x.cond[n] {
		r := x.s.Syscalls[i]
		e := ""
		if r.ErrnoRet != nil {
			e = fmt.Sprintf("(%d)", *r.ErrnoRet)
		}
		out = append(out, fmt.Sprintf("%s%s if %s", r.Action, e, describeArgs(r.Args)))
	}
	sort.Strings(out)
	return out
}

// argRules is filterIndex.argRules for one lookup.
func argRules(s *specs.LinuxSeccomp, n string) []string { return indexFilter(s).argRules(n) }
