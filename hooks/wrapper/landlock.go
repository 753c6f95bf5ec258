package wrapper

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/confinehq/confine/hooks"
	"github.com/confinehq/confine/hooks/runcargs"
	"github.com/confinehq/confine/internal/atomicfile"
	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/internal/landlock"
	"github.com/confinehq/confine/profiles"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultInitPath is where packages install confine-init.
const DefaultInitPath = "/usr/bin/confine-init"

// AnnotationLandlock is landlock.AnnotationFilesLayer.
const AnnotationLandlock = landlock.AnnotationFilesLayer

// AnnotationExecSessions records the profile's execSessions policy in the
// private copy, for runc exec: an audited session is reported, not refused,
// so it does not get confine-init's Landlock rules.
const AnnotationExecSessions = "confine.exec-sessions"

// initPath finds confine-init next to this binary, else DefaultInitPath.
func (w *Wrapper) initPath() (string, error) {
	var cands []string
	if self, err := w.Executable(); err == nil {
		if r, err := filepath.EvalSymlinks(self); err == nil {
			self = r
		}
		cands = append(cands, filepath.Join(filepath.Dir(self), landlock.InitBinary))
	}
	cands = append(cands, DefaultInitPath)
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return c, nil
		}
	}
	return "", fmt.Errorf("confine-init not found (looked at %v)", cands)
}

// landlockLayer decides how an enforce profile's file and exec rules are
// enforced: it returns confine-init's host path ("" when Landlock is not
// used) and the value of AnnotationLandlock. Without Landlock in the
// kernel the fanotify guard stays the file layer, as before; a missing
// confine-init is an error in fail_mode closed.
func (w *Wrapper) landlockLayer(log *runcargs.RuncLog, id string, needs bool) (string, string, error) {
	if !needs {
		return "", "", nil
	}
	if !w.Config.Landlock {
		return "", "none: landlock = false in the configuration", nil
	}
	abiFn := w.LandlockABI
	if abiFn == nil {
		abiFn = landlock.ABI
	}
	abi := abiFn()
	if abi < 1 {
		log.Warnf("container %s: the kernel has no Landlock: file and exec rules are not enforced by the kernel (fanotify guard only)", id)
		return "", "none: kernel has no landlock", nil
	}
	p, err := w.initPath()
	if err != nil {
		if w.Config.FailMode == config.FailOpen {
			log.Warnf("container %s: %v; file and exec rules are not enforced by the kernel (fail_mode=open)", id, err)
			return "", "none: " + err.Error(), nil
		}
		return "", "", fmt.Errorf("container %s: %v; refusing to create it without its Landlock rules (fail_mode=closed)", id, err)
	}
	return p, fmt.Sprintf("landlock ABI %d", abi), nil
}

// execFlagsWithoutValue are runc exec's boolean flags (1.1 to 1.4).
var execFlagsWithoutValue = map[string]bool{
	"tty": true, "t": true, "detach": true, "d": true, "no-new-privs": true,
	"ignore-paused": true, "help": true, "h": true,
}

// execProcessArg finds, in runc exec's own arguments (after "exec"), the
// index of the --process value and the container id.
func execProcessArg(args []string) (valueIdx int, inline bool, id string) {
	valueIdx = -1
	for i := 0; i < len(args); i++ {
		tok := args[i]
		if tok == "--" {
			if i+1 < len(args) && id == "" {
				id = args[i+1]
			}
			break
		}
		if !strings.HasPrefix(tok, "-") || tok == "-" {
			if id == "" {
				id = tok
			}
			// The rest is the command (without --process); stop.
			break
		}
		name := strings.TrimLeft(tok, "-")
		n, _, hasVal := strings.Cut(name, "=")
		if n == "process" || n == "p" {
			if hasVal {
				valueIdx, inline = i, true
			} else if i+1 < len(args) {
				valueIdx = i + 1
			}
		}
		if !hasVal && !execFlagsWithoutValue[n] {
			i++ // skip the flag's value
		}
	}
	return valueIdx, inline, id
}

// runcState is the part of runc's state.json read here.
type runcState struct {
	Config struct {
		Labels []string `json:"labels"`
	} `json:"config"`
}

