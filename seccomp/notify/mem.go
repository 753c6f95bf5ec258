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
	for len(out) < max {
		at := addr + uint64(len(out))
		if at > 1<<63-1 {
			return "", fmt.Errorf("reading memory of pid %d at %#x: address out of range", pid, at)
		}
		// Up to the end of the page at, and no further than max.
		n := pageSize - int(at%uint64(pageSize))
		if rest := max - len(out); n > rest+1 {
			n = rest + 1 // one more byte to see the NUL right at max
		}
		got, err := r.ReadAt(buf[:n], int64(at))
		if i := bytes.IndexByte(buf[:got], 0); i >= 0 {
			out = append(out, buf[:i]...)
			if len(out) > max {
				break
			}
			return string(out), nil
		}
		out = append(out, buf[:got]...)
		if err != nil && got == 0 {
			return "", fmt.Errorf("reading memory of pid %d at %#x: %w", pid, at, err)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading memory of pid %d at %#x: %w", pid, at, err)
		}
	}
	return string(out[:max]), fmt.Errorf("reading memory of pid %d at %#x: %w (%d bytes)", pid, addr, ErrTruncated, max)
}
