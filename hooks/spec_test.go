package hooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/confinehq/confine/profiles"
	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var update = flag.Bool("update", false, "rewrite golden files")

const bundlesDir = "../testdata/bundles"

// copyBundle copies a fixture's config.json into a temp bundle with mode.
func copyBundle(t *testing.T, fixture string, mode os.FileMode) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(bundlesDir, fixture, SpecFileName))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, SpecFileName)
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

func testInjection() Injection {
	return Injection{
		Profile: &profiles.Profile{
			APIVersion: profiles.APIVersion, Name: "web", Mode: profiles.ModeEnforce,
			Files:      profiles.Files{Deny: profiles.List{"/etc/shadow", "/run/secrets/**"}, ReadOnly: profiles.List{"/etc/hosts"}},
			Privileges: profiles.Privileges{NoNewPrivileges: profiles.Bool(true)},
		},
		Digest:   "sha256:0123",
		Seccomp:  profileFilter,
		HookPath: "/usr/bin/confine-hook",
		HookEnv:  []string{"CONFINE_CONFIG=/etc/confine/confine.toml"},
	}
}

func mustModifiers(t *testing.T, in Injection) Modifiers {
	t.Helper()
	ms, err := in.Modifiers()
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestEditKeepsUnknownFields(t *testing.T) {
	dir := copyBundle(t, "containerd", 0o640)
	p := filepath.Join(dir, SpecFileName)
	orig, _ := os.ReadFile(p)

	sf, err := ReadBundleSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	changed, err := sf.Edit(mustModifiers(t, testInjection()))
	if err != nil || !changed {
		t.Fatalf("Edit = %v, %v; want changed", changed, err)
	}
	out, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}

	// Every field runtime-spec does not model is there, byte for byte.
	for _, frag := range []string{
		`"x-vendor":{"keep":[1, 2.50, "three"],"nested":{"deep":null}}`,
		`"x-process-extra":true`,
		`"x-linux-extra":{"a":1e3}`,
		`"x-mount-flag":"m"`,
		`{"path":"/usr/bin/other-hook","args":["other-hook","create"],"x-hook-meta":"keep"}`,
		`"prestart":[{"path":"/usr/bin/legacy"}]`,
		`"io.example/owner":"team-a"`,
	} {
		if !bytes.Contains(orig, []byte(frag)) {
			t.Fatalf("fixture lacks %s", frag)
		}
		if !bytes.Contains(out, []byte(frag)) {
			t.Errorf("edited config.json lost %s", frag)
		}
	}

	// What the spec types see is exactly the modified spec.
	var got specs.Spec
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(*sf.Spec, got); diff != "" {
		t.Errorf("written spec differs from the edited one (-edited +written):\n%s", diff)
	}
	if !got.Process.NoNewPrivileges || got.Linux.Seccomp == nil || got.Annotations["confine.digest"] != "sha256:0123" {
		t.Errorf("injection missing: nnp=%v seccomp=%v annotations=%v", got.Process.NoNewPrivileges, got.Linux.Seccomp, got.Annotations)
	}
	if n := len(got.Hooks.CreateRuntime); n != 2 || got.Hooks.CreateRuntime[0].Path != "/usr/bin/other-hook" {
		t.Errorf("createRuntime hooks = %+v, want other-hook then ours", got.Hooks.CreateRuntime)
	}

	// Top-level key order is the original's.
	keys := func(b []byte) []string {
		ms, err := readObject(b)
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for _, m := range ms {
			ks = append(ks, m.key)
		}
		return ks
	}
	if diff := cmp.Diff(keys(orig), keys(out)); diff != "" {
		t.Errorf("top-level key order changed (-orig +edited):\n%s", diff)
	}

	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want the original 0640", st.Mode().Perm())
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Errorf("bundle holds %d entries, want only config.json", len(es))
	}

	// Golden: the whole result, reviewed once.
	golden := filepath.Join(bundlesDir, "containerd", "config.injected.golden.json")
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("edited config.json differs from %s (run with -update after review)", golden)
	}

	// A second pass changes nothing: the file is not rewritten.
	before, _ := os.Stat(p)
	sf2, err := ReadBundleSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	changed, err = sf2.Edit(mustModifiers(t, testInjection()))
	if err != nil || changed {
		t.Fatalf("second Edit = %v, %v; want unchanged", changed, err)
	}
	after, _ := os.Stat(p)
	if !os.SameFile(before, after) {
		t.Error("second pass replaced the file")
	}
}

