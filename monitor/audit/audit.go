// Package audit reads the kernel's audit records from the audit netlink
// multicast group, on one socket, and hands each to its consumer by type:
// SECCOMP records (type 1326), the trace a SCMP_ACT_LOG filter leaves for
// every syscall it logs, and Landlock denials (types 1423/1424). Learn mode uses it to record syscalls without
// stopping the process (seccomp user notification would make a trapped
// syscall fail with EINTR when a signal arrives meanwhile). Measured on
// these machines: a NETLINK_AUDIT socket bound to group 1 received all
// 10,001 records where /dev/kmsg got 10 (rate-limited).
package audit

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// BacklogLimit is the audit backlog confined asks the kernel for.
const BacklogLimit = 16384

// setBacklogLimit sends AUDIT_SET with AUDIT_STATUS_BACKLOG_LIMIT.
func setBacklogLimit(fd int, limit uint32) error {
	const auditSet = 1001
	const statusBacklogLimit = 0x0010
	status := make([]byte, 40) // struct audit_status, zero but mask and limit
	binary.NativeEndian.PutUint32(status[0:4], statusBacklogLimit)
	binary.NativeEndian.PutUint32(status[20:24], limit)
	msg := make([]byte, 16+len(status))
	binary.NativeEndian.PutUint32(msg[0:4], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:6], auditSet)
	binary.NativeEndian.PutUint16(msg[6:8], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(msg[8:12], 1)
	copy(msg[16:], status)
	return unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
}

// Audit record type of a seccomp action that logs (AUDIT_SECCOMP).
const typeSeccomp = 1326

// groupReadlog is AUDIT_NLGRP_READLOG.
const groupReadlog = 1

// Record is one SECCOMP audit record.
type Record struct {
	PID     int
	Arch    uint32 // AUDIT_ARCH_*, e.g. 0xc000003e for x86_64
	Syscall int
	Exe     string
}

// Options says which records Listen delivers; a zero buffer leaves that
// kind out (its records are not even parsed).
type Options struct {
	SeccompBuf  int
	LandlockBuf int
	// Domains are Landlock domains known from before (a restart).
	Domains []Domain
}

// Streams are Listen's outputs; a kind left out has a nil channel. They
// are closed when ctx is done or the socket fails. A full channel drops
// the record (the socket is never left unread): Dropped counts them.
type Streams struct {
	Seccomp  <-chan Record
	Landlock <-chan LandlockDenial
	Dropped  *atomic.Uint64
	// LastSerial is the highest audit serial received so far (0: none).
	LastSerial func() uint64
	// Domains are the live Landlock domains known so far.
	Domains func() []Domain
}

// Listen opens the one audit multicast socket confined reads and
// delivers, by record type, SECCOMP records and Landlock denials until ctx
// is done. It needs CAP_AUDIT_READ. Landlock records arrive only while
// audit is enabled (see EnableAudit).
func Listen(ctx context.Context, o Options) (Streams, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return Streams{}, fmt.Errorf("opening audit netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groupReadlog}); err != nil {
		unix.Close(fd)
		return Streams{}, fmt.Errorf("joining the audit multicast group (needs CAP_AUDIT_READ): %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	// Without auditd the kernel holds at most audit_backlog_limit (64 by
	// default) records between its thread runs and drops the rest: a
	// learning burst would lose syscalls. Raise it (host-wide; auditd
	// setups usually set 8192 themselves).
	_ = setBacklogLimit(fd, BacklogLimit)
	// A receive timeout lets the loop notice ctx and expire Landlock
	// denials whose domain record never came.
	tv := unix.Timeval{Sec: 0, Usec: 200000}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)

	var s Streams
	s.Dropped = new(atomic.Uint64)
	var sc chan Record
	var ll chan LandlockDenial
	var c Consumers
	if o.SeccompBuf > 0 {
		sc = make(chan Record, o.SeccompBuf)
		s.Seccomp = sc
		c.Seccomp = sendOrDrop(sc, s.Dropped)
	}
	if o.LandlockBuf > 0 {
		ll = make(chan LandlockDenial, o.LandlockBuf)
		s.Landlock = ll
		c.Landlock = sendOrDrop(ll, s.Dropped)
	}
	m := NewDemux(c)
	m.SeedDomains(o.Domains)
	s.LastSerial, s.Domains = m.LastSerial, m.Domains
	go func() {
		defer func() {
			if sc != nil {
				close(sc)
			}
			if ll != nil {
				close(ll)
			}
		}()
		defer unix.Close(fd)
		b := make([]byte, 1<<16)
		for ctx.Err() == nil {
			n, _, err := unix.Recvfrom(fd, b, 0)
			now := time.Now()
			m.Tick(now)
			if err != nil {
				if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOBUFS) {
					continue
				}
				return
			}
			for _, msg := range SplitMessages(b[:n]) {
				m.Message(msg, now)
			}
		}
	}()
	return s, nil
}

