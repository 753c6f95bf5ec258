package rules

import (
	"net/netip"
	"slices"
	"sort"
	"sync"

	"github.com/confinehq/confine/profiles"
)

// Summary is what a workload was seen doing, in profile terms. Every list
// is sorted and free of duplicates.
type Summary struct {
	// Exec lists the executables run (container view). Fileless ones are
	// listed in Fileless instead: they can never be allowed by path.
	Exec     []string `json:"exec,omitempty"`
	Fileless []string `json:"fileless,omitempty"`
	// FilesRead and FilesWritten list the files held open; a file opened
	// read-write is in FilesWritten only.
	FilesRead    []string `json:"filesRead,omitempty"`
	FilesWritten []string `json:"filesWritten,omitempty"`
	// Peers are outbound destinations in network.egress syntax
	// ("10.0.0.5:5432", "[fd00::1]:443").
	Peers []string `json:"peers,omitempty"`
	// Listen lists the ports listened on.
	Listen []int `json:"listen,omitempty"`
	// UIDs lists the effective user IDs seen.
	UIDs []uint32 `json:"uids,omitempty"`
	// Capabilities lists the effective capabilities seen, in profile
	// syntax (without CAP_): what the workload held.
	Capabilities []string `json:"capabilities,omitempty"`
	// CapsRecorded says a capability recorder (the kernel's cap_capable
	// checks) watched the workload, or part of it, from its start;
	// CapsUsed then lists the capabilities it actually exercised.
	CapsRecorded bool     `json:"capsRecorded,omitempty"`
	CapsUsed     []string `json:"capsUsed,omitempty"`
	// CapsUnwatched says part of the workload ran without a recorder
	// watching it from its start (process events from the proc
	// connector, a container found running after a restart of confined);
	// CapsHeldUnwatched lists what those processes held. For them,
	// learning can only keep what they held.
	CapsUnwatched     bool     `json:"capsUnwatched,omitempty"`
	CapsHeldUnwatched []string `json:"capsHeldUnwatched,omitempty"`
}

// LearnedCapabilities is what a learned profile's
// privileges.capabilities holds: the capabilities used, where a recorder
// watched, plus the ones held by whatever ran unwatched. exact is false
// when held capabilities are part of it (an upper bound, not use).
func (s Summary) LearnedCapabilities() (caps []string, exact bool) {
	if !s.CapsRecorded {
		return s.Capabilities, false
	}
	return union(append(profiles.List{}, s.CapsUsed...), s.CapsHeldUnwatched), !s.CapsUnwatched
}

// Learned accumulates snapshots into a Summary. It is safe for concurrent
// use. The zero value is ready to use.
type Learned struct {
	mu        sync.Mutex
	exec      map[string]bool
	fileless  map[string]bool
	read      map[string]bool
	written   map[string]bool
	peers     map[netip.AddrPort]bool
	listen    map[uint16]bool
	uids      map[uint32]bool
	caps      uint64
	used      uint64
	recorded  bool
	unwatched bool
	// heldUnwatched are the capabilities held by processes no recorder
	// watched from their container's start.
	heldUnwatched uint64
}

func (l *Learned) init() {
	if l.exec == nil {
		l.exec, l.fileless = map[string]bool{}, map[string]bool{}
		l.read, l.written = map[string]bool{}, map[string]bool{}
		l.peers, l.listen, l.uids = map[netip.AddrPort]bool{}, map[uint16]bool{}, map[uint32]bool{}
	}
}

// Observe records one snapshot.
func (l *Learned) Observe(snap ProcessSnapshot) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.init()
	if snap.Exe != "" {
		if snap.ExeDeleted || snap.ExeMemfd {
			l.fileless[snap.Exe] = true
		} else {
			l.exec[snap.Exe] = true
		}
	}
	for _, fd := range snap.Fds {
		if !IsFilePath(fd.Path) {
			continue
		}
		if fd.Write {
			l.written[fd.Path] = true
		} else {
			l.read[fd.Path] = true
		}
	}
	for _, c := range snap.Conns {
		if !c.Inbound {
			l.peers[unmap(c.Remote)] = true
		}
	}
	for _, p := range snap.Listens {
		l.listen[p] = true
	}
	l.uids[snap.UID] = true
	l.caps |= snap.CapEff
}

