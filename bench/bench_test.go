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

	"golang.org/x/sys/unix"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

// nowNS defines the shell function now, printing the wall-clock time in
// nanoseconds from busybox adjtimex: its tv_usec holds nanoseconds when
// the kernel's clock status has STA_NANO (0x2000), as on these machines
// now, microseconds otherwise.
const nowNS = `now() { adjtimex | awk '/status:/{st=$2} /tv_sec/{s=$2} /tv_usec/{u=$2} END{if (int(st/8192)%2) printf "%d%09d\n", s, u; else printf "%d%06d000\n", s, u}'; }`

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
// container being dead, per process event source side by side (bpf, the
// proc connector, rescans only): at a pidfd of the container's init (the
// kill itself) and at containerd's task exit event (what a client sees).
func TestBenchDetection(t *testing.T) {
	requireBench(t)
	n := trials(200)
	type result struct {
		name         string
		pidfd, event stats
	}
	var results []result
	for _, mode := range []struct {
		name   string
		config string
	}{
		// The fanotify guard and Landlock are off: they deny the exec
		// before it runs (exit 126), and this measures the after-the-fact
		// path.
		{"bpf + rescan (500ms)", "fanotify_guard = false\nlandlock = false\nprocess_events = \"bpf\""},
		{"proc connector + rescan (500ms)", "fanotify_guard = false\nlandlock = false\nprocess_events = \"proc_connector\""},
		{"rescan only (500ms)", "fanotify_guard = false\nlandlock = false\nprocess_events = \"none\""},
	} {
		for _, bin := range benchBinaries() {
			bed := e2e.NewBed(t)
			if bin.dir != "" {
				bed.Bin, bed.Runc = bin.dir, filepath.Join(bin.dir, "confine-runc")
			}
			bed.WriteConfig(t, mode.config)
			bed.WriteProfile(t, "app", killProfile)
			bed.StartConfined(t)
			shared := t.TempDir()
			var atPidfd, atEvent []time.Duration
			for i := 0; i < n; i++ {
				os.Remove(filepath.Join(shared, "t0"))
				id := testbed.UniqueID("det")
				// t0 is written by the allowed shell just before it execs the
				// forbidden copy; the host notes when the init's pidfd turns
				// readable (it died) and when the task exit event arrives.
				script := nowNS + `; mkdir -p /tmp/b && cp /bin/busybox /tmp/b/busybox && sleep 0.3 && now > /shared/t0 && exec /tmp/b/busybox sleep 30`
				r, err := bed.Start(context.Background(), testbed.RunOptions{
					ID: id, Runtime: bed.Runc, Args: []string{"sh", "-c", script},
					Labels: map[string]string{"confine.profile": "app"},
					Mounts: []testbed.Mount{{Source: shared, Destination: "/shared"}},
				})
				if err != nil {
					t.Fatal(err)
				}
				dead := make(chan time.Time, 1)
				pidfd, err := unix.PidfdOpen(int(r.Pid()), 0)
				if err != nil {
					r.Close()
					t.Fatalf("%s: trial %d: pidfd of the init: %v", mode.name, i, err)
				}
				go func() {
					defer unix.Close(pidfd)
					fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
					for {
						if n, err := unix.Poll(fds, 20_000); err == unix.EINTR {
							continue
						} else if n == 1 {
							dead <- time.Now()
						}
						close(dead)
						return
					}
				}()
				select {
				case <-r.Exited():
				case <-time.After(20 * time.Second):
					r.Close()
					t.Fatalf("%s: trial %d: container not killed", mode.name, i)
				}
				t1 := time.Now()
				t2, ok := <-dead
				code, _ := r.Wait(context.Background())
				data, err := os.ReadFile(filepath.Join(shared, "t0"))
				r.Close()
				if err != nil || code != 137 || !ok {
					t.Fatalf("%s: trial %d: exit %d, t0 %v, pidfd readable %v", mode.name, i, code, err, ok)
				}
				ns, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
				t0 := time.Unix(0, ns)
				atEvent = append(atEvent, t1.Sub(t0))
				atPidfd = append(atPidfd, t2.Sub(t0))
			}
			results = append(results, result{bin.label + mode.name, summarize(atPidfd), summarize(atEvent)})
		}
	}
	r100 := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	fmt.Printf("\n## Detection to dead container: forbidden exec (%d trials each)\n\n", n)
	fmt.Printf("| path | dead at the init's pidfd: p50 | p99 | max | containerd's exit event: p50 | p99 | max |\n|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s |\n", r.name, r100(r.pidfd.p50), r100(r.pidfd.p99), r100(r.pidfd.max), r100(r.event.p50), r100(r.event.p99), r100(r.event.max))
	}
}

// benchBinary is a set of binaries a benchmark runs: the tree's own
// (dir "": CONFINE_BIN), or older ones from CONFINE_BENCH_OLD_BIN, side
// by side in the same run.
type benchBinary struct{ label, dir string }

// use points a bed at the binaries (the tree's own: unchanged).
func (b benchBinary) use(bed *e2e.Bed) {
	if b.dir != "" {
		bed.Bin, bed.Runc = b.dir, filepath.Join(b.dir, "confine-runc")
	}
}

func benchBinaries() []benchBinary {
	bins := []benchBinary{{}}
	if old := os.Getenv("CONFINE_BENCH_OLD_BIN"); old != "" {
		bins = append(bins, benchBinary{label: "OLD (" + old + ") ", dir: old})
	}
	return bins
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
	workload := nowNS + `; s=$(now); dd if=/dev/zero of=/dev/null bs=1 count=200000 2>/dev/null; e=$(now); echo $((e-s))`
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
