package proc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
)

// Proto names one of the /proc/PID/net socket tables.
type Proto string

const (
	TCP  Proto = "tcp"
	TCP6 Proto = "tcp6"
	UDP  Proto = "udp"
	UDP6 Proto = "udp6"
)

// Protos are the tables Net reads, in order.
var Protos = []Proto{TCP, TCP6, UDP, UDP6}

// IPv6 reports a table of IPv6 sockets (IPv4 peers of dual-stack sockets
// appear there as ::ffff:a.b.c.d).
func (p Proto) IPv6() bool { return p == TCP6 || p == UDP6 }

// TCP reports a TCP table.
func (p Proto) TCP() bool { return p == TCP || p == TCP6 }

// SocketState is the "st" column: TCP states from include/net/tcp_states.h,
// which UDP reuses (ESTABLISHED when connected, CLOSE otherwise).
type SocketState uint8

const (
	StateEstablished SocketState = 0x01
	StateSynSent     SocketState = 0x02
	StateSynRecv     SocketState = 0x03
	StateFinWait1    SocketState = 0x04
	StateFinWait2    SocketState = 0x05
	StateTimeWait    SocketState = 0x06
	StateClose       SocketState = 0x07
	StateCloseWait   SocketState = 0x08
	StateLastAck     SocketState = 0x09
	StateListen      SocketState = 0x0A
	StateClosing     SocketState = 0x0B
	StateNewSynRecv  SocketState = 0x0C
)

var stateNames = map[SocketState]string{
	StateEstablished: "ESTABLISHED", StateSynSent: "SYN_SENT", StateSynRecv: "SYN_RECV",
	StateFinWait1: "FIN_WAIT1", StateFinWait2: "FIN_WAIT2", StateTimeWait: "TIME_WAIT",
	StateClose: "CLOSE", StateCloseWait: "CLOSE_WAIT", StateLastAck: "LAST_ACK",
	StateListen: "LISTEN", StateClosing: "CLOSING", StateNewSynRecv: "NEW_SYN_RECV",
}

func (s SocketState) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("STATE_%02X", uint8(s))
}

// UDPEphemeralStart is the lower end of Linux's default ephemeral port
// range (net.ipv4.ip_local_port_range = 32768 60999).
const UDPEphemeralStart = 32768

// Socket is one line of /proc/PID/net/{tcp,tcp6,udp,udp6}.
type Socket struct {
	Proto  Proto
	Local  netip.AddrPort
	Remote netip.AddrPort
	State  SocketState
	UID    uint32
	// Inode matches the "socket:[N]" fd targets of the processes that hold
	// the socket; 0 for sockets no process holds (TIME_WAIT).
	Inode uint64
}

// Listening reports a socket that accepts peers: a TCP socket in LISTEN,
// or a bound, unconnected UDP socket on a port below the ephemeral range.
// (A UDP client that sends without connect() is bound to an ephemeral port
// by the kernel and looks exactly like a server; counting those as
// listeners would flag every musl DNS lookup. A UDP server on an ephemeral
// port is therefore not seen.)
func (s Socket) Listening() bool {
	if s.Proto.TCP() {
		return s.State == StateListen
	}
	return s.State == StateClose && s.Local.Port() != 0 && s.Local.Port() < UDPEphemeralStart &&
		s.Remote.Port() == 0 && s.Remote.Addr().IsUnspecified()
}

// Connected reports a socket with a peer: a TCP connection being made,
// open or closing (not TIME_WAIT, whose owner is gone), or a connected UDP
// socket.
func (s Socket) Connected() bool {
	if !s.Proto.TCP() {
		return s.State == StateEstablished
	}
	switch s.State {
	case StateEstablished, StateSynSent, StateSynRecv, StateFinWait1, StateFinWait2,
		StateCloseWait, StateLastAck, StateClosing:
		return true
	}
	return false
}

