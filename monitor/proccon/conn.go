// Package proccon receives process events (fork, exec, exit, uid and gid
// changes) from the kernel's netlink process-events connector.
//
// Events come in order per socket. When the socket's receive queue
// overflows the kernel drops events and the next read fails with ENOBUFS;
// Conn turns that into an Event of KindOverflow so the caller rescans /proc
// instead of silently missing a process.
//
// On kernels that support it (Linux >= 6.6, detected at run time, not from
// the version number) the kernel itself filters the event types; elsewhere
// the filter is applied here.
package proccon

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultReadBuffer is the receive buffer Listen asks for (with
// SO_RCVBUFFORCE as root, so net.core.rmem_max does not cap it). A proc
// event takes well under 1 KiB of buffer; 8 MiB holds thousands of events
// while the reader is descheduled.
const DefaultReadBuffer = 8 << 20

// DefaultChannelSize is the capacity of the Events channel.
const DefaultChannelSize = 4096

// ackTimeout bounds the wait for the kernel to acknowledge a LISTEN. The
// kernel acknowledges synchronously, while the request is being sent, so
// this is only ever reached when there is no acknowledgement at all.
const ackTimeout = time.Second

// ErrNoAck is returned by Listen when the kernel never acknowledged the
// LISTEN request: the proc connector ignores listeners outside the initial
// PID and user namespaces.
var ErrNoAck = errors.New("proc connector did not acknowledge listen (not in the initial pid and user namespace?)")

// Option changes how Listen sets up the connection.
type Option func(*options)

type options struct {
	kinds    []Kind
	readBuf  int
	chanSize int
	// noKernelFilter skips the proc_input negotiation, as on kernels
	// before 6.6 (tests of the user-space filter).
	noKernelFilter bool
}

// WithKinds selects the event kinds to receive (default DefaultKinds).
// KindOverflow is always delivered; KindNone and KindUnknown are ignored.
func WithKinds(kinds ...Kind) Option {
	return func(o *options) { o.kinds = append([]Kind(nil), kinds...) }
}

// WithReadBuffer sets the socket receive buffer in bytes (default
// DefaultReadBuffer). The kernel doubles it and enforces a small minimum.
func WithReadBuffer(bytes int) Option { return func(o *options) { o.readBuf = bytes } }

// WithChannelSize sets the capacity of the Events channel (default
// DefaultChannelSize).
func WithChannelSize(n int) Option { return func(o *options) { o.chanSize = n } }

// Conn is a listening proc connector socket.
type Conn struct {
	f      *os.File
	rc     syscall.RawConn
	events chan Event
	done   chan struct{}

	want         [kindCount]bool
	kernelFilter bool
	// unwanted counts events of kinds not asked for that reached the
	// socket (none when the kernel filters).
	unwanted atomic.Uint64
	readBuf  int

	// pending holds what arrived while Listen negotiated, delivered first.
	pending []Event

	stopOnce sync.Once
	wg       sync.WaitGroup

	mu  sync.Mutex
	err error
}

// Listen opens a NETLINK_CONNECTOR socket, joins the proc connector's
// multicast group and asks the kernel for events. It needs CAP_NET_ADMIN in
// the initial user namespace and must run in the initial PID namespace.
// When ctx is done the connection closes as if by Close.
func Listen(ctx context.Context, opts ...Option) (*Conn, error) {
	o := options{kinds: DefaultKinds, readBuf: DefaultReadBuffer, chanSize: DefaultChannelSize}
	for _, opt := range opts {
		opt(&o)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("opening proc connector: %w", err)
	}
	c := &Conn{done: make(chan struct{})}
	var mask uint32
	for _, k := range o.kinds {
		if k < kindCount && k.bit() != 0 {
			c.want[k] = true
			mask |= k.bit()
		}
	}
	if mask == 0 {
		return nil, errors.New("opening proc connector: no event kinds selected")
	}
	c.want[KindOverflow] = true
	if o.chanSize < 1 {
		o.chanSize = 1
	}
	c.events = make(chan Event, o.chanSize)

	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("opening proc connector socket: %w", err)
	}
	if err := c.setup(fd, mask, o.readBuf, o.noKernelFilter); err != nil {
		sendIgnore(fd) // undo a LISTEN that may have counted
		unix.Close(fd)
		return nil, err
	}
	c.f = os.NewFile(uintptr(fd), "proc-connector")
	if c.rc, err = c.f.SyscallConn(); err != nil {
		c.f.Close()
		return nil, fmt.Errorf("opening proc connector socket: %w", err)
	}
	c.wg.Add(2)
	go c.read()
	go func() {
		defer c.wg.Done()
		select {
		case <-ctx.Done():
			c.stop()
		case <-c.done:
		}
	}()
	return c, nil
}

