// Package hookstest runs confined's real API server (internal/api) over a
// unix socket with a fake Backend, for tests of confine-runc and
// confine-hook before and without the daemon.
package hookstest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/profiles"
)

// Backend is a fake api.Backend: Decide answers with Decision (or
// DecideErr), Hook records every request (and answers HookErr).
type Backend struct {
	mu        sync.Mutex
	decision  *api.Decision
	decideErr error
	decideFn  func(api.DecideRequest) (*api.Decision, error)
	hookErr   error
	decides   []api.DecideRequest
	hooks     []Hook
	hookCh    chan Hook
}

// Hook is one recorded hook request and when it arrived.
type Hook struct {
	api.HookRequest
	At time.Time
}

// NewBackend returns a backend deciding p (digest computed) for everyone.
func NewBackend(p *profiles.Profile) *Backend {
	b := &Backend{hookCh: make(chan Hook, 64)}
	b.SetProfile(p)
	return b
}

// SetProfile changes the decision.
func (b *Backend) SetProfile(p *profiles.Profile) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p == nil {
		b.decision = nil
		return
	}
	b.decision = &api.Decision{Profile: p, Digest: profiles.Digest(p), Reason: "test"}
}

// SetDecideErr makes Decide fail with err (nil restores the decision).
func (b *Backend) SetDecideErr(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.decideErr = err
}

// SetDecideFunc makes Decide call fn (nil restores the fixed decision).
func (b *Backend) SetDecideFunc(fn func(api.DecideRequest) (*api.Decision, error)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.decideFn = fn
}

// SetHookErr makes Hook fail with err.
func (b *Backend) SetHookErr(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hookErr = err
}

// Decide implements api.Backend.
func (b *Backend) Decide(_ context.Context, req api.DecideRequest) (*api.Decision, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.decides = append(b.decides, req)
	if b.decideFn != nil {
		return b.decideFn(req)
	}
	if b.decideErr != nil {
		return nil, b.decideErr
	}
	if b.decision == nil {
		return nil, errors.New("no decision configured")
	}
	d := *b.decision
	d.Profile = d.Profile.Clone()
	return &d, nil
}

// Hook implements api.Backend.
func (b *Backend) Hook(_ context.Context, req api.HookRequest) error {
	h := Hook{HookRequest: req, At: time.Now()}
	b.mu.Lock()
	b.hooks = append(b.hooks, h)
	err := b.hookErr
	b.mu.Unlock()
	select {
	case b.hookCh <- h:
	default:
	}
	return err
}

// Status implements api.Backend.
func (b *Backend) Status(context.Context) (*api.Status, error) {
	return &api.Status{Version: "test"}, nil
}

// Containers implements api.Backend.
func (b *Backend) Containers(context.Context) ([]api.Container, error) { return nil, nil }

// Reload implements api.Backend.
func (b *Backend) Reload(context.Context) ([]string, error) { return nil, nil }

// Decides returns the decide requests received so far.
func (b *Backend) Decides() []api.DecideRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]api.DecideRequest(nil), b.decides...)
}

// Hooks returns the hook requests received so far.
func (b *Backend) Hooks() []Hook {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Hook(nil), b.hooks...)
}

// WaitHook waits for the next hook request.
func (b *Backend) WaitHook(t testing.TB, timeout time.Duration) Hook {
	t.Helper()
	select {
	case h := <-b.hookCh:
		return h
	case <-time.After(timeout):
		t.Fatalf("no hook request within %s", timeout)
		return Hook{}
	}
}

// Serve runs api.Server for b on socket until the test ends. The peer uid
// allowed is the test's own.
func Serve(t testing.TB, socket string, b api.Backend) *api.Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	srv := api.NewServer(b, log)
	srv.AllowUID = uint32(os.Getuid())
	if err := srv.Listen(socket); err != nil {
		t.Fatalf("listening on %s: %v", socket, err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Errorf("API server: %v", err)
		}
		os.Remove(socket)
	})
	return srv
}
