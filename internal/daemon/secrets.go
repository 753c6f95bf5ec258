package daemon

import (
	"fmt"
	"path/filepath"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/internal/finding"
	"github.com/confinehq/confine/monitor/fanotify"
	"github.com/confinehq/confine/monitor/secrets"
)

// secretRead is a fanotify secret-read report handed to the alerting
// goroutine.
type secretRead struct {
	c *container
	r fanotify.SecretRead
}

// startSecrets watches a container's credential files (the built-in list
// of monitor/secrets minus the profile's secrets.ignore) in every mode and
// every profile: each open is a "secret" alert, even when learned. The
// watch is a layer (secrets): one that cannot start, or is switched off
// with secret_watch = false, is a layer_missing alert and shows in
// confinectl ps and status.
func (d *Daemon) startSecrets(c *container, bundle string) {
	p := c.profile()
	if p == nil {
		return
	}
	if !d.cfg.SecretWatch {
		d.layerMissing(c, alert.LayerSecrets, "secret_watch = false in confine.toml: opens of credential files are not reported")
		return
	}
	d.mu.Lock()
	pid := c.Pid
	d.mu.Unlock()
	if bundle == "" {
		d.log.Error("secret reads not watched: the container's bundle was not found", "namespace", c.Namespace, "container", c.ID)
		d.layerMissing(c, alert.LayerSecrets, "the container's bundle (rootfs) was not found: opens of credential files are not reported")
		return
	}
	w, err := fanotify.WatchSecrets(fanotify.SecretConfig{
		ID:         c.key(),
		Pid:        pid,
		RootfsPath: filepath.Join(bundle, "rootfs"),
		List:       secrets.New(p.Secrets.Ignore),
		Report: func(r fanotify.SecretRead) {
			select {
			case d.secretCh <- secretRead{c: c, r: r}:
			default:
				d.stats.secretsLost.Add(1)
				d.lost.lost(lostSecrets, "secret reads to report", 1)
			}
		},
		Log:  d.log,
		Proc: d.mon.fs,
	})
	if err != nil {
		d.log.Error("secret reads not watched", "namespace", c.Namespace, "container", c.ID, "error", err)
		d.layerMissing(c, alert.LayerSecrets, err.Error()+": opens of credential files are not reported")
		return
	}
	if !publish(&d.mu, c, &c.secrets, w) {
		return // forgotten while the watch started
	}
	d.layerOn(c, alert.LayerSecrets, secretsDetail(w.Marked()))
	d.log.Info("secret reads watched", "namespace", c.Namespace, "container", c.ID, "files", w.Marked())
}

// secretLoop hands secret reads to the enforcer (alerts: CONFINE_RULE secret, the
// file, the process and the container, in every mode; never a kill).
func (d *Daemon) secretLoop() {
	for sr := range d.secretCh {
		c, r := sr.c, sr.r
		prof := c.profile()
		if prof == nil {
			continue
		}
		if r.Lost > 0 {
			d.stats.secretsLost.Add(r.Lost)
			d.log.Warn("secret-read events lost (fanotify queue overflow)", "namespace", c.Namespace, "container", c.ID, "lost", r.Lost)
			d.lost.lost(lostSecrets, "secret reads (fanotify queue overflow)", r.Lost)
			continue
		}
		d.enf.submit(c, finding.Finding{Source: finding.SourceFanotify, Rule: alert.RuleSecret, Subject: r.Path,
			Watch: true, Layer: alert.LayerFanotify, Process: &finding.Process{PID: r.PID, Exe: r.Exe}})
	}
}

// secretsDetail says what a secret watch marks: "3 files, /proc".
func secretsDetail(marked []string) string {
	files, procMark := 0, false
	for _, m := range marked {
		if m == "/proc" {
			procMark = true
		} else {
			files++
		}
	}
	s := fmt.Sprintf("%d files", files)
	if procMark {
		s += ", /proc"
	}
	return s
}
