package seccomp

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/seccomp/golden")

const testdata = "../testdata/seccomp"

// golden compares got with testdata/seccomp/golden/name, or rewrites the
// file under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(testdata, "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test ./seccomp -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run go test ./seccomp -update and review the diff):\n%s", path, firstDiff(string(want), string(got)))
	}
}

// firstDiff shows the first differing line of two texts.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl
		}
	}
	return ""
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func specJSON(t *testing.T, f *specs.LinuxSeccomp) []byte { return specJSONTB(t, f) }

func specJSONTB(t testing.TB, f *specs.LinuxSeccomp) []byte {
	t.Helper()
	data, err := json.MarshalIndent(f, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	return append(data, '\n')
}

// checkFilter asserts what every filter of this package must satisfy to
// load on runc 1.1.5 and mean what Decide says.
func checkFilter(t testing.TB, f *specs.LinuxSeccomp) {
	t.Helper()
	if f == nil {
		return
	}
	if len(f.Flags) > 0 {
		t.Errorf("filter has flags %v: runc 1.1.5 rejects them", f.Flags)
	}
	if f.DefaultAction == specs.ActNotify {
		t.Errorf("NOTIFY as the default action: runc 1.1.5 rejects it")
	}
	if f.DefaultErrnoRet != nil && f.DefaultAction != specs.ActErrno {
		t.Errorf("defaultErrnoRet with default %s", f.DefaultAction)
	}
	hasNotify := false
	unconditional := map[string]int{}
	conditional := map[string]bool{}
	for i, r := range f.Syscalls {
		if len(r.Names) == 0 {
			t.Errorf("syscalls[%d]: no names", i)
		}
		if !sort.StringsAreSorted(r.Names) {
			t.Errorf("syscalls[%d]: names not sorted", i)
		}
		for j := 1; j < len(r.Names); j++ {
			if r.Names[j] == r.Names[j-1] {
				t.Errorf("syscalls[%d]: %s listed twice", i, r.Names[j])
			}
		}
		if r.Action == specs.ActErrno && r.ErrnoRet == nil {
			t.Errorf("syscalls[%d]: ERRNO without errnoRet", i)
		}
		if r.Action == specs.ActNotify {
			hasNotify = true
			if contains(r.Names, "write") {
				t.Errorf("syscalls[%d]: NOTIFY on write: runc 1.1.5 rejects it", i)
			}
		}
		for _, n := range r.Names {
			if !isSyscallName(n) {
				t.Errorf("syscalls[%d]: bad name %q", i, n)
			}
			if len(r.Args) > 0 {
				conditional[n] = true
				continue
			}
			if j, ok := unconditional[n]; ok {
				t.Errorf("%s in syscalls[%d] and syscalls[%d]: libseccomp refuses two rules", n, j, i)
			}
			unconditional[n] = i
		}
	}
	for n := range conditional {
		if _, ok := unconditional[n]; ok {
			t.Errorf("%s has argument rules and a rule without arguments, which overrides them", n)
		}
	}
	if hasNotify && f.ListenerPath == "" {
		t.Errorf("NOTIFY rules without a listener path: runc refuses the filter")
	}
}
