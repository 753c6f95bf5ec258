package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// runcRoot is where the runc shim keeps runc's state by default, shared by every
// containerd on the host.
const runcRoot = "/run/containerd/runc"

type containerRef struct{ namespace, id string }

// sweep kills and deletes every task and container in every namespace of this
// containerd (tests also create containers through ctr, and in namespaces other
// than Namespace). It returns the containers it failed to remove.
func (c *Containerd) sweep() ([]containerRef, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nss, err := c.Client.NamespaceService().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	var (
		failed []containerRef
		errs   []error
	)
	for _, ns := range nss {
		nctx := namespaces.WithNamespace(ctx, ns)
		ctrs, err := c.Client.Containers(nctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("listing containers in %s: %w", ns, err))
			continue
		}
		for _, ctr := range ctrs {
			if err := removeContainer(nctx, ctr); err != nil {
				failed = append(failed, containerRef{ns, ctr.ID()})
				errs = append(errs, fmt.Errorf("removing container %s/%s: %w", ns, ctr.ID(), err))
			}
		}
	}
	return failed, errors.Join(errs...)
}

// removeContainer kills the container's task (SIGKILL to all its processes),
// deletes it, and deletes the container with its snapshot.
func removeContainer(ctx context.Context, ctr client.Container) error {
	task, err := ctr.Task(ctx, nil)
	switch {
	case errdefs.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("loading task: %w", err)
	default:
		if _, err := task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("deleting task: %w", err)
		}
	}
	if err := ctr.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("deleting container: %w", err)
	}
	return nil
}

// killShims SIGKILLs shims of this containerd that outlived it. They are
// children of processes this package started, found by their -address flag.
func (c *Containerd) killShims() {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")
		if !strings.Contains(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		if i := slices.Index(args, "-address"); i >= 0 && i+1 < len(args) && args[i+1] == c.Address {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// cleanupRuncState kills what is left in the cgroups of containers whose
// removal failed and removes their cgroups and runc state, which live outside
// Dir at paths shared with every containerd on the host
// (/sys/fs/cgroup/.../<ns>/<id>, /run/containerd/runc/<ns>/<id>). Namespace
// directories are removed only for ownNS (random, so no other containerd uses
// it) and only when empty.
func cleanupRuncState(failed []containerRef, ownNS string) {
	if ownNS != "" {
		// Everything in our own namespace is ours, including containers that
		// containerd no longer knew of (a create cut short by Stop).
		var dirs []string
		for _, d := range append(cgroupDirs(ownNS, ""), filepath.Join(runcRoot, ownNS)) {
			if entries, err := os.ReadDir(d); err == nil {
				for _, e := range entries {
					if e.IsDir() {
						dirs = append(dirs, e.Name())
					}
				}
			}
		}
		for _, id := range dirs {
			if !slices.Contains(failed, containerRef{ownNS, id}) {
				failed = append(failed, containerRef{ownNS, id})
			}
		}
	}
	for _, k := range failed {
		for _, cg := range cgroupDirs(k.namespace, k.id) {
			if procs, err := os.ReadFile(filepath.Join(cg, "cgroup.procs")); err == nil && len(bytes.TrimSpace(procs)) > 0 {
				// cgroup.kill exists only in the unified hierarchy.
				_ = os.WriteFile(filepath.Join(cg, "cgroup.kill"), []byte("1"), 0)
			}
		}
		for _, cg := range cgroupDirs(k.namespace, k.id) {
			rmdirRetry(cg)
		}
		// runc never got to delete its state (the shim died): the processes are
		// gone, so the state is stale.
		os.RemoveAll(filepath.Join(runcRoot, k.namespace, k.id))
	}
	if ownNS != "" {
		for _, d := range append(cgroupDirs(ownNS, ""), filepath.Join(runcRoot, ownNS)) {
			_ = os.Remove(d) // only succeeds when empty
		}
	}
}

// cgroupDirs lists the existing cgroup directories /<ns>/<id> in every
// hierarchy (cgroup v1 controllers, the hybrid "unified" one, or pure v2).
func cgroupDirs(ns, id string) []string {
	var dirs []string
	for _, pattern := range []string{
		filepath.Join("/sys/fs/cgroup/*", ns, id),
		filepath.Join("/sys/fs/cgroup", ns, id),
	} {
		m, _ := filepath.Glob(pattern)
		for _, d := range m {
			if st, err := os.Stat(d); err == nil && st.IsDir() && !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
	}
	return dirs
}

// rmdirRetry removes an (empty) cgroup directory, waiting briefly for killed
// processes to leave it.
func rmdirRetry(dir string) {
	for i := 0; i < 50; i++ {
		err := os.Remove(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) || !errors.Is(err, syscall.EBUSY) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// unmountUnder detaches every mount at or below dir, deepest first (overlay
// rootfs mounts of tasks whose shim died, snapshot mounts).
func unmountUnder(dir string) error {
	if dir == "" {
		return nil
	}
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return fmt.Errorf("reading mounts: %w", err)
	}
	slices.SortFunc(mounts, func(a, b *mountinfo.Info) int { return len(b.Mountpoint) - len(a.Mountpoint) })
	var errs []error
	for _, m := range mounts {
		if err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", m.Mountpoint, err))
		}
	}
	return errors.Join(errs...)
}
