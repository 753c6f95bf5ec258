package testbed

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestWriteImageDeterministic(t *testing.T) {
	RequireTools(t, "busybox")
	sum := func() [32]byte {
		var b bytes.Buffer
		if err := WriteImage(&b, BusyboxPath()); err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(b.Bytes())
	}
	if a, b := sum(), sum(); a != b {
		t.Fatalf("two builds differ: %x vs %x", a, b)
	}

	p, err := BuildImage()
	if err != nil {
		t.Fatal(err)
	}
	cached, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sha256.Sum256(cached), sum(); got != want {
		t.Errorf("cached image %s differs from a fresh build", p)
	}
}

func TestWriteRootfs(t *testing.T) {
	RequireTools(t, "busybox")
	var b bytes.Buffer
	if err := WriteRootfs(&b, BusyboxPath()); err != nil {
		t.Fatal(err)
	}
	hdrs := map[string]*tar.Header{}
	var names []string
	tr := tar.NewReader(&b)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		hdrs[name] = h
		names = append(names, name)
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(entryTime) {
			t.Errorf("%s: uid %d gid %d mtime %s, want 0 0 %s", h.Name, h.Uid, h.Gid, h.ModTime, entryTime)
		}
		if dir := filepath.Dir(name); dir != "." && hdrs[dir] == nil {
			t.Errorf("%s comes before its directory %s", name, dir)
		}
	}
	tests := []struct {
		name     string
		typ      byte
		mode     int64
		linkname string
	}{
		{name: "bin/busybox", typ: tar.TypeReg, mode: 0o755},
		{name: "bin/sh", typ: tar.TypeSymlink, mode: 0o777, linkname: "/bin/busybox"},
		{name: "usr/bin/wget", typ: tar.TypeSymlink, mode: 0o777, linkname: "/bin/busybox"},
		{name: "usr/sbin/httpd", typ: tar.TypeSymlink, mode: 0o777, linkname: "/bin/busybox"},
		{name: "etc/shadow", typ: tar.TypeReg, mode: 0o640},
		{name: "etc/passwd", typ: tar.TypeReg, mode: 0o644},
		{name: "tmp", typ: tar.TypeDir, mode: 0o1777},
		{name: "root", typ: tar.TypeDir, mode: 0o700},
		{name: "www/index.html", typ: tar.TypeReg, mode: 0o644},
	}
	for _, tt := range tests {
		h := hdrs[tt.name]
		if h == nil {
			t.Errorf("%s: missing", tt.name)
			continue
		}
		if h.Typeflag != tt.typ || h.Mode != tt.mode || h.Linkname != tt.linkname {
			t.Errorf("%s: type %c mode %o link %q, want %c %o %q", tt.name, h.Typeflag, h.Mode, h.Linkname, tt.typ, tt.mode, tt.linkname)
		}
	}
}

func TestUniqueID(t *testing.T) {
	a, b := UniqueID("x"), UniqueID("x")
	if a == b || !strings.HasPrefix(a, "x-") {
		t.Errorf("UniqueID: %q, %q", a, b)
	}
}

