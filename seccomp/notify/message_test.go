package notify

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// runc 1.1.5's messages, as TestRuncMessage recorded them.
const (
	runcCreate = `{"ociVersion":"1.0.2-dev","fds":["seccompFd"],"pid":26330,"state":{"ociVersion":"1.0.2-dev","id":"tb-0cce47c17db6","status":"creating","pid":26330,"bundle":"/run/containerd/io.containerd.runtime.v2.task/default/tb-0cce47c17db6","annotations":{"confine.profile":"web"}}}`
	runcExec   = `{"ociVersion":"1.0.2-dev","fds":["seccompFd"],"pid":26354,"state":{"ociVersion":"1.0.2-dev","id":"tb-0cce47c17db6","status":"running","pid":26330,"bundle":"/run/containerd/io.containerd.runtime.v2.task/default/tb-0cce47c17db6"}}`
)

func TestParseMessage(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		nfds    int
		want    Container
		wantIdx int
		wantErr string // substring; "incomplete" for errIncomplete
	}{
		{name: "runc create", data: runcCreate, nfds: 1, want: Container{
			ID: "tb-0cce47c17db6", Namespace: "default", Bundle: "/run/containerd/io.containerd.runtime.v2.task/default/tb-0cce47c17db6",
			Pid: 26330, ProcessPid: 26330, Status: "creating", Annotations: map[string]string{"confine.profile": "web"},
		}},
		{name: "runc exec", data: runcExec, nfds: 1, want: Container{
			ID: "tb-0cce47c17db6", Namespace: "default", Bundle: "/run/containerd/io.containerd.runtime.v2.task/default/tb-0cce47c17db6",
			Pid: 26330, ProcessPid: 26354, Status: "running",
		}},
		{name: "seccompFd second", nfds: 2, wantIdx: 1,
			data: `{"fds":["other","seccompFd"],"pid":5,"metadata":"m","state":{"id":"c","pid":4,"bundle":"/x/c"}}`,
			want: Container{ID: "c", Namespace: "x", Bundle: "/x/c", Pid: 4, ProcessPid: 5, Metadata: "m"}},
		{name: "bare state, one descriptor", nfds: 1,
			data: `{"ociVersion":"1.0.2","id":"c","status":"created","pid":7,"bundle":"/b/ns/c","annotations":{"k":"v"}}`,
			want: Container{ID: "c", Namespace: "ns", Bundle: "/b/ns/c", Pid: 7, ProcessPid: 7, Status: "created", Annotations: map[string]string{"k": "v"}}},
		{name: "bundle not ending in the id", nfds: 1,
			data: `{"fds":["seccompFd"],"pid":1,"state":{"id":"c","pid":1,"bundle":"/b/ns/other"}}`,
			want: Container{ID: "c", Bundle: "/b/ns/other", Pid: 1, ProcessPid: 1}},
		{name: "empty", data: "", nfds: 1, wantErr: "incomplete"},
		{name: "truncated", data: runcCreate[:40], nfds: 1, wantErr: "incomplete"},
		{name: "garbage", data: "not json", nfds: 1, wantErr: "invalid character"},
		{name: "trailing data", data: runcCreate + "{}", nfds: 1, wantErr: "trailing data"},
		{name: "no id", data: `{"fds":["seccompFd"],"pid":1,"state":{"pid":1}}`, nfds: 1, wantErr: "no container id"},
		{name: "no descriptor", data: runcCreate, nfds: 0, wantErr: "0 were received"},
		{name: "not named", data: `{"fds":["x"],"pid":1,"state":{"id":"c"}}`, nfds: 1, wantErr: `no "seccompFd"`},
		{name: "unnamed, several", data: `{"pid":1,"state":{"id":"c"}}`, nfds: 2, wantErr: "none named"},
		{name: "wrong type", data: `{"pid":"x","state":{"id":"c"}}`, nfds: 1, wantErr: "cannot unmarshal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, idx, err := parseMessage([]byte(tc.data), tc.nfds)
			switch {
			case tc.wantErr == "incomplete":
				if !errors.Is(err, errIncomplete) {
					t.Fatalf("err = %v, want errIncomplete", err)
				}
				return
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if idx != tc.wantIdx {
				t.Errorf("index %d, want %d", idx, tc.wantIdx)
			}
			if d := cmp.Diff(tc.want, c); d != "" {
				t.Errorf("container (-want +got):\n%s", d)
			}
		})
	}
}

