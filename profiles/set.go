package profiles

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed baseline.yaml
var baselineYAML []byte

// BaselineName is the embedded profile's name.
const BaselineName = "baseline"

// Baseline returns a fresh copy of the embedded baseline profile.
func Baseline() *Profile {
	r, err := Parse(baselineYAML, "embedded:baseline.yaml", Options{})
	if err != nil {
		panic(fmt.Sprintf("embedded baseline profile is invalid: %v", err))
	}
	r.Profile.Source = "embedded"
	return r.Profile
}

// Set is a loaded set of profiles, by name. It is immutable once built.
type Set struct {
	byName   map[string]*Profile
	warnings []string
}

// NewSet builds a set from profiles (checked for duplicate names and
// ambiguous selectors) plus the embedded baseline unless one of them is
// named baseline.
func NewSet(ps ...*Profile) (*Set, []error) {
	s := &Set{byName: map[string]*Profile{}}
	var errs []error
	for _, p := range ps {
		if prev, ok := s.byName[p.Name]; ok {
			errs = append(errs, fmt.Errorf("%s: name: profile %q is already defined in %s (names must be unique)", p.Source, p.Name, prev.Source))
			continue
		}
		s.byName[p.Name] = p
	}
	if _, ok := s.byName[BaselineName]; !ok {
		s.byName[BaselineName] = Baseline()
	}
	errs = append(errs, s.checkAmbiguous()...)
	return s, errs
}

// LoadDir reads every *.yaml / *.yml file in dir. Each bad file is
// reported and skipped; the good ones load. A missing directory is an
// empty set (the embedded baseline still applies).
func LoadDir(dir string, opts Options) (*Set, []error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		s, _ := NewSet()
		return s, []error{fmt.Errorf("reading profiles directory %s: %w", dir, err)}
	}
	var ps []*Profile
	var errs []error
	var warns []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		r, err := ReadFile(filepath.Join(dir, name), opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ps = append(ps, r.Profile)
		warns = append(warns, r.Warnings...)
	}
	s, serrs := NewSet(ps...)
	s.warnings = warns
	return s, append(errs, serrs...)
}

// Warnings are the validation warnings of the loaded files.
func (s *Set) Warnings() []string { return s.warnings }

// Get returns the named profile.
func (s *Set) Get(name string) (*Profile, bool) {
	p, ok := s.byName[name]
	return p, ok
}

