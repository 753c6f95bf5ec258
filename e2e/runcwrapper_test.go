package e2e

// confine-runc used the way runc is used by hand (and by higher-level
// engines): real confine-runc, real runc, real kernel, a real confined.
// confine-runc must be transparent: the container's stdio is the
// container's alone, help and usage are runc's, the user's bundle is never
// written, and the identity of a container includes runc's --root.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/confinehq/confine/hooks"
	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// wrapBundle writes a busybox bundle (the spec `runc spec` generates, no
// terminal) whose process runs sh -c script, and returns its directory.
func wrapBundle(t *testing.T, script string, edit func(*specs.Spec)) string {
	t.Helper()
	return testbed.Bundle(t, testbed.RuncPath(), []string{"sh", "cat", "grep", "sleep", "echo", "true", "ls"}, func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", script}
		if edit != nil {
			edit(s)
		}
	})
}

// fileState is what must not change about a file: content, inode, mode,
// modification time, and whether it is a symlink.
func fileState(t *testing.T, path string) string {
	t.Helper()
	lst, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st := lst.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("ino=%d mode=%v mtime=%d sha256=%x", st.Ino, lst.Mode(), lst.ModTime().UnixNano(), sha256.Sum256(data))
}

var logTime = regexp.MustCompile(`time="[^"]*"`)

type runcResult struct {
	stdout, stderr string
	code           int
}

