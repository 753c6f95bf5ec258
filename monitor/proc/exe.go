package proc

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// deletedSuffix is what d_path appends to an unlinked file's path.
const deletedSuffix = " (deleted)"

// memfdPrefix starts the path of a memfd_create file: "/memfd:NAME (deleted)".
const memfdPrefix = "/memfd:"

// Exe is a process's executable as /proc/PID/exe shows it.
type Exe struct {
	// Path is the link target without the " (deleted)" suffix.
	Path string
	// Deleted is set when the file was unlinked after exec (or, for a
	// memfd, always): fileless code.
	Deleted bool
	// Memfd is set for an executable run from memfd_create memory; Path
	// is then "/memfd:NAME".
	Memfd bool
}

// Fileless reports an executable that is not a file on disk any more.
func (e Exe) Fileless() bool { return e.Deleted || e.Memfd }

// parseExeLink interprets the target of /proc/PID/exe, for example
// "/bin/busybox", "/tmp/busybox (deleted)" or "/memfd:payload (deleted)"
// (all three captured on kernel 6.18, see testdata/proc/README.md). A file
// whose name really ends in " (deleted)" is reported as deleted: the kernel
// gives no way to tell, and erring that way is safe for a fileless check.
func parseExeLink(target string) Exe {
	e := Exe{Path: target}
	if p, ok := strings.CutSuffix(target, deletedSuffix); ok {
		e.Path, e.Deleted = p, true
	}
	if strings.HasPrefix(e.Path, memfdPrefix) {
		e.Memfd = true
	}
	return e
}

// ContainerPath turns a path read by the host from /proc/PID/exe,
// /proc/PID/fd/N or /proc/PID/cwd into the path as seen inside the
// container whose root directory, read by the host from
// /proc/<container init>/root, is containerRoot.
//
// What the kernel prints (d_path) is the path from the *reader's* root if
// the file is reachable from it, and otherwise the path from the root of
// the mount namespace the file is mounted in. Measured on kernel 6.18 with
// runc 1.1.5 (ctr run --rootfs, busybox):
//
//	runc container (pivot_root):       exe "/bin/busybox"          root "/"
//	runc container (--no-pivot):       exe "/bin/busybox"          root "/"
//	chroot inside that container:      exe "/tmp/jail/bin/busybox" root "/tmp/jail"
//	host chroot /tmp/x:                exe "/tmp/x/bin/busybox"    root "/tmp/x"
//	unshare -m --root=/tmp/x (chroot): exe "/tmp/x/bin/busybox"    root "/tmp/x"
//
// So for runc containers the host already reads the container's view and
// containerRoot is "/": the path is returned unchanged. Only when the
// container's root is reachable from the host (a chroot-style sandbox in
// the host's mount tree) is the root's prefix stripped. The reference is
// the container's root, not the process's own: a process that chroots
// inside the container keeps its full path ("/tmp/jail/bin/busybox"), so a
// chroot cannot make a planted binary look like an allowed one.
//
// Paths that do not start with "/" (pipe:[N], socket:[N], anon_inode:...)
// and paths outside containerRoot are returned unchanged.
func ContainerPath(containerRoot, path string) string {
	if containerRoot == "" || containerRoot == "/" || !strings.HasPrefix(path, "/") {
		return path
	}
	root := strings.TrimSuffix(containerRoot, "/")
	if path == root {
		return "/"
	}
	if rest, ok := strings.CutPrefix(path, root); ok && strings.HasPrefix(rest, "/") {
		return rest
	}
	return path
}

// parseNSLink parses a namespace link target such as "net:[4026531992]".
func parseNSLink(target string) (kind string, inode uint64, err error) {
	kind, rest, ok := strings.Cut(target, ":[")
	if !ok || kind == "" || !strings.HasSuffix(rest, "]") {
		return "", 0, fmt.Errorf("namespace link %q: want KIND:[INODE]: %w", target, ErrParse)
	}
	inode, err = strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("namespace link %q: bad inode: %w", target, ErrParse)
	}
	return kind, inode, nil
}

// ExeDetached reports whether the process's executable lives on a mount
// that is in no mount table the process can see: a mount created with
// open_tree/fsmount and never attached. runc 1.2 and later run their init
// from such a mount (a sealed overlay copy of runc, /proc/PID/exe reading
// "/runc"); a workload's own files are on its mounts.
func (p Proc) ExeDetached() (bool, error) {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, p.path("exe"), 0, unix.STATX_MNT_ID, &stx); err != nil {
		return false, p.fail("exe", err)
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 {
		return false, fmt.Errorf("reading exe of process %d: the kernel gave no mount id", p.key.PID)
	}
	b, err := p.readFile("mountinfo")
	if err != nil {
		return false, err
	}
	return !mountListed(b, stx.Mnt_id), nil
}

// mountListed reports whether a /proc/PID/mountinfo text has a line for
// mount id (its first field).
func mountListed(mountinfo []byte, id uint64) bool {
	want := strconv.FormatUint(id, 10)
	for _, line := range strings.Split(string(mountinfo), "\n") {
		if f, _, ok := strings.Cut(line, " "); ok && f == want {
			return true
		}
	}
	return false
}
