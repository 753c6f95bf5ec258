package starttrace

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteOnlyWhenTheFileExists(t *testing.T) {
	dir := t.TempDir()
	tr := NewAtProcessStart("confine-runc")
	tr.SetWho("confine-runc create")
	tr.SetContainer("c1")
	tr.Mark("decide round trip")
	tr.Write(dir)
	if _, err := os.Stat(filepath.Join(dir, FileName)); !os.IsNotExist(err) {
		t.Fatalf("trace file created although tracing is off: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tr.Write(dir)
	tr.Write(dir)
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", data)
	}
	var r Record
	if err := json.Unmarshal([]byte(lines[0]), &r); err != nil {
		t.Fatal(err)
	}
	if r.Who != "confine-runc create" || r.Container != "c1" || len(r.Stages) != 2 || r.Stages[0].Name != "process start (cpu)" || r.Stages[1].Name != "decide round trip" {
		t.Fatalf("record %+v", r)
	}
}

func TestNilTraceIsANoOp(t *testing.T) {
	var tr *Trace
	tr.SetWho("x")
	tr.SetContainer("y")
	tr.Mark("z")
	tr.Write(t.TempDir())
}
