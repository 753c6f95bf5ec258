package daemon

import (
	"sort"
	"sync"
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

// container is confined's record of one container.
type container struct {
	Namespace   string
	ID          string
	Root        string // runc's --root when it is part of the identity (hooks.QualifyingRoot)
	Name        string
	Image       string
	Labels      map[string]string
	Annotations map[string]string
	Pid         int    // init pid (host view)
	PidStart    uint64 // its start time, to survive pid reuse
	Profile     *profiles.Profile
	Digest      string
	Injected    bool
	Source      string
	Status      string
	Since       time.Time
	Violations  int
	Killed      bool
	KillReason  string
	Notes       []string
	Processes   int
	Layers      []api.Layer // see layers.go
	checker     *checker
	egress      *egress.Rules
	guard       *fanotify.Guard
	secrets     *fanotify.SecretWatch // see secrets.go
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

// registry holds the watched containers.
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

func (c *container) apiView() api.Container {
	v := api.Container{
		Namespace: c.Namespace, ID: c.ID, Root: c.Root, Name: c.Name, Image: c.Image,
		Digest: c.Digest, Pid: c.Pid, Processes: c.Processes, Violations: c.Violations,
		Injected: c.Injected, Source: c.Source, Status: c.Status, KillReason: c.KillReason,
		Since: c.Since, Notes: append([]string(nil), c.Notes...),
		Layers: append([]api.Layer(nil), c.Layers...),
	}
	if c.Profile != nil {
		v.Profile = c.Profile.Name
		v.Mode = string(c.Profile.Mode)
	}
	return v
}
