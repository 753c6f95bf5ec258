// Package hooks is the injection side of confine: it parses runc's command
// line, edits a bundle's spec through spec Modifiers (seccomp filter, OCI
// hooks, no-new-privileges, masked and read-only paths, annotations)
// without losing fields it does not model, renders it into a private copy
// under run_dir (the user's bundle is never written), reads the OCI state
// that runc gives hooks, and writes errors the way runc does so containerd
// shows them.
//
// confine-runc (see package hooks/wrapper) and confine-hook build on it.
package runcargs

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Commands that start a container from a bundle and therefore get a
// profile injected.
const (
	CmdCreate  = "create"
	CmdRun     = "run"
	CmdRestore = "restore"
)

// ErrUsage marks a command line this package cannot parse safely.
var ErrUsage = errors.New("unparseable runc command line")

// Invocation is a parsed runc command line.
type Invocation struct {
	// Args is the command line as given, without the program name. It is
	// what the real runc gets, unchanged.
	Args []string

	// Global flags (runc's, before the command).
	Root          string // --root: runc's state directory
	Log           string // --log: the log file containerd reads errors from
	LogFormat     string // --log-format: "text" (runc's default) or "json"
	Criu          string // --criu
	Rootless      string // --rootless: "true", "false" or "auto"
	Debug         bool   // --debug
	SystemdCgroup bool   // --systemd-cgroup
	// Help is set by -h/--help (global or the command's) and Version by
	// -v/--version: runc then prints text and starts nothing.
	Help    bool
	Version bool
	// UnknownGlobals lists global flags this parser does not know, as
	// given. They do not stop the parse; the real runc judges them.
	UnknownGlobals []string

	// Command is runc's subcommand ("" when there is none, as with
	// --version). CommandIndex is its index in Args (-1 when none).
	Command      string
	CommandIndex int

	// For create, run and restore only.
	Bundle        string // -b/--bundle as given; "" means the working directory
	PidFile       string // --pid-file
	ConsoleSocket string // --console-socket
	ID            string // the container id (the one positional argument)
	// UnknownFlag is the command flag the parse stopped at, without
	// dashes, when it failed on one.
	UnknownFlag string
}

// Creates reports whether the command starts a container from a bundle
// (create, run or restore), whether or not it asks for help.
func (inv Invocation) Creates() bool {
	return inv.Command == CmdCreate || inv.Command == CmdRun || inv.Command == CmdRestore
}

// Injects reports whether confine-runc injects a profile for this command
// line: a command that starts a container, and no help or version flag
// (runc then prints text and starts nothing).
func (inv Invocation) Injects() bool { return inv.Creates() && !inv.Help && !inv.Version }

// BundleDir returns the absolute bundle directory: --bundle resolved
// against cwd, or cwd itself when no bundle was given (runc reads
// config.json from its working directory then).
func (inv Invocation) BundleDir(cwd string) string {
	b := inv.Bundle
	if b == "" {
		return filepath.Clean(cwd)
	}
	if !filepath.IsAbs(b) {
		b = filepath.Join(cwd, b)
	}
	return filepath.Clean(b)
}

type flagKind int

const (
	flagString flagKind = iota
	flagBool
)

// runc 1.1's global flags. runc parses flags with Go's flag package, so
// "-root" and "--root" are the same flag, and "--root=X" and "--root X"
// the same value.
var globalFlags = map[string]flagKind{
	"root": flagString, "log": flagString, "log-format": flagString,
	"criu": flagString, "rootless": flagString,
	"debug": flagBool, "systemd-cgroup": flagBool,
	"help": flagBool, "h": flagBool, "version": flagBool, "v": flagBool,
}

// The flags of the commands that start a container, as runc 1.1 to 1.4
// define them (a superset: a flag one version lacks is refused by that
// runc itself, after confine-runc injected, so nothing runs unconfined).
// A flag missing here is one no runc of these versions knows.
var createFlags = map[string]flagKind{
	"bundle": flagString, "b": flagString,
	"console-socket": flagString, "pid-file": flagString,
	"pidfd-socket": flagString, // runc 1.2+
	"preserve-fds": flagString,
	"no-pivot":     flagBool, "no-new-keyring": flagBool,
	"help": flagBool, "h": flagBool,
}

var runOnlyFlags = map[string]flagKind{
	"detach": flagBool, "d": flagBool, "keep": flagBool, "no-subreaper": flagBool,
}

var restoreFlags = map[string]flagKind{
	"bundle": flagString, "b": flagString,
	"console-socket": flagString, "pid-file": flagString,
	"image-path": flagString, "work-path": flagString,
	"manage-cgroups-mode": flagString, "empty-ns": flagString,
	"lsm-profile": flagString, "lsm-mount-context": flagString,
	"tcp-established": flagBool, "ext-unix-sk": flagBool, "shell-job": flagBool,
	"file-locks": flagBool, "detach": flagBool, "d": flagBool,
	"no-subreaper": flagBool, "no-pivot": flagBool, "auto-dedup": flagBool,
	"lazy-pages": flagBool,
	"help":       flagBool, "h": flagBool,
}

// commandFlags returns the flag table of a command that starts a container.
func commandFlags(cmd, name string) (flagKind, bool) {
	switch cmd {
	case CmdRestore:
		k, ok := restoreFlags[name]
		return k, ok
	case CmdRun:
		if k, ok := runOnlyFlags[name]; ok {
			return k, true
		}
	}
	k, ok := createFlags[name]
	return k, ok
}

