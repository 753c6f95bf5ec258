package profiles

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var fakeKnown = func(n string) bool { return n != "frobnicate" }

func TestParseGood(t *testing.T) {
	r, err := ReadFile("../testdata/profiles/good/web.yaml", Options{KnownSyscall: fakeKnown})
	if err != nil {
		t.Fatal(err)
	}
	p := r.Profile
	if p.Name != "web" || p.Mode != ModeEnforce || p.EffectiveOnViolation() != OnViolationKill {
		t.Fatalf("unexpected profile %+v", p)
	}
	if len(p.Network.Listen) != 2 || *p.Privileges.AllowRoot || !*p.Privileges.NoNewPrivileges {
		t.Fatalf("unexpected network/privileges %+v %+v", p.Network, p.Privileges)
	}
	if len(r.Warnings) != 0 {
		t.Fatalf("unexpected warnings %v", r.Warnings)
	}
}

func TestParseErrorsNameThePlace(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string
	}{
		{"unknown field", "unknown-field.yaml", []string{"unknown-field.yaml:6:", `unknown field "alow"`}},
		{"unknown syscall", "unknown-syscall.yaml", []string{"unknown-syscall.yaml:8:", "seccomp.allow[2]", `unknown syscall "frobnicate"`}},
		{"bad glob", "bad-glob.yaml", []string{"bad-glob.yaml:7:", "files.deny[1]", "bad path glob"}},
		{"bad mode", "bad-mode.yaml", []string{"bad-mode.yaml:3:", "mode", `"enforcing"`}},
		{"bad yaml", "bad-yaml.yaml", []string{"bad-yaml.yaml:"}},
		{"bad network", "bad-network.yaml", []string{"bad-network.yaml:5: network.egress[0]", "bad CIDR", "network.egress[1]", "99999", "bad-network.yaml:6: network.listen[0]"}},
		{"bad capability", "bad-cap.yaml", []string{"bad-cap.yaml:5:", "privileges.capabilities[1]", `unknown capability "SYS_WIZARD"`}},
		{"wrong type", "wrong-type.yaml", []string{"wrong-type.yaml:5:", "cannot unmarshal"}},
		{"duplicate key", "dup-key.yaml", []string{"dup-key.yaml:4:", "mode: duplicate key"}},
		{"bad file allowlists", "bad-files-allow.yaml", []string{"bad-files-allow.yaml:5: files.read[1]", "not an absolute path", "bad-files-allow.yaml:6: files.write[1]", "bad-files-allow.yaml:8: secrets.ignore[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFile(filepath.Join("../testdata/profiles/bad", tt.file), Options{KnownSyscall: fakeKnown})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestUnreadableFile(t *testing.T) {
	_, err := ReadFile("../testdata/profiles/nope.yaml", Options{})
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("want a not-exist error naming the file, got %v", err)
	}
}

func TestLoadDirKeepsGoodFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"good/web.yaml", "good/batch.yml", "bad/bad-mode.yaml", "bad/unknown-syscall.yaml"} {
		data, err := os.ReadFile(filepath.Join("../testdata/profiles", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, errs := LoadDir(dir, Options{KnownSyscall: fakeKnown})
	if len(errs) != 2 {
		t.Fatalf("want 2 errors, got %v", errs)
	}
	if got := strings.Join(s.Names(), ","); got != "baseline,batch,web" {
		t.Fatalf("names %s", got)
	}
}

func TestLoadDirDuplicateName(t *testing.T) {
	dir := t.TempDir()
	data, _ := os.ReadFile("../testdata/profiles/good/web.yaml")
	os.WriteFile(filepath.Join(dir, "a.yaml"), data, 0o644)
	os.WriteFile(filepath.Join(dir, "b.yaml"), data, 0o644)
	_, errs := LoadDir(dir, Options{})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "already defined") || !strings.Contains(errs[0].Error(), "b.yaml") {
		t.Fatalf("want one duplicate-name error naming b.yaml, got %v", errs)
	}
}

func TestAmbiguousSelectorIsALoadError(t *testing.T) {
	_, errs := LoadDir("../testdata/profiles/ambiguous", Options{})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "ambiguous") || !strings.Contains(errs[0].Error(), "a.yaml") {
		t.Fatalf("want an ambiguity error naming the file, got %v", errs)
	}
}

