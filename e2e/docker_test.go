package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/confinehq/confine/hooks"
	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Docker on confine, end to end: Debian's dockerd (20.10) against the bed's
// private containerd, `docker run --runtime confine` through confine-runc,
// confined resolving Docker's labels and image name (which dockerd does not
// give containerd) from the Engine API or config.v2.json.

const dockerImage = "localhost/busybox:confine"

// dockerNamespace is the containerd namespace dockerd uses.
const dockerNamespace = "moby"

// dockerd is a private Docker engine: its own data root, exec root, socket
// and pid file in Dir, on the bed's containerd. Nothing of the host's
// Docker (/etc/docker, /var/lib/docker, /run/docker.sock) is used.
type dockerd struct {
	Dir      string
	DataRoot string
	ExecRoot string
	Socket   string
	LogPath  string
	cli      string
	cfgDir   string
	cmd      *exec.Cmd
	exited   chan struct{}
}

// startDockerd starts dockerd on bed's containerd with the runtime
// "confine" = confine-runc, imports the busybox rootfs as dockerImage, and
// stops everything (containers, dockerd by its PID, mounts, directories)
// when the test ends.
func startDockerd(t *testing.T, bed *e2e.Bed) *dockerd {
	t.Helper()
	testbed.RequireTools(t, "dockerd", "docker")
	dir, err := os.MkdirTemp("/tmp", "cfd-") // short: sockets live in it
	if err != nil {
		t.Fatal(err)
	}
	d := &dockerd{
		Dir: dir, DataRoot: filepath.Join(dir, "root"), ExecRoot: filepath.Join(dir, "exec"),
		Socket: filepath.Join(dir, "d.sock"), LogPath: filepath.Join(dir, "dockerd.log"),
		cfgDir: filepath.Join(dir, "cli"), exited: make(chan struct{}),
	}
	// Debian's client first: another docker in PATH may be of another age.
	d.cli = "/usr/bin/docker"
	if _, err := os.Stat(d.cli); err != nil {
		d.cli = "docker"
	}
	t.Cleanup(func() { d.stop(t) })

	logf, err := os.Create(d.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command("dockerd",
		"--data-root", d.DataRoot, "--exec-root", d.ExecRoot,
		"-H", "unix://"+d.Socket, "--pidfile", filepath.Join(dir, "d.pid"),
		"--iptables=false", "--ip6tables=false", "--bridge=none",
		"--containerd", bed.Address, "--containerd-namespace", dockerNamespace,
		"--add-runtime", "confine="+bed.Runc)
	// confine-runc is started by containerd's shim and inherits the bed
	// containerd's environment (which names the test's config), not
	// dockerd's; CONFINE_CONFIG here only keeps dockerd's view consistent.
	d.cmd.Env = append(os.Environ(), "CONFINE_CONFIG="+bed.ConfigPath)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	go func() {
		// The parent-death signal belongs to the thread that forked.
		runtime.LockOSThread()
		err := d.cmd.Start()
		logf.Close()
		started <- err
		if err == nil {
			_ = d.cmd.Wait()
		}
		close(d.exited)
	}()
	if err := <-started; err != nil {
		t.Fatalf("starting dockerd: %v", err)
	}
	d.waitReady(t, 60*time.Second)

	// The image: the testbed's busybox rootfs, `docker import`ed.
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(testbed.WriteRootfs(pw, testbed.BusyboxPath())) }()
	if _, err := d.runStdin(pr, "import", "-", dockerImage); err != nil {
		t.Fatalf("docker import: %v", err)
	}
	return d
}

