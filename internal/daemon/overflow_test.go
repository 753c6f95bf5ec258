package daemon

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/alert"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestOverflowPolicy: whatever the source, a loss is counted by source,
// alerted once per source, and followed by a rescan request.
func TestOverflowPolicy(t *testing.T) {
	sink := &memSink{}
	m := newMetrics()
	al := newAlerterWith(quietLog(), m, []alert.Sink{sink}, time.Now)
	var rescans atomic.Int32
	o := newOverflow(quietLog(), m, al, func() { rescans.Add(1) })

	o.lost(lostFanotify, "fanotify decisions", 1)
	o.lost(lostFanotify, "fanotify decisions", 3)
	o.lost(lostBPF, "process events", 7)
	o.lost(lostSeccomp, "refused syscalls", 0) // nothing lost: nothing done

	if got := counterValue(t, m.eventsLostBy.WithLabelValues(lostFanotify)); got != 4 {
		t.Errorf("fanotify losses counted %v, want 4", got)
	}
	if got := counterValue(t, m.eventsLostBy.WithLabelValues(lostBPF)); got != 7 {
		t.Errorf("bpf losses counted %v, want 7", got)
	}
	if got := rescans.Load(); got != 3 {
		t.Errorf("%d rescans requested, want 3 (one per loss)", got)
	}
	al.close()
	bySource := map[string]int{}
	for _, a := range sink.all() {
		if a.Event != alert.EventEventsLost {
			t.Errorf("unexpected alert %+v", a)
			continue
		}
		bySource[a.Extra["SOURCE"]]++
	}
	if bySource[lostFanotify] != 1 || bySource[lostBPF] != 1 || len(bySource) != 2 {
		t.Errorf("events_lost alerts by source %v, want one each for fanotify and bpf", bySource)
	}
}

// TestLostCounter: a counter kept by a source reports what grew since the
// last look; a new counter under the same key starts again.
func TestLostCounter(t *testing.T) {
	var l lostCounter
	for i, step := range []struct{ now, want uint64 }{{0, 0}, {5, 5}, {5, 0}, {9, 4}, {2, 2}} {
		if got := l.grown("nflog a", step.now); got != step.want {
			t.Errorf("step %d: grown(%d) = %d, want %d", i, step.now, got, step.want)
		}
	}
	l.keep(map[string]bool{})
	if got := l.grown("nflog a", 3); got != 3 {
		t.Errorf("after the container went: %d, want 3", got)
	}
}
