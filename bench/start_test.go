package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/landlock/fromprofile"
	"github.com/confinehq/confine/internal/starttrace"
	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/profiles"
)

// The three profiles of the start benchmark (issue #20): (a) no seccomp,
// (b) Docker's default filter, (c) a full learned profile: a seccomp
// allowlist, exec and file allowlists (Landlock through confine-init, the
// fanotify guard) and egress rules (nftables).
const (
	startPlain = "apiVersion: confine/v1\nname: plain\nmode: enforce\nselector:\n  labels: {bench: plain}\nexec:\n  allow: [\"/bin/busybox\"]\n"
	startBase  = "apiVersion: confine/v1\nname: base\nmode: enforce\nselector:\n  labels: {bench: base}\nseccomp:\n  base: docker-default\nexec:\n  allow: [\"/bin/busybox\"]\n"
	startFull  = `apiVersion: confine/v1
name: full
mode: enforce
selector:
  labels: {bench: full}
seccomp:
  defaultAction: errno
  allow: [read, write, openat, open, close, dup2, fcntl, fstat, newfstatat, lseek, mmap, munmap, brk, rt_sigaction, rt_sigprocmask, rt_sigreturn, execve, exit_group, exit, wait4, clone, fork, vfork, getpid, getppid, getuid, geteuid, ioctl, stat, lstat, access, arch_prctl, set_tid_address, prlimit64, poll, uname, getcwd, chdir, nanosleep, clock_gettime, clock_nanosleep, pipe, pipe2, dup, dup3, getrandom, sysinfo, getpgrp, setpgid, getdents64, readlink, readlinkat, statx, faccessat, faccessat2, mprotect, madvise, futex, set_robust_list, rseq, sched_getaffinity, sigaltstack, fstatfs, pread64, getrlimit]
exec:
  allow: ["/bin/busybox"]
files:
  read: ["/bin/**", "/etc/**", "/lib/**", "/usr/**"]
  write: ["/tmp/**"]
network:
  egress: ["127.0.0.1:8080", "10.0.0.0/8:5432"]
onViolation: kill
`
)

