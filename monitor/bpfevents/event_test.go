package bpfevents

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func record(t testing.TB, r eventsEvent) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := binary.Write(&b, binary.NativeEndian, r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func filename(s string) (out [256]int8) {
	for i := 0; i < len(s) && i < len(out); i++ {
		out[i] = int8(s[i])
	}
	return out
}

func TestParseRecord(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   eventsEvent
		want Event
	}{
		{
			name: "exec with task fields",
			in: eventsEvent{Kind: 1, Timestamp: 5e9, CgroupId: 975, StartBoottime: 4e9, ExeIno: 247072, ExeDev: 254 << 20,
				Tgid: 10, Pid: 10, Ppid: 12, Uid: 1, Gid: 2, Euid: 3, Egid: 4, Suid: 5, Fsuid: 6, CapEff: 1 << 21, Flags: flagFull, FilenameLen: 8, Filename: filename("/bin/sh")},
			want: Event{Kind: KindExec, Timestamp: 5 * time.Second, CgroupID: 975, StartTime: 4 * time.Second, ExeIno: 247072,
				ExeDev: unix.Mkdev(254, 0), TGID: 10, PID: 10, OldPID: 12, UID: 1, GID: 2, EUID: 3, EGID: 4, SUID: 5, FSUID: 6, CapEff: 1 << 21, Full: true, Filename: "/bin/sh"},
		},
		{
			name: "filename length beyond the buffer is cut at the NUL",
			in:   eventsEvent{Kind: 1, Tgid: 1, Pid: 1, FilenameLen: 9999, Filename: filename("ab")},
			want: Event{Kind: KindExec, TGID: 1, PID: 1, Filename: "ab"},
		},
		{
			name: "fork",
			in:   eventsEvent{Kind: 2, Tgid: 7, Pid: 8, Ppid: 7, Child: 9},
			want: Event{Kind: KindFork, TGID: 7, PID: 8, ParentTGID: 7, Child: 9},
		},
		{
			name: "exit of the last thread",
			in:   eventsEvent{Kind: 3, Tgid: 7, Pid: 7, Flags: flagGroupDead},
			want: Event{Kind: KindExit, TGID: 7, PID: 7, GroupDead: true},
		},
		{
			name: "uid change",
			in:   eventsEvent{Kind: 4, Tgid: 7, Pid: 7, Uid: 1234, Euid: 1234},
			want: Event{Kind: KindUID, TGID: 7, PID: 7, UID: 1234, EUID: 1234},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRecord(record(t, tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestParseRecordErrors(t *testing.T) {
	if _, err := parseRecord(make([]byte, 10)); !errors.Is(err, errShortRecord) {
		t.Errorf("short record: %v", err)
	}
	if _, err := parseRecord(record(t, eventsEvent{Kind: 42})); err == nil {
		t.Errorf("unknown kind accepted")
	}
}

func TestUserDev(t *testing.T) {
	for _, tc := range []struct{ major, minor uint32 }{{254, 0}, {8, 1}, {259, 300}, {0, 1 << 19}} {
		if got, want := userDev(tc.major<<20|tc.minor), unix.Mkdev(tc.major, tc.minor); got != want {
			t.Errorf("%d:%d → %#x, want %#x", tc.major, tc.minor, got, want)
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add(record(f, eventsEvent{Kind: 1, Tgid: 1, Pid: 1, FilenameLen: 3, Filename: filename("ab")}))
	f.Add(record(f, eventsEvent{Kind: 2, Child: 3}))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := parseRecord(b)
		if err == nil && len(e.Filename) > 256 {
			t.Fatalf("filename of %d bytes", len(e.Filename))
		}
	})
}
