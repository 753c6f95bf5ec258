package kill

import (
	"errors"
	"fmt"

	"github.com/confinehq/confine/monitor/proc"
	"golang.org/x/sys/unix"
)

// KillPidfd sends SIGKILL to process pid, but only if it is still the
// process that started at startTime (field 22 of /proc/PID/stat, clock ticks
// after boot; proc.Key.StartTime). It opens a pidfd first, then re-reads the
// start time: a pidfd keeps naming the process it was opened on, so if the
// start time read afterwards matches, the pidfd is the intended process (had
// that process died in between, the number could only have been reused by a
// later process with a later start time, and the signal to the dead pidfd
// fails harmlessly). A mismatch is ErrPidReused; a process already gone is
// ErrNoProcess. In neither case is anything signalled.
func KillPidfd(fs proc.FS, pid int, startTime uint64) error {
	return signalPidfd(fs, pid, startTime, unix.SIGKILL)
}

func signalPidfd(fs proc.FS, pid int, startTime uint64, sig unix.Signal) error {
	if pid <= 0 {
		return fmt.Errorf("killing pid %d: invalid pid", pid)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("killing pid %d: %w", pid, ErrNoProcess)
		}
		return fmt.Errorf("killing pid %d: opening pidfd: %w", pid, err)
	}
	defer unix.Close(fd)
	p, err := fs.Proc(pid)
	if err != nil {
		if errors.Is(err, proc.ErrNotExist) || errors.Is(err, proc.ErrGone) {
			return fmt.Errorf("killing pid %d: %w", pid, ErrNoProcess)
		}
		return fmt.Errorf("killing pid %d: reading start time: %w", pid, err)
	}
	if got := p.Key().StartTime; got != startTime {
		return fmt.Errorf("killing pid %d: started at %d, expected %d: %w", pid, got, startTime, ErrPidReused)
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("killing pid %d: %w", pid, ErrNoProcess)
		}
		return fmt.Errorf("killing pid %d: %w", pid, err)
	}
	return nil
}