// Names returns the profile names, sorted.
func (s *Set) Names() []string {
	names := make([]string, 0, len(s.byName))
	for n := range s.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Len is the number of profiles, the baseline included.
func (s *Set) Len() int { return len(s.byName) }

// Target describes a container for selection.
type Target struct {
	Image       string
	Labels      map[string]string
	Annotations map[string]string
}

// Selection is the outcome of Select.
type Selection struct {
	Profile *Profile // a copy with the mode override applied
	Reason  string   // "label", "annotation", "selector", "default"
}

// Select picks the profile for a container: the label or annotation
// confine.profile, else the most specific matching selector, else
// defaultName. The label (or annotation) confine.mode overrides the mode.
// The returned profile is a copy the caller may keep.
func (s *Set) Select(t Target, defaultName string) (*Selection, error) {
	var p *Profile
	var reason string
	if name, ok := t.Labels[LabelProfile]; ok {
		q, found := s.byName[name]
		if !found {
			return nil, fmt.Errorf("profile %q named by label %s does not exist", name, LabelProfile)
		}
		p, reason = q, "label"
	} else if name, ok := t.Annotations[LabelProfile]; ok {
		q, found := s.byName[name]
		if !found {
			return nil, fmt.Errorf("profile %q named by annotation %s does not exist", name, LabelProfile)
		}
		p, reason = q, "annotation"
	} else {
		var best []*Profile
		bestScore := 0
		for _, name := range s.Names() {
			q := s.byName[name]
			score, ok := q.Selector.matches(t)
			if !ok {
				continue
			}
			switch {
			case score > bestScore:
				best, bestScore = []*Profile{q}, score
			case score == bestScore:
				best = append(best, q)
			}
		}
		switch len(best) {
		case 0:
			q, found := s.byName[defaultName]
			if !found {
				return nil, fmt.Errorf("default profile %q does not exist", defaultName)
			}
			p, reason = q, "default"
		case 1:
			p, reason = best[0], "selector"
		default:
			names := make([]string, len(best))
			for i, b := range best {
				names[i] = b.Name
			}
			return nil, fmt.Errorf("ambiguous selection: profiles %s match equally (image %q)", strings.Join(names, ", "), t.Image)
		}
	}
	cp := p.Clone()
	modeVal, ok := t.Labels[LabelMode]
	if !ok {
		modeVal, ok = t.Annotations[LabelMode]
	}
	if ok {
		m, valid := ParseMode(modeVal)
		if !valid {
			return nil, fmt.Errorf("label %s=%q is not learn, monitor or enforce", LabelMode, modeVal)
		}
		cp.Mode = m
		reason += ", mode from " + LabelMode
	}
	return &Selection{Profile: cp, Reason: reason}, nil
}

// matches reports whether the selector admits t, with its specificity:
// one point per label, one for an image pattern, one more when the
// matching pattern is literal. An empty selector never matches.
func (sel Selector) matches(t Target) (int, bool) {
	if sel.IsZero() {
		return 0, false
	}
	score := 0
	if len(sel.Images) > 0 {
		best := 0
		for _, pat := range sel.Images {
			if imageMatch(pat, t.Image) {
				sc := 1
				if !strings.ContainsAny(pat, "*?[") {
					sc = 2
				}
				best = max(best, sc)
			}
		}
		if best == 0 {
			return 0, false
		}
		score += best
	}
	for k, v := range sel.Labels {
		if t.Labels[k] != v {
			return 0, false
		}
		score++
	}
	return score, true
}

// imageMatch matches an image reference against a pattern, also trying the
// reference without docker.io/library/ (so "nginx:*" matches Docker Hub's
// normalised "docker.io/library/nginx:1.25").
func imageMatch(pat, image string) bool {
	if image == "" {
		return false
	}
	for _, cand := range []string{image, strings.TrimPrefix(image, "docker.io/library/"), strings.TrimPrefix(image, "docker.io/")} {
		if ok, _ := path.Match(pat, cand); ok {
			return true
		}
	}
	return false
}

// checkAmbiguous reports pairs of profiles whose selectors are equally
// specific and can match the same container: identical label sets and an
// image pattern of one matching a pattern of the other (as text).
func (s *Set) checkAmbiguous() []error {
	var errs []error
	names := s.Names()
	for i, a := range names {
		for _, b := range names[i+1:] {
			pa, pb := s.byName[a], s.byName[b]
			if pa.Selector.IsZero() || pb.Selector.IsZero() || !sameLabels(pa.Selector.Labels, pb.Selector.Labels) {
				continue
			}
			if len(pa.Selector.Images) == 0 && len(pb.Selector.Images) == 0 {
				errs = append(errs, fmt.Errorf("%s: selector: profiles %q and %q (%s) have the same selector: ambiguous", pa.Source, a, b, pb.Source))
				continue
			}
			for _, ia := range pa.Selector.Images {
				for _, ib := range pb.Selector.Images {
					if ia == ib || (literal(ia) == literal(ib) && (imageMatch(ia, ib) || imageMatch(ib, ia))) {
						errs = append(errs, fmt.Errorf("%s: selector.images: pattern %q of profile %q and %q of profile %q (%s) match the same images equally: ambiguous", pa.Source, ia, a, ib, b, pb.Source))
					}
				}
			}
		}
	}
	return errs
}

func literal(p string) bool { return !strings.ContainsAny(p, "*?[") }

func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