// Summary returns what was observed so far.
func (l *Learned) Summary() Summary {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.init()
	var s Summary
	s.Exec = sortedKeys(l.exec)
	s.Fileless = sortedKeys(l.fileless)
	s.FilesWritten = sortedKeys(l.written)
	for _, p := range sortedKeys(l.read) {
		if !l.written[p] {
			s.FilesRead = append(s.FilesRead, p)
		}
	}
	peers := make([]netip.AddrPort, 0, len(l.peers))
	for p := range l.peers {
		peers = append(peers, p)
	}
	slices.SortFunc(peers, func(a, b netip.AddrPort) int { return a.Compare(b) })
	for _, p := range peers {
		s.Peers = append(s.Peers, p.String())
	}
	for p := range l.listen {
		s.Listen = append(s.Listen, int(p))
	}
	sort.Ints(s.Listen)
	for u := range l.uids {
		s.UIDs = append(s.UIDs, u)
	}
	slices.Sort(s.UIDs)
	s.Capabilities = capNames(l.caps)
	s.CapsRecorded = l.recorded
	s.CapsUsed = capNames(l.used)
	s.CapsUnwatched = l.unwatched
	s.CapsHeldUnwatched = capNames(l.heldUnwatched)
	return s
}

func capNames(set uint64) []string {
	var out []string
	for bit := 0; bit < 64; bit++ {
		if set&(1<<uint(bit)) != 0 {
			out = append(out, profiles.CapabilityName(bit))
		}
	}
	return out
}

// Recording says a capability recorder watches the workload: from now on
// the learned capabilities are the ones exercised (CapabilitiesUsed), even
// if none is.
func (l *Learned) Recording() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recorded = true
}

// Unwatched records that a process no capability recorder watched from its
// container's start held the capabilities set (bit n = capability n):
// learning keeps them, since their use is unknown.
func (l *Learned) Unwatched(set uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unwatched = true
	l.heldUnwatched |= set
}

// CapabilitiesUsed records capabilities the workload exercised (the
// kernel's cap_capable checks; bit n = capability n) and that a recorder
// watches it. It reports whether anything was new.
func (l *Learned) CapabilitiesUsed(set uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	changed := !l.recorded || l.used|set != l.used
	l.recorded = true
	l.used |= set
	return changed
}

// Add merges an earlier summary (a previous run, another container) into
// the recorder. Entries that do not parse are skipped.
func (l *Learned) Add(s Summary) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.init()
	for _, p := range s.Exec {
		l.exec[p] = true
	}
	for _, p := range s.Fileless {
		l.fileless[p] = true
	}
	for _, p := range s.FilesRead {
		l.read[p] = true
	}
	for _, p := range s.FilesWritten {
		l.written[p] = true
	}
	for _, p := range s.Peers {
		if ap, err := netip.ParseAddrPort(p); err == nil {
			l.peers[unmap(ap)] = true
		}
	}
	for _, p := range s.Listen {
		if p > 0 && p <= 65535 {
			l.listen[uint16(p)] = true
		}
	}
	for _, u := range s.UIDs {
		l.uids[u] = true
	}
	l.caps |= capSet(s.Capabilities)
	l.recorded = l.recorded || s.CapsRecorded
	l.used |= capSet(s.CapsUsed)
	l.heldUnwatched |= capSet(s.CapsHeldUnwatched)
	l.unwatched = l.unwatched || s.CapsUnwatched
	if !s.CapsRecorded && len(s.UIDs) > 0 {
		// A summary of processes no recorder watched (or written before
		// there was one): what they held stands for what they used.
		l.unwatched = true
		l.heldUnwatched |= capSet(s.Capabilities)
	}
}

func capSet(names []string) uint64 {
	var set uint64
	for _, c := range names {
		if bit, ok := profiles.CapabilityBit(c); ok && bit < 64 {
			set |= 1 << uint(bit)
		}
	}
	return set
}

// ApplyTo widens a profile so that everything in the summary is allowed:
// exec.allow, network.egress and network.listen gain what was seen,
// privileges.capabilities gains LearnedCapabilities (those used where a
// recorder watched, those held elsewhere), and allowRoot becomes true if
// uid 0 was seen. It only adds: a nil (unrestricted) list
// with nothing to add stays nil, so to learn a restrictive profile start
// from empty lists. Files rules, which say what must not happen, are left
// alone.
func (s Summary) ApplyTo(p *profiles.Profile) {
	p.Exec.Allow = union(p.Exec.Allow, s.Exec)
	p.Network.Egress = union(p.Network.Egress, s.Peers)
	for _, port := range s.Listen {
		if !slices.Contains(p.Network.Listen, port) {
			p.Network.Listen = append(p.Network.Listen, port)
		}
	}
	sort.Ints(p.Network.Listen)
	caps, _ := s.LearnedCapabilities()
	p.Privileges.Capabilities = union(p.Privileges.Capabilities, caps)
	if slices.Contains(s.UIDs, 0) {
		p.Privileges.AllowRoot = profiles.Bool(true)
	}
}

// union appends the entries of add that list lacks, keeping list's order.
func union(list profiles.List, add []string) profiles.List {
	for _, a := range add {
		if !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	return list
}

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
