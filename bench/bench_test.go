// Package bench holds confine's side-by-side measurements. They are tests
// that only run with CONFINE_BENCH=1 (make bench) and print tables; they
// assert nothing about time (shared 2-core machines are noisy), only that
// each trial did what it measures.
package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

func requireBench(t *testing.T) {
	if os.Getenv("CONFINE_BENCH") == "" {
		t.Skip("benchmark: run by make bench (CONFINE_BENCH=1)")
	}
}

func trials(def int) int {
	if n, err := strconv.Atoi(os.Getenv("CONFINE_BENCH_TRIALS")); err == nil && n > 0 {
		return n
	}
	return def
}

type stats struct{ p50, p95, p99, max, mean time.Duration }

func summarize(ds []time.Duration) stats {
	if len(ds) == 0 {
		return stats{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	q := func(f float64) time.Duration { return s[min(len(s)-1, int(f*float64(len(s))))] }
	return stats{p50: q(0.5), p95: q(0.95), p99: q(0.99), max: s[len(s)-1], mean: sum / time.Duration(len(s))}
}

const killProfile = `apiVersion: confine/v1
name: app
mode: enforce
exec:
  allow: ["/bin/busybox"]
onViolation: kill
`

// TestBenchDetection measures the time from a forbidden exec to the
// container being dead, with process events and with rescans only.
func TestBenchDetection(t *testing.T) {
	requireBench(t)
	n := trials(200)
	type result struct {
		name string
		st   stats
		n    int
	}
	var results []result
	for _, mode := range []struct {
		name   string
		config string
	}{
		// The fanotify guard is off: it would deny the exec before it
		// runs (exit 126), and this measures the after-the-fact path.
		{"process events + rescan (500ms)", "fanotify_guard = false"},
		{"rescan only (500ms)", "fanotify_guard = false\nprocess_events = \"none\""},
	} {
		bed := e2e.NewBed(t)
		bed.WriteConfig(t, mode.config)
		bed.WriteProfile(t, "app", killProfile)
		bed.StartConfined(t)
		shared := t.TempDir()
		var lat []time.Duration
		for i := 0; i < n; i++ {
			os.Remove(filepath.Join(shared, "t0"))
			id := testbed.UniqueID("det")
			// t0 is written by the allowed shell just before it execs the
			// forbidden copy; the host notes when the task exit arrives.
			script := `mkdir -p /tmp/b && cp /bin/busybox /tmp/b/busybox && sleep 0.3 && adjtimex | awk '/tv_sec/{s=$2} /tv_usec/{u=$2} END{printf "%d%06d000\n", s, u}' > /shared/t0 && exec /tmp/b/busybox sleep 30`
			r, err := bed.Start(context.Background(), testbed.RunOptions{
				ID: id, Runtime: bed.Runc, Args: []string{"sh", "-c", script},
				Labels: map[string]string{"confine.profile": "app"},
				Mounts: []testbed.Mount{{Source: shared, Destination: "/shared"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-r.Exited():
			case <-time.After(20 * time.Second):
				r.Close()
				t.Fatalf("%s: trial %d: container not killed", mode.name, i)
			}
			t1 := time.Now()
			code, _ := r.Wait(context.Background())
			data, err := os.ReadFile(filepath.Join(shared, "t0"))
			r.Close()
			if err != nil || code != 137 {
				t.Fatalf("%s: trial %d: exit %d, t0 %v", mode.name, i, code, err)
			}
			ns, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
			lat = append(lat, t1.Sub(time.Unix(0, ns)))
		}
		results = append(results, result{mode.name, summarize(lat), n})
	}
	fmt.Printf("\n## Detection to dead container: forbidden exec (%d trials each)\n\n", n)
	fmt.Printf("| path | p50 | p99 | max | mean |\n|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Printf("| %s | %s | %s | %s | %s |\n", r.name, r.st.p50.Round(100*time.Microsecond), r.st.p99.Round(100*time.Microsecond), r.st.max.Round(100*time.Microsecond), r.st.mean.Round(100*time.Microsecond))
	}
	if len(results) == 2 && results[0].st.p50 > 0 {
		fmt.Printf("\nratio rescan-only / events (p50): %.1fx\n", float64(results[1].st.p50)/float64(results[0].st.p50))
	}
}

// TestBenchSyscalls measures a syscall-heavy loop inside a container with
// no filter, containerd's default filter (ctr --seccomp), confine's
// baseline (Docker's default) and a tight confine allowlist.
func TestBenchSyscalls(t *testing.T) {
	requireBench(t)
	bin := e2e.Binaries(t)
	cd := testbed.Start(t)
	dir := t.TempDir()
	export := func(name, yaml string) string {
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(filepath.Join(bin, "confinectl"), "profile", "export-docker", p).Output()
		if err != nil {
			t.Fatalf("export %s: %v", name, err)
		}
		j := filepath.Join(dir, name+".json")
		if err := os.WriteFile(j, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return j
	}
	baseline := export("baseline", "apiVersion: confine/v1\nname: baseline\nmode: enforce\nseccomp:\n  base: docker-default\n")
	tight := export("tight", "apiVersion: confine/v1\nname: tight\nmode: enforce\nseccomp:\n  defaultAction: errno\n  allow: [read, write, openat, open, close, dup2, fcntl, fstat, newfstatat, lseek, mmap, munmap, brk, rt_sigaction, rt_sigprocmask, rt_sigreturn, execve, exit_group, exit, wait4, clone, fork, vfork, getpid, getppid, getuid, geteuid, ioctl, stat, lstat, access, arch_prctl, set_tid_address, prlimit64, poll, uname, getcwd, chdir, nanosleep, clock_gettime, clock_nanosleep, adjtimex, clock_adjtime, pipe, pipe2, dup, dup3, getrandom, sysinfo, getpgrp, setpgid, getdents64, readlink, readlinkat, statx, faccessat, faccessat2, mprotect, madvise, futex, set_robust_list, rseq, sched_getaffinity, sigaltstack, fstatfs, pread64, getrlimit]\n")
	// 400,000 syscalls: dd reads and writes one byte at a time.
	workload := `now() { adjtimex | awk '/tv_sec/{s=$2} /tv_usec/{u=$2} END{printf "%d%06d\n", s, u}'; }; s=$(now); dd if=/dev/zero of=/dev/null bs=1 count=200000 2>/dev/null; e=$(now); echo $(((e-s)*1000))`
	variants := []struct {
		name string
		args []string
	}{
		{"unconfined (no seccomp)", nil},
		{"containerd default (ctr --seccomp)", []string{"--seccomp"}},
		{"confine baseline (docker-default)", []string{"--seccomp", "--seccomp-profile", baseline}},
		{"confine tight allowlist", []string{"--seccomp", "--seccomp-profile", tight}},
	}
	runs := trials(9)
	times := make([][]time.Duration, len(variants))
	for i := 0; i < runs; i++ {
		for v, vr := range variants {
			args := append([]string{"run", "--rm"}, vr.args...)
			args = append(args, cd.ImageRef, testbed.UniqueID("sys"), "sh", "-c", workload)
			out, se, err := cd.Ctr(args...)
			if err != nil {
				t.Fatalf("%s: %v %s", vr.name, err, se)
			}
			ns, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
			if err != nil {
				t.Fatalf("%s: output %q", vr.name, out)
			}
			times[v] = append(times[v], time.Duration(ns))
		}
	}
	fmt.Printf("\n## Syscall overhead: 400,000 read/write syscalls (dd bs=1), median of %d\n\n", runs)
	fmt.Printf("| filter | median | ratio to unconfined |\n|---|---|---|\n")
	base := summarize(times[0]).p50
	for v, vr := range variants {
		m := summarize(times[v]).p50
		fmt.Printf("| %s | %s | %.2f |\n", vr.name, m.Round(time.Millisecond), float64(m)/float64(base))
	}
}
