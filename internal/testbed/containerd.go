package testbed

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
)

// Snapshotter is the snapshotter the private containerd unpacks images into.
const Snapshotter = "overlayfs"

// maxSocketPath keeps the socket path within sun_path (108 bytes, with room for
// the ".ttrpc" suffix containerd adds for its ttrpc socket).
const maxSocketPath = 100

// Options configure [StartDaemon]. The zero value is a good default.
type Options struct {
	// Containerd is the containerd binary: default $CONFINE_CONTAINERD, else
	// "containerd" from PATH.
	Containerd string
	// Ctr is the ctr binary: default $CONFINE_CTR, else "ctr" from PATH.
	Ctr string
	// Dir holds everything of this containerd (config, log, socket, root, state).
	// It must be short: the socket lives in it. Default: a new directory in
	// os.TempDir (or /tmp), removed by Stop. A given Dir is kept, only root,
	// state and the socket inside it are removed.
	Dir string
	// Namespace is the containerd namespace for the image and containers;
	// default "cf-<random>".
	Namespace string
	// Image is the OCI layout tar to import; default [BuildImage]. NoImage skips
	// the import altogether.
	Image   string
	NoImage bool
	// Config is TOML appended to the generated config file (do not repeat the
	// tables it already has: grpc, ttrpc, debug, metrics and the opt plugin).
	Config string
	// Env is added to containerd's environment, which its shims inherit: a PATH
	// here changes which "runc" the shims run. <Dir>/opt/bin comes first in
	// PATH already (containerd's opt plugin), so a "runc" placed there wins too.
	Env []string
	// LogLevel of containerd: default "info".
	LogLevel string
	// StartTimeout bounds waiting for containerd to answer: default 30s.
	StartTimeout time.Duration
}

// Containerd is a private containerd started by [Start] or [StartDaemon].
type Containerd struct {
	// Address is the path of the gRPC unix socket (what `ctr -a` takes).
	Address string
	// Namespace is the containerd namespace the image was imported into and
	// containers are created in.
	Namespace string
	// ImageRef names the imported image: ImageRef for the testbed image, ""
	// with Options.NoImage.
	ImageRef string
	// Client is connected to Address with Namespace as its default namespace.
	Client *client.Client
	// Dir, Root, State: the working directory, containerd's --root and --state.
	Dir, Root, State string
	// ConfigPath and LogPath: the generated config and containerd's log.
	ConfigPath, LogPath string
	// OptBin is first in the PATH containerd gives its shims.
	OptBin string
	// Pid is containerd's process ID.
	Pid int

	ctrBin  string
	ownDir  bool
	ownNS   bool // Namespace was generated: no other containerd uses it
	fifoDir string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when containerd has exited
	waitErr error

	opts Options

	mu      sync.Mutex
	running map[*Running]struct{}
	stopped bool
}

// UniqueID returns prefix-<random hex>, a container (or namespace) ID that is
// unique across every containerd on the host: runc's state directory
// /run/containerd/runc/<namespace>/<id> is shared between them. prefix must be
// a valid containerd identifier (letters, digits, and . _ - between them).
func UniqueID(prefix string) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("reading random bytes: %v", err))
	}
	return prefix + "-" + hex.EncodeToString(b)
}

func containerdBinary(opt string) string {
	if opt != "" {
		return opt
	}
	if p := os.Getenv("CONFINE_CONTAINERD"); p != "" {
		return p
	}
	return "containerd"
}

func ctrBinary(opt string) string {
	if opt != "" {
		return opt
	}
	if p := os.Getenv("CONFINE_CTR"); p != "" {
		return p
	}
	return "ctr"
}

// Start starts a private containerd for the test with the testbed image
// imported, and stops it (killing every task) when the test ends. It needs root
// and containerd, ctr, runc and busybox; see [RequiresRoot] and [RequireTools].
// When the test fails, the tail of containerd's log is logged.
func Start(t testing.TB) *Containerd {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is [Start] with options.
func StartWith(t testing.TB, opts Options) *Containerd {
	t.Helper()
	RequiresRoot(t)
	RequireTools(t, containerdBinary(opts.Containerd), ctrBinary(opts.Ctr), "runc", "containerd-shim-runc-v2")
	if opts.Image == "" && !opts.NoImage {
		opts.Image = Image(t)
	}
	c, err := StartDaemon(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("containerd log %s (tail):\n%s", c.LogPath, c.LogTail(60))
		}
		if err := c.Stop(); err != nil {
			t.Errorf("stopping containerd: %v", err)
		}
	})
	return c
}

