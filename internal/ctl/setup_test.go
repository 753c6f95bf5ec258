package ctl

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const confinePath = "/usr/bin/confine-runc"

func TestMergeDaemonJSON(t *testing.T) {
	tests := []struct {
		name        string
		src         string
		setDefault  bool
		want        string
		wantChanges int
	}{
		{
			name:        "missing file",
			src:         "",
			want:        "{\n  \"runtimes\": {\n    \"confine\": {\n      \"path\": \"/usr/bin/confine-runc\"\n    }\n  }\n}\n",
			wantChanges: 1,
		},
		{
			name:        "missing file with default runtime",
			src:         "\n",
			setDefault:  true,
			want:        "{\n  \"runtimes\": {\n    \"confine\": {\n      \"path\": \"/usr/bin/confine-runc\"\n    }\n  },\n  \"default-runtime\": \"confine\"\n}\n",
			wantChanges: 2,
		},
		{
			name:        "empty object",
			src:         "{}\n",
			want:        "{\n  \"runtimes\": {\n    \"confine\": {\n      \"path\": \"/usr/bin/confine-runc\"\n    }\n  }\n}\n",
			wantChanges: 1,
		},
		{
			name: "four spaces, other keys and runtimes kept byte for byte",
			src: `{
    "log-driver": "journald",
    "dns": ["10.0.0.2", "10.0.0.3"],
    "max-concurrent-downloads": 1e1,
    "runtimes": {
        "nvidia": {
            "path": "nvidia-container-runtime",
            "runtimeArgs": []
        }
    },
    "zzz": {"nested": {"a": 1, "b": [true, null]}}
}
`,
			setDefault: true,
			want: `{
    "log-driver": "journald",
    "dns": ["10.0.0.2", "10.0.0.3"],
    "max-concurrent-downloads": 1e1,
    "runtimes": {
        "nvidia": {
            "path": "nvidia-container-runtime",
            "runtimeArgs": []
        },
        "confine": {
            "path": "/usr/bin/confine-runc"
        }
    },
    "zzz": {"nested": {"a": 1, "b": [true, null]}},
    "default-runtime": "confine"
}
`,
			wantChanges: 2,
		},
		{
			name: "tabs, no trailing newline",
			src:  "{\n\t\"debug\": true,\n\t\"storage-driver\": \"overlay2\"\n}",
			want: "{\n\t\"debug\": true,\n\t\"storage-driver\": \"overlay2\",\n\t\"runtimes\": {\n\t\t\"confine\": {\n\t\t\t\"path\": \"/usr/bin/confine-runc\"\n\t\t}\n\t}\n}",

			wantChanges: 1,
		},
		{
			name:        "compact one line",
			src:         `{"debug":true,"runtimes":{}}` + "\n",
			want:        `{"debug":true,"runtimes":{"confine":{"path":"/usr/bin/confine-runc"}}}` + "\n",
			wantChanges: 1,
		},
		{
			name:        "compact with spaces",
			src:         `{"debug": true, "hosts": ["unix:///run/docker.sock"]}`,
			setDefault:  true,
			want:        `{"debug": true, "hosts": ["unix:///run/docker.sock"], "runtimes": {"confine": {"path": "/usr/bin/confine-runc"}}, "default-runtime": "confine"}`,
			wantChanges: 2,
		},
		{
			name: "already configured: nothing changes",
			src: `{
  "runtimes": {"confine": {"path": "/usr/bin/confine-runc"}},
  "default-runtime": "confine"
}
`,
			setDefault: true,
			want: `{
  "runtimes": {"confine": {"path": "/usr/bin/confine-runc"}},
  "default-runtime": "confine"
}
`,
		},
		{
			name: "other path replaced; default-runtime left alone without the flag",
			src: `{
  "default-runtime": "runc",
  "runtimes": {
    "confine": {
      "path": "/usr/local/bin/confine-runc",
      "runtimeArgs": ["--debug"]
    }
  }
}
`,
			want: `{
  "default-runtime": "runc",
  "runtimes": {
    "confine": {
      "path": "/usr/bin/confine-runc"
    }
  }
}
`,
			wantChanges: 1,
		},
		{
			name: "default-runtime replaced in place with the flag",
			src: `{
  "default-runtime": "runc",
  "live-restore": true
}
`,
			setDefault: true,
			want: `{
  "default-runtime": "confine",
  "live-restore": true,
  "runtimes": {
    "confine": {
      "path": "/usr/bin/confine-runc"
    }
  }
}
`,
			wantChanges: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, changes, err := MergeDaemonJSON([]byte(tc.src), DockerRuntimeName, confinePath, tc.setDefault)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("merged:\n%s\nwant:\n%s", got, tc.want)
			}
			if len(changes) != tc.wantChanges {
				t.Errorf("changes %q, want %d", changes, tc.wantChanges)
			}
			// Merging the result again changes nothing.
			again, changes, err := MergeDaemonJSON(got, DockerRuntimeName, confinePath, tc.setDefault)
			if err != nil || !bytes.Equal(again, got) || len(changes) != 0 {
				t.Errorf("second merge: %v %q\n%s", err, changes, again)
			}
		})
	}
}

func TestMergeDaemonJSONErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"syntax error names the line", "{\n  \"debug\": true,\n  \"x\": tru\n}\n", "line 3"},
		{"trailing comma", "{\n  \"debug\": true,\n}\n", "line 3"},
		{"top level is an array", "[1, 2]", "not a JSON object"},
		{"runtimes is not an object", "{\n\"runtimes\": [\"confine\"]\n}", `line 2: "runtimes" is not an object`},
		{"duplicate runtimes", `{"runtimes": {}, "runtimes": {}}`, `"runtimes" appears more than once`},
		{"duplicate runtime entry", `{"runtimes": {"confine": {}, "confine": {}}}`, `"confine" appears more than once`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := MergeDaemonJSON([]byte(tc.src), DockerRuntimeName, confinePath, true)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func FuzzMergeDaemonJSON(f *testing.F) {
	f.Add([]byte(`{"debug": true, "runtimes": {"x": {"path": "y"}}}`), true)
	f.Add([]byte("{\n  \"a\": [1, {\"b\": \"\\u00e9\"}]\n}\n"), false)
	f.Add([]byte(""), true)
	f.Fuzz(func(t *testing.T, src []byte, setDefault bool) {
		out, _, err := MergeDaemonJSON(src, DockerRuntimeName, confinePath, setDefault)
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("%v on %q", err, src)
			}
			return
		}
		// Whatever was accepted merges to a fixed point.
		again, changes, err := MergeDaemonJSON(out, DockerRuntimeName, confinePath, setDefault)
		if err != nil || len(changes) != 0 || !bytes.Equal(again, out) {
			t.Fatalf("not a fixed point: %v %q\n%q\n%q", err, changes, out, again)
		}
	})
}

// setupHost is a fake host: a real runc, a confine-runc, a configuration
// naming the runc, and the files the targets edit.
type setupHost struct {
	dir, runc, confineRunc, config, daemonJSON, binDir, unitDir string
}

