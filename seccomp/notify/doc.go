// Package notify is confined's seccomp agent: the other end of
// linux.seccomp.listenerPath. Filters from seccomp.GenerateNotify (learning)
// and seccomp.GenerateEnforceNotify (enforcement with alerts) send some
// syscalls to user space (SCMP_ACT_NOTIFY); this package receives them,
// asks a [Handler] what to do, and answers the kernel.
//
// # How a filter reaches the listener
//
// runc loads the container's filter in its init, takes the notify file
// descriptor from it (pidfd_getfd), connects to listenerPath as a unix
// stream client and sends, in one sendmsg, the JSON of an OCI
// specs.ContainerProcessState with the descriptor attached (SCM_RIGHTS).
// Observed from runc 1.1.5 (TestRuncMessage):
//
//	{"ociVersion":"1.0.2-dev","fds":["seccompFd"],"pid":4242,"metadata":"…",
//	 "state":{"ociVersion":"1.0.2-dev","id":"…","status":"creating","pid":4242,
//	          "bundle":"/run/containerd/io.containerd.runtime.v2.task/<ns>/<id>",
//	          "annotations":{…}}}
//
// metadata is linux.seccomp.listenerMetadata (absent when empty);
// annotations are absent when the spec has none; fds[i] names the i-th
// descriptor of the SCM_RIGHTS array. runc 1.1.5 closes only a duplicate
// of its socket after sending (the connection ends when the runc process
// exits), so the listener reads one JSON value (bounded: 1 MiB, 8
// descriptors, 5 s), not up to EOF. A `runc exec` into a container with
// such a filter sends another message with the state "running" and the
// exec'd process's pid at the top level: every exec'd process has its own
// filter and its own descriptor.
//
// Each descriptor is served until the kernel reports POLLHUP without
// POLLIN, which means every task using that filter has exited; the
// descriptor is then closed. A fixed pool of worker goroutines waits on
// all descriptors with one epoll instance (EPOLLONESHOT: one descriptor is
// served by one worker at a time), so the thread count does not grow with
// the number of containers.
//
// # Dangers the daemon must design around
//
//   - Listener unreachable at create. Observed with runc 1.1.5 under
//     containerd: when listenerPath does not exist or nobody listens on it
//     (ECONNREFUSED), `runc create` fails at once with "failed to connect
//     with seccomp agent specified in the seccomp profile" and the
//     container is not created (TestCreateAfterClose); when the agent
//     accepts and closes without reading, create fails with "broken pipe".
//     The hang is the other case: a socket that is listening but whose
//     owner never reads (a wedged or stopped daemon, a process that bound
//     the path and does not serve it). runc's connect and send then
//     succeed into the socket buffer, create succeeds, and the container
//     blocks in its first trapped syscall until that socket is closed.
//     So confine-runc must put a listenerPath into a spec only after
//     confirming that confined is accepting on it. [Listen] binds the socket
//     under a temporary name and renames it into place once it accepts
//     (path existing means a listener is or was there) and refuses a path
//     someone else accepts on; [Listener.Close] removes it first thing, so
//     that creates after it fail instead of waiting.
//   - Listener gone while containers run: when every copy of a notify
//     descriptor is closed (confined exits or crashes, or Close is called)
//     the kernel fails every pending and future trapped syscall of that
//     filter with ENOSYS. In learning mode most programs then fail; in
//     enforcement mode the denied syscalls stay denied (ENOSYS instead of
//     EPERM, and no alert). To survive a restart the daemon must keep the
//     descriptors alive outside itself: under systemd, hand each one to
//     the service's file descriptor store (sd_notify "FDSTORE=1" with a
//     FDNAME naming the container; FileDescriptorStoreMax= in the unit)
//     from [FDObserver].Attached, remove it ("FDSTOREREMOVE=1") from
//     Detached, and after a restart give the descriptors systemd passes
//     back (LISTEN_FDS/LISTEN_FDNAMES) to [Listener.Adopt]. Without
//     systemd nothing holds them: trapped syscalls of running containers
//     return ENOSYS until those containers are restarted. Learning mode is
//     for staging, not production.
//   - The trapped thread waits while the handler runs: [Handler.Handle] is
//     called on a worker goroutine with the syscall blocked in the kernel.
//     It must only record (into memory) and decide; anything slow (disk,
//     network, killing a container) belongs on another goroutine. A
//     descriptor stored (systemd) but neither adopted nor closed after a
//     restart leaves its container blocked the same way.
//   - A signal interrupts a waiting syscall (Go programs get SIGURG for
//     preemption): the kernel withdraws the notification and the thread
//     restarts the call, which is trapped again. A handler can see one
//     call more than once; Stats.Trapped counts each.
//
// # Cost
//
// A trapped syscall costs two context switches and a round trip through
// this process: 13–50 µs measured with this Go agent on a loaded 2-CPU
// machine (BenchmarkTrappedSyscall; a bare receive/respond loop measured
// the same there), against 0.2–0.3 µs for a syscall the filter allows.
// Keep trapping minimal: learning traps only syscalls not yet learned, and
// a second run of a learned workload traps nothing (TestLearnContainer).
//
// # Reading arguments
//
// Pointer arguments (the path of openat or execve, the address of connect)
// live in the trapped process. [Request.ReadString] reads them through
// /proc/PID/mem and checks that the notification is still valid before and
// after, so that a recycled PID cannot feed the handler another process's
// memory. What it returns is still only what the memory held at that
// moment: another thread of the process may change it before the kernel
// reads it again. Use it for recording and alerting, never to allow a
// syscall that the filter would otherwise deny.
package notify
