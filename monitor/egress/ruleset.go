package egress

import (
	"os"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Names in the container's network namespace. The table is confine's alone:
// nothing else in the namespace is touched.
const (
	TableName = "confine"

	chainOutput      = "output"
	chainInput       = "input"
	chainEgressDeny  = "egress_deny"
	chainIngressDeny = "ingress_deny"

	counterEgress  = "egress_denied"
	counterIngress = "ingress_denied"
)

// Log rate: beyond it denied packets are still counted and rejected, only
// not reported one by one.
const (
	logRate  = 20 // packets per second
	logBurst = 50
)

// newConn opens an nftables connection into the namespace open as ns. The
// socket is made there (mdlayher/socket switches a locked thread in and
// out); this goroutine never changes namespace. Acks come without the
// request echoed (NETLINK_CAP_ACK): a batch of hundreds of rules would
// otherwise overflow the receive buffer with its own acks (ENOBUFS after
// the kernel applied it).
func newConn(ns *os.File) (*nftables.Conn, error) {
	return nftables.New(nftables.WithNetNSFd(int(ns.Fd())), nftables.WithSockOptions(
		func(c *netlink.Conn) error { return c.SetOption(netlink.CapAcknowledge, true) },
		func(c *netlink.Conn) error { return c.SetReadBuffer(1 << 20) },
	))
}

func table() *nftables.Table {
	return &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}
}

// queueRemove queues the removal of the table whether or not it exists: an
// add of an existing table is a no-op, so add+delete always succeeds.
func queueRemove(c *nftables.Conn) {
	t := table()
	c.AddTable(t)
	c.DelTable(t)
}

// queueInstall queues, into one batch, the table for plan p. fresh replaces
// the whole table (first install: exactly our layout, counters from zero);
// otherwise the table, its counters and chains are kept and the chains'
// rules flushed and rewritten, so counters survive profile reloads. Either
// way the kernel applies the batch as one transaction: no packet sees a
// half-written rule set.
func queueInstall(c *nftables.Conn, p plan, fresh bool, logPrefix string, group uint16) {
	if p.empty() {
		queueRemove(c)
		return
	}
	t := table()
	if fresh {
		queueRemove(c)
	}
	c.AddTable(t)
	c.AddObj(&nftables.CounterObj{Table: t, Name: counterEgress})
	c.AddObj(&nftables.CounterObj{Table: t, Name: counterIngress})

	outPolicy, inPolicy := nftables.ChainPolicyAccept, nftables.ChainPolicyAccept
	if p.restrictEgress && p.enforce {
		outPolicy = nftables.ChainPolicyDrop
	}
	output := c.AddChain(&nftables.Chain{Name: chainOutput, Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter, Policy: &outPolicy})
	input := c.AddChain(&nftables.Chain{Name: chainInput, Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &inPolicy})
	egressDeny := c.AddChain(&nftables.Chain{Name: chainEgressDeny, Table: t})
	ingressDeny := c.AddChain(&nftables.Chain{Name: chainIngressDeny, Table: t})
	if !fresh {
		for _, ch := range []*nftables.Chain{output, input, egressDeny, ingressDeny} {
			c.FlushChain(ch)
		}
	}

	rule := func(ch *nftables.Chain, exprs ...[]expr.Any) {
		var all []expr.Any
		for _, e := range exprs {
			all = append(all, e...)
		}
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: all})
	}
	invalid := verdict(expr.VerdictAccept)
	if p.enforce {
		invalid = verdict(expr.VerdictDrop)
	}

	if p.restrictEgress {
		rule(output, ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), verdict(expr.VerdictAccept))
		rule(output, ctState(expr.CtStateBitINVALID), invalid)
		// IPv6 cannot work without neighbour discovery and MLD: they are
		// not connections to peers.
		rule(output, nfproto(unix.NFPROTO_IPV6), l4proto(unix.IPPROTO_ICMPV6), icmp6TypeRange(130, 137), verdict(expr.VerdictAccept))
		rule(output, nfproto(unix.NFPROTO_IPV6), l4proto(unix.IPPROTO_ICMPV6), icmp6TypeRange(143, 143), verdict(expr.VerdictAccept))
		for _, d := range p.egress {
			if d.port == 0 {
				rule(output, daddr(d), verdict(expr.VerdictAccept))
				continue
			}
			for _, proto := range []byte{unix.IPPROTO_TCP, unix.IPPROTO_UDP} {
				rule(output, daddr(d), l4proto(proto), dport(d.port), verdict(expr.VerdictAccept))
			}
		}
		rule(output, jump(chainEgressDeny))
		queueDeny(rule, egressDeny, counterEgress, p.enforce, logPrefix, group)
	}

	if p.restrictListen {
		// Loopback traffic never comes from outside the container; what a
		// process may connect to over it is the egress chain's business.
		rule(input, iifname("lo"), verdict(expr.VerdictAccept))
		rule(input, ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), verdict(expr.VerdictAccept))
		rule(input, ctState(expr.CtStateBitINVALID), invalid)
		for _, port := range p.listen {
			for _, proto := range []byte{unix.IPPROTO_TCP, unix.IPPROTO_UDP} {
				rule(input, l4proto(proto), dport(port), verdict(expr.VerdictAccept))
			}
		}
		// Only TCP and UDP have ports: ICMP (echo, errors) passes.
		for _, proto := range []byte{unix.IPPROTO_TCP, unix.IPPROTO_UDP} {
			rule(input, l4proto(proto), jump(chainIngressDeny))
		}
		queueDeny(rule, ingressDeny, counterIngress, p.enforce, logPrefix, group)
	}
}