func TestEditReplacesDockerSeccomp(t *testing.T) {
	dir := copyBundle(t, "docker", 0o600)
	sf, err := ReadBundleSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sf.Spec.Linux.Seccomp == nil {
		t.Fatal("fixture has no seccomp")
	}
	if _, err := sf.Edit(mustModifiers(t, testInjection())); err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(filepath.Join(dir, SpecFileName))
	var got specs.Spec
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(profileFilter, got.Linux.Seccomp); diff != "" {
		t.Errorf("seccomp (-profile +written):\n%s", diff)
	}
	if !bytes.Contains(out, []byte(`"x-docker-extra":"kept"`)) || len(got.Hooks.Prestart) != 1 {
		t.Errorf("docker's fields or prestart hook lost:\n%s", out)
	}
}

func TestEditNoChange(t *testing.T) {
	dir := copyBundle(t, "containerd", 0o644)
	p := filepath.Join(dir, SpecFileName)
	before, _ := os.Stat(p)
	sf, err := ReadBundleSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	changed, err := sf.Edit(Modifiers{nil})
	if err != nil || changed {
		t.Fatalf("Edit = %v, %v; want unchanged", changed, err)
	}
	after, _ := os.Stat(p)
	if !os.SameFile(before, after) {
		t.Error("a no-op edit replaced the file")
	}
}