func newSetupHost(t *testing.T) *setupHost {
	t.Helper()
	dir := t.TempDir()
	h := &setupHost{
		dir:         dir,
		runc:        filepath.Join(dir, "sbin", "runc"),
		confineRunc: filepath.Join(dir, "bin", "confine-runc"),
		config:      filepath.Join(dir, "confine.toml"),
		daemonJSON:  filepath.Join(dir, "docker", "daemon.json"),
		binDir:      filepath.Join(dir, "usr", "lib", "confine", "bin"),
		unitDir:     filepath.Join(dir, "etc", "systemd", "system"),
	}
	for _, p := range []string{h.runc, h.confineRunc} {
		writeFile(t, p, "#!/bin/sh\nexit 0\n", 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(h.daemonJSON), 0o755); err != nil {
		t.Fatal(err)
	}
	h.setRunc(t, h.runc)
	return h
}

func (h *setupHost) setRunc(t *testing.T, runc string) {
	t.Helper()
	writeFile(t, h.config, "runc_path = \""+runc+"\"\n", 0o644)
	t.Setenv("CONFINE_CONFIG", h.config)
}

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// run runs confinectl and returns stdout, stderr and the exit status.
func run(args ...string) (string, string, int) {
	var so, se bytes.Buffer
	code := Main(args, strings.NewReader(""), &so, &se)
	return so.String(), se.String(), code
}

func (h *setupHost) docker(args ...string) (string, string, int) {
	return run(append([]string{"setup", "docker", "--docker-config", h.daemonJSON, "--confine-runc", h.confineRunc}, args...)...)
}

func (h *setupHost) containerd(args ...string) (string, string, int) {
	return run(append([]string{"setup", "containerd", "--link-dir", h.binDir, "--unit-dir", h.unitDir, "--confine-runc", h.confineRunc}, args...)...)
}

const sampleDaemonJSON = `{
  "log-driver": "json-file",
  "log-opts": {"max-size": "10m", "max-file": "3"},
  "registry-mirrors": ["https://mirror.example"],
  "default-runtime": "runc",
  "runtimes": {
    "crun": {"path": "/usr/bin/crun"}
  },
  "storage-driver": "overlay2"
}
`

func TestSetupDockerApplyRevert(t *testing.T) {
	h := newSetupHost(t)
	writeFile(t, h.daemonJSON, sampleDaemonJSON, 0o600)

	// Printing writes nothing.
	out, errOut, code := h.docker()
	if code != 0 || !strings.Contains(out, `"confine": {`) {
		t.Fatalf("print: %d %s %s", code, out, errOut)
	}
	if got, _ := os.ReadFile(h.daemonJSON); string(got) != sampleDaemonJSON {
		t.Fatalf("printing changed the file:\n%s", got)
	}

	if out, errOut, code := h.docker("--apply"); code != 0 {
		t.Fatalf("apply: %d %s %s", code, out, errOut)
	}
	merged, err := os.ReadFile(h.daemonJSON)
	if err != nil {
		t.Fatal(err)
	}
	var before, after map[string]any
	if err := json.Unmarshal([]byte(sampleDaemonJSON), &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(merged, &after); err != nil {
		t.Fatalf("merged file is not JSON: %v\n%s", err, merged)
	}
	rts := after["runtimes"].(map[string]any)
	want := map[string]any{"path": h.confineRunc}
	if !jsonEqual(rts["confine"], want) || !jsonEqual(rts["crun"], map[string]any{"path": "/usr/bin/crun"}) {
		t.Errorf("runtimes: %v", rts)
	}
	delete(before, "runtimes")
	delete(after, "runtimes")
	if !jsonEqual(before, after) {
		t.Errorf("other keys changed (default-runtime must stay runc without --default-runtime):\nbefore %v\nafter  %v", before, after)
	}
	st, err := os.Stat(h.daemonJSON)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode of daemon.json: %v %v, want 0600 kept", st.Mode(), err)
	}
	backup, err := os.ReadFile(h.daemonJSON + BackupSuffix)
	if err != nil || string(backup) != sampleDaemonJSON {
		t.Fatalf("backup: %v\n%s", err, backup)
	}

	// A second apply with --default-runtime edits the merged file and keeps
	// the first backup.
	if out, errOut, code := h.docker("--apply", "--default-runtime"); code != 0 {
		t.Fatalf("apply --default-runtime: %d %s %s", code, out, errOut)
	}
	merged, _ = os.ReadFile(h.daemonJSON)
	if !strings.Contains(string(merged), `"default-runtime": "confine"`) {
		t.Errorf("default-runtime not set:\n%s", merged)
	}
	if b, _ := os.ReadFile(h.daemonJSON + BackupSuffix); string(b) != sampleDaemonJSON {
		t.Errorf("second apply replaced the original backup:\n%s", b)
	}
	// Applying what is there writes nothing.
	if out, _, code := h.docker("--apply", "--default-runtime"); code != 0 || !strings.Contains(out, "already configured") {
		t.Errorf("third apply: %d %s", code, out)
	}

	if out, errOut, code := h.docker("--revert"); code != 0 {
		t.Fatalf("revert: %d %s %s", code, out, errOut)
	}
	restored, _ := os.ReadFile(h.daemonJSON)
	if !bytes.Equal(restored, []byte(sampleDaemonJSON)) {
		t.Errorf("revert is not byte for byte:\n%q\nwant\n%q", restored, sampleDaemonJSON)
	}
	if st, _ := os.Stat(h.daemonJSON); st.Mode().Perm() != 0o600 {
		t.Errorf("revert mode %v, want 0600", st.Mode())
	}
	if _, err := os.Stat(h.daemonJSON + BackupSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("backup left after revert: %v", err)
	}
	// Nothing left to revert.
	if _, errOut, code := h.docker("--revert"); code != 1 || !strings.Contains(errOut, "nothing to revert") {
		t.Errorf("second revert: %d %s", code, errOut)
	}
}

func TestSetupDockerNoFile(t *testing.T) {
	h := newSetupHost(t)
	if out, errOut, code := h.docker("--apply", "--default-runtime"); code != 0 {
		t.Fatalf("apply: %d %s %s", code, out, errOut)
	}
	got, err := os.ReadFile(h.daemonJSON)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(got, &v); err != nil || v["default-runtime"] != "confine" {
		t.Fatalf("created file: %v\n%s", err, got)
	}
	if st, _ := os.Stat(h.daemonJSON); st.Mode().Perm() != 0o644 {
		t.Errorf("new daemon.json mode %v, want 0644", st.Mode())
	}
	if _, err := os.Stat(h.daemonJSON + CreatedSuffix); err != nil {
		t.Fatalf("no marker: %v", err)
	}
	if out, errOut, code := h.docker("--revert"); code != 0 {
		t.Fatalf("revert: %d %s %s", code, out, errOut)
	}
	for _, p := range []string{h.daemonJSON, h.daemonJSON + CreatedSuffix, h.daemonJSON + BackupSuffix} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after revert: %v", p, err)
		}
	}
}

