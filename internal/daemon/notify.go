package daemon

import (
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
)

// notifier speaks sd_notify when NOTIFY_SOCKET is set and does nothing
// otherwise, so confined runs the same with and without systemd.
type notifier struct {
	watchdog time.Duration
}

func newNotifier() *notifier {
	n := &notifier{}
	if d, err := sd.SdWatchdogEnabled(false); err == nil && d > 0 {
		n.watchdog = d
	}
	return n
}

func (n *notifier) ready()          { _, _ = sd.SdNotify(false, sd.SdNotifyReady) }
func (n *notifier) reloading()      { _, _ = sd.SdNotify(false, sd.SdNotifyReloading) }
func (n *notifier) stopping()       { _, _ = sd.SdNotify(false, sd.SdNotifyStopping) }
func (n *notifier) status(s string) { _, _ = sd.SdNotify(false, "STATUS="+s) }
func (n *notifier) ping()           { _, _ = sd.SdNotify(false, sd.SdNotifyWatchdog) }
func (n *notifier) interval() time.Duration {
	if n.watchdog == 0 {
		return 0
	}
	return n.watchdog / 3
}
