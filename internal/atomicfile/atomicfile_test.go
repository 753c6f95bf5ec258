package atomicfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFile(t *testing.T) {
	tests := []struct {
		name     string
		existing []byte // nil: no file before
		data     []byte
		perm     os.FileMode
	}{
		{name: "new file", data: []byte("hello\n"), perm: 0o644},
		{name: "replace existing", existing: []byte("old content that is longer"), data: []byte("new"), perm: 0o600},
		{name: "empty data", existing: []byte("x"), data: []byte{}, perm: 0o640},
		{name: "mode beyond umask", data: []byte("{}"), perm: 0o666},
	}
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	writers := []struct {
		name  string
		write func(string, []byte, os.FileMode) error
	}{{"WriteFile", WriteFile}, {"WriteVolatile", WriteVolatile}}
	for _, wr := range writers {
		for _, tt := range tests {
			t.Run(wr.name+"/"+tt.name, func(t *testing.T) {
				testWrite(t, wr.write, tt.existing, tt.data, tt.perm)
			})
		}
	}
}

func testWrite(t *testing.T, write func(string, []byte, os.FileMode) error, existing, data []byte, perm os.FileMode) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.json")
	if existing != nil {
		if err := os.WriteFile(p, existing, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := write(p, data, perm); err != nil {
		t.Fatalf("write: %v", err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("content = %q, want %q", got, data)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != perm {
		t.Errorf("mode = %v, want %v", st.Mode().Perm(), perm)
	}
	if names := entries(t, dir); len(names) != 1 || names[0] != "config.json" {
		t.Errorf("directory holds %v, want only config.json (no temp file left)", names)
	}
}

func TestWriteFileErrorLeavesNothing(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the target path
		want  []string                              // directory entries after
	}{
		{
			name:  "missing directory",
			setup: func(t *testing.T, dir string) string { return filepath.Join(dir, "nope", "f") },
			want:  nil,
		},
		{
			name: "target is a non-empty directory",
			setup: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "target")
				if err := os.MkdirAll(filepath.Join(p, "child"), 0o755); err != nil {
					t.Fatal(err)
				}
				return p
			},
			want: []string{"target"},
		},
		{
			name:  "no file name",
			setup: func(t *testing.T, dir string) string { return dir + "/" },
			want:  nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := tt.setup(t, dir)
			err := WriteFile(p, []byte("data"), 0o644)
			if err == nil {
				t.Fatal("WriteFile succeeded, want an error")
			}
			got := entries(t, dir)
			if len(got) != len(tt.want) {
				t.Fatalf("directory holds %v after the error, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("directory holds %v after the error, want %v", got, tt.want)
				}
			}
		})
	}
}

// A reader racing the writer sees the old or the new content, never a mix
// or an empty file.
func TestWriteFileReadersSeeWholeFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	a := bytes.Repeat([]byte("a"), 256<<10)
	b := bytes.Repeat([]byte("b"), 128<<10)
	if err := WriteFile(p, a, 0o644); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var bad atomic.Value
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			got, err := os.ReadFile(p)
			if err != nil {
				bad.Store(err.Error())
				return
			}
			if !bytes.Equal(got, a) && !bytes.Equal(got, b) {
				bad.Store(fmt.Sprintf("torn read of %d bytes", len(got)))
				return
			}
		}
	}()
	for i := range 50 {
		data := a
		if i%2 == 0 {
			data = b
		}
		if err := WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if v := bad.Load(); v != nil {
		t.Fatalf("reader: %v", v)
	}
}
