package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestHelperDial is not a test: runAsNobody runs the test binary with it
// selected to dial the API socket under another uid.
func TestHelperDial(t *testing.T) {
	sock := os.Getenv("CONFINE_E2E_DIAL")
	if sock == "" {
		t.Skip("helper process only")
	}
	conn, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(conn, "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 4096)
	n, _ := conn.Read(buf)
	fmt.Println(string(buf[:n]))
}

// runAsNobody dials the API socket as uid 65534 and returns what happened.
func runAsNobody(sock string) (string, error) {
	// The test binary lives in a private build directory: copy it where
	// uid 65534 may run it.
	dir, err := os.MkdirTemp("", "cfe-nobody-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		return "", err
	}
	helper := filepath.Join(dir, "helper")
	if err := os.WriteFile(helper, data, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command(helper, "-test.run=^TestHelperDial$", "-test.v")
	cmd.Env = append(os.Environ(), "CONFINE_E2E_DIAL="+sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}