// runc's commands, used to tell an unknown boolean global flag from one
// that takes a value.
var runcCommands = map[string]bool{
	"checkpoint": true, "create": true, "delete": true, "events": true,
	"exec": true, "features": true, "init": true, "kill": true, "list": true,
	"pause": true, "ps": true, "restore": true, "resume": true, "run": true,
	"spec": true, "start": true, "state": true, "update": true, "help": true, "h": true,
}

// splitFlag turns "-x", "--x", "--x=v" into name, value, hasValue. ok is
// false for tokens that are not flags ("-", "x", or "---x").
func splitFlag(tok string) (name, value string, hasValue, ok bool) {
	if len(tok) < 2 || tok[0] != '-' {
		return "", "", false, false
	}
	name = tok[1:]
	if name[0] == '-' {
		name = name[1:]
	}
	if name == "" || name[0] == '-' || name[0] == '=' {
		return "", "", false, false
	}
	if i := strings.IndexByte(name, '='); i >= 0 {
		return name[:i], name[i+1:], true, true
	}
	return name, "", false, true
}

// ParseArgs parses runc's command line without the program name
// (os.Args[1:]). Global flags come first, then the command; for create, run
// and restore the command's flags (which may follow the id, as runc's CLI
// library reorders them) and the id are parsed too. Other commands'
// arguments are not interpreted.
//
// Unknown global flags do not fail the parse: "--x=v" is one token, "--x"
// is taken as boolean when the next token is a runc command and as taking
// a value otherwise. For create, run and restore, an unknown command flag
// is an error (the id cannot be found safely; UnknownFlag names it); the
// returned Invocation still carries the command so the caller can decide.
// Every error wraps ErrUsage.
func ParseArgs(argv []string) (Invocation, error) {
	inv := Invocation{Args: argv, CommandIndex: -1}
	i := 0
	for i < len(argv) {
		tok := argv[i]
		if tok == "--" {
			i++
			break
		}
		name, val, hasVal, ok := splitFlag(tok)
		if !ok {
			break
		}
		kind, known := globalFlags[name]
		if !known {
			inv.UnknownGlobals = append(inv.UnknownGlobals, tok)
			if !hasVal && i+1 < len(argv) && !runcCommands[argv[i+1]] && !strings.HasPrefix(argv[i+1], "-") {
				inv.UnknownGlobals = append(inv.UnknownGlobals, argv[i+1])
				i++
			}
			i++
			continue
		}
		if kind == flagBool {
			b := true
			if hasVal {
				var err error
				if b, err = strconv.ParseBool(val); err != nil {
					return inv, fmt.Errorf("%w: global flag --%s: invalid boolean %q", ErrUsage, name, val)
				}
			}
			switch name {
			case "debug":
				inv.Debug = b
			case "systemd-cgroup":
				inv.SystemdCgroup = b
			case "help", "h":
				inv.Help = inv.Help || b
			case "version", "v":
				inv.Version = inv.Version || b
			}
			i++
			continue
		}
		if !hasVal {
			if i+1 >= len(argv) {
				return inv, fmt.Errorf("%w: global flag --%s needs a value", ErrUsage, name)
			}
			val = argv[i+1]
			i++
		}
		i++
		switch name {
		case "root":
			inv.Root = val
		case "log":
			inv.Log = val
		case "log-format":
			inv.LogFormat = val
		case "criu":
			inv.Criu = val
		case "rootless":
			inv.Rootless = val
		}
	}
	if i >= len(argv) {
		return inv, nil
	}
	inv.Command, inv.CommandIndex = argv[i], i
	if !inv.Creates() {
		return inv, nil
	}
	return inv, parseCreate(&inv, argv[i+1:])
}

// parseCreate parses the flags and the id of create, run and restore.
func parseCreate(inv *Invocation, args []string) error {
	var positional []string
	for i := 0; i < len(args); i++ {
		tok := args[i]
		if tok == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		name, val, hasVal, ok := splitFlag(tok)
		if !ok {
			positional = append(positional, tok)
			continue
		}
		kind, known := commandFlags(inv.Command, name)
		if !known {
			inv.UnknownFlag = name
			return fmt.Errorf("%w: %s: unknown flag %q", ErrUsage, inv.Command, tok)
		}
		if kind == flagBool {
			b := true
			if hasVal {
				var err error
				if b, err = strconv.ParseBool(val); err != nil {
					return fmt.Errorf("%w: %s: flag --%s: invalid boolean %q", ErrUsage, inv.Command, name, val)
				}
			}
			if name == "help" || name == "h" {
				inv.Help = inv.Help || b
			}
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return fmt.Errorf("%w: %s: flag --%s needs a value", ErrUsage, inv.Command, name)
			}
			val = args[i+1]
			i++
		}
		switch name {
		case "bundle", "b":
			inv.Bundle = val
		case "pid-file":
			inv.PidFile = val
		case "console-socket":
			inv.ConsoleSocket = val
		}
	}
	if len(positional) != 1 {
		return fmt.Errorf("%w: %s: want exactly one container id, got %d arguments %q", ErrUsage, inv.Command, len(positional), positional)
	}
	inv.ID = positional[0]
	if inv.ID == "" {
		return fmt.Errorf("%w: %s: empty container id", ErrUsage, inv.Command)
	}
	return nil
}
