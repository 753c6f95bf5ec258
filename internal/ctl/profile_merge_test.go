package ctl

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProfileMerge(t *testing.T) {
	dir := t.TempDir()
	write := func(host, allow string) string {
		p := filepath.Join(dir, host, "web.yaml")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("apiVersion: confine/v1\nname: web\nmode: learn\nexec:\n  allow: ["+allow+"]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := write("hostA", "/bin/busybox, /bin/sh"), write("hostB", "/bin/busybox, /usr/bin/env")
	out := filepath.Join(dir, "merged.yaml")
	var so, se bytes.Buffer
	if code := Main([]string{"profile", "merge", a, b, "-o", out}, nil, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"- /bin/busybox\n", "- /bin/sh # from " + a, "- /usr/bin/env # from " + b} {
		if !strings.Contains(string(data), want) {
			t.Errorf("merged profile lacks %q:\n%s", want, data)
		}
	}
	if code := Main([]string{"profile", "merge"}, nil, &so, &se); code != 2 {
		t.Fatalf("merge without files: exit %d, want 2", code)
	}
}
