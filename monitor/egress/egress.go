package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confinehq/confine/monitor/proc"
	"github.com/confinehq/confine/profiles"
	"github.com/google/nftables"
)

// Sentinel errors that callers branch on.
var (
	// ErrHostNetwork: the container shares the host's network namespace
	// (or the daemon's own); its traffic cannot be filtered without
	// filtering the host's, so nothing is installed.
	ErrHostNetwork = errors.New("container shares the host network namespace")
	// ErrGone: the container's init process exited (or its PID names
	// another process); its namespace and table are gone with it.
	ErrGone = errors.New("container process is gone")
	// ErrClosed: the Rules were closed or removed.
	ErrClosed = errors.New("egress rules closed")
	// ErrNoTable: the table should be there and is not: something in the
	// container (a process with CAP_NET_ADMIN) deleted it.
	ErrNoTable = errors.New("table inet confine is missing")
)

// DefaultLogGroup is the NFLOG group the rules log to. NFLOG groups are per
// network namespace, so one number serves every container.
const DefaultLogGroup = 2705

// DefaultResolveTimeout bounds the DNS lookups of one Apply or Refresh.
const DefaultResolveTimeout = 5 * time.Second

// Options configure Apply.
type Options struct {
	// Container names the container in errors, events and the NFLOG prefix
	// ("confine:<Container>"): default "pid-<pid>".
	Container string
	// Mode overrides the profile's mode (the confine.mode label); "" uses
	// p.Mode. Only enforce rejects; monitor and learn report and accept.
	Mode profiles.Mode
	// Proc is the /proc the process is found in: default "/proc".
	Proc proc.FS
	// Denied receives one event per connection attempt outside the profile
	// (rate-limited in the kernel to 20/s with a burst of 50 per
	// direction). Sends never block: when the channel is full the event is
	// dropped and counted (Stats). Nil: no NFLOG reader, counters only.
	Denied chan<- Denied
	// LogGroup is the NFLOG group: default DefaultLogGroup.
	LogGroup uint16
	// Resolver resolves DNS names in network.egress: default
	// net.DefaultResolver (the daemon's view of DNS, not the container's).
	Resolver Resolver
	// ResolveTimeout bounds the lookups of one Apply or Refresh: default
	// DefaultResolveTimeout.
	ResolveTimeout time.Duration
}

// Counters are the packets that reached the end of the rules: attempts
// outside the profile. In enforce mode they were rejected; in monitor and
// learn modes they passed.
type Counters struct {
	EgressPackets, EgressBytes   uint64
	IngressPackets, IngressBytes uint64
}

// Stats describe the NFLOG reader.
type Stats struct {
	// Delivered events were sent on Options.Denied; Dropped ones found it
	// full.
	Delivered, Dropped uint64
	// Lost counts socket overruns (each loses one or more events);
	// Malformed counts messages that could not be read or were not ours.
	Lost, Malformed uint64
}

// Rules are the egress and listen rules installed in one container's
// network namespace. Methods are safe for concurrent use.
//
// Keep one Rules per namespace (key by NetNS: containers can share one):
// a second Apply with a Denied channel while the first Rules is open fails
// to bind the namespace's NFLOG group, and the last Apply's table wins.
type Rules struct {
	container string
	opts      Options
	t         *target
	stats     readerStats
	done      chan struct{}

	mu        sync.Mutex
	spec      spec
	hosts     map[string]*hostState
	installed bool // the table is there
	closed    bool
	reader    *nflogReader
	enforced  atomic.Bool
}

