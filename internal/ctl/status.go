package ctl

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/confinehq/confine/internal/api"
)

func init() {
	register(command{"status", "daemon health, containerd connection, counts", status})
	register(command{"ps", "watched containers: profile, mode, processes, violations", ps})
}

func status(e *env, args []string) error {
	fs := e.flags("status", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("takes no arguments")
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	st, err := c.Status(cx)
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(st)
	}
	conn := "connected"
	if !st.ContainerdConnected {
		conn = "NOT connected"
	}
	fmt.Fprintf(e.stdout, "confined %s, up %s\n", st.Version, time.Since(st.StartedAt).Round(time.Second))
	fmt.Fprintf(e.stdout, "containerd: %s (%s) %s\n", st.ContainerdAddress, st.ContainerdVersion, conn)
	var modes []string
	for m, n := range st.ContainersByMode {
		modes = append(modes, fmt.Sprintf("%s %d", m, n))
	}
	sort.Strings(modes)
	fmt.Fprintf(e.stdout, "containers: %d (%s), processes: %d\n", st.Containers, strings.Join(modes, ", "), st.Processes)
	fmt.Fprintf(e.stdout, "profiles: %d loaded, %d errors\n", st.Profiles, len(st.ProfileErrors))
	for _, pe := range st.ProfileErrors {
		fmt.Fprintf(e.stdout, "  error: %s\n", pe)
	}
	fmt.Fprintf(e.stdout, "violations: %d, kills: %d\n", st.Violations, st.Kills)
	if st.ProcessEvents != "" {
		fmt.Fprintf(e.stdout, "process events: %s\n", st.ProcessEvents)
	}
	srcErr := printSources(e, st.ProfileSources)
	if !st.ContainerdConnected || len(st.ProfileErrors) > 0 || srcErr {
		return errFinding
	}
	return nil
}

func ps(e *env, args []string) error {
	fs := e.flags("ps", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("takes no arguments")
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	cs, err := c.Containers(cx)
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(cs)
	}
	t := newTable(e.stdout, "CONTAINER", "IMAGE", "PROFILE", "MODE", "PROCS", "VIOLATIONS", "CAPS HELD", "CAPS USED", "STATUS", "NOTES")
	for _, ct := range cs {
		id := ct.Namespace + "/" + ct.ID
		if ct.Root != "" {
			id += "@" + ct.Root
		}
		if ct.Name != "" {
			id += " (" + ct.Name + ")"
		}
		notes := append([]string(nil), ct.Notes...)
		if !ct.Injected {
			notes = append(notes, "no injected seccomp filter (not started through confine-runc)")
		}
		st := ct.Status
		if ct.KillReason != "" {
			st += ": " + ct.KillReason
		}
		t.row(id, ct.Image, ct.Profile, ct.Mode, strconv.Itoa(ct.Processes), strconv.Itoa(ct.Violations), capsHeld(ct), capsUsed(ct), st, strings.Join(notes, "; "))
	}
	return t.flush()
}

// capsHeld shows the effective capabilities of a container's init: "-"
// when they could not be read, "none" for an empty set.
func capsHeld(ct api.Container) string {
	switch {
	case ct.CapsHeld == nil:
		return "-"
	case len(ct.CapsHeld) == 0:
		return "none"
	}
	return strings.Join(ct.CapsHeld, ",")
}

// capsUsed shows the capabilities learning saw exercised: "-" when no
// recorder watched the profile's workload.
func capsUsed(ct api.Container) string {
	switch {
	case !ct.CapsRecorded:
		return "-"
	case len(ct.CapsUsed) == 0:
		return "none"
	}
	return strings.Join(ct.CapsUsed, ",")
}
