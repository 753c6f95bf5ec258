package hooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/confinehq/confine/internal/atomicfile"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// SpecFileName is the OCI bundle's configuration file.
const SpecFileName = "config.json"

// MaxSpecBytes bounds the config.json this package reads.
const MaxSpecBytes = 32 << 20

// ErrNoSpec means the bundle has no config.json.
var ErrNoSpec = errors.New("bundle has no config.json")

// SpecFile is a bundle's config.json, read for editing. Spec is the typed
// view to inspect or modify; Edit writes back only what changed, keeping
// every field runtime-spec does not model, and the file's mode.
type SpecFile struct {
	Path string
	// Spec is the parsed spec.
	Spec *specs.Spec

	raw  []byte
	mode fs.FileMode
}

// ReadSpec reads and parses path (a bundle's config.json).
func ReadSpec(path string) (*SpecFile, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reading %s: %w", path, ErrNoSpec)
		}
		return nil, fmt.Errorf("reading OCI spec: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading OCI spec %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("reading OCI spec %s: not a regular file", path)
	}
	raw, err := io.ReadAll(io.LimitReader(f, MaxSpecBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading OCI spec %s: %w", path, err)
	}
	if len(raw) > MaxSpecBytes {
		return nil, fmt.Errorf("reading OCI spec %s: larger than %d bytes", path, MaxSpecBytes)
	}
	s, err := parseSpec(raw)
	if err != nil {
		return nil, fmt.Errorf("parsing OCI spec %s: %w", path, err)
	}
	return &SpecFile{Path: path, Spec: s, raw: raw, mode: st.Mode().Perm()}, nil
}

// ReadBundleSpec reads <bundle>/config.json.
func ReadBundleSpec(bundle string) (*SpecFile, error) {
	return ReadSpec(filepath.Join(bundle, SpecFileName))
}

func parseSpec(raw []byte) (*specs.Spec, error) {
	var s specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, describeJSONError(raw, err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return nil, errors.New("not a JSON object")
	}
	return &s, nil
}

// describeJSONError adds the line and, for type errors, the field.
func describeJSONError(raw []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("line %d: %v", lineAt(raw, se.Offset), err)
	case errors.As(err, &te):
		return fmt.Errorf("line %d: field %s: cannot use JSON %s as %s", lineAt(raw, te.Offset), te.Field, te.Value, te.Type)
	}
	return err
}

func lineAt(raw []byte, off int64) int {
	if off > int64(len(raw)) {
		off = int64(len(raw))
	}
	return bytes.Count(raw[:off], []byte("\n")) + 1
}

// Edit applies m to the spec and, when that changed anything, rewrites the
// file atomically with its original mode. Fields the spec types do not
// know, at any depth, and values the modifiers did not touch are written
// back byte for byte. On any error the file is left as it was.
func (f *SpecFile) Edit(m Modifier) (changed bool, err error) {
	if err := m.Modify(f.Spec); err != nil {
		return false, fmt.Errorf("editing %s: %w", f.Path, err)
	}
	out, err := f.Render()
	if err != nil {
		return false, err
	}
	if bytes.Equal(out, f.raw) {
		return false, nil
	}
	if err := atomicfile.WriteFile(f.Path, out, f.mode); err != nil {
		return false, fmt.Errorf("rewriting OCI spec: %w", err)
	}
	f.raw = out
	return true, nil
}

