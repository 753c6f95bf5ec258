package hooks

import (
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestConfigMounts(t *testing.T) {
	bundle := t.TempDir()
	cfg := filepath.Join(bundle, "config.json")
	if err := os.WriteFile(cfg, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "other.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("config.json", filepath.Join(bundle, "link.json")); err != nil {
		t.Fatal(err)
	}
	const ph = "/run/confine/runc/x/c1/" + BundleConfigFile
	bind := func(src string, opts ...string) specs.Mount {
		return specs.Mount{Destination: "/m", Source: src, Options: append([]string{"bind"}, opts...)}
	}
	tests := []struct {
		name  string
		mount specs.Mount
		want  bool
	}{
		{"relative ./config.json", bind("./config.json"), true},
		{"relative config.json, rbind", specs.Mount{Destination: "/m", Source: "config.json", Options: []string{"rbind", "ro"}}, true},
		{"absolute path", bind(cfg), true},
		{"type bind, no option", specs.Mount{Destination: "/m", Type: "bind", Source: cfg}, true},
		{"a symlink to it", bind("link.json"), true},
		{"through the parent", bind("rootfs/../config.json"), true},
		{"another file", bind("other.json"), false},
		{"the bundle directory", bind("."), false},
		{"a missing source", bind("nope"), false},
		{"not a bind mount", specs.Mount{Destination: "/m", Type: "tmpfs", Source: "config.json"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.MkdirAll(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
				t.Fatal(err)
			}
			s := &specs.Spec{Mounts: []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}, tt.mount}}
			m := &ConfigMounts{Bundle: bundle, Config: cfg, Placeholder: ph}
			if err := m.Modify(s); err != nil {
				t.Fatal(err)
			}
			want := tt.mount
			if tt.want {
				want.Source = ph
			}
			if m.Redirected() != tt.want || s.Mounts[1].Source != want.Source || s.Mounts[0].Source != "proc" {
				t.Errorf("redirected %v, mounts %+v; want %v, source %q", m.Redirected(), s.Mounts, tt.want, want.Source)
			}
		})
	}
}