// runcCmd runs runc (or confine-runc) with args in dir and returns what the
// caller sees. stdout and stderr are files, not pipes: a detached
// container keeps them open.
func runcCmd(t *testing.T, bin, dir string, env []string, args ...string) runcResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	tmp := t.TempDir()
	outF, err := os.Create(filepath.Join(tmp, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer outF.Close()
	errF, err := os.Create(filepath.Join(tmp, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer errF.Close()
	cmd.Stdout, cmd.Stderr = outF, errF
	err = cmd.Run()
	out, _ := os.ReadFile(outF.Name())
	errOut, _ := os.ReadFile(errF.Name())
	r := runcResult{stdout: string(out), stderr: string(errOut)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return r
}

func TestConfineRuncIsTransparent(t *testing.T) {
	testbed.RequiresRoot(t)
	testbed.RequireTools(t, "runc", "busybox")
	bed := e2e.NewBed(t)
	bed.StartConfined(t)
	realRunc := testbed.RuncPath()
	env := []string{"CONFINE_CONFIG=" + bed.ConfigPath}
	wrap := func(t *testing.T, dir string, args ...string) runcResult {
		t.Helper()
		return runcCmd(t, bed.Runc, dir, env, args...)
	}
	states := t.TempDir()
	root := func(name string) string { return filepath.Join(states, name) }

	t.Run("the container's stdout, stderr and exit status are its own", func(t *testing.T) {
		b := wrapBundle(t, "echo out; echo err >&2; grep Seccomp: /proc/self/status; exit 7", nil)
		id := testbed.UniqueID("wrap")
		r := wrap(t, b, "--root", root("a"), "run", id)
		if r.stdout != "out\nSeccomp:\t2\n" || r.stderr != "err\n" || r.code != 7 {
			t.Errorf("run: stdout %q stderr %q exit %d; want %q, %q, 7 (and nothing of confine-runc's)", r.stdout, r.stderr, r.code, "out\nSeccomp:\t2\n", "err\n")
		}
		data, _ := os.ReadFile(filepath.Join(bed.RunDir, "confine-runc.log"))
		if !strings.Contains(string(data), "container default/"+id) {
			t.Errorf("confine-runc's message is not in run_dir's log:\n%s", data)
		}
	})

	t.Run("help and usage are runc's own", func(t *testing.T) {
		b := wrapBundle(t, "true", nil)
		// The real runc run under confine-runc's name: runc's help and
		// usage errors name the program the user ran (argv[0]).
		asWrapper := filepath.Join(t.TempDir(), filepath.Base(bed.Runc))
		if err := os.Symlink(realRunc, asWrapper); err != nil {
			t.Fatal(err)
		}
		norm := func(s, arg0 string) string {
			return strings.ReplaceAll(logTime.ReplaceAllString(s, "time=T"), arg0, "ARG0")
		}
		for _, args := range [][]string{
			{"run", "-h"}, {"create", "--help"}, {"restore", "--help"}, {"--help"}, {"--version"},
			{"run"}, {"create", "a", "b"}, {"create", "--frobnicate", "x"}, {"run", "--detach=maybe", "x"},
			{"create", "../bad-id"}, {"create", "--bundle", "/nonexistent", "x"},
		} {
			full := append([]string{"--root", root("help")}, args...)
			want := runcCmd(t, asWrapper, b, nil, full...)
			got := wrap(t, b, full...)
			// runc's logrus lines carry a timestamp, and its help and
			// usage errors the path it was run as.
			want.stdout, want.stderr = norm(want.stdout, asWrapper), norm(want.stderr, asWrapper)
			got.stdout, got.stderr = norm(got.stdout, bed.Runc), norm(got.stderr, bed.Runc)
			if got != want {
				t.Errorf("%v through confine-runc:\n  exit %d stdout %q stderr %q\nrunc:\n  exit %d stdout %q stderr %q",
					args, got.code, got.stdout, got.stderr, want.code, want.stdout, want.stderr)
			}
		}
	})

	t.Run("the bundle is left as written; plain runc runs it afterwards", func(t *testing.T) {
		b := wrapBundle(t, "grep Seccomp: /proc/self/status", nil)
		before := fileState(t, filepath.Join(b, "config.json"))
		if r := wrap(t, b, "--root", root("b"), "run", testbed.UniqueID("wrap")); r.stdout != "Seccomp:\t2\n" || r.code != 0 {
			t.Fatalf("through confine-runc: %+v", r)
		}
		if after := fileState(t, filepath.Join(b, "config.json")); after != before {
			t.Errorf("config.json changed:\n  before %s\n  after  %s", before, after)
		}
		// runc's generated spec has no seccomp section: plain runc runs
		// the container without any filter, as the user wrote it.
		if r := runcCmd(t, realRunc, b, nil, "--root", root("b"), "run", testbed.UniqueID("plain")); r.stdout != "Seccomp:\t0\n" || r.code != 0 {
			t.Errorf("plain runc on the bundle afterwards: %+v", r)
		}
	})

	t.Run("a read-only bundle", func(t *testing.T) {
		b := wrapBundle(t, "grep Seccomp: /proc/self/status", func(s *specs.Spec) { s.Root.Readonly = true })
		if err := syscall.Mount(b, b, "", syscall.MS_BIND, ""); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Unmount(b, syscall.MNT_DETACH) })
		if err := syscall.Mount("", b, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(b, "probe"), nil, 0o644); err == nil {
			t.Fatal("the bundle is writable")
		}
		if r := wrap(t, b, "--root", root("ro"), "run", testbed.UniqueID("wrap")); r.stdout != "Seccomp:\t2\n" || r.code != 0 {
			t.Errorf("read-only bundle through confine-runc: %+v", r)
		}
	})

	t.Run("a symlinked config.json stays a symlink to an unedited file", func(t *testing.T) {
		b := wrapBundle(t, "grep Seccomp: /proc/self/status", nil)
		specDir := t.TempDir()
		target := filepath.Join(specDir, "spec.json")
		if err := os.Rename(filepath.Join(b, "config.json"), target); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(b, "config.json")); err != nil {
			t.Fatal(err)
		}
		link, before := fileState(t, filepath.Join(b, "config.json")), fileState(t, target)
		if r := wrap(t, b, "--root", root("ln"), "run", testbed.UniqueID("wrap")); r.stdout != "Seccomp:\t2\n" || r.code != 0 {
			t.Errorf("symlinked config.json through confine-runc: %+v", r)
		}
		if fileState(t, filepath.Join(b, "config.json")) != link || fileState(t, target) != before {
			t.Error("the symlink or its target changed")
		}
	})

	t.Run("a mount of the bundle's own config.json is the user's file", func(t *testing.T) {
		// runc 1.4's mounts.bats binds ./config.json into the container
		// and compares the inode with the host's. In runc's namespace that
		// path holds confine's copy: the source is pointed at the user's
		// file, bound onto a placeholder there.
		b := testbed.Bundle(t, realRunc, []string{"sh", "stat", "grep"}, func(s *specs.Spec) {
			s.Process.Args = []string{"sh", "-c", "stat -c %d:%i /cfg /cfg2 /bundle/config.json; grep -c poststo[p] /cfg; grep Seccomp: /proc/self/status"}
			s.Mounts = append(s.Mounts,
				specs.Mount{Destination: "/cfg", Source: "./config.json", Options: []string{"bind"}},
				specs.Mount{Destination: "/cfg2", Source: "rootfs/../config.json", Options: []string{"rbind", "ro"}},
				specs.Mount{Destination: "/bundle", Source: ".", Options: []string{"bind"}})
		})
		cfg := filepath.Join(b, "config.json")
		before := fileState(t, cfg)
		var st syscall.Stat_t
		if err := syscall.Stat(cfg, &st); err != nil {
			t.Fatal(err)
		}
		host := fmt.Sprintf("%d:%d\n", st.Dev, st.Ino)
		want := strings.Repeat(host, 3) + "0\nSeccomp:\t2\n"
		if r := wrap(t, b, "--root", root("own"), "run", testbed.UniqueID("wrap")); r.stdout != want || r.code != 0 {
			t.Errorf("through confine-runc: %+v\nwant stdout %q (the host's inode, the user's content without confine's hooks, a filter)", r, want)
		}
		if fileState(t, cfg) != before {
			t.Error("config.json changed")
		}
		mi, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(mi), hooks.BundleConfigFile) || strings.Contains(string(mi), cfg) {
			t.Errorf("a mount of runc's namespace reached the host's:\n%s", mi)
		}
	})

	t.Run("relative root.path, mount source, --bundle and --pid-file", func(t *testing.T) {
		b := wrapBundle(t, "cat /data/file; grep Seccomp: /proc/self/status", func(s *specs.Spec) {
			s.Root.Path = "rootfs"
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "hostdata", Options: []string{"rbind", "ro"}})
		})
		if err := os.MkdirAll(filepath.Join(b, "hostdata"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(b, "hostdata", "file"), []byte("from the host\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cwd := t.TempDir()
		rel, err := filepath.Rel(cwd, b)
		if err != nil {
			t.Fatal(err)
		}
		id := testbed.UniqueID("wrap")
		r := wrap(t, cwd, "--root", root("rel"), "run", "--bundle", rel, "--pid-file", "ctr.pid", id)
		if r.stdout != "from the host\nSeccomp:\t2\n" || r.code != 0 {
			t.Errorf("relative paths through confine-runc: %+v", r)
		}
		if _, err := os.Stat(filepath.Join(cwd, "ctr.pid")); err != nil {
			t.Errorf("pid file not where runc puts it (relative to the working directory): %v", err)
		}
	})

	t.Run("runc list and the hooks see the user's bundle", func(t *testing.T) {
		b := wrapBundle(t, "sleep 600", nil)
		id := testbed.UniqueID("wrap")
		if r := wrap(t, b, "--root", root("list"), "run", "-d", id); r.code != 0 {
			t.Fatalf("run -d: %+v", r)
		}
		defer wrap(t, b, "--root", root("list"), "delete", "--force", id)
		r := wrap(t, b, "--root", root("list"), "state", id)
		var st struct{ Bundle string }
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.Bundle != b {
			t.Errorf("runc state says bundle %q (%v), want %q", st.Bundle, err, b)
		}
	})

	t.Run("the same id under two roots is two containers", func(t *testing.T) {
		b := wrapBundle(t, "sleep 600", nil)
		id := testbed.UniqueID("twin")
		for _, r := range []string{root("one"), root("two")} {
			if res := wrap(t, b, "--root", r, "run", "-d", id); res.code != 0 {
				t.Fatalf("run -d under %s: %+v", r, res)
			}
			defer wrap(t, b, "--root", r, "delete", "--force", id)
		}
		roots := func() map[string]bool {
			out, errOut, code := bed.Ctl(t, "ps", "--json")
			if code != 0 {
				t.Fatalf("confinectl ps: %d %s", code, errOut)
			}
			var cs []api.Container
			if err := json.Unmarshal([]byte(out), &cs); err != nil {
				t.Fatalf("confinectl ps --json: %v\n%s", err, out)
			}
			got := map[string]bool{}
			for _, c := range cs {
				if c.ID == id {
					got[c.Root] = true
				}
			}
			return got
		}
		if got := roots(); len(got) != 2 || !got[root("one")] || !got[root("two")] {
			t.Fatalf("confinectl ps shows %s under roots %v, want two entries (%s, %s)", id, got, root("one"), root("two"))
		}
		// Deleting one leaves the other watched.
		if res := wrap(t, b, "--root", root("one"), "delete", "--force", id); res.code != 0 {
			t.Fatalf("delete: %+v", res)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := roots()
			if len(got) == 1 && got[root("two")] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after deleting the one under %s, confinectl ps shows roots %v", root("one"), got)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("restore is confined like create", func(t *testing.T) {
		testbed.RequireTools(t, "criu")
		b := wrapBundle(t, "sleep 600", nil)
		id := testbed.UniqueID("ckpt")
		r0 := root("ckpt")
		if res := wrap(t, b, "--root", r0, "run", "-d", id); res.code != 0 {
			t.Fatalf("run -d: %+v", res)
		}
		defer wrap(t, b, "--root", r0, "delete", "--force", id)
		images := t.TempDir()
		ck := wrap(t, b, "--root", r0, "checkpoint", "--image-path", images, id)
		if ck.code != 0 {
			// criu cannot dump on every kernel: say exactly why, then prove
			// restore is still injected (its spec is the private copy).
			dump, _ := os.ReadFile(filepath.Join(images, "dump.log"))
			t.Logf("criu could not checkpoint on this kernel (exit %d: %s); its log ends:\n%s", ck.code, strings.TrimSpace(ck.stderr), lastLines(string(dump), 6))
			wrap(t, b, "--root", r0, "delete", "--force", id)
			copyBefore, _ := hooks.FindCopy(bed.RunDir, b, id)
			os.Remove(copyBefore)
			res := wrap(t, b, "--root", r0, "restore", "--detach", "--image-path", images, "--bundle", b, id)
			cp, o := hooks.FindCopy(bed.RunDir, b, id)
			if cp == "" || o.Command != "restore" {
				t.Fatalf("restore (exit %d, %s) made no private copy: restore was not injected", res.code, res.stderr)
			}
			data, _ := os.ReadFile(cp)
			if !bytes.Contains(data, []byte(`"confine.digest"`)) || !bytes.Contains(data, []byte("confine-hook")) {
				t.Errorf("restore's spec lacks the injection:\n%s", data)
			}
			return
		}
		res := wrap(t, b, "--root", r0, "restore", "--detach", "--image-path", images, "--bundle", b, id)
		if res.code != 0 {
			t.Fatalf("restore: %+v", res)
		}
		st := wrap(t, b, "--root", r0, "state", id)
		var s struct{ Pid int }
		if err := json.Unmarshal([]byte(st.stdout), &s); err != nil || s.Pid == 0 {
			t.Fatalf("state after restore: %+v", st)
		}
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.Pid))
		if !bytes.Contains(status, []byte("Seccomp:\t2")) {
			t.Errorf("the restored container has no seccomp filter:\n%s", status)
		}
		if _, o := hooks.FindCopy(bed.RunDir, b, id); o.Command != "restore" {
			t.Errorf("restore's private copy: %+v", o)
		}
	})
}
