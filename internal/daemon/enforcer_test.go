package daemon

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/internal/finding"
	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/monitor/proc"
	"github.com/confinehq/confine/profiles"
)

// The enforcer on fakes of its small dependencies: what it decides for
// each mode, onViolation and execSessions, without root, a kernel or a
// containerd.

type fakeAlerts struct {
	mu  sync.Mutex
	got []*alert.Alert
}

func (f *fakeAlerts) emit(a *alert.Alert)           { f.add(a) }
func (f *fakeAlerts) emitAggregated(a *alert.Alert) { f.add(a) }
func (f *fakeAlerts) add(a *alert.Alert) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, a)
}
func (f *fakeAlerts) all() []*alert.Alert {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*alert.Alert(nil), f.got...)
}

type fakeKiller struct {
	mu         sync.Mutex
	containers []string
	processes  []proc.Key
	// block, when set, holds killContainer until closed; entered is
	// closed when a kill has begun.
	block, entered chan struct{}
}

func (k *fakeKiller) killContainer(c *container) error {
	k.mu.Lock()
	k.containers = append(k.containers, c.key())
	k.mu.Unlock()
	if k.entered != nil {
		close(k.entered)
	}
	if k.block != nil {
		<-k.block
	}
	return nil
}

func (k *fakeKiller) killProcess(pid int, start uint64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.processes = append(k.processes, proc.Key{PID: pid, StartTime: start})
	return nil
}

func (k *fakeKiller) killed() ([]string, []proc.Key) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.containers...), append([]proc.Key(nil), k.processes...)
}

type fakeTasks struct{ n atomic.Int32 }

func (f *fakeTasks) Kill(context.Context, string, string, syscall.Signal, bool) error {
	f.n.Add(1)
	return nil
}

// fakeSessions: sessions maps a PID to the root of its exec session.
type fakeSessions struct{ roots map[int]int }

func (f fakeSessions) sessionOf(_ *container, pid int) (int, uint64) {
	if r := f.roots[pid]; r != 0 {
		return r, uint64(r) * 10
	}
	return 0, 0
}

type fakeLost struct {
	mu  sync.Mutex
	src map[string]uint64
}

func (f *fakeLost) lost(source, _ string, n uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.src == nil {
		f.src = map[string]uint64{}
	}
	f.src[source] += n
}

type enforcerBed struct {
	e      *enforcer
	alerts *fakeAlerts
	killer *fakeKiller
	tasks  *fakeTasks
	lost   *fakeLost
	stats  struct{ violations, kills atomic.Int64 }
}

func newEnforcerBed(t *testing.T, sessions map[int]int) *enforcerBed {
	t.Helper()
	b := &enforcerBed{alerts: &fakeAlerts{}, killer: &fakeKiller{}, tasks: &fakeTasks{}, lost: &fakeLost{}}
	b.e = newEnforcer(enforcerDeps{log: quietLog(), mu: &sync.Mutex{}, alerts: b.alerts, metrics: newMetrics(),
		violations: &b.stats.violations, kills: &b.stats.kills,
		killer: b.killer, tasks: b.tasks, sessions: fakeSessions{sessions}, lost: b.lost})
	t.Cleanup(b.e.stop)
	return b
}

// record is a registered container under a profile.
func record(t *testing.T, id string, p profiles.Profile) *container {
	t.Helper()
	p.APIVersion, p.Name = profiles.APIVersion, "p-"+id
	dec, err := newDecision(&p)
	if err != nil {
		t.Fatal(err)
	}
	c := &container{Namespace: "ns", ID: id}
	c.dec.Store(dec)
	return c
}

func execFinding(pid int, start uint64, subject string) finding.Finding {
	return finding.Finding{Source: finding.SourceRescan, Rule: alert.RuleExec, Subject: subject, Evidence: "not in exec.allow",
		Process: &finding.Process{PID: pid, StartTime: start, Exe: subject}}
}

func events(as []*alert.Alert) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Event+"/"+a.Action)
	}
	return out
}