func TestSetupDockerInvalidFileUntouched(t *testing.T) {
	h := newSetupHost(t)
	bad := "{\n  \"debug\": true,\n}\n"
	writeFile(t, h.daemonJSON, bad, 0o644)
	_, errOut, code := h.docker("--apply")
	if code != 1 || !strings.Contains(errOut, h.daemonJSON+": line 3") {
		t.Fatalf("apply on invalid JSON: %d %s", code, errOut)
	}
	if got, _ := os.ReadFile(h.daemonJSON); string(got) != bad {
		t.Errorf("file changed")
	}
	if _, err := os.Stat(h.daemonJSON + BackupSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("backup written for a refused apply")
	}
}

// tree lists every path under dir with its type and content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		switch {
		case d.Type()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[p] = "-> " + target
		case d.IsDir():
			out[p] = "dir"
		default:
			data, _ := os.ReadFile(p)
			out[p] = string(data)
		}
		return nil
	})
	return out
}

func TestSetupContainerd(t *testing.T) {
	tests := []struct {
		name string
		// prepare makes the host's state before --apply.
		prepare func(t *testing.T, h *setupHost)
	}{
		{"nothing there", func(t *testing.T, h *setupHost) {}},
		{"the package's link and another drop-in", func(t *testing.T, h *setupHost) {
			if err := os.MkdirAll(h.binDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(h.confineRunc, filepath.Join(h.binDir, "runc")); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(h.unitDir, "containerd.service.d", "10-local.conf"), "[Service]\nLimitNOFILE=1024\n", 0o644)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newSetupHost(t)
			tc.prepare(t, h)
			before := tree(t, h.dir)
			link := filepath.Join(h.binDir, "runc")
			dropin := filepath.Join(h.unitDir, "containerd.service.d", "90-confine.conf")

			out, errOut, code := h.containerd()
			if code != 0 || !strings.Contains(out, "Environment=\"PATH="+h.binDir+":/usr/local/sbin:") || !strings.Contains(out, "--runc-binary") {
				t.Fatalf("print: %d %s %s", code, out, errOut)
			}
			if got := tree(t, h.dir); !jsonEqual(got, before) {
				t.Fatal("printing changed files")
			}

			if out, errOut, code := h.containerd("--apply"); code != 0 || !strings.Contains(out, "systemctl restart containerd") {
				t.Fatalf("apply: %d %s %s", code, out, errOut)
			}
			if target, err := os.Readlink(link); err != nil || target != h.confineRunc {
				t.Fatalf("link: %q %v", target, err)
			}
			data, err := os.ReadFile(dropin)
			if err != nil || !strings.Contains(string(data), "[Service]\nEnvironment=\"PATH="+h.binDir+":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"\n") {
				t.Fatalf("drop-in: %v\n%s", err, data)
			}
			if out, _, code := h.containerd("--apply"); code != 0 || !strings.Contains(out, "nothing written") {
				t.Errorf("second apply: %d %s", code, out)
			}
			if data2, _ := os.ReadFile(dropin); string(data2) != string(data) {
				t.Errorf("second apply changed the drop-in:\n%s", data2)
			}
			if out, errOut, code := h.containerd("--revert"); code != 0 || !strings.Contains(out, "removed "+dropin) {
				t.Fatalf("revert: %d %s %s", code, out, errOut)
			}
			if got := tree(t, h.dir); !jsonEqual(got, before) {
				t.Errorf("after --revert the files differ from before --apply:\nbefore %v\nafter  %v", before, got)
			}
			if out, _, code := h.containerd("--revert"); code != 0 || !strings.Contains(out, "nothing to revert") {
				t.Errorf("second revert: %d %s", code, out)
			}
		})
	}
}

