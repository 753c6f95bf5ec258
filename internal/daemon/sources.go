package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/atomicfile"
	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/profiles"
	"github.com/confinehq/confine/profiles/ociprofile"
	"github.com/confinehq/confine/seccomp/profilecheck"
	"github.com/prometheus/client_golang/prometheus"
)

// fleet pulls the profiles of profile_sources: each source is polled, the
// artifact verified (digests, artifact type, cosign signature, strict
// profile parsing) and only then written to the cache directory in
// state_dir, one <key>.yaml per source, atomically. The profile loader
// reads that directory with profiles_dir, so a new digest is swapped in by
// the next reload, and the last good profile of a source survives registry
// outages and restarts. A refused artifact changes nothing and raises one
// alert per digest.
type fleet struct {
	dir     string
	poll    time.Duration
	client  *ociprofile.Client
	policy  ociprofile.Policy
	sources []*remoteSource
	log     *slog.Logger
	alerts  *alerter

	info    *prometheus.GaugeVec
	polls   *prometheus.CounterVec
	success *prometheus.GaugeVec
	up      *prometheus.GaugeVec
}

// remoteSource is one entry of profile_sources.
type remoteSource struct {
	raw string
	ref ociprofile.Ref
	key string // cache file stem

	mu sync.Mutex
	st api.ProfileSource
	// The digest refused last and why: a refusal is alerted once, and
	// the digest is checked again at every poll (a signature may be added
	// later).
	refused, refusedErr string
}

// cacheMeta is <key>.json next to <key>.yaml.
type cacheMeta struct {
	Source   string    `json:"source"`
	Digest   string    `json:"digest"`
	Profile  string    `json:"profile"`
	Signed   bool      `json:"signed"`
	PulledAt time.Time `json:"pulledAt"`
}

// newFleet checks the fleet configuration and loads the cache; nil when no
// source is configured (a cache left by earlier sources is removed).
func newFleet(cfg *config.Config, log *slog.Logger, m *metrics, al *alerter) (*fleet, error) {
	dir := cfg.ProfileCacheDir()
	if len(cfg.ProfileSources) == 0 {
		_ = os.RemoveAll(dir)
		return nil, nil
	}
	client, err := ociprofile.NewClient(ociprofile.Options{AuthFile: cfg.RegistryAuthFile, CAFiles: cfg.RegistryCAFiles})
	if err != nil {
		return nil, err
	}
	keys, err := ociprofile.LoadVerifiers(cfg.SignatureKeys)
	if err != nil {
		return nil, fmt.Errorf("key signature_keys: %w", err)
	}
	f := &fleet{
		dir: dir, poll: cfg.ProfilePoll.Duration, client: client, log: log, alerts: al,
		policy:  ociprofile.Policy{Keys: keys, Require: cfg.RequireSignature},
		info:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "confine_profile_source_info", Help: "The manifest digest in force per profile source (value 1)."}, []string{"source", "digest", "profile"}),
		polls:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "confine_profile_source_polls_total", Help: "Polls of profile sources by result (unchanged, updated, refused, error)."}, []string{"source", "result"}),
		success: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "confine_profile_source_last_success_timestamp_seconds", Help: "Unix time of the last poll that reached the registry and kept or installed a verified profile."}, []string{"source"}),
		up:      prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "confine_profile_source_up", Help: "1 if the last poll of the source succeeded, 0 if it failed or was refused."}, []string{"source"}),
	}
	m.reg.MustRegister(f.info, f.polls, f.success, f.up)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	keep := map[string]bool{}
	for _, raw := range cfg.ProfileSources {
		ref, err := ociprofile.ParseRef(raw)
		if err != nil {
			return nil, fmt.Errorf("key profile_sources: %w", err)
		}
		sum := sha256.Sum256([]byte(raw))
		s := &remoteSource{raw: raw, ref: ref, key: hex.EncodeToString(sum[:8])}
		s.st.Source = raw
		keep[s.key+".yaml"], keep[s.key+".json"] = true, true
		if data, err := os.ReadFile(filepath.Join(dir, s.key+".json")); err == nil {
			var cm cacheMeta
			if json.Unmarshal(data, &cm) == nil && cm.Source == raw {
				s.st.Digest, s.st.Profile, s.st.Signed = cm.Digest, cm.Profile, cm.Signed
				f.info.WithLabelValues(raw, cm.Digest, cm.Profile).Set(1)
				log.Info("profile source: using the cached profile until the registry answers", "source", raw, "digest", cm.Digest, "profile", cm.Profile)
			}
		}
		f.sources = append(f.sources, s)
	}
	// Sources no longer configured: their profiles go.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !keep[e.Name()] {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return f, nil
}

// run polls every source until ctx is done: at once, then every profile_poll.
func (f *fleet) run(ctx context.Context) {
	for _, s := range f.sources {
		go func(s *remoteSource) {
			t := time.NewTicker(f.poll)
			defer t.Stop()
			for {
				f.pollOnce(ctx, s)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}(s)
	}
}

// pollOnce resolves the source and installs a new digest if it verifies.
// It reports whether the cache changed.
func (f *fleet) pollOnce(ctx context.Context, s *remoteSource) bool {
	now := time.Now()
	pctx, cancel := context.WithTimeout(ctx, 2*f.poll+30*time.Second)
	defer cancel()
	dg, err := f.client.Resolve(pctx, s.ref)
	s.mu.Lock()
	cur := s.st.Digest
	s.st.LastPoll = now
	s.mu.Unlock()
	if err != nil {
		// Registry down or unreachable: nothing changes.
		f.result(s, "error", err)
		f.log.Warn("profile source unreachable; keeping the last good profile", "source", s.raw, "digest", cur, "error", err)
		return false
	}
	if dg == cur {
		f.result(s, "unchanged", nil)
		return false
	}
	pinned := s.ref
	pinned.Digest = dg
	p, prof, err := f.fetch(pctx, pinned)
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		f.refuse(s, dg, err)
		return false
	}
	if err := f.install(s, p, prof); err != nil {
		f.result(s, "error", err)
		f.log.Error("profile source: writing the cache", "source", s.raw, "error", err)
		return false
	}
	f.result(s, "updated", nil)
	f.log.Info("profile source updated", "source", s.raw, "digest", p.ManifestDigest, "previous", cur, "profile", prof.Name, "signed", p.Signed)
	return true
}

