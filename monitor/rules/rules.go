// Package rules evaluates what a process is doing against a profile's
// exec, files, network and privileges sections (SPEC section 4). Evaluation
// is pure: a compiled Set and a ProcessSnapshot in, violations out. Capture
// builds a snapshot from /proc through monitor/proc, and Learned
// accumulates snapshots into a profile-shaped summary for learning mode.
//
// A nil list in a profile places no restriction; an empty list allows
// nothing (profiles.List).
package rules

import (
	"errors"
	"fmt"
	"github.com/confinehq/confine/internal/landlock"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/confinehq/confine/internal/glob"
	"github.com/confinehq/confine/profiles"
)

// Rule names, as in alerts' CONFINE_RULE.
const (
	RuleExec      = "exec"
	RuleFile      = "file"
	RuleNetwork   = "network"
	RulePrivilege = "privilege"
)

// What a Violation's Subject is.
const (
	SubjectPath       = "path"       // a file or executable path (CONFINE_PATH / CONFINE_EXE)
	SubjectPeer       = "peer"       // "IP:port" of a connection's peer (CONFINE_PEER)
	SubjectPort       = "port"       // a listening port
	SubjectUID        = "uid"        // a user ID (CONFINE_UID)
	SubjectCapability = "capability" // "CAP_NAME"
)

// Details that callers may want to recognise.
const (
	DetailFileless = "fileless executable"
)

// ErrInvalid is wrapped by every Compile error.
var ErrInvalid = errors.New("invalid profile rules")

// Fd is one open file of a process, by its path in the container's view.
type Fd struct {
	Path  string
	Write bool
}

// Conn is one connected socket of a process.
type Conn struct {
	// Proto is "tcp", "tcp6", "udp" or "udp6".
	Proto  string
	Local  netip.AddrPort
	Remote netip.AddrPort
	// State is the kernel's socket state name ("ESTABLISHED", "SYN_SENT").
	State string
	// Inbound marks a connection a peer made to one of the namespace's
	// listening ports: its peer is a client, not an egress destination.
	Inbound bool
}

// ProcessSnapshot is what is known about one process at one moment.
type ProcessSnapshot struct {
	PID       int
	StartTime uint64
	// Exe is the executable's path as seen inside the container; "" when
	// unknown (the executable is not checked then).
	Exe        string
	ExeDeleted bool
	ExeMemfd   bool
	// UID is the effective user ID.
	UID uint32
	// OtherUIDs are the real, saved and filesystem user IDs, when known:
	// a process that can switch back to root counts as root.
	OtherUIDs []uint32
	CapEff    uint64
	Fds       []Fd
	Conns     []Conn
	Listens   []uint16
}

// Violation is one way a snapshot breaks a profile.
type Violation struct {
	// Rule is RuleExec, RuleFile, RuleNetwork or RulePrivilege.
	Rule string
	// Subject is what broke the rule: a path, a peer "IP:port", a port, a
	// uid or a capability name; SubjectKind says which.
	Subject     string
	SubjectKind string
	// Detail says why, for people.
	Detail string
	// Watch marks an alert-only observation (files.watch): nothing is
	// broken and nothing is killed for it.
	Watch bool
	// Layer names the layer that saw or refused it when that is not the
	// monitor itself (e.g. "landlock"): CONFINE_LAYER in the alert.
	Layer string
}

// Set is a profile's rules, compiled. It is immutable and safe for
// concurrent use.
type Set struct {
	name string
	mode profiles.Mode

	execAllow []*glob.Pattern // nil: unrestricted
	deny      []*glob.Pattern
	readOnly  []*glob.Pattern
	watch     []*glob.Pattern

	egress   []profiles.Egress // nil: unrestricted
	resolved map[string][]netip.Addr
	listen   map[uint16]bool // nil: unrestricted

	allowRoot *bool
	capsSet   bool
	capMask   uint64
}

