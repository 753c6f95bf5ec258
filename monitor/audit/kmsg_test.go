package audit

import (
	"testing"
	"time"
)

func TestReadMissed(t *testing.T) {
	far := time.Unix(1<<40, 0)
	tests := []struct {
		name     string
		after    uint64
		since    time.Time
		before   time.Time
		want     int
		wantLost int
	}{
		{name: "everything", after: 0, before: far, want: 10, wantLost: 58},
		{name: "after a serial", after: 134291, before: far, want: 5, wantLost: 58},
		// The notice after the restart covers the interval holding it.
		{name: "before the restart", after: 134291, before: time.Unix(1796318718, 0), want: 1, wantLost: 58},
		// A record printed a whole interval after the restart, with no
		// notice before it: nothing was suppressed around the restart.
		{name: "quiet interval", after: 134291, before: time.Unix(1796318632, 250e6), want: 0, wantLost: 0},
		{name: "all seen", after: 135055, before: far, want: 0, wantLost: 58},
		{name: "since a time, no serial", since: time.Unix(1796318700, 0), before: far, want: 4, wantLost: 58},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ReadMissed("testdata/kmsg-audit.txt", tt.after, tt.since, tt.before, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Msgs) != tt.want || m.Lost != tt.wantLost || m.Complete != (tt.before != far) {
				t.Fatalf("%d records, %d lost; want %d, %d: %+v", len(m.Msgs), m.Lost, tt.want, tt.wantLost, m.Msgs)
			}
			for _, msg := range m.Msgs {
				if st, _, _ := ParseStamp(msg.Body); st.Serial <= tt.after {
					t.Errorf("record %q not after %d", msg.Body, tt.after)
				}
			}
		})
	}
	// The replayed records feed a demultiplexer like the socket's.
	m, _ := ReadMissed("testdata/kmsg-audit.txt", 134291, time.Time{}, far, 5*time.Second)
	var got []LandlockDenial
	d := NewDemux(Consumers{Landlock: func(l LandlockDenial) { got = append(got, l) }})
	for _, msg := range m.Msgs {
		d.Message(msg, time.Unix(0, 0))
	}
	d.Tick(time.Unix(100, 0))
	if len(got) != 3 || got[0].PID != 21809 || got[2].Path != "/etc" {
		t.Errorf("replayed denials %+v", got)
	}
	if d.LastSerial() != 135055 {
		t.Errorf("last serial %d", d.LastSerial())
	}
}
