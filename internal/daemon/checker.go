package daemon

import (
	"github.com/confinehq/confine/monitor/rules"
	"github.com/confinehq/confine/profiles"
)

type (
	snapshot   = rules.ProcessSnapshot
	violationT = rules.Violation
)

// checker is a container's compiled rules.
type checker struct {
	set *rules.Set
}

func newChecker(p *profiles.Profile) (*checker, error) {
	s, err := rules.Compile(p)
	if err != nil {
		return nil, err
	}
	return &checker{set: s}, nil
}

func (c *checker) evaluate(snap *snapshot) []violationT {
	return c.set.Evaluate(*snap)
}
