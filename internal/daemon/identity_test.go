package daemon

import (
	"testing"

	"github.com/confinehq/confine/hooks"
)

// The same id under two runc roots is two containers; containerd's and
// dockerd's roots name their namespace and add nothing to the key.
func TestIdentityIncludesRuncRoot(t *testing.T) {
	r := newRegistry()
	key := func(ns, id, root string) string { return containerKey(ns, id, hooks.QualifyingRoot(ns, root)) }
	for _, tt := range []struct{ ns, id, root, want string }{
		{"default", "c1", "/run/containerd/runc/default", "default/c1"},
		{"moby", "c1", "/var/run/docker/runtime-runc/moby", "moby/c1"},
		{"default", "c1", "", "default/c1"},
		{"default", "c1", "/tmp/a/state", "default/c1@/tmp/a/state"},
		{"default", "c1", "/run/containerd/runc/other", "default/c1@/run/containerd/runc/other"},
	} {
		if got := key(tt.ns, tt.id, tt.root); got != tt.want {
			t.Errorf("key(%s, %s, %s) = %s, want %s", tt.ns, tt.id, tt.root, got, tt.want)
		}
	}

	a := &container{Namespace: "default", ID: "c1", Root: "/tmp/a/state"}
	r.put(a)
	if r.get("default", "c1") != a {
		t.Error("the only default/c1 is not found by namespace and id")
	}
	b := &container{Namespace: "default", ID: "c1", Root: "/tmp/b/state"}
	r.put(b)
	if n := len(r.all()); n != 2 {
		t.Fatalf("%d records, want 2 (two roots)", n)
	}
	if c := r.get("default", "c1"); c != nil {
		t.Errorf("ambiguous default/c1 resolved to %s", c.key())
	}
	if r.remove(key("default", "c1", "/tmp/a/state")) != a || r.getKey(b.key()) != b || len(r.all()) != 1 {
		t.Error("removing one root's container touched the other")
	}
	if r.get("default", "c1") != b {
		t.Error("the remaining default/c1 is not found")
	}
	if v := b.apiView(); v.Root != "/tmp/b/state" {
		t.Errorf("api view root = %q", v.Root)
	}
}
