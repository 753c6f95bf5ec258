//go:build cgo

// Package syscalls answers questions about syscall names with libseccomp,
// the library runc uses to build a container's filter. It needs cgo; the
// pure-Go package seccomp carries generated tables instead (see
// seccomp.KnownSyscalls) and is what the container start path uses.
//
// A name is "known" for an architecture when libseccomp resolves it to a
// real syscall number on one of the ABIs a confine filter covers for that
// architecture: x86_64, x86 and x32 for amd64; aarch64 and arm for arm64.
// libseccomp also resolves names that exist on no covered ABI (to negative
// pseudo numbers, e.g. s390_runtime_instr on amd64); those are not known:
// a rule naming them filters nothing.
package syscalls

import (
	"fmt"
	"sort"
	"sync"

	libseccomp "github.com/seccomp/libseccomp-golang"
)

// abis lists the libseccomp architectures a filter covers per GOARCH.
var abis = map[string][]libseccomp.ScmpArch{
	"amd64": {libseccomp.ArchAMD64, libseccomp.ArchX86, libseccomp.ArchX32},
	"arm64": {libseccomp.ArchARM64, libseccomp.ArchARM},
}

// numberRanges are the syscall numbers scanned to enumerate an ABI's
// names: the ordinary table, the x32 numbers (X32_SYSCALL_BIT set) and the
// ARM private syscalls (__ARM_NR_BASE).
var numberRanges = [][2]int{{0, 4096}, {0x40000000, 0x40000000 + 4096}, {0x0f0000, 0x0f0000 + 64}}

// NativeArch returns libseccomp's name for the kernel's native
// architecture: "amd64", "arm64", "x86", ... (the GOARCH spelling for amd64
// and arm64), or "" when libseccomp cannot tell.
func NativeArch() string {
	a, err := libseccomp.GetNativeArch()
	if err != nil {
		return ""
	}
	return a.String()
}

// nativeABIs returns the ABIs a filter covers on this host.
func nativeABIs() []libseccomp.ScmpArch {
	if l, ok := abis[NativeArch()]; ok {
		return l
	}
	return []libseccomp.ScmpArch{libseccomp.ArchNative}
}

// Known reports whether libseccomp knows name as a real syscall on the
// native architecture or one of its companion ABIs (see the package
// documentation). It is what profile validation uses to reject typos.
func Known(name string) bool {
	if name == "" {
		return false
	}
	for _, a := range nativeABIs() {
		if n, err := libseccomp.GetSyscallFromNameByArch(name, a); err == nil && n >= 0 {
			return true
		}
	}
	return false
}

var (
	allOnce  sync.Once
	allNames []string
)

// All returns every syscall name Known accepts, sorted. The slice is
// shared: do not modify it.
func All() []string {
	allOnce.Do(func() {
		allNames = names(nativeABIs())
	})
	return allNames
}

// Names returns, sorted, every syscall name libseccomp knows for a GOARCH
// ("amd64" or "arm64") on the ABIs a filter covers there. It works for
// either GOARCH on any host: libseccomp resolves numbers per architecture.
// The table generator of package seccomp uses it.
func Names(goarch string) ([]string, error) {
	l, ok := abis[goarch]
	if !ok {
		return nil, fmt.Errorf("unsupported architecture %q (want amd64 or arm64)", goarch)
	}
	return names(l), nil
}

// LibraryVersion returns the version of the libseccomp in use, such as
// "2.5.4".
func LibraryVersion() string {
	major, minor, micro := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", major, minor, micro)
}

func names(arches []libseccomp.ScmpArch) []string {
	seen := map[string]bool{}
	for _, a := range arches {
		for _, r := range numberRanges {
			for n := r[0]; n < r[1]; n++ {
				name, err := libseccomp.ScmpSyscall(n).GetNameByArch(a)
				if err != nil || name == "" {
					continue
				}
				// Resolve back: keep only names that map to a real
				// number on this ABI.
				if num, err := libseccomp.GetSyscallFromNameByArch(name, a); err == nil && num >= 0 {
					seen[name] = true
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// auditArches maps AUDIT_ARCH_* values (audit records, seccomp data) to
// libseccomp architectures.
var auditArches = map[uint32]libseccomp.ScmpArch{
	0xc000003e: libseccomp.ArchAMD64,
	0x40000003: libseccomp.ArchX86,
	0xc00000b7: libseccomp.ArchARM64,
	0x40000028: libseccomp.ArchARM,
}

// NameOf returns the name of syscall nr on the architecture an audit
// record names (AUDIT_ARCH_*).
func NameOf(auditArch uint32, nr int) (string, error) {
	a, ok := auditArches[auditArch]
	if !ok {
		return "", fmt.Errorf("audit architecture %#x is not known", auditArch)
	}
	return libseccomp.ScmpSyscall(nr).GetNameByArch(a)
}
