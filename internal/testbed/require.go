package testbed

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// RequireRootEnv, set to 1 by `make test`, turns every skip of this package into
// a failure: in CI a missing prerequisite must never pass silently.
const RequireRootEnv = "CONFINE_REQUIRE_ROOT"

// skipRootEnv, set by `make test-unit`, skips root tests even when run as root.
const skipRootEnv = "CONFINE_SKIP_ROOT"

func strict() bool { return os.Getenv(RequireRootEnv) == "1" }

// RequiresRoot skips the test unless it runs as root. Under CONFINE_REQUIRE_ROOT=1
// (make test) not being root is a failure instead.
func RequiresRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 && os.Getenv(skipRootEnv) != "1" {
		return
	}
	if strict() {
		if os.Geteuid() == 0 {
			t.Fatalf("%s=1 and %s=1 are both set: root tests cannot run and may not be skipped (unset one; sudo make test)", RequireRootEnv, skipRootEnv)
		}
		t.Fatalf("this test needs root and %s=1 is set: run it as root (sudo make test)", RequireRootEnv)
	}
	if os.Geteuid() == 0 {
		t.Skipf("%s=1: skipping a test that needs root", skipRootEnv)
	}
	t.Skip("this test needs root (sudo make test); skipped")
}

// debianPackages names the Debian package that provides a tool.
var debianPackages = map[string]string{
	"containerd":              "containerd",
	"ctr":                     "containerd",
	"containerd-shim-runc-v2": "containerd",
	"runc":                    "runc",
	"busybox":                 "busybox-static",
	"strace":                  "strace",
	"ip":                      "iproute2",
	"pkg-config":              "pkg-config",
	"docker":                  "docker.io",
	"dockerd":                 "docker.io",
	"journalctl":              "systemd",
	"nft":                     "nftables",
	"bats":                    "bats",
	"gawk":                    "gawk",
	"jq":                      "jq",
	"script":                  "bsdutils",
	"gcc":                     "gcc",
	"criu":                    "criu",
	"xz":                      "xz-utils",
	"docker-registry":         "docker-registry",
	"mmdebstrap":              "mmdebstrap",
	"nsenter":                 "util-linux",
	"unshare":                 "util-linux",
}

// RequireTools skips the test unless every tool is found: a name with a slash
// must exist as a file, other names are looked up in PATH ("containerd" honours
// $CONFINE_CONTAINERD, "busybox" $CONFINE_BUSYBOX). Under CONFINE_REQUIRE_ROOT=1
// a missing tool is a failure naming the Debian package to install.
func RequireTools(t testing.TB, tools ...string) {
	t.Helper()
	var missing, pkgs []string
	for _, tool := range tools {
		if findTool(tool) != "" {
			continue
		}
		missing = append(missing, tool)
		if p, ok := debianPackages[toolBase(tool)]; ok {
			pkgs = append(pkgs, p)
		} else {
			pkgs = append(pkgs, "the package that provides "+tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "missing " + strings.Join(missing, ", ") + ": install Debian package " +
		strings.Join(pkgs, ", ") + " (make deps)"
	if strict() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func toolBase(tool string) string {
	if i := strings.LastIndexByte(tool, '/'); i >= 0 {
		return tool[i+1:]
	}
	return tool
}

// findTool returns the path of tool, or "" when it is missing.
// RuncPath is the runc the tests use where they name one (the real runc
// behind confine-runc): $CONFINE_RUNC (`make test-matrix` sets it), else
// "runc" from PATH (the shim finds it there too), else Debian's
// /usr/sbin/runc for a PATH without sbin.
func RuncPath() string {
	if p := os.Getenv("CONFINE_RUNC"); p != "" {
		return p
	}
	if p, err := exec.LookPath("runc"); err == nil {
		return p
	}
	return "/usr/sbin/runc"
}

func findTool(tool string) string {
	switch tool {
	case "containerd":
		tool = containerdBinary("")
	case "busybox":
		tool = BusyboxPath()
	case "runc":
		tool = RuncPath()
	}
	if strings.Contains(tool, "/") {
		if st, err := os.Stat(tool); err == nil && !st.IsDir() {
			return tool
		}
		return ""
	}
	p, err := exec.LookPath(tool)
	if err != nil {
		return ""
	}
	return p
}
