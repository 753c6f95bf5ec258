package bpfevents

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestBenchCapRecorder measures what the cap_capable recorder adds to a
// capability check, timed in a process outside any watched cgroup and in
// a watched one, with no programs, with the event programs only, and with
// the recorder: sethostname with the current name (one CAP_SYS_ADMIN
// check per call, a use: recorded once, then the map lookup only; no
// event is emitted), and mmap+munmap of 64 KiB of private writable memory
// (memory accounting probes CAP_SYS_ADMIN on each: the recorder reads the
// first kernel stack frames every time to leave the probe out).
// Run: CONFINE_BENCH=1 go test -run TestBenchCapRecorder -v ./monitor/bpfevents/
func TestBenchCapRecorder(t *testing.T) {
	if os.Getenv("CONFINE_BENCH") != "1" {
		t.Skip("a benchmark: set CONFINE_BENCH=1")
	}
	const calls = 200_000
	name, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	b := []byte(name)
	sethostname := func() {
		if err := unix.Sethostname(b); err != nil {
			t.Fatal(err)
		}
	}
	mmap := func() {
		m, err := unix.Mmap(-1, 0, 64<<10, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Munmap(m); err != nil {
			t.Fatal(err)
		}
	}
	timeIt := func(op func()) time.Duration {
		var runs []time.Duration
		for r := 0; r < 5; r++ {
			start := time.Now()
			for i := 0; i < calls; i++ {
				op()
			}
			runs = append(runs, time.Since(start)/calls)
		}
		sort.Slice(runs, func(i, j int) bool { return runs[i] < runs[j] })
		return runs[len(runs)/2]
	}
	type pair struct{ set, mm time.Duration }
	perCall := func() pair { return pair{timeIt(sethostname), timeIt(mmap)} }
	dir, id := tempCgroup(t)
	// Move this whole process into the cgroup and back (the test's own
	// cgroup, from /proc/self/cgroup), so the timed thread is in it.
	own := ownCgroup(t)
	enter := func() { writeProcs(t, dir) }
	leave := func() { writeProcs(t, own) }
	t.Cleanup(leave)

	base := perCall()
	enter()
	baseIn := perCall()
	leave()

	row := func(opts ...Option) (host, watched pair) {
		s := openSource(t, opts...)
		defer s.Close()
		if err := s.Watch(id); err != nil {
			t.Fatal(err)
		}
		host = perCall()
		enter()
		watched = perCall()
		leave()
		return host, watched
	}
	evHost, evIn := row(WithoutCaps())
	capHost, capIn := row()
	fmt.Printf("\n## Capability recorder (cap_capable) cost per capability check (as root, median of 5 × %d)\n\n", calls)
	fmt.Printf("| programs | sethostname, host process | sethostname, watched cgroup | mmap+munmap 64 KiB, host process | mmap+munmap, watched cgroup |\n|---|---|---|---|---|\n")
	for _, r := range []struct {
		name     string
		host, in pair
	}{{"none", base, baseIn}, {"exec/fork/exit/id programs only", evHost, evIn}, {"+ cap_capable recorder", capHost, capIn}} {
		fmt.Printf("| %s | %v | %v | %v | %v |\n", r.name, r.host.set, r.in.set, r.host.mm, r.in.mm)
	}
	fmt.Printf("\nrecorder adds, in a watched cgroup: %v per sethostname (a recorded use), %v per mmap+munmap (a probe left out); on the host: %v and %v\n",
		capIn.set-evIn.set, capIn.mm-evIn.mm, capHost.set-evHost.set, capHost.mm-evHost.mm)
}

func ownCgroup(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return filepath.Join(unifiedRoot(t), p)
		}
	}
	t.Fatal("no unified cgroup line in /proc/self/cgroup")
	return ""
}

func writeProcs(t *testing.T, dir string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
}
