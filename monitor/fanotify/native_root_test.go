package fanotify

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/profiles"
	"golang.org/x/sys/unix"
)

// TestGuardNativeSnapshotter: with containerd's native snapshotter the
// rootfs is a bind mount of a directory of the host's file system, not an
// overlayfs of its own. The guard marks the container's own root mount
// (a mount of the container's namespace, not the host's): forbidden execs
// and opens are denied before they happen, and the same files opened from
// the host are not held up.
func TestGuardNativeSnapshotter(t *testing.T) {
	c := testbed.Start(t)
	vol := volume(t)
	gc := startGuarded(t, c, testbed.RunOptions{
		Snapshotter: "native",
		Args:        []string{"/bin/sh", "-c", "cat /etc/shadow >/dev/null 2>/tmp/init.err; echo $? >/tmp/init.rc; exec sleep 3600"},
		Mounts:      []testbed.Mount{{Source: vol, Destination: "/data"}},
	}, guardOpts{mode: profiles.ModeEnforce})

	var sfs unix.Statfs_t
	if err := unix.Statfs(gc.rootfs(), &sfs); err != nil {
		t.Fatal(err)
	}
	if sfs.Type == unix.OVERLAYFS_SUPER_MAGIC {
		t.Fatalf("rootfs %s is overlayfs: the native snapshotter was not used", gc.rootfs())
	}
	if m := gc.g.RootMark(); m != "mount" {
		t.Fatalf("RootMark %q, want mount", m)
	}
	if !slices.Contains(gc.g.Marked(), "/data") {
		t.Errorf("marked mounts %v, want /data among them (a bind mount of the same host file system)", gc.g.Marked())
	}

	res := gc.sh(t, "cat /tmp/init.rc /tmp/init.err")
	if res.ExitStatus != 0 || !strings.HasPrefix(res.Stdout, "1\n") || !strings.Contains(res.Stdout, "Operation not permitted") {
		t.Errorf("init's cat of /etc/shadow: %+v, want EPERM before user code ran", res)
	}
	res = gc.sh(t, "mkdir -p /tmp/x && cp /bin/busybox /tmp/x/busybox && /tmp/x/busybox sh -c 'echo ran > /tmp/marker'")
	expect(t, "copied busybox", res, 126, "", "Operation not permitted")
	if _, err := os.Stat(filepath.Join(gc.rootfs(), "tmp/marker")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("marker on the rootfs: %v", err)
	}
	expect(t, "allowed exec", gc.sh(t, "echo fine"), 0, "fine", "")
	if res := gc.sh(t, "cat /data/secret.txt"); res.ExitStatus == 0 {
		t.Errorf("denied file on the volume was read: %+v", res)
	}

	// The host opens the same files through its own mounts: not guarded.
	if data, err := os.ReadFile(filepath.Join(gc.rootfs(), "etc/shadow")); err != nil || len(data) == 0 {
		t.Errorf("the host's read of the rootfs's /etc/shadow: %v", err)
	}
}
