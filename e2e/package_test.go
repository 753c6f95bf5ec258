package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

// packageVersion is what the package test builds; build.sh maps it to the
// package version 0.0.0~e2e.
const (
	packageVersion    = "0.0.0-e2e"
	packageDebVersion = "0.0.0~e2e"
	// packageMarker says that the confine package on this host was installed
	// by this test (and may be purged by the next run if a run died).
	packageMarker = "/var/tmp/confine-package-test.installed"
	// maxExposure guards the unit's hardening: systemd-analyze security
	// rates it 3.6 today (lower is better).
	maxExposure = 4.0
)

var pkgBinaries = []string{"/usr/bin/confined", "/usr/bin/confine-runc", "/usr/bin/confine-runc-full", "/usr/bin/confine-hook", "/usr/bin/confinectl"}

// TestPackage builds the .deb and .rpm with make, checks them (lintian, rpm
// queries), installs the .deb on this machine, runs the installed confined
// and confine-runc against a private containerd, wires the installed
// confine-runc into that containerd with the installed confinectl, and
// purges the package, leaving nothing behind.
func TestPackage(t *testing.T) {
	testbed.RequiresRoot(t)
	pkgRequireTools(t)
	testbed.RequireTools(t, "containerd", "ctr", "runc")
	root := pkgRepoRoot(t)
	pkgGuardInstalled(t)

	start := time.Now()
	arch := strings.TrimSpace(pkgRun(t, "", "dpkg", "--print-architecture"))
	deb := filepath.Join(root, "dist", fmt.Sprintf("confine_%s_%s.deb", packageDebVersion, arch))
	rpmArch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[arch]
	rpmFile := filepath.Join(root, "dist", fmt.Sprintf("confine_%s_%s.rpm", packageDebVersion, rpmArch))
	t.Cleanup(func() { os.Remove(deb); os.Remove(rpmFile) })

	// One make run: build once, then both packages.
	mk := exec.Command("make", "deb", "rpm", "VERSION="+packageVersion)
	mk.Dir = root
	mk.Env = pkgMakeEnv()
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make deb rpm: %v\n%s", err, out)
	}
	t.Logf("make deb rpm: %s", time.Since(start).Round(time.Second))

	// lintian takes ~20s: run it while the rest goes on.
	type lintResult struct {
		out []byte
		err error
	}
	lint := make(chan lintResult, 1)
	go func() {
		out, err := exec.Command("lintian", "--fail-on", "error", deb).CombinedOutput()
		lint <- lintResult{out, err}
	}()

	pkgCheckDeb(t, deb)
	pkgCheckRPM(t, rpmFile)

	// Install. On a host that runs systemd, the maintainer scripts would
	// start the real service: policy-rc.d (honoured by deb-systemd-invoke)
	// stops that for the test's duration.
	pkgBlockServiceStarts(t)
	if err := os.WriteFile(packageMarker, []byte(deb+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if pkgInstalled("confine") {
			if out, err := exec.Command("dpkg", "-P", "confine").CombinedOutput(); err != nil {
				t.Errorf("cleanup: dpkg -P confine: %v\n%s", err, out)
			}
		}
		os.Remove(packageMarker)
	})
	out := pkgRun(t, "", "dpkg", "-i", deb)
	if !strings.Contains(out, "confinectl setup containerd") {
		t.Errorf("postinst does not point at confinectl setup:\n%s", out)
	}
	pkgCheckFiles(t)
	pkgCheckUnit(t)

	// The installed binaries against a private containerd.
	pkgCheckRuntime(t)

	// An upgrade (reinstall) keeps a modified configuration file.
	const conf = "/etc/confine/confine.toml"
	orig, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	edited := append(append([]byte(nil), orig...), []byte("\n# edited by the operator\nrescan_interval = \"3s\"\n")...)
	if err := os.WriteFile(conf, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	pkgRun(t, "", "dpkg", "-i", deb)
	if got, _ := os.ReadFile(conf); !bytes.Equal(got, edited) {
		t.Errorf("reinstalling overwrote the edited %s:\n%s", conf, got)
	}

	// Purge: state the daemon would have written goes too.
	for _, d := range []string{"/var/lib/confine/learned", "/var/log/confine"} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile("/var/lib/confine/learned/web.yaml", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	pkgRun(t, "", "dpkg", "-P", "confine")
	if pkgInstalled("confine") {
		t.Error("confine still installed after dpkg -P")
	}
	leftovers := append(append([]string(nil), pkgBinaries...),
		"/etc/confine", "/var/lib/confine", "/var/log/confine", "/run/confine",
		"/lib/systemd/system/confined.service", "/usr/lib/systemd/catalog/confine.catalog",
		"/etc/systemd/system/multi-user.target.wants/confined.service", "/etc/systemd/system/confined.service",
		"/usr/share/doc/confine", "/usr/share/man/man8/confined.8.gz", "/usr/share/man/man5/confine.toml.5.gz",
		"/etc/logrotate.d/confine", "/usr/share/lintian/overrides/confine", "/usr/lib/confine",
		"/var/lib/systemd/deb-systemd-helper-enabled/confined.service.dsh-also",
		"/var/lib/systemd/deb-systemd-helper-masked/confined.service")
	for _, p := range leftovers {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s left after dpkg -P confine", p)
		}
	}

	lr := <-lint
	for _, l := range strings.Split(string(lr.out), "\n") {
		if strings.HasPrefix(l, "E:") {
			t.Errorf("lintian: %s", l)
		}
	}
	if lr.err != nil {
		t.Errorf("lintian --fail-on error: %v\n%s", lr.err, lr.out)
	}
	t.Logf("lintian:\n%s", lr.out)
	t.Logf("package test: %s", time.Since(start).Round(time.Second))
}

