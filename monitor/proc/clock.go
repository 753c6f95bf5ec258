package proc

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// userHZ is the unit of the start time in /proc/PID/stat: USER_HZ, 100 on
// every architecture Linux exposes to user space through /proc.
const userHZ = 100

// StartedAfter reports whether a process whose /proc/PID/stat start time
// is startTicks started after t, a CLOCK_MONOTONIC time (the clock of
// proc connector events). It tells a process that took over a PID from
// the one an event was about: a process started after the event cannot
// be the one the event saw. The start time counts CLOCK_BOOTTIME (which
// includes suspend) in 10 ms ticks, rounded down, so the answer is false
// when the two are within a tick: "can't tell" is treated as "the same".
func StartedAfter(startTicks uint64, t time.Duration) bool {
	// A stale (too small) suspend time can only make a process look
	// later: a "yes" is confirmed with fresh clocks.
	return startedAfter(startTicks, t, suspendedTime(false)) && startedAfter(startTicks, t, suspendedTime(true))
}

// The time spent suspended changes only across a suspend: it is read
// again at most once a second, not for every event, or when fresh.
var suspended struct {
	sync.Mutex
	value time.Duration
	read  time.Time
}

func suspendedTime(fresh bool) time.Duration {
	suspended.Lock()
	defer suspended.Unlock()
	if fresh || suspended.read.IsZero() || time.Since(suspended.read) > time.Second {
		var boot, mono unix.Timespec
		if unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot) == nil && unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono) == nil {
			suspended.value, suspended.read = time.Duration(boot.Nano()-mono.Nano()), time.Now()
		}
	}
	return suspended.value
}

// startedAfter is StartedAfter with the time spent suspended
// (CLOCK_BOOTTIME - CLOCK_MONOTONIC) given.
func startedAfter(startTicks uint64, t, suspended time.Duration) bool {
	start := time.Duration(startTicks)*(time.Second/userHZ) - suspended
	return start > t
}