// Compile compiles a profile's rules. Every problem is reported, each with
// its field and index; errors.Is(err, ErrInvalid) holds.
func Compile(p *profiles.Profile) (*Set, error) {
	s := &Set{name: p.Name, mode: p.Mode, allowRoot: p.Privileges.AllowRoot}
	var errs []error
	globs := func(field string, list profiles.List) []*glob.Pattern {
		if list == nil {
			return nil
		}
		out := make([]*glob.Pattern, 0, len(list))
		for i, pat := range list {
			g, err := glob.Compile(pat)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s[%d]: bad path glob %q: %w", field, i, pat, err))
				continue
			}
			out = append(out, g)
		}
		return out
	}
	s.execAllow = globs("exec.allow", p.Exec.Allow)
	s.deny = globs("files.deny", p.Files.Deny)
	s.readOnly = globs("files.readOnly", p.Files.ReadOnly)
	s.watch = globs("files.watch", p.Files.Watch)

	if p.Network.Egress != nil {
		s.egress = make([]profiles.Egress, 0, len(p.Network.Egress))
		for i, e := range p.Network.Egress {
			eg, err := profiles.ParseEgress(e)
			if err != nil {
				errs = append(errs, fmt.Errorf("network.egress[%d]: %w", i, err))
				continue
			}
			s.egress = append(s.egress, eg)
		}
	}
	if p.Network.Listen != nil {
		s.listen = make(map[uint16]bool, len(p.Network.Listen))
		for i, port := range p.Network.Listen {
			if port < 1 || port > 65535 {
				errs = append(errs, fmt.Errorf("network.listen[%d]: port %d is outside 1-65535", i, port))
				continue
			}
			s.listen[uint16(port)] = true
		}
	}
	if p.Privileges.Capabilities != nil {
		s.capsSet = true
		for i, c := range p.Privileges.Capabilities {
			bit, ok := profiles.CapabilityBit(c)
			if !ok {
				errs = append(errs, fmt.Errorf("privileges.capabilities[%d]: unknown capability %q", i, c))
				continue
			}
			s.capMask |= 1 << uint(bit)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("compiling rules of profile %q: %w: %w", p.Name, ErrInvalid, errors.Join(errs...))
	}
	return s, nil
}

// Name returns the profile's name.
func (s *Set) Name() string { return s.name }

// Mode returns the profile's mode.
func (s *Set) Mode() profiles.Mode { return s.mode }

// Hosts lists the DNS names in network.egress, sorted, for the caller to
// resolve and hand back with WithResolved.
func (s *Set) Hosts() []string {
	var out []string
	for _, e := range s.egress {
		if e.Host != "" && e.Host != "*" && !slices.Contains(out, e.Host) {
			out = append(out, e.Host)
		}
	}
	sort.Strings(out)
	return out
}

// WithResolved returns a copy of the set in which each egress host name
// admits the given addresses. Names missing from addrs admit nothing.
func (s *Set) WithResolved(addrs map[string][]netip.Addr) *Set {
	c := *s
	c.resolved = make(map[string][]netip.Addr, len(addrs))
	for h, a := range addrs {
		c.resolved[strings.ToLower(strings.TrimSuffix(h, "."))] = slices.Clone(a)
	}
	return &c
}

