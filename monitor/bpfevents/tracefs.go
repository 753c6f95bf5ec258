package bpfevents

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tracefsMagic is TRACEFS_MAGIC from linux/magic.h.
const tracefsMagic = 0x74726163

// tracepointIDs returns the perf event id of each "group/name" tracepoint.
// It reads them from a mounted tracefs; when none is mounted (no systemd
// mounts one here) it mounts a private one in a temporary directory for the
// duration of the read and leaves nothing behind.
func tracepointIDs(names []string) (map[string]uint64, error) {
	for _, dir := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
		var st unix.Statfs_t
		if unix.Statfs(dir, &st) == nil && st.Type == tracefsMagic {
			return readIDs(dir, names)
		}
	}
	dir, err := os.MkdirTemp("", "confine-tracefs-")
	if err != nil {
		return nil, fmt.Errorf("mounting tracefs: %w", err)
	}
	defer os.Remove(dir)
	if err := unix.Mount("tracefs", dir, "tracefs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return nil, fmt.Errorf("mounting tracefs on %s: %w", dir, err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	return readIDs(dir, names)
}

func readIDs(dir string, names []string) (map[string]uint64, error) {
	ids := make(map[string]uint64, len(names))
	for _, n := range names {
		p := filepath.Join(dir, "events", n, "id")
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading tracepoint id: %w", err)
		}
		id, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("reading tracepoint id %s: %w", p, err)
		}
		ids[n] = id
	}
	return ids, nil
}

// openTracepoint opens a perf event for tracepoint id, to attach a BPF
// program to (the program then runs on every CPU).
func openTracepoint(id uint64) (int, error) {
	attr := unix.PerfEventAttr{
		Type:        unix.PERF_TYPE_TRACEPOINT,
		Config:      id,
		Sample_type: unix.PERF_SAMPLE_RAW,
		Sample:      1,
		Wakeup:      1,
	}
	attr.Size = uint32(unsafe.Sizeof(attr))
	fd, err := unix.PerfEventOpen(&attr, -1, 0, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("perf_event_open of tracepoint %d: %w", id, err)
	}
	return fd, nil
}
