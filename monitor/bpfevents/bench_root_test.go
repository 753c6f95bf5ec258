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
// capability check: sethostname with the current name (one CAP_SYS_ADMIN
// check per call; nothing changes, and no event is emitted) timed in a process outside any watched cgroup and in
// a watched one, with no programs, with the event programs only, and with
// the recorder. Run: CONFINE_BENCH=1 go test -run TestBenchCapRecorder -v ./monitor/bpfevents/
func TestBenchCapRecorder(t *testing.T) {
	if os.Getenv("CONFINE_BENCH") != "1" {
		t.Skip("a benchmark: set CONFINE_BENCH=1")
	}
	const calls = 300_000
	name, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	b := []byte(name)
	perCall := func() time.Duration {
		var runs []time.Duration
		for r := 0; r < 5; r++ {
			start := time.Now()
			for i := 0; i < calls; i++ {
				if err := unix.Sethostname(b); err != nil {
					t.Fatal(err)
				}
			}
			runs = append(runs, time.Since(start)/calls)
		}
		sort.Slice(runs, func(i, j int) bool { return runs[i] < runs[j] })
		return runs[len(runs)/2]
	}
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

	row := func(opts ...Option) (host, watched time.Duration) {
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
	fmt.Printf("\n## Capability recorder (cap_capable) cost per capability check (sethostname to its own name as root, median of 5 × %d)\n\n", calls)
	fmt.Printf("| programs | host process | process in a watched cgroup |\n|---|---|---|\n")
	fmt.Printf("| none | %v | %v |\n| exec/fork/exit/id programs only | %v | %v |\n| + cap_capable recorder | %v | %v |\n", base, baseIn, evHost, evIn, capHost, capIn)
	fmt.Printf("\nrecorder adds %v per check in a watched cgroup, %v on the host\n", capIn-evIn, capHost-evHost)
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
