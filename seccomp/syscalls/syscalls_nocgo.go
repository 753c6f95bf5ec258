//go:build !cgo

package syscalls

import (
	"fmt"
	"runtime"
	"sort"

	"github.com/confinehq/confine/seccomp"
)

// Without cgo there is no libseccomp: the answers come from the tables
// generated into package seccomp (libseccomp 2.5.4 at generation time).

// NativeArch returns runtime.GOARCH.
func NativeArch() string { return runtime.GOARCH }

// Known reports whether name is in the generated table for runtime.GOARCH.
func Known(name string) bool {
	l := seccomp.KnownSyscalls(runtime.GOARCH)
	i := sort.SearchStrings(l, name)
	return i < len(l) && l[i] == name
}

// All returns the generated table for runtime.GOARCH.
func All() []string { return seccomp.KnownSyscalls(runtime.GOARCH) }

// Names returns the generated table for goarch.
func Names(goarch string) ([]string, error) {
	l := seccomp.KnownSyscalls(goarch)
	if l == nil {
		return nil, fmt.Errorf("unsupported architecture %q (want amd64 or arm64)", goarch)
	}
	return l, nil
}

// LibraryVersion returns "" : libseccomp is not linked in.
func LibraryVersion() string { return "" }

// NameOf needs libseccomp's number tables: without cgo it fails.
func NameOf(auditArch uint32, nr int) (string, error) {
	return "", fmt.Errorf("syscall %d: naming syscalls needs libseccomp (built without cgo)", nr)
}
