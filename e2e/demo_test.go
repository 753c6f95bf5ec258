package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

// TestDemo runs `make demo`'s script end to end: the newcomer's path must
// keep working (learn, promote, enforce, kill, alert in journald).
func TestDemo(t *testing.T) {
	testbed.RequiresRoot(t)
	testbed.RequireTools(t, "containerd", "ctr", "runc", "journalctl")
	bin := e2e.Binaries(t)
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "scripts", "demo.sh")
	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "CONFINE_BIN="+bin)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(4 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("demo did not finish in 4 minutes:\n%s", out)
	}
	if err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out)
	}
	for _, want := range []string{"zero violations", "STOPPED", "CONFINE_EVENT=kill", "CONFINE_ACTION=killed", "Done:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