// Render returns the file's content with the current Spec merged into the
// original document (see Edit), without writing it.
func (f *SpecFile) Render() ([]byte, error) {
	before, err := parseSpec(f.raw)
	if err != nil {
		return nil, fmt.Errorf("re-reading %s: %w", f.Path, err)
	}
	b, err := marshal(before)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", f.Path, err)
	}
	a, err := marshal(f.Spec)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", f.Path, err)
	}
	if bytes.Equal(a, b) {
		return f.raw, nil
	}
	out, err := merge(f.raw, b, a)
	if err != nil {
		return nil, fmt.Errorf("merging the edit into %s: %w", f.Path, err)
	}
	// The merged document must say exactly what the modified spec says;
	// anything else is a bug here, and a spec we refuse to write.
	check, err := parseSpec(out)
	if err != nil {
		return nil, fmt.Errorf("merging the edit into %s: result does not parse: %w", f.Path, err)
	}
	c, err := marshal(check)
	if err != nil || !bytes.Equal(c, a) {
		return nil, fmt.Errorf("merging the edit into %s: result differs from the edited spec", f.Path)
	}
	return out, nil
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// merge is a three-way merge of JSON documents: orig is the file as read,
// before the typed spec as read, after the typed spec as modified. Where
// before and after agree, orig's bytes stay (unknown fields included);
// objects are merged key by key, keeping orig's key order and appending
// new keys; arrays that only grew keep orig's elements and gain after's
// new ones; anything else that changed takes after's value.
func merge(orig, before, after []byte) ([]byte, error) {
	if bytes.Equal(before, after) {
		return orig, nil
	}
	switch {
	case isKind(orig, '{') && isKind(before, '{') && isKind(after, '{'):
		return mergeObject(orig, before, after)
	case isKind(orig, '[') && isKind(before, '[') && isKind(after, '['):
		return mergeArray(orig, before, after)
	}
	return after, nil
}

func isKind(v []byte, c byte) bool {
	v = bytes.TrimLeft(v, " \t\r\n")
	return len(v) > 0 && v[0] == c
}

type member struct {
	key string
	val json.RawMessage
}

func readObject(data []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var ms []member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, ok := t.(string)
		if !ok {
			return nil, fmt.Errorf("object key %v is not a string", t)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		ms = append(ms, member{k, v})
	}
	return ms, nil
}

// lookup finds key the way encoding/json does: the last exact match, else
// the last case-insensitive one.
func lookup(ms []member, key string) int {
	fold := -1
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].key == key {
			return i
		}
		if fold < 0 && strings.EqualFold(ms[i].key, key) {
			fold = i
		}
	}
	return fold
}

// removeKey drops every member encoding/json would read as key.
func removeKey(ms []member, key string) []member {
	out := ms[:0]
	for _, m := range ms {
		if !strings.EqualFold(m.key, key) {
			out = append(out, m)
		}
	}
	return out
}

func mergeObject(orig, before, after []byte) ([]byte, error) {
	o, err := readObject(orig)
	if err != nil {
		return nil, err
	}
	b, err := readObject(before)
	if err != nil {
		return nil, err
	}
	a, err := readObject(after)
	if err != nil {
		return nil, err
	}
	res := append([]member(nil), o...)
	// Keys the edit removed.
	for _, bm := range b {
		if lookup(a, bm.key) < 0 {
			res = removeKey(res, bm.key)
		}
	}
	for _, am := range a {
		bi, oi := lookup(b, am.key), lookup(res, am.key)
		var val json.RawMessage = am.val
		if bi >= 0 && oi >= 0 {
			if val, err = merge(res[oi].val, b[bi].val, am.val); err != nil {
				return nil, err
			}
		}
		if oi >= 0 && bi >= 0 && bytes.Equal(val, res[oi].val) && res[oi].key == am.key {
			continue
		}
		if oi >= 0 {
			// Replace in place under the exact key; drop duplicates and
			// case variants encoding/json would also read.
			pos := oi
			kept := res[:0:0]
			for i, m := range res {
				if i != pos && strings.EqualFold(m.key, am.key) {
					continue
				}
				if i == pos {
					m = member{am.key, val}
				}
				kept = append(kept, m)
			}
			res = kept
			continue
		}
		res = append(res, member{am.key, val})
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, m := range res {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := marshal(m.key)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(m.val)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func mergeArray(orig, before, after []byte) ([]byte, error) {
	var o, b, a []json.RawMessage
	if err := json.Unmarshal(orig, &o); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(before, &b); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(after, &a); err != nil {
		return nil, err
	}
	if len(o) != len(b) || len(a) < len(b) {
		return after, nil
	}
	out := make([]json.RawMessage, 0, len(a))
	for i := range b {
		v, err := merge(o[i], b[i], a[i])
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	out = append(out, a[len(b):]...)
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, v := range out {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(v)
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}
