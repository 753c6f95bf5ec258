package daemon

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/monitor/egress"
)

// Sources of events and findings that can be lost to a full queue (the
// label of confine_events_lost_total and CONFINE_SOURCE). A finding the
// enforcer had no room for counts under its source (finding.Source:
// these names, and "rescan").
const (
	lostBPF           = "bpf"            // process events: the BPF ring buffer
	lostProcConnector = "proc_connector" // process events: the netlink receive queue
	lostFanotify      = "fanotify"       // guard decisions handed to the enforcer
	lostSecrets       = "secrets"        // secret reads: the fanotify queue or the hand-off
	lostSeccomp       = "seccomp"        // syscalls the notify listener refused, handed to the enforcer
	lostAudit         = "audit"          // kernel audit records (SECCOMP, Landlock)
	lostNFLOG         = "nflog"          // connections nftables logged
)

// overflow is confined's one policy for an event or finding lost on its
// way in, whatever the source: count it (confine_events_lost_total by
// source), alert once per source (an events_lost alert: from then on the
// metric counts), and rescan /proc at once, so that what still runs is
// judged again. It never blocks: the seccomp listener and the event
// readers call it.
type overflow struct {
	log     *slog.Logger
	metrics *metrics
	alerts  *alerter
	rescan  func()

	mu      sync.Mutex
	alerted map[string]bool
}

func newOverflow(log *slog.Logger, m *metrics, a *alerter, rescan func()) *overflow {
	return &overflow{log: log, metrics: m, alerts: a, rescan: rescan, alerted: map[string]bool{}}
}

// lost records that n events of source were lost; what says what they
// were ("process events", "fanotify decisions").
func (o *overflow) lost(source, what string, n uint64) {
	if n == 0 {
		return
	}
	o.metrics.eventsLostBy.WithLabelValues(source).Add(float64(n))
	o.mu.Lock()
	first := !o.alerted[source]
	o.alerted[source] = true
	o.mu.Unlock()
	if first {
		o.log.Warn("events lost: rescanning /proc; further losses are counted in confine_events_lost_total", "source", source, "what", what, "lost", n)
		o.alerts.emit(&alert.Alert{
			Event: alert.EventEventsLost, Priority: alert.PriWarning,
			Message: fmt.Sprintf("confine: %d %s lost (source %s: queue full); /proc rescanned; confine_events_lost_total{source=%q} counts further losses", n, what, source, source),
			Extra:   map[string]string{"SOURCE": source, "LOST": fmt.Sprint(n)},
		})
	} else {
		o.log.Debug("events lost", "source", source, "what", what, "lost", n)
	}
	if o.rescan != nil {
		o.rescan()
	}
}

// lostCounter follows a counter kept by a source itself (audit records,
// NFLOG): each call with its current value reports what grew since.
type lostCounter struct {
	mu   sync.Mutex
	seen map[string]uint64
}

func (l *lostCounter) grown(key string, now uint64) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]uint64{}
	}
	n := now - l.seen[key]
	if now < l.seen[key] {
		n = now // a new counter under the same key
	}
	l.seen[key] = now
	return n
}

// collectLost applies the overflow policy to the losses that sources only
// count: audit records the reader dropped, NFLOG records and socket
// overruns of each container's egress rules. The main loop calls it at
// every rescan tick.
func (d *Daemon) collectLost() {
	if d.auditDropped != nil {
		d.lost.lost(lostAudit, "kernel audit records (SECCOMP, Landlock)", d.lostSeen.grown("audit", d.auditDropped.Load()))
	}
	type eg struct {
		key string
		r   *egress.Rules
	}
	var rs []eg
	d.mu.Lock()
	for _, c := range d.reg.all() {
		if c.egress != nil {
			rs = append(rs, eg{c.key(), c.egress})
		}
	}
	d.mu.Unlock()
	live := map[string]bool{"audit": true}
	for _, e := range rs {
		st := e.r.Stats()
		live["nflog "+e.key] = true
		d.lost.lost(lostNFLOG, "NFLOG records of refused connections", d.lostSeen.grown("nflog "+e.key, st.Dropped+st.Lost))
	}
	d.lostSeen.keep(live)
}

// keep forgets the counters of keys not in live (containers gone).
func (l *lostCounter) keep(live map[string]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.seen {
		if !live[k] {
			delete(l.seen, k)
		}
	}
}
