// Command privops makes one privileged (or ordinary) system call with the
// arguments a privilege rule looks at, and says how the kernel answered:
// "ok", or "refused: <errno text>" with exit status 1. The privilege-rule
// tests run it inside containers; built static (CGO_ENABLED=0), it runs in
// any image. Go calls the *at forms (unlinkat, mkdirat), which the
// spelling tests rely on.
//
//	privops socket-packet | socket-raw | socket-inet
//	privops chmod-suid PATH | chmod PATH
//	privops mknod-chr PATH | mkfifo PATH
//	privops unshare | setns PID
//	privops ptrace PID                 attach to another process, then detach
//	privops mkdir PATH | unlink PATH   (mkdirat, unlinkat)
//	privops caps                       prints CapEff and CapBnd of /proc/1/status
//	privops sleep                      blocks until killed
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: privops OP [ARG]")
		os.Exit(2)
	}
	arg := ""
	if len(os.Args) > 2 {
		arg = os.Args[2]
	}
	err := run(os.Args[1], arg)
	if err != nil {
		fmt.Println("refused:", err)
		os.Exit(1)
	}
	fmt.Println("ok")
}

func run(op, arg string) error {
	switch op {
	case "socket-packet":
		return sock(unix.AF_PACKET, unix.SOCK_RAW, 0)
	case "socket-raw":
		return sock(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
	case "socket-inet":
		return sock(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	case "chmod-suid":
		return unix.Fchmodat(unix.AT_FDCWD, arg, 0o4755, 0)
	case "chmod":
		return unix.Fchmodat(unix.AT_FDCWD, arg, 0o755, 0)
	case "mknod-chr":
		return unix.Mknodat(unix.AT_FDCWD, arg, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3)))
	case "mkfifo":
		return unix.Mknodat(unix.AT_FDCWD, arg, unix.S_IFIFO|0o600, 0)
	case "unshare":
		return unix.Unshare(unix.CLONE_NEWUTS)
	case "setns":
		f, err := os.Open("/proc/" + arg + "/ns/uts")
		if err != nil {
			return err
		}
		defer f.Close()
		return unix.Setns(int(f.Fd()), unix.CLONE_NEWUTS)
	case "ptrace":
		pid, err := strconv.Atoi(arg)
		if err != nil {
			return err
		}
		if err := unix.PtraceAttach(pid); err != nil {
			return err
		}
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, unix.WALL, nil)
		return unix.PtraceDetach(pid)
	case "mkdir":
		return unix.Mkdirat(unix.AT_FDCWD, arg, 0o755)
	case "unlink":
		return unix.Unlinkat(unix.AT_FDCWD, arg, 0)
	case "caps":
		data, err := os.ReadFile("/proc/1/status")
		if err != nil {
			return err
		}
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "CapEff:") || strings.HasPrefix(l, "CapBnd:") {
				fmt.Println(strings.Join(strings.Fields(l), " "))
			}
		}
		return nil
	case "sleep":
		for {
			time.Sleep(time.Hour)
		}
	}
	return fmt.Errorf("unknown operation %q", op)
}

func sock(family, typ, proto int) error {
	fd, err := unix.Socket(family, typ, proto)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}
