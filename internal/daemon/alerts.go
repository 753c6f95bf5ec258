package daemon

import (
	"encoding/json"
	"os"
	"path/filepath"

	"fmt"
	"github.com/confinehq/confine/internal/atomicfile"
	"log/slog"
	"sync"
	"time"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/internal/config"
)

// spoolMax bounds the alert spool (records); the oldest go first, counted.
const spoolMax = 10000

// aggregateWindow is how long identical monitor-mode violations are
// summarised before a record with their count is sent.
const aggregateWindow = 10 * time.Second

// alerter delivers alerts to the sinks without ever blocking enforcement:
// records go through a bounded queue to one sender; a failing sink's
// records are spooled (bounded, oldest dropped with a count) and replayed
// when it recovers.
type alerter struct {
	log   *slog.Logger
	m     *metrics
	sinks []alert.Sink
	wg    sync.WaitGroup
	queue chan *alert.Alert
	now   func() time.Time

	mu       sync.Mutex
	agg      map[string]*aggEntry
	spool    map[string][]*alert.Alert // by sink name
	dropped  map[string]int            // spool overflow by sink
	failures map[string]int            // send errors by sink
	down     map[string]time.Time      // sinks currently failing, since
	sent     int

	// spoolPath keeps the spool across restarts ("" = memory only).
	spoolPath string
}

type aggEntry struct {
	first   *alert.Alert
	count   int // repeats not yet reported
	started time.Time
}

func newAlerter(cfg *config.Config, log *slog.Logger, m *metrics) (*alerter, error) {
	sinks, err := alert.NewSinks(cfg.AlertSinks)
	if err != nil {
		return nil, fmt.Errorf("alert sinks: %w", err)
	}
	a := newAlerterWith(log, m, sinks, time.Now)
	a.spoolPath = filepath.Join(cfg.StateDir, "alert-spool.json")
	a.loadSpool()
	return a, nil
}

// newAlerterWith builds an alerter on given sinks and clock (tests).
func newAlerterWith(log *slog.Logger, m *metrics, sinks []alert.Sink, now func() time.Time) *alerter {
	a := &alerter{
		log: log, m: m, sinks: sinks, queue: make(chan *alert.Alert, 4096), now: now,
		agg: map[string]*aggEntry{}, spool: map[string][]*alert.Alert{},
		dropped: map[string]int{}, failures: map[string]int{}, down: map[string]time.Time{},
	}
	a.wg.Add(1)
	go a.sender()
	return a
}

// emit queues an alert. It never blocks: when the queue is full the alert
// is spooled for every sink.
func (a *alerter) emit(al *alert.Alert) {
	if al.Time.IsZero() {
		al.Time = a.now()
	}
	a.m.alertsSent.Inc()
	a.log.Info("alert", "event", al.Event, "rule", al.Rule, "action", al.Action, "namespace", al.Namespace, "container", al.Container, "profile", al.Profile, "pid", al.PID, "exe", al.Exe, "path", al.Path, "peer", al.Peer, "message", al.Message)
	select {
	case a.queue <- al:
	default:
		a.mu.Lock()
		for _, s := range a.sinks {
			a.spoolLocked(s.Name(), al)
		}
		a.mu.Unlock()
	}
}

// emitAggregated sends the first of identical alerts at once and counts
// the repeats, which flushAggregates reports with their count.
func (a *alerter) emitAggregated(al *alert.Alert) {
	key := al.Key()
	a.mu.Lock()
	e, ok := a.agg[key]
	if ok {
		e.count++
		a.mu.Unlock()
		return
	}
	a.agg[key] = &aggEntry{first: al, started: a.now()}
	a.mu.Unlock()
	a.emit(al)
}

// flushAggregates reports repeats whose window closed (all when force).
func (a *alerter) flushAggregates(force bool) {
	now := a.now()
	var out []*alert.Alert
	a.mu.Lock()
	for k, e := range a.agg {
		if !force && now.Sub(e.started) < aggregateWindow {
			continue
		}
		if e.count > 0 {
			cp := *e.first
			cp.Time = now
			cp.Count = e.count
			cp.Message = fmt.Sprintf("%s (repeated %d more times in %s)", e.first.Message, e.count, now.Sub(e.started).Round(time.Second))
			out = append(out, &cp)
		}
		delete(a.agg, k)
	}
	a.mu.Unlock()
	for _, al := range out {
		a.emit(al)
	}
}

func (a *alerter) sender() {
	defer a.wg.Done()
	for al := range a.queue {
		for _, s := range a.sinks {
			a.deliver(s, al)
		}
	}
}

func (a *alerter) deliver(s alert.Sink, al *alert.Alert) {
	name := s.Name()
	a.mu.Lock()
	_, isDown := a.down[name]
	a.mu.Unlock()
	if isDown {
		a.mu.Lock()
		a.spoolLocked(name, al)
		a.mu.Unlock()
		return
	}
	if err := s.Send(al); err != nil {
		a.mu.Lock()
		a.failures[name]++
		a.m.sinkErrors.WithLabelValues(name).Inc()
		a.down[name] = a.now()
		a.spoolLocked(name, al)
		a.mu.Unlock()
		a.log.Error("alert sink failed; spooling", "sink", name, "error", err)
		return
	}
	a.mu.Lock()
	a.sent++
	a.mu.Unlock()
}

