package daemon

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/internal/finding"
	"github.com/confinehq/confine/monitor/kill"
	"github.com/confinehq/confine/monitor/proc"
	"github.com/confinehq/confine/monitor/proccon"
	"github.com/confinehq/confine/profiles"
)

// The process monitor on a fake /proc (a copy of testdata/proc, see its
// README: container cproc/cproc-c1 holds 12844 (init), 12857, 12867 and
// the exec'd 20157; cproc/cproc-c2 holds 20577; the rest are host
// processes) and a fake clock, without root or a kernel event source.

// fakeFindings records what the monitor hands to the enforcer.
type fakeFindings struct {
	mu    sync.Mutex
	got   []finding.Finding
	kept  []map[proc.Key]bool
	other findingSink // passes findings on when set
}

func (f *fakeFindings) submit(c *container, fd finding.Finding) {
	f.mu.Lock()
	if fd.Container == "" {
		fd.Container = c.key()
	}
	f.got = append(f.got, fd)
	f.mu.Unlock()
	if f.other != nil {
		f.other.submit(c, fd)
	}
}

func (f *fakeFindings) keep(live map[proc.Key]bool) {
	f.mu.Lock()
	f.kept = append(f.kept, live)
	f.mu.Unlock()
	if f.other != nil {
		f.other.keep(live)
	}
}

func (f *fakeFindings) take() []finding.Finding {
	f.mu.Lock()
	defer f.mu.Unlock()
	got := f.got
	f.got = nil
	return got
}

type nopLearner struct{}

func (nopLearner) learn(*container, *snapshot)        {}
func (nopLearner) learnCaps(*container, uint64, bool) {}

type monitorBed struct {
	m        *monitor
	root     string // the fake /proc
	c1       *container
	findings *fakeFindings
	clock    *fakeClock
	lost     *fakeLost
}

// cprocProfile: busybox may run; /etc/shadow may not be opened.
var cprocProfile = profiles.Profile{Mode: profiles.ModeMonitor,
	Exec:  profiles.Exec{Allow: profiles.List{"/bin/busybox"}},
	Files: profiles.Files{Deny: profiles.List{"/etc/shadow"}}}

func newMonitorBed(t *testing.T) *monitorBed {
	t.Helper()
	root := t.TempDir()
	copyTree(t, filepath.Join("..", "..", "testdata", "proc"), root)
	cfg := config.Default()
	cfg.ProcRoot = root
	b := &monitorBed{root: root, findings: &fakeFindings{}, clock: &fakeClock{t: time.Unix(1_800_000_000, 0)}, lost: &fakeLost{}}
	reg := newRegistry()
	var err error
	b.m, err = newMonitor(monitorDeps{cfg: cfg, log: quietLog(), metrics: newMetrics(), reg: reg, recMu: &sync.Mutex{},
		lost: b.lost, findings: b.findings, learner: nopLearner{}, now: b.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	b.c1 = record(t, "cproc-c1", cprocProfile)
	b.c1.Namespace, b.c1.Pid, b.c1.PidStart = "cproc", 12844, 450778
	reg.put(b.c1)
	return b
}

// copyTree copies a fixture tree, symlinks as symlinks.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(dst, b, 0o644)
		}
	})
	if err != nil {
		t.Fatalf("copying %s: %v", from, err)
	}
}

