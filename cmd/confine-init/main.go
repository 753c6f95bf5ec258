// Command confine-init is the first process of a container whose profile
// restricts files or execution in enforce mode. confine-runc bind-mounts it
// read-only at /.confine-init and prepends it to process.args (and to the
// args of runc exec processes):
//
//	/.confine-init --confine-ruleset=RULESET -- PROGRAM [ARG...]
//
// It applies the Landlock ruleset to itself (no_new_privs, then
// landlock_restrict_self) and execs PROGRAM, found on the container's PATH
// as runc would. Any failure ends it with exit status 127 and a message on
// stderr before the workload runs: enforce mode never runs a workload
// unconfined. It is static (CGO_ENABLED=0) so it runs in any image.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/confinehq/confine/internal/landlock"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "confine-init: %v\n", err)
		os.Exit(127)
	}
}

func run(args []string) error {
	rs, argv, err := landlock.SplitArgs(args)
	if err != nil {
		return err
	}
	prog := argv[0]
	if path, err := exec.LookPath(prog); err == nil {
		prog = path
	} else {
		return fmt.Errorf("finding %q: %w", argv[0], err)
	}
	plan, err := landlock.NewPlan(rs, landlock.ABI())
	if err != nil {
		return err
	}
	for _, s := range plan.Skipped {
		fmt.Fprintf(os.Stderr, "confine-init: warning: %s\n", s)
	}
	if err := plan.Apply(); err != nil {
		return err
	}
	if err := syscall.Exec(prog, argv, os.Environ()); err != nil {
		return fmt.Errorf("executing %s: %w", prog, err)
	}
	return nil
}