// queueDeny fills a deny chain: report (rate-limited), count, and in
// enforce mode reject, so the caller fails at once (TCP reset: "connection
// refused"; otherwise ICMP port unreachable) instead of timing out. In
// monitor and learn modes the chain returns and the packet is accepted.
func queueDeny(rule func(*nftables.Chain, ...[]expr.Any), ch *nftables.Chain, counter string, enforce bool, logPrefix string, group uint16) {
	rule(ch, []expr.Any{
		&expr.Limit{Type: expr.LimitTypePkts, Rate: logRate, Unit: expr.LimitTimeSecond, Burst: logBurst},
		&expr.Log{Key: 1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_PREFIX, Group: group, Data: []byte(logPrefix)},
	})
	rule(ch, []expr.Any{&expr.Objref{Type: int(nftables.ObjTypeCounter), Name: counter}})
	if !enforce {
		return
	}
	rule(ch, l4proto(unix.IPPROTO_TCP), []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}})
	rule(ch, []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH}})
}

func verdict(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }

func jump(chain string) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: chain}}
}

// ctState matches when the connection's state has any of bits.
func ctState(bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

func nfproto(family byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{family}},
	}
}

func l4proto(proto byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
	}
}

// dport matches the destination port of TCP or UDP (the caller matches the
// protocol first: the offset is the same for both).
func dport(port uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

func icmp6TypeRange(lo, hi byte) []expr.Any {
	load := &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1}
	if lo == hi {
		return []expr.Any{load, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{lo}}}
	}
	return []expr.Any{load,
		&expr.Cmp{Op: expr.CmpOpGte, Register: 1, Data: []byte{lo}},
		&expr.Cmp{Op: expr.CmpOpLte, Register: 1, Data: []byte{hi}},
	}
}

// daddr matches the destination address of d (any address of the family
// for a /0, everything for "*").
func daddr(d dest) []expr.Any {
	if !d.prefix.IsValid() {
		return nil
	}
	a := d.prefix.Addr()
	family, offset := byte(unix.NFPROTO_IPV4), uint32(16)
	if a.Is6() {
		family, offset = unix.NFPROTO_IPV6, 24
	}
	out := nfproto(family)
	if d.prefix.Bits() == 0 {
		return out
	}
	addr := a.AsSlice()
	n := uint32(len(addr))
	out = append(out, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: n})
	if d.prefix.Bits() < a.BitLen() {
		out = append(out, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n,
			Mask: prefixMask(d.prefix.Bits(), int(n)), Xor: make([]byte, n)})
	}
	return append(out, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: d.prefix.Masked().Addr().AsSlice()})
}

// prefixMask is a network mask of bits ones in n bytes.
func prefixMask(bits, n int) []byte {
	m := make([]byte, n)
	for i := 0; i < bits; i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return m
}

// iifname matches the input interface by name (IFNAMSIZ bytes, NUL-padded,
// as nft writes it).
func iifname(name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b},
	}
}
