package watch

import (
	"errors"
	"fmt"
	"time"

	// The event types must be registered with typeurl, or every event
	// fails to decode with "type with url containerd.events.TaskCreate:
	// not found".
	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/typeurl/v2"
)

// errIgnored marks an event of a type confine does not follow (for
// example /tasks/checkpointed).
var errIgnored = errors.New("event type not followed")

// decode turns one envelope of containerd's event stream into an Event.
func decode(ts time.Time, namespace, topic string, payload typeurl.Any) (Event, error) {
	ev := Event{Namespace: namespace, Topic: topic, Time: ts}
	if payload == nil {
		return ev, fmt.Errorf("decoding event %s in namespace %q: no payload", topic, namespace)
	}
	v, err := typeurl.UnmarshalAny(payload)
	if err != nil {
		return ev, fmt.Errorf("decoding event %s in namespace %q: %w", topic, namespace, err)
	}
	switch e := v.(type) {
	case *apievents.ContainerCreate:
		ev.Kind, ev.ID, ev.Image = ContainerCreate, e.ID, e.Image
	case *apievents.ContainerUpdate:
		ev.Kind, ev.ID, ev.Image = ContainerUpdate, e.ID, e.Image
	case *apievents.ContainerDelete:
		ev.Kind, ev.ID = ContainerDelete, e.ID
	case *apievents.TaskCreate:
		ev.Kind, ev.ID, ev.Pid, ev.Bundle = TaskCreate, e.ContainerID, e.Pid, e.Bundle
	case *apievents.TaskStart:
		ev.Kind, ev.ID, ev.Pid = TaskStart, e.ContainerID, e.Pid
	case *apievents.TaskExecAdded:
		ev.Kind, ev.ID, ev.ExecID = TaskExecAdded, e.ContainerID, e.ExecID
	case *apievents.TaskExecStarted:
		ev.Kind, ev.ID, ev.ExecID, ev.Pid = TaskExecStarted, e.ContainerID, e.ExecID, e.Pid
	case *apievents.TaskExit:
		ev.Kind, ev.ID, ev.Pid, ev.ExitStatus = TaskExit, e.ContainerID, e.Pid, e.ExitStatus
		ev.ExecID = execID(e.ContainerID, e.ID)
	case *apievents.TaskDelete:
		ev.Kind, ev.ID, ev.Pid, ev.ExitStatus = TaskDelete, e.ContainerID, e.Pid, e.ExitStatus
		ev.ExecID = execID(e.ContainerID, e.ID)
	case *apievents.TaskOOM:
		ev.Kind, ev.ID = TaskOOM, e.ContainerID
	case *apievents.TaskPaused:
		ev.Kind, ev.ID = TaskPaused, e.ContainerID
	case *apievents.TaskResumed:
		ev.Kind, ev.ID = TaskResumed, e.ContainerID
	default:
		return ev, fmt.Errorf("event %s (%T): %w", topic, v, errIgnored)
	}
	return ev, nil
}

// execID maps the process ID of a TaskExit/TaskDelete to an exec ID:
// containerd names the init process after the container (and leaves it
// empty in some versions' TaskDelete).
func execID(containerID, processID string) string {
	if processID == containerID {
		return ""
	}
	return processID
}
