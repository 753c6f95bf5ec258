package alert

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/coreos/go-systemd/v22/journal"
)

// Sink delivers alerts somewhere.
type Sink interface {
	Name() string
	Send(a *Alert) error
	// Reopen is called on SIGHUP (log rotation).
	Reopen() error
	Close() error
}

// NewSinks builds the sinks named in alert_sinks.
func NewSinks(names []string) ([]Sink, error) {
	var out []Sink
	for _, n := range names {
		switch {
		case n == "journald":
			out = append(out, &Journald{})
		case strings.HasPrefix(n, "journald:"):
			// Another socket speaking journald's native protocol (a
			// relay, a test's own journald).
			out = append(out, &Journald{Socket: strings.TrimPrefix(n, "journald:")})
		case n == "stderr":
			out = append(out, &Writer{name: "stderr", w: os.Stderr})
		case strings.HasPrefix(n, "jsonl:"):
			s, err := OpenJSONL(strings.TrimPrefix(n, "jsonl:"))
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		default:
			return nil, fmt.Errorf("unknown alert sink %q", n)
		}
	}
	return out, nil
}

// Journald sends alerts with the native journal protocol.
type Journald struct {
	// Socket overrides journald's socket path (tests); "" is the default.
	Socket string
}

// Name implements Sink.
func (j *Journald) Name() string { return "journald" }

// Send implements Sink.
func (j *Journald) Send(a *Alert) error {
	if j.Socket != "" {
		return sendNative(j.Socket, a)
	}
	if !journal.Enabled() {
		return errors.New("journald socket is not available")
	}
	return journal.Send(a.Message, journal.Priority(a.Priority), a.Fields())
}

// Reopen implements Sink.
func (j *Journald) Reopen() error { return nil }

// Close implements Sink.
func (j *Journald) Close() error { return nil }

// Writer writes one JSON object per line to a stream.
type Writer struct {
	name string
	mu   sync.Mutex
	w    io.Writer
}

// Name implements Sink.
func (s *Writer) Name() string { return s.name }

// Send implements Sink.
func (s *Writer) Send(a *Alert) error {
	b, err := json.Marshal(a.JSON())
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err = s.w.Write(append(b, '\n'))
	return err
}

// Reopen implements Sink.
func (s *Writer) Reopen() error { return nil }

// Close implements Sink.
func (s *Writer) Close() error { return nil }

// JSONL appends alerts to a file with O_APPEND, reopened on SIGHUP.
type JSONL struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// OpenJSONL opens (creating, mode 0600) the file at path.
func OpenJSONL(path string) (*JSONL, error) {
	s := &JSONL{path: path}
	if err := s.Reopen(); err != nil {
		return nil, err
	}
	return s, nil
}

// Name implements Sink.
func (s *JSONL) Name() string { return "jsonl:" + s.path }

// Send implements Sink.
func (s *JSONL) Send(a *Alert) error {
	b, err := json.Marshal(a.JSON())
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return fmt.Errorf("alert file %s is not open", s.path)
	}
	_, err = s.f.Write(append(b, '\n'))
	return err
}

// Reopen implements Sink.
func (s *JSONL) Reopen() error {
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening alert file: %w", err)
	}
	s.mu.Lock()
	old := s.f
	s.f = f
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// Close implements Sink.
func (s *JSONL) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
