package testbed

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RuntimeRuncV2 is the shim every testbed container runs with.
const RuntimeRuncV2 = "io.containerd.runc.v2"

// DefaultRunTimeout bounds [Containerd.Run] when RunOptions.Timeout is zero.
const DefaultRunTimeout = 30 * time.Second

// Mount bind-mounts a host path into the container.
type Mount struct {
	Source, Destination string
	ReadOnly            bool
}

// RunOptions describe a container to run. Only what is set changes the
// default spec that containerd's client generates from the image (which, like
// ctr's, mounts a tmpfs on /run).
type RunOptions struct {
	// ID of the container: default UniqueID("tb").
	ID string
	// Image to run: default the testbed image.
	Image string
	// Args replace the image's command (default /bin/sh).
	Args []string
	// Env entries (KEY=VALUE) are added to the image's.
	Env []string
	// Cwd is the working directory; User is "uid[:gid]" or a name in the
	// image's /etc/passwd.
	Cwd, User string
	// Runtime is a runc-compatible binary used instead of runc (runc option
	// BinaryName, like `ctr run --runc-binary`).
	Runtime string
	// SeccompProfile is a JSON file in the OCI runtime-spec format
	// (specs.LinuxSeccomp), like `ctr run --seccomp --seccomp-profile`.
	SeccompProfile string
	// SpecOpts are applied last, after everything above.
	SpecOpts []oci.SpecOpts
	// Labels are containerd labels of the container; Annotations go into the
	// OCI spec.
	Labels, Annotations map[string]string
	// Mounts are bind mounts of host paths.
	Mounts []Mount
	// Timeout bounds Run (default DefaultRunTimeout); the container is killed
	// when it expires. Start ignores it.
	Timeout time.Duration
	// Snapshotter unpacks the image into and takes the rootfs from another
	// snapshotter than the default (e.g. "native": a rootfs that is not
	// overlayfs).
	Snapshotter string
}

// Result is how a container or an exec'd process ended.
type Result struct {
	// ID is the container ID (for an exec, the container's).
	ID string
	// ExitStatus as containerd reports it: 128+signal when killed by a signal.
	ExitStatus int
	// Stdout and Stderr are everything the process wrote.
	Stdout, Stderr string
	// Pid is the process's PID on the host.
	Pid uint32
}

