package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	tasks "github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"google.golang.org/grpc/status"
)

// ErrNotFound is wrapped by Lookup and Kill when containerd does not know
// the container or its task.
var ErrNotFound = errors.New("not found")

// Log field names used by this package.
const (
	logAddress   = "containerd"
	logNamespace = "namespace"
	logContainer = "container"
	logTopic     = "topic"
	logError     = "error"
	logRetryIn   = "retry_in"
	logAttempts  = "attempts"
	logVersion   = "version"
	logCount     = "containers"
)

// dockerBundleLabel is set by dockerd on every container it creates.
const dockerBundleLabel = "com.docker/engine.bundle.path"

// Defaults for connecting and reconnecting.
const (
	defaultDialTimeout = 3 * time.Second
	defaultMinBackoff  = 100 * time.Millisecond
	defaultMaxBackoff  = 2 * time.Second
	defaultListTimeout = 10 * time.Second
)

// Watcher follows one containerd.
type Watcher struct {
	address    string
	namespaces []string // empty: all
	log        *slog.Logger

	dialTimeout time.Duration
	listTimeout time.Duration
	minBackoff  time.Duration
	maxBackoff  time.Duration

	mu      sync.Mutex
	cli     *client.Client
	version string
	// bundles remembers the bundle of each task created while watching,
	// keyed by namespace/id, for Container.BundleHint.
	bundles map[string]string

	connected atomic.Bool
}

// New returns a watcher of the containerd at address (a unix socket path)
// for the given namespaces, all of them when the list is empty. It does
// not connect: Run does, and Lookup, List and Kill connect on demand.
func New(address string, namespaces []string, log *slog.Logger) *Watcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ns := slices.Clone(namespaces)
	sort.Strings(ns)
	ns = slices.Compact(ns)
	return &Watcher{
		address:     address,
		namespaces:  ns,
		log:         log.With(logAddress, address),
		dialTimeout: defaultDialTimeout,
		listTimeout: defaultListTimeout,
		minBackoff:  defaultMinBackoff,
		maxBackoff:  defaultMaxBackoff,
		bundles:     map[string]string{},
	}
}

// Connected tells whether the event subscription is live: true from the
// Resync of a (re)connection until the stream breaks.
func (w *Watcher) Connected() bool { return w.connected.Load() }

// Version is the version of containerd at the last successful connection,
// empty before.
func (w *Watcher) Version() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.version
}

// Run follows containerd until ctx is done. On start-up and after every
// broken stream it (re)connects with exponential backoff, subscribes,
// and sends a Resync with the full container list before any event of the
// new stream. Events of namespaces that are not watched are dropped. sink
// is called from Run's goroutine, one event at a time.
func (w *Watcher) Run(ctx context.Context, sink func(Event)) {
	delay := w.minBackoff
	failures := 0
	for {
		established, err := w.session(ctx, sink)
		w.connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		if established {
			delay, failures = w.minBackoff, 0
			w.log.Warn("containerd event stream broken; reconnecting", logError, err)
		} else {
			failures++
			lvl := slog.LevelDebug
			if failures == 1 {
				lvl = slog.LevelWarn
			}
			w.log.Log(ctx, lvl, "connecting to containerd", logError, err, logAttempts, failures, logRetryIn, delay)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, w.maxBackoff)
	}
}

// session runs one connection: dial, subscribe, resync, forward events.
// established tells whether the Resync went out.
func (w *Watcher) session(ctx context.Context, sink func(Event)) (established bool, err error) {
	cli, err := w.dial(ctx)
	if err != nil {
		return false, err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Subscribe before listing: what happens in between shows up both in
	// the list and as an event, and both are idempotent for the caller.
	evs, errs := cli.Subscribe(sctx, w.filters()...)
	list, err := w.list(ctx, cli)
	if err != nil {
		return false, err
	}
	select {
	case err := <-errs:
		return false, fmt.Errorf("subscribing to containerd events: %w", streamErr(err))
	default:
	}
	w.pruneBundles(list)
	w.connected.Store(true)
	w.log.Info("following containerd events", logVersion, w.Version(), logCount, len(list))
	sink(Event{Kind: Resync, Time: time.Now(), Containers: list})
	for {
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case err := <-errs:
			return true, fmt.Errorf("receiving containerd events: %w", streamErr(err))
		case env, ok := <-evs:
			if !ok || env == nil {
				continue
			}
			if !w.watches(env.Namespace) {
				continue
			}
			ev, err := decode(env.Timestamp, env.Namespace, env.Topic, env.Event)
			if err != nil {
				lvl := slog.LevelWarn
				if errors.Is(err, errIgnored) {
					lvl = slog.LevelDebug
				}
				w.log.Log(ctx, lvl, "containerd event", logNamespace, env.Namespace, logTopic, env.Topic, logError, err)
				continue
			}
			w.remember(ev)
			sink(ev)
		}
	}
}

// streamErr names the end of a stream that ended without an error.
func streamErr(err error) error {
	if err == nil {
		return errors.New("stream closed")
	}
	return native(err)
}

