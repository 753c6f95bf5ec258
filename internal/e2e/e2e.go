// Package e2e is the harness of confine's end-to-end tests: it builds the
// four binaries once per test binary (or takes them from $CONFINE_BIN, as
// `make test` sets), writes a confine.toml for a private containerd, and
// starts and stops a real confined by its PID.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
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

	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/testbed"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Binaries returns the directory holding confined, confine-runc,
// confine-hook and confinectl (and race/confined, confined built with the
// race detector, which StartConfined prefers).
func Binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if d := os.Getenv("CONFINE_BIN"); d != "" {
			binDir = d
			return
		}
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "confine-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		for _, args := range [][]string{
			{"build", "-o", dir + "/", "./cmd/..."},
			{"build", "-race", "-o", filepath.Join(dir, "race") + "/", "./cmd/confined"},
		} {
			cmd := exec.Command("go", args...)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("building binaries (go %s): %v\n%s", strings.Join(args, " "), err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// Bed is a private containerd wired for confine: its shims see
// CONFINE_CONFIG, so confine-runc and confine-hook read the test's config.
type Bed struct {
	*testbed.Containerd
	Bin        string
	Dir        string // config, run_dir, state_dir, profiles
	ConfigPath string
	RunDir     string
	StateDir   string
	Profiles   string
	AlertsPath string
	Runc       string // confine-runc, for RunOptions.Runtime
	// MetricsAddress is where confined serves /metrics ("" when the
	// test's own config sets metrics_address).
	MetricsAddress string
}

// NewBed starts a private containerd whose environment names the test's
// confine.toml. Call WriteConfig (or StartConfined) before creating
// containers through confine-runc.
func NewBed(t testing.TB) *Bed {
	t.Helper()
	testbed.RequiresRoot(t)
	bin := Binaries(t)
	dir, err := os.MkdirTemp("", "cfe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	b := &Bed{
		Bin: bin, Dir: dir, ConfigPath: filepath.Join(dir, "confine.toml"),
		RunDir: filepath.Join(dir, "run"), StateDir: filepath.Join(dir, "state"),
		Profiles: filepath.Join(dir, "profiles.d"), AlertsPath: filepath.Join(dir, "alerts.jsonl"),
		Runc: filepath.Join(bin, "confine-runc"),
	}
	for _, d := range []string{b.RunDir, b.StateDir, b.Profiles} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	b.Containerd = testbed.StartWith(t, testbed.Options{Env: []string{"CONFINE_CONFIG=" + b.ConfigPath}})
	b.WriteConfig(t, "")
	return b
}

// ProcessEventsEnv names the environment variable whose value, when set,
// becomes confined's process_events key in every bed ("bpf",
// "proc_connector").
const ProcessEventsEnv = "CONFINE_E2E_PROCESS_EVENTS"

// WriteConfig writes confine.toml with the bed's paths plus extra TOML.
func (b *Bed) WriteConfig(t testing.TB, extra string) {
	t.Helper()
	cfg := fmt.Sprintf(`containerd_address = %q
runc_path = %q
hook_path = %q
profiles_dir = %q
state_dir = %q
run_dir = %q
`, b.Address, testbed.RuncPath(), filepath.Join(b.Bin, "confine-hook"), b.Profiles, b.StateDir, b.RunDir)
	if !strings.Contains(extra, "alert_sinks") {
		cfg += fmt.Sprintf("alert_sinks = [\"jsonl:%s\"]\n", b.AlertsPath)
	}
	if !strings.Contains(extra, "rescan_interval") {
		cfg += "rescan_interval = \"500ms\"\n"
	}
	b.MetricsAddress = ""
	if !strings.Contains(extra, "metrics_address") {
		b.MetricsAddress = freeAddress(t)
		cfg += fmt.Sprintf("metrics_address = %q\n", b.MetricsAddress)
	}
	// make test runs the suite with each process event source.
	if v := os.Getenv(ProcessEventsEnv); v != "" && !strings.Contains(extra, "process_events") {
		cfg += fmt.Sprintf("process_events = %q\n", v)
	}
	cfg += extra + "\n"
	if err := os.WriteFile(b.ConfigPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// WriteProfile writes a profile file into the profiles directory.
func (b *Bed) WriteProfile(t testing.TB, name, yaml string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(b.Profiles, name+".yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Confined is a running confined.
type Confined struct {
	Cmd    *exec.Cmd
	Log    string
	Client *api.Client
	done   chan struct{}
}

// StartConfined starts confined on the bed's config and waits until its
// API answers and containerd is connected. It is stopped (SIGTERM, then
// SIGKILL) by its PID when the test ends.
func (b *Bed) StartConfined(t testing.TB, env ...string) *Confined {
	t.Helper()
	for _, e := range env {
		if key, ok := retiredSwitches[strings.SplitN(e, "=", 2)[0]]; ok {
			t.Fatalf("%s is no longer read by confined: write %s into the bed's config (WriteConfig)", e, key)
		}
	}
	logPath := filepath.Join(b.Dir, fmt.Sprintf("confined-%d.log", time.Now().UnixNano()))
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ConfinedPath(b.Bin), "--debug")
	cmd.Env = append(append(os.Environ(), "CONFINE_CONFIG="+b.ConfigPath), env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lf.Close()
	c := &Confined{Cmd: cmd, Log: logPath, Client: api.NewClient(filepath.Join(b.RunDir, api.SocketName), 5*time.Second), done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.Stop(t)
		if data, _ := os.ReadFile(logPath); raceReport(string(data)) != "" {
			t.Errorf("confined reported a data race:\n%s", raceReport(string(data)))
		}
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			t.Logf("confined log:\n%s", tail(string(data), 80))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := c.Client.Status(ctx)
		cancel()
		if err == nil && st.ContainerdConnected {
			return c
		}
		select {
		case <-c.done:
			data, _ := os.ReadFile(logPath)
			t.Fatalf("confined exited during start-up:\n%s", tail(string(data), 40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("confined did not become ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// retiredSwitches are environment variables confined once read, with the
// confine.toml key that replaced each: passing one would silently change
// nothing.
var retiredSwitches = map[string]string{
	"CONFINE_NO_FANOTIFY":     "fanotify_guard = false",
	"CONFINE_NO_PROC_EVENTS":  `process_events = "none"`,
	"CONFINE_NO_SECRETS":      "secret_watch = false",
	"CONFINE_NO_CAP_RECORDER": "capability_recorder = false",
	"CONFINE_PROC_ROOT":       `proc_root = "/path"`,
	"CONFINE_JOURNAL_SOCKET":  `alert_sinks = ["journald:/path"]`,
	"CONFINE_CPU_PROFILE":     `cpu_profile = "/path"`,
	"CONFINE_CPU_PROFILE_FOR": `cpu_profile_for = "30s"`,
}

// raceWarning starts every report of Go's race detector. A confined built
// with -race writes it to its log (GORACE's default) and carries on: the
// test that started it fails when it is stopped.
const raceWarning = "WARNING: DATA RACE"

// raceReport returns the first data race report in a confined log (its
// first 120 lines), or "".
func raceReport(log string) string {
	i := strings.Index(log, raceWarning)
	if i < 0 {
		return ""
	}
	return head(log[i:], 120)
}

// ConfinedPath is the confined that tests run: race/confined (built with
// -race, as `make test` and Binaries do) when it exists, else confined.
// Benchmarks (CONFINE_BENCH=1) always measure the plain confined.
func ConfinedPath(bin string) string {
	if p := filepath.Join(bin, "race", "confined"); os.Getenv("CONFINE_BENCH") == "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join(bin, "confined")
}

// Stop stops confined with SIGTERM (SIGKILL after 10s).
func (c *Confined) Stop(t testing.TB) {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.Cmd.Process.Kill()
		<-c.done
	}
}

// Kill stops confined with SIGKILL, as a crash would.
func (c *Confined) Kill() {
	_ = c.Cmd.Process.Kill()
	<-c.done
}

// Alerts reads the jsonl alert sink.
func (b *Bed) Alerts(t testing.TB) []map[string]any {
	t.Helper()
	f, err := os.Open(b.AlertsPath)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("alert line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// WaitAlert waits (bounded) for an alert whose fields include want.
func (b *Bed) WaitAlert(t testing.TB, timeout time.Duration, want map[string]string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, a := range b.Alerts(t) {
			if matches(a, want) {
				return a
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no alert with %v; alerts: %v", want, b.Alerts(t))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// FindAlerts returns the alerts whose fields include want.
func (b *Bed) FindAlerts(t testing.TB, want map[string]string) []map[string]any {
	var out []map[string]any
	for _, a := range b.Alerts(t) {
		if matches(a, want) {
			out = append(out, a)
		}
	}
	return out
}

func matches(a map[string]any, want map[string]string) bool {
	for k, v := range want {
		if fmt.Sprint(a[k]) != v {
			return false
		}
	}
	return true
}

// Ctl runs confinectl with the bed's config.
func (b *Bed) Ctl(t testing.TB, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(b.Bin, "confinectl"), args...)
	cmd.Env = append(os.Environ(), "CONFINE_CONFIG="+b.ConfigPath)
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return so.String(), se.String(), code
}

func head(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
