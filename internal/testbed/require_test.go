package testbed

import (
	"fmt"
	"strings"
	"testing"
)

// fakeTB records how a helper ended the test.
type fakeTB struct {
	testing.TB
	skipped, fatal string
}

func (f *fakeTB) Helper()                   {}
func (f *fakeTB) Skip(args ...any)          { f.skipped = fmt.Sprint(args...); panic(f) }
func (f *fakeTB) Skipf(s string, a ...any)  { f.skipped = fmt.Sprintf(s, a...); panic(f) }
func (f *fakeTB) Fatal(args ...any)         { f.fatal = fmt.Sprint(args...); panic(f) }
func (f *fakeTB) Fatalf(s string, a ...any) { f.fatal = fmt.Sprintf(s, a...); panic(f) }

func (f *fakeTB) run(fn func(testing.TB)) {
	defer func() {
		if r := recover(); r != nil && r != f {
			panic(r)
		}
	}()
	fn(f)
}

func TestRequireTools(t *testing.T) {
	tests := []struct {
		name      string
		strict    string
		tools     []string
		wantSkip  string
		wantFatal string
	}{
		{name: "present", tools: []string{"sh"}},
		{
			name:     "missing skips",
			tools:    []string{"containerd", "sh"},
			wantSkip: "missing containerd: install Debian package containerd (make deps)",
		},
		{
			name:      "missing fails under make test",
			strict:    "1",
			tools:     []string{"containerd", "/nonexistent/runc-like"},
			wantFatal: "missing containerd, /nonexistent/runc-like: install Debian package containerd, the package that provides /nonexistent/runc-like (make deps)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CONFINE_CONTAINERD", "/nonexistent/containerd")
			t.Setenv(RequireRootEnv, tt.strict)
			f := &fakeTB{TB: t}
			f.run(func(tb testing.TB) { RequireTools(tb, tt.tools...) })
			if f.skipped != tt.wantSkip || f.fatal != tt.wantFatal {
				t.Errorf("skip %q fatal %q, want %q %q", f.skipped, f.fatal, tt.wantSkip, tt.wantFatal)
			}
		})
	}
}

func TestRequiresRootSkipEnv(t *testing.T) {
	t.Setenv(skipRootEnv, "1")
	t.Setenv(RequireRootEnv, "")
	f := &fakeTB{TB: t}
	f.run(RequiresRoot)
	if f.skipped == "" || f.fatal != "" {
		t.Errorf("skip %q fatal %q, want a skip", f.skipped, f.fatal)
	}
	t.Setenv(RequireRootEnv, "1")
	f = &fakeTB{TB: t}
	f.run(RequiresRoot)
	if !strings.Contains(f.fatal, "sudo make test") {
		t.Errorf("fatal %q, want the sudo make test hint", f.fatal)
	}
}
