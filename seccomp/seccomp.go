// Package seccomp turns the seccomp part of a confine profile into an OCI
// seccomp filter (specs.LinuxSeccomp) for runc, and converts between
// profiles and the Docker/Podman seccomp JSON format. It is pure Go: the
// syscall names it needs come from tables generated from libseccomp
// (go generate; see KnownSyscalls), so the container start path needs no
// cgo. Package seccomp/syscalls asks libseccomp itself.
//
// # The filters it writes
//
// Every filter targets runc 1.1.5: no seccomp flags, never SCMP_ACT_NOTIFY
// as the default action or on write. A profile with an allow list (or a
// base) gets, by its defaultAction:
//
//   - errno: default SCMP_ACT_ERRNO with defaultErrnoRet 38 (ENOSYS), one
//     SCMP_ACT_ALLOW rule for the allowed syscalls, and one SCMP_ACT_ERRNO
//     rule with errnoRet 1 (EPERM) naming every other syscall libseccomp
//     knows. A known syscall is refused with EPERM; a syscall too new for
//     libseccomp gets ENOSYS, so callers fall back to an older call the way
//     they do on an older kernel (moby#42680).
//   - kill: default SCMP_ACT_KILL_PROCESS.
//   - log: default SCMP_ACT_LOG (allowed, and logged by the kernel).
//
// Three exceptions keep containers working and sit on top of every mode:
//
//   - RuntimeFloor (and EarlyInitFloor unless the profile forces
//     noNewPrivileges) is always allowed: runc's init runs under the filter
//     after loading it.
//   - FallbackSyscalls that are not allowed answer ENOSYS, not EPERM and
//     not a kill (unless a kill-mode profile denies them by name): libc and
//     language runtimes probe them and fall back on ENOSYS.
//   - A syscall the base allows only for some arguments (Docker's clone,
//     personality and socket rules) keeps those rules; for other
//     arguments it gets the default action, that is ENOSYS in errno mode
//     where Docker answers EPERM (a rule without arguments would override
//     the argument rules in libseccomp).
//
// Deny names are refused in every mode: EPERM (ENOSYS for
// FallbackSyscalls) in errno and log mode, SCMP_ACT_KILL_PROCESS in kill
// mode. A profile with neither an allow list nor a base is a deny list:
// default SCMP_ACT_ALLOW and only the Deny names are refused.
//
// GenerateNotify (learning) and GenerateEnforceNotify (enforcing with
// alerts) send syscalls to confined's seccomp agent instead.
//
// Output is deterministic: rules come in a fixed order with sorted names,
// so the JSON of a filter is a stable function of the profile and GOARCH.
package seccomp