// found sums up findings as "pid rule subject".
func found(fs []finding.Finding) []string {
	var out []string
	for _, f := range fs {
		s := f.Container + " " + string(f.Source) + " " + f.Rule + " " + f.Subject
		if f.Process != nil {
			s = strconv.Itoa(f.Process.PID) + " " + s
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// TestMonitorRescanAttributesByCgroup: a rescan judges the processes of
// registered containers only (by their cgroup), each against its
// container's profile, and tells the enforcer which processes live.
func TestMonitorRescanAttributesByCgroup(t *testing.T) {
	b := newMonitorBed(t)
	b.m.rescan()
	got := found(b.findings.take())
	want := []string{
		"12844 cproc/cproc-c1 rescan file /etc/shadow",
		"12867 cproc/cproc-c1 rescan exec /tmp/busybox",
	}
	if len(got) != len(want) {
		t.Fatalf("findings\n%v\nwant\n%v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("finding %q, want %q", got[i], want[i])
		}
	}
	if b.c1.Processes != 4 {
		t.Errorf("cproc-c1 has %d processes, want 4 (12844, 12857, 12867, 20157)", b.c1.Processes)
	}
	kept := b.findings.kept
	if len(kept) != 1 || len(kept[0]) != 4 || !kept[0][proc.Key{PID: 12844, StartTime: 450778}] {
		t.Errorf("live processes told to the enforcer: %v", kept)
	}
}

// TestMonitorLineageAndExitedAttribution: a process that exits before
// /proc is read is attributed through its fork lineage; once exited, for
// exitedGrace (audit records and events arrive late), and not after; a
// live process under an exited one's PID is not the exited one's.
func TestMonitorLineageAndExitedAttribution(t *testing.T) {
	b := newMonitorBed(t)
	m := b.m
	// 12857 forks 30000 and 30000 forks 30001; neither is in /proc.
	m.procEvent(proccon.Event{Kind: proccon.KindFork, PID: 12857, TGID: 12857, ParentPID: 12844, ParentTGID: 12844})
	m.procEvent(proccon.Event{Kind: proccon.KindFork, PID: 30000, TGID: 30000, ParentPID: 12857, ParentTGID: 12857})
	m.procEvent(proccon.Event{Kind: proccon.KindFork, PID: 30001, TGID: 30001, ParentPID: 30000, ParentTGID: 30000})
	m.procEvent(proccon.Event{Kind: proccon.KindFork, PID: 30002, TGID: 30002, ParentPID: 1, ParentTGID: 1})
	for _, pid := range []int{12857, 30000, 30001} {
		if got := m.containerOf(pid); got != b.c1 {
			t.Errorf("pid %d attributed to %v, want cproc-c1 by lineage", pid, got)
		}
	}
	if got := m.containerOf(30002); got != nil {
		t.Errorf("a host process's child attributed to %s", got.key())
	}
	m.procEvent(proccon.Event{Kind: proccon.KindExit, PID: 30001, TGID: 30001})
	b.clock.add(exitedGrace - time.Second)
	if got := m.containerOf(30001); got != b.c1 {
		t.Errorf("exited process attributed to %v within the grace, want cproc-c1", got)
	}
	b.clock.add(2 * time.Second)
	if got := m.containerOf(30001); got != nil {
		t.Errorf("exited process still attributed to %s after the grace", got.key())
	}
	// 12857 exits and its PID is taken by a host process at once.
	m.procEvent(proccon.Event{Kind: proccon.KindExit, PID: 12857, TGID: 12857})
	if err := os.WriteFile(filepath.Join(b.root, "12857", "cgroup"), []byte("0::/user.slice\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := m.containerOf(12857); got != nil {
		t.Errorf("the host process that reused pid 12857 attributed to %s", got.key())
	}
}

// TestMonitorExecEventPIDReuse: an exec event about a PID whose process
// now started after the event is another process (the PID was reused):
// not judged, counted; the same event at a time after the start is.
func TestMonitorExecEventPIDReuse(t *testing.T) {
	b := newMonitorBed(t)
	// 12867 started 4508.30 s after boot (450830 ticks).
	if c, _ := b.m.fastExec(12867, time.Second); c != nil {
		t.Errorf("an exec at 1 s after boot judged against a process started at 4508 s")
	}
	if n := counterValue(t, b.m.metrics.pidReused); n != 1 {
		t.Errorf("confine_pid_reused_total %v, want 1", n)
	}
	if got := b.findings.take(); len(got) != 0 {
		t.Fatalf("findings for a reused pid: %v", found(got))
	}
	c, key := b.m.fastExec(12867, 5000*time.Second)
	if c != b.c1 || key != (proc.Key{PID: 12867, StartTime: 450830}) {
		t.Fatalf("exec judged in %v as %v", c, key)
	}
	got := b.findings.take()
	if len(got) != 1 || got[0].Rule != alert.RuleExec || got[0].Process.StartTime != 450830 || got[0].Source != finding.SourceProcConnector {
		t.Errorf("exec findings %v", found(got))
	}
}

// TestMonitorOverflowRescans: a lost process event goes to the overflow
// policy, whose rescan judges what still runs.
func TestMonitorOverflowRescans(t *testing.T) {
	b := newMonitorBed(t)
	al := newAlerterWith(quietLog(), b.m.metrics, []alert.Sink{&memSink{}}, time.Now)
	t.Cleanup(al.close)
	b.m.lost = newOverflow(quietLog(), b.m.metrics, al, b.m.rescan)
	b.m.procEvent(proccon.Event{Kind: proccon.KindOverflow})
	if n := counterValue(t, b.m.metrics.eventsLostBy.WithLabelValues(lostProcConnector)); n != 1 {
		t.Errorf("confine_events_lost_total{source=proc_connector} %v, want 1", n)
	}
	if got := b.findings.take(); len(got) != 2 || got[0].Source != finding.SourceRescan {
		t.Errorf("after the overflow: findings %v, want the rescan's two", found(got))
	}
}

// TestMonitorAndEnforcerOneAlertPerProcess: rescans find the same
// violating processes again and again; each (process, rule, subject) is
// one alert.
func TestMonitorAndEnforcerOneAlertPerProcess(t *testing.T) {
	b := newMonitorBed(t)
	eb := newEnforcerBed(t, nil)
	b.findings.other = eb.e
	for i := 0; i < 3; i++ {
		b.m.rescan()
	}
	eb.e.drain()
	if got := eb.alerts.all(); len(got) != 2 {
		t.Fatalf("%d alerts after three rescans, want 2: %v", len(got), events(got))
	}
	if n := len(b.findings.take()); n != 6 {
		t.Errorf("%d findings, want 6 (two a rescan)", n)
	}
}

// TestMonitorExecSessionOf: a process whose parent is outside the
// container (runc exec) is an exec session's root; the init's children
// are the workload.
func TestMonitorExecSessionOf(t *testing.T) {
	b := newMonitorBed(t)
	if root, start := b.m.sessionOf(b.c1, 20157); root != 20157 || start != 469123 {
		t.Errorf("nc (ctr task exec): session %d@%d, want 20157@469123", root, start)
	}
	if root, _ := b.m.sessionOf(b.c1, 12857); root != 0 {
		t.Errorf("httpd (the init's child): session %d, want the workload", root)
	}
}

// TestMonitorRecordsTheCgroupForTheKill: registration notes the cgroup
// the init's /proc/PID/cgroup names; the kill resolves it under the
// cgroup root (here a fake hybrid tree), whatever layout it has.
func TestMonitorRecordsTheCgroupForTheKill(t *testing.T) {
	b := newMonitorBed(t)
	b.m.track(b.c1, 12844, false)
	if b.c1.Cgroup != "/cproc/cproc-c1" {
		t.Fatalf("recorded cgroup %q, want /cproc/cproc-c1", b.c1.Cgroup)
	}
	root := t.TempDir()
	dir := filepath.Join(root, "unified", "cproc", "cproc-c1")
	for _, f := range []string{filepath.Join(root, "unified", "cgroup.controllers"), filepath.Join(dir, "cgroup.procs")} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.m.cgroups = kill.NewFinder(root)
	if got, err := b.m.cgroupDir(b.c1); err != nil || got != dir {
		t.Errorf("cgroupDir = %q, %v; want %q", got, err, dir)
	}
	// A container whose init could not be read is found by its name.
	other := record(t, "cproc-c1", cprocProfile)
	other.Namespace = "cproc"
	if got, err := b.m.cgroupDir(other); err != nil || got != dir {
		t.Errorf("cgroupDir without a recorded path = %q, %v; want %q", got, err, dir)
	}
}
