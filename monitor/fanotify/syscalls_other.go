//go:build !amd64

package fanotify

import "golang.org/x/sys/unix"

// openCalls maps the syscalls that open files to where their open flags
// are, for architectures with the generic syscall table (arm64, riscv64):
// they have no open, creat or uselib. openat2 is absent on purpose: its
// flags are in memory (see openFlags).
var openCalls = map[int64]openCall{
	unix.SYS_OPENAT:            {how: flagsArg, arg: 2},
	unix.SYS_OPEN_BY_HANDLE_AT: {how: flagsArg, arg: 2},
	unix.SYS_EXECVE:            {how: flagsFixed, fixed: unix.O_RDONLY},
	unix.SYS_EXECVEAT:          {how: flagsFixed, fixed: unix.O_RDONLY},
}