// StartDaemon starts a private containerd without a testing.TB. The caller must
// call Stop.
func StartDaemon(opts Options) (*Containerd, error) {
	c := &Containerd{
		Namespace: opts.Namespace,
		ctrBin:    ctrBinary(opts.Ctr),
		running:   map[*Running]struct{}{},
		exited:    make(chan struct{}),
	}
	if c.Namespace == "" {
		c.Namespace, c.ownNS = UniqueID("cf"), true
	}
	if err := c.makeDirs(opts.Dir); err != nil {
		return nil, fmt.Errorf("starting containerd: %w", err)
	}
	if err := c.writeConfig(opts); err != nil {
		c.removeDirs()
		return nil, fmt.Errorf("starting containerd: %w", err)
	}
	c.opts = opts
	if err := c.spawn(opts); err != nil {
		c.removeDirs()
		return nil, fmt.Errorf("starting containerd: %w", err)
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	if err := c.connect(timeout); err != nil {
		_ = c.Stop()
		return nil, fmt.Errorf("starting containerd: %w", err)
	}
	if err := c.checkPlugins(); err != nil {
		_ = c.Stop()
		return nil, fmt.Errorf("starting containerd: %w", err)
	}
	if !opts.NoImage {
		image := opts.Image
		if image == "" {
			p, err := BuildImage()
			if err != nil {
				_ = c.Stop()
				return nil, fmt.Errorf("starting containerd: %w", err)
			}
			image = p
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		names, err := c.ImportImage(ctx, image)
		cancel()
		if err != nil {
			_ = c.Stop()
			return nil, fmt.Errorf("starting containerd: %w", err)
		}
		c.ImageRef = names[0]
	}
	return c, nil
}

func (c *Containerd) makeDirs(dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "cftb-")
		if err == nil && len(filepath.Join(d, "containerd.sock")) > maxSocketPath {
			os.Remove(d)
			d, err = os.MkdirTemp("/tmp", "cftb-")
		}
		if err != nil {
			return fmt.Errorf("creating working directory: %w", err)
		}
		dir, c.ownDir = d, true
	} else {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("resolving %s: %w", dir, err)
		}
		dir = abs
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return fmt.Errorf("creating working directory: %w", err)
		}
	}
	c.Dir = dir
	c.Address = filepath.Join(dir, "containerd.sock")
	if len(c.Address) > maxSocketPath {
		return fmt.Errorf("socket path %s is longer than %d bytes: use a shorter directory", c.Address, maxSocketPath)
	}
	c.Root = filepath.Join(dir, "root")
	c.State = filepath.Join(dir, "state")
	c.OptBin = filepath.Join(dir, "opt", "bin")
	c.fifoDir = filepath.Join(dir, "fifo")
	c.ConfigPath = filepath.Join(dir, "config.toml")
	c.LogPath = filepath.Join(dir, "containerd.log")
	// The directory may come from os.MkdirTemp (0700); containers running as
	// another user do not need it, but bind mounts of subdirectories do.
	if err := os.Chmod(dir, 0o711); err != nil {
		return fmt.Errorf("creating working directory: %w", err)
	}
	for _, d := range []string{c.Root, c.State, c.OptBin, c.fifoDir} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return fmt.Errorf("creating working directory: %w", err)
		}
	}
	return nil
}

// ConfigTOML returns the containerd configuration (version 2, as containerd
// 1.6 reads it) for a private containerd in dir: its own root, state, socket
// and opt directory, no debug or metrics listener, and none of the plugins
// that need more than a bare host (CRI, btrfs, zfs, devmapper, aufs, tracing).
// The legacy io.containerd.runtime.v1.linux must stay: containerd 1.6's tasks
// service refuses to load without it.
func ConfigTOML(dir, logLevel string) string {
	if logLevel == "" {
		logLevel = "info"
	}
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	return strings.Join([]string{
		"# generated by confine's testbed: a private containerd",
		"version = 2",
		"root = " + q(filepath.Join(dir, "root")),
		"state = " + q(filepath.Join(dir, "state")),
		"disabled_plugins = [",
		`  "io.containerd.grpc.v1.cri",`,
		`  "io.containerd.snapshotter.v1.aufs",`,
		`  "io.containerd.snapshotter.v1.btrfs",`,
		`  "io.containerd.snapshotter.v1.zfs",`,
		`  "io.containerd.snapshotter.v1.devmapper",`,
		`  "io.containerd.tracing.processor.v1.otlp",`,
		`  "io.containerd.internal.v1.tracing",`,
		"]",
		"",
		"[grpc]",
		"  address = " + q(filepath.Join(dir, "containerd.sock")),
		"",
		"[debug]",
		`  address = ""`,
		"  level = " + q(logLevel),
		"",
		"[metrics]",
		`  address = ""`,
		"",
		`[plugins."io.containerd.internal.v1.opt"]`,
		"  path = " + q(filepath.Join(dir, "opt")),
		"",
	}, "\n")
}

