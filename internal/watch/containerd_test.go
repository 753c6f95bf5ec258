package watch

// A private containerd for the root tests of this package: its own root,
// state and socket in a short temporary directory, the CRI plugin off,
// stopped by PID. Containers are driven with the host's ctr, the client
// an operator would use against the same containerd.

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// testImage is the reference the busybox image is imported under.
const testImage = "localhost/confine-watch-busybox:latest"

// requiresRoot skips a test that needs root, containerd, runc and a static
// busybox, unless CONFINE_REQUIRE_ROOT=1 where a missing prerequisite is a
// failure with the install hint.
func requiresRoot(t *testing.T) {
	t.Helper()
	if testing.Short() || os.Getenv("CONFINE_SKIP_ROOT") == "1" {
		t.Skip("root test skipped (-short or CONFINE_SKIP_ROOT=1)")
	}
	must := os.Getenv("CONFINE_REQUIRE_ROOT") == "1"
	missing := func(what string) {
		t.Helper()
		if must {
			t.Fatalf("%s (install with: sudo make deps; run as root)", what)
		}
		t.Skip(what)
	}
	if os.Geteuid() != 0 {
		missing("test needs root")
	}
	for _, bin := range []string{"containerd", "ctr", "runc", "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(binary(bin)); err != nil {
			missing(fmt.Sprintf("%s not found", binary(bin)))
		}
	}
	if _, err := os.Stat(busyboxPath); err != nil {
		missing(fmt.Sprintf("static busybox not found at %s (Debian package busybox-static)", busyboxPath))
	}
}

const busyboxPath = "/bin/busybox"

// idSeq makes container IDs unique within a test binary; the time prefix
// makes them unique across runs, since runc's state directory
// /run/containerd/runc/<namespace> is shared by every containerd.
var idSeq atomic.Int64

func uniqueID(prefix string) string {
	return fmt.Sprintf("%s-%s-%d", prefix, strconv.FormatInt(time.Now().UnixNano(), 36), idSeq.Add(1))
}

// The binaries under test, as internal/testbed names them: CONFINE_CONTAINERD
// and CONFINE_CTR point at another containerd and ctr (e.g. a containerd 2.x
// built with go install); the directory of that containerd comes first in
// its PATH, so a containerd-shim-runc-v2 next to it is the one it runs.
const (
	envContainerd = "CONFINE_CONTAINERD"
	envCtr        = "CONFINE_CTR"
)

// binary returns the containerd or ctr under test, or name itself.
func binary(name string) string {
	env := map[string]string{"containerd": envContainerd, "ctr": envCtr}[name]
	if p := os.Getenv(env); env != "" && p != "" {
		return p
	}
	return name
}

// privateContainerd is one containerd started by a test.
type privateContainerd struct {
	dir     string
	config  string
	address string
	cmd     *exec.Cmd
	done    chan struct{}
	logPath string
	image   string // OCI layout tar of busybox
}

// startContainerd starts a private containerd and registers its cleanup:
// tasks and containers removed, containerd stopped by PID, mounts under
// its directory detached, the directory removed.
func startContainerd(t *testing.T) *privateContainerd {
	t.Helper()
	// Unix socket paths are limited to 108 bytes: t.TempDir is too deep.
	dir, err := os.MkdirTemp("/tmp", "cw")
	if err != nil {
		t.Fatal(err)
	}
	c := &privateContainerd{
		dir:     dir,
		config:  filepath.Join(dir, "config.toml"),
		address: filepath.Join(dir, "c.sock"),
		logPath: filepath.Join(dir, "containerd.log"),
	}
	cfg := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.address, c.address+".ttrpc", filepath.Join(dir, "opt"))
	if err := os.WriteFile(c.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.cleanup(t) })
	c.start(t)
	c.image = filepath.Join(dir, "busybox-oci.tar")
	if err := writeBusyboxLayout(c.image, testImage); err != nil {
		t.Fatalf("building the busybox OCI layout: %v", err)
	}
	return c
}

