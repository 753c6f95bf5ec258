// Package starttrace measures the stages of a container's create, as the
// processes on that path see them (confine-runc, confine-hook, confined),
// in microseconds. It is off unless the file run_dir/start-trace.jsonl
// exists: then every traced run appends one JSON line to it, with a single
// O_APPEND write. `touch /run/confine/start-trace.jsonl` turns it on, and
// removing the file turns it off; nothing is created when it is missing.
// The bench (bench/start_stages_test.go) reads the file.
package starttrace

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// FileName is the trace file under run_dir.
const FileName = "start-trace.jsonl"

// Stage is one measured step.
type Stage struct {
	Name string `json:"name"`
	US   int64  `json:"us"`
}

// Record is one line of the trace file.
type Record struct {
	// Who is the process and step: "confine-runc create", "confine-hook
	// createRuntime", "confined decide", "confined hook".
	Who       string  `json:"who"`
	Container string  `json:"container,omitempty"`
	Stages    []Stage `json:"stages"`
	// TotalUS runs from New to Write.
	TotalUS int64 `json:"total_us"`
}

// Trace collects stages. A nil *Trace records nothing, so call sites need
// no checks.
type Trace struct {
	who       string
	container string
	t0, last  time.Time
	stages    []Stage
}

// New starts a trace now.
func New(who string) *Trace {
	now := time.Now()
	return &Trace{who: who, t0: now, last: now}
}

// NewAtProcessStart starts a trace now and records, as its first stage
// "process start (cpu)", the CPU time this process had used so far: the
// child's side of fork and exec, the dynamic loader, the Go runtime's
// initialisation. Called first thing in main.
func NewAtProcessStart(who string) *Trace {
	t := New(who)
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts) == nil {
		t.stages = append(t.stages, Stage{Name: "process start (cpu)", US: ts.Nano() / 1000})
	}
	return t
}

// SetWho renames the trace (e.g. once the runc command is known).
func (t *Trace) SetWho(who string) {
	if t != nil {
		t.who = who
	}
}

// SetContainer names the container the trace is about.
func (t *Trace) SetContainer(id string) {
	if t != nil {
		t.container = id
	}
}

// Mark records the time since the previous mark (or New) as stage name.
func (t *Trace) Mark(name string) {
	if t == nil {
		return
	}
	now := time.Now()
	t.stages = append(t.stages, Stage{Name: name, US: now.Sub(t.last).Microseconds()})
	t.last = now
}

// Add records a stage that ran alongside others (its own duration; the
// next Mark still measures from the previous one).
func (t *Trace) Add(name string, d time.Duration) {
	if t != nil {
		t.stages = append(t.stages, Stage{Name: name, US: d.Microseconds()})
	}
}

// Write appends the record to runDir/FileName when that file exists.
func (t *Trace) Write(runDir string) {
	if t == nil || runDir == "" {
		return
	}
	f, err := os.OpenFile(filepath.Join(runDir, FileName), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return
	}
	defer f.Close()
	b, err := json.Marshal(Record{Who: t.who, Container: t.container, Stages: t.stages, TotalUS: time.Since(t.t0).Microseconds()})
	if err != nil {
		return
	}
	_, _ = f.Write(append(b, '\n'))
}