// Apply installs the network rules of profile p in the network namespace of
// process pid (the container's init process, before user code runs) and
// returns a handle for reloads, DNS refreshes and counters.
//
// The table inet confine is written in one netlink batch that first
// deletes any table of that name: a second Apply (a daemon restart)
// replaces what is there without a moment without rules. A profile without
// network.egress and network.listen gets no table (an existing one is
// removed). A process in the host's network namespace is refused with
// ErrHostNetwork.
//
// The handle must be closed when the container exits or is no longer
// watched; it closes itself when the init process exits (its NFLOG socket
// would otherwise keep the namespace alive).
func Apply(pid int, p *profiles.Profile, opts Options) (*Rules, error) {
	if opts.Container == "" {
		opts.Container = fmt.Sprintf("pid-%d", pid)
	}
	fail := func(err error) (*Rules, error) {
		return nil, fmt.Errorf("egress rules for container %s (pid %d): %w", opts.Container, pid, err)
	}
	if p == nil {
		return fail(errors.New("no profile"))
	}
	if opts.Proc == (proc.FS{}) {
		fs, err := proc.NewFS("/proc")
		if err != nil {
			return fail(err)
		}
		opts.Proc = fs
	}
	if opts.LogGroup == 0 {
		opts.LogGroup = DefaultLogGroup
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	if opts.ResolveTimeout <= 0 {
		opts.ResolveTimeout = DefaultResolveTimeout
	}
	sp, err := parseSpec(p, modeFor(p, opts.Mode))
	if err != nil {
		return fail(err)
	}
	t, err := openTarget(opts.Proc, pid)
	if err != nil {
		return fail(err)
	}
	r := &Rules{container: opts.Container, opts: opts, t: t, done: make(chan struct{}),
		spec: sp, hosts: map[string]*hostState{}}
	if names := sp.hosts(); len(names) > 0 {
		merge(r.hosts, lookupAll(context.Background(), opts.Resolver, opts.ResolveTimeout, names), time.Now())
	}
	r.mu.Lock()
	err = r.installLocked(true)
	r.mu.Unlock()
	if err != nil {
		r.release()
		return fail(err)
	}
	go func() {
		if t.waitExit() {
			r.release()
		}
	}()
	return r, nil
}

func modeFor(p *profiles.Profile, override profiles.Mode) profiles.Mode {
	if override != "" {
		return override
	}
	return p.Mode
}

// installLocked writes the current plan into the namespace. fresh replaces
// the table as a whole; otherwise it is rewritten in place (counters kept),
// falling back to a fresh replace if that fails.
func (r *Rules) installLocked(fresh bool) error {
	if r.closed {
		return ErrClosed
	}
	ns, err := r.t.openNS()
	if err != nil {
		return err
	}
	defer ns.Close()
	pl := makePlan(r.spec, r.admittedLocked())
	if r.opts.Denied != nil && !pl.empty() && r.reader == nil {
		rd, err := startReader(ns, r.opts.LogGroup, r.container, r.opts.Denied, &r.enforced, &r.stats)
		if err != nil {
			return err
		}
		r.reader = rd
	}
	flush := func(fresh bool) error {
		c, err := newConn(ns)
		if err != nil {
			return err
		}
		queueInstall(c, pl, fresh, logPrefix(r.container), r.opts.LogGroup)
		return c.Flush()
	}
	err = flush(fresh)
	if err != nil && !fresh {
		err = flush(true)
	}
	if err != nil {
		return fmt.Errorf("installing table inet %s in %s: %w", TableName, r.t.ns, err)
	}
	r.installed = !pl.empty()
	r.enforced.Store(pl.enforce)
	return nil
}

// admittedLocked maps each DNS name to the addresses the rules admit.
func (r *Rules) admittedLocked() map[string][]netip.Addr {
	out := make(map[string][]netip.Addr, len(r.hosts))
	for name, st := range r.hosts {
		out[name] = st.admitted()
	}
	return out
}

// Update replaces the rules with those of a reloaded profile, in one
// transaction: connections the old rules admitted stay up (conntrack
// knows them), new ones follow the new rules, and there is no moment with
// neither set. DNS names new to the profile are resolved first; known
// ones keep their addresses until the next Refresh.
func (r *Rules) Update(p *profiles.Profile) error {
	fail := func(err error) error {
		return fmt.Errorf("updating egress rules for container %s (pid %d): %w", r.container, r.t.pid, err)
	}
	if p == nil {
		return fail(errors.New("no profile"))
	}
	sp, err := parseSpec(p, modeFor(p, r.opts.Mode))
	if err != nil {
		return fail(err)
	}
	names := sp.hosts()
	r.mu.Lock()
	var unknown []string
	for _, n := range names {
		if r.hosts[n] == nil {
			unknown = append(unknown, n)
		}
	}
	r.mu.Unlock()
	answers := lookupAll(context.Background(), r.opts.Resolver, r.opts.ResolveTimeout, unknown)

	r.mu.Lock()
	defer r.mu.Unlock()
	merge(r.hosts, answers, time.Now())
	for n := range r.hosts {
		if !slices.Contains(names, n) {
			delete(r.hosts, n)
		}
	}
	old := r.spec
	r.spec = sp
	if err := r.installLocked(false); err != nil {
		r.spec = old
		return fail(err)
	}
	return nil
}

// Refresh resolves the profile's DNS names again and, when the admitted
// addresses changed, rewrites the rules (one transaction, counters kept).
// The daemon calls it on a timer: Go's resolver does not expose TTLs, so
// the interval stands in for them (30s is a sensible default; names with
// shorter TTLs are still admitted through the previous answer, see
// HostStatus.Addrs). It reports whether the rules changed.
func (r *Rules) Refresh(ctx context.Context) (bool, error) {
	r.mu.Lock()
	names := r.spec.hosts()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return false, fmt.Errorf("refreshing egress rules for container %s: %w", r.container, ErrClosed)
	}
	if len(names) == 0 {
		return false, nil
	}
	answers := lookupAll(ctx, r.opts.Resolver, r.opts.ResolveTimeout, names)

	r.mu.Lock()
	defer r.mu.Unlock()
	if !merge(r.hosts, answers, time.Now()) {
		return false, nil
	}
	if err := r.installLocked(false); err != nil {
		return false, fmt.Errorf("refreshing egress rules for container %s (pid %d): %w", r.container, r.t.pid, err)
	}
	return true, nil
}

