package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/profiles"
)

// TestDiskFullStateDir: with state_dir full, learned profiles are never
// left half-written: each file is either absent or a valid profile, and no
// temporary file is left behind; confined keeps serving.
func TestDiskFullStateDir(t *testing.T) {
	bed := e2e.NewBed(t)
	state := filepath.Join(bed.Dir, "small")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", state).CombinedOutput(); err != nil {
		t.Fatalf("mounting a small tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = syscall.Unmount(state, syscall.MNT_DETACH) })
	bed.StateDir = state
	bed.WriteConfig(t, "")
	bed.WriteProfile(t, "full", "apiVersion: confine/v1\nname: full\nmode: learn\nselector:\n  labels: {app: full}\n")
	c := bed.StartConfined(t)

	// Leave almost nothing free.
	filler := filepath.Join(state, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1024)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()

	id := testbed.UniqueID("full")
	r, err := bed.Start(context.Background(), testbed.RunOptions{ID: id, Runtime: bed.Runc, Args: []string{"sh", "-c", "while true; do ls / >/dev/null; id >/dev/null; date >/dev/null; sleep 0.1; done"}, Labels: map[string]string{"app": "full"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitWatched(t, c, bed.Namespace, id)
	time.Sleep(2 * time.Second) // several flushes fail for want of space

	check := func() {
		t.Helper()
		entries, _ := os.ReadDir(filepath.Join(state, "learned"))
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp") {
				t.Errorf("temporary file left behind: %s", e.Name())
			}
			if strings.HasSuffix(e.Name(), ".yaml") {
				if _, err := profiles.ReadFile(filepath.Join(state, "learned", e.Name()), profiles.Options{}); err != nil {
					t.Errorf("half-written learned profile: %v", err)
				}
			}
		}
	}
	check()
	if _, err := os.Stat(filepath.Join(state, "learned", "full.yaml")); err == nil {
		t.Fatal("the learned profile was written although the disk was full: the test did not fill it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Client.Status(ctx); err != nil {
		t.Fatalf("confined stopped serving with its state_dir full: %v", err)
	}
	// Space comes back: the learned profile is written whole.
	os.Remove(filler)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := profiles.ReadFile(filepath.Join(state, "learned", "full.yaml"), profiles.Options{}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("learned profile not written after space came back")
		}
		time.Sleep(200 * time.Millisecond)
	}
	check()
}
