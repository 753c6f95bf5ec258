package kill

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Bounds of the fallback path (no cgroup.kill).
const (
	// freezeWait bounds the wait for a freeze to complete. A task in
	// uninterruptible sleep can hold a freeze up indefinitely; the kill
	// goes ahead unfrozen (with repeated sweeps) rather than wait.
	freezeWait = 100 * time.Millisecond
	// maxSweeps bounds the sweeps over cgroup.procs; a fork bomb that keeps
	// producing new processes faster than they are killed ends in an error.
	maxSweeps = 1000
)

// KillCgroup sends SIGKILL to every process in the cgroup directory path
// and its descendants, and returns once every one of them has been
// signalled (not necessarily reaped; see Wait).
//
// With cgroup.kill (cgroup v2, Linux >= 5.14) that is one write, and the
// kernel also catches processes forked concurrently. Otherwise the cgroup is
// frozen (v2 cgroup.freeze or the v1 freezer) so it cannot fork, every
// process in cgroup.procs is opened as a pidfd, re-checked to still be in
// the cgroup, signalled through the pidfd, and the cgroup is thawed; sweeps
// repeat until no unsignalled process is left.
//
// The caller must not be inside the cgroup. A path that does not exist is
// ErrNoCgroup.
func KillCgroup(path string) error { return killCgroup(path, true) }

func killCgroup(path string, useKillFile bool) error {
	var killErr error
	if useKillFile {
		// The fast path first: a hierarchy root has no cgroup.kill, so
		// this cannot hit the whole host.
		err := writeCgroupFile(path, "cgroup.kill", "1")
		if err == nil {
			return nil
		}
		if !notExist(err) {
			killErr = fmt.Errorf("writing %s/cgroup.kill: %w", path, err) // present but refused: try the slow way too
		}
	}
	if err := checkCgroupDir(path); err != nil {
		return err
	}
	if err := sweepFrozen(path); err != nil {
		if killErr != nil {
			return fmt.Errorf("%w; fallback: %w", killErr, err)
		}
		return err
	}
	return nil
}

// checkCgroupDir refuses what is not a non-root cgroup directory: killing a
// hierarchy root would kill the whole host.
func checkCgroupDir(path string) error {
	if _, err := os.Stat(filepath.Join(path, "cgroup.procs")); err != nil {
		if notExist(err) {
			return fmt.Errorf("killing cgroup %s: %w", path, ErrNoCgroup)
		}
		return fmt.Errorf("killing cgroup %s: %w", path, err)
	}
	if !exists(filepath.Join(filepath.Dir(filepath.Clean(path)), "cgroup.procs")) {
		return fmt.Errorf("killing cgroup %s: refusing to kill a hierarchy root", path)
	}
	return nil
}

// freezer is how a cgroup is frozen and thawed.
type freezer struct {
	file, freeze, thaw string
}

var (
	freezerV2 = freezer{file: "cgroup.freeze", freeze: "1", thaw: "0"}
	freezerV1 = freezer{file: "freezer.state", freeze: "FROZEN", thaw: "THAWED"}
)

