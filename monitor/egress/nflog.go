package egress

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// nfnetlink_log, from linux/netfilter/nfnetlink_log.h (x/sys/unix does not
// carry these).
const (
	nfulnlMsgPacket = 0
	nfulnlMsgConfig = 1

	nfulaPacketHdr = 1
	nfulaPayload   = 9
	nfulaPrefix    = 10

	nfulaCfgCmd     = 1
	nfulaCfgMode    = 2
	nfulaCfgQthresh = 5

	nfulnlCfgCmdBind = 1
	nfulnlCopyPacket = 2

	// copyRange is how much of each packet the kernel copies: enough for
	// an IPv6 header, some extension headers and the ports.
	copyRange = 128
	// readBuffer is the socket receive buffer: a burst of denials beyond it
	// is counted as lost (the nftables counter still has them).
	readBuffer = 1 << 20
)

// Direction says which way a reported connection went.
type Direction string

const (
	// Egress is a connection the container tried to make.
	Egress Direction = "egress"
	// Ingress is a connection a peer tried to make to the container.
	Ingress Direction = "ingress"
)

// Denied is one connection attempt outside the profile, reported by the
// kernel through NFLOG. In enforce mode the kernel rejected it; in monitor
// and learn modes it was let through (Enforced false).
type Denied struct {
	// Container is Options.Container of the Rules that reported it.
	Container string
	Direction Direction
	// Proto is "tcp", "udp", "icmp", "icmpv6" or "ip-proto-N".
	Proto string
	// Peer is the other end: the destination of an egress attempt, the
	// source of an ingress one. Its port is 0 for protocols without ports.
	Peer netip.AddrPort
	// Local is the container's end.
	Local netip.AddrPort
	// Enforced is true when the packet was rejected.
	Enforced bool
	// Time is when the event was read.
	Time time.Time
}

// packetInfo is what parsePacket finds in an NFLOG message.
type packetInfo struct {
	hook     uint8
	prefix   string
	proto    uint8
	src, dst netip.AddrPort
}

// parseLogMessage parses the payload of one NFULNL_MSG_PACKET message: the
// nfgenmsg header, then attributes.
func parseLogMessage(b []byte) (packetInfo, error) {
	var pi packetInfo
	if len(b) < 4 {
		return pi, fmt.Errorf("nflog message of %d bytes: shorter than its header", len(b))
	}
	ad, err := netlink.NewAttributeDecoder(b[4:])
	if err != nil {
		return pi, fmt.Errorf("nflog message: %w", err)
	}
	ad.ByteOrder = binary.BigEndian
	var payload []byte
	var haveHdr bool
	for ad.Next() {
		switch ad.Type() {
		case nfulaPacketHdr:
			// struct nfulnl_msg_packet_hdr { __be16 hw_protocol; __u8 hook; __u8 _pad; }
			if h := ad.Bytes(); len(h) >= 3 {
				pi.hook, haveHdr = h[2], true
			}
		case nfulaPrefix:
			pi.prefix = ad.String()
		case nfulaPayload:
			payload = ad.Bytes()
		}
	}
	if err := ad.Err(); err != nil {
		return pi, fmt.Errorf("nflog message: %w", err)
	}
	if !haveHdr {
		return pi, errors.New("nflog message without a packet header")
	}
	if payload == nil {
		return pi, errors.New("nflog message without a payload")
	}
	pi.proto, pi.src, pi.dst, err = parsePacket(payload)
	return pi, err
}

// parsePacket reads protocol, addresses and (for TCP, UDP, UDP-Lite and
// SCTP) ports from the start of an IPv4 or IPv6 packet. The packet comes
// from the container: every length is checked.
func parsePacket(b []byte) (proto uint8, src, dst netip.AddrPort, err error) {
	if len(b) < 1 {
		return 0, src, dst, errors.New("empty packet")
	}
	var l4 []byte
	var sa, da netip.Addr
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return 0, src, dst, fmt.Errorf("ipv4 packet of %d bytes", len(b))
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || ihl > len(b) {
			return 0, src, dst, fmt.Errorf("ipv4 header length %d in %d bytes", ihl, len(b))
		}
		proto = b[9]
		sa = netip.AddrFrom4([4]byte(b[12:16]))
		da = netip.AddrFrom4([4]byte(b[16:20]))
		// Only the first fragment carries the transport header.
		if binary.BigEndian.Uint16(b[6:8])&0x1fff == 0 {
			l4 = b[ihl:]
		}
	case 6:
		if len(b) < 40 {
			return 0, src, dst, fmt.Errorf("ipv6 packet of %d bytes", len(b))
		}
		sa = netip.AddrFrom16([16]byte(b[8:24]))
		da = netip.AddrFrom16([16]byte(b[24:40]))
		proto, l4 = skipIPv6Extensions(b[6], b[40:])
	default:
		return 0, src, dst, fmt.Errorf("packet of IP version %d", b[0]>>4)
	}
	var sp, dp uint16
	if hasPorts(proto) && len(l4) >= 4 {
		sp, dp = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
	}
	return proto, netip.AddrPortFrom(sa, sp), netip.AddrPortFrom(da, dp), nil
}

// skipIPv6Extensions follows the extension header chain to the transport
// header. It gives up (returning the last next-header value and no
// transport bytes) on a truncated chain or a non-first fragment.
func skipIPv6Extensions(next uint8, b []byte) (uint8, []byte) {
	for i := 0; i < 8; i++ {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(b) < 8 {
				return next, nil
			}
			n := (int(b[1]) + 1) * 8
			if n > len(b) {
				return next, nil
			}
			next, b = b[0], b[n:]
		case 44: // fragment
			if len(b) < 8 {
				return next, nil
			}
			if binary.BigEndian.Uint16(b[2:4])&0xfff8 != 0 {
				return b[0], nil
			}
			next, b = b[0], b[8:]
		case 51: // authentication header
			if len(b) < 8 {
				return next, nil
			}
			n := (int(b[1]) + 2) * 4
			if n > len(b) {
				return next, nil
			}
			next, b = b[0], b[n:]
		default:
			return next, b
		}
	}
	return next, nil
}

