package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/confinehq/confine/profiles"
)

// profileSource keeps the last good profile set. A reload that finds bad
// files keeps the good ones and, for a profile whose file became bad, the
// last good version of it: a typo never takes a protection away.
type profileSource struct {
	dir string
	log *slog.Logger
	// cache is the directory of profiles pulled from profile_sources
	// (sources.go), loaded with dir; "" without sources.
	cache string

	mu     sync.RWMutex
	set    *profiles.Set
	errs   []string
	stamp  string // fingerprint of the directory at the last load
	loaded int    // number of loads
}

func newProfileSource(dir string, log *slog.Logger) *profileSource {
	return &profileSource{dir: dir, log: log}
}

// Current returns the set in force.
func (s *profileSource) Current() *profiles.Set {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.set
}

// Errors returns the errors of the last load.
func (s *profileSource) Errors() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]string(nil), s.errs...)
}

// Load (re)reads the directory. It returns the error messages and whether
// the set changed.
func (s *profileSource) Load() ([]string, bool) {
	stamp := dirStamp(s.dir) + dirStamp(s.cache)
	set, errs := loadProfileDirs(s.dir, s.cache)
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set != nil && len(errs) > 0 {
		// Keep the last good version of any profile that no longer loads.
		set = carryOver(s.set, set)
	}
	changed := s.set == nil || fingerprint(s.set) != fingerprint(set)
	s.set, s.errs, s.stamp = set, msgs, stamp
	s.loaded++
	for _, m := range msgs {
		s.log.Error("profile not loaded", "error", m)
	}
	s.log.Info("profiles loaded", "dir", s.dir, "profiles", set.Len(), "errors", len(msgs), "changed", changed)
	return msgs, changed
}

// Changed reports whether the directory looks different from the last load.
func (s *profileSource) Changed() bool {
	st := dirStamp(s.dir) + dirStamp(s.cache)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return st != s.stamp
}

func carryOver(old, fresh *profiles.Set) *profiles.Set {
	var ps []*profiles.Profile
	for _, n := range fresh.Names() {
		p, _ := fresh.Get(n)
		ps = append(ps, p)
	}
	for _, n := range old.Names() {
		if _, ok := fresh.Get(n); ok {
			continue
		}
		p, _ := old.Get(n)
		// Only carry profiles whose file still exists (a deleted file is a
		// deliberate removal).
		if p.Source != "embedded" {
			if _, err := os.Stat(p.Source); err != nil {
				continue
			}
		}
		ps = append(ps, p)
	}
	set, _ := profiles.NewSet(ps...)
	return set
}

func fingerprint(s *profiles.Set) string {
	h := sha256.New()
	for _, n := range s.Names() {
		p, _ := s.Get(n)
		fmt.Fprintf(h, "%s=%s\n", n, profiles.Digest(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// dirStamp fingerprints names, sizes and mtimes of the profile files.
func dirStamp(dir string) string {
	if dir == "" {
		return ""
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "err:" + err.Error()
	}
	var lines []string
	for _, e := range entries {
		info, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		lines = append(lines, fmt.Sprintf("%s %d %d", e.Name(), info.Size(), info.ModTime().UnixNano()))
	}
	sort.Strings(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}
