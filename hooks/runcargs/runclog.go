package runcargs

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Log levels as runc (logrus) writes them.
const (
	LevelError = "error"
	LevelWarn  = "warning"
	LevelInfo  = "info"
)

// RuncLog writes messages where runc writes its own: to the --log file in
// --log-format (json lines {"level","msg","time"}; logrus text otherwise).
// containerd's shim reads the last "error" entry of that file and puts it
// in the error the user sees (ctr prints "OCI runtime create failed: …").
//
// Without --log, messages go to Fallback (a file under run_dir). Warnings
// and info never go to stderr: during create and run, runc's stderr may be
// the container's own stderr stream, which is not ours to write. Errors
// also go to stderr, as runc's fatal errors do: an error means the
// container was refused, so no container owns that stream.
type RuncLog struct {
	// Path is the --log file; "" means none.
	Path string
	// Fallback is the file used when Path is "" or cannot be written.
	Fallback string
	// Format is --log-format: "json", else text.
	Format string
	// Stderr receives errors (and everything when Path is "").
	Stderr io.Writer
	// Prefix starts every message, e.g. "confine-runc".
	Prefix string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Record, when set, receives every message (without Prefix) instead
	// of the files and stderr: confined prepares a create for confine-runc
	// and sends the messages back for confine-runc to write.
	Record func(level, msg string)
}

// NewRuncLog returns a log for the invocation's --log and --log-format.
func NewRuncLog(inv Invocation, prefix string, stderr io.Writer) *RuncLog {
	return &RuncLog{Path: inv.Log, Format: inv.LogFormat, Stderr: stderr, Prefix: prefix}
}

// Errorf logs an error.
func (l *RuncLog) Errorf(format string, args ...any) {
	l.write(LevelError, fmt.Sprintf(format, args...))
}

// Warnf logs a warning.
func (l *RuncLog) Warnf(format string, args ...any) { l.write(LevelWarn, fmt.Sprintf(format, args...)) }

// Infof logs information.
func (l *RuncLog) Infof(format string, args ...any) { l.write(LevelInfo, fmt.Sprintf(format, args...)) }

type jsonEntry struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
	Time  string `json:"time"`
}

func (l *RuncLog) write(level, msg string) {
	if l.Record != nil {
		l.Record(level, msg)
		return
	}
	if l.Prefix != "" {
		msg = l.Prefix + ": " + msg
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	ts := now().Format(time.RFC3339Nano)
	done := false
	if l.Path != "" {
		done = appendLine(l.Path, l.entry(level, msg, ts)) == nil
	}
	if !done && l.Fallback != "" {
		// The fallback file is confine-runc's own: always json lines.
		fb := RuncLog{Format: "json"}
		line := fb.entry(level, msg, ts)
		if appendLine(l.Fallback, line) != nil && os.MkdirAll(filepath.Dir(l.Fallback), 0o700) == nil {
			_ = appendLine(l.Fallback, line)
		}
	}
	if l.Stderr != nil && level == LevelError {
		fmt.Fprintln(l.Stderr, msg)
	}
}

// entry formats one line in the log's format.
func (l *RuncLog) entry(level, msg, ts string) []byte {
	if l.Format == "json" {
		b, err := json.Marshal(jsonEntry{Level: level, Msg: msg, Time: ts})
		if err == nil {
			return append(b, '\n')
		}
	}
	return []byte("time=" + strconv.Quote(ts) + " level=" + level + " msg=" + strconv.Quote(msg) + "\n")
}

// appendLine adds one line to path with a single write, as runc does
// (O_APPEND).
func appendLine(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.Write(line)
	cerr := f.Close()
	if werr != nil {
		return werr
	}
	return cerr
}