// setup binds fd, sizes its buffer and negotiates LISTEN (with the kernel
// filter where supported).
func (c *Conn) setup(fd int, mask uint32, readBuf int, noKernelFilter bool) error {
	if readBuf > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, readBuf); err != nil {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, readBuf); err != nil {
				return fmt.Errorf("setting proc connector receive buffer to %d bytes: %w", readBuf, err)
			}
		}
	}
	if n, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF); err == nil {
		c.readBuf = n
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (cnIdxProc - 1)}); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("binding proc connector group %d (needs CAP_NET_ADMIN): %w", cnIdxProc, err)
		}
		return fmt.Errorf("binding proc connector group %d: %w", cnIdxProc, err)
	}
	// 1. The plain LISTEN every kernel understands. Its acknowledgement
	// proves the connector answers us (initial namespaces, privileges).
	acked, err := c.control(fd, mcastListen, false, 0, ackTimeout)
	if err != nil {
		return err
	}
	if !acked {
		return ErrNoAck
	}
	if noKernelFilter {
		return nil
	}
	// 2. A struct proc_input asking for every type. Kernels >= 6.6 answer
	// it (the ack passes an all-types filter); older ones ignore a message
	// of that length. The ack is queued while we send, so a short wait is
	// only a safety margin.
	if acked, err = c.control(fd, mcastListen, true, evAll, 20*time.Millisecond); err != nil {
		return err
	}
	if !acked {
		return nil // old kernel: LISTEN from step 1 stands, filter here
	}
	c.kernelFilter = true
	if mask == evAll {
		return nil
	}
	// 3. The real mask. The kernel filters this ack out (its type, NONE,
	// is not in the mask), so there is nothing to wait for.
	msg := marshalControl(rand.Uint32(), rand.Uint32(), 0, mcastListen, true, mask)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("sending proc connector event filter %#x: %w", mask, err)
	}
	return nil
}

// control sends a multicast control operation and waits up to timeout for
// its acknowledgement, keeping the events that arrive meanwhile.
func (c *Conn) control(fd int, op uint32, withMask bool, mask uint32, timeout time.Duration) (bool, error) {
	ack := rand.Uint32()
	msg := marshalControl(rand.Uint32(), ack, 0, op, withMask, mask)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return false, fmt.Errorf("sending proc connector control op %d: %w", op, err)
	}
	deadline := time.Now().Add(timeout)
	buf := make([]byte, recvBufSize)
	var msgs []message
	for {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		switch {
		case err == unix.EAGAIN:
			left := time.Until(deadline)
			if left <= 0 {
				return false, nil
			}
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			if _, err := unix.Poll(pfd, int(left/time.Millisecond)+1); err != nil && err != unix.EINTR {
				return false, fmt.Errorf("waiting for proc connector ack: %w", err)
			}
			continue
		case err == unix.EINTR:
			continue
		case err == unix.ENOBUFS:
			c.pending = append(c.pending, overflowEvent())
			continue
		case err != nil:
			return false, fmt.Errorf("waiting for proc connector ack: %w", err)
		}
		if !fromKernel(from) {
			continue
		}
		msgs, err = parseMessages(buf[:n], msgs[:0])
		if err != nil {
			c.pending = append(c.pending, overflowEvent())
		}
		found := false
		var ackErr uint32
		for _, m := range msgs {
			if m.ev.Kind == KindNone {
				// The kernel answers with our ack+1; it overwrites seq
				// with its own per-CPU counter, so seq cannot be matched.
				if m.ack == ack+1 {
					found, ackErr = true, m.ackErr
				}
				continue
			}
			if c.wanted(m.ev.Kind) {
				c.pending = append(c.pending, m.ev)
			}
		}
		if found {
			if ackErr != 0 {
				return true, fmt.Errorf("proc connector refused control op %d: %w", op, unix.Errno(ackErr))
			}
			return true, nil
		}
	}
}