// start runs containerd and waits until it answers.
func (c *privateContainerd) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(c.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(binary("containerd"), "--config", c.config)
	cmd.Stdout, cmd.Stderr = logf, logf
	if p := os.Getenv(envContainerd); p != "" {
		// containerd finds its shim in PATH.
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(p)+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting containerd: %v", err)
	}
	c.cmd, c.done = cmd, make(chan struct{})
	go func(done chan struct{}) { cmd.Wait(); close(done) }(c.done)

	deadline := time.Now().Add(15 * time.Second)
	for {
		cli, err := client.New(c.address, client.WithTimeout(time.Second))
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err = cli.Version(ctx)
			cancel()
			cli.Close()
			if err == nil {
				return
			}
		}
		select {
		case <-c.done:
			t.Fatalf("containerd exited at start-up: %s", c.logTail())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd at %s not answering: %v\n%s", c.address, err, c.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM to containerd's PID and waits; SIGKILL after 10s.
// Shims, and so the containers, keep running.
func (c *privateContainerd) stop(t *testing.T) {
	t.Helper()
	if c.cmd == nil {
		return
	}
	pid := c.cmd.Process.Pid
	start := time.Now()
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-c.done:
		t.Logf("containerd %d stopped in %v", pid, time.Since(start).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(pid, syscall.SIGKILL)
		<-c.done
		t.Logf("containerd %d did not stop on SIGTERM; killed", pid)
	}
	c.cmd = nil
}

func (c *privateContainerd) cleanup(t *testing.T) {
	if c.cmd != nil {
		// Remove what the test left: force-deleting a task kills it, and
		// its shim exits with it.
		nss := strings.Fields(c.ctrQuiet("", "namespaces", "ls", "-q"))
		for _, ns := range nss {
			for _, id := range strings.Fields(c.ctrQuiet(ns, "containers", "ls", "-q")) {
				c.ctrQuiet(ns, "tasks", "rm", "-f", id)
				c.ctrQuiet(ns, "containers", "rm", id)
			}
		}
		c.stop(t)
		// runc's per-namespace state directories are shared with every
		// containerd on the host: remove ours only when empty.
		for _, ns := range nss {
			_ = os.Remove(filepath.Join("/run/containerd/runc", ns))
		}
	}
	if t.Failed() {
		t.Logf("containerd log:\n%s", c.logTail())
	}
	unmountUnder(t, c.dir)
	if err := os.RemoveAll(c.dir); err != nil {
		t.Logf("removing %s: %v", c.dir, err)
	}
}

// unmountUnder detaches every mount below dir, deepest first.
func unmountUnder(t *testing.T, dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Logf("reading mountinfo: %v", err)
		return
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			points = append(points, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil {
			t.Logf("unmounting %s: %v", p, err)
		}
	}
}

func (c *privateContainerd) logTail() string {
	b, _ := os.ReadFile(c.logPath)
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}

// ctr runs the host's ctr against this containerd and fails the test on
// error.
func (c *privateContainerd) ctr(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := c.ctrRun(ns, args...)
	if err != nil {
		t.Fatalf("ctr -n %s %s: %v\n%s", ns, strings.Join(args, " "), err, out)
	}
	return out
}

func (c *privateContainerd) ctrQuiet(ns string, args ...string) string {
	out, _ := c.ctrRun(ns, args...)
	return out
}

// ctrRun returns ctr's stdout, and its stderr in the error.
func (c *privateContainerd) ctrRun(ns string, args ...string) (string, error) {
	full := []string{"--address", c.address}
	if ns != "" {
		full = append(full, "--namespace", ns)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, binary("ctr"), append(full, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// importImage makes the busybox image available in a namespace.
func (c *privateContainerd) importImage(t *testing.T, ns string) {
	t.Helper()
	c.ctr(t, ns, "images", "import", c.image)
}

// runOpts are the ctr run options a test may set.
type runOpts struct {
	labels      map[string]string
	annotations map[string]string
	seccomp     bool
}

// run starts a detached container sleeping for a long time.
func (c *privateContainerd) run(t *testing.T, ns, id string, o runOpts) {
	t.Helper()
	args := []string{"run", "-d", "--null-io"}
	for _, k := range sortedKeys(o.labels) {
		args = append(args, "--label", k+"="+o.labels[k])
	}
	for _, k := range sortedKeys(o.annotations) {
		args = append(args, "--annotation", k+"="+o.annotations[k])
	}
	if o.seccomp {
		args = append(args, "--seccomp")
	}
	args = append(args, testImage, id, "/bin/sleep", "600")
	c.ctr(t, ns, args...)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writeBusyboxLayout writes an OCI image layout tar holding one layer with
// the host's static busybox and the applets the tests use, named ref for
// ctr images import.
func writeBusyboxLayout(path, ref string) error {
	bb, err := os.ReadFile(busyboxPath)
	if err != nil {
		return err
	}
	var layer bytes.Buffer
	lw := tar.NewWriter(&layer)
	mtime := time.Unix(0, 0)
	for _, d := range []string{"bin/", "dev/", "etc/", "proc/", "sys/", "tmp/"} {
		if err := lw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: mtime}); err != nil {
			return err
		}
	}
	if err := lw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bb)), ModTime: mtime}); err != nil {
		return err
	}
	if _, err := lw.Write(bb); err != nil {
		return err
	}
	for _, applet := range []string{"sh", "sleep", "true", "false", "cat", "ls"} {
		if err := lw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + applet, Linkname: "busybox", Mode: 0o777, ModTime: mtime}); err != nil {
			return err
		}
	}
	if err := lw.Close(); err != nil {
		return err
	}

	blobs := map[digest.Digest][]byte{}
	add := func(mediaType string, b []byte) ocispec.Descriptor {
		d := digest.FromBytes(b)
		blobs[d] = b
		return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(b))}
	}
	layerDesc := add(ocispec.MediaTypeImageLayer, layer.Bytes())
	cfg, err := json.Marshal(ocispec.Image{
		Platform: ocispec.Platform{Architecture: runtime.GOARCH, OS: "linux"},
		Config:   ocispec.ImageConfig{Cmd: []string{"/bin/sh"}, Env: []string{"PATH=/bin"}},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layerDesc.Digest}},
	})
	if err != nil {
		return err
	}
	cfgDesc := add(ocispec.MediaTypeImageConfig, cfg)
	man, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cfgDesc,
		Layers:    []ocispec.Descriptor{layerDesc},
	})
	if err != nil {
		return err
	}
	manDesc := add(ocispec.MediaTypeImageManifest, man)
	manDesc.Annotations = map[string]string{
		"io.containerd.image.name": ref,
		ocispec.AnnotationRefName:  "latest",
	}
	idx, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{manDesc},
	})
	if err != nil {
		return err
	}

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	put := func(name string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: mtime}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	if err := put(ocispec.ImageLayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := put(ocispec.ImageIndexFile, idx); err != nil {
		return err
	}
	names := make([]string, 0, len(blobs))
	for d := range blobs {
		names = append(names, string(d))
	}
	sort.Strings(names)
	for _, n := range names {
		d := digest.Digest(n)
		if err := put("blobs/"+d.Algorithm().String()+"/"+d.Encoded(), blobs[d]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Sync()
}

// cgroupOf returns /proc/PID/cgroup, to check independently of containerd
// that a PID belongs to a container.
func cgroupOf(pid uint32) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	return string(b), err
}
