package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/profiles"
	"github.com/confinehq/confine/profiles/ociprofile"
)

// webV1 allows only /bin/busybox; webV2 also binaries under /tmp/ok/.
var (
	webV1 = strings.Replace(appProfile, "name: app", "name: web", 1)
	webV2 = strings.Replace(webV1, `allow: ["/bin/busybox"]`, `allow: ["/bin/busybox", "/tmp/ok/**"]`, 1)
	// webOpen would allow anything: what an attacker would publish.
	webOpen = strings.Replace(webV1, `allow: ["/bin/busybox"]`, `allow: ["/**"]`, 1)
)

// writeKeyPair writes a PKCS#8 private key and its PKIX public key (the
// PEM forms cosign reads).
func writeKeyPair(t *testing.T, dir string) (string, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := x509.MarshalPKCS8PrivateKey(k)
	pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pp, pk := filepath.Join(dir, "team.key"), filepath.Join(dir, "team.pub")
	if err := os.WriteFile(pp, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pk, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		t.Fatal(err)
	}
	return pp, pk
}

// profileDigest is profiles.Digest of a profile's YAML.
func profileDigest(t *testing.T, y string) string {
	t.Helper()
	r, err := profiles.Parse([]byte(y), "x.yaml", profiles.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return profiles.Digest(r.Profile)
}

// decided asks confined which profile a container labelled web would get.
func decided(c *e2e.Confined) string {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	dec, err := c.Client.Decide(ctx, api.DecideRequest{Namespace: "probe", ID: "probe", Annotations: map[string]string{"confine.profile": "web"}})
	if err != nil || dec.Profile == nil || dec.Profile.Name != "web" {
		return ""
	}
	return dec.Digest
}

// waitFleet polls until cond holds for the daemon's source status and the
// digest of the profile it would give a container labelled web.
func waitFleet(t *testing.T, c *e2e.Confined, what string, cond func(src api.ProfileSource, profileDigest string) bool) api.ProfileSource {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		st, err := c.Client.Status(ctx)
		cancel()
		if err == nil && len(st.ProfileSources) == 1 && cond(st.ProfileSources[0], decided(c)) {
			return st.ProfileSources[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: status %+v %v; decided %s", what, st, err, decided(c))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// execKills runs a binary copied under dir in a new container labelled
// web and reports whether confined killed the container.
func execKills(t *testing.T, bed *e2e.Bed, c *e2e.Confined, dir string) bool {
	t.Helper()
	id := testbed.UniqueID("fl")
	r, err := bed.Start(context.Background(), testbed.RunOptions{ID: id, Runtime: bed.Runc, Args: []string{"sleep", "120"}, Labels: map[string]string{"confine.profile": "web"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitWatched(t, c, bed.Namespace, id)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	_, _ = r.Exec(ctx, "sh", "-c", fmt.Sprintf("mkdir -p %s && cp /bin/busybox %s/busybox && exec %s/busybox sleep 5", dir, dir, dir))
	cancel()
	code, exited := waitExit(t, r, 10*time.Second)
	if exited && code != 137 {
		t.Fatalf("container exited with %d, not killed (137)", code)
	}
	return exited
}

// TestFleetRollout: one confinectl pushes signed profiles to a real
// registry (TLS, basic auth); two confined, each with its own containerd,
// pull, verify and enforce them; a new tag rolls out to both; unsigned and
// forged artifacts are refused with an alert and the last good profile
// stays; a registry outage changes nothing; a restart while offline uses
// the cached profile.
func TestFleetRollout(t *testing.T) {
	reg := testbed.StartRegistry(t)
	keys := t.TempDir()
	priv, pub := writeKeyPair(t, keys)
	src := reg.Ref("team/web:prod")
	// Landlock is off: its rules are fixed when a container starts, and this
	// test widens the running container's exec.allow with the rollout.
	fleetCfg := fmt.Sprintf("landlock = false\nprofile_sources = [%q]\nprofile_poll = \"1s\"\nrequire_signature = true\nsignature_keys = [%q]\nregistry_auth_file = %q\nregistry_ca_files = [%q]\n",
		src, pub, reg.AuthFile, reg.CAFile)
	beds := []*e2e.Bed{e2e.NewBed(t), e2e.NewBed(t)}
	for _, b := range beds {
		b.WriteConfig(t, fleetCfg)
	}
	publish := t.TempDir()
	push := func(y string, sign bool) string {
		t.Helper()
		f := filepath.Join(publish, "web.yaml")
		if err := os.WriteFile(f, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"--json", "profile", "push", f, src}
		if sign {
			args = append(args, "--sign-key", priv)
		}
		out, serr, code := beds[0].Ctl(t, args...)
		if code != 0 {
			t.Fatalf("confinectl profile push: %d %s %s", code, out, serr)
		}
		var res struct{ Digest string }
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.Digest == "" {
			t.Fatalf("push output %q: %v", out, err)
		}
		return res.Digest
	}

	d1 := push(webV1, true)
	cs := []*e2e.Confined{beds[0].StartConfined(t), beds[1].StartConfined(t)}
	for i, c := range cs {
		waitFleet(t, c, fmt.Sprintf("host %d pulls v1", i), func(s api.ProfileSource, pd string) bool {
			return s.Digest == d1 && s.Signed && pd == profileDigest(t, webV1)
		})
		if !execKills(t, beds[i], c, "/tmp/ok") {
			t.Fatalf("host %d: a binary outside the pulled profile's exec.allow was not killed", i)
		}
	}

	// Rollout: a new version under the same tag reaches both hosts.
	pushed := time.Now()
	d2 := push(webV2, true)
	for i, c := range cs {
		waitFleet(t, c, fmt.Sprintf("host %d rolls out v2", i), func(s api.ProfileSource, pd string) bool {
			return s.Digest == d2 && pd == profileDigest(t, webV2)
		})
		t.Logf("host %d enforces v2 %s after the push (profile_poll 1s, rescan_interval 500ms)", i, time.Since(pushed).Round(10*time.Millisecond))
	}
	for i, c := range cs {
		if execKills(t, beds[i], c, "/tmp/ok") {
			t.Fatalf("host %d: v2 allows /tmp/ok/** but the container was killed", i)
		}
	}

	// Unsigned: refused with an alert, v2 stays.
	d3 := push(webOpen, false)
	for i, c := range cs {
		waitFleet(t, c, fmt.Sprintf("host %d refuses the unsigned artifact", i), func(s api.ProfileSource, pd string) bool {
			return s.Digest == d2 && strings.Contains(s.LastError, "no signature") && pd == profileDigest(t, webV2)
		})
		beds[i].WaitAlert(t, 10*time.Second, map[string]string{"event": "profile_error", "source": src, "digest": d3})
	}

	// Forged: v2's genuine signature placed on another artifact.
	client, err := ociprofile.NewClient(ociprofile.Options{AuthFile: reg.AuthFile, CAFiles: []string{reg.CAFile}})
	if err != nil {
		t.Fatal(err)
	}
	d4 := push(strings.Replace(webOpen, "mode: enforce", "mode: monitor", 1), false)
	signer, err := ociprofile.LoadSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := ociprofile.ParseRef(src)
	pl, _ := ociprofile.NewPayload(ref.Registry+"/"+ref.Repository, d2)
	sig, err := signer.SignMessage(bytes.NewReader(pl))
	if err != nil {
		t.Fatal(err)
	}
	if err := client.PushSignature(context.Background(), ref, d4, pl, base64.StdEncoding.EncodeToString(sig)); err != nil {
		t.Fatal(err)
	}
	for i, c := range cs {
		waitFleet(t, c, fmt.Sprintf("host %d refuses the forged signature", i), func(s api.ProfileSource, pd string) bool {
			return s.Digest == d2 && strings.Contains(s.LastError, "signature is for") && pd == profileDigest(t, webV2)
		})
		beds[i].WaitAlert(t, 10*time.Second, map[string]string{"event": "profile_error", "source": src, "digest": d4})
	}
	if !execKills(t, beds[0], cs[0], "/tmp/bad") {
		t.Fatal("after the refusals, v2 no longer enforced")
	}

	// Registry down: errors reported, nothing changes.
	reg.Stop()
	for i, c := range cs {
		waitFleet(t, c, fmt.Sprintf("host %d sees the outage", i), func(s api.ProfileSource, pd string) bool {
			return s.Digest == d2 && s.LastError != "" && !strings.Contains(s.LastError, "signature") && pd == profileDigest(t, webV2)
		})
	}
	out, _, code := beds[0].Ctl(t, "status")
	if code != 1 || !strings.Contains(out, src) || !strings.Contains(out, d2) {
		t.Fatalf("confinectl status during the outage (exit %d):\n%s", code, out)
	}

	// Restart while offline: the cached v2 is in force at once.
	cs[0].Stop(t)
	c := beds[0].StartConfined(t)
	waitFleet(t, c, "restarted offline with the cached profile", func(s api.ProfileSource, pd string) bool {
		return s.Digest == d2 && pd == profileDigest(t, webV2)
	})
	if execKills(t, beds[0], c, "/tmp/ok") || !execKills(t, beds[0], c, "/tmp/bad") {
		t.Fatal("the cached profile is not the one enforced after an offline restart")
	}
}
