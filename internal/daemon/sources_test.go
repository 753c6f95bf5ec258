package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/profiles/ociprofile"
)

// TestFleetPoll drives one source through a real registry: nothing
// published, an unsigned artifact (refused, alerted once however often it is
// polled), the same artifact signed later (installed), an outage (nothing
// changes), a restart (the cache is in force).
func TestFleetPoll(t *testing.T) {
	reg := testbed.StartRegistry(t)
	dir := t.TempDir()
	privPath, pubPath := testbed.SigningKeys(t, dir, "team")

	src := reg.Ref("team/web:prod")
	cfg := config.Default()
	cfg.StateDir, cfg.ProfilesDir = filepath.Join(dir, "state"), filepath.Join(dir, "profiles.d")
	cfg.ProfileSources, cfg.SignatureKeys, cfg.RequireSignature = []string{src}, []string{pubPath}, true
	cfg.RegistryAuthFile, cfg.RegistryCAFiles = reg.AuthFile, []string{reg.CAFile}
	sink := &memSink{}
	al := newAlerterWith(quietLog(), newMetrics(), []alert.Sink{sink}, time.Now)
	f, err := newFleet(cfg, quietLog(), newMetrics(), al)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := f.sources[0]
	st := func() (string, string) { v := f.status()[0]; return v.Digest, v.LastError }

	if f.pollOnce(ctx, s) {
		t.Fatal("installed something from an empty repository")
	}
	if dg, e := st(); dg != "" || e == "" {
		t.Fatalf("empty repository: digest %q error %q", dg, e)
	}

	c, err := ociprofile.NewClient(ociprofile.Options{AuthFile: reg.AuthFile, CAFiles: []string{reg.CAFile}})
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := ociprofile.ParseRef(src)
	y := "apiVersion: confine/v1\nname: web\nmode: enforce\nexec:\n  allow: [/bin/busybox]\n"
	dg, err := c.Push(ctx, ref, ociprofile.Artifact{Name: "web", Profile: []byte(y)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if f.pollOnce(ctx, s) {
			t.Fatal("installed an unsigned artifact")
		}
	}
	if _, e := st(); !strings.Contains(e, "no signature") {
		t.Fatalf("unsigned: error %q", e)
	}

	signer, err := ociprofile.LoadSigner(privPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Sign(ctx, ref, dg, signer); err != nil {
		t.Fatal(err)
	}
	if !f.pollOnce(ctx, s) {
		t.Fatal("the artifact signed later was not installed")
	}
	if got, e := st(); got != dg || e != "" {
		t.Fatalf("after signing: digest %q error %q", got, e)
	}
	set, errs := loadProfileDirs(cfg.ProfilesDir, f.dir)
	if p, ok := set.Get("web"); !ok || len(errs) != 0 || !strings.HasPrefix(p.Source, f.dir) {
		t.Fatalf("pulled profile not loaded: %v %v", p, errs)
	}

	reg.Stop()
	if f.pollOnce(ctx, s) {
		t.Fatal("changed during an outage")
	}
	if got, e := st(); got != dg || e == "" {
		t.Fatalf("outage: digest %q error %q", got, e)
	}

	// A restart with the registry down: the cache is in force.
	f2, err := newFleet(cfg, quietLog(), newMetrics(), al)
	if err != nil {
		t.Fatal(err)
	}
	if v := f2.status()[0]; v.Digest != dg || !v.Signed || v.Profile != "web" {
		t.Fatalf("after a restart: %+v", v)
	}
	al.close()
	n := 0
	for _, a := range sink.all() {
		if a.Event == alert.EventProfileError && a.Extra["DIGEST"] == dg {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d alerts for the refused digest, want 1", n)
	}

	// A source taken out of the configuration: its cache goes.
	cfg.ProfileSources = nil
	if f3, err := newFleet(cfg, quietLog(), newMetrics(), al); err != nil || f3 != nil {
		t.Fatalf("no sources: %v %v", f3, err)
	}
	if _, err := os.Stat(f.dir); !os.IsNotExist(err) {
		t.Fatalf("cache of removed sources kept: %v", err)
	}
}