func (c *Containerd) writeConfig(opts Options) error {
	cfg := ConfigTOML(c.Dir, opts.LogLevel)
	if opts.Config != "" {
		cfg += "\n" + opts.Config + "\n"
	}
	if err := os.WriteFile(c.ConfigPath, []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("writing config: %w", err)
	}
	return nil
}

// spawn starts containerd from a goroutine locked to its OS thread: the
// parent-death signal (SIGKILL to containerd if this process dies without
// cleaning up) belongs to the thread that forked, so that thread must live as
// long as containerd does.
func (c *Containerd) spawn(opts Options) error {
	logf, err := os.OpenFile(c.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening log: %w", err)
	}
	cmd := exec.Command(containerdBinary(opts.Containerd), "--config", c.ConfigPath, "--log-level", logLevelOr(opts.LogLevel))
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Env = append(os.Environ(), opts.Env...)
	cmd.Dir = c.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	c.cmd = cmd

	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread exits with this goroutine, after containerd.
		err := cmd.Start()
		logf.Close()
		started <- err
		if err != nil {
			close(c.exited)
			return
		}
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("running %s: %w", cmd.Path, err)
	}
	c.Pid = cmd.Process.Pid
	return nil
}

func logLevelOr(l string) string {
	if l == "" {
		return "info"
	}
	return l
}

func (c *Containerd) connect(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			return fmt.Errorf("containerd exited (%v) before answering; log %s:\n%s", c.waitErr, c.LogPath, c.LogTail(20))
		default:
		}
		if _, err := os.Stat(c.Address); err != nil {
			lastErr = err
			time.Sleep(20 * time.Millisecond)
			continue
		}
		cl, err := client.New(c.Address, client.WithDefaultNamespace(c.Namespace), client.WithTimeout(5*time.Second))
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err = cl.Version(ctx)
			cancel()
			if err == nil {
				c.Client = cl
				return nil
			}
			cl.Close()
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("containerd at %s did not answer within %s: %v; log %s:\n%s", c.Address, timeout, lastErr, c.LogPath, c.LogTail(20))
}

// checkPlugins fails when a plugin the testbed needs did not load: containerd
// still serves, and the error would otherwise surface as "unknown service" on
// the first container.
func (c *Containerd) checkPlugins() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Client.IntrospectionService().Plugins(ctx)
	if err != nil {
		return fmt.Errorf("listing plugins: %w", err)
	}
	needed := map[string]bool{
		"io.containerd.grpc.v1.tasks":                 false,
		"io.containerd.runtime.v2.task":               false,
		"io.containerd.snapshotter.v1." + Snapshotter: false,
	}
	for _, p := range resp.Plugins {
		id := p.Type + "." + p.ID
		if _, ok := needed[id]; !ok {
			continue
		}
		if p.InitErr != nil {
			return fmt.Errorf("plugin %s failed to load: %s", id, p.InitErr.GetMessage())
		}
		needed[id] = true
	}
	for id, ok := range needed {
		if !ok {
			return fmt.Errorf("plugin %s is not loaded; log %s", id, c.LogPath)
		}
	}
	return nil
}

// Context returns ctx carrying the testbed's namespace.
func (c *Containerd) Context(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, c.Namespace)
}

