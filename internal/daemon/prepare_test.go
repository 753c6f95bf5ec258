package daemon

import (
	"testing"

	"github.com/confinehq/confine/profiles"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestFilterCacheKeysOnTheProfileAsGiven(t *testing.T) {
	c := &filterCache{m: map[string]*specs.LinuxSeccomp{}}
	p := &profiles.Profile{Name: "p", Mode: profiles.ModeEnforce, Seccomp: profiles.Seccomp{Base: "docker-default"}}
	a, err := c.filter(p, "amd64", "")
	if err != nil || a == nil {
		t.Fatalf("filter: %v %v", a, err)
	}
	b, _ := c.filter(p.Clone(), "amd64", "")
	if a != b {
		t.Error("the same profile version generated its filter twice")
	}
	if l, _ := c.filter(p, "amd64", "/run/confine/notify.sock"); l == a {
		t.Error("a filter with a listener came from the cache of the one without")
	}
	// Learn mode rewrites the allow list between containers: another
	// list is another filter.
	q := p.Clone()
	q.Seccomp = profiles.Seccomp{DefaultAction: profiles.ActionErrno, Allow: profiles.List{"read", "write"}}
	if f, _ := c.filter(q, "amd64", ""); f == a {
		t.Error("a changed profile got the cached filter of the old one")
	}
	plain := &profiles.Profile{Name: "plain", Mode: profiles.ModeEnforce}
	if f, err := c.filter(plain, "amd64", ""); err != nil || f != nil {
		t.Errorf("a profile without seccomp: %v %v, want no filter", f, err)
	}
}