func TestContainerd(t *testing.T) {
	c := Start(t)
	ctx := context.Background()

	seccompFile := filepath.Join(t.TempDir(), "seccomp.json")
	profile := `{"defaultAction": "SCMP_ACT_ALLOW",
	  "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}`
	if err := os.WriteFile(seccompFile, []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}

	runTests := []struct {
		name       string
		opts       RunOptions
		wantStatus int
		wantOut    string // substring of stdout
	}{
		{name: "echo", opts: RunOptions{Args: []string{"busybox", "echo", "hi"}}, wantOut: "hi\n"},
		{name: "exit status", opts: RunOptions{Args: []string{"sh", "-c", "exit 3"}}, wantStatus: 3},
		{name: "no seccomp", opts: RunOptions{Args: []string{"grep", "Seccomp:", "/proc/1/status"}}, wantOut: "Seccomp:\t0\n"},
		{
			name:    "seccomp profile",
			opts:    RunOptions{SeccompProfile: seccompFile, Args: []string{"sh", "-c", "grep Seccomp: /proc/1/status; mkdir /tmp/x || echo denied"}},
			wantOut: "Seccomp:\t2\n",
		},
		{name: "seccomp denies", opts: RunOptions{SeccompProfile: seccompFile, Args: []string{"sh", "-c", "mkdir /tmp/x || echo denied"}}, wantOut: "denied"},
		{name: "user", opts: RunOptions{User: "65534", Args: []string{"id"}}, wantOut: "uid=65534(nobody) gid=65534(nobody)"},
		{name: "env", opts: RunOptions{Env: []string{"FOO=bar"}, Args: []string{"sh", "-c", "echo $FOO $PATH"}}, wantOut: "bar /usr/local/sbin"},
		{name: "image files", opts: RunOptions{Args: []string{"stat", "-c", "%a %u %n", "/etc/shadow", "/tmp", "/www/index.html"}},
			wantOut: "640 0 /etc/shadow\n1777 0 /tmp\n644 0 /www/index.html\n"},
		{name: "timeout", opts: RunOptions{Args: []string{"sleep", "100"}, Timeout: 3 * time.Second}, wantStatus: 137},
	}
	for _, tt := range runTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := c.Run(ctx, tt.opts)
			if res == nil {
				t.Fatalf("Run: %v", err)
			}
			if tt.opts.Timeout > 0 {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Run: err %v, want a deadline error", err)
				}
			} else if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.ExitStatus != tt.wantStatus || !strings.Contains(res.Stdout, tt.wantOut) {
				t.Errorf("Run: status %d stdout %q stderr %q, want %d and %q", res.ExitStatus, res.Stdout, res.Stderr, tt.wantStatus, tt.wantOut)
			}
			if res.Pid == 0 {
				t.Errorf("Run: no pid")
			}
		})
	}

	t.Run("mounts labels annotations", func(t *testing.T) {
		t.Parallel()
		host := t.TempDir()
		if err := os.WriteFile(filepath.Join(host, "in"), []byte("from host\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := c.Start(ctx, RunOptions{
			Args:        []string{"sh", "-c", "cat /data/in; echo out > /data/out; sleep 100"},
			Mounts:      []Mount{{Source: host, Destination: "/data"}},
			Labels:      map[string]string{"confine.profile": "web"},
			Annotations: map[string]string{"confine.mode": "monitor"},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		labels, err := r.Container().Labels(c.Context(ctx))
		if err != nil || labels["confine.profile"] != "web" {
			t.Errorf("labels %v (%v), want confine.profile=web", labels, err)
		}
		spec, err := r.Container().Spec(c.Context(ctx))
		if err != nil || spec.Annotations["confine.mode"] != "monitor" {
			t.Errorf("annotations of %v (%v), want confine.mode=monitor", spec, err)
		}
		waitFor(t, func() bool { _, err := os.Stat(filepath.Join(host, "out")); return err == nil })
		if got := r.Stdout(); got != "from host\n" {
			t.Errorf("stdout %q", got)
		}
	})

	t.Run("detached exec kill", func(t *testing.T) {
		t.Parallel()
		r, err := c.Start(ctx, RunOptions{Args: []string{"sleep", "100"}})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if r.Pid() == 0 {
			t.Fatal("no pid")
		}
		if _, err := os.Stat(filepath.Join("/proc", strconv.FormatUint(uint64(r.Pid()), 10))); err != nil {
			t.Errorf("init pid %d not on the host: %v", r.Pid(), err)
		}
		res, err := r.Exec(ctx, "sh", "-c", "echo in; echo err >&2; exit 5")
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitStatus != 5 || res.Stdout != "in\n" || res.Stderr != "err\n" {
			t.Errorf("exec: %+v", res)
		}
		res, err = r.ExecWith(ctx, ExecOptions{Args: []string{"cat", "/etc/shadow"}, User: nobody()})
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitStatus == 0 {
			t.Errorf("nobody read /etc/shadow: %+v", res)
		}
		if err := r.Kill(ctx, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		status, err := r.Wait(wctx)
		if err != nil || status != 137 {
			t.Errorf("Wait: %d, %v; want 137", status, err)
		}
		if err := r.Delete(ctx); err != nil {
			t.Errorf("Delete: %v", err)
		}
		if _, err := c.Client.LoadContainer(c.Context(ctx), r.ID); err == nil {
			t.Errorf("container %s still exists after Delete", r.ID)
		}
	})

	t.Run("ctr run seccomp", func(t *testing.T) {
		t.Parallel()
		out, stderr, err := c.Ctr("run", "--rm", "--seccomp", "--seccomp-profile", seccompFile,
			c.ImageRef, UniqueID("ctr"), "grep", "Seccomp:", "/proc/1/status")
		if err != nil || out != "Seccomp:\t2\n" {
			t.Errorf("ctr run: %q %q %v", out, stderr, err)
		}
	})

	t.Run("runtime binary", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		marker := filepath.Join(dir, "argv")
		wrapper := filepath.Join(dir, "wrapped-runc")
		script := "#!/bin/sh\necho \"$@\" >> " + marker + "\nexec runc \"$@\"\n"
		if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		res, err := c.Run(ctx, RunOptions{Runtime: wrapper, Args: []string{"true"}})
		if err != nil || res.ExitStatus != 0 {
			t.Fatalf("Run: %+v %v", res, err)
		}
		argv, err := os.ReadFile(marker)
		if err != nil || !strings.Contains(string(argv), "create") {
			t.Errorf("wrapper not used for create: %q %v", argv, err)
		}
	})
}

// TestStop checks that Stop leaves nothing behind, even with a container that
// ctr started detached and nobody deleted.
func TestStop(t *testing.T) {
	RequiresRoot(t)
	RequireTools(t, "containerd", "ctr", "runc", "containerd-shim-runc-v2", "busybox")
	c, err := StartDaemon(Options{})
	if err != nil {
		t.Fatal(err)
	}
	id := UniqueID("left")
	if _, _, err := c.Ctr("run", "-d", c.ImageRef, id, "sleep", "100"); err != nil {
		_ = c.Stop()
		t.Fatal(err)
	}
	var shim int
	waitFor(t, func() bool { shim = findShim(c.Address); return shim != 0 })
	pid := c.Pid
	if err := c.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("containerd %d still runs", pid)
	}
	waitFor(t, func() bool { return findShim(c.Address) == 0 })
	if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still exists: %v", c.Dir, err)
	}
	if ms, _ := mountinfo.GetMounts(mountinfo.PrefixFilter(c.Dir)); len(ms) > 0 {
		t.Errorf("mounts left: %v", ms)
	}
	if _, err := os.Stat(filepath.Join(runcRoot, c.Namespace)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("runc state of namespace %s left: %v", c.Namespace, err)
	}
	if dirs := cgroupDirs(c.Namespace, ""); len(dirs) > 0 {
		t.Errorf("cgroups left: %v", dirs)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// findShim returns the PID of a live (not zombie) shim serving address, or 0.
func findShim(address string) int {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte("containerd-shim")) || !bytes.Contains(b, []byte("\x00"+address+"\x00")) {
			continue
		}
		st, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil || bytes.Contains(st, []byte(") Z ")) {
			continue
		}
		if pid, err := strconv.Atoi(d.Name()); err == nil {
			return pid
		}
	}
	return 0
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func nobody() *specs.User { return &specs.User{UID: 65534, GID: 65534} }
