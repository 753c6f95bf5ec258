package audit

import (
	"bufio"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// kmsgFixture reads testdata/kmsg-audit.txt: records printed by this
// kernel (6.18) while audit was on without auditd, as /dev/kmsg gives them.
func kmsgFixture(t testing.TB) []KmsgRecord {
	t.Helper()
	f, err := os.Open("testdata/kmsg-audit.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []KmsgRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, ok := ParseKmsg(sc.Text()); ok {
			out = append(out, k)
		}
	}
	return out
}

func TestParseKmsgFixture(t *testing.T) {
	recs := kmsgFixture(t)
	// 10 audit records and one suppression notice; "eth0: link up" is not audit.
	if len(recs) != 11 {
		t.Fatalf("want 11 records, got %d: %+v", len(recs), recs)
	}
	if r := recs[0]; r.Seq != 6447 || r.Msg.Type != typeSeccomp {
		t.Errorf("first record: %+v", r)
	}
	if r := recs[10]; r.Seq != 7200 || r.Suppressed != 58 || r.Msg.Type != 0 {
		t.Errorf("suppression notice: %+v", r)
	}
	st, rest, ok := ParseStamp(recs[3].Msg.Body)
	if !ok || st != (Stamp{Sec: 1796318632, Msec: 206, Serial: 134291}) {
		t.Errorf("stamp %+v ok=%v", st, ok)
	}
	if want := `domain=14e68d6ee blockers=fs.execute path="/tmp/x/busybox" dev="overlay" ino=10005139`; rest != want {
		t.Errorf("rest %q", rest)
	}
}

// TestDemuxFixture sends the fixture's records as one netlink datagram, as
// the multicast socket would, and checks that each consumer gets its
// records once.
func TestDemuxFixture(t *testing.T) {
	var dgram []byte
	for _, k := range kmsgFixture(t) {
		if k.Msg.Type != 0 {
			dgram = append(dgram, auditMsg(k.Msg.Type, k.Msg.Body)...)
			for len(dgram)%4 != 0 { // netlink pads each message
				dgram = append(dgram, 0)
			}
		}
	}
	var sc []Record
	var ll []LandlockDenial
	m := NewDemux(Consumers{
		Seccomp:  func(r Record) { sc = append(sc, r) },
		Landlock: func(d LandlockDenial) { ll = append(ll, d) },
	})
	now := time.Unix(100, 0)
	for _, msg := range SplitMessages(dgram) {
		m.Message(msg, now)
	}
	m.Tick(now.Add(time.Minute))
	wantSC := []Record{
		{PID: 27685, Arch: 0xc000003e, Syscall: 12, Exe: "/bin/busybox"},
		{PID: 27685, Arch: 0xc000003e, Syscall: 12, Exe: "/bin/busybox"},
		{PID: 27685, Arch: 0xc000003e, Syscall: 158, Exe: "/bin/busybox"},
	}
	if diff := cmp.Diff(wantSC, sc); diff != "" {
		t.Errorf("seccomp (-want +got):\n%s", diff)
	}
	wantLL := []LandlockDenial{
		{Domain: "14e68d6ee", Blockers: []string{"fs.execute"}, Path: "/tmp/x/busybox", PID: 16520, Exe: "/.confine-init"},
		{Domain: "14e68d93d", Blockers: []string{"fs.read_file"}, Path: "/etc/shadow", PID: 21809, Exe: "/.confine-init"},
		{Domain: "14e68d93d", Blockers: []string{"fs.read_file"}, Path: "/etc/shadow", PID: 21809, Exe: "/.confine-init"},
		{Domain: "14e68d93d", Blockers: []string{"fs.make_reg"}, Path: "/etc", PID: 21809, Exe: "/.confine-init"},
	}
	if diff := cmp.Diff(wantLL, ll); diff != "" {
		t.Errorf("landlock (-want +got):\n%s", diff)
	}
	// A consumer left out gets nothing parsed: the seccomp-only demux of
	// ParseMessages returns the same three.
	if got := ParseMessages(dgram); len(got) != 3 {
		t.Errorf("ParseMessages: %d records", len(got))
	}
}