// sweepFrozen is the fallback kill: freeze, signal every process through a
// pidfd, thaw, and sweep again for stragglers.
func sweepFrozen(path string) (err error) {
	var fz *freezer
	switch {
	case exists(filepath.Join(path, freezerV2.file)):
		fz = &freezerV2
	case exists(filepath.Join(path, freezerV1.file)):
		fz = &freezerV1
	}
	s := &sweeper{path: path, self: os.Getpid(), fds: map[int]int{}}
	defer s.close()
	// Never freeze ourselves: nobody would be left to thaw.
	pids, err := procsTree(path)
	if err != nil {
		return err
	}
	if slices.Contains(pids, s.self) {
		return fmt.Errorf("killing cgroup %s: refusing, this process (pid %d) is in it", path, s.self)
	}
	if fz != nil {
		if err := writeCgroupFile(path, fz.file, fz.freeze); err != nil {
			if notExist(err) {
				return fmt.Errorf("freezing cgroup %s: %w", path, ErrNoCgroup)
			}
			return fmt.Errorf("freezing cgroup %s: %w", path, err)
		}
		defer func() {
			if terr := writeCgroupFile(path, fz.file, fz.thaw); terr != nil && !notExist(terr) && err == nil {
				err = fmt.Errorf("thawing cgroup %s: %w", path, terr)
			}
		}()
		waitFrozen(path, fz)
		// Frozen (or as good as it gets): one sweep catches everything
		// that cannot fork any more.
		if _, err := s.sweep(); err != nil {
			return err
		}
		if err := writeCgroupFile(path, fz.file, fz.thaw); err != nil && !notExist(err) {
			return fmt.Errorf("thawing cgroup %s: %w", path, err)
		}
	}
	// Thawed (or never frozen): sweep until a sweep finds nothing new.
	for i := 0; i < maxSweeps; i++ {
		n, err := s.sweep()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
	return fmt.Errorf("killing cgroup %s: new processes still appearing after %d sweeps", path, maxSweeps)
}

// waitFrozen waits, at most freezeWait, for a freeze to take effect.
func waitFrozen(path string, fz *freezer) {
	ctx, cancel := context.WithTimeout(context.Background(), freezeWait)
	defer cancel()
	if fz == &freezerV2 {
		_ = waitEvent(ctx, path, "frozen", "1")
		return
	}
	for start, d := time.Now(), 20*time.Microsecond; ctx.Err() == nil; d = backoff(start, d) {
		b, err := os.ReadFile(filepath.Join(path, "freezer.state"))
		if err != nil || string(bytes.TrimSpace(b)) == "FROZEN" {
			return
		}
		time.Sleep(d)
	}
}

// waitEvent waits until key has value want in the cgroup.events file of
// the v2 cgroup at path, or ctx is done. kernfs wakes poll(2) with POLLPRI
// when the file changes, so this reacts at once instead of polling on a
// timer. A cgroup that disappears counts as having reached any state.
func waitEvent(ctx context.Context, path, key, want string) error {
	f, err := os.OpenFile(filepath.Join(path, "cgroup.events"), os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		if notExist(err) {
			return nil
		}
		return fmt.Errorf("watching cgroup %s: %w", path, err)
	}
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("watching cgroup %s: %w", path, err)
	}
	buf := make([]byte, 256)
	for start, d := time.Now(), 20*time.Microsecond; ; {
		// Reading re-arms the notification; read before checking so no
		// change between the check and the poll is missed.
		n, err := f.ReadAt(buf, 0)
		if err != nil && !errors.Is(err, io.EOF) {
			if notExist(err) {
				return nil
			}
			return fmt.Errorf("reading cgroup %s/cgroup.events: %w", path, err)
		}
		if keyValue(buf[:n], key) == want {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("waiting for %s %s in cgroup %s: %w", key, want, path, err)
		}
		// kernfs wakes POLLPRI on a change, but cgroup rate-limits these
		// notifications to one per 10 ms per file: also wake on a short,
		// growing timer.
		ts := unix.NsecToTimespec(int64(d))
		d = backoff(start, d)
		var perr error
		cerr := rc.Control(func(fd uintptr) {
			p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLPRI}}
			_, perr = unix.Ppoll(p, &ts, nil)
		})
		if cerr != nil {
			return fmt.Errorf("watching cgroup %s: %w", path, cerr)
		}
		if perr != nil && perr != unix.EINTR {
			return fmt.Errorf("watching cgroup %s: %w", path, perr)
		}
	}
}

// backoff returns the next re-check interval of a wait that began at
// start: doubling from d, at most 250µs for the first 50 ms (processes
// killed by SIGKILL are normally gone within a few ms, and this runs only
// while a kill is being completed), then at most 5 ms.
func backoff(start time.Time, d time.Duration) time.Duration {
	limit := 250 * time.Microsecond
	if time.Since(start) > 50*time.Millisecond {
		limit = 5 * time.Millisecond
	}
	return min(2*d, limit)
}

// sweeper signals processes of a cgroup tree through pidfds, remembering
// which it signalled.
type sweeper struct {
	path string
	self int
	// fds maps a pid to the pidfd through which it was signalled. A pid
	// listed again while that pidfd reports an exit is a new process that
	// reused the number.
	fds map[int]int
}

func (s *sweeper) close() {
	for _, fd := range s.fds {
		unix.Close(fd)
	}
}

