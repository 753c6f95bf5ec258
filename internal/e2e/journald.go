package e2e

import (
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// JournalSocket is where journald listens for native protocol entries.
const JournalSocket = "/run/systemd/journal/socket"

// Journald makes sure a real systemd-journald serves JournalSocket: the
// running one, or one started by hand for the test (PID 1 is not systemd
// on these machines) and stopped by its PID at cleanup.
func Journald(t testing.TB) {
	t.Helper()
	if journaldAlive() {
		return
	}
	bin := "/lib/systemd/systemd-journald"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("systemd-journald not found at %s: install Debian package systemd (make deps)", bin)
	}
	cmd := exec.Command(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting systemd-journald: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	for i := 0; i < 100; i++ {
		if journaldAlive() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("systemd-journald did not create its socket")
}

// journaldAlive reports whether something answers on JournalSocket (a
// journald that was stopped leaves its socket file behind).
func journaldAlive() bool {
	c, err := net.Dial("unixgram", JournalSocket)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
