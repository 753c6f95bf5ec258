package seccomp

import (
	"slices"
)

// Families are syscalls that do the same thing with the same privilege,
// spelled differently by different libcs and runtimes: busybox calls
// unlink, mkdir, rename, symlink and link; glibc and Go call unlinkat,
// mkdirat, renameat, symlinkat and linkat; newer libcs try openat2,
// faccessat2 or fchmodat2 first. Learning adds every member of a family
// whose one member it saw (unless the profile sets seccomp.families:
// false), so that a libc update or a rebuilt image does not turn the same
// operation into a violation.
//
// What a family may hold (TestFamiliesNeverWiden checks it): no syscall
// that a privilege rule names or guards by name (ptrace, namespaces,
// setid, kernel), none that needs a capability the others do not, none
// that crosses a namespace. chmod and mknod stay guarded by their
// arguments in every spelling (see privileges.go).
var Families = [][]string{
	{"open", "openat", "openat2", "creat"},
	{"stat", "lstat", "fstat", "newfstatat", "statx", "fstatat64", "stat64", "lstat64", "fstat64"},
	{"statfs", "fstatfs", "statfs64", "fstatfs64"},
	{"unlink", "unlinkat", "rmdir"},
	{"rename", "renameat", "renameat2"},
	{"mkdir", "mkdirat"},
	{"mknod", "mknodat"},
	{"link", "linkat"},
	{"symlink", "symlinkat"},
	{"chmod", "fchmod", "fchmodat", "fchmodat2"},
	{"chown", "fchown", "lchown", "fchownat", "chown32", "fchown32", "lchown32"},
	{"access", "faccessat", "faccessat2"},
	{"readlink", "readlinkat"},
	{"utime", "utimes", "futimesat", "utimensat", "utimensat_time64"},
	{"dup", "dup2", "dup3"},
	{"pipe", "pipe2"},
	{"poll", "ppoll", "ppoll_time64"},
	{"select", "_newselect", "pselect6", "pselect6_time64"},
	{"epoll_wait", "epoll_pwait", "epoll_pwait2"},
	{"epoll_create", "epoll_create1"},
	{"eventfd", "eventfd2"},
	{"signalfd", "signalfd4"},
	{"inotify_init", "inotify_init1"},
	{"wait4", "waitid", "waitpid"},
	{"getdents", "getdents64"},
	{"fork", "vfork"},
	{"accept", "accept4"},
	{"send", "sendto", "sendmsg", "sendmmsg"},
	{"recv", "recvfrom", "recvmsg", "recvmmsg", "recvmmsg_time64"},
	{"pread64", "preadv", "preadv2"},
	{"pwrite64", "pwritev", "pwritev2"},
	{"readv", "read"},
	{"writev", "write"},
	{"nanosleep", "clock_nanosleep", "clock_nanosleep_time64"},
	{"getrlimit", "ugetrlimit", "prlimit64"},
	{"truncate", "truncate64"},
	{"ftruncate", "ftruncate64"},
	{"lseek", "_llseek"},
	{"sendfile", "sendfile64"},
	{"fcntl", "fcntl64"},
	{"mmap", "mmap2"},
	{"getuid", "getuid32"}, {"geteuid", "geteuid32"}, {"getgid", "getgid32"}, {"getegid", "getegid32"},
	{"getresuid", "getresuid32"}, {"getresgid", "getresgid32"}, {"getgroups", "getgroups32"},
	{"rt_sigtimedwait", "rt_sigtimedwait_time64"},
	{"futex", "futex_time64"},
	{"time", "gettimeofday", "clock_gettime", "clock_gettime64"},
	{"signal", "sigaction", "rt_sigaction"},
	{"sigprocmask", "rt_sigprocmask"},
	{"sigreturn", "rt_sigreturn"},
	{"sigsuspend", "rt_sigsuspend"},
	{"sigpending", "rt_sigpending"},
}

// WithFamilies returns names plus every member of their families that
// libseccomp knows for goarch, sorted and without duplicates.
func WithFamilies(names []string, goarch string) []string {
	fam, err := family(goarch)
	out := slices.Clone(names)
	seen := setOf(names)
	for _, f := range Families {
		hit := false
		for _, n := range f {
			if seen[n] {
				hit = true
				break
			}
		}
		if !hit {
			continue
		}
		for _, n := range f {
			if err == nil && fam.isKnown(n) {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
