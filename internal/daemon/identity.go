package daemon

import (
	"context"
	"fmt"
	"maps"

	"github.com/confinehq/confine/internal/docker"
	"github.com/confinehq/confine/internal/watch"
	"github.com/confinehq/confine/profiles"
)

// identity is who a container is: what containerd, its spec or bundle and
// Docker say of it. Profile selection, the records and the alerts all
// take it from identify, and its profile from profileFor.
type identity struct {
	Image       string
	Labels      map[string]string
	Annotations map[string]string
	Name        string
	Docker      *docker.Info // nil outside Docker's namespace or when Docker did not answer
}

// target is what profile selection matches.
func (i identity) target() profiles.Target {
	return profiles.Target{Image: i.Image, Labels: i.Labels, Annotations: i.Annotations}
}

// identify resolves a container's identity from containerd's view of it
// (info; nil when containerd was not asked or did not know it) and the
// annotations the caller read itself (the spec confine-runc sends, the
// bundle; they win over containerd's copy), with what Docker says of it
// for Docker's namespace (dockerd gives containerd none of its labels).
// Only Docker is asked here, within ctx; the records' lock is not held.
func (d *Daemon) identify(ctx context.Context, ns, id string, info *watch.Container, ann map[string]string) identity {
	return identityOf(info, ann, d.dockerLookup(ctx, ns, id))
}

// identityOf merges what containerd (info), the caller (ann) and Docker
// (dinfo, nil when not Docker's) say of a container; it does no I/O.
func identityOf(info *watch.Container, ann map[string]string, dinfo *docker.Info) identity {
	var ident identity
	if info != nil {
		ident.Image, ident.Labels = info.Image, info.Labels
		ident.Annotations = maps.Clone(info.Annotations)
		ident.Name = info.Labels["nerdctl/name"]
	}
	if len(ann) > 0 {
		if ident.Annotations == nil {
			ident.Annotations = map[string]string{}
		}
		maps.Copy(ident.Annotations, ann)
	}
	if dinfo != nil {
		t := withDocker(profiles.Target{Image: ident.Image, Labels: ident.Labels}, dinfo)
		ident.Image, ident.Labels, ident.Name, ident.Docker = t.Image, t.Labels, dinfo.Name, dinfo
	}
	return ident
}

// Why a profile was chosen, besides profiles.Select's own reasons.
const (
	reasonAnnotation = "bundle annotation"
	reasonDefault    = "default profile"
)

// profileFor decides a registered container's profile from its identity,
// the one place that does. fromBundle: the profile its annotations name
// (confine-runc's decision, written into the bundle), with the
// confine.mode override, else the default profile with the override; an
// error when neither is loaded. Otherwise selection on labels, image and
// annotations, as for a new container; when selection fails the error
// comes with what the container is watched with instead (the default
// profile, else the baseline). The profile is a copy the caller owns.
func (d *Daemon) profileFor(ident identity, fromBundle bool) (*profiles.Profile, string, error) {
	set := d.profiles.Current()
	if fromBundle {
		if p, ok := annotatedProfile(set, ident.Annotations); ok {
			return p, reasonAnnotation, nil
		}
		q, ok := set.Get(d.cfg.DefaultProfile)
		if !ok {
			return nil, "", fmt.Errorf("profile %q not loaded and no default profile", ident.Annotations[profiles.LabelProfile])
		}
		return withModeOverride(q.Clone(), ident.Annotations), reasonDefault, nil
	}
	sel, err := set.Select(ident.target(), d.cfg.DefaultProfile)
	if err == nil {
		return sel.Profile, sel.Reason, nil
	}
	if q, ok := set.Get(d.cfg.DefaultProfile); ok {
		return q.Clone(), reasonDefault + " after error", err
	}
	return profiles.Baseline(), "baseline after error", err
}

// annotatedProfile is the profile a container's annotations name (the
// confine.profile that confine-runc wrote into the bundle), a copy with
// the confine.mode override applied; false when none is named or loaded.
// It does no I/O: the seccomp listener calls it while a process waits.
func annotatedProfile(set *profiles.Set, ann map[string]string) (*profiles.Profile, bool) {
	name := ann[profiles.LabelProfile]
	if name == "" {
		return nil, false
	}
	q, ok := set.Get(name)
	if !ok {
		return nil, false
	}
	return withModeOverride(q.Clone(), ann), true
}

// withModeOverride applies the confine.mode annotation to p.
func withModeOverride(p *profiles.Profile, ann map[string]string) *profiles.Profile {
	if m, ok := profiles.ParseMode(ann[profiles.LabelMode]); ok {
		p.Mode = m
	}
	return p
}
