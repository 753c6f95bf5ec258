package wrapper

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/confinehq/confine/hooks"
	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/profiles"
)

// TestExecGetsTheCapabilities: a runc exec process into a container whose
// capabilities confine-runc narrowed at create gets the same narrowing
// (its process file is copied with every set cut to the container's
// list), whether or not the container has Landlock; an audited session
// is left as it came.
func TestExecGetsTheCapabilities(t *testing.T) {
	full := []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"}
	for _, tc := range []struct {
		name     string
		kept     string // AnnotationCapabilities; "-" for none
		sessions string
		want     []string // nil: the process file is passed unchanged
	}{
		{name: "narrowed", kept: "CAP_NET_BIND_SERVICE", want: []string{"CAP_NET_BIND_SERVICE"}},
		{name: "narrowed to none (empty sets, omitted in JSON: runc grants nothing)", kept: "", want: []string{}},
		{name: "audited session", kept: "CAP_NET_BIND_SERVICE", sessions: profiles.ExecSessionsAudit},
		{name: "not narrowed at create", kept: "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, config.FailClosed, false)
			var s specs.Spec
			if err := json.Unmarshal(e.orig, &s); err != nil {
				t.Fatal(err)
			}
			s.Annotations = map[string]string{}
			if tc.kept != "-" {
				s.Annotations[hooks.AnnotationCapabilities] = tc.kept
			}
			if tc.sessions != "" {
				s.Annotations[AnnotationExecSessions] = tc.sessions
			}
			b, _ := json.Marshal(s)
			runcRoot := filepath.Join(e.root, "runc-root")
			mustMkdir(t, filepath.Join(runcRoot, "c1"))
			copyDir := hooks.CopyDir(e.cfg.RunDir, runcRoot, "c1")
			mustMkdir(t, copyDir)
			writeFile(t, filepath.Join(copyDir, "config.json"), b, 0o600)
			proc := filepath.Join(t.TempDir(), "process.json")
			pb, _ := json.Marshal(map[string]any{"args": []string{"sh"}, "cwd": "/", "capabilities": map[string][]string{
				"bounding": full, "effective": full, "permitted": full}})
			writeFile(t, proc, pb, 0o600)
			argv := []string{"/usr/bin/confine-runc", "--root", runcRoot, "exec", "--process", proc, "c1"}
			if err := e.wrapper(argv).Run(context.Background()); err != nil {
				t.Fatalf("Run: %v: %s", err, e.stderr.String())
			}
			got := e.calls[0].argv
			if tc.want == nil {
				if diff := cmp.Diff(argv, got); diff != "" {
					t.Fatalf("argv changed (-want +got):\n%s", diff)
				}
				return
			}
			if got[5] != proc+".confine" {
				t.Fatalf("argv %q does not name the narrowed copy", got)
			}
			data, err := os.ReadFile(got[5])
			if err != nil {
				t.Fatal(err)
			}
			var p specs.Process
			if err := json.Unmarshal(data, &p); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"sh"}, p.Args); diff != "" {
				t.Errorf("args changed without Landlock (-want +got):\n%s", diff)
			}
			for name, set := range map[string][]string{"bounding": p.Capabilities.Bounding, "effective": p.Capabilities.Effective, "permitted": p.Capabilities.Permitted} {
				if diff := cmp.Diff(tc.want, set, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("%s (-want +got):\n%s", name, diff)
				}
			}
		})
	}
}