func TestSelect(t *testing.T) {
	s, errs := LoadDir("../testdata/profiles/good", Options{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	tests := []struct {
		name       string
		target     Target
		wantName   string
		wantMode   Mode
		wantReason string
		wantErr    string
	}{
		{"label wins", Target{Image: "localhost/busybox:1", Labels: map[string]string{"confine.profile": "batch", "app": "web"}}, "batch", ModeMonitor, "label", ""},
		{"annotation", Target{Annotations: map[string]string{"confine.profile": "web"}}, "web", ModeEnforce, "annotation", ""},
		{"most specific selector", Target{Image: "localhost/busybox:1", Labels: map[string]string{"app": "web"}}, "web", ModeEnforce, "selector", ""},
		{"less specific selector", Target{Image: "localhost/busybox:1"}, "batch", ModeMonitor, "selector", ""},
		{"default", Target{Image: "docker.io/library/nginx:1"}, "baseline", ModeEnforce, "default", ""},
		{"mode override", Target{Image: "x", Labels: map[string]string{"confine.mode": "learn"}}, "baseline", ModeLearn, "default, mode from confine.mode", ""},
		{"missing profile", Target{Labels: map[string]string{"confine.profile": "nope"}}, "", "", "", `profile "nope" named by label`},
		{"bad mode", Target{Labels: map[string]string{"confine.mode": "strict"}}, "", "", "", `confine.mode="strict"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := s.Select(tt.target, "baseline")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want error %q, got %v", tt.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sel.Profile.Name != tt.wantName || sel.Profile.Mode != tt.wantMode || sel.Reason != tt.wantReason {
				t.Fatalf("got %s/%s/%q", sel.Profile.Name, sel.Profile.Mode, sel.Reason)
			}
		})
	}
	// The override never leaks into the set.
	p, _ := s.Get("baseline")
	if p.Mode != ModeEnforce {
		t.Fatal("mode override modified the set")
	}
}

func TestBaselineValid(t *testing.T) {
	b := Baseline()
	if errs, _ := Validate(b, Options{}); len(errs) > 0 {
		t.Fatal(errs)
	}
	if b.Seccomp.Base != BaseDockerDefault || b.Mode != ModeEnforce {
		t.Fatalf("baseline %+v", b)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	r, err := ReadFile("../testdata/profiles/good/web.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.Profile.Network.Egress = List{} // empty but present must survive
	data, err := Marshal(r.Profile, "generated")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Parse(data, "roundtrip", Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	r2.Profile.Source = r.Profile.Source
	if Digest(r.Profile) != Digest(r2.Profile) {
		t.Fatalf("round trip changed the profile:\n%s", data)
	}
	if r2.Profile.Network.Egress == nil {
		t.Fatal("empty egress list lost")
	}
}

func TestStoreInstallKeepsBackup(t *testing.T) {
	st := Store{Dir: t.TempDir()}
	p := Baseline()
	p.Name = "web"
	if b, err := st.Install(p); err != nil || b != "" {
		t.Fatalf("first install: %q %v", b, err)
	}
	p.Mode = ModeMonitor
	b, err := st.Install(p)
	if err != nil || b == "" {
		t.Fatalf("second install: %q %v", b, err)
	}
	old, err := ReadFile(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if old.Profile.Mode != ModeEnforce {
		t.Fatal("backup does not hold the previous version")
	}
	entries, _ := os.ReadDir(st.Dir)
	if len(entries) != 2 {
		t.Fatalf("want the profile and its backup only, got %d entries", len(entries))
	}
}

func TestParseEgress(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  bool
	}{
		{"10.0.0.0/8:5432", "10.0.0.0/8:5432", false},
		{"127.0.0.1:*", "127.0.0.1:*", false},
		{"[::1]:80", "[::1]:80", false},
		{"db.internal:5432", "db.internal:5432", false},
		{"*:53", "*:53", false},
		{"::1:80", "", true},
		{"10.0.0.1", "", true},
		{"10.0.0.1:0", "", true},
		{"bad host!:80", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := ParseEgress(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("err %v", err)
			}
			if err == nil && e.String() != tt.want {
				t.Fatalf("got %s", e)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, dir := range []string{"good", "bad", "ambiguous"} {
		entries, _ := os.ReadDir(filepath.Join("../testdata/profiles", dir))
		for _, e := range entries {
			data, _ := os.ReadFile(filepath.Join("../testdata/profiles", dir, e.Name()))
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data, "fuzz.yaml", Options{KnownSyscall: fakeKnown})
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if _, err := Marshal(r.Profile); err != nil {
			t.Fatalf("valid profile does not marshal: %v", err)
		}
	})
}

func TestParseFileAllowlists(t *testing.T) {
	r, err := ReadFile("../testdata/profiles/good/files-allow.yaml", Options{KnownSyscall: fakeKnown})
	if err != nil {
		t.Fatal(err)
	}
	p := r.Profile
	if len(p.Files.Read) != 2 || len(p.Files.Write) != 2 || len(p.Secrets.Ignore) != 1 {
		t.Fatalf("files/secrets not decoded: %+v %+v", p.Files, p.Secrets)
	}
	// "/etc/**" is legal but Landlock grants the whole of /etc: warned.
	if len(r.Warnings) != 2 || !strings.Contains(r.Warnings[0], "files.read") || !strings.Contains(r.Warnings[0], "hierarchy /etc") {
		t.Fatalf("want a warning about /etc (and the one about seccomp), got %v", r.Warnings)
	}
	// Absent stays absent (unrestricted); empty stays empty (nothing).
	out, err := Marshal(&Profile{APIVersion: APIVersion, Name: "x", Mode: ModeEnforce, Files: Files{Write: List{}}})
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(out, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if back.Profile.Files.Read != nil || back.Profile.Files.Write == nil || len(back.Profile.Files.Write) != 0 {
		t.Fatalf("nil/empty distinction lost: %s", out)
	}
}
