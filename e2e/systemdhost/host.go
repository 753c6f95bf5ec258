// Package systemdhost boots a real Debian 12 with systemd as PID 1 in new
// namespaces of this machine and drives it from tests: the root is built
// with mmdebstrap (cached by package list), then systemd runs over it in
// its own pid, mount, uts and ipc namespaces (systemd-nspawn needs a system
// bus on the host, which machines without systemd lack).
package systemdhost

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Suite and Packages make the root; the cache key is derived from them.
const Suite = "bookworm"

// Packages are installed into the root on top of mmdebstrap's minbase.
// procps is left out on purpose: a minimal Debian has no /bin/kill.
var Packages = []string{"systemd", "systemd-sysv", "dbus", "containerd", "runc", "busybox-static", "iproute2", "docker.io", "libseccomp2"}

// CacheDir holds root tarballs, one per package list.
func CacheDir() string {
	if d := os.Getenv("CONFINE_SYSTEMD_CACHE"); d != "" {
		return d
	}
	home := os.Getenv("HOME")
	if home == "" {
		home = "/root"
	}
	return filepath.Join(home, ".cache", "confine-systemd")
}

// RootTarball returns the cached root tarball, building it with mmdebstrap
// when it is missing.
func RootTarball(t testing.TB) string {
	t.Helper()
	h := sha256.Sum256([]byte("v1|" + Suite + "|minbase|" + strings.Join(Packages, ",")))
	key := hex.EncodeToString(h[:8])
	dir := CacheDir()
	path := filepath.Join(dir, key+".tar")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "mmdebstrap", "--variant=minbase", "--include="+strings.Join(Packages, ","), "--quiet", Suite, tmp)
	out, err := cmd.CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		t.Fatalf("building the Debian root (mmdebstrap, from Debian's registry): %v\n%s", err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s with mmdebstrap in %s", path, time.Since(start).Round(time.Second))
	return path
}

// Host is a booted systemd.
type Host struct {
	Root string // the root directory, as seen from this machine
	// Pid is systemd's PID (PID 1 inside), Unshare the unshare process.
	Pid     int
	unshare *exec.Cmd
	done    chan struct{}
	cgroup  string // the cgroup made for it in each hierarchy (name)
	console *bytes.Buffer
}

