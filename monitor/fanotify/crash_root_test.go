package fanotify

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/profiles"
)

// helperEnv carries a helperConfig to TestHelperGuard in a child process.
const helperEnv = "CONFINE_FANOTIFY_TEST_HELPER"

type helperConfig struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid"`
	Rootfs string `json:"rootfs"`
}

// TestHelperGuard is not a test: run by TestGuardCrash in a child process,
// it plays confined holding a guard (enforce, no cache: every open is a
// decision) until it is killed.
func TestHelperGuard(t *testing.T) {
	raw := os.Getenv(helperEnv)
	if raw == "" {
		t.Skip("helper process for TestGuardCrash")
	}
	var hc helperConfig
	if err := json.Unmarshal([]byte(raw), &hc); err != nil {
		t.Fatal(err)
	}
	p := testProfile(profiles.ModeEnforce)
	g, err := NewGuard(GuardConfig{
		ID: hc.ID, Pid: hc.Pid, RootfsPath: hc.Rootfs,
		Decide: RulesDecider(compile(t, p), p.Mode), CacheSize: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("ready\n")
	<-g.Done() // until killed
}

// TestGuardCrash kills (SIGKILL) a process holding a container's guard
// while the container opens files in a loop: the container goes on.
func TestGuardCrash(t *testing.T) {
	c := testbed.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	r, err := c.Start(ctx, testbed.RunOptions{
		Args: []string{"/bin/sh", "-c", "i=0; while :; do cat /etc/passwd >/dev/null; i=$((i+1)); echo $i >/tmp/count; done"},
	})
	if err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(c.State, "io.containerd.runtime.v2.task", c.Namespace, r.ID, "rootfs")
	count := func() string {
		b, _ := os.ReadFile(filepath.Join(rootfs, "tmp/count"))
		return strings.TrimSpace(string(b))
	}
	waitCount(t, count)

	cfg, _ := json.Marshal(helperConfig{ID: r.ID, Pid: int(r.Pid()), Rootfs: rootfs})
	helper := exec.Command(os.Args[0], "-test.run=^TestHelperGuard$", "-test.count=1")
	helper.Env = append(os.Environ(), helperEnv+"="+string(cfg))
	helper.Stderr = os.Stderr
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = helper.Process.Kill(); _ = helper.Wait() }()
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("helper said %q", line)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatalf("helper guard: %v", err)
		}
	case <-time.After(bound):
		t.Fatal("helper guard never became ready")
	}

	// The helper guards the container: the loop runs, /etc/shadow is denied.
	waitCount(t, count)
	expect(t, "denied under the helper", shIn(t, r, "cat /etc/shadow"), 1, "", "Operation not permitted")

	// Kill it while the loop's opens wait on its decisions.
	killedAt := time.Now()
	if err := helper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()
	waitCount(t, count)
	t.Logf("the container's loop moved again %s after the SIGKILL", time.Since(killedAt))
	res := shIn(t, r, "cat /etc/shadow >/dev/null && echo unguarded")
	expect(t, "after the guard died", res, 0, "unguarded", "")
}