// Evaluate checks one snapshot. Violations come in rule order (exec,
// files, network, privileges), each subject once per rule and detail.
func (s *Set) Evaluate(snap ProcessSnapshot) []Violation {
	var out []Violation
	seen := map[Violation]bool{}
	add := func(v Violation) {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	s.evalExec(snap, add)
	s.evalFiles(snap, add)
	s.evalNetwork(snap, add)
	s.evalPrivileges(snap, add)
	return out
}

func (s *Set) evalExec(snap ProcessSnapshot, add func(Violation)) {
	if snap.Exe == "" {
		return
	}
	// confine-init, bind-mounted read-only by confine-runc, runs first in
	// containers confined by Landlock; running it again only restricts
	// the caller further.
	if snap.Exe == landlock.InitPath {
		return
	}
	if (snap.ExeDeleted || snap.ExeMemfd) && (s.execAllow != nil || s.mode == profiles.ModeEnforce) {
		add(Violation{Rule: RuleExec, Subject: snap.Exe, SubjectKind: SubjectPath, Detail: DetailFileless})
		return
	}
	if s.execAllow != nil && !matchAny(s.execAllow, snap.Exe) {
		add(Violation{Rule: RuleExec, Subject: snap.Exe, SubjectKind: SubjectPath, Detail: "executable not in exec.allow"})
	}
}

func (s *Set) evalFiles(snap ProcessSnapshot, add func(Violation)) {
	for _, fd := range snap.Fds {
		if !IsFilePath(fd.Path) {
			continue
		}
		switch {
		case matchAny(s.deny, fd.Path):
			add(Violation{Rule: RuleFile, Subject: fd.Path, SubjectKind: SubjectPath, Detail: "open of a path in files.deny"})
		case fd.Write && matchAny(s.readOnly, fd.Path):
			add(Violation{Rule: RuleFile, Subject: fd.Path, SubjectKind: SubjectPath, Detail: "opened for writing, path is in files.readOnly"})
		case matchAny(s.watch, fd.Path):
			add(Violation{Rule: RuleFile, Subject: fd.Path, SubjectKind: SubjectPath, Detail: "open of a path in files.watch", Watch: true})
		}
	}
}

func (s *Set) evalNetwork(snap ProcessSnapshot, add func(Violation)) {
	if s.egress != nil {
		for _, c := range snap.Conns {
			if c.Inbound || s.egressAllows(c.Remote) {
				continue
			}
			add(Violation{Rule: RuleNetwork, Subject: unmap(c.Remote).String(), SubjectKind: SubjectPeer,
				Detail: protoName(c.Proto) + " connection to a peer outside network.egress"})
		}
	}
	if s.listen != nil {
		for _, port := range snap.Listens {
			if !s.listen[port] {
				add(Violation{Rule: RuleNetwork, Subject: strconv.Itoa(int(port)), SubjectKind: SubjectPort,
					Detail: "listening on a port outside network.listen"})
			}
		}
	}
}

func (s *Set) egressAllows(peer netip.AddrPort) bool {
	peer = unmap(peer)
	for _, e := range s.egress {
		if e.Host == "" || e.Host == "*" {
			if e.Allows(peer) {
				return true
			}
			continue
		}
		if e.Port != 0 && e.Port != peer.Port() {
			continue
		}
		for _, a := range s.resolved[e.Host] {
			if a.Unmap() == peer.Addr() {
				return true
			}
		}
	}
	return false
}

func (s *Set) evalPrivileges(snap ProcessSnapshot, add func(Violation)) {
	if s.allowRoot != nil && !*s.allowRoot {
		if snap.UID == 0 {
			add(Violation{Rule: RulePrivilege, Subject: "0", SubjectKind: SubjectUID, Detail: "running as root (privileges.allowRoot is false)"})
		} else if slices.Contains(snap.OtherUIDs, 0) {
			add(Violation{Rule: RulePrivilege, Subject: "0", SubjectKind: SubjectUID, Detail: "can switch back to root: real, saved or filesystem uid is 0 (privileges.allowRoot is false)"})
		}
	}
	if s.capsSet {
		extra := snap.CapEff &^ s.capMask
		for bit := 0; bit < 64; bit++ {
			if extra&(1<<uint(bit)) != 0 {
				add(Violation{Rule: RulePrivilege, Subject: capName(bit), SubjectKind: SubjectCapability,
					Detail: "effective capability not in privileges.capabilities"})
			}
		}
	}
}

// capName is the kernel's name of a capability bit: "CAP_SYS_ADMIN".
func capName(bit int) string {
	n := profiles.CapabilityName(bit)
	if strings.HasPrefix(n, "CAP_") { // a bit the table does not know
		return n
	}
	return "CAP_" + n
}

func matchAny(pats []*glob.Pattern, path string) bool {
	for _, p := range pats {
		if p.Match(path) {
			return true
		}
	}
	return false
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func protoName(p string) string {
	if strings.HasPrefix(p, "udp") {
		return "UDP"
	}
	return "TCP"
}

// ignoredDevices are opened by nearly every program and carry no data
// worth a rule: they never match files rules.
var ignoredDevices = map[string]bool{
	"/dev/null": true, "/dev/zero": true, "/dev/full": true, "/dev/random": true,
	"/dev/urandom": true, "/dev/tty": true, "/dev/console": true, "/dev/ptmx": true,
}

// IsFilePath reports whether an fd path is a file that files rules apply
// to: an absolute path that is not a memfd ("/memfd:..."), a terminal
// ("/dev/pts/N") or one of the null-like devices (/dev/null, /dev/zero,
// /dev/urandom, ...). Pipes, sockets and anon inodes ("pipe:[N]") are not
// paths.
func IsFilePath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "/memfd:") || ignoredDevices[p] {
		return false
	}
	if rest, ok := strings.CutPrefix(p, "/dev/pts/"); ok && rest != "" && !strings.Contains(rest, "/") {
		return false
	}
	return true
}

// EvaluateExec checks only the exec rule: the fast path for an exec event,
// when nothing but the executable has been read yet.
func (s *Set) EvaluateExec(snap ProcessSnapshot) []Violation {
	var out []Violation
	s.evalExec(snap, func(v Violation) { out = append(out, v) })
	return out
}
