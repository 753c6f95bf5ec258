package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

// TestExportedProfileIsEnforcedByTheKernel is the foundation's promise: a
// profile on disk becomes, through `confinectl profile export-docker`, a
// seccomp filter the kernel enforces on a real container run by a private
// containerd and the real runc.
func TestExportedProfileIsEnforcedByTheKernel(t *testing.T) {
	bin := e2e.Binaries(t)
	cd := testbed.Start(t)
	dir := t.TempDir()
	const workload = `grep Seccomp: /proc/1/status; ls / >/dev/null && echo ls-ok; mkdir /tmp/forbidden; echo mkdir=$?`

	tests := []struct {
		name       string
		action     string
		wantStatus int
		wantOut    []string
	}{
		// errno: the workload runs, mkdir fails with EPERM.
		{"errno", "errno", 0, []string{"Seccomp:\t2", "ls-ok", "Operation not permitted", "mkdir=1"}},
		// kill: the process calling mkdir dies with SIGSYS (the shell
		// reports 128+31) and the rest of the workload still ran.
		{"kill", "kill", 0, []string{"Seccomp:\t2", "ls-ok", "mkdir=159"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prof := filepath.Join(dir, tt.name+".yaml")
			yaml := "apiVersion: confine/v1\nname: nomkdir-" + tt.name + "\nmode: enforce\nseccomp:\n  defaultAction: " + tt.action + "\n  base: docker-default\n  deny: [mkdir, mkdirat]\n"
			if err := os.WriteFile(prof, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(filepath.Join(bin, "confinectl"), "profile", "export-docker", prof).Output()
			if err != nil {
				t.Fatalf("export-docker: %v", err)
			}
			jsonPath := filepath.Join(dir, tt.name+".json")
			if err := os.WriteFile(jsonPath, out, 0o644); err != nil {
				t.Fatal(err)
			}
			id := testbed.UniqueID("sc")
			stdout, stderr, err := cd.Ctr("run", "--rm", "--seccomp", "--seccomp-profile", jsonPath, cd.ImageRef, id, "sh", "-c", workload)
			if err != nil {
				t.Fatalf("ctr run: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
			}
			all := stdout + stderr
			for _, w := range tt.wantOut {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
		})
	}

	// A whole container dies with SIGSYS when its main process makes a
	// syscall the kill filter denies.
	t.Run("kill main process", func(t *testing.T) {
		jsonPath := filepath.Join(dir, "kill.json")
		res, err := cd.Run(t.Context(), testbed.RunOptions{Args: []string{"mkdir", "/tmp/x"}, SeccompProfile: jsonPath})
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitStatus != 128+31 {
			t.Fatalf("exit status %d, want 159 (SIGSYS); stderr %s", res.ExitStatus, res.Stderr)
		}
	})
}
