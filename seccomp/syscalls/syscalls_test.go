//go:build cgo

package syscalls

import (
	"reflect"
	"runtime"
	"sort"
	"testing"

	"github.com/confinehq/confine/seccomp"
)

func TestKnown(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("no expectations for %s", runtime.GOARCH)
	}
	tests := []struct {
		name string
		want bool
	}{
		{"read", true},
		{"clone3", true},
		{"openat", true},
		{"", false},
		{"frobnicate", false},
		{"READ", false},
		// Resolved by libseccomp to a pseudo number only: no ABI of the
		// filter has it.
		{"s390_runtime_instr", false},
		{"riscv_flush_icache", false},
		// 32-bit ABI of the family.
		{"chown32", true},
	}
	for _, tc := range tests {
		if got := Known(tc.name); got != tc.want {
			t.Errorf("Known(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
	if runtime.GOARCH == "amd64" && !Known("socketcall") {
		t.Error("socketcall (x86) unknown on amd64")
	}
}

func TestNativeArchAndAll(t *testing.T) {
	if got := NativeArch(); (runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64") && got != runtime.GOARCH {
		t.Errorf("NativeArch() = %q, want %q", got, runtime.GOARCH)
	}
	all := All()
	if len(all) < 300 || !sort.StringsAreSorted(all) {
		t.Fatalf("All(): %d names, sorted %v", len(all), sort.StringsAreSorted(all))
	}
	for _, n := range all {
		if !Known(n) {
			t.Errorf("All() lists %q, which Known rejects", n)
		}
	}
}

// TestTablesCurrent checks the generated tables of package seccomp against
// the libseccomp linked here: run `go generate ./seccomp` when it fails.
func TestTablesCurrent(t *testing.T) {
	if v := LibraryVersion(); v != seccomp.TableLibseccompVersion {
		t.Skipf("libseccomp %s here, tables from %s", v, seccomp.TableLibseccompVersion)
	}
	for _, goarch := range []string{"amd64", "arm64"} {
		got, err := Names(goarch)
		if err != nil {
			t.Fatal(err)
		}
		if want := seccomp.KnownSyscalls(goarch); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: libseccomp knows %d names, the table %d: run go generate ./seccomp", goarch, len(got), len(want))
		}
	}
	if _, err := Names("mips"); err == nil {
		t.Error("Names(mips) did not fail")
	}
}
