package audit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// KmsgPath is the kernel log device.
const KmsgPath = "/dev/kmsg"

// Missed is what the kernel log kept of the audit records a reader did
// not receive: while no audit daemon is registered and audit is enabled,
// the kernel prints every record to its log, rate-limited (10 per 5 s by
// default; what the limit drops is a "callbacks suppressed" count).
type Missed struct {
	// Msgs are the records with a serial above the last one seen and a
	// time before the reader started again, in order.
	Msgs []Message
	// Lost counts records the log did not keep: suppressed by the rate
	// limit, or overwritten in the log's ring before they were read.
	Lost int
	// Complete says the count is final: the rate limit's notice for the
	// interval holding before was seen, or a record printed a whole
	// interval later shows nothing was suppressed then. The kernel prints
	// a "callbacks suppressed" notice only at the first print of the next
	// interval, so a read soon after a restart may have to be repeated.
	Complete bool
}

// RatelimitInterval is the kernel log's rate-limit interval
// (/proc/sys/kernel/printk_ratelimit, 5 s by default).
func RatelimitInterval() time.Duration {
	b, err := os.ReadFile("/proc/sys/kernel/printk_ratelimit")
	if err != nil {
		return 5 * time.Second
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return 5 * time.Second
	}
	return time.Duration(n) * time.Second
}

// ReadMissed reads the kernel log (KmsgPath, or a file of its records for
// tests) for audit records with a serial above after, logged from since
// and before before. Suppression notices count as lost only after the
// last record already seen (the ones before concern records the reader
// got).
func ReadMissed(path string, after uint64, since, before time.Time, interval time.Duration) (Missed, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return Missed{}, fmt.Errorf("opening %s: %w", path, err)
	}
	defer unix.Close(fd)
	var m Missed
	var pending []byte
	done := false
	line := func(rec string) {
		k, ok := ParseKmsg(rec)
		if !ok || m.Complete {
			return
		}
		if k.Msg.Type == 0 {
			m.Lost += k.Suppressed
			if done {
				m.Complete = true
			}
			return
		}
		st, _, ok := ParseStamp(k.Msg.Body)
		if !ok {
			return
		}
		at := time.Unix(st.Sec, int64(st.Msec)*int64(time.Millisecond))
		if done {
			if !at.Before(before.Add(interval)) {
				m.Complete = true
			}
			return
		}
		if st.Serial <= after || at.Before(since) {
			m.Msgs, m.Lost = m.Msgs[:0], 0
			return
		}
		if !at.Before(before) {
			done = true // the running reader receives these
			return
		}
		m.Msgs = append(m.Msgs, k.Msg)
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EPIPE) {
			m.Lost++ // overwritten in the ring before it was read
			continue
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.EAGAIN) || (err == nil && n == 0) {
			break
		}
		if err != nil {
			return m, fmt.Errorf("reading %s: %w", path, err)
		}
		// /dev/kmsg gives one record per read; a file, many lines.
		// Continuation lines (" KEY=value") are not records.
		pending = append(pending, buf[:n]...)
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			if rec := pending[:i]; len(rec) > 0 && rec[0] != ' ' {
				line(string(rec))
			}
			pending = pending[i+1:]
		}
	}
	if len(pending) > 0 && pending[0] != ' ' {
		line(string(pending))
	}
	return m, nil
}
