package daemon

import (
	"sync"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/profiles"
)

// note adds a line to what confinectl ps shows for a container.
func (d *Daemon) note(c *container, msg string) {
	d.mu.Lock()
	c.Notes = append(c.Notes, msg)
	d.mu.Unlock()
}

// containerAlert starts an alert about a container (who and where): the
// enforcer's and the layer and Docker checks' alike.
func containerAlert(mu *sync.Mutex, c *container, prof *profiles.Profile) *alert.Alert {
	mu.Lock()
	image := c.Image
	mu.Unlock()
	return &alert.Alert{
		Namespace: c.Namespace, Container: c.ID, Image: image,
		Profile: prof.Name, Mode: string(prof.Mode),
	}
}
