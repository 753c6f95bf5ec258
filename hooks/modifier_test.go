package hooks

import (
	"errors"
	"testing"

	"github.com/confinehq/confine/profiles"
	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func intp(i int) *int    { return &i }
func uintp(u uint) *uint { return &u }

func TestModifiers(t *testing.T) {
	var order []string
	rec := func(name string, err error) Modifier {
		return ModifierFunc(func(*specs.Spec) error { order = append(order, name); return err })
	}
	boom := errors.New("boom")
	tests := []struct {
		name      string
		ms        Modifiers
		wantOrder []string
		wantErr   error
	}{
		{name: "empty", ms: nil, wantOrder: nil},
		{name: "in order, nil skipped", ms: Modifiers{rec("a", nil), nil, rec("b", nil)}, wantOrder: []string{"a", "b"}},
		{name: "stops at the first error", ms: Modifiers{rec("a", nil), rec("b", boom), rec("c", nil)}, wantOrder: []string{"a", "b"}, wantErr: boom},
		{name: "nested lists", ms: Modifiers{Modifiers{rec("a", nil), nil}, rec("b", nil)}, wantOrder: []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			order = nil
			err := tt.ms.Modify(&specs.Spec{})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantOrder, order); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
		})
	}
}

var dockerLikeFilter = &specs.LinuxSeccomp{
	DefaultAction:   specs.ActErrno,
	DefaultErrnoRet: uintp(1),
	Syscalls:        []specs.LinuxSyscall{{Names: []string{"read", "mkdir"}, Action: specs.ActAllow}},
}

var profileFilter = &specs.LinuxSeccomp{
	DefaultAction: specs.ActAllow,
	Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(1)}},
}

func TestSeccompModifier(t *testing.T) {
	tests := []struct {
		name string
		mod  Seccomp
		in   specs.Spec
		want specs.Spec
	}{
		{
			name: "no linux section",
			mod:  Seccomp{Filter: profileFilter},
			in:   specs.Spec{},
			want: specs.Spec{Linux: &specs.Linux{Seccomp: profileFilter}},
		},
		{
			name: "existing filter (Docker's default) is replaced",
			mod:  Seccomp{Filter: profileFilter},
			in:   specs.Spec{Linux: &specs.Linux{Seccomp: dockerLikeFilter, MaskedPaths: []string{"/proc/kcore"}}},
			want: specs.Spec{Linux: &specs.Linux{Seccomp: profileFilter, MaskedPaths: []string{"/proc/kcore"}}},
		},
		{
			name: "profile without seccomp keeps the existing filter",
			mod:  Seccomp{},
			in:   specs.Spec{Linux: &specs.Linux{Seccomp: dockerLikeFilter}},
			want: specs.Spec{Linux: &specs.Linux{Seccomp: dockerLikeFilter}},
		},
		{
			name: "profile without seccomp, spec without filter",
			mod:  Seccomp{},
			in:   specs.Spec{},
			want: specs.Spec{},
		},
		{
			name: "listener path is set on a copy",
			mod:  Seccomp{Filter: profileFilter, ListenerPath: "/run/confine/seccomp.sock"},
			in:   specs.Spec{Linux: &specs.Linux{}},
			want: specs.Spec{Linux: &specs.Linux{Seccomp: &specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow, ListenerPath: "/run/confine/seccomp.sock", Syscalls: profileFilter.Syscalls,
			}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.mod.Modify(&tt.in); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, tt.in); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
			if profileFilter.ListenerPath != "" {
				t.Fatal("the modifier changed the shared filter")
			}
		})
	}
}