func (d *dockerd) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	cl := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var nd net.Dialer
			return nd.DialContext(ctx, "unix", d.Socket)
		},
	}}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := cl.Get("http://docker/_ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-d.exited:
			t.Fatalf("dockerd exited during start-up:\n%s", d.logTail(40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd did not answer on %s within %s: %v\n%s", d.Socket, timeout, err, d.logTail(40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// run runs the docker client against this engine (bounded).
func (d *dockerd) run(args ...string) (string, error) { return d.runStdin(nil, args...) }

func (d *dockerd) runStdin(stdin io.Reader, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.cli, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+d.Socket, "DOCKER_CONFIG="+d.cfgDir)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("docker %s: %v: %s%s", strings.Join(args, " "), err, errb.String(), out.String())
	}
	return strings.TrimSpace(out.String()), nil
}

// must is run that fails the test on error.
func (d *dockerd) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := d.run(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runDetached starts a container through confine-runc and returns its ID.
func (d *dockerd) runDetached(t *testing.T, labels map[string]string, cmd ...string) (id, name string) {
	t.Helper()
	name = testbed.UniqueID("dk")
	args := []string{"run", "-d", "--name", name, "--network", "none", "--runtime", "confine"}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		args = append(args, "--label", k+"="+labels[k])
	}
	args = append(append(args, dockerImage), cmd...)
	id = d.must(t, args...)
	if len(id) != 64 {
		t.Fatalf("docker run printed %q, want a container ID", id)
	}
	return id, name
}

// inspect returns `docker inspect` of a container.
func (d *dockerd) inspect(t *testing.T, id string) dockerInspect {
	t.Helper()
	var out []dockerInspect
	if err := json.Unmarshal([]byte(d.must(t, "inspect", id)), &out); err != nil || len(out) != 1 {
		t.Fatalf("docker inspect %s: %v %v", id, out, err)
	}
	return out[0]
}

type dockerInspect struct {
	ID    string `json:"Id"`
	Name  string
	State struct {
		Status    string
		Running   bool
		OOMKilled bool
		ExitCode  int
		Error     string
	}
	Config struct {
		Image  string
		Labels map[string]string
	}
	HostConfig struct {
		Runtime     string
		SecurityOpt []string
	}
}

// waitExit waits (bounded) for a container to stop and returns its exit code.
func (d *dockerd) waitExit(t *testing.T, id string, timeout time.Duration) (int, bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		in := d.inspect(t, id)
		if !in.State.Running && in.State.Status == "exited" {
			return in.State.ExitCode, true
		}
		if time.Now().After(deadline) {
			return 0, false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dockerBundleSpec reads the OCI spec runc read for the container:
// confine-runc's private copy under run_dir of the bundle
// <containerd state>/io.containerd.runtime.v2.task/moby/<id>.
func dockerBundleSpec(t *testing.T, bed *e2e.Bed, id string) dockerOCISpec {
	t.Helper()
	path, _ := hooks.FindCopy(bed.RunDir, filepath.Join(bed.State, "io.containerd.runtime.v2.task", dockerNamespace, id), id)
	if path == "" {
		t.Fatalf("no private copy of container %s's spec under %s", id, bed.RunDir)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the bundle's spec: %v", err)
	}
	var s dockerOCISpec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

type dockerOCIHook struct {
	Path string   `json:"path"`
	Args []string `json:"args"`
}

type dockerOCISpec struct {
	Annotations map[string]string          `json:"annotations"`
	Hooks       map[string][]dockerOCIHook `json:"hooks"`
	Linux       struct {
		Seccomp *struct {
			DefaultAction string            `json:"defaultAction"`
			Syscalls      []json.RawMessage `json:"syscalls"`
		} `json:"seccomp"`
	} `json:"linux"`
}

func (s dockerOCISpec) hookPaths(stage string) []string {
	var p []string
	for _, h := range s.Hooks[stage] {
		p = append(p, h.Path)
	}
	return p
}

func (d *dockerd) logTail(n int) string {
	data, _ := os.ReadFile(d.LogPath)
	return dockerTail(string(data), n)
}

// stop removes every container, stops dockerd by its PID (SIGTERM, SIGKILL
// after 15 s), detaches what is still mounted under Dir, removes the empty
// cgroup parent dockerd made and Dir.
func (d *dockerd) stop(t *testing.T) {
	if t.Failed() {
		t.Logf("dockerd log %s (tail):\n%s", d.LogPath, d.logTail(60))
	}
	if d.cmd != nil && d.cmd.Process != nil {
		select {
		case <-d.exited:
		default:
			if ids, err := d.run("ps", "-aq"); err == nil && ids != "" {
				if _, err := d.run(append([]string{"rm", "-f"}, strings.Fields(ids)...)...); err != nil {
					t.Logf("removing containers: %v", err)
				}
			}
			_ = d.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-d.exited:
			case <-time.After(15 * time.Second):
				t.Logf("dockerd (pid %d) ignored SIGTERM; killing it", d.cmd.Process.Pid)
				_ = d.cmd.Process.Kill()
				<-d.exited
			}
		}
	}
	if mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(d.Dir)); err == nil {
		slices.SortFunc(mounts, func(a, b *mountinfo.Info) int { return len(b.Mountpoint) - len(a.Mountpoint) })
		for _, m := range mounts {
			if err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				t.Logf("unmounting %s: %v", m.Mountpoint, err)
			}
		}
	}
	// dockerd's cgroupfs parent "docker": rmdir only succeeds when empty,
	// so another engine's containers are never touched.
	cgs, _ := filepath.Glob("/sys/fs/cgroup/*/docker")
	for _, cg := range append(cgs, "/sys/fs/cgroup/docker") {
		_ = os.Remove(cg)
	}
	if err := os.RemoveAll(d.Dir); err != nil {
		t.Logf("removing %s: %v", d.Dir, err)
	}
}

// dockerWatched waits until confined lists Docker's container id.
func dockerWatched(t *testing.T, c *e2e.Confined, id string) api.Container {
	t.Helper()
	return waitWatched(t, c, dockerNamespace, id)
}

const dockerEnforceProfile = `apiVersion: confine/v1
name: dweb
mode: enforce
exec:
  allow: ["/bin/busybox"]
onViolation: kill
`

// dimg has no label to match: only its image selector picks it.
const dockerImageProfile = `apiVersion: confine/v1
name: dimg
mode: monitor
selector:
  images: ["` + dockerImage + `"]
exec:
  allow: ["/bin/busybox"]
`

const dockerLearnProfile = `apiVersion: confine/v1
name: dlearn
mode: learn
`

// dockerWorkload is a steady workload that only runs busybox.
var dockerWorkload = []string{"sh", "-c", "while true; do ls / >/dev/null; cat /etc/passwd >/dev/null; sleep 0.2; done"}

// dockerViolation drops a copy of busybox into /tmp and runs it.
var dockerViolation = []string{"exec", "-d", "", "sh", "-c", "mkdir -p /tmp/x && cp /bin/busybox /tmp/x/busybox && exec /tmp/x/busybox sleep 30"}

func dockerViolate(t *testing.T, d *dockerd, id string) {
	t.Helper()
	args := slices.Clone(dockerViolation)
	args[2] = id
	d.must(t, args...)
}

func TestDocker(t *testing.T) {
	bed := e2e.NewBed(t)
	d := startDockerd(t, bed)
	bed.WriteConfig(t, fmt.Sprintf("docker_socket = %q\ndocker_data_root = %q\n", d.Socket, d.DataRoot))
	bed.WriteProfile(t, "dweb", dockerEnforceProfile)
	bed.WriteProfile(t, "dimg", dockerImageProfile)
	bed.WriteProfile(t, "dlearn", dockerLearnProfile)
	confined := bed.StartConfined(t)

	// docker run --runtime confine --label confine.profile=dweb: the
	// container runs under dweb, with Docker's seccomp filter, our hooks
	// next to Docker's own, and a forbidden binary kills it (137).
	t.Run("label selects the profile and enforce kills", func(t *testing.T) {
		id, name := d.runDetached(t, map[string]string{"confine.profile": "dweb"}, "sleep", "60")
		status := d.must(t, "exec", id, "cat", "/proc/1/status")
		if !strings.Contains(status, "Seccomp:\t2") {
			t.Errorf("container PID 1 is not under a seccomp filter:\n%s", status)
		}
		spec := dockerBundleSpec(t, bed, id)
		hook := filepath.Join(bed.Bin, "confine-hook")
		for _, stage := range []string{"createRuntime", "poststop"} {
			if !slices.Contains(spec.hookPaths(stage), hook) {
				t.Errorf("%s hooks %v lack %s", stage, spec.hookPaths(stage), hook)
			}
		}
		if len(spec.Hooks["prestart"]) == 0 {
			t.Errorf("Docker's own prestart hook (libnetwork-setkey) was dropped: %v", spec.Hooks)
		}
		if spec.Linux.Seccomp == nil || len(spec.Linux.Seccomp.Syscalls) == 0 {
			t.Errorf("bundle has no seccomp filter: %+v", spec.Linux.Seccomp)
		}
		// Needs the resolver wired into confined's decision: Docker's label.
		if spec.Annotations["confine.profile"] != "dweb" || spec.Annotations["confine.mode"] != "enforce" {
			t.Errorf("bundle annotations %v, want confine.profile=dweb confine.mode=enforce", spec.Annotations)
		}

		ct := dockerWatched(t, confined, id)
		t.Logf("bundle annotations %v; confined's record %+v", spec.Annotations, ct)
		if ct.Profile != "dweb" || ct.Mode != "enforce" || !ct.Injected {
			t.Errorf("confined's record %+v, want profile dweb, enforce, injected", ct)
		}
		if ct.Name != name || ct.Image != dockerImage {
			t.Errorf("confined's record has name %q image %q, want Docker's %q %q", ct.Name, ct.Image, name, dockerImage)
		}
		out, _, code := bed.Ctl(t, "ps")
		if code != 0 || !strings.Contains(out, name) || !strings.Contains(out, dockerImage) {
			t.Errorf("confinectl ps (exit %d) lacks Docker's name %s or image %s:\n%s", code, name, dockerImage, out)
		}

		dockerViolate(t, d, id)
		a := bed.WaitAlert(t, 20*time.Second, map[string]string{"container_id": id, "event": "kill"})
		code2, exited := d.waitExit(t, id, 15*time.Second)
		if !exited || code2 != 137 {
			t.Fatalf("container not killed: exited=%v code=%d; alert %v", exited, code2, a)
		}
		in := d.inspect(t, id)
		t.Logf("docker inspect State %+v; alert %v", in.State, a)
		if in.State.OOMKilled || in.State.ExitCode != 137 {
			t.Errorf("docker inspect State %+v, want ExitCode 137 by SIGKILL, not OOM", in.State)
		}
		ps := d.must(t, "ps", "-a", "--filter", "id="+id, "--format", "{{.Status}}")
		if !strings.HasPrefix(ps, "Exited (137)") {
			t.Errorf("docker ps -a status %q, want Exited (137)", ps)
		}
		if a["rule"] != "exec" || !strings.Contains(fmt.Sprint(a["exe"]), "/tmp/x") || a["action"] != "killed" {
			t.Errorf("kill alert %v, want rule exec, exe /tmp/x/busybox, action killed", a)
		}
		if a["namespace"] != dockerNamespace || a["profile"] != "dweb" || a["image"] != dockerImage {
			t.Errorf("kill alert %v, want namespace moby, profile dweb, image %s", a, dockerImage)
		}
		if n := len(bed.FindAlerts(t, map[string]string{"container_id": id, "event": "kill"})); n != 1 {
			t.Errorf("%d kill alerts, want exactly one", n)
		}
		// Resolved through the Engine API, asked while dockerd was inside
		// `runc create` (no fallback, no lookup failure).
		if lines := dockerLogLines(t, confined.Log, id, "config.v2.json", "Docker does not say"); len(lines) > 0 {
			t.Errorf("confined did not resolve %s through the Engine API:\n%s", id, strings.Join(lines, "\n"))
		}
	})

	// --security-opt seccomp=unconfined under an enforce profile: Docker
	// loads no filter, and confined says so.
	t.Run("seccomp=unconfined under enforce is an alert", func(t *testing.T) {
		name := testbed.UniqueID("dk")
		id := d.must(t, "run", "-d", "--name", name, "--network", "none", "--runtime", "confine",
			"--label", "confine.profile=dweb", "--security-opt", "seccomp=unconfined", dockerImage, "sleep", "60")
		dockerWatched(t, confined, id)
		a := bed.WaitAlert(t, 20*time.Second, map[string]string{"container_id": id, "rule": "seccomp", "event": "violation"})
		if a["profile"] != "dweb" || !strings.Contains(fmt.Sprint(a["message"]), "unconfined") {
			t.Errorf("alert %v, want profile dweb and a message naming seccomp=unconfined", a)
		}
	})

	// No label: dimg's image selector matches Docker's image name, which
	// only Docker knows.
	t.Run("image selector picks the profile", func(t *testing.T) {
		id, _ := d.runDetached(t, nil, dockerWorkload...)
		spec := dockerBundleSpec(t, bed, id)
		if spec.Annotations["confine.profile"] != "dimg" {
			t.Errorf("bundle annotations %v, want confine.profile=dimg (image selector)", spec.Annotations)
		}
		ct := dockerWatched(t, confined, id)
		if ct.Profile != "dimg" || ct.Mode != "monitor" || ct.Image != dockerImage {
			t.Errorf("confined's record %+v, want profile dimg, monitor, image %s", ct, dockerImage)
		}
		dockerViolate(t, d, id)
		a := bed.WaitAlert(t, 20*time.Second, map[string]string{"container_id": id, "event": "violation", "rule": "exec"})
		if a["profile"] != "dimg" || a["image"] != dockerImage {
			t.Errorf("alert %v, want profile dimg image %s", a, dockerImage)
		}
		if in := d.inspect(t, id); !in.State.Running {
			t.Errorf("monitor mode stopped the container: %+v", in.State)
		}
	})

	// learn → promote → enforce, all through docker run.
	t.Run("learned profile promotes and enforces", func(t *testing.T) {
		learned := filepath.Join(bed.StateDir, "learned", "dlearn.yaml")
		id, _ := d.runDetached(t, map[string]string{"confine.profile": "dlearn"}, dockerWorkload...)
		if ct := dockerWatched(t, confined, id); ct.Profile != "dlearn" || ct.Mode != "learn" {
			t.Errorf("confined's record %+v, want profile dlearn in learn mode", ct)
		}
		// Let the workload be observed, then stop it; the learned profile
		// is written (bounded wait).
		dockerWaitFile(t, learned, 30*time.Second)
		time.Sleep(2 * time.Second) // more rescans: a fuller picture of the loop
		d.must(t, "rm", "-f", id)
		time.Sleep(time.Second)
		data, err := os.ReadFile(learned)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "/bin/busybox") {
			t.Errorf("learned profile does not list /bin/busybox:\n%s", data)
		}

		out, errOut, code := bed.Ctl(t, "profile", "promote", "dlearn", "--mode", "enforce")
		if code != 0 {
			t.Fatalf("confinectl profile promote (exit %d): %s%s", code, out, errOut)
		}

		id2, _ := d.runDetached(t, map[string]string{"confine.profile": "dlearn"}, dockerWorkload...)
		if spec := dockerBundleSpec(t, bed, id2); spec.Annotations["confine.profile"] != "dlearn" || spec.Annotations["confine.mode"] != "enforce" {
			t.Errorf("bundle annotations %v, want the promoted dlearn in enforce", spec.Annotations)
		}
		if ct := dockerWatched(t, confined, id2); ct.Profile != "dlearn" || ct.Mode != "enforce" {
			t.Errorf("confined's record %+v, want the promoted dlearn in enforce", ct)
		}
		if code, exited := d.waitExit(t, id2, 3*time.Second); exited {
			t.Fatalf("the learned workload was stopped under its own profile (exit %d); alerts %v",
				code, bed.FindAlerts(t, map[string]string{"container_id": id2}))
		}
		dockerViolate(t, d, id2)
		// mkdir and cp make syscalls the loop never made (umask, ...): the
		// learned seccomp allowlist may catch the payload before the exec
		// rule does. Either is the promoted profile enforcing.
		a := bed.WaitAlert(t, 20*time.Second, map[string]string{"container_id": id2, "event": "kill", "profile": "dlearn", "mode": "enforce"})
		if r := fmt.Sprint(a["rule"]); r != "exec" && r != "seccomp" {
			t.Errorf("kill alert %v, want rule exec or seccomp", a)
		}
		if code, exited := d.waitExit(t, id2, 15*time.Second); !exited || code != 137 {
			t.Fatalf("container under the promoted profile not killed: exited=%v code=%d", exited, code)
		}
	})

	// The Engine API unreachable: confined reads config.v2.json under the
	// data root, selects the same way, and says so in its log.
	t.Run("API unreachable falls back to config.v2.json", func(t *testing.T) {
		confined.Stop(t)
		bed.WriteConfig(t, fmt.Sprintf("docker_socket = %q\ndocker_data_root = %q\n", filepath.Join(d.Dir, "no-such.sock"), d.DataRoot))
		c2 := bed.StartConfined(t)
		id, name := d.runDetached(t, map[string]string{"confine.profile": "dweb"}, "sleep", "60")
		spec := dockerBundleSpec(t, bed, id)
		if spec.Annotations["confine.profile"] != "dweb" {
			t.Errorf("bundle annotations %v, want confine.profile=dweb from config.v2.json", spec.Annotations)
		}
		ct := dockerWatched(t, c2, id)
		if ct.Profile != "dweb" || ct.Name != name || ct.Image != dockerImage {
			t.Errorf("confined's record %+v, want dweb, name %s, image %s", ct, name, dockerImage)
		}
		if lines := dockerLogLines(t, c2.Log, id, "config.v2.json"); len(lines) == 0 {
			logData, _ := os.ReadFile(c2.Log)
			t.Errorf("confined's log does not say that %s was resolved from config.v2.json:\n%s", id, dockerTail(string(logData), 30))
		}
		status := d.must(t, "exec", id, "cat", "/proc/1/status")
		if !strings.Contains(status, "Seccomp:\t2") {
			t.Errorf("container PID 1 is not under a seccomp filter:\n%s", status)
		}
	})
}

// dockerWaitFile waits (bounded) for a file to exist.
func dockerWaitFile(t *testing.T, path string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %s", path, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func dockerTail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// dockerLogLines returns the lines of a log that name id and any of words.
func dockerLogLines(t *testing.T, path, id string, words ...string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, id) {
			continue
		}
		for _, w := range words {
			if strings.Contains(line, w) {
				out = append(out, line)
				break
			}
		}
	}
	return out
}
