package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/internal/atomicfile"
	"github.com/confinehq/confine/monitor/audit"
)

// Denials while confined is down: Landlock keeps refusing (the rules are
// the kernel's), audit stays enabled (a SIGKILLed confined restores
// nothing), and with no audit daemon registered the kernel prints every
// audit record to its log, rate-limited. confined keeps the serial of the
// last audit record it received in state_dir/audit-position (with the
// boot it belongs to, and the Landlock domains it knows); when it starts again, once containers are known,
// it reads the kernel log for the records after that serial and before
// its start, and reports their Landlock denials as if they had just
// arrived. What the log's rate limit dropped (or its ring overwrote) is
// one alert with the count: lost, never silently.
//
// Limits: a denial is attributed through the process that created its
// Landlock domain (its "allocated" record comes only with the domain's
// first logged denial; the domains known are kept with the position). A
// denial of an exec session that ended while confined was down cannot be
// tied to a container and is logged, not alerted. With an audit daemon
// (auditd) registered the kernel log gets nothing: auditd's log has them.

// auditPositionFile holds the position (JSON, auditPosition).
const auditPositionFile = "audit-position"

// auditPosition is what confined keeps between runs: the boot, the last
// serial received (0 when none was), when it was written, and the live
// Landlock domains with their creators (the kernel names a domain's
// creator only with its first logged denial).
type auditPosition struct {
	Boot    string         `json:"boot"`
	Serial  uint64         `json:"serial"`
	AliveMs int64          `json:"alive_ms"`
	Domains []audit.Domain `json:"domains,omitempty"`
}

// auditSaveEvery is how often the position is written.
const auditSaveEvery = 2 * time.Second

type auditResume struct {
	path  string
	boot  string
	start time.Time
	// found is whether a position of this boot was found at start.
	found bool
	prev  auditPosition
	once  sync.Once
	// done is closed when the replay has ended (nil: never started).
	done chan struct{}
	kmsg string // the kernel log (audit.KmsgPath)

	last    func() uint64
	domains func() []audit.Domain
	mu      sync.Mutex
}

func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// loadAuditResume reads the position a previous confined left.
func (d *Daemon) loadAuditResume() *auditResume {
	r := &auditResume{path: filepath.Join(d.cfg.StateDir, auditPositionFile), boot: bootID(), start: time.Now(), kmsg: audit.KmsgPath}
	if b, err := os.ReadFile(r.path); err == nil {
		var p auditPosition
		if err := json.Unmarshal(b, &p); err != nil {
			d.log.Warn("ignoring a damaged audit position", "path", r.path, "error", err)
		} else if p.Boot == r.boot && r.boot != "" {
			r.prev, r.found = p, true
		}
	}
	return r
}

// keep writes the position every auditSaveEvery until ctx ends.
func (r *auditResume) keep(ctx context.Context, log interface{ Warn(string, ...any) }, last func() uint64, domains func() []audit.Domain) {
	r.last, r.domains = last, domains
	go func() {
		t := time.NewTicker(auditSaveEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := r.save(); err != nil {
					log.Warn("saving the audit position", "path", r.path, "error", err)
				}
			}
		}
	}()
}

// save writes the position and the time (the time says until when
// confined was there to receive records).
func (r *auditResume) save() error {
	if r.boot == "" || r.last == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b, err := json.Marshal(auditPosition{Boot: r.boot, Serial: r.last(), AliveMs: time.Now().UnixMilli(), Domains: r.domains()})
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(r.path, append(b, '\n'), 0o600)
}

// replayMissed reports, once the containers are known, the Landlock
// denials the kernel logged while confined was down.
// It stops when ctx ends; waitReplay waits for it, so that its alerts are
// sent before the alerter closes.
func (d *Daemon) replayMissed(ctx context.Context) {
	r := d.resume
	if r == nil || !r.found {
		return
	}
	r.once.Do(func() {
		r.done = make(chan struct{})
		go func() {
			defer close(r.done)
			d.replayMissedNow(ctx, r)
		}()
	})
}

// waitReplay waits until a replay replayMissed started has ended.
func (d *Daemon) waitReplay() {
	if r := d.resume; r != nil && r.done != nil {
		<-r.done
	}
}

func (d *Daemon) replayMissedNow(ctx context.Context, r *auditResume) {
	interval := audit.RatelimitInterval()
	reported := r.prev.Serial
	denials := 0
	dm := audit.NewDemux(audit.Consumers{Landlock: func(l audit.LandlockDenial) {
		denials++
		d.landlockDenial(l, 0)
	}})
	dm.SeedDomains(r.prev.Domains)
	// The rate limit's notice for the interval of the restart comes at
	// the first print of the next interval: read again until the count is
	// final (bounded).
	var m audit.Missed
	for try := 0; ; try++ {
		var err error
		m, err = audit.ReadMissed(r.kmsg, r.prev.Serial, time.UnixMilli(r.prev.AliveMs), r.start, interval)
		if err != nil {
			reason := "the kernel log cannot be read: " + err.Error()
			d.log.Warn("Landlock denials while confined was down are not reported", "error", err)
			d.alerts.emit(&alert.Alert{
				Event: alert.EventUnprotected, Rule: alert.RuleLayerMissing, Layer: alert.LayerLandlock,
				Action: alert.ActionAlerted, Priority: alert.PriWarning,
				Message: "confine: Landlock denials while confined was down (if any) are not reported: " + reason,
				Extra:   map[string]string{"REASON": reason},
			})
			return
		}
		for _, msg := range m.Msgs {
			if st, _, ok := audit.ParseStamp(msg.Body); ok && st.Serial > reported {
				reported = st.Serial
				dm.Message(msg, r.start)
			}
		}
		dm.Tick(r.start.Add(time.Hour))
		if m.Complete || try >= 10 {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval / 2):
		}
	}
	d.log.Info("kernel log read for audit records missed while confined was down", "after_serial", r.prev.Serial, "records", len(m.Msgs), "landlock_denials", denials, "lost", m.Lost, "count_final", m.Complete)
	if m.Lost == 0 {
		return
	}
	msg := fmt.Sprintf("confine: %d kernel audit records were lost around confined's absence (the kernel log's rate limit dropped them): Landlock denials among them are refused but not reported", m.Lost)
	d.alerts.emit(&alert.Alert{
		Event: alert.EventUnprotected, Rule: alert.RuleLayerMissing, Layer: alert.LayerLandlock,
		Action: alert.ActionAlerted, Priority: alert.PriWarning, Count: m.Lost, Message: msg,
		Extra: map[string]string{"REASON": "audit records lost while confined was down", "LOST": strconv.Itoa(m.Lost)},
	})
}
