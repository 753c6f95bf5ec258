package daemon

import (
	"testing"

	"github.com/confinehq/confine/internal/api"
)

func TestSetLayer(t *testing.T) {
	c := &container{}
	steps := []struct {
		name    string
		l       api.Layer
		changed bool
		want    []string
	}{
		{"first", api.Layer{Name: "events", InForce: true, Detail: "proc connector"}, true, []string{"events"}},
		{"ordered before events", api.Layer{Name: "fanotify", Reason: "no overlay"}, true, []string{"fanotify", "events"}},
		{"seccomp first", api.Layer{Name: "seccomp", InForce: true}, true, []string{"seccomp", "fanotify", "events"}},
		{"same again", api.Layer{Name: "seccomp", InForce: true}, false, []string{"seccomp", "fanotify", "events"}},
		{"replaced", api.Layer{Name: "fanotify", InForce: true}, true, []string{"seccomp", "fanotify", "events"}},
		{"landlock between", api.Layer{Name: "landlock", InForce: true, Detail: "ABI 7"}, true, []string{"seccomp", "landlock", "fanotify", "events"}},
		{"secrets after fanotify", api.Layer{Name: "secrets", Reason: "secret_watch = false"}, true, []string{"seccomp", "landlock", "fanotify", "secrets", "events"}},
	}
	for _, s := range steps {
		if got := recordLayer(c, s.l); got != s.changed {
			t.Errorf("%s: changed %v, want %v", s.name, got, s.changed)
		}
		var names []string
		for _, l := range c.Layers {
			names = append(names, l.Name)
		}
		if len(names) != len(s.want) {
			t.Fatalf("%s: layers %v, want %v", s.name, names, s.want)
		}
		for i := range names {
			if names[i] != s.want[i] {
				t.Fatalf("%s: layers %v, want %v", s.name, names, s.want)
			}
		}
	}
	if l := c.Layers[2]; !l.InForce || l.Reason != "" {
		t.Errorf("fanotify not replaced: %+v", l)
	}
}