// sweep signals every process of the tree not signalled yet and returns how
// many it signalled.
func (s *sweeper) sweep() (int, error) {
	pids, err := procsTree(s.path)
	if err != nil {
		return 0, err
	}
	opened := map[int]int{}
	for _, pid := range pids {
		if pid == s.self {
			for _, fd := range opened {
				unix.Close(fd)
			}
			return 0, fmt.Errorf("killing cgroup %s: refusing, this process (pid %d) is in it", s.path, pid)
		}
		if fd, ok := s.fds[pid]; ok {
			if !exited(fd) {
				continue // signalled, still dying
			}
			unix.Close(fd)
			delete(s.fds, pid)
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // ESRCH: gone since the listing
		}
		opened[pid] = fd
	}
	if len(opened) == 0 {
		return 0, nil
	}
	// A pid read from cgroup.procs may have been reused between the read and
	// pidfd_open. A pidfd whose process is still listed now is in the
	// cgroup: had its process been replaced, it would be dead and the
	// signal a harmless ESRCH.
	again, err := procsTree(s.path)
	if err != nil {
		for _, fd := range opened {
			unix.Close(fd)
		}
		return 0, err
	}
	still := make(map[int]bool, len(again))
	for _, pid := range again {
		still[pid] = true
	}
	n := 0
	for pid, fd := range opened {
		if !still[pid] {
			unix.Close(fd)
			continue
		}
		if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
			unix.Close(fd)
			return n, fmt.Errorf("killing pid %d of cgroup %s: %w", pid, s.path, err)
		}
		s.fds[pid] = fd
		n++
	}
	return n, nil
}

// exited reports whether the process of pidfd fd has exited: a pidfd
// polls readable once it has.
func exited(fd int) bool {
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(p, 0)
	return err == nil && n > 0 && p[0].Revents&(unix.POLLIN|unix.POLLHUP) != 0
}

// procsTree lists the processes of the cgroup at path and of every cgroup
// below it.
func procsTree(path string) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if notExist(err) { // removed while walking: empty
				if p == path {
					return fs.SkipAll
				}
				return fs.SkipDir
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		b, err := readCgroupFile(p, "cgroup.procs")
		if err != nil {
			if notExist(err) {
				return fs.SkipDir
			}
			return err
		}
		got, err := parsePids(b)
		if err != nil {
			return fmt.Errorf("%s/cgroup.procs: %w", p, err)
		}
		pids = append(pids, got...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing processes of cgroup %s: %w", path, err)
	}
	return pids, nil
}

// parsePids parses the contents of cgroup.procs: one decimal pid a line.
func parsePids(b []byte) ([]int, error) {
	var pids []int
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		pid, err := strconv.Atoi(string(line))
		if err != nil || pid <= 0 {
			return pids, fmt.Errorf("bad pid %q", line)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// keyValue returns the value of key in a flat keyed file such as
// cgroup.events ("populated 1\nfrozen 0\n"), "" when absent.
func keyValue(b []byte, key string) string {
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		k, v, ok := bytes.Cut(bytes.TrimSpace(line), []byte{' '})
		if ok && string(k) == key {
			return string(bytes.TrimSpace(v))
		}
	}
	return ""
}

// Wait blocks until no process is left in the cgroup at path or below it
// (zombies do not count: they no longer run), or until ctx is done. A
// cgroup that no longer exists is empty. On cgroup v2 it sleeps in poll(2)
// on cgroup.events and wakes as soon as the cgroup empties; on v1 it
// re-reads cgroup.procs with a short backoff.
func Wait(ctx context.Context, path string) error {
	if exists(filepath.Join(path, "cgroup.events")) {
		return waitEvent(ctx, path, "populated", "0")
	}
	for start, d := time.Now(), 20*time.Microsecond; ; d = backoff(start, d) {
		pids, err := procsTree(path)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for cgroup %s to empty: %w", path, ctx.Err())
		case <-t.C:
		}
	}
}

// writeCgroupFile writes value to the control file name of cgroup dir with
// a single write, as cgroupfs expects.
func writeCgroupFile(dir, name, value string) error {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(value)
	cerr := f.Close()
	if werr != nil {
		return werr
	}
	return cerr
}

// readCgroupFile reads a cgroup control file without trusting its size.
func readCgroupFile(dir, name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(dir, name)) // os.ReadFile reads to EOF
}
