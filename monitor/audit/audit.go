// Package audit reads the kernel's SECCOMP audit records (type 1326) from
// the audit netlink multicast group: the trace a SCMP_ACT_LOG filter leaves
// for every syscall it logs. Learn mode uses it to record syscalls without
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
	"strings"

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

// Listen opens the audit multicast socket and delivers SECCOMP records
// until ctx is done. It needs CAP_AUDIT_READ.
func Listen(ctx context.Context, buf int) (<-chan Record, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return nil, fmt.Errorf("opening audit netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groupReadlog}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("joining the audit multicast group (needs CAP_AUDIT_READ): %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	// Without auditd the kernel holds at most audit_backlog_limit (64 by
	// default) records between its thread runs and drops the rest: a
	// learning burst would lose syscalls. Raise it (host-wide; auditd
	// setups usually set 8192 themselves).
	_ = setBacklogLimit(fd, BacklogLimit)
	// A receive timeout lets the loop notice ctx.
	tv := unix.Timeval{Sec: 0, Usec: 200000}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	out := make(chan Record, buf)
	go func() {
		defer close(out)
		defer unix.Close(fd)
		b := make([]byte, 1<<16)
		for ctx.Err() == nil {
			n, _, err := unix.Recvfrom(fd, b, 0)
			if err != nil {
				if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOBUFS) {
					continue
				}
				return
			}
			for _, r := range ParseMessages(b[:n]) {
				select {
				case out <- r:
				default: // never block the socket; the next rescan/learning run fills gaps
				}
			}
		}
	}()
	return out, nil
}

// ParseMessages parses one datagram: audit messages carry a 16-byte
// nlmsghdr whose length is not always netlink-aligned, so it is walked by
// hand.
func ParseMessages(b []byte) []Record {
	var out []Record
	for len(b) >= 16 {
		l := int(binary.NativeEndian.Uint32(b[0:4]))
		typ := binary.NativeEndian.Uint16(b[4:6])
		if l < 16 || l > len(b) {
			l = len(b)
		}
		if typ == typeSeccomp {
			if r, ok := ParseRecord(string(b[16:l])); ok {
				out = append(out, r)
			}
		}
		adv := (l + 3) &^ 3
		if adv > len(b) || adv == 0 {
			break
		}
		b = b[adv:]
	}
	return out
}

// ParseRecord reads "audit(...): auid=... pid=123 comm="sh" exe="/bin/x"
// sig=0 arch=c000003e syscall=83 compat=0 ip=... code=0x7ffc0000".
func ParseRecord(s string) (Record, bool) {
	var r Record
	var havePid, haveNr bool
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		switch k {
		case "pid":
			n, err := strconv.Atoi(v)
			if err == nil {
				r.PID, havePid = n, true
			}
		case "arch":
			n, err := strconv.ParseUint(v, 16, 32)
			if err == nil {
				r.Arch = uint32(n)
			}
		case "syscall":
			n, err := strconv.Atoi(v)
			if err == nil {
				r.Syscall, haveNr = n, true
			}
		case "exe":
			r.Exe = strings.Trim(v, `"`)
		}
	}
	return r, havePid && haveNr
}