// remember keeps the bundle of created tasks for BundleHint.
func (w *Watcher) remember(ev Event) {
	key := ev.Namespace + "/" + ev.ID
	switch {
	case ev.Kind == TaskCreate && ev.Bundle != "":
		w.mu.Lock()
		w.bundles[key] = ev.Bundle
		w.mu.Unlock()
	case ev.Kind == ContainerDelete, ev.Kind == TaskDelete && ev.ExecID == "":
		w.mu.Lock()
		delete(w.bundles, key)
		w.mu.Unlock()
	}
}

// pruneBundles forgets the bundles of containers that are gone, whose
// delete events may have been missed while disconnected.
func (w *Watcher) pruneBundles(list []Container) {
	live := make(map[string]bool, len(list))
	for i := range list {
		live[list[i].Key()] = true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for k := range w.bundles {
		if !live[k] {
			delete(w.bundles, k)
		}
	}
}

// filters subscribes to task and container topics, per namespace when
// namespaces are configured. containerd ORs separate filters and ANDs the
// comma-separated parts of one.
func (w *Watcher) filters() []string {
	topics := []string{`topic~="^/tasks/"`, `topic~="^/containers/"`}
	if len(w.namespaces) == 0 {
		return topics
	}
	var out []string
	for _, ns := range w.namespaces {
		for _, t := range topics {
			out = append(out, "namespace=="+strconv.Quote(ns)+","+t)
		}
	}
	return out
}

// watches tells whether events of a namespace are wanted.
func (w *Watcher) watches(ns string) bool {
	if len(w.namespaces) == 0 {
		return true
	}
	_, ok := slices.BinarySearch(w.namespaces, ns)
	return ok
}

// dial makes a new client, proves it with a version call and makes it the
// current one, closing the previous.
func (w *Watcher) dial(ctx context.Context) (*client.Client, error) {
	cli, err := client.New(w.address, client.WithTimeout(w.dialTimeout))
	if err != nil {
		return nil, fmt.Errorf("connecting to containerd at %s: %w", w.address, err)
	}
	vctx, cancel := context.WithTimeout(ctx, w.dialTimeout)
	defer cancel()
	v, err := cli.Version(vctx)
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("asking containerd at %s for its version: %w", w.address, native(err))
	}
	w.mu.Lock()
	old := w.cli
	w.cli, w.version = cli, v.Version
	w.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return cli, nil
}

// client returns the current client, creating one when there is none.
// The gRPC connection is made lazily by the first call.
func (w *Watcher) client() (*client.Client, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cli != nil {
		return w.cli, nil
	}
	cli, err := client.New(w.address, client.WithTimeout(w.dialTimeout))
	if err != nil {
		return nil, fmt.Errorf("connecting to containerd at %s: %w", w.address, err)
	}
	w.cli = cli
	return cli, nil
}

// Close releases the connection. Run must have returned.
func (w *Watcher) Close() error {
	w.mu.Lock()
	cli := w.cli
	w.cli = nil
	w.mu.Unlock()
	if cli != nil {
		return cli.Close()
	}
	return nil
}

// List returns every container of the watched namespaces, with its task's
// PID and status where it has a task.
func (w *Watcher) List(ctx context.Context) ([]Container, error) {
	cli, err := w.client()
	if err != nil {
		return nil, err
	}
	return w.list(ctx, cli)
}