// ImportImage imports an OCI layout tar into the testbed's namespace and
// unpacks it into the overlayfs snapshotter, like `ctr images import`. It
// returns the names of the imported images (from the index's
// io.containerd.image.name annotations).
func (c *Containerd) ImportImage(ctx context.Context, path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("importing image: %w", err)
	}
	defer f.Close()
	ctx = c.Context(ctx)
	imgs, err := c.Client.Import(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("importing image %s: %w", path, err)
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("importing image %s: no named image in the index", path)
	}
	names := make([]string, 0, len(imgs))
	for _, img := range imgs {
		if err := client.NewImage(c.Client, img).Unpack(ctx, Snapshotter); err != nil {
			return nil, fmt.Errorf("unpacking image %s: %w", img.Name, err)
		}
		names = append(names, img.Name)
	}
	return names, nil
}

// Ctr runs the ctr binary against this containerd (-a and -n set) with a
// one-minute timeout and returns its output. A non-zero exit is an error that
// includes stderr.
func (c *Containerd) Ctr(args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return c.CtrContext(ctx, args...)
}

// CtrContext is [Containerd.Ctr] with a context.
func (c *Containerd) CtrContext(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	full := append([]string{"-a", c.Address, "-n", c.Namespace}, args...)
	cmd := exec.CommandContext(ctx, c.ctrBin, full...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), errb.String(), err
}

// LogTail returns the last n lines of containerd's log.
func (c *Containerd) LogTail(n int) string {
	b, err := os.ReadFile(c.LogPath)
	if err != nil {
		return fmt.Sprintf("(reading log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Stop kills every task of this containerd (in every namespace), deletes its
// containers, stops containerd (SIGTERM, SIGKILL after 10s), kills shims left
// behind, unmounts whatever is left under Dir and removes the directories.
// It is safe to call more than once.
func (c *Containerd) Stop() error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil
	}
	c.stopped = true
	running := make([]*Running, 0, len(c.running))
	for r := range c.running {
		running = append(running, r)
	}
	c.mu.Unlock()

	var errs []error
	for _, r := range running {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		if err := r.Delete(ctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	var failed []containerRef
	if c.Client != nil {
		var err error
		failed, err = c.sweep()
		if err != nil {
			errs = append(errs, err)
		}
		c.Client.Close()
	}
	if err := c.stopProcess(); err != nil {
		errs = append(errs, err)
	}
	c.killShims()
	ownNS := ""
	if c.ownNS {
		ownNS = c.Namespace
	}
	cleanupRuncState(failed, ownNS)
	if err := unmountUnder(c.Dir); err != nil {
		errs = append(errs, err)
	}
	c.removeDirs()
	return errors.Join(errs...)
}

// Restart stops the containerd process (SIGTERM, by its PID) and starts it
// again on the same root, state and address, as a containerd upgrade or
// crash-restart would. Shims and containers keep running. The client
// reconnects by itself (gRPC), so Running handles stay usable.
func (c *Containerd) Restart() error {
	if err := c.stopProcess(); err != nil {
		return fmt.Errorf("restarting containerd: %w", err)
	}
	c.exited = make(chan struct{})
	if err := c.spawn(c.opts); err != nil {
		return fmt.Errorf("restarting containerd: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.Client.Version(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("restarting containerd: not answering: %v; log %s:\n%s", err, c.LogPath, c.LogTail(20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// RestartWithEnv restarts containerd (see Restart) with env added to its
// environment, as `systemctl restart containerd` after a drop-in that
// sets Environment= would.
func (c *Containerd) RestartWithEnv(env ...string) error {
	c.opts.Env = append(append([]string(nil), c.opts.Env...), env...)
	return c.Restart()
}

func (c *Containerd) stopProcess() error {
	if c.cmd == nil || c.cmd.Process == nil {
		return nil
	}
	select {
	case <-c.exited:
		return nil
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		return nil
	case <-time.After(10 * time.Second):
	}
	_ = c.cmd.Process.Kill()
	select {
	case <-c.exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("containerd (pid %d) did not exit after SIGKILL", c.Pid)
	}
}

func (c *Containerd) removeDirs() {
	if c.Dir == "" {
		return
	}
	if c.ownDir {
		os.RemoveAll(c.Dir)
		return
	}
	for _, d := range []string{c.Root, c.State, c.fifoDir, filepath.Join(c.Dir, "opt"), c.Address, c.Address + ".ttrpc"} {
		os.RemoveAll(d)
	}
}

func (c *Containerd) track(r *Running) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return errors.New("containerd is stopped")
	}
	c.running[r] = struct{}{}
	return nil
}

func (c *Containerd) untrack(r *Running) {
	c.mu.Lock()
	delete(c.running, r)
	c.mu.Unlock()
}