func TestHooksModifier(t *testing.T) {
	const hook = "/usr/bin/confine-hook"
	env := []string{"CONFINE_CONFIG=/etc/confine/confine.toml"}
	ours := func(stage string) specs.Hook {
		return specs.Hook{Path: hook, Args: []string{"confine-hook", stage}, Env: env, Timeout: intp(DefaultHookTimeout)}
	}
	other := specs.Hook{Path: "/usr/bin/nvidia-container-runtime-hook", Args: []string{"nvidia-container-runtime-hook", "prestart"}}
	tests := []struct {
		name    string
		mod     Hooks
		in      specs.Spec
		passes  int
		want    specs.Spec
		wantErr bool
	}{
		{
			name: "no hooks before", mod: Hooks{Path: hook, Env: env}, passes: 1,
			want: specs.Spec{Hooks: &specs.Hooks{
				CreateRuntime: []specs.Hook{ours("createRuntime")},
				Poststop:      []specs.Hook{ours("poststop")},
			}},
		},
		{
			name: "existing hooks kept, ours after", mod: Hooks{Path: hook, Env: env}, passes: 1,
			in: specs.Spec{Hooks: &specs.Hooks{Prestart: []specs.Hook{other}, CreateRuntime: []specs.Hook{other}, Poststop: []specs.Hook{other}}},
			want: specs.Spec{Hooks: &specs.Hooks{
				Prestart:      []specs.Hook{other},
				CreateRuntime: []specs.Hook{other, ours("createRuntime")},
				Poststop:      []specs.Hook{other, ours("poststop")},
			}},
		},
		{
			name: "idempotent: a second pass adds nothing", mod: Hooks{Path: hook, Env: env}, passes: 2,
			want: specs.Spec{Hooks: &specs.Hooks{
				CreateRuntime: []specs.Hook{ours("createRuntime")},
				Poststop:      []specs.Hook{ours("poststop")},
			}},
		},
		{
			name: "custom timeout", mod: Hooks{Path: hook, Timeout: 3}, passes: 1,
			want: specs.Spec{Hooks: &specs.Hooks{
				CreateRuntime: []specs.Hook{{Path: hook, Args: []string{"confine-hook", "createRuntime"}, Timeout: intp(3)}},
				Poststop:      []specs.Hook{{Path: hook, Args: []string{"confine-hook", "poststop"}, Timeout: intp(3)}},
			}},
		},
		{name: "relative hook path", mod: Hooks{Path: "confine-hook"}, passes: 1, wantErr: true},
		{name: "no hook path", mod: Hooks{}, passes: 1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			for range tt.passes {
				if err = tt.mod.Modify(&tt.in); err != nil {
					break
				}
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if diff := cmp.Diff(tt.want, tt.in); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNoNewPrivilegesModifier(t *testing.T) {
	tests := []struct {
		name    string
		in      specs.Spec
		want    specs.Spec
		wantErr bool
	}{
		{name: "turned on", in: specs.Spec{Process: &specs.Process{Args: []string{"sh"}}}, want: specs.Spec{Process: &specs.Process{Args: []string{"sh"}, NoNewPrivileges: true}}},
		{name: "already on", in: specs.Spec{Process: &specs.Process{NoNewPrivileges: true}}, want: specs.Spec{Process: &specs.Process{NoNewPrivileges: true}}},
		{name: "no process section", in: specs.Spec{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NoNewPrivileges{}.Modify(&tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr {
				if diff := cmp.Diff(tt.want, tt.in); diff != "" {
					t.Errorf("spec (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestFileHardeningModifier(t *testing.T) {
	containerdMasked := []string{"/proc/acpi", "/proc/kcore"}
	containerdRO := []string{"/proc/bus", "/proc/sys"}
	tests := []struct {
		name string
		mod  FileHardening
		in   specs.Spec
		want specs.Spec
	}{
		{
			name: "literal paths added after the existing ones",
			mod:  FileHardening{Deny: []string{"/etc/shadow", "/run/secrets/**"}, ReadOnly: []string{"/etc/passwd", "/etc/**"}},
			in:   specs.Spec{Linux: &specs.Linux{MaskedPaths: containerdMasked, ReadonlyPaths: containerdRO}},
			want: specs.Spec{Linux: &specs.Linux{
				MaskedPaths:   []string{"/proc/acpi", "/proc/kcore", "/etc/shadow"},
				ReadonlyPaths: []string{"/proc/bus", "/proc/sys", "/etc/passwd"},
			}},
		},
		{
			name: "dedup against the spec and within the profile, paths cleaned",
			mod:  FileHardening{Deny: []string{"/proc/kcore", "/etc/shadow", "/etc//shadow", "/etc/./shadow/"}, ReadOnly: []string{"/proc/sys"}},
			in:   specs.Spec{Linux: &specs.Linux{MaskedPaths: containerdMasked, ReadonlyPaths: containerdRO}},
			want: specs.Spec{Linux: &specs.Linux{
				MaskedPaths:   []string{"/proc/acpi", "/proc/kcore", "/etc/shadow"},
				ReadonlyPaths: []string{"/proc/bus", "/proc/sys"},
			}},
		},
		{
			name: "globs, relative paths and / are left to the monitor",
			mod:  FileHardening{Deny: []string{"/etc/*.key", "/data/[ab]", "/x?", "relative", "/"}, ReadOnly: []string{"/**"}},
			in:   specs.Spec{},
			want: specs.Spec{},
		},
		{
			name: "no linux section",
			mod:  FileHardening{Deny: []string{"/etc/shadow"}},
			in:   specs.Spec{},
			want: specs.Spec{Linux: &specs.Linux{MaskedPaths: []string{"/etc/shadow"}}},
		},
		{
			name: "second pass adds nothing",
			mod:  FileHardening{Deny: []string{"/etc/shadow"}},
			in:   specs.Spec{Linux: &specs.Linux{MaskedPaths: []string{"/etc/shadow"}}},
			want: specs.Spec{Linux: &specs.Linux{MaskedPaths: []string{"/etc/shadow"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.mod.Modify(&tt.in); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, tt.in); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAnnotationsModifier(t *testing.T) {
	tests := []struct {
		name string
		mod  Annotations
		in   specs.Spec
		want specs.Spec
	}{
		{
			name: "added to none",
			mod:  Annotations{AnnotationProfile: "web", AnnotationMode: "enforce", AnnotationDigest: "sha256:ab"},
			want: specs.Spec{Annotations: map[string]string{"confine.profile": "web", "confine.mode": "enforce", "confine.digest": "sha256:ab"}},
		},
		{
			name: "existing kept, ours overwrite",
			mod:  Annotations{AnnotationProfile: "web", AnnotationMode: "monitor"},
			in:   specs.Spec{Annotations: map[string]string{"io.example/owner": "a", "confine.profile": "web", "confine.mode": "enforce"}},
			want: specs.Spec{Annotations: map[string]string{"io.example/owner": "a", "confine.profile": "web", "confine.mode": "monitor"}},
		},
		{name: "nothing to add", mod: nil, in: specs.Spec{}, want: specs.Spec{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.mod.Modify(&tt.in); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, tt.in); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInjectionModifiers(t *testing.T) {
	base := func(mode profiles.Mode) *profiles.Profile {
		return &profiles.Profile{
			APIVersion: profiles.APIVersion, Name: "web", Mode: mode,
			Files:      profiles.Files{Deny: profiles.List{"/etc/shadow"}, ReadOnly: profiles.List{"/etc/hosts"}},
			Privileges: profiles.Privileges{NoNewPrivileges: profiles.Bool(true)},
		}
	}
	start := func() specs.Spec {
		return specs.Spec{Process: &specs.Process{Args: []string{"sh"}}, Linux: &specs.Linux{Seccomp: dockerLikeFilter}}
	}
	hooksFor := func() *specs.Hooks {
		s := specs.Spec{}
		_ = Hooks{Path: "/bin/confine-hook"}.Modify(&s)
		return s.Hooks
	}
	tests := []struct {
		name    string
		in      Injection
		want    specs.Spec
		wantErr bool
	}{
		{
			name: "enforce: everything",
			in:   Injection{Profile: base(profiles.ModeEnforce), Digest: "sha256:d", Seccomp: profileFilter, HookPath: "/bin/confine-hook"},
			want: specs.Spec{
				Process:     &specs.Process{Args: []string{"sh"}, NoNewPrivileges: true},
				Linux:       &specs.Linux{Seccomp: profileFilter, MaskedPaths: []string{"/etc/shadow"}, ReadonlyPaths: []string{"/etc/hosts"}},
				Hooks:       hooksFor(),
				Annotations: map[string]string{"confine.profile": "web", "confine.mode": "enforce", "confine.digest": "sha256:d"},
			},
		},
		{
			name: "monitor: no denials beyond the generated filter",
			in:   Injection{Profile: base(profiles.ModeMonitor), Digest: "sha256:d", HookPath: "/bin/confine-hook"},
			want: specs.Spec{
				Process:     &specs.Process{Args: []string{"sh"}},
				Linux:       &specs.Linux{Seccomp: dockerLikeFilter},
				Hooks:       hooksFor(),
				Annotations: map[string]string{"confine.profile": "web", "confine.mode": "monitor", "confine.digest": "sha256:d"},
			},
		},
		{
			name: "learn without hooks (fail-open without confine-hook)",
			in:   Injection{Profile: base(profiles.ModeLearn)},
			want: specs.Spec{
				Process:     &specs.Process{Args: []string{"sh"}},
				Linux:       &specs.Linux{Seccomp: dockerLikeFilter},
				Annotations: map[string]string{"confine.profile": "web", "confine.mode": "learn"},
			},
		},
		{name: "no profile", in: Injection{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := tt.in.Modifiers()
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			s := start()
			if err := ms.Modify(&s); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, s); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
		})
	}
}
