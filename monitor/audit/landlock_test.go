package audit

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseLandlockAccess(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want LandlockDenial
		ok   bool
	}{
		{name: "write", in: `audit(1764770000.123:456): domain=195ba459b blockers=fs.write_file path="/tmp/x" dev="vda" ino=1234`,
			want: LandlockDenial{Domain: "195ba459b", Blockers: []string{"fs.write_file"}, Path: "/tmp/x"}, ok: true},
		{name: "create, two blockers", in: `audit(1.2:3): domain=1a blockers=fs.make_reg,fs.refer path="/etc" dev="overlay" ino=7`,
			want: LandlockDenial{Domain: "1a", Blockers: []string{"fs.make_reg", "fs.refer"}, Path: "/etc"}, ok: true},
		{name: "path with a space, hex encoded", in: `audit(1.2:3): domain=1a blockers=fs.read_file path=2F746D702F6120620A dev="vda" ino=7`,
			want: LandlockDenial{Domain: "1a", Blockers: []string{"fs.read_file"}, Path: "/tmp/a b\n"}, ok: true},
		{name: "connect", in: `audit(1.2:3): domain=1a blockers=net.connect_tcp daddr=10.0.0.1 dest=443`,
			want: LandlockDenial{Domain: "1a", Blockers: []string{"net.connect_tcp"}, Port: 443, Addr: "10.0.0.1"}, ok: true},
		{name: "bind", in: `audit(1.2:3): domain=1a blockers=net.bind_tcp saddr=0.0.0.0 lport=8080`,
			want: LandlockDenial{Domain: "1a", Blockers: []string{"net.bind_tcp"}, Port: 8080}, ok: true},
		{name: "no domain", in: `audit(1.2:3): blockers=fs.read_file path="/x"`, ok: false},
		{name: "garbage", in: `"""=== =`, ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseLandlockAccess(tt.in)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func auditMsg(typ uint16, body string) []byte {
	b := make([]byte, 16+len(body))
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	copy(b[16:], body)
	return b
}

func TestLandlockJoiner(t *testing.T) {
	var got []LandlockDenial
	j := newLandlockJoiner(func(d LandlockDenial) { got = append(got, d) })
	now := time.Unix(1000, 0)
	// The first denial comes before its domain's allocated record.
	j.feed(auditMsg(typeLandlockAccess, `audit(1.2:3): domain=aa blockers=fs.execute path="/tmp/x" dev="vda" ino=1`), now)
	if len(got) != 0 {
		t.Fatalf("delivered before its domain: %v", got)
	}
	j.feed(auditMsg(typeLandlockDomain, `audit(1.2:3): domain=aa status=allocated mode=enforcing pid=42 uid=0 exe="/bin/busybox" comm="sh"`), now)
	j.feed(auditMsg(typeLandlockAccess, `audit(1.2:4): domain=aa blockers=fs.read_file path="/etc/shadow" dev="vda" ino=2`), now)
	// A domain never allocated in our sight: delivered without a creator after the delay.
	j.feed(auditMsg(typeLandlockAccess, `audit(1.2:5): domain=bb blockers=fs.read_file path="/x" dev="vda" ino=3`), now)
	j.expire(now.Add(time.Second), 2*time.Second)
	if len(got) != 2 {
		t.Fatalf("want 2 delivered, got %v", got)
	}
	j.expire(now.Add(3*time.Second), 2*time.Second)
	want := []LandlockDenial{
		{Domain: "aa", Blockers: []string{"fs.execute"}, Path: "/tmp/x", PID: 42, Exe: "/bin/busybox"},
		{Domain: "aa", Blockers: []string{"fs.read_file"}, Path: "/etc/shadow", PID: 42, Exe: "/bin/busybox"},
		{Domain: "bb", Blockers: []string{"fs.read_file"}, Path: "/x"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Deallocation forgets the domain.
	j.feed(auditMsg(typeLandlockDomain, `audit(1.2:6): domain=aa status=deallocated denials=2`), now)
	if _, ok := j.domains["aa"]; ok {
		t.Error("deallocated domain kept")
	}
}

func FuzzParseLandlockAccess(f *testing.F) {
	f.Add(`audit(1764770000.123:456): domain=195ba459b blockers=fs.write_file path="/tmp/x" dev="vda" ino=1234`)
	f.Add(`domain=1a blockers=net.connect_tcp daddr=10.0.0.1 dest=443`)
	f.Add(`path=2F746D70 domain="x`)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseLandlockAccess(s)
		if ok && (d.Domain == "" || len(d.Blockers) == 0) {
			t.Fatalf("accepted without domain or blockers: %+v", d)
		}
		_, _ = parseLandlockDomain(s)
	})
}

func FuzzLandlockFeed(f *testing.F) {
	f.Add(auditMsg(typeLandlockAccess, `domain=aa blockers=fs.execute path="/tmp/x"`))
	f.Add(auditMsg(typeLandlockDomain, `domain=aa status=allocated pid=1`))
	f.Fuzz(func(t *testing.T, b []byte) {
		j := newLandlockJoiner(func(LandlockDenial) {})
		j.feed(b, time.Unix(0, 0))
		j.expire(time.Unix(10, 0), time.Second)
	})
}
