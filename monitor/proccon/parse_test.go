package proccon

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// The fixtures in testdata/events were captured from Linux 6.18 on x86_64
// (little endian).
func requireLittleEndian(t *testing.T) {
	t.Helper()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("fixtures are little-endian captures")
	}
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return b
}

func TestParseFixtures(t *testing.T) {
	requireLittleEndian(t)
	tests := []struct {
		name string
		file string
		want []Event
	}{
		{
			name: "acknowledgement is not an event",
			file: "ack.hex",
			want: []Event{},
		},
		{
			name: "fork of a thread",
			file: "fork_thread.hex",
			want: []Event{{Kind: KindFork, CPU: 1, Timestamp: 4828813702744, PID: 22292, TGID: 4043, ParentPID: 60, ParentTGID: 1}},
		},
		{
			name: "fork of a process",
			file: "fork_process.hex",
			want: []Event{{Kind: KindFork, CPU: 1, Timestamp: 4828814851052, PID: 22294, TGID: 22294, ParentPID: 4044, ParentTGID: 4044}},
		},
		{
			name: "exec",
			file: "exec.hex",
			want: []Event{{Kind: KindExec, Timestamp: 4856002026386, PID: 25501, TGID: 25501}},
		},
		{
			name: "exit with status 3",
			file: "exit_status3.hex",
			want: []Event{{Kind: KindExit, Timestamp: 4856018499570, PID: 25510, TGID: 25510, ExitCode: 0x300, ExitSignal: 17, ParentPID: 25502, ParentTGID: 25495}},
		},
		{
			name: "exit by SIGKILL",
			file: "exit_sigkill.hex",
			want: []Event{{Kind: KindExit, CPU: 1, Timestamp: 4856017438127, PID: 25509, TGID: 25509, ExitCode: 9, ExitSignal: 17, ParentPID: 25502, ParentTGID: 25495}},
		},
		{
			name: "uid change",
			file: "uid.hex",
			want: []Event{{Kind: KindUID, CPU: 1, Timestamp: 4856004697543, PID: 25501, TGID: 25501, RealID: 65534, EffectiveID: 65534}},
		},
		{
			name: "gid change",
			file: "gid.hex",
			want: []Event{{Kind: KindGID, CPU: 1, Timestamp: 4856004717994, PID: 25501, TGID: 25501, RealID: 65534, EffectiveID: 65534}},
		},
		{
			name: "comm change keeps the bytes written, stops at NUL",
			file: "comm.hex",
			want: []Event{{Kind: KindComm, Timestamp: 4856007178717, PID: 25503, TGID: 25503, Comm: "renamed\n"}},
		},
		{
			name: "setsid",
			file: "sid.hex",
			want: []Event{{Kind: KindSID, CPU: 1, Timestamp: 4856008740284, PID: 25504, TGID: 25504}},
		},
		{
			name: "ptrace attach",
			file: "ptrace.hex",
			want: []Event{{Kind: KindPtrace, Timestamp: 4856013173701, PID: 25506, TGID: 25506, TracerPID: 25505, TracerTGID: 25505}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEvents(readFixture(t, tt.file))
			if err != nil {
				t.Fatalf("ParseEvents: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseAck(t *testing.T) {
	requireLittleEndian(t)
	msgs, err := parseMessages(readFixture(t, "ack.hex"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []message{{seq: 285, ack: 8, ev: Event{Kind: KindNone, CPU: 1, Timestamp: 4828766727018}}}
	if diff := cmp.Diff(want, msgs, cmp.AllowUnexported(message{})); diff != "" {
		t.Errorf("ack (-want +got):\n%s", diff)
	}
}

// nl wraps cn_msg payloads in one netlink header each, the way the kernel
// does, and concatenates them into one datagram.
func nl(payloads ...[]byte) []byte {
	var out []byte
	for _, p := range payloads {
		h := make([]byte, sizeofNlMsghdr)
		binary.NativeEndian.PutUint32(h[0:4], uint32(sizeofNlMsghdr+len(p)))
		binary.NativeEndian.PutUint16(h[4:6], unix.NLMSG_DONE)
		m := append(h, p...)
		for len(m)%unix.NLMSG_ALIGNTO != 0 {
			m = append(m, 0)
		}
		out = append(out, m...)
	}
	return out
}

// cn builds a struct cn_msg with the given id and data.
func cn(idx, val uint32, data []byte) []byte {
	b := make([]byte, sizeofCnMsg, sizeofCnMsg+len(data))
	ne := binary.NativeEndian
	ne.PutUint32(b[0:4], idx)
	ne.PutUint32(b[4:8], val)
	ne.PutUint16(b[16:18], uint16(len(data)))
	return append(b, data...)
}

// pe builds a struct proc_event: what, cpu, timestamp, then union words.
func pe(what uint32, ts uint64, words ...uint32) []byte {
	b := make([]byte, sizeofEventHeader, sizeofProcEvent)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:4], what)
	ne.PutUint64(b[8:16], ts)
	for _, w := range words {
		b = ne.AppendUint32(b, w)
	}
	return b
}

func TestParseCrafted(t *testing.T) {
	exec1 := cn(cnIdxProc, cnValProc, pe(evExec, 10, 100, 100))
	tests := []struct {
		name    string
		in      []byte
		want    []Event
		wantErr error
	}{
		{
			name: "empty datagram",
			in:   nil,
			want: []Event{},
		},
		{
			name: "two messages in one datagram",
			in:   nl(exec1, cn(cnIdxProc, cnValProc, pe(evFork, 11, 100, 100, 101, 101))),
			want: []Event{
				{Kind: KindExec, Timestamp: 10, PID: 100, TGID: 100},
				{Kind: KindFork, Timestamp: 11, ParentPID: 100, ParentTGID: 100, PID: 101, TGID: 101},
			},
		},
		{
			name: "another connector is skipped",
			in:   nl(cn(7, 1, pe(evExec, 1, 5, 5)), exec1),
			want: []Event{{Kind: KindExec, Timestamp: 10, PID: 100, TGID: 100}},
		},
		{
			name: "unknown event type is reported raw",
			in:   nl(cn(cnIdxProc, cnValProc, pe(0x400, 3, 1, 2))),
			want: []Event{{Kind: KindUnknown, Timestamp: 3, What: 0x400}},
		},
		{
			name: "exit without parent fields (kernels before 4.19)",
			in:   nl(cn(cnIdxProc, cnValProc, pe(evExit, 4, 9, 9, 0x100, 17))),
			want: []Event{{Kind: KindExit, Timestamp: 4, PID: 9, TGID: 9, ExitCode: 0x100, ExitSignal: 17}},
		},
		{
			name: "negative pid words stay signed",
			in:   nl(cn(cnIdxProc, cnValProc, pe(evExec, 1, 0xffffffff, 0xffffffff))),
			want: []Event{{Kind: KindExec, Timestamp: 1, PID: -1, TGID: -1}},
		},
		{
			name: "netlink noop is skipped",
			in: func() []byte {
				b := nl([]byte{})
				binary.NativeEndian.PutUint16(b[4:6], unix.NLMSG_NOOP)
				return append(b, nl(exec1)...)
			}(),
			want: []Event{{Kind: KindExec, Timestamp: 10, PID: 100, TGID: 100}},
		},
		{
			name: "trailing bytes shorter than a header are ignored",
			in:   append(nl(exec1), 1, 2, 3),
			want: []Event{{Kind: KindExec, Timestamp: 10, PID: 100, TGID: 100}},
		},
		{
			name: "netlink length beyond the datagram",
			in: func() []byte {
				b := nl(exec1)
				binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)+4))
				return b
			}(),
			want:    []Event{},
			wantErr: ErrMalformed,
		},
		{
			name: "netlink length below the header",
			in: func() []byte {
				b := nl(exec1)
				binary.NativeEndian.PutUint32(b[0:4], 3)
				return b
			}(),
			want:    []Event{},
			wantErr: ErrMalformed,
		},
		{
			name:    "short connector header",
			in:      nl(make([]byte, 12)),
			want:    []Event{},
			wantErr: ErrMalformed,
		},
		{
			name: "connector length beyond the message",
			in: func() []byte {
				c := cn(cnIdxProc, cnValProc, pe(evExec, 1, 1, 1))
				binary.NativeEndian.PutUint16(c[16:18], 200)
				return nl(c)
			}(),
			want:    []Event{},
			wantErr: ErrMalformed,
		},
		{
			name:    "short proc_event header",
			in:      nl(cn(cnIdxProc, cnValProc, make([]byte, 8))),
			want:    []Event{},
			wantErr: ErrMalformed,
		},
		{
			name:    "fork without child",
			in:      nl(cn(cnIdxProc, cnValProc, pe(evFork, 1, 1, 1))),
			want:    []Event{},
			wantErr: ErrMalformed,
		},
		{
			name:    "good message before a bad one is kept",
			in:      nl(exec1, cn(cnIdxProc, cnValProc, pe(evUID, 1, 1))),
			want:    []Event{{Kind: KindExec, Timestamp: 10, PID: 100, TGID: 100}},
			wantErr: ErrMalformed,
		},
		{
			name: "netlink error",
			in: func() []byte {
				eperm := int32(unix.EPERM)
				b := nl(binary.NativeEndian.AppendUint32(nil, uint32(-eperm)))
				binary.NativeEndian.PutUint16(b[4:6], unix.NLMSG_ERROR)
				return b
			}(),
			want:    []Event{},
			wantErr: unix.EPERM,
		},
		{
			name: "netlink overrun",
			in: func() []byte {
				b := nl([]byte{})
				binary.NativeEndian.PutUint16(b[4:6], unix.NLMSG_OVERRUN)
				return b
			}(),
			want:    []Event{},
			wantErr: unix.ENOBUFS,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEvents(tt.in)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMarshalControl(t *testing.T) {
	requireLittleEndian(t)
	tests := []struct {
		name     string
		op       uint32
		withMask bool
		mask     uint32
		want     string
	}{
		{
			name: "plain listen",
			op:   mcastListen,
			want: "28000000" + "0300" + "0000" + "05000000" + "00000000" + // nlmsghdr
				"01000000" + "01000000" + "05000000" + "06000000" + "0400" + "0000" + // cn_msg
				"01000000", // PROC_CN_MCAST_LISTEN
		},
		{
			name:     "listen with event mask",
			op:       mcastListen,
			withMask: true,
			mask:     evFork | evExec | evExit,
			want: "2c000000" + "0300" + "0000" + "05000000" + "00000000" +
				"01000000" + "01000000" + "05000000" + "06000000" + "0800" + "0000" +
				"01000000" + "03000080", // struct proc_input
		},
		{
			name: "ignore",
			op:   mcastIgnore,
			want: "28000000" + "0300" + "0000" + "05000000" + "00000000" +
				"01000000" + "01000000" + "05000000" + "06000000" + "0400" + "0000" +
				"02000000",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := hex.EncodeToString(marshalControl(5, 6, 0, tt.op, tt.withMask, tt.mask))
			if got != tt.want {
				t.Errorf("marshalControl:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestKindMapping(t *testing.T) {
	for k := KindNone; k < kindCount; k++ {
		if b := k.bit(); b != 0 && kindOf(b) != k {
			t.Errorf("kindOf(%s.bit()) = %s", k, kindOf(b))
		}
		if k.String() == "" || strings.HasPrefix(k.String(), "kind(") {
			t.Errorf("kind %d has no name", k)
		}
	}
	if got := Kind(200).String(); got != "kind(200)" {
		t.Errorf("Kind(200).String() = %q", got)
	}
	if evAll != 0xe00003c7 {
		t.Errorf("evAll = %#x, want the kernel's PROC_EVENT_ALL 0xe00003c7", evAll)
	}
}

func TestEventHelpers(t *testing.T) {
	e := Event{Kind: KindExit, PID: 7, TGID: 7, ExitCode: 0x300}
	if !e.Leader() || e.WaitStatus().ExitStatus() != 3 {
		t.Errorf("exit 3: leader=%v status=%d", e.Leader(), e.WaitStatus().ExitStatus())
	}
	e = Event{Kind: KindExit, PID: 8, TGID: 7, ExitCode: 9}
	if e.Leader() || !e.WaitStatus().Signaled() || e.WaitStatus().Signal() != unix.SIGKILL {
		t.Errorf("thread killed: leader=%v ws=%v", e.Leader(), e.WaitStatus())
	}
}

func FuzzParseEvents(f *testing.F) {
	if entries, err := os.ReadDir(filepath.Join("testdata", "events")); err == nil {
		for _, e := range entries {
			raw, err := os.ReadFile(filepath.Join("testdata", "events", e.Name()))
			if err != nil {
				continue
			}
			if b, err := hex.DecodeString(strings.TrimSpace(string(raw))); err == nil {
				f.Add(b)
				f.Add(append(b, b...))
			}
		}
	}
	f.Add(nl(cn(cnIdxProc, cnValProc, pe(evExit, 4, 9, 9, 0x100, 17))))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := ParseEvents(b)
		// Every event needs at least a netlink header, a connector header
		// and a proc_event header.
		if max := len(b) / (sizeofNlMsghdr + sizeofCnMsg + sizeofEventHeader); len(evs) > max {
			t.Fatalf("%d events from %d bytes", len(evs), len(b))
		}
		for _, ev := range evs {
			if ev.Kind == KindNone || ev.Kind >= kindCount || ev.Kind == KindOverflow {
				t.Fatalf("parser produced kind %s", ev.Kind)
			}
			if len(ev.Comm) > 16 {
				t.Fatalf("comm longer than 16 bytes: %q", ev.Comm)
			}
		}
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, unix.ENOBUFS) {
			var errno unix.Errno
			if !errors.As(err, &errno) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
		}
		// The parser must not keep references it could corrupt: parsing a
		// copy gives the same result.
		again, _ := ParseEvents(bytes.Clone(b))
		if !cmp.Equal(evs, again) {
			t.Fatalf("non-deterministic parse")
		}
	})
}