import (
	"fmt"
	"runtime"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

//go:generate go run ./internal/gentable -o .

// Errno values used in filters.
const (
	errnoEPERM  uint = 1
	errnoENOSYS uint = 38
)

// RuntimeFloor are the syscalls runc 1.1.5's init makes after it has
// loaded the container's filter, when no_new_privileges is set (the
// default of containerd and nerdctl): runc then loads the filter as late
// as it can, just before execve. Every restricting filter allows them; a
// filter without them fails every container with errors such as "ensure
// /proc/self/fd is on procfs: function not implemented".
//
// Measured on runc 1.1.5 (strace of runc run and create+start, and
// TestProbeRuntimeFloor in seccomp/internal/runctest, which removes one
// syscall at a time under a kill default): without close, epoll_ctl,
// execve, fstatfs, getdents64, getpid, openat or write every container
// fails; without futex every containerd (create+start) container and some
// runc run ones fail; without rt_sigreturn one start in three fails (a
// preemption signal lands on the init thread). With no_new_privileges off
// fcntl, fstat, newfstatat and read become necessary too (see
// EarlyInitFloor). The rest is what the Go runtime of runc's init may call
// on that thread at any time (heap and scheduler work, netpoll, signals,
// thread exit), plus restart_syscall, which the kernel uses to resume an
// interrupted nanosleep or futex wait: kept so that a rare path does not
// kill a container.
//
// runc 1.2 and later (measured with 1.4.4, strace of the init thread after
// its seccomp(SECCOMP_SET_MODE_FILTER) call) also reach /proc/thread-self/fd
// through filepath-securejoin after loading the filter: openat2 with
// RESOLVE_BENEATH and statx(STATX_MNT_ID) to check that procfs is not
// overmounted; both are fallback syscalls otherwise (ENOSYS), and runc
// does not fall back from them ("could not get mount id: function not
// implemented"). With a seccomp notify listener, runc 1.2+ then waits for
// its parent on the sync socket with recvfrom ("fetch packet length from
// socket"), which a filter that sends it to the listener would block.
var RuntimeFloor = []string{
	"close",
	"epoll_ctl",
	"epoll_pwait",
	"execve",
	"exit",
	"exit_group",
	"fcntl",
	"fstat",
	"fstatfs",
	"futex",
	"getdents64",
	"getpid",
	"gettid",
	"madvise",
	"mmap",
	"munmap",
	"nanosleep",
	"newfstatat",
	"openat",
	"openat2",
	"read",
	"recvfrom",
	"restart_syscall",
	"rt_sigaction",
	"rt_sigprocmask",
	"rt_sigreturn",
	"sched_yield",
	"sigaltstack",
	"statx",
	"tgkill",
	"write",
}

// EarlyInitFloor are the syscalls runc 1.1.5's init additionally makes
// under the filter when no_new_privileges is off (Docker's default): runc
// must then load the filter before it switches to the container's user
// and capabilities and looks up the executable. Generate adds them unless
// the profile sets privileges.noNewPrivileges: true. Each one is needed
// (TestProbeRuntimeFloor), except faccessat, the fallback of faccessat2.
var EarlyInitFloor = []string{
	"capget",
	"capset",
	"chdir",
	"faccessat",
	"faccessat2",
	"fchown",
	"getcwd",
	"getppid",
	"prctl",
	"setgid",
	"setgroups",
	"setuid",
}

// FallbackSyscalls are syscalls that libc and language runtimes try first
// and replace with an older call when the kernel answers ENOSYS: glibc
// 2.34+ creates every thread and child with clone3, glibc 2.33+ faccessat
// tries faccessat2, Go and Rust probe statx, pidfd_open, copy_file_range,
// getrandom... Answering EPERM (or killing) would break such programs
// instead of making them fall back, so a filter that does not allow one of
// these answers ENOSYS, in every mode.
var FallbackSyscalls = []string{
	"clone3",
	"close_range",
	"copy_file_range",
	"epoll_pwait2",
	"faccessat2",
	"fchmodat2",
	"futex_waitv",
	"getrandom",
	"landlock_add_rule",
	"landlock_create_ruleset",
	"landlock_restrict_self",
	"membarrier",
	"memfd_secret",
	"openat2",
	"pidfd_open",
	"pidfd_send_signal",
	"process_mrelease",
	"rseq",
	"statx",
}

// HostArch returns the GOARCH this binary runs on, the architecture
// filters are generated for on this host.
func HostArch() string { return runtime.GOARCH }

// KnownSyscalls returns, sorted, the syscall names libseccomp knows for a
// GOARCH ("amd64" or "arm64"), from the tables generated at build time.
// They cover every ABI the filter of that GOARCH covers (x86_64, x86 and
// x32; aarch64 and arm). It returns nil for other architectures. The slice
// is shared: do not modify it.
func KnownSyscalls(goarch string) []string {
	switch goarch {
	case "amd64":
		return syscallsAMD64
	case "arm64":
		return syscallsARM64
	}
	return nil
}

// archFamily describes the ABIs a filter covers for one GOARCH.
type archFamily struct {
	goarch string
	// native is the libseccomp architecture of the GOARCH itself.
	native specs.Arch
	// arches is native followed by its companion ABIs.
	arches []specs.Arch
	known  []string
}

func family(goarch string) (*archFamily, error) {
	switch goarch {
	case "amd64":
		return &archFamily{goarch, specs.ArchX86_64, []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}, syscallsAMD64}, nil
	case "arm64":
		return &archFamily{goarch, specs.ArchAARCH64, []specs.Arch{specs.ArchAARCH64, specs.ArchARM}, syscallsARM64}, nil
	}
	return nil, fmt.Errorf("unsupported architecture %q (want amd64 or arm64)", goarch)
}

// isKnown reports whether name is in the family's table.
func (f *archFamily) isKnown(name string) bool {
	i := sort.SearchStrings(f.known, name)
	return i < len(f.known) && f.known[i] == name
}

// nameSet is a set of syscall names.
type nameSet map[string]bool

func setOf(lists ...[]string) nameSet {
	s := nameSet{}
	for _, l := range lists {
		for _, n := range l {
			s[n] = true
		}
	}
	return s
}

func (s nameSet) add(l []string) {
	for _, n := range l {
		s[n] = true
	}
}

// sorted returns the members, sorted.
func (s nameSet) sorted() []string {
	out := make([]string, 0, len(s))
	for n := range s {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// isSyscallName reports whether s has the shape of a syscall name.
func isSyscallName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func uintPtr(v uint) *uint { return &v }
