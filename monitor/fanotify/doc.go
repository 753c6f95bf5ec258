// Package fanotify prevents forbidden execs and file opens in a container
// before they happen: a per-container fanotify group with permission events
// (FAN_OPEN_EXEC_PERM, FAN_OPEN_PERM) blocks the opening process in the
// kernel until the Guard answers FAN_ALLOW or FAN_DENY; a denial gives the
// process EPERM (a shell reports exit status 126 for a denied exec) before a
// byte of the file is read or executed.
//
// # What is marked
//
// One FAN_MARK_FILESYSTEM mark on the container's root file system, by its
// host-side path (GuardConfig.RootfsPath, the bundle's "rootfs" directory
// that containerd's shim mounts): every runc container has its own overlayfs
// superblock, so the mark sees every open of the rootfs in every mount
// namespace. /proc/<pid>/root is not used for it: at createRuntime, the only
// moment that is both before user code and after the PID exists, runc has
// not yet pivoted into the rootfs and /proc/<pid>/root is still the host's
// "/". A FILESYSTEM mark on a host file system would put the whole host
// behind the guard's answer: a RootfsPath that is not overlayfs or that is
// on the same device as "/" (containerd's native snapshotter: a bind mount
// of a host directory) gets a FAN_MARK_MOUNT mark on the container's own
// root mount instead. runc binds the rootfs onto itself in the container's
// mount namespace before pivot_root, so that mount is not one of the
// host's; NewGuard refuses when the mount it finds is in the guard's own
// namespace (ErrHostFilesystem). Guard.RootMark says which mark was used.
//
// Bind mounts, volumes and tmpfs mounts are other superblocks. Each of
// GuardConfig.Mounts (container-view destinations; MountsFromSpec picks them
// from the OCI spec) gets a FAN_MARK_MOUNT mark on the container's own copy
// of that mount, and so does every mount below it (rbind submounts). The
// mount is reached through /proc/<pid>/root: directly once the container
// has pivoted, through /proc/<pid>/root/<rootfs> before (createRuntime).
// Paths are resolved with openat2(RESOLVE_IN_ROOT), so a symlink planted in
// the image cannot redirect a mark onto a host mount, and a mount that is
// also in the guard's own mount namespace is refused (ErrHostMount): a mount
// mark only ever covers the container's mount namespace.
//
// # Which process asked, and for what
//
// The group is created with FAN_REPORT_TID, so an event names the thread
// that is blocked, and FAN_UNLIMITED_QUEUE: with a bounded kernel queue, an
// overflowing permission event is *allowed* by the kernel without asking.
// The number of pending permission events is bounded by the number of
// container threads anyway, each one blocked.
//
// Events from processes in the guard's own mount namespace (the host:
// containerd, the shim, the daemon itself reading a rootfs) are allowed
// without evaluation; their paths are host paths that container rules do not
// describe. Everything else, including a container process that made itself
// a new mount namespace, is evaluated.
//
// The path is the target of /proc/self/fd/<event fd>: the container's view
// (the file's mount is not reachable from the daemon's root, so the kernel
// prints it from the root of the container's mount namespace), with
// symlinks resolved (/bin/cat is reported as /bin/busybox).
//
// # Opened for writing?
//
// fanotify does not report the requester's open flags: the event fd is a new
// open by the kernel with the group's own flags (O_RDONLY here), and
// /proc/<pid>/fdinfo is too late (the descriptor is installed only after
// the answer). But the requesting thread is blocked inside its open syscall
// while it waits for the answer, so /proc/<tid>/syscall shows the syscall
// number and its arguments. Measured on kernel 6.18:
//
//	cat f           257 0xffffff9c 0x7ffcd3c6eac7 0x0 ...      openat, flags O_RDONLY
//	echo x >> f     257 0xffffff9c 0x559c5fcfe0c0 0x441 ...    openat, O_WRONLY|O_CREAT|O_APPEND
//	os.open(O_RDWR|O_TRUNC)  257 ... 0x80202 ...               O_RDWR|O_TRUNC|O_CLOEXEC
//	exec bb         59 0x559c5fce0d10 ...                      execve (both exec events)
//
// The kernel queues the event a moment before the requester goes to sleep,
// so the file can say "running" when read at once (2 of 300 `cat | wc`
// pipelines measured); the guard retries until the thread sleeps (bounded,
// 5 ms).
//
// The flags are the third argument of openat and open_by_handle_at, the
// second of open, implied by creat (write) and by execve/execveat/uselib
// (read). Only registers are trusted: openat2 keeps its flags in the
// requester's memory (struct open_how), which another thread can rewrite
// after the kernel copied it, so its flags count as unknown. An open counts
// as a write when its access mode is not O_RDONLY, or it has O_TRUNC
// (Linux truncates even with O_RDONLY) or O_CREAT (it may create the file;
// a file created by a denied open stays, empty: the check comes after the
// creation). When the syscall is not one of those (openat2, io_uring's
// IORING_OP_OPENAT, a core dump, a 32-bit compat task: its syscall numbers
// never alias a 64-bit open syscall), the flags are unknown and the open
// counts as a write: a readOnly path then refuses it, the safe side.
//
// # Exec: binary, script, interpreter
//
// exec.allow names the program /proc/<pid>/exe shows. The kernel also sends
// FAN_OPEN_EXEC_PERM for a "#!" script (its interpreter follows, and is
// checked) and for the ELF interpreter (PT_INTERP, ld.so) of a dynamically
// linked binary, which a profile learned from /proc/<pid>/exe does not
// list. A script is reported with ExecScript; the interpreter is
// recognised as ExecInterpreter only when it is the file (same device and
// inode, resolved in the process's root) that the PT_INTERP of a binary the
// same thread just got allowed names. Running ld.so directly is an
// ExecBinary like any other.
//
// The kernel opens the binary before it checks the arguments, so an exec
// of an allowed dynamic binary can fail (E2BIG) after its event, and the
// same thread's next exec, of ld.so itself, then looks like that binary's
// interpreter: ld.so would run any program it is given. So an interpreter
// let through as one is checked once more at the process's first open
// after the exec: if /proc/<pid>/exe is the interpreter, the interpreter is
// the program, and its exec is decided as an ExecBinary before that open
// (TestGuardInterpreter does exactly this; without the check the program
// runs).
//
// # Answering
//
// One goroutine reads events and answers cache hits at once; it never
// waits for Decide. Decisions go through a bounded queue to one worker that
// calls GuardConfig.Decide; a decision not made within GuardConfig.Timeout
// of the event's arrival (or a full queue, or an event the guard cannot
// inspect) is answered by FailOpen and reported. While a Decide call that
// overran is still running, further decisions are answered by FailOpen at
// once. Decide runs while the requester is blocked, so it may read
// /proc/<tid> safely; the PID of reported events is read before the answer,
// because a denied process may exit at once.
//
// Decisions are cached per guard by (device, inode, path, kind, role,
// access mode). The path is part of the key: rules are path rules, and a
// hard link or a rename gives one inode several names, so a cache keyed by
// inode alone would let an allowed name open a denied one. A verdict that
// does not depend on the access mode (Verdict.IgnoresWrite, set by
// RulesDecider for every path outside files.readOnly) is cached for both,
// and a hit then skips reading /proc/<tid>/syscall. InvalidateCache (and
// SetDecide) drop the cache on a profile reload.
//
// Closing the group (Close, or the daemon dying) makes the kernel allow
// every pending and future event of the group: a dead guard never leaves a
// container hung. A guard that is alive but stopped (SIGSTOP, a wedged
// process) does stall the container's opens: the daemon's watchdog must
// kill it.
//
// The daemon's own opens are host events: the guard never waits on itself,
// and nothing the reader does (readlink, fstat, reads of /proc, O_PATH
// opens, reading the event descriptor, opened FMODE_NONOTIFY) raises an
// event.
//
// # Limits
//
// fanotify sees opens and execs only: truncate(2), rename, unlink, chmod and
// link are not permission events; mmap of a file opened earlier is not an
// open. A hard link the container makes gives a denied file a name the
// rules do not deny (the /proc monitor has the same limit: rules are
// paths). A denied O_CREAT open has already created the (empty) file.
// memfd and other files outside the marked mounts (an fexecve of a memfd)
// are not seen: the /proc monitor catches fileless executables. Mounts made
// by the container after the guard started are not marked.
// FID reporting modes (needed for directory-entry events) are not supported
// with mount or filesystem marks on overlayfs on these kernels.
package fanotify