// Hosts reports the DNS names of network.egress, sorted.
func (r *Rules) Hosts() []HostStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]HostStatus, 0, len(r.hosts))
	for name, st := range r.hosts {
		out = append(out, HostStatus{Host: name, Addrs: st.admitted(), Resolved: st.resolved, Err: st.err})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host < out[j].Host })
	return out
}

// Counters reads the deny counters from the kernel. They start at zero with
// each Apply and survive Update and Refresh. Without a table (a profile
// with no network rules) they are zero; a table that should be there and
// is not is ErrNoTable (tampering from inside the container).
func (r *Rules) Counters() (Counters, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fail := func(err error) (Counters, error) {
		return Counters{}, fmt.Errorf("reading egress counters of container %s (pid %d): %w", r.container, r.t.pid, err)
	}
	if r.closed {
		return fail(ErrClosed)
	}
	if !r.installed {
		return Counters{}, nil
	}
	ns, err := r.t.openNS()
	if err != nil {
		return fail(err)
	}
	defer ns.Close()
	c, err := newConn(ns)
	if err != nil {
		return fail(err)
	}
	var out Counters
	for _, k := range []struct {
		name           string
		packets, bytes *uint64
	}{
		{counterEgress, &out.EgressPackets, &out.EgressBytes},
		{counterIngress, &out.IngressPackets, &out.IngressBytes},
	} {
		obj, err := c.GetObject(&nftables.CounterObj{Table: table(), Name: k.name})
		if err != nil {
			// The library flattens the errno into text: look for the table.
			if present, lerr := hasTable(c); lerr == nil && !present {
				return fail(ErrNoTable)
			}
			return fail(fmt.Errorf("counter %s: %w", k.name, err))
		}
		co, ok := obj.(*nftables.CounterObj)
		if !ok {
			return fail(fmt.Errorf("counter %s: unexpected object %T", k.name, obj))
		}
		*k.packets, *k.bytes = co.Packets, co.Bytes
	}
	return out, nil
}

// Stats reports what the NFLOG reader did.
func (r *Rules) Stats() Stats {
	return Stats{
		Delivered: r.stats.delivered.Load(),
		Dropped:   r.stats.dropped.Load(),
		Lost:      r.stats.lost.Load(),
		Malformed: r.stats.malformed.Load(),
	}
}

// NetNS returns the inode of the container's network namespace. Containers
// that share one namespace must share one Rules: the daemon keys by it.
func (r *Rules) NetNS() uint64 { return r.t.ns.Ino }

// Pid returns the process the rules were applied through.
func (r *Rules) Pid() int { return r.t.pid }

// Done is closed when the container's init process exits or the Rules are
// closed.
func (r *Rules) Done() <-chan struct{} { return r.done }

// Remove deletes the table from the container's namespace and closes the
// Rules. After the container exited there is nothing to delete: the table
// went with the namespace, and Remove returns nil.
func (r *Rules) Remove() error {
	r.mu.Lock()
	err := r.removeLocked()
	r.mu.Unlock()
	r.release()
	if err != nil {
		return fmt.Errorf("removing egress rules of container %s (pid %d): %w", r.container, r.t.pid, err)
	}
	return nil
}

func (r *Rules) removeLocked() error {
	if r.closed {
		return nil
	}
	ns, err := r.t.openNS()
	if errors.Is(err, ErrGone) {
		return nil
	}
	if err != nil {
		return err
	}
	defer ns.Close()
	c, err := newConn(ns)
	if err != nil {
		return err
	}
	queueRemove(c)
	if err := c.Flush(); err != nil {
		return err
	}
	r.installed = false
	return nil
}

// Close stops reporting and releases everything the Rules hold in the
// namespace (the NFLOG socket would keep it alive), leaving the table in
// place: a restarting daemon does not lift a container's rules.
func (r *Rules) Close() error {
	r.release()
	return nil
}

// release closes the reader and the pidfd once.
func (r *Rules) release() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	rd := r.reader
	r.reader = nil
	r.mu.Unlock()
	if rd != nil {
		rd.close()
	}
	r.t.close()
	close(r.done)
}

// hasTable reports whether the namespace has table inet confine.
func hasTable(c *nftables.Conn) (bool, error) {
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, err
	}
	for _, t := range tables {
		if t.Name == TableName {
			return true, nil
		}
	}
	return false, nil
}
