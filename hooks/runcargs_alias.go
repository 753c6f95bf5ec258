package hooks

import "github.com/confinehq/confine/hooks/runcargs"

// runc's command line and log live in hooks/runcargs, which the lean
// confine-runc links alone; these names stay for callers.
type (
	Invocation = runcargs.Invocation
	RuncLog    = runcargs.RuncLog
)

// ParseArgs parses runc's command line (runcargs.ParseArgs).
var ParseArgs = runcargs.ParseArgs

// NewRuncLog returns a log in runc's format (runcargs.NewRuncLog).
var NewRuncLog = runcargs.NewRuncLog

// ErrUsage marks an unparseable runc command line.
var ErrUsage = runcargs.ErrUsage

// Log levels as runc writes them.
const (
	LevelError = runcargs.LevelError
	LevelWarn  = runcargs.LevelWarn
	LevelInfo  = runcargs.LevelInfo
)
