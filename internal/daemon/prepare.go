package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/confinehq/confine/hooks/wrapper"
	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/api/wire"
	"github.com/confinehq/confine/internal/starttrace"
	"github.com/confinehq/confine/profiles"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var _ api.Preparer = backend{}

// Prepare does confine-runc's work for a create (POST /v1/prepare): the
// decision, the seccomp filter (cached), the spec modifiers and the
// private copy under run_dir, with the same code confine-runc runs when it
// works alone (wrapper.Prepare). confine-runc keeps the mount and the exec
// of runc, and does everything itself when confined is unreachable or
// answers fallback. confined only prepares for a confine-runc that loaded
// the same configuration file.
func (b backend) Prepare(ctx context.Context, req api.PrepareRequest) (*api.PrepareAnswer, error) {
	d := b.d
	if req.ConfigPath != d.cfg.Path {
		return &api.PrepareAnswer{Outcome: wire.OutcomeFallback}, nil
	}
	w := wrapper.New(append([]string{wrapper.Name}, req.Argv...), d.cfg, nil)
	w.Env, w.Stderr = nil, io.Discard
	w.Getwd = func() (string, error) { return req.Cwd, nil }
	w.Executable = func() (string, error) { return req.Executable, nil }
	w.Exec = func(string, []string, []string) error { return errors.New("confined does not exec runc") }
	w.Decider = inProcessDecider{b}
	w.Filter = filters.filter
	w.Trace = starttrace.New("confined prepare")
	a := w.Prepare(ctx)
	w.Trace.Write(d.cfg.RunDir)
	return a, nil
}

// inProcessDecider decides as POST /v1/decide would, without the socket.
type inProcessDecider struct{ b backend }

func (p inProcessDecider) Decide(ctx context.Context, req api.DecideRequest) (*api.Decision, error) {
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("confined: %w", err)
	}
	dec, err := p.b.Decide(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("confined: %w", err)
	}
	return dec, nil
}

// filterCache keeps the seccomp filters generated for a profile version:
// Docker's default profile takes milliseconds to generate and is the same
// for every container that uses it. The key is the digest of the profile
// as handed to the filter (learn mode's allow list grows between
// containers, so its digest changes with it), the architecture and the
// listener. Filters are shared: nothing may modify one (hooks.Seccomp
// copies before it sets the listener).
type filterCache struct {
	mu sync.Mutex
	m  map[string]*specs.LinuxSeccomp
}

// maxCachedFilters bounds the cache; when full it starts again empty.
const maxCachedFilters = 128

var filters = &filterCache{m: map[string]*specs.LinuxSeccomp{}}

func (c *filterCache) filter(p *profiles.Profile, goarch, listenerPath string) (*specs.LinuxSeccomp, error) {
	dg := profiles.Digest(p)
	if dg == "" {
		return wrapper.Filter(p, goarch, listenerPath)
	}
	key := dg + "\x00" + goarch + "\x00" + listenerPath
	c.mu.Lock()
	f, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return f, nil
	}
	f, err := wrapper.Filter(p, goarch, listenerPath)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedFilters {
		c.m = map[string]*specs.LinuxSeccomp{}
	}
	c.m[key] = f
	c.mu.Unlock()
	return f, nil
}
