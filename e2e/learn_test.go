package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/profiles"
)

// learnWorkload is a busybox workload the code was not tailored to: httpd
// serving a directory, wget fetching from it, and a dozen applets.
const learnWorkload = `httpd -p 8080 -h /www; i=0; while [ $i -lt 12 ]; do wget -q -O /dev/null http://127.0.0.1:8080/; ls -l / >/dev/null; grep root /etc/passwd | wc -l >/dev/null; date >/dev/null; id >/dev/null; echo x | sed s/x/y/ | tr y z | sort | uniq > /tmp/out; mkdir -p /tmp/d; touch /tmp/d/f; rm -rf /tmp/d; sleep 0.2; i=$((i+1)); done; echo done > /tmp/finished; sleep 120`

func runWorkload(t *testing.T, bed *e2e.Bed, c *e2e.Confined, label map[string]string) *testbed.Running {
	t.Helper()
	id := testbed.UniqueID("lw")
	r, err := bed.Start(context.Background(), testbed.RunOptions{ID: id, Runtime: bed.Runc, Args: []string{"sh", "-c", learnWorkload}, Labels: label})
	if err != nil {
		t.Fatal(err)
	}
	waitWatched(t, c, bed.Namespace, id)
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := r.Exec(context.Background(), "cat", "/tmp/finished")
		if err == nil && strings.Contains(res.Stdout, "done") {
			return r
		}
		select {
		case <-r.Exited():
			code, _ := r.Wait(context.Background())
			t.Fatalf("workload exited (%d) before finishing; stdout %q stderr %q; alerts %v", code, r.Stdout(), r.Stderr(), bed.FindAlerts(t, map[string]string{"container_id": id}))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("workload did not finish")
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func TestLearnPromoteEnforce(t *testing.T) {
	bed := e2e.NewBed(t)
	bed.WriteProfile(t, "lw", "apiVersion: confine/v1\nname: lw\nmode: learn\nselector:\n  labels: {app: lw}\n")
	c := bed.StartConfined(t)
	labels := map[string]string{"app": "lw"}

	// Learn over three runs (merged across runs; later runs log only what
	// is still unknown).
	for i := 0; i < 3; i++ {
		r := runWorkload(t, bed, c, labels)
		r.Close()
	}
	learned := filepath.Join(bed.StateDir, "learned", "lw.yaml")
	var lp *profiles.Profile
	deadline := time.Now().Add(10 * time.Second)
	for {
		if res, err := profiles.ReadFile(learned, profiles.Options{}); err == nil && len(res.Profile.Seccomp.Allow) > 0 {
			lp = res.Profile
			break
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(learned)
			t.Fatalf("no learned profile with syscalls:\n%s", data)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, want := range []string{"write", "fstatfs", "getdents64", "execve", "wait4", "mkdir", "socket", "connect", "bind", "listen"} {
		if !slices.Contains(lp.Seccomp.Allow, want) && !(want == "mkdir" && slices.Contains(lp.Seccomp.Allow, "mkdirat")) {
			t.Errorf("learned syscalls lack %s: %v", want, lp.Seccomp.Allow)
		}
	}
	if !slices.Contains(lp.Exec.Allow, "/bin/busybox") {
		t.Errorf("learned exec.allow %v", lp.Exec.Allow)
	}
	compareWithStrace(t, lp.Seccomp.Allow)

	// Promote to enforce: the same workload runs with zero alerts.
	if out, se, code := bed.Ctl(t, "profile", "promote", "lw", "--mode", "enforce"); code != 0 {
		t.Fatalf("promote: %d %s %s", code, out, se)
	}
	waitStatus(t, c, "promoted profile loaded", func(errs []string, _ int) bool { return len(errs) == 0 })
	r := runWorkload(t, bed, c, labels)
	defer r.Close()
	bed.WaitRescans(t, 2) // the workload judged under the promoted profile
	if got := bed.FindAlerts(t, map[string]string{"container_id": r.ID}); len(got) != 0 {
		t.Fatalf("the promoted profile raised alerts for the learned workload: %v", got)
	}

	// A deviation: a namespace change the workload never made (unshare)
	// is denied by the kernel, reported under the privilege rule the
	// learned profile turned off, and kills the container (onViolation
	// defaults to kill).
	if lp.Privileges.Namespaces == nil || *lp.Privileges.Namespaces {
		t.Errorf("learned privileges.namespaces is not false: %v", lp.Privileges.Namespaces)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	res, _ := r.Exec(ctx, "unshare", "-U", "true")
	cancel()
	if res != nil && res.ExitStatus == 0 {
		t.Fatalf("unshare succeeded under the learned profile: %+v", res)
	}
	a := bed.WaitAlert(t, 15*time.Second, map[string]string{"container_id": r.ID, "rule": "namespaces"})
	if a["syscall"] != "unshare" && !strings.Contains(a["message"].(string), "unshare") {
		t.Errorf("seccomp alert does not name unshare: %v", a)
	}
	if code, exited := waitExit(t, r, 15*time.Second); !exited || code != 137 {
		t.Fatalf("deviation did not kill: %v %d", exited, code)
	}
}

// compareWithStrace runs the same workload outside a container under
// `strace -f -c` (an independent recorder) and logs the differences:
// strace sees the runtime-free workload; confine also sees runc's floor
// and misses nothing the workload needs, since the promoted profile runs it.
func compareWithStrace(t *testing.T, learned []string) {
	t.Helper()
	if _, err := exec.LookPath("strace"); err != nil {
		t.Fatalf("strace missing: install Debian package strace (make deps)")
	}
	dir := t.TempDir()
	www := filepath.Join(dir, "www")
	os.MkdirAll(www, 0o755)
	os.WriteFile(filepath.Join(www, "index.html"), []byte("hi\n"), 0o644)
	script := strings.ReplaceAll(learnWorkload, "/www", www)
	script = strings.ReplaceAll(script, "/tmp/", dir+"/")
	script = strings.ReplaceAll(script, "8080", "18080")
	script = strings.ReplaceAll(script, "; sleep 120", "")
	// httpd in the foreground, in the background of the shell, stopped by
	// its PID at the end.
	script = strings.Replace(script, "httpd -p 18080 -h "+www+";", "httpd -f -p 18080 -h "+www+" & H=$!; sleep 0.3;", 1) + "; kill $H; wait"
	applets := filepath.Join(dir, "bin")
	os.MkdirAll(applets, 0o755)
	if b, err := exec.Command("/bin/busybox", "--install", "-s", applets).CombinedOutput(); err != nil {
		t.Fatalf("busybox --install: %v %s", err, b)
	}
	out := filepath.Join(dir, "strace.txt")
	cmd := exec.Command("strace", "-f", "-c", "-o", out, "/bin/busybox", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+applets)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Logf("strace run: %v %s", err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatalf("strace output: %v", err)
	}
	defer f.Close()
	var seen []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 5 && fields[0] != "%" && !strings.HasPrefix(fields[0], "-") && fields[len(fields)-1] != "total" {
			seen = append(seen, fields[len(fields)-1])
		}
	}
	var onlyStrace, onlyConfine []string
	for _, s := range seen {
		if !slices.Contains(learned, s) {
			onlyStrace = append(onlyStrace, s)
		}
	}
	for _, s := range learned {
		if !slices.Contains(seen, s) {
			onlyConfine = append(onlyConfine, s)
		}
	}
	sort.Strings(onlyStrace)
	sort.Strings(onlyConfine)
	t.Logf("strace -f -c saw %d syscalls, confine learned %d", len(seen), len(learned))
	t.Logf("only strace (host-only paths of the same workload, e.g. the host's dynamic environment): %v", onlyStrace)
	t.Logf("only confine (runc's own start-up floor, container-only paths): %v", onlyConfine)
}

// TestConfinedKilledDuringLearning: learning's filter only logs (the kernel
// writes audit records whether or not confined reads them), so killing
// confined neither breaks a learning container nor hangs a create.
func TestConfinedKilledDuringLearning(t *testing.T) {
	bed := e2e.NewBed(t)
	bed.WriteConfig(t, `fail_mode = "open"`)
	bed.WriteProfile(t, "lw", "apiVersion: confine/v1\nname: lw\nmode: learn\nselector:\n  labels: {app: lw}\n")
	c := bed.StartConfined(t)
	id := testbed.UniqueID("lk")
	r, err := bed.Start(context.Background(), testbed.RunOptions{ID: id, Runtime: bed.Runc, Args: []string{"sh", "-c", "while true; do ls / >/dev/null; mkdir -p /tmp/a; rm -rf /tmp/a; sleep 0.1; done"}, Labels: map[string]string{"app": "lw"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitWatched(t, c, bed.Namespace, id)
	c.Kill()

	// The running container carries on: its syscalls still work.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := r.Exec(ctx, "sh", "-c", "mkdir /tmp/x && echo fine")
	if err != nil || !strings.Contains(res.Stdout, "fine") {
		t.Fatalf("learning container broken after confined died: %v %+v", err, res)
	}
	if _, exited := waitExit(t, r, time.Second); exited {
		t.Fatal("learning container died with confined")
	}
	// A new learning container is created (fail_mode open) without hanging.
	done := make(chan error, 1)
	go func() {
		res, err := bed.Run(ctx, testbed.RunOptions{ID: testbed.UniqueID("lk2"), Runtime: bed.Runc, Args: []string{"echo", "created"}, Labels: map[string]string{"app": "lw"}})
		if err == nil && !strings.Contains(res.Stdout, "created") {
			err = fmt.Errorf("unexpected output %+v", res)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("create with confined down: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("container creation hung with confined down")
	}
}