func TestReadSpecErrors(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T) string // returns the bundle dir
		is     error
		errHas []string
	}{
		{
			name:   "bundle without config.json",
			setup:  func(t *testing.T) string { return t.TempDir() },
			is:     ErrNoSpec,
			errHas: []string{"config.json"},
		},
		{
			name:   "unparseable",
			setup:  func(t *testing.T) string { return copyBundle(t, "unparseable", 0o644) },
			errHas: []string{"parsing OCI spec", "config.json", "line 4", "unexpected end of JSON input"},
		},
		{
			name: "wrong type names the field",
			setup: func(t *testing.T) string {
				d := t.TempDir()
				os.WriteFile(filepath.Join(d, SpecFileName), []byte("{\"ociVersion\":\"1.0.2\",\n\"process\":{\"user\":{\"uid\":\"zero\"}}}"), 0o644)
				return d
			},
			errHas: []string{"line 2", "field process.user.uid", "string"},
		},
		{
			name: "not an object",
			setup: func(t *testing.T) string {
				d := t.TempDir()
				os.WriteFile(filepath.Join(d, SpecFileName), []byte("null"), 0o644)
				return d
			},
			errHas: []string{"not a JSON object"},
		},
		{
			name: "config.json is a directory",
			setup: func(t *testing.T) string {
				d := t.TempDir()
				os.Mkdir(filepath.Join(d, SpecFileName), 0o755)
				return d
			},
			errHas: []string{"not a regular file"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.setup(t)
			_, err := ReadBundleSpec(dir)
			if err == nil {
				t.Fatal("ReadBundleSpec succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			for _, s := range tt.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
}

func TestEditErrorChangesNothing(t *testing.T) {
	dir := copyBundle(t, "containerd", 0o644)
	p := filepath.Join(dir, SpecFileName)
	orig, _ := os.ReadFile(p)
	sf, err := ReadBundleSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err = sf.Edit(Modifiers{Annotations{"a": "b"}, ModifierFunc(func(*specs.Spec) error { return boom })})
	if !errors.Is(err, boom) {
		t.Fatalf("Edit error = %v", err)
	}
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, orig) {
		t.Error("a failed edit changed config.json")
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Errorf("bundle holds %d entries after a failed edit", len(es))
	}
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name                string
		orig, before, after string
		want                string
	}{
		{
			name: "unchanged keeps the original bytes",
			orig: `{ "b" : 1, "a":[1, 2.0], "x":true }`, before: `{"a":[1,2],"b":1}`, after: `{"a":[1,2],"b":1}`,
			want: `{ "b" : 1, "a":[1, 2.0], "x":true }`,
		},
		{
			name: "changed key in place, order and unknown keys kept",
			orig: `{"b":1,"x":{"y":1e3},"a":2}`, before: `{"a":2,"b":1}`, after: `{"a":3,"b":1}`,
			want: `{"b":1,"x":{"y":1e3},"a":3}`,
		},
		{
			name: "new key appended",
			orig: `{"b":1,"x":0}`, before: `{"b":1}`, after: `{"b":1,"c":{"d":[]}}`,
			want: `{"b":1,"x":0,"c":{"d":[]}}`,
		},
		{
			name: "removed key dropped",
			orig: `{"b":1,"c":2,"x":0}`, before: `{"b":1,"c":2}`, after: `{"b":1}`,
			want: `{"b":1,"x":0}`,
		},
		{
			name: "nested object merged",
			orig: `{"p":{"args":["sh"],"x-n":"keep","nnp":false}}`, before: `{"p":{"args":["sh"]}}`, after: `{"p":{"args":["sh"],"nnp":true}}`,
			want: `{"p":{"args":["sh"],"x-n":"keep","nnp":true}}`,
		},
		{
			name: "grown array keeps original elements",
			orig: `{"h":[{"path":"/a","x-k":1}]}`, before: `{"h":[{"path":"/a"}]}`, after: `{"h":[{"path":"/a"},{"path":"/b"}]}`,
			want: `{"h":[{"path":"/a","x-k":1},{"path":"/b"}]}`,
		},
		{
			name: "shrunk array replaced",
			orig: `{"h":[1,2]}`, before: `{"h":[1,2]}`, after: `{"h":[1]}`,
			want: `{"h":[1]}`,
		},
		{
			name: "null in original replaced",
			orig: `{"hooks":null,"x":1}`, before: `{}`, after: `{"hooks":{"poststop":[]}}`,
			want: `{"hooks":{"poststop":[]},"x":1}`,
		},
		{
			name: "case variant key replaced under the exact key",
			orig: `{"Annotations":{"k":"v"},"x":1}`, before: `{"annotations":{"k":"v"}}`, after: `{"annotations":{"k":"v","m":"n"}}`,
			want: `{"annotations":{"k":"v","m":"n"},"x":1}`,
		},
		{
			name: "duplicate keys collapse to the edited one",
			orig: `{"a":{"k":1},"x":1,"a":{"k":2}}`, before: `{"a":{"k":2}}`, after: `{"a":{"k":3}}`,
			want: `{"x":1,"a":{"k":3}}`,
		},
		{
			name: "type change takes the new value",
			orig: `{"a":"s"}`, before: `{"a":"s"}`, after: `{"a":{"o":1}}`,
			want: `{"a":{"o":1}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := merge([]byte(tt.orig), []byte(tt.before), []byte(tt.after))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("merge =\n  %s\nwant\n  %s", got, tt.want)
			}
		})
	}
}

// FuzzRender edits arbitrary config.json documents: it must never panic,
// and whatever it renders must parse to exactly the edited spec (Render
// checks that itself and refuses otherwise).
func FuzzRender(f *testing.F) {
	for _, fx := range []string{"containerd", "docker"} {
		data, err := os.ReadFile(filepath.Join(bundlesDir, fx, SpecFileName))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"process":{"args":["sh"]},"Process":{"x":1},"linux":null}`))
	f.Add([]byte(`{"hooks":{"poststop":[{"path":"/a"},{"path":"/a"}]},"hooks":{}}`))
	ms, err := testInjection().Modifiers()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseSpec(data)
		if err != nil {
			return
		}
		sf := &SpecFile{Path: "config.json", Spec: s, raw: data}
		if err := ms.Modify(sf.Spec); err != nil {
			return // e.g. no process section
		}
		out, err := sf.Render()
		if err != nil {
			if !strings.Contains(err.Error(), "result differs") {
				t.Fatalf("Render: %v", err)
			}
			return
		}
		var got specs.Spec
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("rendered spec does not parse: %v", err)
		}
		if diff := cmp.Diff(*sf.Spec, got); diff != "" {
			t.Fatalf("rendered spec differs:\n%s", diff)
		}
	})
}
