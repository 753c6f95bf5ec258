// Package landlock turns a confine profile into a Landlock ruleset and
// applies it. confine-runc builds the ruleset (fromprofile.Ruleset) and passes it,
// encoded, on the command line of confine-init, a small static binary it
// bind-mounts read-only into the container and prepends to process.args;
// confine-init applies it (Apply) and execs the workload. The kernel then
// enforces the rules for the container's whole process tree, whether or
// not confined runs.
//
// # From globs to hierarchies
//
// Landlock knows no globs: a rule grants rights on one file or on a whole
// directory hierarchy, and a path inside an allowed hierarchy cannot be
// denied on its own. Each allowlist entry becomes the hierarchy of its
// leading literal segments (glob.Root): "/usr/lib/**" grants /usr/lib,
// "/etc/nginx/*.conf" grants all of /etc/nginx, "/bin/busybox" grants that
// one file. The kernel therefore enforces a superset of the glob; the
// monitor still judges the exact glob where it sees the access. Profile
// validation warns when an entry widens to / or a whole top-level system
// directory.
//
// # Rights per class
//
//   - exec.allow: EXECUTE (and READ_FILE when reads are restricted, since
//     execve opens the file for reading).
//   - files.read: READ_FILE, READ_DIR.
//   - files.write: WRITE_FILE, TRUNCATE, MAKE_REG/DIR/SYM/FIFO/SOCK,
//     REMOVE_FILE/DIR, REFER, plus READ_FILE and READ_DIR: what may be
//     written may be read back. MAKE_CHAR and MAKE_BLOCK (device nodes)
//     are never granted.
//   - A class whose list is absent (nil) is not handled at all: Landlock
//     then leaves that access alone, so existing profiles keep their
//     meaning.
//   - A runtime floor is always granted when reads or writes are
//     restricted: read and write on /dev/null, /dev/zero, /dev/full,
//     /dev/tty, /dev/ptmx and /dev/pts; read on /dev/random, /dev/urandom
//     and /proc (the kernel's ptrace checks still guard other processes'
//     files there).
//   - network.listen (ABI >= 4): TCP bind only on those ports;
//     network.egress (ABI >= 4): TCP connect only on the ports listed, and
//     only when no entry allows any port ("host:*"). Landlock matches
//     ports, not addresses: nftables stays the address layer.
//
// # no_new_privs and setuid
//
// Restricting oneself needs no_new_privs (or CAP_SYS_ADMIN, which a
// container's init must not be trusted with): confine-init sets it. Under
// no_new_privs setuid and setgid bits and file capabilities are ignored
// at execve, so a workload that relies on them (su, sudo, ping with file
// capabilities) stops working when its profile has file or exec rules in
// enforce mode. containerd and Docker already set no_new_privs by default;
// a profile that needs setuid must leave files and exec unrestricted and
// rely on the monitor.
//
// # Audit
//
// On ABI >= 7 the domain is created with LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON,
// so denials by the workload (which runs after confine-init's execve) are
// logged as AUDIT_LANDLOCK_ACCESS records, which confined reads.
package landlock

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/confinehq/confine/internal/glob"
)

// InitPath is where confine-init is bind-mounted inside a container.
const InitPath = "/.confine-init"

// InitBinary is confine-init's file name, installed next to confine-runc.
const InitBinary = "confine-init"

// AnnotationFilesLayer records in the bundle which layer enforces the
// profile's file and exec rules: "landlock ABI N", or "none: REASON".
const AnnotationFilesLayer = "confine.files-layer"

// RulesetFlag prefixes the encoded ruleset, confine-init's first argument.
const RulesetFlag = "--confine-ruleset="

// Ruleset is what confine-init applies. A false Restrict* leaves that
// class of access alone; a true one with an empty list allows none.
type Ruleset struct {
	RestrictExec    bool     `json:"rx,omitempty"`
	Execute         []string `json:"x,omitempty"`
	RestrictRead    bool     `json:"rr,omitempty"`
	Read            []string `json:"r,omitempty"`
	RestrictWrite   bool     `json:"rw,omitempty"`
	Write           []string `json:"w,omitempty"`
	RestrictBind    bool     `json:"rb,omitempty"`
	Bind            []uint16 `json:"b,omitempty"`
	RestrictConnect bool     `json:"rc,omitempty"`
	Connect         []uint16 `json:"c,omitempty"`
}

// Restricts reports whether the ruleset restricts anything.
func (r *Ruleset) Restricts() bool {
	return r.RestrictExec || r.RestrictRead || r.RestrictWrite || r.RestrictBind || r.RestrictConnect
}

// RestrictsFiles reports whether the ruleset restricts file access or
// execution (what needs the init at all; ports alone do not).
func (r *Ruleset) RestrictsFiles() bool {
	return r.RestrictExec || r.RestrictRead || r.RestrictWrite
}

// Hierarchies turns globs into the sorted, de-duplicated list of
// hierarchies that cover them (see the package documentation). A
// hierarchy inside another one in the list is dropped.
func Hierarchies(patterns []string) []string {
	var roots []string
	for _, p := range patterns {
		if _, err := glob.Compile(p); err != nil {
			continue // validation reports it; never widen a bad pattern
		}
		root, _ := glob.Root(p)
		roots = append(roots, root)
	}
	slices.Sort(roots)
	roots = slices.Compact(roots)
	out := roots[:0]
	for _, r := range roots {
		if len(out) > 0 && within(r, out[len(out)-1]) {
			continue
		}
		out = append(out, r)
	}
	return slices.Clip(out)
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	if dir == "/" || p == dir {
		return true
	}
	return strings.HasPrefix(p, dir+"/")
}

// Encode gives the ruleset as one argument for confine-init.
func (r *Ruleset) Encode() string {
	b, _ := json.Marshal(r) // plain types: cannot fail
	return RulesetFlag + base64.RawURLEncoding.EncodeToString(b)
}

// Decode parses an argument made by Encode.
func Decode(arg string) (*Ruleset, error) {
	v, ok := strings.CutPrefix(arg, RulesetFlag)
	if !ok {
		return nil, fmt.Errorf("decoding the ruleset: argument does not start with %s", RulesetFlag)
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("decoding the ruleset: %w", err)
	}
	var r Ruleset
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decoding the ruleset: %w", err)
	}
	for _, l := range [][]string{r.Execute, r.Read, r.Write} {
		for _, p := range l {
			if !strings.HasPrefix(p, "/") {
				return nil, fmt.Errorf("decoding the ruleset: path %q is not absolute", p)
			}
		}
	}
	return &r, nil
}

// Args returns process.args with the init and the ruleset in front.
func (r *Ruleset) Args(args []string) []string {
	return append([]string{InitPath, r.Encode(), "--"}, args...)
}

// SplitArgs is the init's side of Args: the ruleset and the workload's
// argv from the init's own arguments (without argv[0]).
func SplitArgs(args []string) (*Ruleset, []string, error) {
	if len(args) < 3 || args[1] != "--" {
		return nil, nil, errors.New("usage: confine-init " + RulesetFlag + "RULESET -- PROGRAM [ARG...]")
	}
	r, err := Decode(args[0])
	if err != nil {
		return nil, nil, err
	}
	return r, args[2:], nil
}

// Injected reports whether process args already start with the init (a
// second pass over a spec adds nothing) and returns the ruleset argument.
func Injected(args []string) (string, bool) {
	if len(args) >= 3 && args[0] == InitPath && strings.HasPrefix(args[1], RulesetFlag) && args[2] == "--" {
		return args[1], true
	}
	return "", false
}
