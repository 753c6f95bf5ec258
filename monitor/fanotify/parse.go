package fanotify

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrParse is wrapped by every error about malformed kernel output.
var ErrParse = errors.New("malformed fanotify or proc data")

// metadataLen is sizeof(struct fanotify_event_metadata).
const metadataLen = 24

// rawEvent is one struct fanotify_event_metadata.
type rawEvent struct {
	mask uint64
	fd   int32
	pid  int32
}

// readGroup reads a fanotify group's events until its file is closed.
// Each read's events go to batch, with the parse error that ended the
// batch early, if any; batch returning false stops reading. Read errors
// other than the close or an interruption (EMFILE and the like: the kernel
// dropped or denied the event) go to readErr.
func readGroup(f *os.File, batch func([]rawEvent, error) bool, readErr func(error)) {
	buf := make([]byte, readBufSize)
	for {
		n, err := f.Read(buf)
		if err != nil {
			switch {
			case errors.Is(err, os.ErrClosed):
				return
			case errors.Is(err, syscall.EINTR), errors.Is(err, syscall.EAGAIN), errors.Is(err, io.EOF):
				continue
			}
			readErr(err)
			continue
		}
		if !batch(parseEvents(buf[:n])) {
			return
		}
	}
}

// parseEvents splits what read(2) returned on a fanotify fd into events.
// Info records after the metadata (FID modes, not used here) are skipped.
func parseEvents(b []byte) ([]rawEvent, error) {
	var out []rawEvent
	for len(b) > 0 {
		if len(b) < metadataLen {
			return out, fmt.Errorf("%w: %d trailing bytes, shorter than an event", ErrParse, len(b))
		}
		eventLen := binary.NativeEndian.Uint32(b[0:])
		vers := b[4]
		metaLen := binary.NativeEndian.Uint16(b[6:])
		if vers != unix.FANOTIFY_METADATA_VERSION {
			return out, fmt.Errorf("%w: event metadata version %d, want %d", ErrParse, vers, unix.FANOTIFY_METADATA_VERSION)
		}
		if eventLen < metadataLen || int(metaLen) < metadataLen || uint64(metaLen) > uint64(eventLen) || uint64(eventLen) > uint64(len(b)) {
			return out, fmt.Errorf("%w: event length %d, metadata length %d, %d bytes left", ErrParse, eventLen, metaLen, len(b))
		}
		out = append(out, rawEvent{
			mask: binary.NativeEndian.Uint64(b[8:]),
			fd:   int32(binary.NativeEndian.Uint32(b[16:])),
			pid:  int32(binary.NativeEndian.Uint32(b[20:])),
		})
		b = b[eventLen:]
	}
	return out, nil
}

// response encodes a struct fanotify_response.
func response(fd int32, allow bool) []byte {
	b := make([]byte, 8)
	binary.NativeEndian.PutUint32(b[0:], uint32(fd))
	r := uint32(unix.FAN_DENY)
	if allow {
		r = unix.FAN_ALLOW
	}
	binary.NativeEndian.PutUint32(b[4:], r)
	return b
}

// errRunning: /proc/<tid>/syscall says "running", the thread is not blocked.
var errRunning = errors.New("thread is running")

// sysCall is the content of /proc/<tid>/syscall.
type sysCall struct {
	// nr is the syscall number, -1 when the thread is blocked outside a
	// syscall.
	nr   int64
	args [6]uint64
}

// parseSyscall parses /proc/<tid>/syscall: "running", "-1 SP PC" (blocked,
// not in a syscall) or "NR ARG1 ... ARG6 SP PC" with hexadecimal values.
func parseSyscall(b []byte) (sysCall, error) {
	f := strings.Fields(string(b))
	if len(f) == 1 && f[0] == "running" {
		return sysCall{}, errRunning
	}
	if len(f) == 0 {
		return sysCall{}, fmt.Errorf("%w: empty syscall file", ErrParse)
	}
	nr, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || nr < -1 {
		return sysCall{}, fmt.Errorf("%w: syscall number %q", ErrParse, f[0])
	}
	if nr == -1 {
		if len(f) != 3 {
			return sysCall{}, fmt.Errorf("%w: %d fields after -1, want 2", ErrParse, len(f)-1)
		}
		return sysCall{nr: -1}, nil
	}
	if len(f) != 9 {
		return sysCall{}, fmt.Errorf("%w: %d fields, want 9", ErrParse, len(f))
	}
	sc := sysCall{nr: nr}
	for i := range sc.args {
		v, err := strconv.ParseUint(strings.TrimPrefix(f[i+1], "0x"), 16, 64)
		if err != nil || !strings.HasPrefix(f[i+1], "0x") {
			return sysCall{}, fmt.Errorf("%w: syscall argument %d %q", ErrParse, i+1, f[i+1])
		}
		sc.args[i] = v
	}
	return sc, nil
}

// How the open flags of a syscall are found.
type flagSource uint8

const (
	flagsUnknown flagSource = iota
	flagsArg                // flags are args[arg]
	flagsFixed              // flags are fixed
)

type openCall struct {
	how   flagSource
	arg   int
	fixed int
}

// openCalls are the syscalls that open a file, by number for this
// architecture; see syscalls_*.go.
func openCallOf(nr int64) openCall {
	if c, ok := openCalls[nr]; ok {
		return c
	}
	return openCall{}
}

