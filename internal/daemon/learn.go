package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/internal/atomicfile"
	"github.com/confinehq/confine/monitor/rules"
	"github.com/confinehq/confine/profiles"
	"github.com/confinehq/confine/seccomp"
)

// learner accumulates what learn-mode containers do, per profile, merged
// across containers and runs, and writes state_dir/learned/<name>.yaml
// (plus the raw summary <name>.summary.json it merges from next time).
type learner struct {
	dir string

	mu     sync.Mutex
	byName map[string]*learnEntry
}

type learnEntry struct {
	rec      rules.Learned
	syscalls map[string]bool
	source   *profiles.Profile
	dirty    bool
	loaded   bool
	last     rules.Summary
}

func newLearner(dir string) *learner {
	return &learner{dir: dir, byName: map[string]*learnEntry{}}
}

func (l *learner) entry(p *profiles.Profile) *learnEntry {
	e := l.byName[p.Name]
	if e == nil {
		e = &learnEntry{syscalls: map[string]bool{}}
		l.byName[p.Name] = e
	}
	e.source = p
	if !e.loaded {
		e.loaded = true
		if data, err := os.ReadFile(l.summaryPath(p.Name)); err == nil {
			var prev learnedState
			if json.Unmarshal(data, &prev) == nil {
				e.rec.Add(prev.Summary)
				for _, s := range prev.Syscalls {
					e.syscalls[s] = true
				}
			}
		}
	}
	return e
}

// learnedState is what is kept between runs.
type learnedState struct {
	Summary  rules.Summary `json:"summary"`
	Syscalls []string      `json:"syscalls,omitempty"`
}

func (l *learner) summaryPath(name string) string {
	return filepath.Join(l.dir, name+".summary.json")
}

// observe records a process snapshot. recorded says the capability
// recorder watches the process's container since its start (its use is
// learned from there); otherwise the capabilities it holds are kept.
func (l *learner) observe(p *profiles.Profile, snap *snapshot, recorded bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entry(p)
	e.rec.Observe(*snap)
	if recorded {
		e.rec.Recording()
	} else {
		e.rec.Unwatched(snap.CapEff)
	}
	e.dirty = true
}

// syscall records a syscall name seen by a learn-mode filter.
func (l *learner) syscall(p *profiles.Profile, name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entry(p)
	if e.syscalls[name] {
		return false
	}
	e.syscalls[name] = true
	e.dirty = true
	return true
}

// peer records a connection nftables logged for a learn-mode container:
// an outbound peer, or an inbound connection to a local port.
func (l *learner) peer(p *profiles.Profile, inbound bool, peer, local netip.AddrPort) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entry(p)
	if inbound {
		e.rec.Add(rules.Summary{Listen: []int{int(local.Port())}})
	} else {
		e.rec.Add(rules.Summary{Peers: []string{peer.String()}})
	}
	e.dirty = true
}

// knownSyscalls returns the syscalls learned so far for a profile.
func (l *learner) knownSyscalls(p *profiles.Profile) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entry(p)
	out := make([]string, 0, len(e.syscalls))
	for s := range e.syscalls {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// flush writes every changed learned profile. It returns the names written.
func (l *learner) flush() ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var written []string
	var errs []error
	for name, e := range l.byName {
		if !e.dirty {
			continue
		}
		if err := l.write(name, e); err != nil {
			errs = append(errs, err)
			continue
		}
		e.dirty = false
		written = append(written, name)
	}
	sort.Strings(written)
	return written, errors.Join(errs...)
}

