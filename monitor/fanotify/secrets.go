package fanotify

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/confinehq/confine/monitor/proc"
	"github.com/confinehq/confine/monitor/secrets"
)

// SecretWatch reports opens of credential files (monitor/secrets) in one
// container. It is a notification group (FAN_CLASS_NOTIF): it never
// blocks or refuses anything, and it runs in every mode, next to or
// without a Guard.
//
// What is marked: each secret file found in the container when the watch
// starts gets an inode mark (FAN_OPEN), found by its container path below
// the container's root (through /proc/<pid>/root, RESOLVE_IN_ROOT, so
// volumes and bind mounts such as /run/secrets are found where the
// container sees them). The container's own /proc mount gets a mount mark
// (FAN_OPEN): an open of /proc/N/environ or /proc/N/mem of another process
// is a secret read. An inode mark holds the file's inode: a secret
// replaced by a new file (rename over it) or created after the start is
// not watched. Opens by processes of the watcher's own mount namespace
// (the host) are not reported.
type SecretWatch struct {
	cfg    SecretConfig
	log    *slog.Logger
	fs     proc.FS
	f      *os.File
	ownMnt string
	marked []string
	lost   atomic.Uint64
	done   chan struct{}
	once   sync.Once
}

// SecretConfig configures a SecretWatch.
type SecretConfig struct {
	// ID names the container in logs and errors.
	ID string
	// Pid is the container's init process (host PID namespace).
	Pid int
	// RootfsPath is the container's root file system as the host sees it.
	RootfsPath string
	// List is what is watched (the built-in list minus secrets.ignore).
	List *secrets.List
	// Report receives every secret read; it is called from the watch's
	// goroutine and must not block.
	Report func(SecretRead)
	// Log receives operational logs (default: discarded).
	Log *slog.Logger
	// Proc is the proc file system (default /proc).
	Proc proc.FS
}

// SecretRead is one open of a secret.
type SecretRead struct {
	// PID is the opener (host PID namespace), Exe its executable as the
	// container sees it ("" when it was gone before it could be read).
	PID int
	Exe string
	// Path is the file as the container names it.
	Path string
	// Lost, when non-zero, reports events the kernel dropped (queue
	// overflow) instead of a read.
	Lost uint64
}

// secretMask: notification of opens (files; /proc's directories are not
// of interest).
const secretMask = unix.FAN_OPEN

// WatchSecrets starts a SecretWatch. Call it at createRuntime (or on a
// running container after a restart) and Close it when the container is
// gone.
func WatchSecrets(cfg SecretConfig) (*SecretWatch, error) {
	if cfg.Pid <= 0 || cfg.RootfsPath == "" || cfg.List == nil || cfg.Report == nil {
		return nil, fmt.Errorf("secret watch for container %s: pid, rootfs, list and report are needed", cfg.ID)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	fs := cfg.Proc
	if fs == (proc.FS{}) {
		var err error
		if fs, err = proc.NewFS("/proc"); err != nil {
			return nil, fmt.Errorf("secret watch for container %s: %w", cfg.ID, err)
		}
	}
	ownMnt, err := os.Readlink(fs.Path("self", "ns", "mnt"))
	if err != nil {
		return nil, fmt.Errorf("secret watch for container %s: reading own mount namespace: %w", cfg.ID, err)
	}
	fan, err := unix.FanotifyInit(unix.FAN_CLASS_NOTIF|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK, unix.O_RDONLY|unix.O_LARGEFILE|unix.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("secret watch for container %s (pid %d): fanotify_init: %w", cfg.ID, cfg.Pid, err)
	}
	m := &marker{fan: fan, fs: fs, pid: cfg.Pid, id: cfg.ID, rootfs: cfg.RootfsPath, base: -1}
	defer m.close()
	marked, err := m.markSecrets(cfg.List.Patterns())
	if err != nil {
		unix.Close(fan)
		return nil, fmt.Errorf("secret watch: %w", err)
	}
	w := &SecretWatch{
		cfg: cfg, log: cfg.Log.With(logContainer, cfg.ID, logPID, cfg.Pid), fs: fs,
		f: os.NewFile(uintptr(fan), "fanotify-secrets"), ownMnt: ownMnt, marked: marked,
		done: make(chan struct{}),
	}
	go w.read()
	return w, nil
}

// Marked lists what is watched: the secret files found, and "/proc" when
// the container's /proc mount is marked.
func (w *SecretWatch) Marked() []string { return append([]string(nil), w.marked...) }

// Close stops the watch.
func (w *SecretWatch) Close() error {
	w.once.Do(func() { _ = w.f.Close() })
	<-w.done
	return nil
}

func (w *SecretWatch) read() {
	defer close(w.done)
	readGroup(w.f, func(events []rawEvent, perr error) bool {
		for _, e := range events {
			w.handle(e)
		}
		if perr != nil {
			w.log.Error("malformed fanotify events; secret reads may go unreported", logError, perr)
		}
		return true
	}, func(error) {
		// EMFILE and the like: the kernel drops the event.
		w.cfg.Report(SecretRead{Lost: 1})
	})
}

func (w *SecretWatch) handle(e rawEvent) {
	if e.mask&unix.FAN_Q_OVERFLOW != 0 || e.fd < 0 {
		if e.fd >= 0 {
			unix.Close(int(e.fd))
		}
		w.cfg.Report(SecretRead{Lost: 1})
		return
	}
	defer unix.Close(int(e.fd))
	pid := int(e.pid)
	spid := strconv.Itoa(pid)
	if mnt, err := os.Readlink(w.fs.Path(spid, "ns", "mnt")); err == nil && mnt == w.ownMnt {
		return // the host (containerd, confined) reading a rootfs
	}
	target, err := os.Readlink(w.fs.Path("self", "fd", strconv.Itoa(int(e.fd))))
	if err != nil {
		return
	}
	p, _ := splitDeleted(target)
	nsPid := 0
	if strings.HasPrefix(p, "/proc/") {
		if _, ok := secrets.ProcTarget(p); !ok {
			return // any other /proc file: the mount mark sees them all
		}
		nsPid = nsPidOf(w.fs, spid)
	}
	if !w.cfg.List.Match(p, nsPid) {
		return
	}
	exe, _ := os.Readlink(w.fs.Path(spid, "exe"))
	exe, _ = splitDeleted(exe)
	w.cfg.Report(SecretRead{PID: pid, Exe: exe, Path: p})
}

// nsPidOf is the PID of a process in its own (innermost) PID namespace,
// from the NSpid line of /proc/<pid>/status; 0 when unknown.
func nsPidOf(fs proc.FS, pid string) int {
	b, err := os.ReadFile(fs.Path(pid, "status"))
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("NSpid:")); ok {
			f := strings.Fields(string(rest))
			if len(f) == 0 {
				return 0
			}
			n, _ := strconv.Atoi(f[len(f)-1])
			return n
		}
	}
	return 0
}

