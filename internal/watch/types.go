// Package watch is the only package of confine that talks to containerd.
//
// It follows containerd's event stream (tasks and containers), decodes it
// into our own Event type, and after every (re)connection hands the caller
// a full list of containers and tasks (a Resync event) so that nothing that
// runs is missed and nothing stale is kept. Everything else in confine sees
// Container and Event, never a containerd type.
//
// The client is the containerd v2 Go client, restricted to the services
// containerd 1.6 also serves: version, namespaces, containers, tasks and
// events.
package watch

import "time"

// Task statuses as reported in Container.Status. A container without a
// task has an empty status.
const (
	StatusCreated = "created"
	StatusRunning = "running"
	StatusPaused  = "paused"
	StatusPausing = "pausing"
	StatusStopped = "stopped"
	StatusUnknown = "unknown"
)

// Container is what confine knows about one containerd container.
type Container struct {
	Namespace string
	ID        string
	// Image is the image reference the container was created from; empty
	// for containers created without one (Docker does this).
	Image  string
	Labels map[string]string
	// Annotations are the OCI annotations of the spec stored in
	// containerd (not the bundle's config.json, which a runtime wrapper may
	// have edited since).
	Annotations map[string]string
	// Runtime is the containerd runtime name, e.g. io.containerd.runc.v2.
	Runtime string
	// BundleHint is the bundle directory when known: from the TaskCreate
	// event seen by this watcher, or Docker's com.docker/engine.bundle.path
	// label. Empty when unknown.
	BundleHint string
	// Pid is the task's init PID in the host PID namespace; 0 when the
	// container has no task or its task has stopped (the PID of a dead
	// process may already belong to another one).
	Pid uint32
	// Status is one of the Status* constants, or empty without a task.
	Status string
	// SpecSeccomp tells whether the stored spec carries linux.seccomp.
	SpecSeccomp bool
	CreatedAt   time.Time
}

// Key returns "namespace/id".
func (c *Container) Key() string { return c.Namespace + "/" + c.ID }

// Kind says what happened.
type Kind string

// Event kinds. The task kinds mirror containerd's /tasks/* topics, the
// container kinds its /containers/* topics. Resync is ours: it carries the
// full list of containers after every (re)connection.
const (
	ContainerCreate Kind = "container-create"
	ContainerUpdate Kind = "container-update"
	ContainerDelete Kind = "container-delete"
	TaskCreate      Kind = "task-create"
	TaskStart       Kind = "task-start"
	TaskExecAdded   Kind = "task-exec-added"
	TaskExecStarted Kind = "task-exec-started"
	TaskExit        Kind = "task-exit"
	TaskDelete      Kind = "task-delete"
	TaskOOM         Kind = "task-oom"
	TaskPaused      Kind = "task-paused"
	TaskResumed     Kind = "task-resumed"
	Resync          Kind = "resync"
)

// Event is one decoded containerd event, or a Resync.
type Event struct {
	Kind      Kind
	Namespace string
	// ID is the container ID (empty for Resync).
	ID string
	// ExecID names the exec process for TaskExecAdded, TaskExecStarted,
	// and for TaskExit/TaskDelete of an exec process; empty for the init
	// process.
	ExecID string
	// Pid is the process the event is about (init or exec), when the
	// event carries one.
	Pid uint32
	// ExitStatus for TaskExit and TaskDelete.
	ExitStatus uint32
	// Time is containerd's timestamp of the event (ours for Resync).
	Time time.Time
	// Topic is containerd's topic, e.g. /tasks/exit (empty for Resync).
	Topic string
	// Image for ContainerCreate and ContainerUpdate.
	Image string
	// Bundle for TaskCreate: the bundle directory runc was given.
	Bundle string
	// Containers is the full list for Resync, across the watched
	// namespaces: containers with and without tasks.
	Containers []Container
}
