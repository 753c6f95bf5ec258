package hooks

import (
	"testing"

	"github.com/confinehq/confine/internal/landlock"
	"github.com/confinehq/confine/profiles"
	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestLandlockModifier(t *testing.T) {
	rs := &landlock.Ruleset{RestrictExec: true, Execute: []string{"/bin/busybox"}}
	enc := rs.Encode()
	tests := []struct {
		name       string
		mod        Landlock
		in         *specs.Spec
		wantArgs   []string
		wantMounts int
		wantErr    bool
	}{
		{name: "nil ruleset changes nothing", mod: Landlock{InitPath: "/usr/bin/confine-init"},
			in: &specs.Spec{Process: &specs.Process{Args: []string{"sh"}}}, wantArgs: []string{"sh"}},
		{name: "prepends init and mounts it", mod: Landlock{InitPath: "/usr/bin/confine-init", Ruleset: rs},
			in:       &specs.Spec{Process: &specs.Process{Args: []string{"sh", "-c", "x"}}},
			wantArgs: []string{landlock.InitPath, enc, "--", "sh", "-c", "x"}, wantMounts: 1},
		{name: "second pass adds nothing", mod: Landlock{InitPath: "/usr/bin/confine-init", Ruleset: rs},
			in:       &specs.Spec{Process: &specs.Process{Args: []string{landlock.InitPath, enc, "--", "sh"}}},
			wantArgs: []string{landlock.InitPath, enc, "--", "sh"}},
		{name: "relative init path", mod: Landlock{InitPath: "confine-init", Ruleset: rs},
			in: &specs.Spec{Process: &specs.Process{Args: []string{"sh"}}}, wantErr: true},
		{name: "no process", mod: Landlock{InitPath: "/x", Ruleset: rs}, in: &specs.Spec{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.mod.Modify(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if diff := cmp.Diff(tt.wantArgs, tt.in.Process.Args); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
			if len(tt.in.Mounts) != tt.wantMounts {
				t.Fatalf("mounts = %v", tt.in.Mounts)
			}
			if tt.wantMounts == 1 {
				if diff := cmp.Diff(InitMount(tt.mod.InitPath), tt.in.Mounts[0]); diff != "" {
					t.Errorf("mount (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestInjectionLandlockOnlyInEnforce(t *testing.T) {
	for _, mode := range []profiles.Mode{profiles.ModeLearn, profiles.ModeMonitor, profiles.ModeEnforce} {
		p := &profiles.Profile{Name: "p", Mode: mode, Files: profiles.Files{Write: profiles.List{"/tmp/**"}}}
		ms, err := Injection{Profile: p, InitPath: "/usr/bin/confine-init"}.Modifiers()
		if err != nil {
			t.Fatal(err)
		}
		s := &specs.Spec{Process: &specs.Process{Args: []string{"sh"}}}
		if err := ms.Modify(s); err != nil {
			t.Fatal(err)
		}
		_, injected := landlock.Injected(s.Process.Args)
		if injected != (mode == profiles.ModeEnforce) {
			t.Errorf("mode %s: confine-init injected = %v", mode, injected)
		}
	}
}