// markSecrets finds the container's root, then marks each secret file
// that exists and the container's /proc mount.
func (m *marker) markSecrets(patterns []string) ([]string, error) {
	rfd, err := unix.Open(m.rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, m.errorf("opening rootfs %s: %w", m.rootfs, err)
	}
	st, err := fstat(rfd)
	unix.Close(rfd)
	if err != nil {
		return nil, m.errorf("stat of rootfs %s: %w", m.rootfs, err)
	}
	m.rootfsID = st.id
	if err := m.openBase(); err != nil {
		return nil, err
	}
	var marked []string
	for _, pat := range patterns {
		for _, p := range m.expand(pat) {
			fd, err := openInRoot(m.base, p, 0)
			if err != nil {
				continue
			}
			fst, err := fstat(fd)
			if err == nil && fst.mode&unix.S_IFMT == unix.S_IFREG {
				err = unix.FanotifyMark(m.fan, unix.FAN_MARK_ADD|unix.FAN_MARK_INODE, secretMask, unix.AT_FDCWD, m.fs.Path("self", "fd", strconv.Itoa(fd)))
				if err == nil {
					marked = append(marked, p)
				}
			}
			unix.Close(fd)
			if err != nil {
				return marked, m.errorf("marking secret %s: %w", p, err)
			}
		}
	}
	ok, err := m.markProc()
	if err != nil {
		return marked, err
	}
	if ok {
		marked = append(marked, "/proc")
	}
	return marked, nil
}

// markProc puts a mount mark on the container's own /proc mount.
func (m *marker) markProc() (bool, error) {
	fd, err := openInRoot(m.base, "/proc", unix.O_DIRECTORY)
	if err != nil {
		return false, nil // no /proc: nothing to watch
	}
	defer unix.Close(fd)
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil || sfs.Type != unix.PROC_SUPER_MAGIC {
		return false, nil
	}
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &stx); err != nil || stx.Mask&unix.STATX_MNT_ID == 0 {
		return false, m.errorf("statx of /proc: no mount ID")
	}
	own, err := readMountinfo(m.fs, "self", "mountinfo")
	if err != nil {
		return false, m.errorf("reading the watcher's mount table: %w", err)
	}
	for _, mi := range own {
		if uint64(mi.ID) == stx.Mnt_id {
			return false, m.errorf("/proc resolves to mount %d of the host: %w", stx.Mnt_id, ErrHostMount)
		}
	}
	if err := unix.FanotifyMark(m.fan, unix.FAN_MARK_ADD|unix.FAN_MARK_MOUNT, secretMask, unix.AT_FDCWD, m.fs.Path("self", "fd", strconv.Itoa(fd))); err != nil {
		return false, m.errorf("marking /proc: %w", err)
	}
	return true, nil
}

// expand lists the container paths a pattern (`*` within a segment)
// names, reading directories below the container's root; a literal
// pattern is returned as is.
func (m *marker) expand(pattern string) []string {
	segs := strings.Split(strings.TrimPrefix(path.Clean(pattern), "/"), "/")
	cur := []string{"/"}
	for _, seg := range segs {
		var next []string
		for _, dir := range cur {
			if !strings.ContainsAny(seg, "*?[") {
				next = append(next, path.Join(dir, seg))
				continue
			}
			for _, name := range m.readDir(dir) {
				if ok, _ := path.Match(seg, name); ok {
					next = append(next, path.Join(dir, name))
				}
			}
		}
		cur = next
		if len(cur) > 4096 {
			cur = cur[:4096] // a hostile image's /home with a million users
		}
	}
	return cur
}

// readDir lists a container directory (the watcher's own open: the host's,
// never reported).
func (m *marker) readDir(dir string) []string {
	name := strings.TrimPrefix(path.Clean("/"+dir), "/")
	if name == "" {
		name = "."
	}
	fd, err := unix.Openat2(m.base, name, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	names, _ := f.Readdirnames(4096)
	return names
}
