package runcargs

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRuncLog(t *testing.T) {
	now := func() time.Time { return time.Date(2025, 11, 23, 1, 2, 3, 456, time.UTC) }
	tests := []struct {
		name       string
		format     string
		noFile     bool
		level      string
		msg        string
		wantFile   string
		wantStderr string
	}{
		{
			name: "json error to file and stderr", format: "json", level: LevelError, msg: `refusing "c1"`,
			wantFile:   `{"level":"error","msg":"confine-runc: refusing \"c1\"","time":"2025-11-23T01:02:03.000000456Z"}` + "\n",
			wantStderr: "confine-runc: refusing \"c1\"\n",
		},
		{
			name: "json warning to the file only", format: "json", level: LevelWarn, msg: "fail open",
			wantFile: `{"level":"warning","msg":"confine-runc: fail open","time":"2025-11-23T01:02:03.000000456Z"}` + "\n",
		},
		{
			name: "text format", format: "", level: LevelError, msg: "bad",
			wantFile:   `time="2025-11-23T01:02:03.000000456Z" level=error msg="confine-runc: bad"` + "\n",
			wantStderr: "confine-runc: bad\n",
		},
		{
			name: "no log file: info goes to the fallback file, never stderr", noFile: true, level: LevelInfo, msg: "injected",
			wantFile: `{"level":"info","msg":"confine-runc: injected","time":"2025-11-23T01:02:03.000000456Z"}` + "\n",
		},
		{
			name: "no log file: warnings never reach stderr", noFile: true, level: LevelWarn, msg: "fail open",
			wantFile: `{"level":"warning","msg":"confine-runc: fail open","time":"2025-11-23T01:02:03.000000456Z"}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var stderr bytes.Buffer
			l := &RuncLog{Format: tt.format, Stderr: &stderr, Prefix: "confine-runc", Now: now}
			file := filepath.Join(dir, "confine-runc.log")
			l.Fallback = file
			if !tt.noFile {
				l.Path = filepath.Join(dir, "log.json")
				file = l.Path
			}
			// runc and containerd may have written before us: append.
			os.WriteFile(file, []byte(`{"level":"info","msg":"earlier","time":"2025-01-01T00:00:00Z"}`+"\n"), 0o644)
			switch tt.level {
			case LevelError:
				l.Errorf("%s", tt.msg)
			case LevelWarn:
				l.Warnf("%s", tt.msg)
			case LevelInfo:
				l.Infof("%s", tt.msg)
			}
			if stderr.String() != tt.wantStderr {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.wantStderr)
			}
			data, _ := os.ReadFile(file)
			got, ok := strings.CutPrefix(string(data), `{"level":"info","msg":"earlier","time":"2025-01-01T00:00:00Z"}`+"\n")
			if !ok {
				t.Fatalf("earlier log content lost: %q", data)
			}
			if got != tt.wantFile {
				t.Errorf("log file = %q, want %q", got, tt.wantFile)
			}
		})
	}
}

// containerd's shim takes the last "error" entry of log.json; this is its
// reading, so the message reaches `ctr`.
func TestRuncLogReadableByContainerd(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log.json")
	l := &RuncLog{Path: p, Format: "json", Prefix: "confine-runc"}
	l.Warnf("a warning")
	l.Errorf("confined is not reachable at /run/confine/api.sock; refusing to create container c1 (fail_mode=closed)")
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var last string
	dec := json.NewDecoder(f)
	for {
		var e struct {
			Level string
			Msg   string
			Time  time.Time
		}
		if err := dec.Decode(&e); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("containerd would fail to read the log: %v", err)
			}
			break
		}
		if e.Level == "error" {
			last = e.Msg
		}
	}
	if !strings.Contains(last, "refusing to create container c1") {
		t.Errorf("last error = %q", last)
	}
}

// An unwritable --log falls back to the file under run_dir; a warning
// still never reaches stderr (it may be the container's).
func TestRuncLogUnwritableFileFallsBack(t *testing.T) {
	var stderr bytes.Buffer
	dir := t.TempDir()
	l := &RuncLog{Path: filepath.Join(dir, "missing-dir", "log.json"), Fallback: filepath.Join(dir, "confine-runc.log"), Format: "json", Stderr: &stderr}
	l.Warnf("warned")
	if stderr.Len() != 0 {
		t.Errorf("stderr = %q, want nothing", stderr.String())
	}
	if data, _ := os.ReadFile(l.Fallback); !strings.Contains(string(data), "warned") {
		t.Errorf("fallback = %q, want the warning", data)
	}
}
