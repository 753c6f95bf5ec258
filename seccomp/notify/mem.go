package notify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// MaxPath is a good max for ReadString on paths: PATH_MAX.
const MaxPath = 4096

// MaxRead bounds ReadBytes.
const MaxRead = 64 << 10

// pageSize bounds each read so that a string ending just before an
// unmapped page is still read: pread of /proc/PID/mem fails (EIO) as a
// whole when its range touches an unmapped page.
var pageSize = os.Getpagesize()

// ErrTruncated is returned by ReadString when no NUL was found within max
// bytes; the string returned is the first max bytes.
var ErrTruncated = errors.New("string longer than the limit")

// ReadString reads the NUL-terminated string at addr in the memory of
// process pid (host PID) through /proc/PID/mem, at most max bytes without
// the NUL. It does not know about notifications: a caller serving one
// must check that it is still valid after the read (or use
// [Request.ReadString], which does).
func ReadString(pid int, addr uint64, max int) (string, error) {
	mem, err := openMem(pid)
	if err != nil {
		return "", err
	}
	defer mem.Close()
	return readString(mem, pid, addr, max)
}

func openMem(pid int) (*os.File, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("reading memory of pid %d: invalid pid", pid)
	}
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/mem")
	if err != nil {
		return nil, fmt.Errorf("reading memory of pid %d: %w", pid, err)
	}
	return f, nil
}

// readString reads a NUL-terminated string at addr from r (a process's
// memory), page by page.
func readString(r io.ReaderAt, pid int, addr uint64, max int) (string, error) {
	if max <= 0 {
		return "", fmt.Errorf("reading memory of pid %d: limit %d is not positive", pid, max)
	}
	if addr == 0 {
		return "", fmt.Errorf("reading memory of pid %d at 0x0: null pointer", pid)
	}
	if addr > 1<<63-1 {
		return "", fmt.Errorf("reading memory of pid %d at %#x: address out of range", pid, addr)
	}
	var out []byte
	buf := make([]byte, pageSize)
	// Up to max bytes and the NUL after them.
	for len(out) <= max {
		at := addr + uint64(len(out))
		if at > 1<<63-1 {
			return "", fmt.Errorf("reading memory of pid %d at %#x: address out of range", pid, at)
		}
		// Up to the end of the page at, and no further than needed.
		n := min(pageSize-int(at%uint64(pageSize)), max+1-len(out))
		got, err := r.ReadAt(buf[:n], int64(at))
		if i := bytes.IndexByte(buf[:got], 0); i >= 0 {
			out = append(out, buf[:i]...)
			if len(out) > max {
				break
			}
			return string(out), nil
		}
		out = append(out, buf[:got]...)
		if err != nil && (got == 0 || !errors.Is(err, io.EOF)) {
			return "", fmt.Errorf("reading memory of pid %d at %#x: %w", pid, at, err)
		}
		if got == 0 {
			return "", fmt.Errorf("reading memory of pid %d at %#x: %w", pid, at, io.ErrUnexpectedEOF)
		}
	}
	return string(out[:max]), fmt.Errorf("reading memory of pid %d at %#x: %w (%d bytes)", pid, addr, ErrTruncated, max)
}

// readBytes reads exactly n bytes at addr from r (a process's memory).
func readBytes(r io.ReaderAt, pid int, addr uint64, n int) ([]byte, error) {
	if n < 0 || n > MaxRead {
		return nil, fmt.Errorf("reading memory of pid %d: length %d out of range (0..%d)", pid, n, MaxRead)
	}
	if addr == 0 && n > 0 {
		return nil, fmt.Errorf("reading memory of pid %d at 0x0: null pointer", pid)
	}
	if addr > 1<<63-1 || addr+uint64(n) > 1<<63-1 {
		return nil, fmt.Errorf("reading memory of pid %d at %#x: address out of range", pid, addr)
	}
	b := make([]byte, n)
	got, err := r.ReadAt(b, int64(addr))
	if got < n {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading %d bytes of memory of pid %d at %#x: %w", n, pid, addr, err)
	}
	return b, nil
}

// ReadBytes reads n bytes (at most MaxRead) at addr in the memory of
// process pid through /proc/PID/mem. Like ReadString it knows nothing of
// notifications; see [Request.ReadBytes].
func ReadBytes(pid int, addr uint64, n int) ([]byte, error) {
	mem, err := openMem(pid)
	if err != nil {
		return nil, err
	}
	defer mem.Close()
	return readBytes(mem, pid, addr, n)
}
