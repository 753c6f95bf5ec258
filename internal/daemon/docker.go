package daemon

import (
	"context"
	"maps"
	"time"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/internal/docker"
	"github.com/confinehq/confine/profiles"
)

// dockerView is what Docker knows of a container in its containerd
// namespace: dockerd 20.10 gives containerd neither the labels nor the
// image name, so selection asks Docker (Engine API, else config.v2.json).
type dockerView struct {
	resolver *docker.Resolver
	ns       string
}

func newDockerView(socket, dataRoot, ns string) *dockerView {
	return &dockerView{resolver: &docker.Resolver{Socket: socket, DataRoot: dataRoot, Timeout: 2 * time.Second}, ns: ns}
}

// lookup returns Docker's view, or nil for containers not Docker's.
func (d *Daemon) dockerLookup(ctx context.Context, ns, id string) *docker.Info {
	if d.docker == nil || ns != d.docker.ns {
		return nil
	}
	info, err := d.docker.resolver.Lookup(ctx, id)
	if err != nil {
		d.log.Warn("Docker does not say what this container is; selecting on what containerd knows", "namespace", ns, "container", id, "error", err)
		return nil
	}
	if info.Source != "api" {
		d.log.Warn("Docker Engine API unreachable; labels and image read from config.v2.json", "namespace", ns, "container", id, "source", info.Source)
	}
	return info
}

// withDocker merges Docker's labels and image into a selection target.
func withDocker(t profiles.Target, info *docker.Info) profiles.Target {
	if info == nil {
		return t
	}
	labels := maps.Clone(t.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, info.Labels)
	t.Labels = labels
	if info.Image != "" {
		t.Image = info.Image
	}
	return t
}

// dockerUnconfined reports a container that Docker runs without seccomp
// (--security-opt seccomp=unconfined) although its profile enforces.
func (d *Daemon) dockerUnconfined(c *container, info *docker.Info) {
	p := c.profile()
	if info == nil || !info.SeccompUnconfined || p == nil || p.Mode != profiles.ModeEnforce {
		return
	}
	a := containerAlert(&d.mu, c, p)
	a.Event, a.Rule, a.Action, a.Priority = alert.EventViolation, alert.RuleSeccomp, alert.ActionAlerted, alert.PriWarning
	a.Message = "confine: container " + c.Namespace + "/" + c.ID + " was started with --security-opt seccomp=unconfined under enforce profile " + p.Name
	d.alerts.emit(a)
}
