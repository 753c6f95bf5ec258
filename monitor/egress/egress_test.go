package egress

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/profiles"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

func TestParseSpecAndPlan(t *testing.T) {
	a := netip.MustParseAddr
	pfx := netip.MustParsePrefix
	tests := []struct {
		name    string
		mode    profiles.Mode
		network profiles.Network
		addrs   map[string][]netip.Addr
		want    plan
		wantErr string
	}{
		{
			name: "no network section: no table",
			mode: profiles.ModeEnforce,
			want: plan{enforce: true},
		},
		{
			name:    "empty lists: nothing allowed",
			mode:    profiles.ModeEnforce,
			network: profiles.Network{Egress: profiles.List{}, Listen: profiles.Ports{}},
			want:    plan{restrictEgress: true, restrictListen: true, listen: []uint16{}, enforce: true},
		},
		{
			name: "cidr, ip, ipv6, any host, any port, duplicates",
			mode: profiles.ModeMonitor,
			network: profiles.Network{Egress: profiles.List{
				"10.0.0.0/8:5432", "127.0.0.1:*", "[::1]:80", "*:53", "10.1.2.3/8:5432",
			}},
			want: plan{restrictEgress: true, egress: []dest{
				{prefix: pfx("10.0.0.0/8"), port: 5432},
				{prefix: pfx("127.0.0.1/32")},
				{prefix: pfx("::1/128"), port: 80},
				{port: 53},
			}},
		},
		{
			name:    "dns names expand to their addresses; unresolved admits nothing",
			mode:    profiles.ModeEnforce,
			network: profiles.Network{Egress: profiles.List{"db.internal:5432", "gone.internal:1"}},
			addrs:   map[string][]netip.Addr{"db.internal": {a("10.9.8.7"), a("::ffff:10.9.8.6"), a("fd00::1")}},
			want: plan{restrictEgress: true, enforce: true, egress: []dest{
				{prefix: pfx("10.9.8.7/32"), port: 5432},
				{prefix: pfx("10.9.8.6/32"), port: 5432},
				{prefix: pfx("fd00::1/128"), port: 5432},
			}},
		},
		{
			name:    "ipv4-mapped prefix becomes ipv4",
			mode:    profiles.ModeEnforce,
			network: profiles.Network{Egress: profiles.List{"[::ffff:10.0.0.0/104]:443"}},
			want:    plan{restrictEgress: true, enforce: true, egress: []dest{{prefix: pfx("10.0.0.0/8"), port: 443}}},
		},
		{
			name:    "listen sorted and deduplicated",
			mode:    profiles.ModeLearn,
			network: profiles.Network{Listen: profiles.Ports{443, 80, 443}},
			want:    plan{restrictListen: true, listen: []uint16{80, 443}},
		},
		{
			name:    "bad egress entry names the index",
			mode:    profiles.ModeEnforce,
			network: profiles.Network{Egress: profiles.List{"10.0.0.0/8:5432", "nope"}},
			wantErr: "network.egress[1]",
		},
		{
			name:    "bad listen port",
			mode:    profiles.ModeEnforce,
			network: profiles.Network{Listen: profiles.Ports{0}},
			wantErr: "network.listen[0]: port 0",
		},
		{
			name:    "bad mode",
			mode:    "block",
			wantErr: `mode "block"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &profiles.Profile{Name: "p", Mode: tt.mode, Network: tt.network}
			s, err := parseSpec(p, tt.mode)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), `profile "p"`) {
					t.Fatalf("err = %v, want one containing %q and the profile", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := makePlan(s, tt.addrs); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("plan =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestSpecHosts(t *testing.T) {
	s, err := parseSpec(&profiles.Profile{Network: profiles.Network{Egress: profiles.List{
		"b.internal:1", "a.internal:2", "b.internal:3", "*:53", "10.0.0.1:*",
	}}}, profiles.ModeEnforce)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.hosts(), []string{"a.internal", "b.internal"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("hosts = %v, want %v", got, want)
	}
}

func TestMergeAnswers(t *testing.T) {
	a := netip.MustParseAddr
	now := time.Unix(1000, 0)
	states := map[string]*hostState{}
	steps := []struct {
		name        string
		answer      answer
		wantAddrs   []netip.Addr
		wantChanged bool
		wantErr     bool
	}{
		{"first answer", answer{addrs: []netip.Addr{a("10.0.0.2"), a("10.0.0.1"), a("::ffff:10.0.0.1")}}, []netip.Addr{a("10.0.0.1"), a("10.0.0.2")}, true, false},
		{"same answer", answer{addrs: []netip.Addr{a("10.0.0.1"), a("10.0.0.2")}}, []netip.Addr{a("10.0.0.1"), a("10.0.0.2")}, false, false},
		{"moved: previous kept", answer{addrs: []netip.Addr{a("10.0.0.3")}}, []netip.Addr{a("10.0.0.1"), a("10.0.0.2"), a("10.0.0.3")}, true, false},
		{"lookup fails: all kept", answer{err: errors.New("timeout")}, []netip.Addr{a("10.0.0.1"), a("10.0.0.2"), a("10.0.0.3")}, false, true},
		{"stable: previous dropped", answer{addrs: []netip.Addr{a("10.0.0.3")}}, []netip.Addr{a("10.0.0.3")}, true, false},
	}
	for _, st := range steps {
		changed := merge(states, map[string]answer{"db": st.answer}, now)
		h := states["db"]
		if changed != st.wantChanged || !reflect.DeepEqual(h.admitted(), st.wantAddrs) || (h.err != nil) != st.wantErr {
			t.Fatalf("%s: changed %v, admitted %v, err %v; want %v, %v, err %v",
				st.name, changed, h.admitted(), h.err, st.wantChanged, st.wantAddrs, st.wantErr)
		}
	}
}

func TestPrefixMask(t *testing.T) {
	for _, tt := range []struct {
		bits, n int
		want    []byte
	}{
		{8, 4, []byte{0xff, 0, 0, 0}},
		{12, 4, []byte{0xff, 0xf0, 0, 0}},
		{31, 4, []byte{0xff, 0xff, 0xff, 0xfe}},
		{0, 4, []byte{0, 0, 0, 0}},
		{65, 16, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}},
	} {
		if got := prefixMask(tt.bits, tt.n); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("prefixMask(%d, %d) = %x, want %x", tt.bits, tt.n, got, tt.want)
		}
	}
}

func TestLogPrefix(t *testing.T) {
	if got := logPrefix("default/web"); got != "confine:default/web" {
		t.Fatalf("logPrefix = %q", got)
	}
	if got := logPrefix(strings.Repeat("x", 200)); len(got) != 127 || !strings.HasPrefix(got, "confine:x") {
		t.Fatalf("long prefix not cut to 127 bytes: %d", len(got))
	}
}

// ipv4TCP builds a minimal IPv4+TCP header.
func ipv4TCP(src, dst string, sport, dport uint16, proto byte) []byte {
	b := make([]byte, 40)
	b[0] = 0x45
	b[9] = proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[20:], sport)
	binary.BigEndian.PutUint16(b[22:], dport)
	return b
}

func ipv6Packet(src, dst string, next byte, rest []byte) []byte {
	b := make([]byte, 40, 40+len(rest))
	b[0] = 0x60
	b[6] = next
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	return append(b, rest...)
}

func TestParsePacket(t *testing.T) {
	ports := func(s, d uint16) []byte {
		b := make([]byte, 8)
		binary.BigEndian.PutUint16(b, s)
		binary.BigEndian.PutUint16(b[2:], d)
		return b
	}
	ap := netip.MustParseAddrPort
	fragment := ipv4TCP("10.0.0.1", "10.0.0.2", 1, 2, unix.IPPROTO_UDP)
	binary.BigEndian.PutUint16(fragment[6:], 10) // offset 80 bytes: no ports
	hopByHop := append([]byte{unix.IPPROTO_TCP, 0, 0, 0, 0, 0, 0, 0}, ports(40000, 443)...)
	tests := []struct {
		name     string
		in       []byte
		proto    uint8
		src, dst netip.AddrPort
		wantErr  bool
	}{
		{"ipv4 tcp", ipv4TCP("10.201.1.1", "10.201.1.2", 40000, 9002, unix.IPPROTO_TCP), unix.IPPROTO_TCP, ap("10.201.1.1:40000"), ap("10.201.1.2:9002"), false},
		{"ipv4 icmp has no ports", ipv4TCP("10.0.0.1", "10.0.0.2", 8, 0, unix.IPPROTO_ICMP), unix.IPPROTO_ICMP, ap("10.0.0.1:0"), ap("10.0.0.2:0"), false},
		{"ipv4 later fragment", fragment, unix.IPPROTO_UDP, ap("10.0.0.1:0"), ap("10.0.0.2:0"), false},
		{"ipv4 truncated transport", ipv4TCP("10.0.0.1", "10.0.0.2", 1, 2, unix.IPPROTO_TCP)[:22], unix.IPPROTO_TCP, ap("10.0.0.1:0"), ap("10.0.0.2:0"), false},
		{"ipv6 udp", ipv6Packet("fd00::1", "fd00::2", unix.IPPROTO_UDP, ports(5353, 53)), unix.IPPROTO_UDP, ap("[fd00::1]:5353"), ap("[fd00::2]:53"), false},
		{"ipv6 hop-by-hop then tcp", ipv6Packet("::1", "::1", 0, hopByHop), unix.IPPROTO_TCP, ap("[::1]:40000"), ap("[::1]:443"), false},
		{"ipv6 truncated extension", ipv6Packet("::1", "::1", 0, []byte{6, 9}), 0, ap("[::1]:0"), ap("[::1]:0"), false},
		{"empty", nil, 0, netip.AddrPort{}, netip.AddrPort{}, true},
		{"short ipv4", []byte{0x45, 0, 0}, 0, netip.AddrPort{}, netip.AddrPort{}, true},
		{"bad ihl", append([]byte{0x4f}, make([]byte, 30)...), 0, netip.AddrPort{}, netip.AddrPort{}, true},
		{"ip version 5", []byte{0x50, 0, 0, 0}, 0, netip.AddrPort{}, netip.AddrPort{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proto, src, dst, err := parsePacket(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (proto != tt.proto || src != tt.src || dst != tt.dst) {
				t.Fatalf("got %d %s -> %s, want %d %s -> %s", proto, src, dst, tt.proto, tt.src, tt.dst)
			}
		})
	}
}

// logMessage builds an NFULNL_MSG_PACKET payload as the kernel sends it.
func logMessage(t testing.TB, hook uint8, prefix string, payload []byte) []byte {
	t.Helper()
	attrs := []netlink.Attribute{
		{Type: nfulaPacketHdr, Data: []byte{0x08, 0x00, hook, 0}},
		{Type: nfulaPrefix, Data: append([]byte(prefix), 0)},
		{Type: nfulaPayload, Data: payload},
	}
	b, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{unix.AF_INET, 0, 0x0a, 0x91}, b...)
}

func TestParseLogMessage(t *testing.T) {
	pkt := ipv4TCP("10.201.1.1", "10.201.1.2", 40000, 9002, unix.IPPROTO_TCP)
	now := time.Unix(5, 0)
	tests := []struct {
		name    string
		msg     []byte
		want    Denied
		wantOK  bool
		wantErr bool
	}{
		{
			name:   "egress",
			msg:    logMessage(t, unix.NF_INET_LOCAL_OUT, "confine:c1", pkt),
			want:   Denied{Container: "c1", Direction: Egress, Proto: "tcp", Peer: netip.MustParseAddrPort("10.201.1.2:9002"), Local: netip.MustParseAddrPort("10.201.1.1:40000"), Enforced: true, Time: now},
			wantOK: true,
		},
		{
			name:   "ingress: the peer is the source",
			msg:    logMessage(t, unix.NF_INET_LOCAL_IN, "confine:c1", pkt),
			want:   Denied{Container: "c1", Direction: Ingress, Proto: "tcp", Peer: netip.MustParseAddrPort("10.201.1.1:40000"), Local: netip.MustParseAddrPort("10.201.1.2:9002"), Enforced: true, Time: now},
			wantOK: true,
		},
		{
			name: "another hook is not ours",
			msg:  logMessage(t, unix.NF_INET_FORWARD, "confine:c1", pkt),
		},
		{name: "short", msg: []byte{1, 2}, wantErr: true},
		{name: "no payload", msg: []byte{2, 0, 0, 0, 8, 0, nfulaPacketHdr, 0, 8, 0, 3, 0}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pi, err := parseLogMessage(tt.msg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if pi.prefix != "confine:c1" {
				t.Fatalf("prefix %q", pi.prefix)
			}
			got, ok := pi.event("c1", true, now)
			if ok != tt.wantOK || got != tt.want {
				t.Fatalf("event = %+v, %v; want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// FuzzParseLogMessage: NFLOG messages carry packets the container wrote.
func FuzzParseLogMessage(f *testing.F) {
	f.Add(logMessage(f, unix.NF_INET_LOCAL_OUT, "confine:c", ipv4TCP("10.0.0.1", "10.0.0.2", 1, 2, unix.IPPROTO_TCP)))
	f.Add(logMessage(f, unix.NF_INET_LOCAL_IN, "confine:c", ipv6Packet("::1", "::2", 44, []byte{6, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2})))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		pi, err := parseLogMessage(b)
		if err != nil {
			return
		}
		d, ok := pi.event("c", false, time.Time{})
		if ok && (!d.Peer.Addr().IsValid() || !d.Local.Addr().IsValid()) {
			t.Fatalf("event with an invalid address: %+v", d)
		}
	})
}

func FuzzParsePacket(f *testing.F) {
	f.Add(ipv4TCP("10.0.0.1", "10.0.0.2", 1, 2, unix.IPPROTO_TCP))
	f.Add(ipv6Packet("::1", "::2", 0, []byte{17, 0, 0, 0, 0, 0, 0, 0, 0, 53, 0, 53}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, src, dst, err := parsePacket(b)
		if err == nil && (!src.Addr().IsValid() || !dst.Addr().IsValid()) {
			t.Fatalf("no error but invalid addresses for %x", b)
		}
	})
}