// fetch pulls and checks one artifact.
func (f *fleet) fetch(ctx context.Context, ref ociprofile.Ref) (*ociprofile.Pulled, *profiles.Profile, error) {
	p, err := f.client.Pull(ctx, ref, f.policy)
	if err != nil {
		return nil, nil, err
	}
	r, err := profiles.Parse(p.Profile, ref.String(), profilecheck.Options())
	if err != nil {
		return nil, nil, fmt.Errorf("profile in %s: %w", ref, err)
	}
	return p, r.Profile, nil
}

// install writes the verified profile and its metadata, atomically each.
func (f *fleet) install(s *remoteSource, p *ociprofile.Pulled, prof *profiles.Profile) error {
	signed := "no"
	if p.Signed {
		signed = "yes"
	}
	head := fmt.Sprintf("# pulled by confined from %s\n# digest %s, signature verified: %s, at %s\n", s.raw, p.ManifestDigest, signed, time.Now().UTC().Format(time.RFC3339))
	if err := atomicfile.WriteFile(filepath.Join(f.dir, s.key+".yaml"), append([]byte(head), p.Profile...), 0o600); err != nil {
		return err
	}
	meta, _ := json.Marshal(cacheMeta{Source: s.raw, Digest: p.ManifestDigest, Profile: prof.Name, Signed: p.Signed, PulledAt: time.Now().UTC()})
	if err := atomicfile.WriteFile(filepath.Join(f.dir, s.key+".json"), meta, 0o600); err != nil {
		return err
	}
	s.mu.Lock()
	old := s.st
	s.st.Digest, s.st.Profile, s.st.Signed, s.refused, s.refusedErr = p.ManifestDigest, prof.Name, p.Signed, "", ""
	s.mu.Unlock()
	if old.Digest != "" {
		f.info.DeleteLabelValues(s.raw, old.Digest, old.Profile)
	}
	f.info.WithLabelValues(s.raw, p.ManifestDigest, prof.Name).Set(1)
	return nil
}

// refuse records a refused artifact and alerts once per digest and reason.
func (f *fleet) refuse(s *remoteSource, dg string, err error) {
	s.mu.Lock()
	cur := s.st.Digest
	again := s.refused == dg && s.refusedErr == err.Error()
	s.refused, s.refusedErr = dg, err.Error()
	s.mu.Unlock()
	f.result(s, "refused", err)
	if again {
		return
	}
	msg := fmt.Sprintf("profile source %s: %s refused, keeping %s: %v", s.raw, dg, orNone(cur), err)
	f.log.Error("profile source refused", "source", s.raw, "digest", dg, "keeping", cur, "error", err)
	f.alerts.emit(&alert.Alert{
		Event: alert.EventProfileError, Priority: alert.PriErr, Message: msg,
		Extra: map[string]string{"SOURCE": s.raw, "DIGEST": dg, "KEPT_DIGEST": cur, "ERROR": err.Error()},
	})
}

func orNone(s string) string {
	if s == "" {
		return "nothing (no profile pulled yet)"
	}
	return s
}

// result updates the status and metrics of a poll.
func (f *fleet) result(s *remoteSource, what string, err error) {
	f.polls.WithLabelValues(s.raw, what).Inc()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.st.LastError = err.Error()
		f.up.WithLabelValues(s.raw).Set(0)
		return
	}
	s.st.LastError = ""
	s.st.LastSuccess = s.st.LastPoll
	f.up.WithLabelValues(s.raw).Set(1)
	f.success.WithLabelValues(s.raw).Set(float64(s.st.LastPoll.Unix()))
}

// status is what confinectl status shows per source.
func (f *fleet) status() []api.ProfileSource {
	if f == nil {
		return nil
	}
	out := make([]api.ProfileSource, 0, len(f.sources))
	for _, s := range f.sources {
		s.mu.Lock()
		out = append(out, s.st)
		s.mu.Unlock()
	}
	return out
}

// loadProfileDirs loads profiles_dir and, when set, the source cache: one
// set, the embedded baseline once, a name defined twice is an error (the
// profiles_dir file wins).
func loadProfileDirs(dir, cache string) (*profiles.Set, []error) {
	set, errs := profiles.LoadDir(dir, profilecheck.Options())
	if cache == "" {
		return set, errs
	}
	pulled, perrs := profiles.LoadDir(cache, profilecheck.Options())
	var ps []*profiles.Profile
	for _, s := range []*profiles.Set{set, pulled} {
		for _, n := range s.Names() {
			if p, _ := s.Get(n); p.Source != "embedded" {
				ps = append(ps, p)
			}
		}
	}
	merged, merrs := profiles.NewSet(ps...)
	// NewSet re-checks what LoadDir checked for profiles_dir: keep its
	// messages once.
	errs = append(errs, perrs...)
	seen := map[string]bool{}
	for _, e := range errs {
		seen[e.Error()] = true
	}
	for _, e := range merrs {
		if !seen[e.Error()] {
			errs = append(errs, e)
		}
	}
	return merged, errs
}