// Run runs a container to completion and removes it. The error is nil when
// the container ran, whatever its exit status; on timeout the container is
// killed and both the result and an error are returned.
func (c *Containerd) Run(ctx context.Context, opts RunOptions) (*Result, error) {
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultRunTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	r, err := c.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	status, waitErr := r.Wait(ctx)
	if waitErr != nil {
		// Timed out or cancelled: kill it, but still report what it wrote.
		kctx, kcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer kcancel()
		_ = r.Kill(kctx, syscall.SIGKILL)
		status, _ = r.Wait(kctx)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer dcancel()
	delErr := r.Delete(dctx) // also drains the output streams
	res := &Result{ID: r.ID, ExitStatus: status, Stdout: r.Stdout(), Stderr: r.Stderr(), Pid: r.Pid()}
	if waitErr != nil {
		return res, fmt.Errorf("running container %s: %w", r.ID, waitErr)
	}
	if delErr != nil {
		return res, delErr
	}
	return res, nil
}

// Running is a started container. Stop of its Containerd deletes it, or call
// Delete (or Close) yourself.
type Running struct {
	// ID is the container ID.
	ID string

	c         *Containerd
	container client.Container
	task      client.Task
	stdout    *SyncBuffer
	stderr    *SyncBuffer

	exited     chan struct{} // closed once the task has exited
	exitStatus int
	exitErr    error

	deleteOnce sync.Once
	deleteErr  error
}

// Start creates and starts a container and returns without waiting for it.
func (c *Containerd) Start(ctx context.Context, opts RunOptions) (*Running, error) {
	id := opts.ID
	if id == "" {
		id = UniqueID("tb")
	}
	ref := opts.Image
	if ref == "" {
		ref = c.ImageRef
	}
	if ref == "" {
		return nil, fmt.Errorf("creating container %s: no image (the testbed was started with NoImage)", id)
	}
	ctx = c.Context(ctx)
	image, err := c.Client.GetImage(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("creating container %s: %w", id, err)
	}
	snapshotter := Snapshotter
	if opts.Snapshotter != "" && opts.Snapshotter != Snapshotter {
		snapshotter = opts.Snapshotter
		if err := image.Unpack(ctx, snapshotter); err != nil {
			return nil, fmt.Errorf("creating container %s: unpacking %s into %s: %w", id, ref, snapshotter, err)
		}
	}

	specOpts := []oci.SpecOpts{oci.WithImageConfig(image)}
	if len(opts.Args) > 0 {
		specOpts = append(specOpts, oci.WithProcessArgs(opts.Args...))
	}
	if len(opts.Env) > 0 {
		specOpts = append(specOpts, oci.WithEnv(opts.Env))
	}
	if opts.Cwd != "" {
		specOpts = append(specOpts, oci.WithProcessCwd(opts.Cwd))
	}
	if opts.User != "" {
		specOpts = append(specOpts, oci.WithUser(opts.User))
	}
	if len(opts.Mounts) > 0 {
		var ms []specs.Mount
		for _, m := range opts.Mounts {
			mode := "rw"
			if m.ReadOnly {
				mode = "ro"
			}
			ms = append(ms, specs.Mount{Type: "bind", Source: m.Source, Destination: m.Destination, Options: []string{"rbind", mode}})
		}
		specOpts = append(specOpts, oci.WithMounts(ms))
	}
	if len(opts.Annotations) > 0 {
		specOpts = append(specOpts, oci.WithAnnotations(opts.Annotations))
	}
	if opts.SeccompProfile != "" {
		specOpts = append(specOpts, seccomp.WithProfile(opts.SeccompProfile))
	}
	specOpts = append(specOpts, opts.SpecOpts...)

	var runcOpts *options.Options
	runtimeOpt := client.WithRuntime(RuntimeRuncV2, nil)
	if opts.Runtime != "" {
		runcOpts = &options.Options{BinaryName: opts.Runtime}
		runtimeOpt = client.WithRuntime(RuntimeRuncV2, runcOpts)
	}
	cOpts := []client.NewContainerOpts{
		client.WithImage(image),
		client.WithSnapshotter(snapshotter),
		client.WithNewSnapshot(id, image),
		runtimeOpt,
		client.WithNewSpec(specOpts...),
	}
	if len(opts.Labels) > 0 {
		cOpts = append(cOpts, client.WithContainerLabels(opts.Labels))
	}
	container, err := c.Client.NewContainer(ctx, id, cOpts...)
	if err != nil {
		return nil, fmt.Errorf("creating container %s: %w", id, err)
	}

	r := &Running{
		ID:        id,
		c:         c,
		container: container,
		stdout:    &SyncBuffer{},
		stderr:    &SyncBuffer{},
		exited:    make(chan struct{}),
	}
	if err := c.track(r); err != nil {
		_ = container.Delete(ctx, client.WithSnapshotCleanup)
		return nil, fmt.Errorf("creating container %s: %w", id, err)
	}
	fail := func(err error) (*Running, error) {
		dctx, cancel := context.WithTimeout(c.Context(context.Background()), 15*time.Second)
		defer cancel()
		_ = r.Delete(dctx)
		return nil, err
	}

	var taskOpts []client.NewTaskOpts
	if runcOpts != nil {
		// The runc options travel with the task too: containerd 1.6 hands the
		// shim the task's options.
		taskOpts = append(taskOpts, func(_ context.Context, _ *client.Client, ti *client.TaskInfo) error {
			ti.Options = runcOpts
			return nil
		})
	}
	task, err := container.NewTask(ctx, c.ioCreator(r.stdout, r.stderr), taskOpts...)
	if err != nil {
		return fail(fmt.Errorf("creating task %s: %w", id, err))
	}
	r.task = task
	// Wait outlives ctx: it must report the exit whenever it happens.
	exitCh, err := task.Wait(c.Context(context.Background()))
	if err != nil {
		return fail(fmt.Errorf("waiting for task %s: %w", id, err))
	}
	go func() {
		st, ok := <-exitCh
		if !ok {
			r.exitErr = errors.New("exit channel closed")
		} else {
			code, _, err := st.Result()
			r.exitStatus, r.exitErr = int(code), err
		}
		close(r.exited)
	}()
	if err := task.Start(ctx); err != nil {
		return fail(fmt.Errorf("starting task %s: %w", id, err))
	}
	return r, nil
}

func (c *Containerd) ioCreator(stdout, stderr *SyncBuffer) cio.Creator {
	return cio.NewCreator(cio.WithStreams(nil, stdout, stderr), cio.WithFIFODir(c.fifoDir))
}

// Pid is the container's init PID on the host (0 before its task exists).
func (r *Running) Pid() uint32 {
	if r.task == nil {
		return 0
	}
	return r.task.Pid()
}

// Container and Task give the containerd client objects for what this
// package does not wrap.
func (r *Running) Container() client.Container { return r.container }

// Task returns the container's task.
func (r *Running) Task() client.Task { return r.task }

// Stdout returns what the container's init process has written so far.
func (r *Running) Stdout() string { return r.stdout.String() }

// Stderr returns what the container's init process has written to stderr so far.
func (r *Running) Stderr() string { return r.stderr.String() }

// Exited is closed once the container's init process has exited.
func (r *Running) Exited() <-chan struct{} { return r.exited }

// Wait waits for the container to exit and returns its exit status (128+signal
// when killed by a signal). It can be called any number of times.
func (r *Running) Wait(ctx context.Context) (int, error) {
	select {
	case <-r.exited:
		if r.exitErr != nil {
			return r.exitStatus, fmt.Errorf("waiting for container %s: %w", r.ID, r.exitErr)
		}
		return r.exitStatus, nil
	case <-ctx.Done():
		return -1, fmt.Errorf("waiting for container %s: %w", r.ID, ctx.Err())
	}
}

// Kill sends sig to the container's init process (SIGKILL to it ends the
// whole container: its PID namespace goes with it).
func (r *Running) Kill(ctx context.Context, sig syscall.Signal) error {
	if err := r.task.Kill(r.c.Context(ctx), sig); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("killing container %s: %w", r.ID, err)
	}
	return nil
}

