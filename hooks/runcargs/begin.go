package runcargs

import (
	"io"
	"path/filepath"

	"github.com/confinehq/confine/internal/starttrace"
)

// Name prefixes every message of both wrappers: the lean confine-runc
// (hooks/front) and confine-runc-full (hooks/wrapper), which the user
// knows as one confine-runc.
const Name = "confine-runc"

// LogFile, under run_dir, receives the wrappers' messages when runc is
// given no --log (or it cannot be written).
const LogFile = "confine-runc.log"

// Begin is what a wrapper knows once it has read its command line.
type Begin struct {
	// Argv is runc's command line: os.Args without argv[0].
	Argv []string
	// Inv is what ParseArgs made of it; ParseErr its refusal.
	Inv      Invocation
	ParseErr error
	// Log writes in runc's format to --log, else to run_dir/LogFile.
	Log *RuncLog
}

// Start is how both wrappers begin a run: it parses args (os.Args), names
// the trace after who (the binary) and the command, and opens the log.
// runDir "" leaves the log without its fallback file.
func Start(args []string, who string, stderr io.Writer, runDir string, tr *starttrace.Trace) Begin {
	var b Begin
	if len(args) > 1 {
		b.Argv = args[1:]
	}
	b.Inv, b.ParseErr = ParseArgs(b.Argv)
	tr.SetWho(who + " " + b.Inv.Command)
	tr.SetContainer(b.Inv.ID)
	tr.Mark("parse arguments")
	b.Log = NewRuncLog(b.Inv, Name, stderr)
	if runDir != "" {
		b.Log.Fallback = filepath.Join(runDir, LogFile)
	}
	return b
}
