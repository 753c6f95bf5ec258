package runcargs

import (
	"fmt"
	"os"
	"runtime"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// OverlayFunc makes runc read copy where it opens target and, when
// placeholder is set, find target's own file at placeholder. The real one
// (Overlay) changes the calling thread's mount namespace: the caller must
// exec runc from the same goroutine, and must not return to other work.
type OverlayFunc func(copy, target, placeholder string) error

// Overlay moves this thread into a mount namespace of its own and
// bind-mounts copy over target there. runc, exec'd from this thread,
// inherits the namespace: it reads the edited spec at the bundle's own
// path while the file on disk, and every other process's view of it, stay
// as the user wrote them.
//
// With a placeholder (an existing file), target's own file is first bound
// onto it: mount sources in the copy that named the bundle's config.json
// point there (hooks.ConfigMounts), and the container gets the user's file
// as plain runc would give it.
//
// The mounts holding target and placeholder are first made slaves in the
// new namespace, so the bind mounts cannot propagate back to the host when
// those mounts are shared; mounts from the host still propagate in. No
// other mount changes.
//
// The OS thread stays locked: it is about to become runc (or the process
// exits), and must not run other goroutines in this namespace.
func Overlay(copy, target, placeholder string) error {
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("a private mount namespace for runc: unshare: %w", err)
	}
	mp, err := mountPointOf(target)
	if err != nil {
		return err
	}
	if err := unix.Mount("", mp, "", unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("making %s a slave mount in runc's namespace: %w", mp, err)
	}
	if placeholder != "" {
		pmp, err := mountPointOf(placeholder)
		if err != nil {
			return err
		}
		if pmp != mp {
			if err := unix.Mount("", pmp, "", unix.MS_SLAVE, ""); err != nil {
				return fmt.Errorf("making %s a slave mount in runc's namespace: %w", pmp, err)
			}
		}
		if err := unix.Mount(target, placeholder, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mounting %s onto %s in runc's namespace: %w", target, placeholder, err)
		}
	}
	if err := unix.Mount(copy, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mounting %s over %s in runc's namespace: %w", copy, target, err)
	}
	return nil
}

// mountPointOf returns the mount point of the mount holding path, as this
// thread sees it.
func mountPointOf(path string) (string, error) {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, 0, unix.STATX_MNT_ID, &stx); err != nil {
		return "", fmt.Errorf("finding the mount of %s: %w", path, err)
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 {
		return "", fmt.Errorf("finding the mount of %s: the kernel gave no mount id", path)
	}
	f, err := os.Open("/proc/thread-self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("finding the mount of %s: %w", path, err)
	}
	defer f.Close()
	id := int(stx.Mnt_id)
	infos, err := mountinfo.GetMountsFromReader(f, func(i *mountinfo.Info) (skip, stop bool) {
		return i.ID != id, i.ID == id
	})
	if err != nil {
		return "", fmt.Errorf("finding the mount of %s: reading mountinfo: %w", path, err)
	}
	if len(infos) == 0 {
		return "", fmt.Errorf("finding the mount of %s: mount %d not in this namespace's mountinfo", path, id)
	}
	return infos[0].Mountpoint, nil
}
