package kill

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeTree builds a cgroup tree under a temp dir: every listed directory
// gets a cgroup.procs file, plus the extra files named after a '+'
// ("unified+cgroup.controllers").
func fakeTree(t *testing.T, entries ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, e := range entries {
		dir, extra, _ := strings.Cut(e, "+")
		d := filepath.Join(root, dir)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		files := []string{"cgroup.procs"}
		if extra != "" {
			files = append(files, extra)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(d, f), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func TestFinderCgroup(t *testing.T) {
	const id = "3f2a9c"
	tests := []struct {
		name    string
		tree    []string
		ns, id  string
		want    string // relative to the fake root
		wantErr error
		wantMsg string
	}{
		{
			name: "hybrid containerd: unified preferred over v1",
			tree: []string{"unified+cgroup.controllers", "unified/default/" + id, "freezer", "freezer/default/" + id, "memory", "memory/default/" + id},
			ns:   "default", id: id,
			want: "unified/default/" + id,
		},
		{
			name: "pure v2 containerd",
			tree: []string{".+cgroup.controllers", "default/" + id},
			ns:   "default", id: id,
			want: "default/" + id,
		},
		{
			name: "v1 only: the freezer",
			tree: []string{"memory", "memory/k8s.io/" + id, "freezer", "freezer/k8s.io/" + id},
			ns:   "k8s.io", id: id,
			want: "freezer/k8s.io/" + id,
		},
		{
			name: "v1 without freezer",
			tree: []string{"memory", "memory/default/" + id},
			ns:   "default", id: id,
			want: "memory/default/" + id,
		},
		{
			name: "docker cgroupfs driver",
			tree: []string{".+cgroup.controllers", "docker/" + id},
			ns:   "moby", id: id,
			want: "docker/" + id,
		},
		{
			name: "docker systemd driver",
			tree: []string{".+cgroup.controllers", "system.slice/docker-" + id + ".scope"},
			ns:   "moby", id: id,
			want: "system.slice/docker-" + id + ".scope",
		},
		{
			name: "nerdctl systemd driver",
			tree: []string{"unified+cgroup.controllers", "unified/system.slice/nerdctl-" + id + ".scope"},
			ns:   "default", id: id,
			want: "unified/system.slice/nerdctl-" + id + ".scope",
		},
		{
			name: "nested slices",
			tree: []string{".+cgroup.controllers", "machine.slice/tenant.slice/cri-containerd-" + id + ".scope"},
			ns:   "k8s.io", id: id,
			want: "machine.slice/tenant.slice/cri-containerd-" + id + ".scope",
		},
		{
			name: "another container's scope does not match",
			tree: []string{".+cgroup.controllers", "system.slice/docker-x" + id + ".scope"},
			ns:   "moby", id: id,
			wantErr: ErrNoCgroup,
		},
		{
			name: "two scopes",
			tree: []string{".+cgroup.controllers", "system.slice/containerd-" + id + ".scope", "user.slice/nerdctl-" + id + ".scope"},
			ns:   "moby", id: id,
			wantErr: ErrAmbiguous,
		},
		{
			name: "not there",
			tree: []string{"unified+cgroup.controllers", "unified/default/other"},
			ns:   "default", id: id,
			wantErr: ErrNoCgroup,
		},
		{
			name: "no hierarchy at all",
			ns:   "default", id: id,
			wantErr: ErrNoCgroup,
		},
		{
			name: "path traversal in id",
			tree: []string{".+cgroup.controllers"},
			ns:   "default", id: "../../etc",
			wantMsg: "invalid container id",
		},
		{
			name: "glob in id",
			tree: []string{".+cgroup.controllers"},
			ns:   "default", id: "*",
			wantMsg: "invalid container id",
		},
		{
			name: "slash in namespace",
			tree: []string{".+cgroup.controllers"},
			ns:   "a/b", id: id,
			wantMsg: "invalid namespace",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fakeTree(t, tt.tree...)
			got, err := NewFinder(root).Cgroup(tt.ns, tt.id)
			switch {
			case tt.wantErr != nil || tt.wantMsg != "":
				if err == nil {
					t.Fatalf("Cgroup = %s, want an error", got)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("error %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("error %q does not say %q", err, tt.wantMsg)
				}
			case err != nil:
				t.Fatalf("Cgroup: %v", err)
			case got != filepath.Join(root, tt.want):
				t.Errorf("Cgroup = %s, want %s", got, filepath.Join(root, tt.want))
			}
		})
	}
}

func TestFinderResolve(t *testing.T) {
	root := fakeTree(t, "unified+cgroup.controllers", "unified/default/web", "freezer", "freezer/only-v1/x")
	tests := []struct {
		name, rel, want string
		wantErr         bool
	}{
		{name: "v2 line", rel: "/default/web", want: "unified/default/web"},
		{name: "only in v1", rel: "/only-v1/x", want: "freezer/only-v1/x"},
		{name: "missing", rel: "/default/db", wantErr: true},
		{name: "root", rel: "/", wantErr: true},
		{name: "dot dot", rel: "/default/../default/web", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewFinder(root).Resolve(tt.rel)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Resolve(%q) = %q, %v", tt.rel, got, err)
			}
			if !tt.wantErr && got != filepath.Join(root, tt.want) {
				t.Errorf("Resolve(%q) = %s, want %s", tt.rel, got, filepath.Join(root, tt.want))
			}
		})
	}
}

func TestParsePids(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []int
		wantErr bool
	}{
		{name: "empty", in: ""},
		{name: "some", in: "1\n22\n333\n", want: []int{1, 22, 333}},
		{name: "no final newline, blank lines", in: "5\n\n6", want: []int{5, 6}},
		{name: "garbage", in: "5\nx\n", want: []int{5}, wantErr: true},
		{name: "zero", in: "0\n", wantErr: true},
		{name: "negative", in: "-3\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePids([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parsePids: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("pids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKeyValue(t *testing.T) {
	b := []byte("populated 1\nfrozen 0\n")
	for key, want := range map[string]string{"populated": "1", "frozen": "0", "missing": ""} {
		if got := keyValue(b, key); got != want {
			t.Errorf("keyValue(%q) = %q, want %q", key, got, want)
		}
	}
}

func FuzzParsePids(f *testing.F) {
	f.Add([]byte("1\n22\n333\n"))
	f.Add([]byte(""))
	f.Add([]byte("5\n\nx"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pids, _ := parsePids(b)
		for _, p := range pids {
			if p <= 0 {
				t.Fatalf("non-positive pid %d", p)
			}
		}
	})
}
