package notify_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// The test binary doubles as a small seccomp "container" (helperEnv set):
// it loads a filter that sends getppid, mkdir and mkdirat to user space,
// hands the notify descriptor to a listener the way runc does, and makes
// those syscalls. No root needed (no_new_privs), no runtime involved.
const (
	helperEnv     = "CONFINE_NOTIFY_HELPER"
	helperSockEnv = "CONFINE_NOTIFY_HELPER_SOCK"
	helperArgEnv  = "CONFINE_NOTIFY_HELPER_ARG"
	helperID      = "helper"
	helperNS      = "testns"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := helperMain(mode); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helperMain is the helper process.
func helperMain(mode string) error {
	runtime.LockOSThread()
	arg := os.Getenv(helperArgEnv)
	if mode == "bench" || mode == "benchpath" {
		// Baseline before any filter.
		n, _ := strconv.Atoi(arg)
		fmt.Printf("nofilter_ns=%d\n", loopNs("getppid", n))
	}
	filter, err := libseccomp.NewFilter(libseccomp.ActAllow)
	if err != nil {
		return err
	}
	for _, name := range []string{"getppid", "mkdir", "mkdirat"} {
		sc, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			return err
		}
		if err := filter.AddRule(sc, libseccomp.ActNotify); err != nil {
			return fmt.Errorf("rule %s: %w", name, err)
		}
	}
	if err := filter.Load(); err != nil {
		return fmt.Errorf("loading the filter: %w", err)
	}
	fd, err := filter.GetNotifFd()
	if err != nil {
		return err
	}
	if err := sendFD(os.Getenv(helperSockEnv), int(fd)); err != nil {
		return err
	}
	// Only the listener holds the descriptor now.
	if err := unix.Close(int(fd)); err != nil {
		return err
	}

	switch mode {
	case "mkdir":
		// mkdirat(AT_FDCWD, arg, 0755) and getppid; report errnos.
		p, err := unix.BytePtrFromString(arg)
		if err != nil {
			return err
		}
		dirfd := unix.AT_FDCWD
		_, _, e := unix.Syscall(unix.SYS_MKDIRAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), 0o755)
		fmt.Printf("mkdirat=%d\n", int(e))
		r, _, e := unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
		fmt.Printf("getppid=%d errno=%d\n", r, int(e))
	case "wait":
		// Trap once, tell the test, wait for its go, trap again.
		r, _, e := unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
		fmt.Printf("first getppid=%d errno=%d\n", r, int(e))
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil && err != io.EOF {
			return err
		}
		r, _, e = unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
		fmt.Printf("second getppid=%d errno=%d\n", r, int(e))
	case "benchpath":
		// n mkdirat calls on a path argument.
		n, _ := strconv.Atoi(arg)
		p, err := unix.BytePtrFromString("/tmp/confine-notify-bench/some/dir")
		if err != nil {
			return err
		}
		dirfd := unix.AT_FDCWD
		start := time.Now()
		for range n {
			unix.Syscall(unix.SYS_MKDIRAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), 0o755)
		}
		fmt.Printf("trapped_ns=%d\n", time.Since(start).Nanoseconds())
	case "bench":
		n, _ := strconv.Atoi(arg)
		fmt.Printf("trapped_ns=%d\n", loopNs("getppid", n))
		fmt.Printf("allowed_ns=%d\n", loopNs("getpid", n))
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	return nil
}

// loopNs makes n raw syscalls and returns the elapsed nanoseconds.
func loopNs(name string, n int) int64 {
	nr := uintptr(unix.SYS_GETPPID)
	if name == "getpid" {
		nr = unix.SYS_GETPID
	}
	start := time.Now()
	for range n {
		unix.RawSyscall(nr, 0, 0, 0)
	}
	return time.Since(start).Nanoseconds()
}

// sendFD sends fd to the listener at path as runc 1.1.5 does: one
// sendmsg with a specs.ContainerProcessState and the descriptor.
func sendFD(path string, fd int) error {
	sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(sock)
	if err := unix.Connect(sock, &unix.SockaddrUnix{Name: path}); err != nil {
		return fmt.Errorf("connecting to %s: %w", path, err)
	}
	st := specs.ContainerProcessState{
		Version: specs.Version,
		Fds:     []string{specs.SeccompFdName},
		Pid:     os.Getpid(),
		State: specs.State{
			Version:     specs.Version,
			ID:          helperID,
			Status:      specs.StateCreating,
			Pid:         os.Getpid(),
			Bundle:      "/run/test/" + helperNS + "/" + helperID,
			Annotations: map[string]string{"a": "b"},
		},
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return unix.Sendmsg(sock, b, unix.UnixRights(fd), nil, 0)
}

// helper is a running helper process.
type helper struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	stdout   *bufio.Reader
	waitOnce sync.Once
	waitErr  error
}

// startHelper runs the helper in mode against the listener socket.
func startHelper(t testing.TB, mode, sock, arg string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperSockEnv+"="+sock, helperArgEnv+"="+arg)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, stdin: stdin, stdout: bufio.NewReader(stdout)}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = h.wait()
	})
	return h
}

// wait waits for the helper to exit, once all its output was read.
func (h *helper) wait() error {
	h.waitOnce.Do(func() { h.waitErr = h.cmd.Wait() })
	return h.waitErr
}

// lines reads the helper's output until it exits, bounded by ctx.
func (h *helper) lines(ctx context.Context, t testing.TB) []string {
	t.Helper()
	type result struct {
		lines []string
		err   error
	}
	ch := make(chan result, 1)
	go func() {
		var out []string
		for {
			line, err := h.stdout.ReadString('\n')
			if line != "" {
				out = append(out, strings.TrimSpace(line))
			}
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				ch <- result{out, err}
				return
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.lines
	case <-ctx.Done():
		t.Fatalf("helper output: %v", ctx.Err())
		return nil
	}
}

// line reads one line of the helper's output, bounded by ctx.
func (h *helper) line(ctx context.Context, t testing.TB) string {
	t.Helper()
	ch := make(chan string, 1)
	go func() {
		l, _ := h.stdout.ReadString('\n')
		ch <- strings.TrimSpace(l)
	}()
	select {
	case l := <-ch:
		return l
	case <-ctx.Done():
		t.Fatalf("helper output: %v", ctx.Err())
		return ""
	}
}