// TestPackageVersions checks how build.sh turns `git describe` into package
// versions that dpkg orders as git does.
func TestPackageVersions(t *testing.T) {
	root := pkgRepoRoot(t)
	tests := []struct{ describe, want string }{
		{"v1.2.3", "1.2.3"},
		{"v1.2.3-rc.1", "1.2.3~rc.1"},
		{"v1.2.3-4-gabcdef0", "1.2.3+4.gabcdef0"},
		{"v1.2.3-4-gabcdef0-dirty", "1.2.3+4.gabcdef0.dirty"},
		{"v1.2.3-rc.1-4-gabc1234", "1.2.3~rc.1+4.gabc1234"},
		{"abcdef0", "0.0.0+gitabcdef0"},
		{"abcdef0-dirty", "0.0.0+gitabcdef0.dirty"},
		{"0.0.0-dev", "0.0.0~dev"},
	}
	for _, tc := range tests {
		got := strings.TrimSpace(pkgRun(t, root, "bash", "packaging/build.sh", "--print-version", tc.describe))
		if got != tc.want {
			t.Errorf("%s -> %q, want %q", tc.describe, got, tc.want)
		}
	}
	if _, err := exec.LookPath("dpkg"); err != nil {
		return
	}
	// Git order: rc < rc+commits < release < release+commits.
	for _, pair := range [][2]string{{"1.2.3~rc.1", "1.2.3~rc.1+4.gabc1234"}, {"1.2.3~rc.1+4.gabc1234", "1.2.3"}, {"1.2.3", "1.2.3+4.gabcdef0"}, {"1.2.3+4.gabcdef0", "1.2.3+4.gabcdef0.dirty"}, {"0.0.0~dev", "0.0.0+gitabcdef0"}} {
		if err := exec.Command("dpkg", "--compare-versions", pair[0], "lt", pair[1]).Run(); err != nil {
			t.Errorf("dpkg does not order %s before %s", pair[0], pair[1])
		}
	}
}

