package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsWithoutFile(t *testing.T) {
	t.Setenv(EnvPath, "")
	c, err := Parse(nil, "empty.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.FailMode != FailClosed || c.DefaultProfile != "baseline" || c.RescanInterval.Duration != 2*time.Second || c.APISocket() != "/run/confine/api.sock" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestParseErrorsNameKeyAndLine(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"unknown key", "fail_mode = \"open\"\nrescan_intervall = \"1s\"\n", []string{"x.toml:2", `unknown key "rescan_intervall"`}},
		{"bad fail mode", "fail_mode = \"sometimes\"\n", []string{"x.toml", "fail_mode", "sometimes"}},
		{"bad duration", "rescan_interval = \"soon\"\n", []string{"x.toml:1"}},
		{"too fast", "rescan_interval = \"1ms\"\n", []string{"rescan_interval", "100ms minimum"}},
		{"relative path", "state_dir = \"var/lib\"\n", []string{"state_dir", "absolute"}},
		{"bad sink", "alert_sinks = [\"syslog\"]\n", []string{"alert_sinks", "syslog"}},
		{"syntax", "fail_mode = \n", []string{"x.toml:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "x.toml")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLoadFromEnv(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(p, []byte("fail_mode = \"open\"\nalert_sinks = [\"stderr\", \"jsonl:/tmp/a.jsonl\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvPath, p)
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.FailMode != FailOpen || c.Path != p || len(c.AlertSinks) != 2 {
		t.Fatalf("%+v", c)
	}
	t.Setenv(EnvPath, p+".missing")
	if _, err := Load(); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("a missing file named by %s must be an error: %v", EnvPath, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("fail_mode = \"open\"\n"))
	f.Add([]byte("namespaces = [\"default\", \"moby\"]\nrescan_interval = \"2s\"\n"))
	f.Add([]byte("[x]\ny = 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.toml")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.toml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed config does not validate: %v", err)
		}
	})
}

// TestSwitchesAreKeys: what tests and benchmarks switch off is a key of
// the file (no environment variable), with a clear error for bad values.
func TestSwitchesAreKeys(t *testing.T) {
	d := Default()
	if !d.FanotifyGuard || !d.SecretWatch || d.ProcRoot != "/proc" || d.ProcessEvents != ProcessEventsAuto {
		t.Fatalf("defaults: guard %v, secrets %v, proc_root %q, process_events %q", d.FanotifyGuard, d.SecretWatch, d.ProcRoot, d.ProcessEvents)
	}
	c, err := Parse([]byte("fanotify_guard = false\nsecret_watch = false\nprocess_events = \"none\"\nproc_root = \"/tmp/proc\"\nalert_sinks = [\"journald:/tmp/j.sock\"]\n"), "x.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.FanotifyGuard || c.SecretWatch || c.ProcessEvents != ProcessEventsNone || c.ProcRoot != "/tmp/proc" || c.AlertSinks[0] != "journald:/tmp/j.sock" {
		t.Fatalf("parsed: %+v", c)
	}
	for src, want := range map[string]string{
		"proc_root = \"proc\"\n":                       "proc_root",
		"cpu_profile = \"cpu.out\"\n":                  "cpu_profile",
		"cpu_profile_for = \"0s\"\n":                   "cpu_profile_for",
		"process_events = \"netlink\"\n":               "process_events",
		"alert_sinks = [\"journald:relative.sock\"]\n": "journald:/absolute/socket",
	} {
		if _, err := Parse([]byte(src), "x.toml"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one naming %s", src, err, want)
		}
	}
}

// TestPackagedFileNamesEveryKey: the commented confine.toml shipped in the
// packages mentions every key confined reads.
func TestPackagedFileNamesEveryKey(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "packaging", "etc", "confine.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"fanotify_guard", "secret_watch", "capability_recorder", "proc_root", "process_events", "landlock", "alert_sinks", "rescan_interval", "cpu_profile", "cpu_profile_for"} {
		if !strings.Contains(string(data), "#"+key+" = ") {
			t.Errorf("packaging/etc/confine.toml does not show %s", key)
		}
	}
}
