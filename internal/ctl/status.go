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
	if err := noArgs(fs, args); err != nil {
		return err
	}
	st, err := call(e, (*api.Client).Status)
	if err != nil {
		return err
	}
	var w *wiring
	if cfg, err := e.config(); err == nil {
		pw := probeContainerd(cfg.ContainerdAddress, DefaultConfineRunc)
		w = &pw
	}
	if e.json {
		out := struct {
			*api.Status
			Wiring string `json:"wiring,omitempty"`
		}{Status: st}
		if w != nil {
			out.Wiring = w.String()
		}
		return e.printJSON(out)
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
	} else if st.EventsReason == "" {
		fmt.Fprintf(e.stdout, "process events: %s\n", st.Events)
	}
	if st.EventsReason != "" {
		fmt.Fprintf(e.stdout, "process events: WARNING: %s only: %s\n", st.Events, st.EventsReason)
	}
	if w != nil {
		fmt.Fprintf(e.stdout, "wiring: %s\n", w)
	}
	if len(st.Unprotected) > 0 {
		fmt.Fprintf(e.stdout, "UNPROTECTED: %d missing layers (confinectl ps):\n", len(st.Unprotected))
		for _, u := range st.Unprotected {
			fmt.Fprintf(e.stdout, "  %s\n", u)
		}
	}
	srcErr := printSources(e, st.ProfileSources)
	if !st.ContainerdConnected || len(st.ProfileErrors) > 0 || srcErr || len(st.Unprotected) > 0 {
		return errFinding
	}
	return nil
}

func ps(e *env, args []string) error {
	fs := e.flags("ps", "")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	cs, err := call(e, (*api.Client).Containers)
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(cs)
	}
	t := newTable(e.stdout, "CONTAINER", "IMAGE", "PROFILE", "MODE", "PROCS", "VIOLATIONS", "CAPS HELD", "CAPS USED", "STATUS", "LAYERS", "NOTES")
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
			notes = append(notes, "NOT INJECTED: no seccomp filter, no hooks (not started through confine-runc)")
		}
		layers, missing := layerColumn(ct.Layers)
		notes = append(notes, missing...)
		if ct.CapsNote != "" {
			notes = append(notes, "caps used: "+ct.CapsNote)
		}
		st := ct.Status
		if ct.KillReason != "" {
			st += ": " + ct.KillReason
		}
		t.row(id, ct.Image, ct.Profile, ct.Mode, strconv.Itoa(ct.Processes), strconv.Itoa(ct.Violations), capsHeld(ct), capsUsed(ct), st, layers, strings.Join(notes, "; "))
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

// capsUsed shows the capabilities the container's processes exercised:
// "-" without a recorder, a trailing "?" when the record is partial (the
// notes say why).
func capsUsed(ct api.Container) string {
	s := strings.Join(ct.CapsUsed, ",")
	switch {
	case ct.CapsUsed == nil:
		return "-"
	case len(ct.CapsUsed) == 0:
		s = "none"
	}
	if !ct.CapsRecorded {
		s += "?"
	}
	return s
}

// layerColumn renders the layers of a container: those in force by name
// (with their detail), missing ones as !name, and a note per missing layer
// with its reason.
func layerColumn(ls []api.Layer) (string, []string) {
	var col, notes []string
	for _, l := range ls {
		switch {
		case !l.InForce:
			col = append(col, "!"+l.Name)
			notes = append(notes, "missing "+l.Name+": "+l.Reason)
		case l.Detail != "":
			col = append(col, l.Name+"("+l.Detail+")")
		default:
			col = append(col, l.Name)
		}
	}
	if len(col) == 0 {
		return "-", nil
	}
	return strings.Join(col, ","), notes
}
