package fanotify

import "golang.org/x/sys/unix"

// openCalls maps the x86-64 syscalls that open files to where their open
// flags are. A 32-bit compat task's syscall numbers are i386 numbers; none
// of them that opens a file aliases one of these (i386 5 open is x86-64
// fstat, 295 openat is preadv), so compat opens count as unknown flags.
// openat2 is absent on purpose: its flags are in memory (see openFlags).
var openCalls = map[int64]openCall{
	unix.SYS_OPEN:              {how: flagsArg, arg: 1},
	unix.SYS_OPENAT:            {how: flagsArg, arg: 2},
	unix.SYS_OPEN_BY_HANDLE_AT: {how: flagsArg, arg: 2},
	unix.SYS_CREAT:             {how: flagsFixed, fixed: unix.O_CREAT | unix.O_WRONLY | unix.O_TRUNC},
	unix.SYS_EXECVE:            {how: flagsFixed, fixed: unix.O_RDONLY},
	unix.SYS_EXECVEAT:          {how: flagsFixed, fixed: unix.O_RDONLY},
	unix.SYS_USELIB:            {how: flagsFixed, fixed: unix.O_RDONLY},
}