func TestSetupContainerdForeignDropin(t *testing.T) {
	h := newSetupHost(t)
	dropin := filepath.Join(h.unitDir, "containerd.service.d", "90-confine.conf")
	writeFile(t, dropin, "[Service]\nEnvironment=FOO=1\n", 0o644)
	for _, flag := range []string{"--apply", "--revert"} {
		if _, errOut, code := h.containerd(flag); code != 1 || !strings.Contains(errOut, "not written by confinectl") {
			t.Errorf("%s: %d %s", flag, code, errOut)
		}
	}
	if data, _ := os.ReadFile(dropin); string(data) != "[Service]\nEnvironment=FOO=1\n" {
		t.Errorf("foreign drop-in touched: %s", data)
	}
}

func TestParseNetUnix(t *testing.T) {
	const fixture = `Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 27017 /run/containerd/containerd.sock
0000000000000000: 00000003 00000000 00000000 0001 03 27123 /run/containerd/containerd.sock
0000000000000000: 00000002 00000000 00010000 0001 01 27018 /run/containerd/containerd.sock.ttrpc
0000000000000000: 00000002 00000000 00010000 0001 01 3301 @/containerd-shim/x.sock@
0000000000000000: 00000002 00000000 00000000 0002 01 1999
`
	got, err := parseNetUnix(strings.NewReader(fixture), "/run/containerd/containerd.sock")
	if err != nil || len(got) != 1 || !got["27017"] {
		t.Errorf("got %v %v, want only the listening 27017", got, err)
	}
}

func TestSocketOwnerAndLookPath(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pid, err := socketOwner("/proc", sock)
	if err != nil || pid != os.Getpid() {
		t.Errorf("socketOwner = %d %v, want %d", pid, err, os.Getpid())
	}
	if _, err := socketOwner("/proc", filepath.Join(dir, "none.sock")); err == nil {
		t.Error("socketOwner of a socket nobody listens on")
	}
	writeFile(t, filepath.Join(dir, "b", "runc"), "#!/bin/sh\n", 0o755)
	writeFile(t, filepath.Join(dir, "a", "runc"), "not executable", 0o644)
	if got := lookPathIn("/", filepath.Join(dir, "a")+":relative:"+filepath.Join(dir, "b"), "runc"); got != filepath.Join(dir, "b", "runc") {
		t.Errorf("lookPathIn = %q", got)
	}
}

func TestSetupContainerdLeavesForeignRunc(t *testing.T) {
	tests := []struct {
		name  string
		make  func(t *testing.T, link string)
		state string
	}{
		{"a real runc", func(t *testing.T, link string) { writeFile(t, link, "#!/bin/sh\n", 0o755) }, "regular file"},
		{"a link elsewhere", func(t *testing.T, link string) {
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/usr/local/sbin/runc", link); err != nil {
				t.Fatal(err)
			}
		}, "a symlink to /usr/local/sbin/runc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newSetupHost(t)
			link := filepath.Join(h.binDir, "runc")
			tc.make(t, link)
			before, _ := os.Lstat(link)
			for _, flag := range []string{"--apply", "--revert"} {
				_, errOut, code := h.containerd(flag)
				if flag == "--revert" { // no drop-in: nothing to revert, the runc stays
					if code != 0 {
						t.Errorf("%s: %d %s", flag, code, errOut)
					}
					continue
				}
				if code != 1 || !strings.Contains(errOut, "not confine's link") || !strings.Contains(errOut, tc.state) {
					t.Errorf("%s: %d %s", flag, code, errOut)
				}
			}
			after, err := os.Lstat(link)
			if err != nil || !os.SameFile(before, after) {
				t.Errorf("%s was touched: %v", link, err)
			}
		})
	}
}

