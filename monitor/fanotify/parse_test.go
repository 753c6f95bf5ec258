package fanotify

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func metadata(mask uint64, fd, pid int32, extra int) []byte {
	b := make([]byte, metadataLen+extra)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	b[4] = unix.FANOTIFY_METADATA_VERSION
	binary.NativeEndian.PutUint16(b[6:], metadataLen)
	binary.NativeEndian.PutUint64(b[8:], mask)
	binary.NativeEndian.PutUint32(b[16:], uint32(fd))
	binary.NativeEndian.PutUint32(b[20:], uint32(pid))
	return b
}

func TestParseEvents(t *testing.T) {
	badVers := metadata(unix.FAN_OPEN_PERM, 5, 10, 0)
	badVers[4] = 2
	tooLong := metadata(unix.FAN_OPEN_PERM, 5, 10, 0)
	binary.NativeEndian.PutUint32(tooLong[0:], 100)
	tests := []struct {
		name    string
		in      []byte
		want    []rawEvent
		wantErr bool
	}{
		{name: "empty", in: nil},
		{name: "one", in: metadata(unix.FAN_OPEN_PERM, 5, 10, 0), want: []rawEvent{{mask: unix.FAN_OPEN_PERM, fd: 5, pid: 10}}},
		{
			name: "two, the first with an info record",
			in:   append(metadata(unix.FAN_OPEN_EXEC_PERM, 7, 11, 16), metadata(unix.FAN_OPEN_PERM, -1, 0, 0)...),
			want: []rawEvent{{mask: unix.FAN_OPEN_EXEC_PERM, fd: 7, pid: 11}, {mask: unix.FAN_OPEN_PERM, fd: -1, pid: 0}},
		},
		{name: "short", in: make([]byte, 10), wantErr: true},
		{name: "wrong version", in: badVers, wantErr: true},
		{name: "event longer than the buffer", in: tooLong, wantErr: true},
		{
			name:    "good then truncated",
			in:      append(metadata(unix.FAN_OPEN_PERM, 5, 10, 0), 1, 2, 3),
			want:    []rawEvent{{mask: unix.FAN_OPEN_PERM, fd: 5, pid: 10}},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseEvents(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrParse) {
				t.Errorf("error %v is not ErrParse", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(rawEvent{})); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResponse(t *testing.T) {
	b := response(42, false)
	if got := int32(binary.NativeEndian.Uint32(b)); got != 42 {
		t.Errorf("fd = %d", got)
	}
	if got := binary.NativeEndian.Uint32(b[4:]); got != unix.FAN_DENY {
		t.Errorf("deny response = %#x", got)
	}
	if got := binary.NativeEndian.Uint32(response(1, true)[4:]); got != unix.FAN_ALLOW {
		t.Errorf("allow response = %#x", got)
	}
}

func TestParseSyscall(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    sysCall
		wantErr error
	}{
		{
			// Captured on kernel 6.18: `echo x >> f` blocked in FAN_OPEN_PERM.
			name: "openat for append",
			in:   "257 0xffffff9c 0x559c5fcfe0c0 0x441 0x1b6 0x0 0x20 0x7ffff23ce2f0 0x7fc199c16011\n",
			want: sysCall{nr: 257, args: [6]uint64{0xffffff9c, 0x559c5fcfe0c0, 0x441, 0x1b6, 0, 0x20}},
		},
		{name: "blocked outside a syscall", in: "-1 0x7ffc 0x7fa8\n", want: sysCall{nr: -1}},
		{name: "running", in: "running\n", wantErr: errRunning},
		{name: "empty", in: "", wantErr: ErrParse},
		{name: "too few arguments", in: "257 0x1 0x2\n", wantErr: ErrParse},
		{name: "not hex", in: "257 1 2 3 4 5 6 7 8\n", wantErr: ErrParse},
		{name: "bad number", in: "x 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8\n", wantErr: ErrParse},
		{name: "-1 with arguments", in: "-1 0x1 0x2 0x3\n", wantErr: ErrParse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSyscall([]byte(tt.in))
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestOpenFlags(t *testing.T) {
	tests := []struct {
		name      string
		sc        sysCall
		wantFlags int
		wantKnown bool
		wantWrite bool
	}{
		{name: "openat read", sc: sysCall{nr: unix.SYS_OPENAT, args: [6]uint64{0xffffff9c, 1, unix.O_RDONLY | unix.O_CLOEXEC}}, wantFlags: unix.O_RDONLY | unix.O_CLOEXEC, wantKnown: true},
		{name: "openat append", sc: sysCall{nr: unix.SYS_OPENAT, args: [6]uint64{0xffffff9c, 1, 0x441}}, wantFlags: 0x441, wantKnown: true, wantWrite: true},
		{name: "openat read with O_TRUNC", sc: sysCall{nr: unix.SYS_OPENAT, args: [6]uint64{0xffffff9c, 1, unix.O_TRUNC}}, wantFlags: unix.O_TRUNC, wantKnown: true, wantWrite: true},
		{name: "openat read with O_CREAT", sc: sysCall{nr: unix.SYS_OPENAT, args: [6]uint64{0xffffff9c, 1, unix.O_CREAT}}, wantFlags: unix.O_CREAT, wantKnown: true, wantWrite: true},
		{name: "openat flags above 32 bits ignored", sc: sysCall{nr: unix.SYS_OPENAT, args: [6]uint64{0, 1, 1<<40 | unix.O_RDONLY}}, wantFlags: 0, wantKnown: true},
		{name: "openat2: flags in memory are not trusted", sc: sysCall{nr: unix.SYS_OPENAT2, args: [6]uint64{0, 1, 0x1000, 24}}, wantFlags: -1, wantWrite: true},
		{name: "open_by_handle_at", sc: sysCall{nr: unix.SYS_OPEN_BY_HANDLE_AT, args: [6]uint64{3, 1, unix.O_WRONLY}}, wantFlags: unix.O_WRONLY, wantKnown: true, wantWrite: true},
		{name: "execve", sc: sysCall{nr: unix.SYS_EXECVE}, wantFlags: unix.O_RDONLY, wantKnown: true},
		{name: "execveat", sc: sysCall{nr: unix.SYS_EXECVEAT}, wantFlags: unix.O_RDONLY, wantKnown: true},
		{name: "io_uring_enter is unknown", sc: sysCall{nr: unix.SYS_IO_URING_ENTER}, wantFlags: -1, wantWrite: true},
		{name: "not in a syscall", sc: sysCall{nr: -1}, wantFlags: -1, wantWrite: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flags, known := openFlags(tt.sc)
			if flags != tt.wantFlags || known != tt.wantKnown {
				t.Errorf("openFlags = %#x, %v; want %#x, %v", flags, known, tt.wantFlags, tt.wantKnown)
			}
			if w := writeFlags(flags); w != tt.wantWrite {
				t.Errorf("writeFlags(%#x) = %v, want %v", flags, w, tt.wantWrite)
			}
		})
	}
}

func TestParseTgid(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr bool
	}{
		{name: "thread", in: "Name:\tx\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t1234\nNgid:\t0\nPid:\t1240\n", want: 1234},
		{name: "missing", in: "Name:\tx\nPid:\t1\n", wantErr: true},
		{name: "garbage", in: "Tgid:\tabc\n", wantErr: true},
		{name: "zero", in: "Tgid:\t0\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTgid([]byte(tt.in))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseTgid = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// elf64 builds a little-endian ELF64 header with the given program headers
// (type, offset, size) and contents appended.
func elf64(t *testing.T, phdrs [][3]uint64, tail []byte) []byte {
	t.Helper()
	h := make([]byte, 64)
	copy(h, "\x7fELF")
	h[4], h[5], h[6] = 2, 1, 1
	binary.LittleEndian.PutUint64(h[32:], 64) // e_phoff
	binary.LittleEndian.PutUint16(h[54:], 56) // e_phentsize
	binary.LittleEndian.PutUint16(h[56:], uint16(len(phdrs)))
	for _, p := range phdrs {
		ph := make([]byte, 56)
		binary.LittleEndian.PutUint32(ph[0:], uint32(p[0]))
		binary.LittleEndian.PutUint64(ph[8:], p[1])
		binary.LittleEndian.PutUint64(ph[32:], p[2])
		h = append(h, ph...)
	}
	return append(h, tail...)
}

func TestParseELFInterp(t *testing.T) {
	interpOff := uint64(64 + 2*56)
	withInterp := elf64(t, [][3]uint64{{1, 0, 0}, {3, interpOff, 11}}, []byte("/lib/ld.so\x00"))
	tests := []struct {
		name       string
		in         []byte
		wantScript bool
		wantInterp string
		wantErr    bool
	}{
		{name: "script", in: []byte("#!/bin/sh\necho\n"), wantScript: true},
		{name: "short script", in: []byte("#!"), wantScript: true},
		{name: "empty", in: nil},
		{name: "text", in: []byte("hello world, not a program at all, padding padding padding")},
		{name: "dynamic ELF", in: withInterp, wantInterp: "/lib/ld.so"},
		{name: "static ELF", in: elf64(t, [][3]uint64{{1, 0, 0}}, nil)},
		{name: "PT_INTERP past the end", in: elf64(t, [][3]uint64{{3, 1000, 11}}, nil), wantErr: true},
		{name: "PT_INTERP not terminated", in: elf64(t, [][3]uint64{{3, 64 + 56, 4}}, []byte("/abc")), wantErr: true},
		{name: "PT_INTERP huge", in: elf64(t, [][3]uint64{{3, 64 + 56, 1 << 40}}, nil), wantErr: true},
		{name: "truncated header", in: []byte("\x7fELF\x02\x01\x01" + string(make([]byte, 50))), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script, interp, err := parseELFInterp(bytes.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if script != tt.wantScript || interp != tt.wantInterp {
				t.Errorf("got script %v interp %q, want %v %q", script, interp, tt.wantScript, tt.wantInterp)
			}
		})
	}
}

// TestParseELFInterpHost reads real executables of this host: a dynamic
// one names its loader, the static busybox none.
func TestParseELFInterpHost(t *testing.T) {
	for _, tt := range []struct {
		path    string
		dynamic bool
	}{{"/usr/bin/true", true}, {"/bin/busybox", false}} {
		f, err := os.Open(tt.path)
		if err != nil {
			t.Logf("skipping %s: %v", tt.path, err)
			continue
		}
		_, interp, err := parseELFInterp(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", tt.path, err)
			continue
		}
		if (interp != "") != tt.dynamic {
			t.Errorf("%s: interpreter %q, want dynamic %v", tt.path, interp, tt.dynamic)
		}
		if tt.dynamic {
			// Cross-check with the kernel's view of the same file.
			if out, err := exec.Command("readelf", "-l", tt.path).Output(); err == nil && !bytes.Contains(out, []byte(interp)) {
				t.Errorf("%s: interpreter %q not in readelf output", tt.path, interp)
			}
			if !filepath.IsAbs(interp) {
				t.Errorf("%s: interpreter %q is not absolute", tt.path, interp)
			}
		}
	}
}

func TestSplitDeleted(t *testing.T) {
	if p, d := splitDeleted("/tmp/x (deleted)"); p != "/tmp/x" || !d {
		t.Errorf("got %q %v", p, d)
	}
	if p, d := splitDeleted("/tmp/x"); p != "/tmp/x" || d {
		t.Errorf("got %q %v", p, d)
	}
}

func FuzzParseEvents(f *testing.F) {
	f.Add(metadata(unix.FAN_OPEN_PERM, 3, 4, 0))
	f.Add(append(metadata(unix.FAN_OPEN_EXEC_PERM, 3, 4, 8), metadata(0, -1, 0, 0)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := parseEvents(b)
		if err == nil && len(b) > 0 && len(evs) == 0 {
			t.Fatal("no events and no error")
		}
	})
}

func FuzzParseSyscall(f *testing.F) {
	f.Add([]byte("257 0xffffff9c 0x559c5fcfe0c0 0x441 0x1b6 0x0 0x20 0x7ffff23ce2f0 0x7fc199c16011\n"))
	f.Add([]byte("-1 0x1 0x2\n"))
	f.Add([]byte("running\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := parseSyscall(b)
		if err == nil {
			_, _ = openFlags(sc)
		}
	})
}

func FuzzParseELFInterp(f *testing.F) {
	f.Add([]byte("#!/bin/sh\n"))
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	if b, err := os.ReadFile("/usr/bin/true"); err == nil {
		f.Add(b[:min(len(b), 4096)])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, interp, err := parseELFInterp(bytes.NewReader(b))
		if err == nil && len(interp) > maxInterpPath {
			t.Fatalf("interpreter of %d bytes", len(interp))
		}
	})
}

func FuzzParseTgid(f *testing.F) {
	f.Add([]byte("Name:\tx\nTgid:\t12\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, err := parseTgid(b); err == nil && n <= 0 {
			t.Fatalf("tgid %d without error", n)
		}
	})
}
