package daemon

import (
	"context"
	"sync"
	"time"

	"github.com/confinehq/confine/internal/docker"
	"github.com/confinehq/confine/internal/watch"
)

// What a decision needs from containerd (labels, image, annotations) and
// Docker is known from containerd's /containers/create event, before the
// task exists: the daemon looks it up then, in the background, and the
// decide of the create that follows takes the answer instead of asking
// containerd and Docker on the container's start path.

// prefetchTTL bounds how long an answer waits for its create.
const prefetchTTL = 30 * time.Second

type prefetchEntry struct {
	done  chan struct{}
	at    time.Time
	info  *watch.Container
	err   error
	dinfo *docker.Info
}

type prefetcher struct {
	mu sync.Mutex
	m  map[string]*prefetchEntry
}

// prefetchContainer starts the lookups for a container containerd has
// just created (or updated: the answer is then looked up again).
func (d *Daemon) prefetchContainer(ctx context.Context, ns, id string) {
	e := &prefetchEntry{done: make(chan struct{}), at: time.Now()}
	p := &d.prefetch
	p.mu.Lock()
	if p.m == nil {
		p.m = map[string]*prefetchEntry{}
	}
	for k, old := range p.m {
		if time.Since(old.at) > prefetchTTL {
			delete(p.m, k)
		}
	}
	p.m[ns+"/"+id] = e
	p.mu.Unlock()
	go func() {
		defer close(e.done)
		lctx, cancel := context.WithTimeout(ctx, time.Second)
		e.info, e.err = d.watcher.LookupContainer(lctx, ns, id)
		cancel()
		dctx, dcancel := context.WithTimeout(ctx, 800*time.Millisecond)
		e.dinfo = d.dockerLookup(dctx, ns, id)
		dcancel()
	}()
}

// createInputs returns what containerd and Docker know of a container
// being created: the prefetched answer when its create event was seen
// (waiting for it, bounded by ctx), else asked now.
func (d *Daemon) createInputs(ctx context.Context, ns, id string) (*watch.Container, *docker.Info, error) {
	p := &d.prefetch
	p.mu.Lock()
	e := p.m[ns+"/"+id]
	delete(p.m, ns+"/"+id)
	p.mu.Unlock()
	if e != nil && time.Since(e.at) <= prefetchTTL {
		select {
		case <-e.done:
			if e.err == nil {
				return e.info, e.dinfo, nil
			}
		case <-ctx.Done():
		}
	}
	lctx, cancel := context.WithTimeout(ctx, time.Second)
	info, err := d.watcher.LookupContainer(lctx, ns, id)
	cancel()
	dctx, dcancel := context.WithTimeout(ctx, 800*time.Millisecond)
	dinfo := d.dockerLookup(dctx, ns, id)
	dcancel()
	return info, dinfo, err
}