// startBed is a private containerd with confined, wired to the binaries
// of bin ("" = the ones under test).
func startBed(t *testing.T, bin string, trace bool) (*e2e.Bed, *e2e.Confined) {
	bed := e2e.NewBed(t)
	benchBinary{dir: bin}.use(bed)
	// confined's default rescan interval (the e2e beds use 500ms): its
	// rescans compete with the starts for the two cores.
	bed.WriteConfig(t, `rescan_interval = "2s"`)
	bed.WriteProfile(t, "plain", startPlain)
	bed.WriteProfile(t, "base", startBase)
	bed.WriteProfile(t, "full", startFull)
	if trace {
		if err := os.WriteFile(filepath.Join(bed.RunDir, starttrace.FileName), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return bed, bed.StartConfined(t)
}

type startVariant struct {
	name    string
	bed     *e2e.Bed
	args    []string
	ref     int  // index of the runc row this row is compared with
	confine bool // alerts about its containers fail the bench
}

// TestBenchStart: `ctr run --rm … true` through runc and through
// confine-runc with confined deciding (decide round trip, hooks, the
// daemon registering the container), for the three profiles. The variants
// are interleaved so that load on the machine hits them alike. With
// CONFINE_BENCH_OLD_BIN set to a directory of older binaries, the same
// confine rows run through those too (a second bed: containerd and
// confined of their own), in the same interleaving.
func TestBenchStart(t *testing.T) {
	requireBench(t)
	bed, _ := startBed(t, "", false)
	runc := testbed.RuncPath()
	variants := []startVariant{
		{name: "runc", bed: bed, args: []string{"--runc-binary", runc}},
		{name: "runc --seccomp (containerd's default filter)", bed: bed, args: []string{"--runc-binary", runc, "--seccomp"}},
	}
	add := func(label string, b *e2e.Bed) {
		variants = append(variants,
			startVariant{name: label + ", (a) profile without seccomp", bed: b, args: []string{"--runc-binary", b.Runc, "--label", "bench=plain"}, ref: 0, confine: true},
			startVariant{name: label + ", (b) Docker's default filter", bed: b, args: []string{"--runc-binary", b.Runc, "--label", "bench=base"}, ref: 1, confine: true},
			startVariant{name: label + ", (c) full learned profile (seccomp + files + egress)", bed: b, args: []string{"--runc-binary", b.Runc, "--label", "bench=full"}, ref: 1, confine: true},
		)
	}
	add("confine-runc + confined", bed)
	if old := os.Getenv("CONFINE_BENCH_OLD_BIN"); old != "" {
		oldBed, _ := startBed(t, old, false)
		add("OLD confine-runc + confined ("+old+")", oldBed)
	}
	runs := trials(40)
	times := make([][]time.Duration, len(variants))
	watched := map[string]bool{}
	for i := 0; i < runs; i++ {
		for v, vr := range variants {
			id := testbed.UniqueID("st")
			if vr.confine {
				watched[id] = true
			}
			args := append([]string{"run", "--rm"}, vr.args...)
			args = append(args, vr.bed.ImageRef, id, "true")
			start := time.Now()
			if _, se, err := vr.bed.Ctr(args...); err != nil {
				t.Fatalf("%s: %v %s", vr.name, err, se)
			}
			times[v] = append(times[v], time.Since(start))
		}
	}
	ms := func(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }
	fmt.Printf("\n## Container start: `ctr run --rm … true`, %d starts each (interleaved), load before: %s\n\n", runs, loadavg())
	fmt.Printf("| runtime | median | p95 | ratio (median) | ratio (p95) |\n|---|---|---|---|---|\n")
	st := make([]stats, len(variants))
	for v := range variants {
		st[v] = summarize(times[v])
	}
	for v, vr := range variants {
		ref := st[vr.ref]
		fmt.Printf("| %s | %s | %s | %.2f | %.2f |\n", vr.name, ms(st[v].p50), ms(st[v].p95), float64(st[v].p50)/float64(ref.p50), float64(st[v].p95)/float64(ref.p95))
	}
	fmt.Printf("\nratios: (a) against runc, (b) and (c) against runc --seccomp. Load after: %s\n", loadavg())
	// Plain runc containers are rightly reported as not injected; a
	// confine container must raise nothing (checked after the figures are
	// printed, so that a failed run still shows them).
	seen := map[*e2e.Bed]bool{}
	for _, vr := range variants {
		if seen[vr.bed] {
			continue
		}
		seen[vr.bed] = true
		for _, a := range vr.bed.Alerts(t) {
			if id, _ := a["container_id"].(string); watched[id] {
				t.Errorf("%s: alert about a confine container that was allowed to start: %v", vr.name, a)
			}
		}
	}
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// TestBenchStartStages: where the time of a confined create goes. Every
// process on the path (confine-runc for each runc command, confine-hook,
// confined's decide and hook handlers) appends its stage timings to
// run_dir/start-trace.jsonl (package starttrace); this prints the median
// of each stage per profile. It also times, on their own, the wrapper hop
// every runc command pays (`confine-runc --version` against `runc
// --version`) and confine-init (Landlock) in front of a program.
func TestBenchStartStages(t *testing.T) {
	requireBench(t)
	bed, confined := startBed(t, os.Getenv("CONFINE_BENCH_STAGES_BIN"), true)
	runs := trials(20)
	cpu0 := processCPU(t, confined.Cmd.Process.Pid)
	tracePath := filepath.Join(bed.RunDir, starttrace.FileName)
	type key struct{ who, stage string }
	perProfile := map[string]map[key][]time.Duration{}
	var order []key
	profilesRun := []string{"plain", "base", "full"}
	for _, prof := range profilesRun {
		perProfile[prof] = map[key][]time.Duration{}
	}
	for i := 0; i < runs; i++ {
		for _, prof := range profilesRun {
			if err := os.Truncate(tracePath, 0); err != nil {
				t.Fatal(err)
			}
			id := testbed.UniqueID("sg")
			if _, se, err := bed.Ctr("run", "--rm", "--runc-binary", bed.Runc, "--label", "bench="+prof, bed.ImageRef, id, "true"); err != nil {
				t.Fatalf("%s: %v %s", prof, err, se)
			}
			for _, r := range readTrace(t, tracePath) {
				for _, s := range r.Stages {
					k := key{r.Who, s.Name}
					if _, ok := perProfile[prof][k]; !ok && !containsKey(order, k) {
						order = append(order, k)
					}
					perProfile[prof][k] = append(perProfile[prof][k], time.Duration(s.US)*time.Microsecond)
				}
				k := key{r.Who, "total (in process)"}
				if !containsKey(order, k) {
					order = append(order, k)
				}
				perProfile[prof][k] = append(perProfile[prof][k], time.Duration(r.TotalUS)*time.Microsecond)
			}
		}
	}
	perStart := (processCPU(t, confined.Cmd.Process.Pid) - cpu0) / time.Duration(runs*len(profilesRun))
	sort.SliceStable(order, func(i, j int) bool { return whoRank(order[i].who) < whoRank(order[j].who) })
	us := func(ds []time.Duration) string {
		if len(ds) == 0 {
			return "—"
		}
		return fmt.Sprintf("%d", summarize(ds).p50.Microseconds())
	}
	fmt.Printf("\n## Stages of a confined create, µs (median of %d starts per profile; per runc command when it runs more than once), load: %s\n\n", runs, loadavg())
	fmt.Printf("confined's CPU time per start (all its work, events and rescans every 2s included, every profile): %d µs\n\n", perStart.Microseconds())
	fmt.Printf("| process | stage | (a) no seccomp | (b) Docker default | (c) full learned |\n|---|---|---|---|---|\n")
	for _, k := range order {
		fmt.Printf("| %s | %s | %s | %s | %s |\n", k.who, k.stage, us(perProfile["plain"][k]), us(perProfile["base"][k]), us(perProfile["full"][k]))
	}

	// The wrapper hop of every runc command, alone.
	n := trials(20) * 5
	hop := func(bin string, args ...string) time.Duration {
		var ds []time.Duration
		for i := 0; i < n; i++ {
			cmd := exec.Command(bin, args...)
			cmd.Env = append(os.Environ(), "CONFINE_CONFIG="+bed.ConfigPath)
			s := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s %v: %v %s", bin, args, err, out)
			}
			ds = append(ds, time.Since(s))
		}
		return summarize(ds).p50
	}
	runcT := hop(testbed.RuncPath(), "--version")
	wrapT := hop(bed.Runc, "--version")
	// busybox: profile (c) allows executing /bin/busybox only.
	trueT := hop("/bin/busybox", "true")
	initT := hop(filepath.Join(bed.Bin, "confine-init"), initRuleset(t), "--", "/bin/busybox", "true")
	fmt.Printf("\n| exec alone (median of %d) | µs |\n|---|---|\n", n)
	fmt.Printf("| runc --version | %d |\n| confine-runc --version (config load, exec runc) | %d |\n| wrapper hop per runc command | %d |\n", runcT.Microseconds(), wrapT.Microseconds(), (wrapT - runcT).Microseconds())
	fmt.Printf("| busybox true | %d |\n| confine-init (Landlock, profile (c)'s rules) then busybox true | %d |\n| Landlock init | %d |\n", trueT.Microseconds(), initT.Microseconds(), (initT - trueT).Microseconds())
}

// initRuleset is the encoded ruleset of profile (c), confine-init's first
// argument.
func initRuleset(t *testing.T) string {
	r, err := profiles.Parse([]byte(startFull), "full.yaml", profiles.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return fromprofile.Ruleset(r.Profile).Encode()
}

func containsKey[K comparable](ks []K, k K) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

func whoRank(who string) int {
	for i, p := range []string{"confine-runc create", "confined decide", "confine-hook createRuntime", "confined hook", "confine-runc"} {
		if strings.HasPrefix(who, p) {
			return i
		}
	}
	return 9
}

func readTrace(t *testing.T, path string) []starttrace.Record {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []starttrace.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r starttrace.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("trace line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// processCPU is a process's user + system CPU time (/proc/PID/stat).
func processCPU(t *testing.T, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var ticks int64
	for _, i := range []int{11, 12} { // utime, stime: fields 14 and 15
		var v int64
		fmt.Sscan(f[i], &v)
		ticks += v
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ = 100
}
