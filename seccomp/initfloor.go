package seccomp

import (
	"github.com/confinehq/confine/internal/landlock/fromprofile"
	"github.com/confinehq/confine/profiles"
)

// InitFloor is what confine-init (a static Go binary) calls under the
// container's filter before it execs the workload: the three landlock
// syscalls, the Go runtime's start-up and the all-threads restriction
// (signals to every thread). Measured with strace on confine-init. It is
// allowed whenever confine-runc will put confine-init in front of the
// container (fromprofile.NeedsInit), since a learned allowlist never sees
// confine-init run.
var InitFloor = []string{
	"arch_prctl", "brk", "clone", "close", "epoll_create1", "epoll_ctl", "epoll_pwait",
	"eventfd2", "execve", "exit", "exit_group", "faccessat", "faccessat2", "fcntl", "futex",
	"getdents64", "getpid", "getrandom", "gettid", "landlock_add_rule", "landlock_create_ruleset",
	"landlock_restrict_self", "madvise", "mmap", "mprotect", "munmap", "nanosleep", "newfstatat",
	"openat", "pread64", "prctl", "prlimit64", "read", "rseq", "rt_sigaction", "rt_sigprocmask",
	"rt_sigreturn", "sched_getaffinity", "sched_yield", "set_robust_list", "set_tid_address",
	"sigaltstack", "tgkill", "write",
}

// initFloorFor returns InitFloor when p's containers start through
// confine-init, else nil.
func initFloorFor(p *profiles.Profile) []string {
	if fromprofile.NeedsInit(p) {
		return InitFloor
	}
	return nil
}