func TestSetupRefusals(t *testing.T) {
	tests := []struct {
		name string
		// runc returns runc_path for the host.
		runc   func(h *setupHost) string
		target string
		flags  []string
		want   string
	}{
		{"docker: runc missing", func(h *setupHost) string { return filepath.Join(h.dir, "nope", "runc") }, "docker", []string{"--apply"}, "the real runc is missing"},
		{"containerd: runc missing", func(h *setupHost) string { return filepath.Join(h.dir, "nope", "runc") }, "containerd", []string{"--apply"}, "the real runc is missing"},
		{"containerd: runc missing, print", func(h *setupHost) string { return filepath.Join(h.dir, "nope", "runc") }, "containerd", nil, "install runc"},
		{"docker: runc_path is confine-runc", func(h *setupHost) string { return h.confineRunc }, "docker", []string{"--apply", "--default-runtime"}, "leads back to confine-runc"},
		{"containerd: runc_path is confine-runc", func(h *setupHost) string { return h.confineRunc }, "containerd", []string{"--apply"}, "leads back to confine-runc"},
		{"containerd: runc_path is the link to be", func(h *setupHost) string { return filepath.Join(h.binDir, "runc") }, "containerd", []string{"--apply"}, "is the link this command installs"},
		{"docker: runc_path not executable", func(h *setupHost) string {
			p := filepath.Join(h.dir, "noexec-runc")
			_ = os.WriteFile(p, []byte("x"), 0o644)
			return p
		}, "docker", nil, "not an executable file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newSetupHost(t)
			writeFile(t, h.daemonJSON, sampleDaemonJSON, 0o644)
			h.setRunc(t, tc.runc(h))
			var errOut string
			var code int
			if tc.target == "docker" {
				_, errOut, code = h.docker(tc.flags...)
			} else {
				_, errOut, code = h.containerd(tc.flags...)
			}
			if code != 1 || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, h.config) {
				t.Fatalf("exit %d, stderr %q; want exit 1 naming %q and the configuration file", code, errOut, tc.want)
			}
			if got, _ := os.ReadFile(h.daemonJSON); string(got) != sampleDaemonJSON {
				t.Errorf("daemon.json changed by a refused command")
			}
			if _, err := os.Lstat(filepath.Join(h.binDir, "runc")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("link created by a refused command")
			}
		})
	}
}

func TestSetupConfineRuncMissing(t *testing.T) {
	h := newSetupHost(t)
	if err := os.Remove(h.confineRunc); err != nil {
		t.Fatal(err)
	}
	for _, target := range []func(...string) (string, string, int){h.docker, h.containerd} {
		if _, errOut, code := target("--apply"); code != 1 || !strings.Contains(errOut, "confine-runc is missing") {
			t.Errorf("apply without confine-runc: %d %s", code, errOut)
		}
	}
}

func TestSetupUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no target", []string{"setup"}, 2, "name a target"},
		{"unknown target", []string{"setup", "podman"}, 2, "unknown target"},
		{"apply and revert", []string{"setup", "docker", "--apply", "--revert"}, 2, "exclude each other"},
		{"relative link dir", []string{"setup", "containerd", "--link-dir", "opt/bin"}, 2, "not an absolute path"},
		{"relative unit dir", []string{"setup", "containerd", "--unit-dir", "etc"}, 2, "not an absolute path"},
		{"docker help", []string{"setup", "docker", "--help"}, 0, "byte for byte"},
		{"containerd help", []string{"setup", "containerd", "--help"}, 0, "--runc-binary"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := run(tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s%s", code, tc.code, tc.want, out, errOut)
			}
		})
	}
	if out, _, code := run("setup", "--help"); code != 0 || !strings.Contains(out, "SYNOPSIS") {
		t.Errorf("setup --help: %d %s", code, out)
	}
}

func TestSetupJSON(t *testing.T) {
	h := newSetupHost(t)
	out, errOut, code := run("--json", "setup", "docker", "--docker-config", h.daemonJSON, "--confine-runc", h.confineRunc, "--apply")
	if code != 0 {
		t.Fatalf("%d %s", code, errOut)
	}
	var r setupResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r.Target != "docker" || r.Action != "apply" || !r.Changed || r.Backup != h.daemonJSON+CreatedSuffix {
		t.Errorf("result %+v", r)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