// ExecOptions describe a process to run in a running container.
type ExecOptions struct {
	// Args is the command line.
	Args []string
	// Env entries are added to the container's.
	Env []string
	// Cwd overrides the container's working directory.
	Cwd string
	// User overrides the container's user (UID, GID).
	User *specs.User
}

// Exec runs args in the running container, like `ctr task exec`, and waits for
// it. The error is nil when the process ran, whatever its exit status; when ctx
// ends first the process is killed.
func (r *Running) Exec(ctx context.Context, args ...string) (*Result, error) {
	return r.ExecWith(ctx, ExecOptions{Args: args})
}

// ExecWith is [Running.Exec] with options.
func (r *Running) ExecWith(ctx context.Context, opts ExecOptions) (*Result, error) {
	if len(opts.Args) == 0 {
		return nil, fmt.Errorf("exec in container %s: no command", r.ID)
	}
	nsctx := r.c.Context(ctx)
	spec, err := r.container.Spec(nsctx)
	if err != nil {
		return nil, fmt.Errorf("exec in container %s: %w", r.ID, err)
	}
	p := *spec.Process
	p.Args = opts.Args
	p.Terminal = false
	p.Env = append(append([]string(nil), p.Env...), opts.Env...)
	if opts.Cwd != "" {
		p.Cwd = opts.Cwd
	}
	if opts.User != nil {
		p.User = *opts.User
	}
	execID := UniqueID("exec")
	stdout, stderr := &SyncBuffer{}, &SyncBuffer{}
	proc, err := r.task.Exec(nsctx, execID, &p, r.c.ioCreator(stdout, stderr))
	if err != nil {
		return nil, fmt.Errorf("exec in container %s: %w", r.ID, err)
	}
	bg := r.c.Context(context.Background())
	abandon := func(err error) (*Result, error) {
		dctx, cancel := context.WithTimeout(bg, 15*time.Second)
		defer cancel()
		_, _ = proc.Delete(dctx, client.WithProcessKill)
		return nil, fmt.Errorf("exec in container %s: %w", r.ID, err)
	}
	statusCh, err := proc.Wait(bg)
	if err != nil {
		return abandon(err)
	}
	if err := proc.Start(nsctx); err != nil {
		return abandon(err)
	}
	res := &Result{ID: r.ID, Pid: proc.Pid()}
	var waitErr error
	var st client.ExitStatus
	select {
	case st = <-statusCh:
	case <-ctx.Done():
		waitErr = ctx.Err()
		kctx, cancel := context.WithTimeout(bg, 10*time.Second)
		_ = proc.Kill(kctx, syscall.SIGKILL)
		select {
		case st = <-statusCh:
		case <-kctx.Done():
		}
		cancel()
	}
	code, _, err := st.Result()
	res.ExitStatus = int(code)
	if waitErr == nil {
		waitErr = err
	}
	// Delete closes the process's IO after draining it.
	dctx, cancel := context.WithTimeout(bg, 15*time.Second)
	_, delErr := proc.Delete(dctx, client.WithProcessKill)
	cancel()
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	if waitErr != nil {
		return res, fmt.Errorf("exec %q in container %s: %w", opts.Args, r.ID, waitErr)
	}
	if delErr != nil && !errdefs.IsNotFound(delErr) {
		return res, fmt.Errorf("exec %q in container %s: deleting process: %w", opts.Args, r.ID, delErr)
	}
	return res, nil
}

// Delete kills the container if it still runs, then deletes its task,
// container and snapshot. Calling it again returns the first result.
func (r *Running) Delete(ctx context.Context) error {
	r.deleteOnce.Do(func() {
		r.deleteErr = r.delete(r.c.Context(ctx))
		r.c.untrack(r)
	})
	return r.deleteErr
}

// Close is Delete with a 15-second bound.
func (r *Running) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return r.Delete(ctx)
}

func (r *Running) delete(ctx context.Context) error {
	var errs []error
	if r.task != nil {
		select {
		case <-r.exited:
		default:
			if err := r.task.Kill(ctx, syscall.SIGKILL, client.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("killing container %s: %w", r.ID, err))
			}
			select {
			case <-r.exited:
			case <-ctx.Done():
			}
		}
		if _, err := r.task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting task %s: %w", r.ID, err))
		}
	}
	if err := r.container.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("deleting container %s: %w", r.ID, err))
	}
	return errors.Join(errs...)
}
