package fanotify

import (
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/confinehq/confine/monitor/proc"
)

// Errors NewGuard returns when it refuses to mark something.
var (
	// ErrHostFilesystem: the rootfs path is not a container's own overlayfs
	// (it is on the host's root device, or not overlayfs at all).
	ErrHostFilesystem = errors.New("refusing a filesystem mark on a host file system")
	// ErrHostMount: a mount destination resolves to a mount of the guard's
	// own mount namespace.
	ErrHostMount = errors.New("refusing a mount mark on a host mount")
)

// markMask is what every mark asks for: permission to open (files and
// directories) and to open for execution.
const markMask = unix.FAN_OPEN_PERM | unix.FAN_OPEN_EXEC_PERM | unix.FAN_ONDIR

// pseudoFS are file system types whose mounts are never marked: kernel
// interfaces without files a profile speaks of.
var pseudoFS = map[string]bool{
	"proc": true, "sysfs": true, "cgroup": true, "cgroup2": true, "devpts": true,
	"mqueue": true, "securityfs": true, "debugfs": true, "tracefs": true, "bpf": true,
	"fusectl": true, "configfs": true, "pstore": true, "binfmt_misc": true,
	"hugetlbfs": true, "efivarfs": true, "nsfs": true,
}

// MountsFromSpec lists the destinations of a container's mounts that a
// guard should mark: bind mounts (volumes) and every other mount that holds
// files (tmpfs on /dev, /run, /dev/shm), but not proc, sysfs, cgroup,
// devpts, mqueue and the like.
func MountsFromSpec(spec *specs.Spec) []string {
	if spec == nil {
		return nil
	}
	var out []string
	for _, m := range spec.Mounts {
		bind := m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
		if !bind && pseudoFS[m.Type] {
			continue
		}
		d := path.Clean("/" + m.Destination)
		if d != "/" && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// fileStat is the identity and type of an open file.
type fileStat struct {
	id   fileID
	mode uint32
}

func fstat(fd int) (fileStat, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fileStat{}, err
	}
	return fileStat{id: fileID{dev: st.Dev, ino: st.Ino}, mode: st.Mode}, nil
}

// markFd puts a mark on the object an O_PATH descriptor refers to.
// fanotify_mark(2) with a NULL path wants a descriptor that is not O_PATH,
// and opening one would itself be an open the group may have to answer;
// the /proc/self/fd magic link names the same mount and dentry without
// opening anything.
func markFd(fan int, flags uint, fs proc.FS, fd int) error {
	return unix.FanotifyMark(fan, unix.FAN_MARK_ADD|flags, markMask, unix.AT_FDCWD, fs.Path("self", "fd", strconv.Itoa(fd)))
}

// openInRoot resolves name inside root (an O_PATH directory) as if root
// were "/": absolute symlinks and ".." stay inside.
func openInRoot(root int, name string, flags uint64) (int, error) {
	return unix.Openat2(root, strings.TrimPrefix(path.Clean("/"+name), "/"), &unix.OpenHow{
		Flags:   flags | unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// marker sets up the marks of one guard.
type marker struct {
	fan    int
	fs     proc.FS
	pid    int
	id     string // container, for errors
	rootfs string
	// rootfsID is the rootfs directory's identity.
	rootfsID fileID
	// base is an O_PATH descriptor of the container's root as the
	// container's mount namespace sees it; prefix is the path of that root
	// in the namespace's mount table ("" once the container has pivoted,
	// the rootfs path before).
	base   int
	prefix string
	// rootMnt is the mount ID of the container's own root mount when the
	// rootfs got a mount mark (not a file system of its own); 0 when it
	// got the filesystem mark.
	rootMnt uint64
}

func (m *marker) errorf(format string, args ...any) error {
	return fmt.Errorf("container %s (pid %d): "+format, append([]any{m.id, m.pid}, args...)...)
}

// markRootfs checks that the rootfs is a container's own overlayfs and
// puts the filesystem mark on it.
func (m *marker) markRootfs() error {
	rfd, err := unix.Open(m.rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return m.errorf("opening rootfs %s: %w", m.rootfs, err)
	}
	defer unix.Close(rfd)
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(rfd, &sfs); err != nil {
		return m.errorf("statfs of rootfs %s: %w", m.rootfs, err)
	}
	st, err := fstat(rfd)
	if err != nil {
		return m.errorf("stat of rootfs %s: %w", m.rootfs, err)
	}
	var root unix.Stat_t
	if err := unix.Stat("/", &root); err != nil {
		return m.errorf("stat of /: %w", err)
	}
	if sfs.Type != unix.OVERLAYFS_SUPER_MAGIC || st.id.dev == root.Dev {
		why := fmt.Sprintf("not overlayfs (f_type %#x)", sfs.Type)
		if st.id.dev == root.Dev {
			why = "on the host's root device"
		}
		return m.markRootMount(st, why)
	}
	m.rootfsID = st.id
	if err := m.openBase(); err != nil {
		return err
	}
	if err := markFd(m.fan, unix.FAN_MARK_FILESYSTEM, m.fs, rfd); err != nil {
		return m.errorf("marking rootfs %s: %w", m.rootfs, err)
	}
	return nil
}

// markRootMount marks the container's own root mount when the rootfs is
// not a file system of its own (containerd's native snapshotter: a bind
// mount of a directory of the host's file system), where a filesystem
// mark would put the whole host behind the guard. The container's mount
// namespace holds its own copy of that mount (runc binds the rootfs onto
// itself there before pivot_root, and it becomes the container's "/"), a
// mount that is not in the guard's namespace: a FAN_MARK_MOUNT on it sees
// the container's opens and none of the host's. It is refused when the
// mount found is one of the guard's own (ErrHostFilesystem).
func (m *marker) markRootMount(st fileStat, why string) error {
	m.rootfsID = st.id
	if err := m.openBase(); err != nil {
		return err
	}
	own, err := readMountinfo(m.fs, "self", "mountinfo")
	if err != nil {
		return m.errorf("reading the guard's mount table: %w", err)
	}
	var stx unix.Statx_t
	if err := unix.Statx(m.base, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID|unix.STATX_INO, &stx); err != nil {
		return m.errorf("statx of the container's root: %w", err)
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 {
		return m.errorf("rootfs %s is %s and the kernel reports no mount ID: %w", m.rootfs, why, ErrHostFilesystem)
	}
	if stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return m.errorf("rootfs %s is %s and is not a mount of its own in the container: %w", m.rootfs, why, ErrHostFilesystem)
	}
	for _, mi := range own {
		if uint64(mi.ID) == stx.Mnt_id {
			return m.errorf("rootfs %s is %s and the container's root is mount %d of the host: %w", m.rootfs, why, stx.Mnt_id, ErrHostFilesystem)
		}
	}
	if err := markFd(m.fan, unix.FAN_MARK_MOUNT, m.fs, m.base); err != nil {
		return m.errorf("marking the root mount of rootfs %s: %w", m.rootfs, err)
	}
	m.rootMnt = stx.Mnt_id
	return nil
}

// openBase finds the container's root in its mount namespace, through
// /proc/<pid>/root: that root itself once runc has pivoted into the
// rootfs, or the rootfs path below it before (createRuntime hooks run
// between the mounts and pivot_root). Either must be the rootfs directory.
func (m *marker) openBase() error {
	root, err := unix.Open(m.fs.Path(strconv.Itoa(m.pid), "root"), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return m.errorf("opening the process's root: %w", err)
	}
	st, err := fstat(root)
	if err != nil {
		unix.Close(root)
		return m.errorf("stat of the process's root: %w", err)
	}
	if st.id == m.rootfsID {
		m.base, m.prefix = root, ""
		return nil
	}
	inner, err := openInRoot(root, m.rootfs, unix.O_DIRECTORY)
	unix.Close(root)
	if err != nil {
		return m.errorf("rootfs %s is not the process's root, and not found below it: %w", m.rootfs, err)
	}
	if st, err = fstat(inner); err != nil || st.id != m.rootfsID {
		unix.Close(inner)
		return m.errorf("rootfs %s is neither the process's root nor mounted below it: %w", m.rootfs, ErrHostFilesystem)
	}
	m.base, m.prefix = inner, path.Clean(m.rootfs)
	return nil
}

func (m *marker) close() {
	if m.base > 0 {
		unix.Close(m.base)
		m.base = 0
	}
}

func readMountinfo(fs proc.FS, elem ...string) ([]*mountinfo.Info, error) {
	f, err := os.Open(fs.Path(elem...))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return mountinfo.GetMountsFromReader(f, nil)
}

// markMounts puts a mount mark on the mount at each destination and on
// every mount below it. It returns the marked destinations.
func (m *marker) markMounts(dests []string) ([]string, error) {
	if len(dests) == 0 {
		return nil, nil
	}
	own, err := readMountinfo(m.fs, "self", "mountinfo")
	if err != nil {
		return nil, m.errorf("reading the guard's mount table: %w", err)
	}
	hostIDs := map[uint64]bool{}
	for _, mi := range own {
		hostIDs[uint64(mi.ID)] = true
	}
	theirs, err := readMountinfo(m.fs, strconv.Itoa(m.pid), "mountinfo")
	if err != nil {
		return nil, m.errorf("reading the container's mount table: %w", err)
	}
	// Every destination, then the mounts below it, in the container's view.
	var all []string
	for _, d := range dests {
		d = path.Clean("/" + d)
		if d == "/" {
			continue // the rootfs: the filesystem mark covers it
		}
		all = append(all, d)
		for _, mi := range theirs {
			mp := mi.Mountpoint
			if m.prefix != "" {
				rest, ok := strings.CutPrefix(mp, m.prefix)
				if !ok || !strings.HasPrefix(rest, "/") {
					continue
				}
				mp = rest
			}
			if strings.HasPrefix(mp, d+"/") && !pseudoFS[mi.FSType] && !slices.Contains(all, mp) {
				all = append(all, mp)
			}
		}
	}
	done := map[uint64]bool{}
	var marked []string
	for _, d := range all {
		ok, err := m.markMount(d, hostIDs, done)
		if err != nil {
			return marked, err
		}
		if ok {
			marked = append(marked, d)
		}
	}
	return marked, nil
}

// markMount marks the mount at dest, a container path. It reports false
// for a destination that needs no mark of its own (on the rootfs, or a
// mount already marked).
func (m *marker) markMount(dest string, hostIDs, done map[uint64]bool) (bool, error) {
	fd, err := openInRoot(m.base, dest, 0)
	if err != nil {
		return false, m.errorf("resolving mount %s: %w", dest, err)
	}
	defer unix.Close(fd)
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID|unix.STATX_INO, &stx); err != nil {
		return false, m.errorf("statx of mount %s: %w", dest, err)
	}
	if m.rootMnt != 0 {
		if stx.Mnt_id == m.rootMnt {
			return false, nil // a directory of the root mount: already covered
		}
	} else if uint64(unix.Mkdev(stx.Dev_major, stx.Dev_minor)) == m.rootfsID.dev {
		return false, nil // a directory of the rootfs: already covered
	}
	if stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return false, m.errorf("mount %s: not a mount point", dest)
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 {
		return false, m.errorf("mount %s: the kernel reports no mount ID", dest)
	}
	if hostIDs[stx.Mnt_id] {
		return false, m.errorf("mount %s resolves to mount %d of the host: %w", dest, stx.Mnt_id, ErrHostMount)
	}
	if done[stx.Mnt_id] {
		return false, nil
	}
	if err := markFd(m.fan, unix.FAN_MARK_MOUNT, m.fs, fd); err != nil {
		return false, m.errorf("marking mount %s: %w", dest, err)
	}
	done[stx.Mnt_id] = true
	return true, nil
}