// sendOrDrop sends to ch without blocking the socket's reader; a full
// channel drops the record and counts it (the next learning run fills a
// syscall's gap).
func sendOrDrop[T any](ch chan<- T, dropped *atomic.Uint64) func(T) {
	return func(v T) {
		select {
		case ch <- v:
		default:
			dropped.Add(1)
		}
	}
}

// Consumers receive records by kind; a nil one is not fed. They are called
// from the reader and must not block.
type Consumers struct {
	Seccomp  func(Record)
	Landlock func(LandlockDenial)
}

// landlockExpiry is how long a Landlock denial waits for its domain's
// "allocated" record before it is delivered without a creator.
const landlockExpiry = 2 * time.Second

// Demux hands each record to the consumer of its type: the one place
// records are told apart, whatever the source (the multicast socket, or
// the kernel log on a later start).
type Demux struct {
	c      Consumers
	ll     *landlockJoiner
	serial atomic.Uint64
}

// Domains lists the Landlock domains whose creator is known.
func (m *Demux) Domains() []Domain {
	if m.ll == nil {
		return nil
	}
	return m.ll.snapshot()
}

// SeedDomains adds domains known from before (a restart).
func (m *Demux) SeedDomains(ds []Domain) {
	if m.ll != nil {
		m.ll.seed(ds)
	}
}

// LastSerial is the highest audit serial of a record dispatched so far.
func (m *Demux) LastSerial() uint64 { return m.serial.Load() }

// NewDemux returns a demultiplexer feeding c.
func NewDemux(c Consumers) *Demux {
	m := &Demux{c: c}
	if c.Landlock != nil {
		m.ll = newLandlockJoiner(c.Landlock)
	}
	return m
}

// Message dispatches one record received at now.
func (m *Demux) Message(msg Message, now time.Time) {
	if st, _, ok := ParseStamp(msg.Body); ok {
		for {
			cur := m.serial.Load()
			if st.Serial <= cur || m.serial.CompareAndSwap(cur, st.Serial) {
				break
			}
		}
	}
	switch msg.Type {
	case typeSeccomp:
		if m.c.Seccomp == nil {
			return
		}
		if r, ok := ParseRecord(msg.Body); ok {
			m.c.Seccomp(r)
		}
	case typeLandlockAccess:
		if m.ll == nil {
			return
		}
		if d, ok := ParseLandlockAccess(msg.Body); ok {
			m.ll.access(d, now)
		}
	case typeLandlockDomain:
		if m.ll == nil {
			return
		}
		if d, ok := parseLandlockDomain(msg.Body); ok {
			m.ll.domain(d)
		}
	}
}

// Tick delivers Landlock denials whose domain record has not come in time.
func (m *Demux) Tick(now time.Time) {
	if m.ll != nil {
		m.ll.expire(now, landlockExpiry)
	}
}

// ParseMessages returns the SECCOMP records of one datagram.
func ParseMessages(b []byte) []Record {
	var out []Record
	m := NewDemux(Consumers{Seccomp: func(r Record) { out = append(out, r) }})
	for _, msg := range SplitMessages(b) {
		m.Message(msg, time.Time{})
	}
	return out
}

// ParseRecord reads "audit(...): auid=... pid=123 comm="sh" exe="/bin/x"
// sig=0 arch=c000003e syscall=83 compat=0 ip=... code=0x7ffc0000".
func ParseRecord(s string) (Record, bool) {
	var r Record
	var havePid, haveNr bool
	forEachField(s, func(k, v string) {
		switch k {
		case "pid":
			if n, err := strconv.Atoi(v); err == nil {
				r.PID, havePid = n, true
			}
		case "arch":
			if n, err := strconv.ParseUint(v, 16, 32); err == nil {
				r.Arch = uint32(n)
			}
		case "syscall":
			if n, err := strconv.Atoi(v); err == nil {
				r.Syscall, haveNr = n, true
			}
		case "exe":
			r.Exe = unquote(v)
		}
	})
	return r, havePid && haveNr
}