func (l *learner) write(name string, e *learnEntry) error {
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return fmt.Errorf("writing learned profile %q: %w", name, err)
	}
	sum := e.rec.Summary()
	var calls []string
	for s := range e.syscalls {
		calls = append(calls, s)
	}
	sort.Strings(calls)
	state, err := json.MarshalIndent(learnedState{Summary: sum, Syscalls: calls}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(l.summaryPath(name), state, 0o600); err != nil {
		return err
	}
	seen := calls
	if len(calls) > 0 {
		calls = learnedSyscalls(calls)
		if e.source.Seccomp.LearnFamilies() {
			calls = seccomp.WithFamilies(calls, seccomp.HostArch())
		}
	}
	p := learnedProfile(e.source, sum, calls)
	learnPrivileges(p, e.source, seen, sum)
	header := []string{
		fmt.Sprintf("learned by confined for profile %q, last updated %s", name, time.Now().UTC().Format(time.RFC3339)),
		"review, then install with: confinectl profile promote " + name + " [--mode monitor|enforce]",
		"generalised: loopback egress to the workload's own listening ports is allowed; paths, other peers and ports are listed exactly as seen",
		"syscalls: each one seen brings its privilege-equivalent spellings (seccomp.families: false keeps them exact); privilege rules are off unless used",
	}
	header = append(header, capabilitiesNote(sum))
	if len(sum.Fileless) > 0 {
		header = append(header, fmt.Sprintf("WARNING: fileless executables were seen and cannot be allowed by path: %v", sum.Fileless))
	}
	return profiles.Store{Dir: l.dir}.Write(p, header...)
}

// learnedProfile turns what was seen into a restrictive profile: the
// source's selector and file rules, and allow lists of exactly what ran.
func learnedProfile(src *profiles.Profile, sum rules.Summary, syscalls []string) *profiles.Profile {
	p := &profiles.Profile{
		APIVersion:  profiles.APIVersion,
		Name:        src.Name,
		Mode:        profiles.ModeEnforce,
		Selector:    src.Selector,
		Files:       src.Files,
		OnViolation: src.OnViolation,
		// The exec session policy is the operator's choice, kept as given.
		ExecSessions: src.ExecSessions,
		Exec:         profiles.Exec{Allow: profiles.List{}},
		Network:      profiles.Network{Egress: profiles.List{}, Listen: profiles.Ports{}},
		Privileges: profiles.Privileges{
			AllowRoot:       profiles.Bool(false),
			Capabilities:    profiles.List{},
			NoNewPrivileges: src.Privileges.NoNewPrivileges,
		},
	}
	sum.ApplyTo(p)
	// Generalisation: a workload that serves on a port may call itself
	// there over loopback. Listening sockets are long-lived and always
	// seen; the short client connections to them often are not.
	for _, port := range p.Network.Listen {
		for _, self := range []string{fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("[::1]:%d", port)} {
			if !slices.Contains(p.Network.Egress, self) {
				p.Network.Egress = append(p.Network.Egress, self)
			}
		}
	}
	sort.Strings(p.Network.Egress)
	if len(syscalls) > 0 {
		allow := append(profiles.List{}, syscalls...)
		p.Seccomp = profiles.Seccomp{DefaultAction: profiles.ActionErrno, Allow: allow, Families: src.Seccomp.Families}
	} else {
		p.Seccomp = src.Seccomp
	}
	return p
}

// learn is called for every process snapshot of a learn-mode container.
func (d *Daemon) learn(c *container, snap *snapshot) {
	if p := c.profile(); p != nil {
		d.learner.observe(p, snap, d.mon.capsRecorded(c))
	}
}

// flushLearned writes learned profiles and reports each update once.
func (d *Daemon) flushLearned() {
	d.collectLearnedCaps()
	names, err := d.learner.flush()
	if err != nil {
		d.log.Error("writing learned profiles", "error", err)
	}
	for _, n := range names {
		d.log.Debug("learned profile written", "profile", n)
		if !d.learnAnnounced[n] {
			d.learnAnnounced[n] = true
			d.alerts.emit(&alert.Alert{Event: alert.EventLearned, Priority: alert.PriInfo, Profile: n, Mode: string(profiles.ModeLearn),
				Message: fmt.Sprintf("confine: learning profile %q into %s", n, filepath.Join(d.cfg.LearnedDir(), n+".yaml"))})
		}
	}
}