func TestNamespaceFromBundle(t *testing.T) {
	tests := []struct{ bundle, id, want string }{
		{"/run/containerd/io.containerd.runtime.v2.task/moby/abc", "abc", "moby"},
		{"/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/", "abc", "k8s.io"},
		{"/abc", "abc", ""},
		{"relative/ns/abc", "abc", ""},
		{"/x/ns/abc", "other", ""},
		{"", "abc", ""},
	}
	for _, tc := range tests {
		if got := namespaceFromBundle(tc.bundle, tc.id); got != tc.want {
			t.Errorf("namespaceFromBundle(%q, %q) = %q, want %q", tc.bundle, tc.id, got, tc.want)
		}
	}
}

// fakeMem is process memory with one mapped range; reads touching
// anything else fail like /proc/PID/mem does (EIO).
type fakeMem struct {
	base uint64
	data []byte
}

var errIO = errors.New("input/output error")

func (m fakeMem) ReadAt(p []byte, off int64) (int, error) {
	at := uint64(off)
	if at < m.base || at >= m.base+uint64(len(m.data)) {
		return 0, errIO
	}
	n := copy(p, m.data[at-m.base:])
	if n < len(p) {
		return n, errIO
	}
	return n, nil
}

func TestReadString(t *testing.T) {
	page := uint64(pageSize)
	base := 16 * page
	// A mapping of two pages: "/etc/passwd\0" at its start, and a string
	// that ends with its NUL as the very last byte of the mapping.
	data := make([]byte, 2*page)
	copy(data, "/etc/passwd\x00")
	tail := strings.Repeat("a", 100)
	copy(data[len(data)-len(tail)-1:], tail+"\x00")
	unterminated := make([]byte, page)
	for i := range unterminated {
		unterminated[i] = 'b'
	}
	mem := fakeMem{base: base, data: data}

	tests := []struct {
		name    string
		mem     io.ReaderAt
		addr    uint64
		max     int
		want    string
		wantErr string
	}{
		{name: "simple", mem: mem, addr: base, max: MaxPath, want: "/etc/passwd"},
		{name: "ends at the mapping's end", mem: mem, addr: base + 2*page - uint64(len(tail)) - 1, max: MaxPath, want: tail},
		{name: "crosses a page", mem: fakeMem{base: base, data: append(append([]byte{}, unterminated[:page-3]...), "xyz\x00"...)}, addr: base, max: MaxPath,
			want: strings.Repeat("b", int(page)-3) + "xyz"},
		{name: "exactly max", mem: mem, addr: base, max: len("/etc/passwd"), want: "/etc/passwd"},
		{name: "one over max", mem: mem, addr: base, max: len("/etc/passwd") - 1, want: "/etc/passw", wantErr: "longer than the limit"},
		{name: "unterminated mapping", mem: fakeMem{base: base, data: unterminated}, addr: base, max: MaxPath, wantErr: "input/output error"},
		{name: "unmapped", mem: mem, addr: 1, max: MaxPath, wantErr: "input/output error"},
		{name: "null", mem: mem, addr: 0, max: MaxPath, wantErr: "null pointer"},
		{name: "kernel half", mem: mem, addr: 1 << 63, max: MaxPath, wantErr: "out of range"},
		{name: "bad max", mem: mem, addr: base, max: 0, wantErr: "not positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readString(tc.mem, 42, tc.addr, tc.max)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "pid 42") {
					t.Fatalf("err = %v, want %q naming pid 42", err, tc.wantErr)
				}
				if tc.want != "" && got != tc.want {
					t.Errorf("truncated value %q, want %q", got, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReadBytes(t *testing.T) {
	base := uint64(16 * pageSize)
	mem := fakeMem{base: base, data: []byte{2, 0, 0x1f, 0x90, 127, 0, 0, 1}}
	got, err := readBytes(mem, 7, base, 8)
	if err != nil || string(got) != string(mem.data) {
		t.Fatalf("readBytes = %v, %v", got, err)
	}
	if _, err := readBytes(mem, 7, base+4, 8); err == nil || !strings.Contains(err.Error(), "pid 7") {
		t.Errorf("short read: %v", err)
	}
	if _, err := readBytes(mem, 7, base, MaxRead+1); err == nil {
		t.Error("readBytes accepted a length over MaxRead")
	}
}

func FuzzParseMessage(f *testing.F) {
	f.Add([]byte(runcCreate), 1)
	f.Add([]byte(runcExec), 2)
	f.Add([]byte(`{"id":"c"}`), 1)
	f.Add([]byte(`{"fds":["seccompFd","seccompFd"],"state":{"id":"x","bundle":"/a/b/x"}}`), 0)
	f.Fuzz(func(t *testing.T, data []byte, nfds int) {
		if nfds < 0 || nfds > maxFDs {
			return
		}
		c, idx, err := parseMessage(data, nfds)
		if err != nil {
			return
		}
		if idx < 0 || idx >= nfds {
			t.Fatalf("index %d out of range for %d descriptors", idx, nfds)
		}
		if c.ID == "" {
			t.Fatal("accepted a message without a container id")
		}
	})
}