// TestEnforcerOneAlertPerProcessRuleSubject: a process found breaking the
// same rule on the same subject by every rescan is one alert; another
// subject, or another process under the same PID (PID reuse: another
// start time), is another; a process forgotten by a rescan (gone) is
// reported again if its identity comes back.
func TestEnforcerOneAlertPerProcessRuleSubject(t *testing.T) {
	b := newEnforcerBed(t, nil)
	c := record(t, "mon", profiles.Profile{Mode: profiles.ModeMonitor})
	for i := 0; i < 3; i++ {
		b.e.submit(c, execFinding(100, 5000, "/bin/nc"))
	}
	b.e.submit(c, execFinding(100, 5000, "/bin/wget"))
	b.e.submit(c, execFinding(100, 7000, "/bin/nc")) // the PID reused
	b.e.drain()
	if got := events(b.alerts.all()); len(got) != 3 {
		t.Fatalf("alerts %v, want 3 (one per process, rule and subject)", got)
	}
	b.e.keep(map[proc.Key]bool{{PID: 100, StartTime: 7000}: true})
	b.e.submit(c, execFinding(100, 5000, "/bin/nc"))
	b.e.submit(c, execFinding(100, 7000, "/bin/nc"))
	b.e.drain()
	if got := len(b.alerts.all()); got != 4 {
		t.Fatalf("%d alerts after keep, want 4 (the forgotten process again, the live one not)", got)
	}
	if b.stats.violations.Load() != 4 || c.Violations != 4 {
		t.Errorf("violations %d, record %d, want 4", b.stats.violations.Load(), c.Violations)
	}
	if ks, _ := b.killer.killed(); len(ks) != 0 {
		t.Errorf("monitor mode killed %v", ks)
	}
	// Without a start time a process cannot be told from its successor:
	// every finding goes to the aggregated alerts.
	f := execFinding(200, 0, "/bin/nc")
	b.e.submit(c, f)
	b.e.submit(c, f)
	b.e.drain()
	if got := len(b.alerts.all()); got != 6 {
		t.Errorf("%d alerts, want 6", got)
	}
}

// TestEnforcerDecides: per mode, onViolation, files.watch and whether the
// kernel refused it already.
func TestEnforcerDecides(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prof    profiles.Profile
		refused bool
		watch   bool
		want    string // event/action of the one alert
		kill    bool
	}{
		{name: "monitor", prof: profiles.Profile{Mode: profiles.ModeMonitor}, want: "violation/alerted"},
		{name: "enforce kills", prof: profiles.Profile{Mode: profiles.ModeEnforce}, want: "kill/killed", kill: true},
		{name: "enforce onViolation alert", prof: profiles.Profile{Mode: profiles.ModeEnforce, OnViolation: profiles.OnViolationAlert}, want: "violation/alerted"},
		{name: "enforce files.watch", prof: profiles.Profile{Mode: profiles.ModeEnforce}, watch: true, want: "violation/alerted"},
		{name: "refused, onViolation kill", prof: profiles.Profile{Mode: profiles.ModeEnforce}, refused: true, want: "kill/killed", kill: true},
		{name: "refused, onViolation alert", prof: profiles.Profile{Mode: profiles.ModeEnforce, OnViolation: profiles.OnViolationAlert}, refused: true, want: "denied/denied"},
		{name: "refused in monitor mode", prof: profiles.Profile{Mode: profiles.ModeMonitor, OnViolation: profiles.OnViolationAlert}, refused: true, want: "denied/denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newEnforcerBed(t, nil)
			c := record(t, "c", tc.prof)
			f := execFinding(10, 99, "/bin/nc")
			f.KernelRefused, f.Watch = tc.refused, tc.watch
			b.e.submit(c, f)
			f2 := execFinding(11, 99, "/bin/wget") // after a kill: nothing
			f2.KernelRefused, f2.Watch = tc.refused, tc.watch
			b.e.submit(c, f2)
			b.e.drain()
			got := events(b.alerts.all())
			if len(got) == 0 || got[0] != tc.want {
				t.Fatalf("alerts %v, want %s first", got, tc.want)
			}
			ks, _ := b.killer.killed()
			if tc.kill != (len(ks) == 1) || len(ks) > 1 {
				t.Fatalf("killed %v, want a kill: %v", ks, tc.kill)
			}
			if tc.kill {
				if len(got) != 1 || !c.killed.Load() || b.stats.kills.Load() != 1 {
					t.Errorf("after the kill: alerts %v, killed %v, kills %d", got, c.killed.Load(), b.stats.kills.Load())
				}
				testbed.Eventually(t, 5*time.Second, func() bool { return b.tasks.n.Load() == 1 }, "containerd told of the kill")
			} else if len(got) != 2 {
				t.Errorf("alerts %v, want 2", got)
			}
		})
	}
}

