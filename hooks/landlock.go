package hooks

import (
	"errors"
	"fmt"
	"path"

	"github.com/confinehq/confine/internal/landlock"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Landlock puts confine-init in front of the container's process: it
// bind-mounts InitPath (the host's confine-init) read-only at
// landlock.InitPath and prepends it, with the encoded ruleset, to
// process.args. confine-init applies the ruleset and execs the original
// args. A spec that already starts with confine-init is left alone.
type Landlock struct {
	// InitPath is confine-init on the host (absolute).
	InitPath string
	Ruleset  *landlock.Ruleset
}

// Modify adds the mount and the args.
func (m Landlock) Modify(s *specs.Spec) error {
	if m.Ruleset == nil {
		return nil
	}
	if !path.IsAbs(m.InitPath) {
		return fmt.Errorf("injecting confine-init: path %q is not absolute", m.InitPath)
	}
	if s.Process == nil || len(s.Process.Args) == 0 {
		return errors.New("injecting confine-init: the spec has no process args")
	}
	if _, ok := landlock.Injected(s.Process.Args); ok {
		return nil
	}
	s.Process.Args = m.Ruleset.Args(s.Process.Args)
	s.Mounts = append(s.Mounts, InitMount(m.InitPath))
	return nil
}

// InitMount is the read-only bind mount of confine-init.
func InitMount(hostPath string) specs.Mount {
	return specs.Mount{
		Destination: landlock.InitPath,
		Type:        "bind",
		Source:      hostPath,
		Options:     []string{"rbind", "ro", "nosuid", "nodev"},
	}
}
