package runctest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/profiles"
	"github.com/confinehq/confine/seccomp"
)

// TestExportedProfilesContainerd runs containers on a private containerd
// with filters exported as Docker seccomp JSON and loaded the way
// `ctr run --seccomp --seccomp-profile FILE` loads them. containerd's
// default spec sets no_new_privileges, so a profile forcing it needs only
// the late runtime floor; it also hands runc's init more file descriptors
// than a bare `runc run`.
func TestExportedProfilesContainerd(t *testing.T) {
	c := testbed.Start(t)
	workload := append([]string{"execve", "exit_group", "write"}, busyboxSyscalls...)
	moby, err := os.ReadFile("../../../testdata/seccomp/moby-default.json")
	if err != nil {
		t.Fatal(err)
	}
	imported, _, err := seccomp.ImportDocker(moby, "moby-default.json", "moby", seccomp.HostArch())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		profile *profiles.Profile
		args    []string
		want    string
	}{
		{"late floor only, errno", &profiles.Profile{Name: "a", Seccomp: profiles.Seccomp{Allow: profiles.List(workload)},
			Privileges: profiles.Privileges{NoNewPrivileges: profiles.Bool(true)}}, []string{"echo", "ok"}, "ok"},
		{"late floor only, kill", &profiles.Profile{Name: "b", Seccomp: profiles.Seccomp{DefaultAction: profiles.ActionKill, Allow: profiles.List(workload)},
			Privileges: profiles.Privileges{NoNewPrivileges: profiles.Bool(true)}}, []string{"echo", "ok"}, "ok"},
		{"imported moby default", imported, []string{"sh", "-c", "echo ok; cat /etc/hostname >/dev/null"}, "ok"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := seccomp.ExportDocker(tc.profile, seccomp.HostArch())
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "seccomp.json")
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := c.Run(context.Background(), testbed.RunOptions{Args: tc.args, SeccompProfile: file})
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitStatus != 0 || !strings.Contains(res.Stdout, tc.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q", res.ExitStatus, res.Stdout, res.Stderr)
			}
		})
	}
}