func (w *Watcher) list(ctx context.Context, cli *client.Client) ([]Container, error) {
	ctx, cancel := context.WithTimeout(ctx, w.listTimeout)
	defer cancel()
	nss := w.namespaces
	if len(nss) == 0 {
		var err error
		nss, err = cli.NamespaceService().List(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing containerd namespaces: %w", native(err))
		}
		sort.Strings(nss)
	}
	var out []Container
	for _, ns := range nss {
		cs, err := w.listNamespace(namespaces.WithNamespace(ctx, ns), cli, ns)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// listNamespace lists containers first and tasks second, so every task
// found belongs to a listed container (a task of a container created in
// between is left to its events).
func (w *Watcher) listNamespace(ctx context.Context, cli *client.Client, ns string) ([]Container, error) {
	recs, err := cli.ContainerService().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing containers in namespace %q: %w", ns, native(err))
	}
	resp, err := cli.TaskService().List(ctx, &tasks.ListTasksRequest{})
	if err != nil {
		return nil, fmt.Errorf("listing tasks in namespace %q: %w", ns, native(err))
	}
	byID := make(map[string]*tasktypes.Process, len(resp.Tasks))
	for _, p := range resp.Tasks {
		// containerd 1.6 fills only ID (the container's) in this list.
		id := p.ContainerID
		if id == "" {
			id = p.ID
		}
		byID[id] = p
	}
	out := make([]Container, 0, len(recs))
	for i := range recs {
		c := w.fromRecord(ns, &recs[i])
		if p := byID[c.ID]; p != nil {
			c.setTask(p)
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Lookup fetches one container: labels, image, spec annotations and its
// task's PID and status. A container without a task has Pid 0.
func (w *Watcher) Lookup(ctx context.Context, ns, id string) (*Container, error) {
	return w.lookup(ctx, ns, id, true)
}

// LookupContainer is Lookup without the task: labels, image, annotations.
// It is what a runtime wrapper may ask while containerd is creating the
// task (asking for the task then waits for the create to finish).
func (w *Watcher) LookupContainer(ctx context.Context, ns, id string) (*Container, error) {
	return w.lookup(ctx, ns, id, false)
}

func (w *Watcher) lookup(ctx context.Context, ns, id string, withTask bool) (*Container, error) {
	cli, err := w.client()
	if err != nil {
		return nil, err
	}
	ctx = namespaces.WithNamespace(ctx, ns)
	rec, err := cli.ContainerService().Get(ctx, id)
	if err != nil {
		return nil, wrapNotFound(fmt.Sprintf("looking up container %s/%s", ns, id), err)
	}
	c := w.fromRecord(ns, &rec)
	if !withTask {
		return &c, nil
	}
	resp, err := cli.TaskService().Get(ctx, &tasks.GetRequest{ContainerID: id})
	if err != nil {
		err = native(err)
		if !errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("looking up the task of container %s/%s: %w", ns, id, err)
		}
	} else if p := resp.GetProcess(); p != nil {
		c.setTask(p)
	}
	return &c, nil
}

// Kill sends sig to the init process of the container's task, or to every
// process of the task when all is set. The daemon signals the cgroup
// itself first; this makes containerd's state and exit status follow.
func (w *Watcher) Kill(ctx context.Context, ns, id string, sig syscall.Signal, all bool) error {
	cli, err := w.client()
	if err != nil {
		return err
	}
	// One request, the same the client's Task.Kill(ctx, sig,
	// client.WithKillAll) sends after loading the container and the task
	// (two more round trips).
	_, err = cli.TaskService().Kill(namespaces.WithNamespace(ctx, ns), &tasks.KillRequest{
		ContainerID: id,
		Signal:      uint32(sig),
		All:         all,
	})
	if err != nil {
		return wrapNotFound(fmt.Sprintf("killing task %s/%s with %s", ns, id, sig), err)
	}
	return nil
}

// native converts a gRPC error to containerd's errdefs classes. Errors the
// client already converted are returned as they are: converting twice
// turns every class into "unknown".
func native(err error) error {
	if _, ok := status.FromError(err); ok {
		return errgrpc.ToNative(err)
	}
	return err
}

// wrapNotFound converts a gRPC error and adds ErrNotFound when it means
// not found.
func wrapNotFound(what string, err error) error {
	err = native(err)
	if errdefs.IsNotFound(err) {
		return fmt.Errorf("%s: %w: %w", what, ErrNotFound, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// fromRecord converts containerd's container record.
func (w *Watcher) fromRecord(ns string, r *containers.Container) Container {
	c := Container{
		Namespace: ns,
		ID:        r.ID,
		Image:     r.Image,
		Labels:    r.Labels,
		Runtime:   r.Runtime.Name,
		CreatedAt: r.CreatedAt,
	}
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	if r.Spec != nil {
		sp, err := parseSpec(r.Spec.GetValue())
		if err != nil {
			w.log.Warn("reading the OCI spec stored in containerd", logNamespace, ns, logContainer, r.ID, logError, err)
		}
		c.Annotations, c.SpecSeccomp = sp.Annotations, sp.Linux != nil && len(sp.Linux.Seccomp) > 0 && string(sp.Linux.Seccomp) != "null"
	}
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	w.mu.Lock()
	c.BundleHint = w.bundles[ns+"/"+r.ID]
	w.mu.Unlock()
	if c.BundleHint == "" {
		c.BundleHint = c.Labels[dockerBundleLabel]
	}
	return c
}

// specFields is the part of an OCI spec confine reads from containerd.
type specFields struct {
	Annotations map[string]string `json:"annotations"`
	Linux       *struct {
		Seccomp json.RawMessage `json:"seccomp"`
	} `json:"linux"`
}

func parseSpec(b []byte) (specFields, error) {
	var s specFields
	if len(b) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return specFields{}, fmt.Errorf("decoding spec: %w", err)
	}
	return s, nil
}

// setTask records the task's init process. The PID of a stopped task is
// not handed out: the process is gone and its PID may already be reused.
func (c *Container) setTask(p *tasktypes.Process) {
	c.Status = taskStatus(p.Status)
	if c.Status != StatusStopped {
		c.Pid = p.Pid
	}
}

// taskStatus maps containerd's task status.
func taskStatus(s tasktypes.Status) string {
	switch s {
	case tasktypes.Status_CREATED:
		return StatusCreated
	case tasktypes.Status_RUNNING:
		return StatusRunning
	case tasktypes.Status_PAUSED:
		return StatusPaused
	case tasktypes.Status_PAUSING:
		return StatusPausing
	case tasktypes.Status_STOPPED:
		return StatusStopped
	default:
		return StatusUnknown
	}
}