// pkgRequireTools fails (CONFINE_REQUIRE_ROOT=1) or skips when a tool of
// the package test is missing, naming the Debian package.
func pkgRequireTools(t *testing.T) {
	t.Helper()
	hints := map[string]string{
		"dpkg": "dpkg", "dpkg-deb": "dpkg", "rpm": "rpm", "lintian": "lintian",
		"systemd-analyze": "systemd", "make": "make", "go": "the Go toolchain", "ar": "binutils",
	}
	var missing []string
	for _, tool := range []string{"dpkg", "dpkg-deb", "rpm", "lintian", "systemd-analyze", "make", "go", "ar"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, fmt.Sprintf("%s (%s)", tool, hints[tool]))
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "missing " + strings.Join(missing, ", ") + ": apt-get install lintian rpm (make deps installs them)"
	if os.Getenv(testbed.RequireRootEnv) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// pkgBlockServiceStarts installs a policy-rc.d that forbids service starts
// while the test runs, on hosts booted with systemd that have none.
func pkgBlockServiceStarts(t *testing.T) {
	t.Helper()
	const policy = "/usr/sbin/policy-rc.d"
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		return // no systemd: the scripts start nothing
	}
	if _, err := os.Lstat(policy); err == nil {
		t.Logf("%s exists: left as it is", policy)
		return
	}
	if err := os.WriteFile(policy, []byte("#!/bin/sh\n# written by confine's TestPackage; removed when it ends\nexit 101\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(policy) })
}

// pkgGuardInstalled refuses to touch a confine package that this test
// did not install; it purges one left by an earlier run that died.
func pkgGuardInstalled(t *testing.T) {
	t.Helper()
	if !pkgInstalled("confine") {
		return
	}
	if _, err := os.Stat(packageMarker); err != nil {
		t.Fatalf("the confine package is installed on this host and was not installed by this test: it would be replaced and purged. Remove it first (dpkg -P confine), or run the tests elsewhere")
	}
	t.Logf("purging the confine package left by an earlier run of this test")
	pkgRun(t, "", "dpkg", "-P", "confine")
}

func pkgInstalled(pkg string) bool {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", pkg).Output()
	return err == nil && strings.Contains(string(out), "ok installed")
}

func pkgRepoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..")
}

// pkgMakeEnv drops the outer make's jobserver flags (their descriptors are
// not open in this process).
func pkgMakeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MAKEFLAGS=") || strings.HasPrefix(kv, "MFLAGS=") || strings.HasPrefix(kv, "MAKELEVEL=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// pkgRun runs a command and fails the test on error; it returns stdout and
// stderr together.
func pkgRun(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// pkgCheckDeb checks the control fields and the members' compression.
func pkgCheckDeb(t *testing.T, deb string) {
	t.Helper()
	fields := map[string]string{}
	for _, f := range []string{"Package", "Version", "Depends", "Recommends", "Section", "Maintainer"} {
		fields[f] = strings.TrimSpace(pkgRun(t, "", "dpkg-deb", "-f", deb, f))
	}
	if fields["Package"] != "confine" || fields["Version"] != packageDebVersion+"-1" {
		t.Errorf("control: %v", fields)
	}
	if !regexp.MustCompile(`(^|, )runc(,|$)`).MatchString(fields["Depends"]) || !strings.Contains(fields["Depends"], "libseccomp2") {
		t.Errorf("Depends: %q, want runc and libseccomp2", fields["Depends"])
	}
	if fields["Recommends"] != "containerd" {
		t.Errorf("Recommends: %q, want containerd", fields["Recommends"])
	}
	members := strings.Fields(pkgRun(t, "", "ar", "t", deb))
	if !slices.Contains(members, "data.tar.xz") || slices.ContainsFunc(members, func(m string) bool { return strings.HasSuffix(m, ".zst") }) {
		t.Errorf("deb members %v: want xz-compressed data and no zstd (lintian rejects it)", members)
	}
}

// pkgCheckRPM checks the file list, the configuration files, the dependencies
// and that the scriptlets use rpm's counts.
func pkgCheckRPM(t *testing.T, rpmFile string) {
	t.Helper()
	files := strings.Fields(pkgRun(t, "", "rpm", "-qpl", rpmFile))
	for _, want := range append(append([]string(nil), pkgBinaries...),
		"/usr/lib/systemd/system/confined.service", "/usr/lib/systemd/catalog/confine.catalog",
		"/etc/confine/confine.toml", "/etc/confine/profiles.d", "/usr/share/doc/confine/copyright",
		"/usr/share/man/man8/confined.8.gz", "/usr/lib/confine/bin/runc") {
		if !slices.Contains(files, want) {
			t.Errorf("rpm -qpl lacks %s: %v", want, files)
		}
	}
	if slices.Contains(files, "/lib/systemd/system/confined.service") {
		t.Error("the rpm carries the Debian unit path")
	}
	conf := strings.Fields(pkgRun(t, "", "rpm", "-qpc", rpmFile))
	slices.Sort(conf)
	want := []string{"/etc/confine/confine.toml", "/etc/confine/profiles.d/example-web.yaml.sample", "/etc/logrotate.d/confine"}
	if !slices.Equal(conf, want) {
		t.Errorf("rpm -qpc: %v, want %v", conf, want)
	}
	// %config(noreplace): flag 16 in the file flags.
	dump := pkgRun(t, "", "rpm", "-qp", "--queryformat", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]", rpmFile)
	for _, f := range want {
		if !regexp.MustCompile(regexp.QuoteMeta(f) + ` \S*n`).MatchString(dump) {
			t.Errorf("%s is not %%config(noreplace) in the rpm:\n%s", f, dump)
		}
	}
	req := pkgRun(t, "", "rpm", "-qp", "--requires", rpmFile)
	if !regexp.MustCompile(`(?m)^runc$`).MatchString(req) {
		t.Errorf("rpm requires: %s", req)
	}
	if rec := pkgRun(t, "", "rpm", "-qp", "--recommends", rpmFile); strings.TrimSpace(rec) != "containerd" {
		t.Errorf("rpm recommends: %q", rec)
	}
	scripts := pkgRun(t, "", "rpm", "-qp", "--scripts", rpmFile)
	for _, want := range []string{`postinstall scriptlet`, `preuninstall scriptlet`, `postuninstall scriptlet`, `"$1" -eq 1`, `"$1" -eq 0`, `"$1" -ge 1`} {
		if !strings.Contains(scripts, want) {
			t.Errorf("rpm scriptlets lack %q:\n%s", want, scripts)
		}
	}
}

// pkgCheckFiles checks what dpkg -i put on the host.
func pkgCheckFiles(t *testing.T) {
	t.Helper()
	modes := map[string]os.FileMode{
		"/etc/confine":                                    os.ModeDir | 0o755,
		"/etc/confine/profiles.d":                         os.ModeDir | 0o755,
		"/etc/confine/confine.toml":                       0o644,
		"/etc/confine/profiles.d/example-web.yaml.sample": 0o644,
		"/etc/logrotate.d/confine":                        0o644,
		"/lib/systemd/system/confined.service":            0o644,
		"/usr/lib/systemd/catalog/confine.catalog":        0o644,
		"/usr/share/doc/confine/README.md":                0o644,
		"/usr/share/doc/confine/copyright":                0o644,
		"/usr/share/doc/confine/changelog.Debian.gz":      0o644,
		"/usr/share/man/man8/confined.8.gz":               0o644,
		"/usr/share/man/man8/confinectl.8.gz":             0o644,
		"/usr/share/man/man5/confine.toml.5.gz":           0o644,
	}
	for _, b := range pkgBinaries {
		modes[b] = 0o755
	}
	if target, err := os.Readlink("/usr/lib/confine/bin/runc"); err != nil || target != "../../../bin/confine-runc" {
		t.Errorf("/usr/lib/confine/bin/runc -> %q (%v), want ../../../bin/confine-runc", target, err)
	}
	for p, want := range modes {
		st, err := os.Lstat(p)
		if err != nil {
			t.Errorf("installed file: %v", err)
			continue
		}
		if got := st.Mode() & (os.ModeType | os.ModePerm); got != want {
			t.Errorf("%s: mode %v, want %v", p, got, want)
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && (sys.Uid != 0 || sys.Gid != 0) {
			t.Errorf("%s: owner %d:%d, want root", p, sys.Uid, sys.Gid)
		}
	}
	conffiles := pkgRun(t, "", "dpkg-query", "-W", "-f=${Conffiles}", "confine")
	for _, c := range []string{"/etc/confine/confine.toml", "/etc/confine/profiles.d/example-web.yaml.sample", "/etc/logrotate.d/confine"} {
		if !strings.Contains(conffiles, c+" ") {
			t.Errorf("%s is not a conffile: %s", c, conffiles)
		}
	}
	for _, b := range pkgBinaries {
		if b == "/usr/bin/confine-hook" || b == "/usr/bin/confine-runc" || b == "/usr/bin/confine-runc-full" {
			continue // no --version: runc's argv and the hook protocol
		}
		if out := pkgRun(t, "", b, "--version"); !strings.Contains(out, packageVersion) {
			t.Errorf("%s --version: %q, want the version %s stamped", b, out, packageVersion)
		}
	}
	// Enabled without a running systemd; never wired into containerd.
	if target, err := os.Readlink("/etc/systemd/system/multi-user.target.wants/confined.service"); err != nil || !strings.HasSuffix(target, "/confined.service") {
		t.Errorf("confined.service not enabled by postinst: %q %v", target, err)
	}
	if _, err := os.Lstat("/etc/systemd/system/containerd.service.d/90-confine.conf"); err == nil {
		t.Error("installing wired confine into containerd: the containerd.service drop-in exists")
	}
	if target, err := os.Readlink("/opt/containerd/bin/runc"); err == nil && strings.Contains(target, "confine") {
		t.Errorf("installing wired confine into containerd: /opt/containerd/bin/runc -> %s", target)
	}
}

// pkgCheckUnit verifies the installed unit and its hardening score.
func pkgCheckUnit(t *testing.T) {
	t.Helper()
	const unit = "/lib/systemd/system/confined.service"
	out, err := exec.Command("systemd-analyze", "verify", unit).CombinedOutput()
	if err != nil || strings.Contains(string(out), "confined.service:") {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
	}
	out, err = exec.Command("systemd-analyze", "security", "--offline=true", unit).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for confined\.service: ([0-9.]+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("systemd-analyze security: exposure %.1f", score)
	if score > maxExposure {
		t.Errorf("confined.service exposure %.1f > %.1f: the hardening regressed\n%s", score, maxExposure, out)
	}
}

// pkgCheckRuntime starts the installed confined on a private
// containerd, runs containers through the installed confine-runc (named per
// container, then as containerd's runc via confinectl setup), and checks the
// docker target of the installed confinectl.
func pkgCheckRuntime(t *testing.T) {
	t.Helper()
	bed := e2e.NewBed(t)
	bed.Bin, bed.Runc = "/usr/bin", "/usr/bin/confine-runc"
	bed.WriteConfig(t, "") // hook_path = /usr/bin/confine-hook
	c := bed.StartConfined(t)
	if c.Cmd.Path != "/usr/bin/confined" {
		t.Fatalf("started %s, want the installed confined", c.Cmd.Path)
	}
	ctx := context.Background()

	// runSeccomp runs a container and returns the Seccomp: line of its init
	// and whether confined saw it injected.
	runSeccomp := func(runtimeBin string) (string, bool) {
		t.Helper()
		r, err := bed.Start(ctx, testbed.RunOptions{Runtime: runtimeBin, Args: []string{"sh", "-c", "grep Seccomp: /proc/self/status; sleep 30"}})
		if err != nil {
			t.Fatalf("starting a container (runtime %q): %v", runtimeBin, err)
		}
		defer func() {
			kctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			_ = r.Kill(kctx, syscall.SIGKILL)
			_, _ = r.Wait(kctx)
			if err := r.Delete(kctx); err != nil {
				t.Errorf("deleting %s: %v", r.ID, err)
			}
		}()
		injected := false
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			cs, err := c.Client.Containers(cctx)
			cancel()
			found := false
			if err == nil {
				for _, ct := range cs {
					if ct.Namespace == bed.Namespace && ct.ID == r.ID && ct.Pid != 0 {
						found, injected = true, ct.Injected
					}
				}
			}
			if found && strings.Contains(r.Stdout(), "Seccomp:") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		return strings.TrimSpace(r.Stdout()), injected
	}

	// 1. Named per container, like ctr --runc-binary.
	if sec, inj := runSeccomp("/usr/bin/confine-runc"); !strings.HasSuffix(sec, "2") || !inj {
		t.Errorf("container through the installed confine-runc: %q, injected %v; want Seccomp 2 and injected", sec, inj)
	}

	// 2. As containerd's runc, wired by the installed confinectl.
	ctl := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("/usr/bin/confinectl", args...)
		cmd.Env = append(os.Environ(), "CONFINE_CONFIG="+bed.ConfigPath)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("confinectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	// The drop-in goes to a scratch unit directory (PID 1 is not systemd
	// here); restarting the private containerd with the PATH it sets is
	// what `systemctl restart containerd` does with it. The link in
	// /usr/lib/confine/bin is the package's.
	if out := ctl("setup", "containerd"); !strings.Contains(out, "NOT in effect") {
		t.Errorf("setup containerd before --apply does not say the wiring is not in effect:\n%s", out)
	}
	unitDir := filepath.Join(bed.Dir, "systemd")
	ctl("setup", "containerd", "--apply", "--unit-dir", unitDir)
	dropin, err := os.ReadFile(filepath.Join(unitDir, "containerd.service.d", "90-confine.conf"))
	if err != nil {
		t.Fatal(err)
	}
	_, pathLine, ok := strings.Cut(string(dropin), "Environment=\"PATH=")
	if !ok {
		t.Fatalf("drop-in sets no PATH:\n%s", dropin)
	}
	shimPath, _, _ := strings.Cut(pathLine, "\"")
	if !strings.HasPrefix(shimPath, "/usr/lib/confine/bin:") {
		t.Fatalf("drop-in PATH %q does not start with the package's runc directory", shimPath)
	}
	if err := bed.RestartWithEnv("PATH=" + shimPath); err != nil {
		t.Fatal(err)
	}
	if out := ctl("setup", "containerd"); !strings.Contains(out, "in effect: containerd (pid ") || strings.Contains(out, "NOT in effect") {
		t.Errorf("setup containerd after the restart does not say the wiring is in effect:\n%s", out)
	}
	if sec, inj := runSeccomp(""); !strings.HasSuffix(sec, "2") || !inj {
		t.Errorf("container with containerd's default runc after setup --apply: %q, injected %v; want Seccomp 2 and injected", sec, inj)
	}
	ctl("setup", "containerd", "--revert", "--unit-dir", unitDir)
	if _, err := os.Stat(unitDir); !os.IsNotExist(err) {
		t.Errorf("--revert left %s (it did not exist before --apply): %v", unitDir, err)
	}
	if err := bed.RestartWithEnv("PATH=" + os.Getenv("PATH")); err != nil {
		t.Fatal(err)
	}
	if sec, inj := runSeccomp(""); !strings.HasSuffix(sec, "0") || inj {
		t.Errorf("container after setup --revert: %q, injected %v; want the real runc (Seccomp 0, not injected)", sec, inj)
	}

	// 3. The docker target of the installed binary, on a sample file.
	dj := filepath.Join(bed.Dir, "daemon.json")
	sample := "{\n  \"log-driver\": \"journald\",\n  \"live-restore\": true\n}\n"
	if err := os.WriteFile(dj, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	ctl("setup", "docker", "--apply", "--docker-config", dj)
	var merged map[string]any
	data, _ := os.ReadFile(dj)
	if err := json.Unmarshal(data, &merged); err != nil || merged["log-driver"] != "journald" || merged["live-restore"] != true ||
		fmt.Sprint(merged["runtimes"]) != "map[confine:map[path:/usr/bin/confine-runc]]" {
		t.Errorf("daemon.json after setup docker --apply (%v):\n%s", err, data)
	}
	ctl("setup", "docker", "--revert", "--docker-config", dj)
	if data, _ := os.ReadFile(dj); string(data) != sample {
		t.Errorf("daemon.json after --revert:\n%s", data)
	}

	c.Stop(t)
}