// TestEnforcerExecSessions: an operator's exec session under audit is
// reported (its commands too) and never killed; under deny its root is
// killed by pidfd and the workload goes on; the workload's own commands
// are nothing to act on.
func TestEnforcerExecSessions(t *testing.T) {
	const root, child, workload = 50, 51, 60
	sessions := map[int]int{root: root, child: root}
	cmd := func(pid int) finding.Finding {
		return finding.Finding{Source: finding.SourceBPF, Command: true, Process: &finding.Process{PID: pid, StartTime: 1, Exe: "/bin/ls"}}
	}
	t.Run("audit", func(t *testing.T) {
		b := newEnforcerBed(t, sessions)
		c := record(t, "a", profiles.Profile{Mode: profiles.ModeEnforce, ExecSessions: profiles.ExecSessionsAudit})
		b.e.submit(c, cmd(child))
		b.e.submit(c, cmd(workload))
		b.e.submit(c, execFinding(child, 1, "/bin/nc"))
		b.e.drain()
		got := b.alerts.all()
		if len(got) != 2 || got[0].Event != alert.EventExecSession || got[1].Event != alert.EventViolation || got[1].Extra["SESSION"] != "50" {
			t.Fatalf("alerts %v", events(got))
		}
		if ks, ps := b.killer.killed(); len(ks)+len(ps) != 0 || c.killed.Load() {
			t.Errorf("audit killed %v %v", ks, ps)
		}
	})
	t.Run("deny", func(t *testing.T) {
		b := newEnforcerBed(t, sessions)
		c := record(t, "d", profiles.Profile{Mode: profiles.ModeEnforce, ExecSessions: profiles.ExecSessionsDeny})
		b.e.submit(c, cmd(child))
		b.e.submit(c, cmd(workload))
		b.e.drain()
		ks, ps := b.killer.killed()
		if len(ks) != 0 || len(ps) != 1 || ps[0] != (proc.Key{PID: root, StartTime: root * 10}) {
			t.Fatalf("killed containers %v, processes %v; want the session's root only", ks, ps)
		}
		if got := b.alerts.all(); len(got) != 1 || got[0].Action != alert.ActionKilled {
			t.Errorf("alerts %v", events(got))
		}
		// The workload breaking a rule is killed as usual.
		b.e.submit(c, execFinding(workload, 1, "/bin/nc"))
		b.e.drain()
		if ks, _ := b.killer.killed(); len(ks) != 1 {
			t.Errorf("workload violation: killed %v", ks)
		}
	})
	t.Run("seccomp knows the session", func(t *testing.T) {
		b := newEnforcerBed(t, nil)
		c := record(t, "s", profiles.Profile{Mode: profiles.ModeEnforce, ExecSessions: profiles.ExecSessionsAudit})
		f := seccompFinding(c.profile(), 77, "/bin/unshare", "unshare", [6]uint64{})
		f.KernelRefused, f.Session = true, &finding.Session{}
		b.e.submit(c, f)
		b.e.drain()
		got := b.alerts.all()
		if len(got) != 1 || got[0].Extra["SESSION"] != "77" || got[0].Exe != "/bin/unshare" || c.killed.Load() {
			t.Fatalf("alerts %v (session %q, exe %q), killed %v", events(got), got[0].Extra["SESSION"], got[0].Exe, c.killed.Load())
		}
	})
}

// TestEnforcerKillsOffTheEventPath: while a kill is slow (a freeze and
// sweep), sources keep handing findings over without waiting, and those
// are acted on once it is done.
func TestEnforcerKillsOffTheEventPath(t *testing.T) {
	b := newEnforcerBed(t, nil)
	b.killer.block, b.killer.entered = make(chan struct{}), make(chan struct{})
	b.e.start()
	slow := record(t, "slow", profiles.Profile{Mode: profiles.ModeEnforce})
	other := record(t, "other", profiles.Profile{Mode: profiles.ModeMonitor})
	b.e.submit(slow, execFinding(1, 1, "/bin/nc"))
	<-b.killer.entered
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100; i++ {
			b.e.submit(other, execFinding(1000+i, 1, "/bin/nc"))
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("submit waited for a kill")
	}
	close(b.killer.block)
	testbed.Eventually(t, 10*time.Second, func() bool { return len(b.alerts.all()) == 101 }, "the other container's findings alerted")
}

// TestEnforcerOverflow: a full queue never blocks the source; the loss
// is counted under the finding's source (the overflow policy alerts and
// rescans).
func TestEnforcerOverflow(t *testing.T) {
	b := newEnforcerBed(t, nil)
	c := record(t, "c", profiles.Profile{Mode: profiles.ModeMonitor})
	for i := 0; i < findingQueue+5; i++ {
		b.e.submit(c, finding.Finding{Source: finding.SourceFanotify, Rule: alert.RuleFile, Subject: "/etc/shadow", Evidence: "read"})
	}
	b.lost.mu.Lock()
	got := b.lost.src[string(finding.SourceFanotify)]
	b.lost.mu.Unlock()
	if got != 5 {
		t.Errorf("lost %d fanotify findings, want 5", got)
	}
	b.e.drain()
	if n := len(b.alerts.all()); n != findingQueue {
		t.Errorf("%d alerts, want %d", n, findingQueue)
	}
	// After stop, findings are dropped, not queued or counted.
	b.e.stop()
	b.e.submit(c, execFinding(1, 1, "/x"))
	if len(b.e.queue) != 0 {
		t.Errorf("a finding queued after stop")
	}
}
