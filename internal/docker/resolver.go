// Package docker tells confined what Docker knows of a container that
// dockerd runs on containerd (namespace "moby"): dockerd 20.10 passes
// neither `docker run --label` nor the image name to containerd, whose
// record of the container carries only com.docker/engine.bundle.path.
//
// A [Resolver] asks the Docker Engine API on Docker's unix socket and,
// when the API does not answer, reads <data-root>/containers/<id>/config.v2.json
// (with hostconfig.json beside it). Answers are cached per container ID
// until [Resolver.Forget].
//
// Which API call: GET /containers/json?all=1&filters={"id":[ID]} (the
// container list), not GET /containers/{id}/json (inspect). dockerd holds the
// container's lock for the whole of `docker start`, including the
// `runc create` during which confine-runc asks confined for a profile, and
// inspect takes that lock: asked from inside `create` it blocks until the
// start gives up (measured with dockerd 20.10.24). The list is served from
// dockerd's lock-free in-memory view, where the container is already
// visible in state "created" with its name, image and labels. The list has
// no HostConfig, so seccomp=unconfined is read from hostconfig.json when the
// data root is readable.
package docker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"sync"
	"time"
)

// Sources of an [Info].
const (
	SourceAPI  = "api"
	SourceFile = "config.v2.json"
)

// DefaultTimeout bounds one Engine API request when Resolver.Timeout is 0.
const DefaultTimeout = 2 * time.Second

// Errors callers may branch on (with errors.Is).
var (
	// ErrNotFound: the Engine API answered and Docker has no container with
	// this ID (a container another client created in Docker's namespace, or
	// one already removed). The file fallback is not tried.
	ErrNotFound = errors.New("no such Docker container")
	// ErrInvalidID: the ID cannot be a Docker container ID; nothing was asked.
	ErrInvalidID = errors.New("invalid container id")
)

// Info is what Docker knows about one of its containers.
type Info struct {
	// ID is Docker's full container ID (the containerd container ID).
	ID string
	// Name is the container's name without the leading "/".
	Name string
	// Image is the image as the user named it (Config.Image, e.g.
	// "localhost/busybox:confine"), not the image ID.
	Image string
	// Labels are the container's labels (docker run --label and the
	// image's own labels).
	Labels map[string]string
	// SeccompUnconfined: the container was created with
	// --security-opt seccomp=unconfined (or the legacy seccomp:unconfined).
	SeccompUnconfined bool
	// Source is SourceAPI or SourceFile: where Name, Image and Labels came from.
	Source string
}

func (in *Info) clone() *Info {
	c := *in
	c.Labels = maps.Clone(in.Labels)
	return &c
}

// Resolver looks containers up in Docker. The zero value asks nothing; set
// Socket, DataRoot or both. It is safe for concurrent use.
type Resolver struct {
	// Socket is the Docker Engine API unix socket, e.g. /run/docker.sock.
	// Empty: the API is not asked.
	Socket string
	// DataRoot is dockerd's --data-root, e.g. /var/lib/docker, for the
	// config.v2.json fallback. Empty: no fallback.
	DataRoot string
	// Timeout bounds one Engine API request; 0 means DefaultTimeout.
	Timeout time.Duration

	once   sync.Once
	client *apiClient

	mu    sync.Mutex
	cache map[string]*Info
}

// validID accepts what can be a file name and an API filter value. Docker's
// own IDs are 64 hex digits; other IDs simply will not be found.
var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$`)

// Lookup asks the Engine API, falling back to
// <DataRoot>/containers/<id>/config.v2.json when the API is unreachable or
// fails; the error says which sources failed and why. Successful answers
// are cached per container ID (drop with Forget); failures are not. The
// caller owns the returned Info.
func (r *Resolver) Lookup(ctx context.Context, id string) (*Info, error) {
	if !validID.MatchString(id) || id == "." || id == ".." {
		return nil, fmt.Errorf("looking up Docker container %q: %w", id, ErrInvalidID)
	}
	r.mu.Lock()
	in, ok := r.cache[id]
	r.mu.Unlock()
	if ok {
		return in.clone(), nil
	}

	in, err := r.lookup(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("looking up Docker container %s: %w", id, err)
	}
	r.mu.Lock()
	if r.cache == nil {
		r.cache = map[string]*Info{}
	}
	r.cache[id] = in
	r.mu.Unlock()
	return in.clone(), nil
}

func (r *Resolver) lookup(ctx context.Context, id string) (*Info, error) {
	var apiErr error
	if r.Socket == "" {
		apiErr = errors.New("engine API: no socket configured")
	} else {
		// A hung Engine API must leave time for the fallback: it gets at
		// most three quarters of what the caller's deadline leaves.
		actx, cancel := ctx, context.CancelFunc(func() {})
		if dl, ok := ctx.Deadline(); ok {
			actx, cancel = context.WithTimeout(ctx, time.Until(dl)*3/4)
		}
		in, err := r.api().container(actx, id)
		cancel()
		if err == nil {
			// The list has no HostConfig: take SecurityOpt from the data
			// root when it is there (best effort, same host).
			if r.DataRoot != "" {
				if hc, err := readHostConfig(r.dir(id)); err == nil {
					in.SeccompUnconfined = hc.seccompUnconfined()
				}
			}
			in.Source = SourceAPI
			return in, nil
		}
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("engine API on %s: %w", r.Socket, err)
		}
		if ctx.Err() != nil {
			// The caller gave up: no time is left for the fallback either.
			return nil, fmt.Errorf("engine API on %s: %w", r.Socket, err)
		}
		apiErr = fmt.Errorf("engine API on %s: %w", r.Socket, err)
	}
	if r.DataRoot == "" {
		return nil, fmt.Errorf("%w; no fallback: Docker data root not configured", apiErr)
	}
	in, err := readContainerDir(r.dir(id), id)
	if err != nil {
		return nil, fmt.Errorf("%w; fallback %w", apiErr, err)
	}
	in.Source = SourceFile
	return in, nil
}

// Forget drops a container from the cache (call it when the container is
// deleted).
func (r *Resolver) Forget(id string) {
	r.mu.Lock()
	delete(r.cache, id)
	r.mu.Unlock()
}

func (r *Resolver) api() *apiClient {
	r.once.Do(func() {
		t := r.Timeout
		if t <= 0 {
			t = DefaultTimeout
		}
		r.client = newAPIClient(r.Socket, t)
	})
	return r.client
}