func hasPorts(proto uint8) bool {
	switch proto {
	case unix.IPPROTO_TCP, unix.IPPROTO_UDP, unix.IPPROTO_UDPLITE, unix.IPPROTO_SCTP:
		return true
	}
	return false
}

func protoName(proto uint8) string {
	switch proto {
	case unix.IPPROTO_TCP:
		return "tcp"
	case unix.IPPROTO_UDP:
		return "udp"
	case unix.IPPROTO_ICMP:
		return "icmp"
	case unix.IPPROTO_ICMPV6:
		return "icmpv6"
	case unix.IPPROTO_SCTP:
		return "sctp"
	case unix.IPPROTO_UDPLITE:
		return "udplite"
	}
	return "ip-proto-" + strconv.Itoa(int(proto))
}

// event turns a parsed packet into a Denied, by the hook it was logged at.
func (pi packetInfo) event(container string, enforced bool, now time.Time) (Denied, bool) {
	d := Denied{Container: container, Proto: protoName(pi.proto), Enforced: enforced, Time: now}
	switch pi.hook {
	case unix.NF_INET_LOCAL_OUT:
		d.Direction, d.Peer, d.Local = Egress, pi.dst, pi.src
	case unix.NF_INET_LOCAL_IN:
		d.Direction, d.Peer, d.Local = Ingress, pi.src, pi.dst
	default:
		return Denied{}, false
	}
	return d, true
}

// logPrefix is the NFLOG prefix of a container's rules (at most 127 bytes:
// the kernel's limit).
func logPrefix(container string) string {
	p := "confine:" + container
	if len(p) > 127 {
		p = p[:127]
	}
	return p
}

// readerStats counts what the reader did.
type readerStats struct {
	delivered, dropped, lost, malformed atomic.Uint64
}

// nflogReader reads one NFLOG group in one network namespace. Its socket
// keeps the namespace alive, so it must be closed when the container
// exits (Rules does that when the init process exits).
type nflogReader struct {
	conn      *netlink.Conn
	container string
	prefix    string
	out       chan<- Denied
	enforced  *atomic.Bool
	stats     *readerStats
	closeOnce sync.Once
	done      chan struct{}
}

// startReader binds NFLOG group in the namespace open as ns and starts
// delivering to out.
func startReader(ns *os.File, group uint16, container string, out chan<- Denied, enforced *atomic.Bool, stats *readerStats) (*nflogReader, error) {
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: int(ns.Fd())})
	if err != nil {
		return nil, fmt.Errorf("opening an nflog socket: %w", err)
	}
	r := &nflogReader{conn: conn, container: container, prefix: logPrefix(container), out: out,
		enforced: enforced, stats: stats, done: make(chan struct{})}
	if err := r.configure(group); err != nil {
		conn.Close()
		return nil, fmt.Errorf("binding nflog group %d: %w", group, err)
	}
	_ = conn.SetReadBuffer(readBuffer)
	go r.loop()
	return r, nil
}

func (r *nflogReader) configure(group uint16) error {
	send := func(attrs []netlink.Attribute) error {
		data, err := netlink.MarshalAttributes(attrs)
		if err != nil {
			return err
		}
		hdr := []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0}
		binary.BigEndian.PutUint16(hdr[2:], group)
		_, err = r.conn.Execute(netlink.Message{
			Header: netlink.Header{
				Type:  netlink.HeaderType(unix.NFNL_SUBSYS_ULOG<<8 | nfulnlMsgConfig),
				Flags: netlink.Request | netlink.Acknowledge,
			},
			Data: append(hdr, data...),
		})
		return err
	}
	if err := send([]netlink.Attribute{{Type: nfulaCfgCmd, Data: []byte{nfulnlCfgCmdBind}}}); err != nil {
		return err
	}
	// struct nfulnl_msg_config_mode { __be32 copy_range; __u8 copy_mode; __u8 _pad; }
	mode := make([]byte, 6)
	binary.BigEndian.PutUint32(mode, copyRange)
	mode[4] = nfulnlCopyPacket
	qthresh := binary.BigEndian.AppendUint32(nil, 1) // deliver every packet at once
	return send([]netlink.Attribute{
		{Type: nfulaCfgMode, Data: mode},
		{Type: nfulaCfgQthresh, Data: qthresh},
	})
}

func (r *nflogReader) loop() {
	defer close(r.done)
	for {
		msgs, err := r.conn.Receive()
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				r.stats.lost.Add(1)
				continue
			}
			return // closed, or the socket is broken
		}
		for _, m := range msgs {
			if m.Header.Type != netlink.HeaderType(unix.NFNL_SUBSYS_ULOG<<8|nfulnlMsgPacket) {
				continue
			}
			pi, err := parseLogMessage(m.Data)
			if err != nil || pi.prefix != r.prefix {
				r.stats.malformed.Add(1)
				continue
			}
			d, ok := pi.event(r.container, r.enforced.Load(), time.Now())
			if !ok {
				r.stats.malformed.Add(1)
				continue
			}
			select {
			case r.out <- d:
				r.stats.delivered.Add(1)
			default:
				r.stats.dropped.Add(1)
			}
		}
	}
}

// close stops the reader and releases its socket (and with it the reader's
// hold on the namespace).
func (r *nflogReader) close() {
	r.closeOnce.Do(func() {
		r.conn.Close()
		<-r.done
	})
}