// Boot extracts tarball into a new directory and boots systemd over it.
// Cleanup powers it off, kills what is left by PID, and removes the
// directory and the cgroups it made.
func Boot(t testing.TB, tarball string) *Host {
	t.Helper()
	root, err := os.MkdirTemp("/var/tmp", "confine-sd-")
	if err != nil {
		t.Fatal(err)
	}
	h := &Host{Root: root, done: make(chan struct{}), cgroup: filepath.Base(root), console: &bytes.Buffer{}}
	t.Cleanup(func() { h.cleanup(t) })
	if out, err := exec.Command("tar", "-C", root, "-xf", tarball).CombinedOutput(); err != nil {
		t.Fatalf("extracting the root: %v\n%s", err, out)
	}
	// A cgroup of its own in the hierarchies systemd manages (name=systemd,
	// unified): systemd builds its tree below it instead of in the
	// machine's root cgroup. The controllers' hierarchies are left as they
	// are.
	for _, hier := range ownHierarchies() {
		if err := os.Mkdir(filepath.Join("/sys/fs/cgroup", hier, h.cgroup), 0o755); err != nil {
			t.Fatalf("making a cgroup for the systemd host: %v", err)
		}
	}
	h.unshare = exec.Command("unshare", "--pid", "--fork", "--mount", "--uts", "--ipc", "--propagation", "private", "bash", "-c", bootScript, "boot", root, h.cgroup)
	h.unshare.Stdout, h.unshare.Stderr = h.console, h.console
	h.unshare.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	h.unshare.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := h.unshare.Start(); err != nil {
		t.Fatalf("starting unshare: %v", err)
	}
	go func() { _ = h.unshare.Wait(); close(h.done) }()

	// systemd is unshare's only child.
	deadline := time.Now().Add(30 * time.Second)
	for h.Pid == 0 {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", h.unshare.Process.Pid, h.unshare.Process.Pid))
		if f := strings.Fields(string(data)); len(f) == 1 {
			if exe, _ := os.Readlink("/proc/" + f[0] + "/exe"); strings.HasSuffix(exe, "/systemd") {
				h.Pid, _ = strconv.Atoi(f[0])
			}
		}
		select {
		case <-h.done:
			t.Fatalf("the systemd host ended at boot:\n%s", h.console)
		default:
		}
		if h.Pid == 0 && time.Now().After(deadline) {
			t.Fatalf("systemd did not start:\n%s", h.console)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Up: the manager answers and has reached its target (degraded is
	// fine: some units need hardware the namespaces do not have).
	for deadline = time.Now().Add(90 * time.Second); ; {
		out, _ := h.Sh(t, 10*time.Second, "systemctl is-system-running")
		state := strings.TrimSpace(out)
		if state == "running" || state == "degraded" {
			break
		}
		if time.Now().After(deadline) {
			failed, _ := h.Sh(t, 10*time.Second, "systemctl --failed --no-pager; systemctl list-jobs --no-pager")
			t.Fatalf("systemd is %q after 90 s:\n%s\n%s", state, failed, h.console)
		}
		time.Sleep(500 * time.Millisecond)
	}
	return h
}

// bootScript mounts what systemd needs over the root ($1) and execs it as
// PID 1 of the new pid namespace. /sys/fs/cgroup gets a tmpfs of its own
// with each hierarchy bound in: without it systemd would remount this
// machine's /sys/fs/cgroup read-only (superblock level) for everyone.
const bootScript = `set -eu
R=$1 CG=$2
for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
	if mountpoint -q "$h"; then echo $$ > "$h/$CG/cgroup.procs"; fi
done
mount --bind "$R" "$R"
mount -t proc proc "$R/proc"
mount --rbind /sys "$R/sys"
mount -t tmpfs -o mode=755 tmpfs "$R/sys/fs/cgroup"
for h in /sys/fs/cgroup/*; do
	n=${h##*/}
	if [ -L "$h" ]; then ln -s "$(readlink "$h")" "$R/sys/fs/cgroup/$n"
	elif mountpoint -q "$h"; then mkdir "$R/sys/fs/cgroup/$n"; mount --rbind "$h" "$R/sys/fs/cgroup/$n"
	fi
done
mount -t tmpfs -o mode=755 tmpfs "$R/run"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
mount --rbind /dev "$R/dev"
hostname confine-sd
cd "$R"
mkdir -p oldroot
pivot_root . oldroot
umount -l /oldroot
# systemd makes "/" shared when the kernel starts it, not in a container:
# do it here (inside this private mount namespace; pivot_root wants it
# private before), so that service namespaces (ProtectSystem=,
# PrivateMounts=) see the mounts containerd makes later, as on a booted
# host.
mount --make-rshared /
export container=other
exec /lib/systemd/systemd --system --unit=multi-user.target
`

// ownHierarchies lists the mounted hierarchies that systemd manages.
func ownHierarchies() []string {
	var out []string
	for _, n := range []string{"systemd", "unified"} {
		if isMountpoint(filepath.Join("/sys/fs/cgroup", n)) {
			out = append(out, n)
		}
	}
	return out
}

func isMountpoint(p string) bool {
	var a, b syscall.Stat_t
	if syscall.Stat(p, &a) != nil || syscall.Stat(filepath.Dir(p), &b) != nil {
		return false
	}
	return a.Dev != b.Dev
}

// Sh runs a shell script inside the host (all its namespaces, its root)
// and returns its combined output.
func (h *Host) Sh(t testing.TB, timeout time.Duration, script string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", "-t", strconv.Itoa(h.Pid), "-m", "-p", "-u", "-i", "-r", "-w", "/bin/sh", "-c", script)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0", "DEBIAN_FRONTEND=noninteractive"}
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%q timed out after %s: %w", script, timeout, ctx.Err())
	}
	return string(out), err
}

// Must is Sh that fails the test on a non-zero exit.
func (h *Host) Must(t testing.TB, timeout time.Duration, script string) string {
	t.Helper()
	out, err := h.Sh(t, timeout, script)
	if err != nil {
		t.Fatalf("in the systemd host: %s: %v\n%s", script, err, out)
	}
	return out
}

// CopyIn copies a file of this machine to path inside the root.
func (h *Host) CopyIn(t testing.TB, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	h.WriteFile(t, dst, data, 0o644)
}

// WriteFile writes a file inside the root.
func (h *Host) WriteFile(t testing.TB, dst string, data []byte, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(h.Root, dst)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
}

// cleanup powers the host off, kills what is left by PID, and removes the
// root and the cgroups made for it. It checks that this machine's
// /sys/fs/cgroup stayed writable.
func (h *Host) cleanup(t testing.TB) {
	if h.unshare != nil && h.unshare.Process != nil {
		if h.Pid != 0 {
			_, _ = h.Sh(t, 20*time.Second, "systemctl poweroff --no-block")
		}
		select {
		case <-h.done:
		case <-time.After(40 * time.Second):
			t.Logf("the systemd host did not power off in 40 s: SIGKILL to systemd (%d) and unshare (%d)", h.Pid, h.unshare.Process.Pid)
			if h.Pid != 0 {
				_ = syscall.Kill(h.Pid, syscall.SIGKILL)
			}
			_ = h.unshare.Process.Kill()
			<-h.done
		}
	}
	// Every process of the pid namespace died with its PID 1; their
	// cgroups are empty now.
	for _, hier := range ownHierarchies() {
		removeCgroupTree(filepath.Join("/sys/fs/cgroup", hier, h.cgroup))
	}
	if st, err := os.Stat("/sys/fs/cgroup"); err == nil && st.IsDir() {
		var sfs syscall.Statfs_t
		if syscall.Statfs("/sys/fs/cgroup", &sfs) == nil && sfs.Flags&0x1 != 0 { // ST_RDONLY
			t.Errorf("/sys/fs/cgroup of this machine is read-only after the systemd host: repair with mount -o remount,rw /sys/fs/cgroup")
		}
	}
	if h.Root != "" {
		// Mounts of the host died with its mount namespace; the root is a
		// plain directory again.
		if err := os.RemoveAll(h.Root); err != nil {
			t.Errorf("removing %s: %v", h.Root, err)
		}
	}
}

// removeCgroupTree removes a cgroup directory and its children, deepest
// first (cgroup directories are removed with rmdir, never their files).
func removeCgroupTree(dir string) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	for _, e := range ents {
		if e.IsDir() {
			removeCgroupTree(filepath.Join(dir, e.Name()))
		}
	}
	for i := 0; i < 50; i++ {
		if err := syscall.Rmdir(dir); err == nil || errors.Is(err, syscall.ENOENT) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