// bundleOf returns the bundle runc created container id from.
func bundleOf(root, id string) (string, error) {
	if !hooks.ValidID(id) {
		return "", fmt.Errorf("bad container id %q", id)
	}
	b, err := os.ReadFile(filepath.Join(root, id, "state.json"))
	if err != nil {
		return "", fmt.Errorf("reading runc's state of %s: %w", id, err)
	}
	var st runcState
	if err := json.Unmarshal(b, &st); err != nil {
		return "", fmt.Errorf("parsing runc's state of %s: %w", id, err)
	}
	for _, l := range st.Config.Labels {
		if v, ok := strings.CutPrefix(l, "bundle="); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("runc's state of %s names no bundle", id)
}

// execArgs gives runc exec processes the container's Landlock ruleset and
// capabilities: when the container was created with confine-init in
// front, or with its capabilities narrowed (hooks.AnnotationCapabilities),
// the process file (--process) is copied next to itself with confine-init
// prepended to its args and its capability sets narrowed to the
// container's, and argv is changed to name the copy; an audited session
// (execSessions: audit) is reported, not refused, and gets neither.
// Anything else is returned unchanged. An exec into a Landlock-confined
// container whose process cannot be confined is an error: it would run
// without the rules (without --process, runc takes the container's own
// capabilities).
func (w *Wrapper) execArgs(inv runcargs.Invocation, argv []string) ([]string, error) {
	if inv.CommandIndex < 0 {
		return argv, nil
	}
	sub := argv[inv.CommandIndex+1:]
	vi, inline, id := execProcessArg(sub)
	cwd, err := w.Getwd()
	if err != nil {
		return nil, fmt.Errorf("exec into %s: working directory: %w", id, err)
	}
	root := hooks.RuncRoot(inv.Root, cwd)
	if _, err := os.Stat(filepath.Join(root, id)); errors.Is(err, fs.ErrNotExist) || !hooks.ValidID(id) {
		return argv, nil // runc will say the container does not exist
	}
	runDir := config.Default().RunDir
	if w.Config != nil {
		runDir = w.Config.RunDir
	}
	// The spec runc read: confine-runc's private copy, else (a container
	// created before copies, or by an older confine-runc) the bundle's.
	specPath := filepath.Join(hooks.CopyDir(runDir, root, id), hooks.SpecFileName)
	if _, err := os.Stat(specPath); err != nil {
		bundle, err := bundleOf(root, id)
		if err != nil {
			return nil, fmt.Errorf("exec into %s: %w", id, err)
		}
		specPath = filepath.Join(bundle, hooks.SpecFileName)
	}
	sf, err := hooks.ReadSpec(specPath)
	if err != nil {
		return nil, fmt.Errorf("exec into %s: %w", id, err)
	}
	if sf.Spec.Process == nil {
		return argv, nil
	}
	if sf.Spec.Annotations[AnnotationExecSessions] == profiles.ExecSessionsAudit {
		return argv, nil
	}
	rs, landlocked := landlock.Injected(sf.Spec.Process.Args)
	var keep []string
	kept, narrowed := sf.Spec.Annotations[hooks.AnnotationCapabilities]
	if narrowed && kept != "" {
		keep = strings.Split(kept, ",")
	}
	switch {
	case !landlocked && !narrowed:
		return argv, nil
	case vi < 0 && landlocked:
		return nil, fmt.Errorf("exec into %s: the container is confined by Landlock and only runc exec --process FILE can be confined (as containerd and Docker call it)", id)
	case vi < 0:
		return argv, nil
	}
	if !landlocked {
		rs = ""
	}
	file := sub[vi]
	if inline {
		_, file, _ = strings.Cut(file, "=")
	}
	cp, err := confineProcessFile(file, rs, narrowed, keep)
	if err != nil {
		return nil, fmt.Errorf("exec into %s: %w", id, err)
	}
	out := append([]string(nil), argv...)
	if inline {
		out[inv.CommandIndex+1+vi] = "--process=" + cp
	} else {
		out[inv.CommandIndex+1+vi] = cp
	}
	return out, nil
}

// confineProcessFile writes file's process with confine-init prepended
// (when rulesetArg is not "") and, when narrow, its capability sets
// narrowed to keep, to a new file next to it (the caller's temporary
// directory, which it removes) and returns its path. Fields the spec types
// do not model are kept.
func confineProcessFile(file, rulesetArg string, narrow bool, keep []string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading the process file: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return "", fmt.Errorf("parsing the process file %s: %w", file, err)
	}
	var p specs.Process
	if err := json.Unmarshal(b, &p); err != nil {
		return "", fmt.Errorf("parsing the process file %s: %w", file, err)
	}
	if len(p.Args) == 0 {
		return "", fmt.Errorf("process file %s has no args", file)
	}
	if _, ok := landlock.Injected(p.Args); !ok && rulesetArg != "" {
		args, _ := json.Marshal(append([]string{landlock.InitPath, rulesetArg, "--"}, p.Args...))
		raw["args"] = args
	}
	if narrow {
		caps, _, err := hooks.NarrowCapabilities(p.Capabilities, keep)
		if err != nil {
			return "", fmt.Errorf("process file %s: %w", file, err)
		}
		raw["capabilities"], _ = json.Marshal(caps)
	}
	out, err := json.Marshal(raw)
	if err != nil {
		return "", fmt.Errorf("writing the process file: %w", err)
	}
	dst := file + ".confine"
	if err := atomicfile.WriteFile(dst, out, 0o600); err != nil {
		return "", fmt.Errorf("writing the process file: %w", err)
	}
	return dst, nil
}
