package daemon

import (
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/monitor/egress"
	"github.com/confinehq/confine/monitor/fanotify"
	"github.com/confinehq/confine/profiles"
)

// Where a container record came from.
const (
	sourceHook   = "hook"
	sourceEvent  = "event"
	sourceResync = "resync"
)

// decision is what confined enforces on a container: its profile (mode
// override applied), the profile's digest and its compiled rules. It is
// built whole and never modified once published: a registration or a
// reload swaps in a new one, so every reader sees one profile with its own
// rules, without a lock.
type decision struct {
	Profile *profiles.Profile
	Digest  string
	checker *checker
}

// container is confined's record of one container.
//
// Namespace, ID, Root, Source and Since are fixed when the record is
// created; the decision and the killed flag are atomics; every other field
// is guarded by Daemon.mu, which is never held across I/O.
type container struct {
	Namespace string
	ID        string
	Root      string // runc's --root when it is part of the identity (hooks.QualifyingRoot)
	Source    string
	Since     time.Time

	dec    atomic.Pointer[decision]
	killed atomic.Bool

	Name        string
	Image       string
	Labels      map[string]string
	Annotations map[string]string
	Pid         int    // init pid (host view)
	PidStart    uint64 // its start time, to survive pid reuse
	// Cgroup is the container's cgroup as its init's /proc/PID/cgroup
	// names it, recorded at registration (the kill resolves it under the
	// cgroup root); "" when it could not be read.
	Cgroup     string
	Injected   bool
	Status     string
	Violations int
	KillReason string
	Notes      []string
	Processes  int
	Layers     []api.Layer // see layers.go
	egress     *egress.Rules
	guard      *fanotify.Guard
	secrets    *fanotify.SecretWatch // see secrets.go
	// removed: unregistered; egress rules or a guard published after
	// that are closed at once instead of being kept.
	removed bool
}

// decision returns the decision in force (nil before the first one).
func (c *container) decision() *decision { return c.dec.Load() }

// profile returns the profile in force (nil before the first decision).
func (c *container) profile() *profiles.Profile {
	if dec := c.dec.Load(); dec != nil {
		return dec.Profile
	}
	return nil
}

// newDecision compiles a profile into a decision.
func newDecision(p *profiles.Profile) (*decision, error) {
	ch, err := newChecker(p)
	if err != nil {
		return nil, err
	}
	return &decision{Profile: p, Digest: profiles.Digest(p), checker: ch}, nil
}

// publish stores v, built for c outside the lock (egress rules, a
// fanotify guard), in c's field and closes the one it replaces. When c was
// forgotten in the meantime v is closed instead and publish returns false.
// mu is the lock of the records' fields (Daemon.mu).
func publish[T interface {
	comparable
	io.Closer
}](mu *sync.Mutex, c *container, field *T, v T) bool {
	var none T
	mu.Lock()
	old, removed := *field, c.removed
	if !removed {
		*field = v
	}
	mu.Unlock()
	if old != none && old != v {
		_ = old.Close()
	}
	if removed {
		_ = v.Close()
		return false
	}
	return true
}

func (c *container) key() string { return containerKey(c.Namespace, c.ID, c.Root) }

// containerKey is a container's identity: namespace/id, and @root when
// runc's root is not the namespace's own (two roots, two containers).
func containerKey(ns, id, root string) string {
	if root == "" {
		return ns + "/" + id
	}
	return ns + "/" + id + "@" + root
}

// registry holds the watched containers. Lookups take only its own lock;
// changes of membership are made under Daemon.mu too, so that a
// get-or-create is one critical section.
type registry struct {
	mu sync.RWMutex
	m  map[string]*container
}

func newRegistry() *registry { return &registry{m: map[string]*container{}} }

// get finds namespace/id; failing that, the one container of that
// namespace and id registered under a runc root (none when two roots hold
// the id: only their full keys tell them apart).
func (r *registry) get(ns, id string) *container {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if c := r.m[ns+"/"+id]; c != nil {
		return c
	}
	var found *container
	for _, c := range r.m {
		if c.Root != "" && c.Namespace == ns && c.ID == id {
			if found != nil {
				return nil
			}
			found = c
		}
	}
	return found
}

// getKey finds a record by its key (container.key).
func (r *registry) getKey(key string) *container {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.m[key]
}

func (r *registry) put(c *container) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[c.key()] = c
}

// remove forgets the record of key.
func (r *registry) remove(key string) *container {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.m[key]
	delete(r.m, key)
	return c
}

// all returns the records sorted by key.
func (r *registry) all() []*container {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*container, 0, len(r.m))
	for _, c := range r.m {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

// apiView is what the API shows of a record; Daemon.mu held.
func (c *container) apiView() api.Container {
	v := api.Container{
		Namespace: c.Namespace, ID: c.ID, Root: c.Root, Name: c.Name, Image: c.Image,
		Pid: c.Pid, Processes: c.Processes, Violations: c.Violations,
		Injected: c.Injected, Source: c.Source, Status: c.Status, KillReason: c.KillReason,
		Since: c.Since, Notes: append([]string(nil), c.Notes...),
		Layers: append([]api.Layer(nil), c.Layers...),
	}
	if dec := c.decision(); dec != nil {
		v.Profile = dec.Profile.Name
		v.Mode = string(dec.Profile.Mode)
		v.Digest = dec.Digest
	}
	return v
}