// openFlags returns the open flags of the syscall a thread is blocked in,
// from its registers. Flags in the thread's memory are never used: another
// thread of the process can rewrite them after the kernel copied them
// (openat2's struct open_how), so openat2 counts as unknown flags.
func openFlags(sc sysCall) (int, bool) {
	c := openCallOf(sc.nr)
	switch c.how {
	case flagsArg:
		return int(uint32(sc.args[c.arg])), true
	case flagsFixed:
		return c.fixed, true
	}
	return -1, false
}

// writeFlags reports flags that open a file for writing: an access mode
// other than O_RDONLY, O_TRUNC (Linux truncates even a read-only open) or
// O_CREAT (it may create the file). Unknown flags (-1) count as writing.
func writeFlags(flags int) bool {
	if flags < 0 {
		return true
	}
	return flags&unix.O_ACCMODE != unix.O_RDONLY || flags&(unix.O_TRUNC|unix.O_CREAT) != 0
}

// parseTgid returns the Tgid field of /proc/<tid>/status.
func parseTgid(b []byte) (int, error) {
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("Tgid:")); ok {
			n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("%w: Tgid %q", ErrParse, bytes.TrimSpace(v))
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("%w: no Tgid line", ErrParse)
}

// deletedSuffix is what d_path appends to an unlinked file's path.
const deletedSuffix = " (deleted)"

// splitDeleted strips d_path's " (deleted)" suffix.
func splitDeleted(p string) (string, bool) {
	if s, ok := strings.CutSuffix(p, deletedSuffix); ok {
		return s, true
	}
	return p, false
}

// ELF limits: the kernel refuses more than 64 KiB of program headers and
// an interpreter path longer than PATH_MAX.
const (
	maxPhdrBytes  = 64 << 10
	maxInterpPath = 4096
)

// parseELFInterp reads an executable's header through r. It reports
// whether the file starts with "#!" (a script), and for an ELF file the
// path in its first PT_INTERP program header ("" for a static binary). A
// file that is neither is not an error: isScript false and interp "".
func parseELFInterp(r io.ReaderAt) (isScript bool, interp string, err error) {
	var hdr [64]byte
	n, err := r.ReadAt(hdr[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, "", fmt.Errorf("reading executable header: %w", err)
	}
	h := hdr[:n]
	if bytes.HasPrefix(h, []byte("#!")) {
		return true, "", nil
	}
	if len(h) < 52 || !bytes.HasPrefix(h, []byte("\x7fELF")) {
		return false, "", nil
	}
	var bo binary.ByteOrder
	switch h[5] {
	case 1:
		bo = binary.LittleEndian
	case 2:
		bo = binary.BigEndian
	default:
		return false, "", fmt.Errorf("%w: ELF data encoding %d", ErrParse, h[5])
	}
	var phoff uint64
	var phentsize, phnum int
	var is64 bool
	switch h[4] {
	case 1: // ELFCLASS32
		phoff = uint64(bo.Uint32(h[28:]))
		phentsize, phnum = int(bo.Uint16(h[42:])), int(bo.Uint16(h[44:]))
		if phentsize != 32 {
			return false, "", fmt.Errorf("%w: ELF32 program header size %d", ErrParse, phentsize)
		}
	case 2: // ELFCLASS64
		if len(h) < 64 {
			return false, "", fmt.Errorf("%w: short ELF64 header", ErrParse)
		}
		is64 = true
		phoff = bo.Uint64(h[32:])
		phentsize, phnum = int(bo.Uint16(h[54:])), int(bo.Uint16(h[56:]))
		if phentsize != 56 {
			return false, "", fmt.Errorf("%w: ELF64 program header size %d", ErrParse, phentsize)
		}
	default:
		return false, "", fmt.Errorf("%w: ELF class %d", ErrParse, h[4])
	}
	if phnum == 0 {
		return false, "", nil
	}
	if phnum*phentsize > maxPhdrBytes {
		return false, "", fmt.Errorf("%w: %d program headers", ErrParse, phnum)
	}
	if phoff > 1<<62 {
		return false, "", fmt.Errorf("%w: program headers at %d", ErrParse, phoff)
	}
	ph := make([]byte, phnum*phentsize)
	if _, err := r.ReadAt(ph, int64(phoff)); err != nil {
		return false, "", fmt.Errorf("%w: reading program headers at %d: %v", ErrParse, phoff, err)
	}
	for i := 0; i < phnum; i++ {
		p := ph[i*phentsize:]
		if bo.Uint32(p) != 3 { // PT_INTERP
			continue
		}
		var off, size uint64
		if is64 {
			off, size = bo.Uint64(p[8:]), bo.Uint64(p[32:])
		} else {
			off, size = uint64(bo.Uint32(p[4:])), uint64(bo.Uint32(p[16:]))
		}
		if size < 2 || size > maxInterpPath || off > 1<<62 {
			return false, "", fmt.Errorf("%w: PT_INTERP of %d bytes", ErrParse, size)
		}
		b := make([]byte, size)
		if _, err := r.ReadAt(b, int64(off)); err != nil {
			return false, "", fmt.Errorf("%w: reading PT_INTERP at %d: %v", ErrParse, off, err)
		}
		// The kernel requires a NUL-terminated string and uses it up to the NUL.
		if b[size-1] != 0 {
			return false, "", fmt.Errorf("%w: PT_INTERP not NUL-terminated", ErrParse)
		}
		s, _, _ := bytes.Cut(b, []byte{0})
		return false, string(s), nil
	}
	return false, "", nil
}
