package notify

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"

	libseccomp "github.com/seccomp/libseccomp-golang"
)

// Container identifies the filter a notification came from: the container
// and the process runc loaded the filter for. It is what runc sent with
// the notify descriptor. Handlers share its Annotations map: read only.
type Container struct {
	// ID is the container ID (the OCI state's id).
	ID string
	// Namespace is the containerd namespace, taken from the bundle path
	// (.../<namespace>/<id>, containerd's layout); "" when the bundle does
	// not follow that layout.
	Namespace string
	// Bundle is the bundle directory.
	Bundle string
	// Pid is the container's init process (host PID) as runc reported it.
	Pid int
	// ProcessPid is the process the filter was loaded for: Pid for the
	// container's init, the exec'd process for `runc exec`.
	ProcessPid int
	// Status is the OCI status at the time: "creating" for the init,
	// "running" for an exec.
	Status string
	// Annotations are the OCI annotations of the container.
	Annotations map[string]string
	// Metadata is linux.seccomp.listenerMetadata of the spec, passed
	// through by runc 1.1.5 for the init and every exec: the place for
	// confine-runc to tell the agent the mode and profile ("" when unset).
	Metadata string
}

// Request is one trapped syscall.
type Request struct {
	// ID is the kernel's notification ID.
	ID uint64
	// PID is the trapping thread's ID in the listener's (host) PID
	// namespace: the PID for a single-threaded process, otherwise the
	// thread's TID (/proc/TID works for either).
	PID int
	// Syscall is the syscall name for Arch; "" when libseccomp does not
	// know the number (Nr then says which).
	Syscall string
	// Nr is the syscall number for Arch.
	Nr int
	// Arch is libseccomp's name of the ABI of the call: "amd64", "x86",
	// "x32", "arm64", "arm"...
	Arch string
	// Args are the raw syscall arguments.
	Args [6]uint64
	// InstrPointer is the address of the syscall instruction.
	InstrPointer uint64

	// fd holds the notify descriptor while the handler runs, -1 after
	// (a pointer, so that copies of a Request see the end too).
	fd *atomic.Int64
}

// Valid reports whether the trapped syscall is still waiting for an
// answer: the thread has not been interrupted or killed, so its PID still
// names it. It is meaningful only while [Handler.Handle] runs for this
// request; afterwards it returns false.
func (r *Request) Valid() bool {
	if r.fd == nil {
		return false
	}
	fd := r.fd.Load()
	if fd < 0 {
		return false
	}
	return libseccomp.NotifIDValid(libseccomp.ScmpFd(fd), r.ID) == nil
}

// ErrNotValid is returned by [Request.ReadString] when the notification
// ended (the thread was interrupted or killed) around the read: what was
// read cannot be attributed to it.
var ErrNotValid = errors.New("seccomp notification no longer valid")

// ReadString reads the NUL-terminated string at addr in the trapped
// thread's memory (at most max bytes, without the NUL), checking that the
// notification is valid once the memory file is open and again after the
// read. Call it only from [Handler.Handle]. See the package documentation
// for what such a value can be trusted for.
func (r *Request) ReadString(addr uint64, max int) (string, error) {
	mem, err := openMem(r.PID)
	if err != nil {
		return "", err
	}
	defer mem.Close()
	if !r.Valid() {
		return "", fmt.Errorf("reading syscall %s argument of pid %d: %w", r.Syscall, r.PID, ErrNotValid)
	}
	s, err := readString(mem, r.PID, addr, max)
	if err != nil {
		return s, err
	}
	if !r.Valid() {
		return "", fmt.Errorf("reading syscall %s argument of pid %d: %w", r.Syscall, r.PID, ErrNotValid)
	}
	return s, nil
}

// ReadBytes reads n bytes at addr in the trapped thread's memory (a
// sockaddr of connect or bind: addr args[1], n args[2]), with the same
// validity checks as ReadString. n is at most MaxRead.
func (r *Request) ReadBytes(addr uint64, n int) ([]byte, error) {
	mem, err := openMem(r.PID)
	if err != nil {
		return nil, err
	}
	defer mem.Close()
	if !r.Valid() {
		return nil, fmt.Errorf("reading syscall %s argument of pid %d: %w", r.Syscall, r.PID, ErrNotValid)
	}
	b, err := readBytes(mem, r.PID, addr, n)
	if err != nil {
		return nil, err
	}
	if !r.Valid() {
		return nil, fmt.Errorf("reading syscall %s argument of pid %d: %w", r.Syscall, r.PID, ErrNotValid)
	}
	return b, nil
}

// Action is what the kernel does with a trapped syscall.
type Action uint8

const (
	// ActionContinue runs the syscall as if the filter had allowed it.
	ActionContinue Action = iota
	// ActionErrno fails the syscall with Response.Errno.
	ActionErrno
)

// Response is a handler's answer. The zero value continues the syscall.
type Response struct {
	Action Action
	// Errno is the error the syscall fails with under ActionErrno.
	Errno syscall.Errno
}

// Continue lets the syscall run.
func Continue() Response { return Response{Action: ActionContinue} }

// Errno fails the syscall with e (for example unix.EPERM).
func Errno(e syscall.Errno) Response { return Response{Action: ActionErrno, Errno: e} }

// Handler decides about trapped syscalls.
//
// Handle runs while the trapping thread is blocked in the kernel: it must
// return quickly (record into memory, decide, hand anything slow to
// another goroutine). Calls for one notify descriptor are serialised;
// calls for different descriptors (containers, exec'd processes) may run
// concurrently. The same call may come twice: a signal makes the thread
// restart it, and the restarted call is trapped again. r may be kept after Handle returns, but its Valid and
// ReadString then report the notification as gone.
type Handler interface {
	Handle(c Container, r *Request) Response
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(c Container, r *Request) Response

// Handle calls f(c, r).
func (f HandlerFunc) Handle(c Container, r *Request) Response { return f(c, r) }

// FDObserver may be implemented by a [Handler] to follow the notify
// descriptors the listener serves, for example to keep them in systemd's
// file descriptor store. Attached is called once a descriptor is being
// served (received from runc or adopted), Detached just before it is
// closed: because every task of its filter is gone, or by Close. Both run
// on listener goroutines and must be quick; fd is valid only during the
// call (dup it to keep it).
type FDObserver interface {
	Attached(c Container, fd int)
	Detached(c Container, fd int)
}

// FD is a notify descriptor being served.
type FD struct {
	Fd        int
	Container Container
}

// Stats are the listener's counters.
type Stats struct {
	// Trapped counts notifications received and passed to the handler (a
	// call interrupted by a signal and restarted is trapped again).
	Trapped uint64
	// Denied counts notifications answered with an errno.
	Denied uint64
	// Gone counts notifications whose thread went away before the answer
	// (ENOENT from the kernel: interrupted by a signal or killed).
	Gone uint64
	// Attached counts descriptors ever served; Active those served now.
	Attached uint64
	Active   int
	// Rejected counts connections refused: wrong peer, malformed message,
	// or no usable descriptor.
	Rejected uint64
}
