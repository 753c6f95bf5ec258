package daemon

import (
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/confinehq/confine/internal/glob"
	"github.com/confinehq/confine/monitor/bpfevents"
	"github.com/confinehq/confine/monitor/proc"
	"github.com/confinehq/confine/profiles"
)

// The exec fast path (bpf events only). An exec event carries what the
// exec and privilege rules judge: the invoked filename, the executable's
// device and inode as the kernel opened it (bprm->file), the uids and the
// effective capabilities. An exec whose invoked name matches exec.allow
// and whose executable is one of the files the profile's literal
// exec.allow paths named in the container's root is allowed from the
// event alone, with no system call. Anything else (a miss, a violation,
// learn mode, an exec-session policy, an event without CO-RE fields)
// takes the slow path, which reads /proc to confirm and acts on findings.
//
// Files and sockets are not in the event: the rescans sample them (and
// the fanotify guard, Landlock and nftables act on opens and connections
// in the kernel).
//
// What the inode set trusts: it is built from the container's root
// (/proc/PID/root of a process that exec'd in it) when the decision is
// first needed, so a file replaced at an allowed path afterwards (rename:
// a new inode) is judged by the slow path. Device and inode are those
// stat(2) reports through the container's root; on overlayfs with the
// layers on one filesystem (containerd's snapshotter) they are the
// overlay's device and the layer's inode, which the exec event reports
// too (TestExecFastPath checks it end to end). Where they differ the set
// never matches and every exec takes the slow path. A hard link to an
// allowed file, reached through an allowed invoked name, is allowed by the
// fast path where /proc (which names the link) would not: the file run is
// the allowed one either way.

// Labels of confine_exec_judged_total.
const (
	judgedByEvent = "event"
	judgedByProc  = "proc"
)

// execSetRetry is how soon an empty inode set is built again (the
// process it was built from may not have been in the container's root).
const execSetRetry = time.Second

// execSet is what an exec event alone proves allowed under one decision.
type execSet struct {
	dec    *decision
	inodes map[devIno]bool
	built  time.Time
}

type devIno struct{ dev, ino uint64 }

// watchedCgroup is one cgroup in the in-kernel filter.
type watchedCgroup struct {
	c *container
	// fast is the exec set of the container's current decision, built
	// and read by the event loop only.
	fast *execSet
}

// judgeFromEvent reports whether an exec event is allowed from what it
// carries alone (nothing else to do then). false sends it to the slow
// path.
func judgeFromEvent(w *watchedCgroup, ev bpfevents.Event) bool {
	if !ev.Full || ev.ExeIno == 0 || !filepath.IsAbs(ev.Filename) || filepath.Clean(ev.Filename) != ev.Filename {
		return false
	}
	c := w.c
	dec := c.decision()
	if dec == nil || dec.checker == nil || c.killed.Load() {
		return false
	}
	prof := dec.Profile
	if prof.Mode == profiles.ModeLearn || prof.EffectiveExecSessions() != profiles.ExecSessionsProfile {
		return false
	}
	set := w.fast
	if set == nil || set.dec != dec || !set.inodes[devIno{ev.ExeDev, ev.ExeIno}] {
		return false
	}
	snap := eventSnapshot(ev)
	return len(dec.checker.evaluate(&snap)) == 0
}

// eventSnapshot is what an exec event says of its process: the invoked
// name as the executable, the ids and capabilities, no files or sockets.
func eventSnapshot(ev bpfevents.Event) snapshot {
	return snapshot{
		PID: ev.TGID, StartTime: uint64(ev.StartTime / (10 * time.Millisecond)),
		Exe: ev.Filename, UID: ev.EUID, OtherUIDs: []uint32{ev.UID, ev.SUID, ev.FSUID}, CapEff: ev.CapEff,
	}
}

// refreshExecSet builds the container's exec set when its decision
// changed, from the root of pid (a process that just exec'd in the
// container). Called by the event loop after the slow path judged.
func refreshExecSet(fs proc.FS, w *watchedCgroup, pid int) {
	dec := w.c.decision()
	if dec == nil || !fastPathCandidate(dec.Profile) {
		return
	}
	if s := w.fast; s != nil && s.dec == dec && (len(s.inodes) > 0 || time.Since(s.built) < execSetRetry) {
		return
	}
	inodes, err := allowedInodes(fs, pid, dec.Profile.Exec.Allow)
	if err != nil {
		return // the process is gone: the next exec tries again
	}
	w.fast = &execSet{dec: dec, inodes: inodes, built: time.Now()}
}

// fastPathCandidate reports whether a profile's execs can ever be judged
// from the event: exec.allow restricts, and holds a literal path.
func fastPathCandidate(p *profiles.Profile) bool {
	if p == nil || p.Exec.Allow == nil || p.Mode == profiles.ModeLearn {
		return false
	}
	for _, a := range p.Exec.Allow {
		if glob.IsLiteral(a) {
			return true
		}
	}
	return false
}

// allowedInodes stats every literal exec.allow path inside the root of
// pid, following no symlink (the slow path judges the resolved name, so a
// symlink's target is not what its name allows), and returns the regular
// files found.
func allowedInodes(fs proc.FS, pid int, allow profiles.List) (map[devIno]bool, error) {
	root, err := fs.OpenRoot(pid)
	if err != nil {
		return nil, err
	}
	defer unix.Close(root)
	out := map[devIno]bool{}
	for _, a := range allow {
		if !glob.IsLiteral(a) || !filepath.IsAbs(a) {
			continue
		}
		fd, err := unix.Openat2(root, a, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			continue
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		unix.Close(fd)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
			out[devIno{st.Dev, st.Ino}] = true
		}
	}
	return out, nil
}