// Net reads the process's network namespace's socket tables (tcp, tcp6,
// udp, udp6; a table the kernel does not offer, e.g. with IPv6 off, is
// skipped). The tables list every socket of the namespace, not only the
// process's: match Inode against Fd.SocketInode to find the process's own.
// All processes with one NetNS see the same tables, so read them once per
// namespace.
func (p Proc) Net() ([]Socket, error) {
	var out []Socket
	for _, proto := range Protos {
		name := "net/" + string(proto)
		b, err := readFileNoStat(p.path("net", string(proto)))
		if err != nil {
			if isNotExist(err) {
				if aerr := p.Alive(); aerr != nil {
					return nil, fmt.Errorf("reading %s of process %d: %w", name, p.key.PID, aerr)
				}
				continue
			}
			return nil, p.fail(name, err)
		}
		socks, err := parseNet(b, proto)
		if err != nil {
			return nil, fmt.Errorf("reading %s of process %d: %w", name, p.key.PID, err)
		}
		out = append(out, socks...)
	}
	return out, nil
}

// parseNet parses one socket table. Addresses are printed as the kernel
// holds them: each 32-bit word of the network-order address printed as a
// host-order integer, so on little-endian machines "0100007F" is 127.0.0.1
// and each group of 8 hex digits of an IPv6 address is byte-reversed.
// Ports are printed in host order.
func parseNet(b []byte, proto Proto) ([]Socket, error) {
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) == 0 || !bytes.Contains(lines[0], []byte("local_address")) {
		return nil, fmt.Errorf("%s: no header line: %w", proto, ErrParse)
	}
	var out []Socket
	for n, line := range lines[1:] {
		f := bytes.Fields(line)
		if len(f) == 0 {
			continue
		}
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
		if len(f) < 10 {
			return nil, fmt.Errorf("%s line %d: %d fields, want at least 10: %w", proto, n+2, len(f), ErrParse)
		}
		local, err := parseHexAddrPort(string(f[1]), proto.IPv6())
		if err != nil {
			return nil, fmt.Errorf("%s line %d: local address: %w", proto, n+2, err)
		}
		remote, err := parseHexAddrPort(string(f[2]), proto.IPv6())
		if err != nil {
			return nil, fmt.Errorf("%s line %d: remote address: %w", proto, n+2, err)
		}
		st, err := strconv.ParseUint(string(f[3]), 16, 8)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: bad state %q: %w", proto, n+2, f[3], ErrParse)
		}
		uid, err := strconv.ParseUint(string(f[7]), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: bad uid %q: %w", proto, n+2, f[7], ErrParse)
		}
		ino, err := strconv.ParseUint(string(f[9]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: bad inode %q: %w", proto, n+2, f[9], ErrParse)
		}
		out = append(out, Socket{Proto: proto, Local: local, Remote: remote, State: SocketState(st), UID: uint32(uid), Inode: ino})
	}
	return out, nil
}

// parseHexAddrPort parses "0100007F:1F90" or a 32-digit IPv6 address with
// a port.
func parseHexAddrPort(s string, v6 bool) (netip.AddrPort, error) {
	want := 8
	if v6 {
		want = 32
	}
	if len(s) != want+5 || s[want] != ':' {
		return netip.AddrPort{}, fmt.Errorf("%q is not %d hex digits, ':' and a 4-digit port: %w", s, want, ErrParse)
	}
	var raw [16]byte
	for w := 0; w < want/8; w++ {
		v, err := strconv.ParseUint(s[w*8:w*8+8], 16, 32)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("%q: bad address: %w", s, ErrParse)
		}
		binary.NativeEndian.PutUint32(raw[w*4:], uint32(v))
	}
	port, err := strconv.ParseUint(s[want+1:], 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: bad port: %w", s, ErrParse)
	}
	var addr netip.Addr
	if v6 {
		addr = netip.AddrFrom16(raw)
	} else {
		addr = netip.AddrFrom4([4]byte(raw[:4]))
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}
