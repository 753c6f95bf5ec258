// Package ctl implements confinectl, the operator CLI: one file per
// subcommand. Exit status: 0 success, 1 a finding or a failure, 2 bad usage.
package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/internal/version"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// usageError marks bad usage (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// errFinding is returned when a command ran fine but found a problem (exit 1
// without an extra message: the command printed its findings).
var errFinding = errors.New("finding")

// env is what every subcommand gets.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	json           bool
	cfgErr         error
	cfg            *config.Config
}

func (e *env) config() (*config.Config, error) {
	if e.cfg == nil && e.cfgErr == nil {
		e.cfg, e.cfgErr = config.Load()
	}
	return e.cfg, e.cfgErr
}

func (e *env) client() (*api.Client, error) {
	cfg, err := e.config()
	if err != nil {
		return nil, err
	}
	return api.NewClient(cfg.APISocket(), 10*time.Second), nil
}

func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type command struct {
	name    string
	summary string
	run     func(e *env, args []string) error
}

var commands []command

func register(c command) { commands = append(commands, c) }

func usage(w io.Writer) {
	fmt.Fprintf(w, "confinectl %s: the operator CLI of confine\n\nUsage: confinectl [--json] COMMAND [ARGS]\n\nCommands:\n", version.Version)
	cs := append([]command(nil), commands...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-40s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nEvery command takes --json. Exit status: 0 success, 1 a finding or failure, 2 bad usage.\nConfiguration: %s, or the file named by $%s.\n", config.DefaultPath, config.EnvPath)
}

// Main runs confinectl with args and returns the exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	// A leading --json applies to every command; commands accept it too.
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "--json", "-json":
			e.json = true
			args = args[1:]
		case "-h", "--help", "-help":
			usage(stdout)
			return ExitOK
		case "--version", "-version":
			fmt.Fprintln(stdout, "confinectl", version.Version)
			return ExitOK
		default:
			fmt.Fprintf(stderr, "confinectl: unknown flag %s\n", args[0])
			usage(stderr)
			return ExitUsage
		}
	}
	if len(args) == 0 {
		usage(stderr)
		return ExitUsage
	}
	if args[0] == "help" {
		usage(stdout)
		return ExitOK
	}
	// Longest-prefix match: "profile validate" before "profile".
	var best *command
	bestLen := 0
	for i := range commands {
		words := strings.Fields(commands[i].name)
		n := 0
		for n < len(words) && n < len(args) && words[n] == args[n] {
			n++
		}
		if n == len(words) && n > bestLen {
			best, bestLen = &commands[i], n
		}
	}
	if best == nil {
		fmt.Fprintf(stderr, "confinectl: unknown command %q\n", strings.Join(args[:min(2, len(args))], " "))
		usage(stderr)
		return ExitUsage
	}
	err := best.run(e, args[bestLen:])
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.Is(err, errFinding):
		return ExitFailure
	default:
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "confinectl %s: %v\n", best.name, err)
			return ExitUsage
		}
		if e.json {
			_ = json.NewEncoder(stdout).Encode(api.Error{Error: err.Error()})
		}
		fmt.Fprintf(stderr, "confinectl %s: %v\n", best.name, err)
		return ExitFailure
	}
}

// flags returns a FlagSet for a subcommand that reports bad usage as
// usageError and knows --json.
func (e *env) flags(name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet("confinectl "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.BoolVar(&e.json, "json", e.json, "print JSON")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: confinectl %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// noArgs parses the flags of a command that takes no positional argument.
func noArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("takes no arguments")
	}
	return nil
}

// call runs one API request against confined, bounded in time.
func call[T any](e *env, req func(*api.Client, context.Context) (T, error)) (T, error) {
	var zero T
	c, err := e.client()
	if err != nil {
		return zero, err
	}
	cx, cancel := ctx()
	defer cancel()
	return req(c, cx)
}

// parse parses flags anywhere among the arguments (Go's flag stops at the
// first positional one) and returns the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