func (a *alerter) spoolLocked(sink string, al *alert.Alert) {
	q := append(a.spool[sink], al)
	if len(q) > spoolMax {
		a.dropped[sink] += len(q) - spoolMax
		q = q[len(q)-spoolMax:]
	}
	a.spool[sink] = q
}

// flushSpool retries failing sinks and replays their spool once they
// answer, followed by one record that reports the outage.
func (a *alerter) flushSpool() {
	a.flushAggregates(false)
	for _, s := range a.sinks {
		name := s.Name()
		a.mu.Lock()
		since, isDown := a.down[name]
		q := a.spool[name]
		a.mu.Unlock()
		if !isDown && len(q) == 0 {
			continue
		}
		i := 0
		for ; i < len(q); i++ {
			if err := s.Send(q[i]); err != nil {
				break
			}
		}
		a.mu.Lock()
		a.spool[name] = a.spool[name][i:]
		recovered := len(a.spool[name]) == 0
		if recovered && isDown {
			delete(a.down, name)
			dropped := a.dropped[name]
			fails := a.failures[name]
			a.dropped[name] = 0
			a.mu.Unlock()
			outage := &alert.Alert{
				Event: alert.EventSinkOutage, Priority: alert.PriWarning, Time: a.now(),
				Message: fmt.Sprintf("alert sink %s was failing for %s: %d send errors, %d alerts replayed from the spool, %d dropped (spool full)", name, a.now().Sub(since).Round(time.Second), fails, i, dropped),
				Extra:   map[string]string{"SINK": name, "REPLAYED": fmt.Sprint(i), "DROPPED": fmt.Sprint(dropped), "FAILURES": fmt.Sprint(fails)},
			}
			_ = s.Send(outage)
			a.log.Info("alert sink recovered", "sink", name, "replayed", i, "dropped", dropped)
			continue
		}
		a.mu.Unlock()
	}
}

// reopen reopens file sinks (log rotation).
func (a *alerter) reopen() {
	for _, s := range a.sinks {
		if err := s.Reopen(); err != nil {
			a.log.Error("reopening alert sink", "sink", s.Name(), "error", err)
		}
	}
}

// counters returns the per-sink failure and spool figures.
func (a *alerter) counters() (failures, spooled, dropped map[string]int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	failures, spooled, dropped = map[string]int{}, map[string]int{}, map[string]int{}
	for k, v := range a.failures {
		failures[k] = v
	}
	for k, v := range a.spool {
		spooled[k] = len(v)
	}
	for k, v := range a.dropped {
		dropped[k] = v
	}
	return
}

// profileError reports a profile that failed to load.
func (a *alerter) profileError(msg string) {
	a.emit(&alert.Alert{Event: alert.EventProfileError, Priority: alert.PriErr, Message: "profile not loaded: " + msg, Extra: map[string]string{"ERROR": msg}})
}

// close reports pending aggregates, drains the queue, keeps what could
// not be delivered on disk and closes the sinks.
func (a *alerter) close() {
	a.flushAggregates(true)
	close(a.queue)
	a.wg.Wait()
	a.flushSpool()
	a.saveSpool()
	for _, s := range a.sinks {
		_ = s.Close()
	}
}

// saveSpool writes undelivered alerts atomically to spoolPath (or removes
// it when nothing is pending).
func (a *alerter) saveSpool() {
	if a.spoolPath == "" {
		return
	}
	a.mu.Lock()
	pending := map[string][]*alert.Alert{}
	for k, v := range a.spool {
		if len(v) > 0 {
			pending[k] = v
		}
	}
	a.mu.Unlock()
	if len(pending) == 0 {
		_ = os.Remove(a.spoolPath)
		return
	}
	data, err := json.Marshal(pending)
	if err == nil {
		err = atomicfile.WriteFile(a.spoolPath, data, 0o600)
	}
	if err != nil {
		a.log.Error("keeping undelivered alerts", "path", a.spoolPath, "error", err)
		return
	}
	a.log.Warn("undelivered alerts kept for the next start", "path", a.spoolPath)
}

// loadSpool takes back what a previous run could not deliver; the sinks
// get it at the next flush.
func (a *alerter) loadSpool() {
	data, err := os.ReadFile(a.spoolPath)
	if err != nil {
		return
	}
	var pending map[string][]*alert.Alert
	if err := json.Unmarshal(data, &pending); err != nil {
		a.log.Error("alert spool unreadable; set aside", "path", a.spoolPath, "error", err)
		_ = os.Rename(a.spoolPath, a.spoolPath+".bad")
		return
	}
	a.mu.Lock()
	n := 0
	for sink, q := range pending {
		for _, al := range q {
			a.spoolLocked(sink, al)
			n++
		}
		a.down[sink] = a.now()
	}
	a.mu.Unlock()
	_ = os.Remove(a.spoolPath)
	a.log.Warn("replaying alerts a previous run could not deliver", "records", n)
}