// recvBufSize is ample for one connector datagram (under 100 bytes).
const recvBufSize = 4096

func fromKernel(sa unix.Sockaddr) bool {
	nl, ok := sa.(*unix.SockaddrNetlink)
	return ok && nl.Pid == 0
}

func (c *Conn) wanted(k Kind) bool { return k < kindCount && c.want[k] }

func overflowEvent() Event {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return Event{Kind: KindOverflow, Timestamp: time.Duration(ts.Nano())}
}

// Events returns the channel of events. It is closed after Close, when the
// Listen context is done, or on a fatal socket error (see Err). Read it
// promptly: while it is full the socket queue grows, and when that
// overflows a KindOverflow event follows.
func (c *Conn) Events() <-chan Event { return c.events }

// KernelFilter reports whether the kernel filters event types for this
// socket (Linux >= 6.6); otherwise unwanted kinds are dropped here.
func (c *Conn) KernelFilter() bool { return c.kernelFilter }

// ReadBuffer is the socket receive buffer size the kernel granted, in bytes.
func (c *Conn) ReadBuffer() int { return c.readBuf }

// Err returns the error that ended the event stream, nil after a normal
// Close or context end.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close stops listening, closes the socket and waits until the Events
// channel is closed and every goroutine of the Conn has returned. It is
// safe to call more than once and concurrently.
func (c *Conn) Close() error {
	c.stop()
	c.wg.Wait()
	return nil
}

// stop tells the kernel we stop listening (so it can stop generating events
// if nobody else listens) and closes the socket, which wakes the reader.
func (c *Conn) stop() {
	c.stopOnce.Do(func() {
		close(c.done)
		_ = c.rc.Control(func(fd uintptr) { sendIgnore(int(fd)) })
		c.f.Close()
	})
}

// sendIgnore sends PROC_CN_MCAST_IGNORE. Before Linux 6.6 the kernel keeps
// generating events for a listener that closes without it.
func sendIgnore(fd int) {
	msg := marshalControl(rand.Uint32(), rand.Uint32(), 0, mcastIgnore, false, 0)
	_ = unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
}

func (c *Conn) fail(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

// send delivers ev unless the Conn is stopping.
func (c *Conn) send(ev Event) bool {
	select {
	case c.events <- ev:
		return true
	case <-c.done:
		return false
	}
}

func (c *Conn) read() {
	defer c.wg.Done()
	defer close(c.events)
	for _, ev := range c.pending {
		if !c.send(ev) {
			return
		}
	}
	c.pending = nil
	buf := make([]byte, recvBufSize)
	var msgs []message
	var consecutive int
	for {
		var (
			n    int
			from unix.Sockaddr
			rerr error
		)
		err := c.rc.Read(func(fd uintptr) bool {
			n, from, rerr = unix.Recvfrom(int(fd), buf, 0)
			return rerr != unix.EAGAIN && rerr != unix.EINTR
		})
		if err != nil { // the socket was closed by stop
			select {
			case <-c.done:
			default:
				c.fail(fmt.Errorf("reading proc connector: %w", err))
			}
			return
		}
		switch {
		case rerr == unix.ENOBUFS:
			consecutive = 0
			if !c.send(overflowEvent()) {
				return
			}
			continue
		case rerr != nil:
			// Anything else is unexpected; events may have been lost, so
			// say so, and give up if the socket keeps failing.
			consecutive++
			if consecutive >= 100 {
				c.fail(fmt.Errorf("reading proc connector: %w", rerr))
				return
			}
			if !c.send(overflowEvent()) {
				return
			}
			continue
		}
		consecutive = 0
		if !fromKernel(from) {
			continue
		}
		msgs, err = parseMessages(buf[:n], msgs[:0])
		for _, m := range msgs {
			if !c.wanted(m.ev.Kind) {
				c.unwanted.Add(1)
				continue
			}
			if !c.send(m.ev) {
				return
			}
		}
		if err != nil && !c.send(overflowEvent()) {
			return
		}
	}
}
