package fanotify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/monitor/rules"
	"github.com/confinehq/confine/profiles"
)

// volume makes a host directory to bind-mount at /data: secret.txt
// (files.deny), ro/file (files.readOnly), rw/ (free).
func volume(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"secret.txt": "s3cret\n", "ro/file": "original\n", "rw/file": "free\n"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "rw"), 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestGuardEnforce runs a container whose guard was started by its
// createRuntime hook with the test profile in enforce mode.
func TestGuardEnforce(t *testing.T) {
	c := testbed.Start(t)
	vol := volume(t)
	// The container's very first command reads a denied file: the guard is
	// in place before user code runs.
	gc := startGuarded(t, c, testbed.RunOptions{
		Args:   []string{"/bin/sh", "-c", "cat /etc/shadow >/dev/null 2>/tmp/init.err; echo $? >/tmp/init.rc; exec sleep 3600"},
		Mounts: []testbed.Mount{{Source: vol, Destination: "/data"}},
	}, guardOpts{mode: profiles.ModeEnforce})
	if !slices.Contains(gc.g.Marked(), "/data") {
		t.Fatalf("marked mounts %v, want /data among them", gc.g.Marked())
	}

	t.Run("first command of the container is guarded", func(t *testing.T) {
		deadline := time.Now().Add(bound)
		for {
			res := gc.sh(t, "cat /tmp/init.rc /tmp/init.err")
			if res.ExitStatus == 0 {
				expect(t, "init", res, 0, "1\n", "")
				if !strings.Contains(res.Stdout, "Operation not permitted") {
					t.Errorf("init's cat of /etc/shadow: %q, want EPERM", res.Stdout)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("init never wrote its result: %+v", res)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("copied binary does not run", func(t *testing.T) {
		res := gc.sh(t, "mkdir -p /tmp/x && cp /bin/busybox /tmp/x/busybox && /tmp/x/busybox sh -c 'echo ran > /tmp/marker'")
		expect(t, "copied busybox", res, 126, "", "Operation not permitted")
		if res := gc.sh(t, "test -e /tmp/marker"); res.ExitStatus != 1 {
			t.Errorf("marker exists: the copied binary ran")
		}
		if _, err := os.Stat(filepath.Join(gc.rootfs(), "tmp/marker")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("marker on the rootfs: %v", err)
		}
		reps := gc.reports.find("/tmp/x/busybox")
		if len(reps) == 0 || reps[0].Verdict.Allow || reps[0].Verdict.Violation.Rule != rules.RuleExec || reps[0].Event.PID == 0 {
			t.Errorf("reports about /tmp/x/busybox: %+v", reps)
		}
	})

	t.Run("copied binary as the exec'd process itself", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		res, err := gc.r.Exec(ctx, "/tmp/x/busybox", "sh", "-c", "echo ran > /tmp/marker2")
		if err == nil && res.ExitStatus == 0 {
			t.Errorf("exec of the copied binary through the runtime succeeded: %+v", res)
		}
		if res := gc.sh(t, "test -e /tmp/marker2"); res.ExitStatus != 1 {
			t.Errorf("marker2 exists: the copied binary ran")
		}
	})

	t.Run("script with an allowed interpreter runs, with a forbidden one not", func(t *testing.T) {
		res := gc.sh(t, "printf '#!/bin/busybox sh\\necho script-ran\\n' > /tmp/ok.sh && chmod +x /tmp/ok.sh && /tmp/ok.sh")
		expect(t, "script", res, 0, "script-ran", "")
		res = gc.sh(t, "printf '#!/tmp/x/busybox sh\\necho bad-ran\\n' > /tmp/bad.sh && chmod +x /tmp/bad.sh && /tmp/bad.sh")
		if res.ExitStatus == 0 || strings.Contains(res.Stdout, "bad-ran") {
			t.Errorf("script with a forbidden interpreter ran: %+v", res)
		}
	})

	t.Run("files.deny glob", func(t *testing.T) {
		res := gc.sh(t, "cat /etc/shadow")
		expect(t, "cat /etc/shadow", res, 1, "", "Operation not permitted")
		if strings.Contains(res.Stdout, testbed.ShadowContent) {
			t.Error("shadow content leaked")
		}
		// cat exits the moment its open fails: who asked is read before
		// the answer, or it could not be read at all.
		reps := gc.reports.find("/etc/shadow")
		if len(reps) == 0 || reps[len(reps)-1].Event.PID == 0 || reps[len(reps)-1].Event.Exe != "/bin/busybox" {
			t.Errorf("reports about /etc/shadow lack the requester (pid, exe): %+v", reps)
		}
		// Through a symlink and a hard link: the kernel reports the real
		// file; a hard link is another name the rules do not deny, so the
		// cache must not let it admit /etc/shadow afterwards.
		expect(t, "cat through symlink", gc.sh(t, "ln -sf /etc/shadow /tmp/sl && cat /tmp/sl"), 1, "", "Operation not permitted")
		expect(t, "hard link", gc.sh(t, "ln -f /etc/shadow /tmp/hl 2>&1; cat /tmp/hl >/dev/null 2>&1; cat /etc/shadow"), 1, "", "Operation not permitted")
	})

	t.Run("files.readOnly", func(t *testing.T) {
		before, err := os.ReadFile(filepath.Join(gc.rootfs(), "etc/passwd"))
		if err != nil {
			t.Fatal(err)
		}
		expect(t, "append to /etc/passwd", gc.sh(t, "echo x >> /etc/passwd"), 1, "", "Operation not permitted")
		expect(t, "truncate /etc/passwd", gc.sh(t, "echo x > /etc/passwd"), 1, "", "Operation not permitted")
		expect(t, "create in /etc", gc.sh(t, "touch /etc/newfile"), 1, "", "Operation not permitted")
		// The kernel asks after creating: the denied open leaves an empty file.
		if fi, err := os.Stat(filepath.Join(gc.rootfs(), "etc/newfile")); err == nil {
			t.Logf("a denied O_CREAT open left /etc/newfile (%d bytes)", fi.Size())
		}
		after, err := os.ReadFile(filepath.Join(gc.rootfs(), "etc/passwd"))
		if err != nil {
			t.Fatal(err)
		}
		if string(before) != string(after) {
			t.Errorf("/etc/passwd changed:\n%s", after)
		}
	})

	t.Run("allowed workload", func(t *testing.T) {
		expect(t, "ls", gc.sh(t, "ls / && ls /etc"), 0, "passwd", "")
		expect(t, "cat passwd", gc.sh(t, "cat /etc/passwd"), 0, "root:x:0:0", "")
		expect(t, "write tmp", gc.sh(t, "echo hi > /tmp/f && cat /tmp/f"), 0, "hi", "")
		res := gc.sh(t, "cat /etc/passwd | wc -l")
		expect(t, "pipeline", res, 0, "2", "")
		if res.ExitStatus != 0 || res.Stderr != "" {
			for _, r := range gc.reports.find("/etc/passwd") {
				t.Logf("report: %+v", r)
			}
		}
	})

	t.Run("volume", func(t *testing.T) {
		expect(t, "deny on volume", gc.sh(t, "cat /data/secret.txt"), 1, "", "Operation not permitted")
		expect(t, "readOnly read on volume", gc.sh(t, "cat /data/ro/file"), 0, "original", "")
		expect(t, "readOnly write on volume", gc.sh(t, "echo x >> /data/ro/file"), 1, "", "Operation not permitted")
		expect(t, "free write on volume", gc.sh(t, "echo y >> /data/rw/file && cat /data/rw/file"), 0, "free\ny", "")
		expect(t, "exec from volume", gc.sh(t, "cp /bin/busybox /data/rw/bb && /data/rw/bb true"), 126, "", "Operation not permitted")
		if b, _ := os.ReadFile(filepath.Join(vol, "ro/file")); string(b) != "original\n" {
			t.Errorf("volume's ro/file changed: %q", b)
		}
		// The host itself is not behind the guard: only the container's
		// mount of the volume is marked.
		if _, err := os.ReadFile(filepath.Join(vol, "secret.txt")); err != nil {
			t.Errorf("host read of the volume: %v", err)
		}
	})

	t.Run("host processes are not judged", func(t *testing.T) {
		before := gc.g.Stats().Host
		b, err := os.ReadFile(filepath.Join(gc.rootfs(), "etc/shadow"))
		if err != nil || string(b) != testbed.ShadowContent {
			t.Fatalf("host read of the rootfs's etc/shadow: %q %v", b, err)
		}
		if gc.g.Stats().Host == before {
			t.Error("the host's read was not seen as a host event")
		}
	})

	t.Run("cache", func(t *testing.T) {
		s0 := gc.g.Stats()
		for i := 0; i < 3; i++ {
			expect(t, "cat passwd", gc.sh(t, "cat /etc/passwd >/dev/null"), 0, "", "")
		}
		s1 := gc.g.Stats()
		if s1.Cached <= s0.Cached {
			t.Errorf("no cache hits: before %+v after %+v", s0, s1)
		}
		gc.g.InvalidateCache()
		expect(t, "after invalidation", gc.sh(t, "cat /etc/passwd >/dev/null; cat /etc/shadow"), 1, "", "Operation not permitted")
	})

	t.Run("profile reload", func(t *testing.T) {
		p := testProfile(profiles.ModeEnforce)
		p.Files.Deny = profiles.List{"/etc/group"}
		gc.g.SetDecide(RulesDecider(compile(t, p), p.Mode))
		expect(t, "newly denied", gc.sh(t, "cat /etc/group"), 1, "", "Operation not permitted")
		expect(t, "no longer denied", gc.sh(t, "cat /etc/shadow"), 0, testbed.ShadowContent, "")
		gc.g.SetDecide(RulesDecider(compile(t, testProfile(profiles.ModeEnforce)), profiles.ModeEnforce))
	})

	st := gc.g.Stats()
	t.Logf("stats: %+v", st)
	if st.Timeouts+st.Overflows+st.Errors != 0 {
		t.Errorf("events answered without a decision: %+v\n%s", st, gc.log.String())
	}
}

// TestGuardInterpreter runs a dynamically linked program: its ELF
// interpreter is opened for execution too, and must not need an
// exec.allow entry of its own, while running the loader directly does.
func TestGuardInterpreter(t *testing.T) {
	interp := func() string {
		f, err := os.Open("/usr/bin/true")
		if err != nil {
			return ""
		}
		defer f.Close()
		_, in, _ := parseELFInterp(f)
		return in
	}()
	if interp == "" || !strings.HasPrefix(interp, "/lib") {
		t.Skipf("/usr/bin/true is not linked against a loader in /lib*: %q", interp)
	}
	c := testbed.Start(t)
	bin := buildOpenloop(t)
	p := testProfile(profiles.ModeEnforce)
	p.Exec.Allow = profiles.List{"/bin/busybox", "/usr/bin/true", "/bench/openloop"}
	// /usr from the host, read-only; /lib and /lib64 as in merged-/usr.
	gc := startGuarded(t, c, testbed.RunOptions{
		Args: []string{"/bin/sh", "-c", "ln -s usr/lib /lib && ln -s usr/lib64 /lib64 && exec sleep 3600"},
		Mounts: []testbed.Mount{
			{Source: "/usr", Destination: "/usr", ReadOnly: true},
			{Source: bin, Destination: "/bench", ReadOnly: true},
		},
	}, guardOpts{profile: p})
	deadline := time.Now().Add(bound)
	for gc.sh(t, "test -L /lib64").ExitStatus != 0 {
		if time.Now().After(deadline) {
			t.Fatal("init did not make /lib64")
		}
		time.Sleep(20 * time.Millisecond)
	}
	expect(t, "allowed dynamic binary", gc.sh(t, "/usr/bin/true && echo ok"), 0, "ok", "")
	expect(t, "forbidden dynamic binary", gc.sh(t, "/usr/bin/false"), 126, "", "Operation not permitted")
	expect(t, "loader run directly", gc.sh(t, interp+" /usr/bin/true"), 126, "", "Operation not permitted")

	// The loader exec'd by the thread whose exec of an allowed dynamic
	// binary failed after the kernel opened it: it looks like that binary's
	// interpreter, and is caught at its first open as the program.
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	res, err := gc.r.Exec(ctx, "/bench/openloop", "-exec-trick", "/usr/bin/true,"+interp+",/usr/bin/echo")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("exec trick: exit %d stdout %q stderr %q", res.ExitStatus, res.Stdout, res.Stderr)
	if !strings.Contains(res.Stderr, "first exec: argument list too long") {
		t.Errorf("the first exec did not fail with E2BIG: %q", res.Stderr)
	}
	if strings.Contains(res.Stdout, "pwned") || res.ExitStatus == 0 {
		t.Errorf("the ELF interpreter ran a program: %+v", res)
	}
	var caught bool
	for _, rep := range gc.reports.all() {
		if rep.Event.Kind == KindExec && !rep.Verdict.Allow && rep.Verdict.Violation != nil && rep.Verdict.Violation.Rule == rules.RuleExec &&
			strings.Contains(rep.Event.Path, "ld-linux") {
			caught = true
		}
	}
	if !caught {
		t.Errorf("no denied exec of the loader reported: %+v", gc.reports.all())
	}
	var sawInterp bool
	for _, rep := range gc.reports.all() {
		if rep.Event.Role == ExecInterpreter {
			sawInterp = true
		}
	}
	if sawInterp {
		t.Error("an interpreter open was reported as a violation")
	}
}

// TestGuardMonitor: in monitor mode nothing is denied and violations are
// reported, cached or not; watch paths report every read.
func TestGuardMonitor(t *testing.T) {
	c := testbed.Start(t)
	gc := startGuarded(t, c, testbed.RunOptions{Args: []string{"sleep", "3600"}}, guardOpts{mode: profiles.ModeMonitor})
	expect(t, "cat shadow", gc.sh(t, "cat /etc/shadow"), 0, testbed.ShadowContent, "")
	expect(t, "copied binary", gc.sh(t, "mkdir -p /tmp/y && cp /bin/busybox /tmp/y/busybox && /tmp/y/busybox echo ran"), 0, "ran", "")
	for i := 0; i < 2; i++ {
		expect(t, "watched", gc.sh(t, "cat /etc/hostname"), 0, "testbed", "")
	}
	reps := gc.reports.find("/etc/shadow")
	if len(reps) == 0 || !reps[0].Verdict.Allow || reps[0].Verdict.Violation == nil || reps[0].Verdict.Violation.Rule != rules.RuleFile {
		t.Errorf("reports about /etc/shadow: %+v", reps)
	}
	if reps := gc.reports.find("/tmp/y/busybox"); len(reps) == 0 || reps[0].Verdict.Violation.Rule != rules.RuleExec {
		t.Errorf("reports about /tmp/y/busybox: %+v", reps)
	}
	watch := gc.reports.find("/etc/hostname")
	if len(watch) != 2 || !watch[0].Verdict.Violation.Watch || watch[1].Source != SourceCache {
		t.Errorf("watch reports: %+v", watch)
	}
}

// slowDecider hangs on one path until release is closed.
func slowDecider(path string, release <-chan struct{}, entered chan<- struct{}) func(Event) Verdict {
	return func(ev Event) Verdict {
		if ev.Path == path {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
		}
		return Verdict{Allow: true}
	}
}

// TestGuardTimeout: a decision that does not come is answered by FailOpen
// within the timeout, and a stuck decider fails further decisions at once
// until it returns.
func TestGuardTimeout(t *testing.T) {
	c := testbed.Start(t)
	for _, tt := range []struct {
		name     string
		failOpen bool
	}{{"fail closed", false}, {"fail open", true}} {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			defer func() {
				select {
				case <-release:
				default:
					close(release)
				}
			}()
			gc := startGuarded(t, c, testbed.RunOptions{Args: []string{"sleep", "3600"}}, guardOpts{
				decide: slowDecider("/tmp/slow", release, make(chan struct{}, 1)), timeout: 300 * time.Millisecond, failOpen: tt.failOpen,
			})
			if err := os.WriteFile(filepath.Join(gc.rootfs(), "tmp/slow"), []byte("slow\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			expect(t, "warm up", gc.sh(t, "cat /etc/passwd > /dev/null"), 0, "", "")
			start := time.Now()
			res := gc.sh(t, "cat /tmp/slow")
			took := time.Since(start)
			if tt.failOpen {
				expect(t, "slow open, fail open", res, 0, "", "")
			} else {
				expect(t, "slow open, fail closed", res, 1, "", "Operation not permitted")
			}
			if took > 5*time.Second {
				t.Errorf("the slow open took %s, timeout 300ms", took)
			}
			reps := gc.reports.find("/tmp/slow")
			if len(reps) == 0 || reps[0].Source != SourceTimeout || !errors.Is(reps[0].Err, ErrTimeout) || reps[0].Verdict.Allow != tt.failOpen {
				t.Errorf("reports about /tmp/slow: %+v", reps)
			}
			// The decider is still stuck: an uncached open is answered at once.
			res = gc.sh(t, "cat /www/index.html")
			if tt.failOpen {
				expect(t, "while stuck, fail open", res, 0, "html", "")
			} else {
				expect(t, "while stuck, fail closed", res, 1, "", "Operation not permitted")
			}
			close(release)
			deadline := time.Now().Add(bound)
			for gc.sh(t, "cat /www/index.html >/dev/null").ExitStatus != 0 {
				if time.Now().After(deadline) {
					t.Fatal("the guard did not recover after the decider returned")
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// TestGuardCloseUnderLoad closes the group while the container opens files
// in a loop and while a decision is pending: nothing hangs.
func TestGuardCloseUnderLoad(t *testing.T) {
	c := testbed.Start(t)
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{}, 1)
	gc := startGuarded(t, c, testbed.RunOptions{
		Args: []string{"/bin/sh", "-c", "i=0; while :; do cat /etc/passwd >/dev/null; i=$((i+1)); echo $i >/tmp/count; done"},
	}, guardOpts{decide: slowDecider("/tmp/slow", release, entered), timeout: time.Minute, cache: -1})

	count := func() string {
		b, _ := os.ReadFile(filepath.Join(gc.rootfs(), "tmp/count"))
		return strings.TrimSpace(string(b))
	}
	waitCount(t, count)
	if err := os.WriteFile(filepath.Join(gc.rootfs(), "tmp/slow"), []byte("slow\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// A process blocked on a decision that will not come before Close.
	type result struct {
		res *testbed.Result
		err error
	}
	slowDone := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		res, err := gc.r.Exec(ctx, "/bin/sh", "-c", "cat /tmp/slow >/dev/null && echo read")
		slowDone <- result{res, err}
	}()
	select {
	case <-entered:
	case <-time.After(bound):
		t.Fatal("the slow open never reached Decide")
	}

	took := closeBounded(t, gc.g)
	t.Logf("Close took %s with a decision pending and the container opening files", took)
	if took > 5*time.Second {
		t.Errorf("Close took %s", took)
	}
	select {
	case r := <-slowDone:
		if r.err != nil || r.res.ExitStatus != 0 || !strings.Contains(r.res.Stdout, "read") {
			t.Errorf("the pending open after Close: %+v %v", r.res, r.err)
		}
	case <-time.After(bound):
		t.Fatal("the process waiting for a decision hung after Close")
	}
	waitCount(t, count)
	expect(t, "after close", gc.sh(t, "cat /etc/shadow >/dev/null && echo ok"), 0, "ok", "")
}

// waitCount waits for a counter the container increments to move.
func waitCount(t *testing.T, count func() string) {
	t.Helper()
	first := count()
	deadline := time.Now().Add(bound)
	for count() == first || count() == "" {
		if time.Now().After(deadline) {
			t.Fatalf("the container's loop is stuck at %q", first)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestGuardRefusesHostFilesystems: no filesystem mark on a host file
// system, no mount mark through a symlink that leads out.
func TestGuardRefusesHostFilesystems(t *testing.T) {
	testbed.RequiresRoot(t)
	allow := func(Event) Verdict { return Verdict{Allow: true} }
	for _, tt := range []struct {
		name, rootfs string
	}{{"root", "/"}, {"tmp dir", t.TempDir()}, {"proc", "/proc"}} {
		t.Run(tt.name, func(t *testing.T) {
			g, err := NewGuard(GuardConfig{ID: "host", Pid: os.Getpid(), RootfsPath: tt.rootfs, Decide: allow})
			if err == nil {
				g.Close()
				t.Fatalf("a guard on %s was created", tt.rootfs)
			}
			if !errors.Is(err, ErrHostFilesystem) {
				t.Fatalf("error %v is not ErrHostFilesystem", err)
			}
		})
	}

	c := testbed.Start(t)
	r, err := c.Start(context.Background(), testbed.RunOptions{Args: []string{"/bin/sh", "-c", "ln -s / /hostroot; ln -s /proc/1/root /magic; exec sleep 3600"}})
	if err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(c.State, "io.containerd.runtime.v2.task", c.Namespace, r.ID, "rootfs")
	deadline := time.Now().Add(bound)
	for shIn(t, r, "test -L /magic").ExitStatus != 0 {
		if time.Now().After(deadline) {
			t.Fatal("init did not make its symlinks")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The container's root (pivoted: the guard finds it through
	// /proc/<pid>/root) with a symlink to "/": resolved inside the
	// container it is the rootfs, already covered, never the host's "/".
	g, err := NewGuard(GuardConfig{ID: r.ID, Pid: int(r.Pid()), RootfsPath: rootfs, Mounts: []string{"/hostroot"}, Decide: allow})
	if err != nil {
		t.Fatalf("guard with a symlink to / among its mounts: %v", err)
	}
	if m := g.Marked(); len(m) != 0 {
		t.Errorf("marked %v through a symlink to /", m)
	}
	closeBounded(t, g)
	if g, err := NewGuard(GuardConfig{ID: r.ID, Pid: int(r.Pid()), RootfsPath: rootfs, Mounts: []string{"/magic"}, Decide: allow}); err == nil {
		g.Close()
		t.Error("a mount through /proc/1/root was marked")
	}
	// Another container's rootfs is not this process's root.
	if g, err := NewGuard(GuardConfig{ID: r.ID, Pid: os.Getpid(), RootfsPath: rootfs, Decide: allow}); err == nil {
		g.Close()
		t.Error("a guard for a process whose root is not the rootfs was created")
	}
}

// TestGuardReadOnlyRace: a read of a readOnly path is never taken for a
// write, also when the guard reads the event before the requester sleeps
// (/proc/<tid>/syscall says "running" then). Every open is decided.
func TestGuardReadOnlyRace(t *testing.T) {
	c := testbed.Start(t)
	gc := startGuarded(t, c, testbed.RunOptions{Args: []string{"sleep", "3600"}}, guardOpts{mode: profiles.ModeEnforce, cache: -1})
	res := gc.sh(t, "for i in $(seq 300); do cat /etc/passwd | wc -l >/dev/null; done")
	expect(t, "300 pipelines", res, 0, "", "")
	if res.Stderr != "" || len(gc.reports.find("/etc/passwd")) != 0 {
		t.Errorf("reads of /etc/passwd were denied: %q %+v", res.Stderr, gc.reports.find("/etc/passwd"))
	}
}

// TestGuardAttachRunning starts a guard on a container that already runs
// (a daemon restart): the container has pivoted, its root and its volume
// are found through /proc/<pid>/root.
func TestGuardAttachRunning(t *testing.T) {
	c := testbed.Start(t)
	vol := volume(t)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	r, err := c.Start(ctx, testbed.RunOptions{Args: []string{"sleep", "3600"}, Mounts: []testbed.Mount{{Source: vol, Destination: "/data"}}})
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(c.State, "io.containerd.runtime.v2.task", c.Namespace, r.ID)
	spec, err := readSpec(bundle)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "before the guard", shIn(t, r, "cat /data/secret.txt"), 0, "s3cret", "")
	p := testProfile(profiles.ModeEnforce)
	g, err := NewGuard(GuardConfig{
		ID: r.ID, Pid: int(r.Pid()), RootfsPath: filepath.Join(bundle, "rootfs"), Mounts: MountsFromSpec(spec),
		Decide: RulesDecider(compile(t, p), p.Mode),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer closeBounded(t, g)
	if !slices.Contains(g.Marked(), "/data") {
		t.Errorf("marked %v, want /data among them", g.Marked())
	}
	expect(t, "volume deny", shIn(t, r, "cat /data/secret.txt"), 1, "", "Operation not permitted")
	expect(t, "rootfs deny", shIn(t, r, "cat /etc/shadow"), 1, "", "Operation not permitted")
	expect(t, "allowed", shIn(t, r, "cat /data/ro/file /etc/passwd"), 0, "original", "")
}
