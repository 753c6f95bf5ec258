// Package egress makes a profile's network.egress and network.listen hold
// in the kernel, before the first packet leaves: an nftables table of
// confine's own, "inet confine", in the container's network namespace.
//
// # Lifecycle
//
// The daemon calls [Apply] with the container's init PID at createRuntime
// (before user code runs), [Rules.Update] on a profile reload,
// [Rules.Refresh] on a timer for DNS names, and [Rules.Close] when it stops
// watching the container. Every change is one netlink batch, which the
// kernel applies as one transaction: there is no moment with half a rule
// set or none. The table lives in the namespace, so it outlives the daemon
// (a restarted daemon's Apply replaces it, again in one batch) and dies
// with the namespace. Rules holds nothing in the namespace but its NFLOG
// socket, and drops that itself when the init process exits (a pidfd in
// the runtime poller), so the namespace is freed when the container ends.
//
// The namespace is reached by socket, not by moving threads: the nftables
// and NFLOG netlink sockets are created inside it (mdlayher/socket switches
// one locked OS thread in and back, and lets the runtime discard the thread
// if it cannot switch back). A process in the host's network namespace (or
// the daemon's own) is refused with [ErrHostNetwork]: its rules would be
// the host's.
//
// # The rules
//
// chain output (hook output, policy drop in enforce mode):
//
//	ct state established,related accept
//	ct state invalid drop                     (accept in monitor/learn)
//	icmpv6 neighbour discovery and MLD accept (IPv6 does not work without)
//	each egress entry: daddr PREFIX [tcp|udp dport PORT] accept
//	jump egress_deny
//
// chain input (hook input, policy accept):
//
//	iifname "lo" accept
//	ct state established,related accept
//	ct state invalid drop                     (accept in monitor/learn)
//	each listen port: tcp|udp dport PORT accept
//	tcp, udp: jump ingress_deny               (ICMP passes)
//
// egress_deny / ingress_deny: log to NFLOG (20/s, burst 50), count in a
// named counter, then in enforce mode reject: a TCP reset, so the caller
// gets "connection refused" at once instead of waiting out SYN retries,
// and ICMP port unreachable for the rest (UDP sees ECONNREFUSED). Dropping
// silently would only make a blocked workload hang; a reject tells it, and
// the operator, at once. In monitor and learn modes the deny chains only
// log and count and the packet passes.
//
// An absent list (nil) restricts nothing and an empty one allows nothing,
// as everywhere in profiles. A profile with neither list gets no table. A
// port-less entry ("10.0.0.0/8:*") admits every protocol to the prefix; an
// entry with a port admits TCP and UDP to that port. Established
// connections survive a reload that no longer allows them (conntrack knows
// them); only new ones follow the new rules.
//
// # Loopback
//
// Loopback is governed by the egress entries, not exempted: a container may
// connect to 127.0.0.1 (or its own address) only where network.egress lists
// it ("127.0.0.1:*", "127.0.0.1:8080"), which is what the /proc monitor
// (monitor/rules) checks too, and learned profiles list the loopback ports
// a workload uses. Inbound, loopback is always accepted: a listen port is
// about connections from outside the container, and a loopback connection
// was already judged on its way out.
//
// # DNS names
//
// An entry such as "db.internal:5432" is resolved when the rules are
// applied (net.DefaultResolver unless Options.Resolver, bounded by
// Options.ResolveTimeout) and again on each Refresh, and expands to one
// rule per address. Trade-offs: Go's resolver does not expose TTLs, so
// the caller's refresh interval stands in for them; the rules admit the
// union of the last two answers, so a client that cached the previous
// answer is not refused while round-robin DNS rotates; a failed lookup
// keeps the known addresses (a DNS outage must not cut a workload off) and
// a name that never resolved admits nothing; the daemon resolves in its own
// DNS view, which can differ from the container's (split horizon, a
// container-local /etc/hosts). The container's own DNS queries need an
// egress entry for its resolver ("*:53" or the server's address).
//
// # Reporting
//
// Denied attempts are read from NFLOG through a small netlink reader of
// our own (no extra dependency; the packet parser is fuzzed, since the
// packets are the container's): one socket per namespace bound to
// Options.LogGroup (NFLOG groups are per namespace), every packet
// delivered at once (queue threshold 1), the first 128 bytes copied.
// Events carry the peer (destination of an egress attempt, source of an
// ingress one), the protocol and the container; sends never block and a
// full channel counts as dropped in [Rules.Stats]. The named counters
// ([Rules.Counters]) count every attempt, beyond the log rate too; they
// start at zero with Apply and survive Update and Refresh.
//
// A process with CAP_NET_ADMIN inside the container can delete the table;
// [Rules.Counters] then fails with [ErrNoTable], which the daemon should
// treat as a violation.
package egress