func TestSplitMessages(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want []Message
	}{
		{name: "empty", in: nil},
		{name: "short", in: []byte{1, 2, 3}},
		{name: "length past the end is cut", in: func() []byte { b := auditMsg(1326, "pid=1"); b[0] = 200; return b }(),
			want: []Message{{Type: 1326, Body: "pid=1"}}},
		{name: "length below the header ends at the datagram", in: func() []byte { b := auditMsg(1423, "x"); b[0] = 3; return b }(),
			want: []Message{{Type: 1423, Body: "x"}}},
	}
	// Two messages whose first length is not a multiple of 4.
	two := append(auditMsg(1300, "abc"), 0)
	two = append(two, auditMsg(1423, "d=1")...)
	tests = append(tests, struct {
		name string
		in   []byte
		want []Message
	}{name: "two, first padded", in: two, want: []Message{{Type: 1300, Body: "abc"}, {Type: 1423, Body: "d=1"}}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, SplitMessages(tt.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseStamp(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Stamp
		rest string
		ok   bool
	}{
		{name: "record", in: "audit(1796318632.206:134291): domain=1", want: Stamp{1796318632, 206, 134291}, rest: "domain=1", ok: true},
		{name: "no stamp", in: "domain=1", rest: "domain=1"},
		{name: "no serial", in: "audit(1.2): x", rest: "audit(1.2): x"},
		{name: "not a number", in: "audit(a.2:3): x", rest: "audit(a.2:3): x"},
		{name: "unclosed", in: "audit(1.2:3 x", rest: "audit(1.2:3 x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, rest, ok := ParseStamp(tt.in)
			if st != tt.want || rest != tt.rest || ok != tt.ok {
				t.Errorf("got %+v %q %v", st, rest, ok)
			}
		})
	}
}

func TestForEachField(t *testing.T) {
	var got [][2]string
	forEachField(`audit(1.2:3): pid=1 exe="/a b" path=2F746D70 x= "q=1" bare`, func(k, v string) {
		got = append(got, [2]string{k, unquote(v)})
	})
	want := [][2]string{{"pid", "1"}, {"exe", "/a b"}, {"path", "/tmp"}, {"x", ""}}
	// `"q=1"` is one quoted word: its key is `"q`, kept as is.
	want = append(want, [2]string{`"q`, `1"`})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func FuzzParseKmsg(f *testing.F) {
	f.Add(`5,6604,10312293503,-;audit: type=1423 audit(1796318632.206:134291): domain=14e68d6ee blockers=fs.execute path="/tmp/x/busybox" dev="overlay" ino=10005139`)
	f.Add(`6,7200,11015700000,-;kauditd_printk_skb: 58 callbacks suppressed`)
	f.Add("4,1,2,-;audit: type=0 x\n SUBSYSTEM=x")
	f.Fuzz(func(t *testing.T, s string) {
		k, ok := ParseKmsg(s)
		if !ok {
			return
		}
		if k.Suppressed < 0 {
			t.Fatalf("negative suppression count: %+v", k)
		}
		_, _, _ = ParseStamp(k.Msg.Body)
	})
}

// FuzzDemux drives the shared parser (framing, stamp, fields) through the
// demultiplexer with every consumer attached.
func FuzzDemux(f *testing.F) {
	f.Add(auditMsg(typeSeccomp, sample))
	f.Add(append(auditMsg(typeLandlockAccess, `audit(1.2:3): domain=aa blockers=fs.execute path="/tmp/x"`), auditMsg(typeLandlockDomain, `audit(1.2:3): domain=aa status=allocated pid=1 exe=2F`)...))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		m := NewDemux(Consumers{
			Seccomp: func(Record) {},
			Landlock: func(d LandlockDenial) {
				if d.Domain == "" || len(d.Blockers) == 0 {
					t.Fatalf("delivered without domain or blockers: %+v", d)
				}
			},
		})
		for _, msg := range SplitMessages(b) {
			if len(msg.Body) > len(b) {
				t.Fatalf("body longer than the datagram")
			}
			_, _, _ = ParseStamp(msg.Body)
			m.Message(msg, time.Unix(0, 0))
		}
		m.Tick(time.Unix(10, 0))
	})
}

// TestDemuxDomainsSurviveRestart: a domain's creator, named once by the
// kernel, is carried over to a new reader.
func TestDemuxDomainsSurviveRestart(t *testing.T) {
	var got []LandlockDenial
	first := NewDemux(Consumers{Landlock: func(d LandlockDenial) {}})
	first.Message(Message{Type: typeLandlockAccess, Body: `audit(1.2:3): domain=aa blockers=fs.execute path="/tmp/x"`}, time.Unix(1, 0))
	first.Message(Message{Type: typeLandlockDomain, Body: `audit(1.2:3): domain=aa status=allocated mode=enforcing pid=42 uid=0 exe="/bin/sh" comm="sh"`}, time.Unix(1, 0))
	second := NewDemux(Consumers{Landlock: func(d LandlockDenial) { got = append(got, d) }})
	second.SeedDomains(first.Domains())
	second.Message(Message{Type: typeLandlockAccess, Body: `audit(1.2:9): domain=aa blockers=fs.write_file path="/etc"`}, time.Unix(2, 0))
	if len(got) != 1 || got[0].PID != 42 || got[0].Exe != "/bin/sh" {
		t.Fatalf("denial after the restart: %+v", got)
	}
}
