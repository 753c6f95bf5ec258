package systemdhost

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/confinehq/confine/internal/testbed"
)

// TestRPMScriptlets installs, upgrades and erases the .rpm with this
// machine's rpm into a scratch root (the Debian root of TestSystemdHost,
// not booted: no RPM distribution can be fetched here), so that the
// scriptlets really run, chrooted, with rpm's instance counts. What this
// does not prove: dependency resolution on an RPM distribution, and the
// branches taken under a running systemd (daemon-reload, start,
// try-restart, stop); TestSystemdHost proves those for the .deb.
func TestRPMScriptlets(t *testing.T) {
	testbed.RequiresRoot(t)
	testbed.RequireTools(t, "mmdebstrap", "rpm", "tar")
	if testing.Short() {
		t.Skip("-short")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	tarball := RootTarball(t)
	rpmFile := buildPackage(t, repo, "rpm", newVersion)

	root, err := os.MkdirTemp("/var/tmp", "confine-rpm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if out, err := exec.Command("tar", "-C", root, "-xf", tarball).CombinedOutput(); err != nil {
		t.Fatalf("extracting the root: %v\n%s", err, out)
	}
	rpm := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("rpm", append([]string{"--root", root}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("rpm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	in := func(script string) (string, error) {
		out, err := exec.Command("chroot", root, "/bin/sh", "-c", script).CombinedOutput()
		return string(out), err
	}
	exists := func(p string) bool { _, err := os.Lstat(filepath.Join(root, p)); return err == nil }

	rpm("--initdb")
	// --nodeps: the Debian root's packages are not in rpm's database.
	out := rpm("-i", "--nodeps", rpmFile)
	if !strings.Contains(out, "confine: confined is enabled") {
		t.Errorf("%%post of an install said:\n%s", out)
	}
	for _, p := range []string{"/usr/bin/confined", "/usr/lib/systemd/system/confined.service", "/etc/confine/confine.toml", "/usr/lib/confine/bin/runc"} {
		if !exists(p) {
			t.Errorf("%s not installed", p)
		}
	}
	if !exists("/etc/systemd/system/multi-user.target.wants/confined.service") {
		t.Error("the post-install scriptlet did not enable confined.service (offline systemctl enable)")
	}
	if out, err := in("journalctl --list-catalog 9023a702035a4939b818549588f8be1c"); err != nil || !strings.Contains(out, "confine") {
		t.Errorf("%%post did not update the journal catalog: %v\n%s", err, out)
	}

	// Upgrade (the same build again: rpm runs the upgrade scriptlets with
	// two instances): the operator's configuration stays.
	if out, err := in("echo '# kept' >> /etc/confine/confine.toml && mkdir -p /var/lib/confine/learned && echo learned > /var/lib/confine/learned/x.yaml"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	conf, _ := os.ReadFile(filepath.Join(root, "etc/confine/confine.toml"))
	out = rpm("-U", "--nodeps", "--replacepkgs", rpmFile)
	if strings.Contains(out, "confined is enabled") {
		t.Errorf("%%post of an upgrade took the install branch:\n%s", out)
	}
	if v := rpm("-q", "--qf", "%{VERSION}\n", "confine"); v != newVersion+"\n" {
		t.Errorf("installed after the upgrade: %q, want one confine %s", v, newVersion)
	}
	if after, _ := os.ReadFile(filepath.Join(root, "etc/confine/confine.toml")); string(after) != string(conf) {
		t.Errorf("upgrade changed confine.toml:\n%s", after)
	}
	if !exists("/etc/systemd/system/multi-user.target.wants/confined.service") {
		t.Error("the upgrade disabled confined.service")
	}

	// Erase with the containerd wiring applied: %preun takes it back.
	if out, err := in("confinectl setup containerd --apply"); err != nil {
		t.Fatalf("confinectl setup containerd --apply in the scratch root: %v\n%s", err, out)
	}
	if !exists("/etc/systemd/system/containerd.service.d/90-confine.conf") {
		t.Fatal("setup containerd --apply wrote no drop-in")
	}
	out = rpm("-e", "confine")
	t.Logf("rpm -e:\n%s", out)
	for _, p := range []string{"/usr/bin/confined", "/usr/lib/confine", "/etc/systemd/system/containerd.service.d",
		"/etc/systemd/system/multi-user.target.wants/confined.service", "/usr/lib/systemd/system/confined.service"} {
		if exists(p) {
			t.Errorf("%s left after rpm -e", p)
		}
	}
	// rpm has no purge: the modified configuration is saved, learned state
	// kept (the README says so).
	if !exists("/etc/confine/confine.toml.rpmsave") || !exists("/var/lib/confine/learned/x.yaml") {
		t.Errorf("rpm -e: want confine.toml.rpmsave and the learned state kept")
	}
}

// buildPackage builds dist/confine_<version>_<arch>.<format> from bin/.
func buildPackage(t *testing.T, repo, format, version string) string {
	t.Helper()
	cmd := exec.Command("bash", "packaging/build.sh", format, version)
	cmd.Dir = repo
	// gzip: xz takes minutes for 40 MB of binaries on a loaded machine.
	cmd.Env = append(os.Environ(), "CONFINE_PKG_COMPRESSION=gzip")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("building the .%s %s (make build first): %v\n%s", format, version, err, out)
	}
	m := regexp.MustCompile(`built (dist/\S+\.` + format + `)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("build.sh did not name the package:\n%s", out)
	}
	p := filepath.Join(repo, string(m[1]))
	t.Cleanup(func() { os.Remove(p) })
	return p
}
