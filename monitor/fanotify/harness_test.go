package fanotify

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/confinehq/confine/hooks/hookrun"
	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/monitor/rules"
	"github.com/confinehq/confine/profiles"
)

// hookEnv, when set, makes the test binary an OCI createRuntime hook that
// hands the container's state to the test listening on that socket and
// waits for the guard to be up, like confine-hook does with confined.
const hookEnv = "CONFINE_FANOTIFY_TEST_HOOK"

// bound is how long a test waits for something that takes milliseconds.
// Reaching it is a failure (a hang), never a measurement.
const bound = 30 * time.Second

func TestMain(m *testing.M) {
	if sock := os.Getenv(hookEnv); sock != "" {
		os.Exit(runHook(sock))
	}
	// Processes the tests orphan (killed helpers' children) are reaped
	// here: PID 1 of the test machines does not reap.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	os.Exit(m.Run())
}

// runHook is the createRuntime hook: state to the test, wait for "ok".
func runHook(sock string) int {
	st, err := hookrun.ReadState(os.Stdin, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "test hook:", err)
		return 1
	}
	conn, err := net.DialTimeout("unix", sock, 10*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, "test hook:", err)
		return 1
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(bound))
	if err := json.NewEncoder(conn).Encode(st); err != nil {
		fmt.Fprintln(os.Stderr, "test hook:", err)
		return 1
	}
	reply, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || reply != "ok\n" {
		fmt.Fprintf(os.Stderr, "test hook: guard not started: %q %v\n", reply, err)
		return 1
	}
	return 0
}

// reports collects what a guard reports.
type reports struct {
	mu   sync.Mutex
	list []Report
}

func (r *reports) add(rep Report) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, rep)
}

// all returns every report so far.
func (r *reports) all() []Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Report(nil), r.list...)
}

// find returns the reports about path.
func (r *reports) find(path string) []Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Report
	for _, rep := range r.list {
		if rep.Event.Path == path {
			out = append(out, rep)
		}
	}
	return out
}

// guarded is a container whose guard was started by its createRuntime
// hook, before any of its code ran.
type guarded struct {
	r       *testbed.Running
	g       *Guard
	state   api.State
	reports *reports
	log     *testbed.SyncBuffer
}

// rootfs is the container's rootfs as the host sees it.
func (c *guarded) rootfs() string { return filepath.Join(c.state.Bundle, "rootfs") }

// guardOpts tune the guard of startGuarded.
type guardOpts struct {
	mode     profiles.Mode
	profile  *profiles.Profile
	decide   func(Event) Verdict // overrides the profile
	timeout  time.Duration
	failOpen bool
	cache    int
	noMounts bool
}

// startGuarded starts a container with a createRuntime hook that starts a
// guard on it (rootfs from the bundle, mounts from the bundle's spec via
// MountsFromSpec), the way confined does.
func startGuarded(t *testing.T, c *testbed.Containerd, opts testbed.RunOptions, gopts guardOpts) *guarded {
	t.Helper()
	dir, err := os.MkdirTemp("", "fg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "h.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	hookTimeout := int(bound / time.Second)
	opts.SpecOpts = append(opts.SpecOpts, func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Hooks == nil {
			s.Hooks = &specs.Hooks{}
		}
		s.Hooks.CreateRuntime = append(s.Hooks.CreateRuntime, specs.Hook{
			Path: exe, Args: []string{exe}, Env: []string{hookEnv + "=" + sock}, Timeout: &hookTimeout,
		})
		return nil
	})

	type started struct {
		r   *testbed.Running
		err error
	}
	startCh := make(chan started, 1)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	go func() {
		r, err := c.Start(ctx, opts)
		startCh <- started{r, err}
	}()

	gc := &guarded{reports: &reports{}, log: &testbed.SyncBuffer{}}
	setup := func() error {
		_ = ln.(*net.UnixListener).SetDeadline(time.Now().Add(bound))
		conn, err := ln.Accept()
		if err != nil {
			return fmt.Errorf("waiting for the createRuntime hook: %w", err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(bound))
		if err := json.NewDecoder(conn).Decode(&gc.state); err != nil {
			return fmt.Errorf("reading hook state: %w", err)
		}
		g, err := newTestGuard(t, gc, gopts)
		if err != nil {
			fmt.Fprintf(conn, "fail: %v\n", err)
			return err
		}
		gc.g = g
		_, err = conn.Write([]byte("ok\n"))
		return err
	}
	setupErr := setup()
	st := <-startCh
	if st.err != nil {
		if gc.g != nil {
			gc.g.Close()
		}
		t.Fatalf("starting container: %v (guard setup: %v)", st.err, setupErr)
	}
	gc.r = st.r
	t.Cleanup(func() {
		if gc.g != nil {
			closeBounded(t, gc.g)
		}
		if t.Failed() {
			t.Logf("guard log:\n%s", gc.log.String())
		}
	})
	if setupErr != nil {
		t.Fatalf("starting the guard: %v", setupErr)
	}
	return gc
}

func newTestGuard(t *testing.T, gc *guarded, gopts guardOpts) (*Guard, error) {
	spec, err := readSpec(gc.state.Bundle)
	if err != nil {
		return nil, err
	}
	decide := gopts.decide
	if decide == nil {
		p := gopts.profile
		if p == nil {
			p = testProfile(gopts.mode)
		}
		set, err := rules.Compile(p)
		if err != nil {
			return nil, err
		}
		decide = RulesDecider(set, p.Mode)
	}
	cfg := GuardConfig{
		ID:         gc.state.ID,
		Pid:        gc.state.Pid,
		RootfsPath: filepath.Join(gc.state.Bundle, "rootfs"),
		Mounts:     MountsFromSpec(spec),
		Decide:     decide,
		Report:     gc.reports.add,
		Timeout:    gopts.timeout,
		FailOpen:   gopts.failOpen,
		CacheSize:  gopts.cache,
		Log:        newLogger(gc.log),
	}
	if gopts.noMounts {
		cfg.Mounts = nil
	}
	return NewGuard(cfg)
}

// newLogger logs everything to w.
func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func readSpec(bundle string) (*specs.Spec, error) {
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("reading bundle spec: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decoding bundle spec: %w", err)
	}
	return &s, nil
}

// closeBounded closes a guard and fails if that hangs.
func closeBounded(t testing.TB, g *Guard) time.Duration {
	t.Helper()
	start := time.Now()
	done := make(chan struct{})
	go func() { g.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(bound):
		t.Errorf("Close did not return within %s", bound)
	}
	return time.Since(start)
}

// sh runs a shell script in the container, bounded.
func (c *guarded) sh(t *testing.T, script string) *testbed.Result {
	t.Helper()
	return shIn(t, c.r, script)
}

func shIn(t testing.TB, r *testbed.Running, script string) *testbed.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	res, err := r.Exec(ctx, "/bin/sh", "-c", script)
	if err != nil {
		t.Fatalf("exec %q: %v (result %+v)", script, err, res)
	}
	return res
}

// expect checks an exec result.
func expect(t *testing.T, what string, res *testbed.Result, status int, stdout, stderr string) {
	t.Helper()
	if res.ExitStatus != status || !strings.Contains(res.Stdout, stdout) || !strings.Contains(res.Stderr, stderr) {
		t.Errorf("%s: exit %d stdout %q stderr %q; want exit %d, stdout with %q, stderr with %q",
			what, res.ExitStatus, res.Stdout, res.Stderr, status, stdout, stderr)
	}
}
