package daemon

import (
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/alert"
)

type memSink struct {
	mu   sync.Mutex
	got  []*alert.Alert
	fail bool
}

func (s *memSink) Name() string { return "mem" }
func (s *memSink) Send(a *alert.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("sink down")
	}
	s.got = append(s.got, a)
	return nil
}
func (s *memSink) Reopen() error { return nil }
func (s *memSink) Close() error  { return nil }
func (s *memSink) all() []*alert.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*alert.Alert(nil), s.got...)
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func violationAlert() *alert.Alert {
	return &alert.Alert{Event: alert.EventViolation, Namespace: "ns", Container: "c1", Rule: alert.RuleExec, Exe: "/tmp/x", Message: "exec violation"}
}

// TestAggregationCountsEveryViolation: 10,000 identical violations become a
// bounded number of records whose counts add up to 10,000.
func TestAggregationCountsEveryViolation(t *testing.T) {
	sink := &memSink{}
	clk := &fakeClock{t: time.Unix(1000, 0)}
	a := newAlerterWith(quietLog(), newMetrics(), []alert.Sink{sink}, clk.now)
	for i := 0; i < 10000; i++ {
		a.emitAggregated(violationAlert())
		if i%1000 == 999 {
			clk.add(3 * time.Second) // windows close every ~10s of fake time
			a.flushAggregates(false)
		}
	}
	a.close()
	got := sink.all()
	total := 0
	for _, r := range got {
		total += max(r.Count, 1)
	}
	if total != 10000 {
		t.Fatalf("counts add up to %d, want 10000 (%d records)", total, len(got))
	}
	if len(got) > 10 {
		t.Fatalf("%d records for 10,000 identical violations: not bounded", len(got))
	}
}

// TestSpoolReplaysAfterOutage: a failing sink never blocks emit, and what
// it missed is replayed in order when it recovers, then the outage is
// reported.
func TestSpoolReplaysAfterOutage(t *testing.T) {
	sink := &memSink{fail: true}
	a := newAlerterWith(quietLog(), newMetrics(), []alert.Sink{sink}, time.Now)
	for i := 0; i < 5; i++ {
		al := violationAlert()
		al.PID = i + 1
		a.emit(al)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		f, sp, _ := a.counters()
		if f["mem"] >= 1 && sp["mem"] == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not spooled: failures %v spooled %v", f, sp)
		}
		time.Sleep(10 * time.Millisecond)
	}
	sink.mu.Lock()
	sink.fail = false
	sink.mu.Unlock()
	a.flushSpool()
	got := sink.all()
	if len(got) != 6 {
		t.Fatalf("want 5 replayed + 1 outage record, got %d", len(got))
	}
	for i := 0; i < 5; i++ {
		if got[i].PID != i+1 {
			t.Fatalf("replay out of order: %d at %d", got[i].PID, i)
		}
	}
	if got[5].Event != alert.EventSinkOutage || got[5].Extra["REPLAYED"] != "5" {
		t.Fatalf("outage record %+v", got[5])
	}
	a.close()
}

func TestSpoolIsBounded(t *testing.T) {
	sink := &memSink{fail: true}
	a := newAlerterWith(quietLog(), newMetrics(), []alert.Sink{sink}, time.Now)
	a.mu.Lock()
	for i := 0; i < spoolMax+25; i++ {
		a.spoolLocked("mem", violationAlert())
	}
	n, dropped := len(a.spool["mem"]), a.dropped["mem"]
	a.mu.Unlock()
	if n != spoolMax || dropped != 25 {
		t.Fatalf("spool %d dropped %d", n, dropped)
	}
	a.close()
}
