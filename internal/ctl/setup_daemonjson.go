package ctl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// MergeDaemonJSON returns dockerd's daemon.json src with
// runtimes.<name> = {"path": path} and, when setDefault, "default-runtime":
// name. It edits the source text in place: every byte outside the values it
// adds or replaces is kept, so other keys keep their order, formatting and
// number spelling. New members follow the file's indentation. changes
// describes what differs (empty: src already has it all). An empty src is
// a missing file.
func MergeDaemonJSON(src []byte, name, path string, setDefault bool) (out []byte, changes []string, err error) {
	newFile := len(bytes.TrimSpace(src)) == 0
	if newFile {
		src = []byte("{}")
	}
	if err := checkJSONObject(src); err != nil {
		return nil, nil, err
	}
	top, err := scanObject(src, 0, len(src))
	if err != nil {
		return nil, nil, err
	}
	root := layout{multiline: true, colon: ": ", sep: ","}
	unit := "  "
	if l := objectLayout(src, top, root, ""); l.multiline && l.indent != "" {
		unit = l.indent
	}
	topL := objectLayout(src, top, root, unit)
	want := map[string]any{"path": path}

	var edits []textEdit
	var adds []string // members to add to the top-level object

	rt, err := uniqueMember(top, "runtimes")
	if err != nil {
		return nil, nil, err
	}
	if rt == nil {
		adds = append(adds, renderMember("runtimes", map[string]any{name: want}, topL, unit))
		changes = append(changes, fmt.Sprintf("add runtimes.%s = {\"path\": %q}", name, path))
	} else {
		inner, err := scanObject(src, rt.valStart, rt.valEnd)
		if errors.Is(err, errNotObject) {
			return nil, nil, fmt.Errorf("line %d: \"runtimes\" is not an object", lineOf(src, rt.valStart))
		}
		if err != nil {
			return nil, nil, err
		}
		innerL := objectLayout(src, inner, topL, unit)
		m, err := uniqueMember(inner, name)
		if err != nil {
			return nil, nil, fmt.Errorf("runtimes: %w", err)
		}
		switch {
		case m == nil:
			edits = append(edits, insertMembers(inner, innerL, []string{renderMember(name, want, innerL, unit)}))
			changes = append(changes, fmt.Sprintf("add runtimes.%s = {\"path\": %q}", name, path))
		case !sameJSON(src[m.valStart:m.valEnd], want):
			edits = append(edits, textEdit{m.valStart, m.valEnd, renderValue(want, innerL, unit)})
			changes = append(changes, fmt.Sprintf("replace runtimes.%s (was %s) with {\"path\": %q}", name, compactJSON(src[m.valStart:m.valEnd]), path))
		}
	}

	if setDefault {
		d, err := uniqueMember(top, "default-runtime")
		if err != nil {
			return nil, nil, err
		}
		switch {
		case d == nil:
			adds = append(adds, renderMember("default-runtime", name, topL, unit))
			changes = append(changes, fmt.Sprintf("set default-runtime = %q", name))
		case !sameJSON(src[d.valStart:d.valEnd], name):
			edits = append(edits, textEdit{d.valStart, d.valEnd, renderValue(name, topL, unit)})
			changes = append(changes, fmt.Sprintf("set default-runtime = %q (was %s)", name, compactJSON(src[d.valStart:d.valEnd])))
		}
	}
	if len(adds) > 0 {
		edits = append(edits, insertMembers(top, topL, adds))
	}

	out = applyEdits(src, edits)
	if newFile {
		out = append(out, '\n')
	}
	if err := verifyMerge(src, out, name, path, setDefault); err != nil {
		return nil, nil, fmt.Errorf("internal error merging daemon.json (nothing written): %w", err)
	}
	return out, changes, nil
}

var errNotObject = errors.New("not a JSON object")

// checkJSONObject reports a syntax error with its line, or a top level that
// is not an object.
func checkJSONObject(src []byte) error {
	var v any
	if err := json.Unmarshal(src, &v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			// Offset counts the offending byte too.
			return fmt.Errorf("line %d: invalid JSON: %v", lineOf(src, int(se.Offset)-1), se)
		}
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return errors.New("the top level is not a JSON object")
	}
	return nil
}

func lineOf(src []byte, off int) int {
	if off > len(src) {
		off = len(src)
	}
	return bytes.Count(src[:off], []byte("\n")) + 1
}

// jsonMember is one member of an object, located in the source text.
type jsonMember struct {
	key              string
	keyStart, keyEnd int // the quoted key
	valStart, valEnd int // the value
}

// jsonObject is an object located in the source text.
type jsonObject struct {
	open, close int // offsets of '{' and '}'
	members     []jsonMember
}

// scanObject locates the members of the object that is data[start:end]
// (whitespace around it allowed).
func scanObject(data []byte, start, end int) (*jsonObject, error) {
	dec := json.NewDecoder(bytes.NewReader(data[start:end]))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errNotObject
	}
	obj := &jsonObject{open: start + int(dec.InputOffset()) - 1}
	prev := obj.open + 1
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("line %d: expected an object key", lineOf(data, prev))
		}
		keyEnd := start + int(dec.InputOffset())
		keyStart := prev
		for keyStart < keyEnd && data[keyStart] != '"' {
			keyStart++
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		valEnd := start + int(dec.InputOffset())
		valStart := valEnd - len(raw)
		if valStart < keyEnd || !bytes.Equal(data[valStart:valEnd], raw) {
			return nil, fmt.Errorf("line %d: cannot locate the value of %q in the text", lineOf(data, keyEnd), key)
		}
		obj.members = append(obj.members, jsonMember{key, keyStart, keyEnd, valStart, valEnd})
		prev = valEnd
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, err
	}
	obj.close = start + int(dec.InputOffset()) - 1
	if data[obj.close] != '}' {
		return nil, fmt.Errorf("line %d: cannot locate the end of an object", lineOf(data, obj.close))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the object")
	}
	return obj, nil
}

// uniqueMember returns the member named key, nil when absent, and an error
// when the key appears more than once (dockerd would take the last one;
// editing the wrong one would be worse than refusing).
func uniqueMember(obj *jsonObject, key string) (*jsonMember, error) {
	var found *jsonMember
	for i := range obj.members {
		if obj.members[i].key == key {
			if found != nil {
				return nil, fmt.Errorf("key %q appears more than once: fix the file first", key)
			}
			found = &obj.members[i]
		}
	}
	return found, nil
}

// layout is how an object's members are written.
type layout struct {
	multiline   bool   // one member per line
	indent      string // before each member
	closeIndent string // before the closing brace
	colon       string // between a key and its value
	sep         string // between two members (compact objects)
}

// objectLayout reads the style of obj from its first members; an empty
// object takes its parent's style, one unit deeper.
func objectLayout(data []byte, obj *jsonObject, parent layout, unit string) layout {
	l := parent
	l.indent, l.closeIndent = parent.indent+unit, parent.indent
	if len(obj.members) == 0 {
		return l
	}
	m0 := obj.members[0]
	ind, atLineStart := lineIndent(data, m0.keyStart)
	l.multiline = atLineStart
	if atLineStart {
		l.indent = ind
		if ci, ok := lineIndent(data, obj.close); ok {
			l.closeIndent = ci
		}
	}
	if c := string(data[m0.keyEnd:m0.valStart]); !strings.ContainsAny(c, "\r\n") {
		l.colon = c
	}
	if len(obj.members) > 1 {
		if s := string(data[m0.valEnd:obj.members[1].keyStart]); !strings.ContainsAny(s, "\r\n") {
			l.sep = s
		}
	}
	return l
}

// lineIndent returns the blanks before offset i on its line and whether
// only blanks precede i there.
func lineIndent(data []byte, i int) (string, bool) {
	ls := bytes.LastIndexByte(data[:i], '\n') + 1
	ws := data[ls:i]
	if len(bytes.Trim(ws, " \t")) != 0 {
		return "", false
	}
	return string(ws), true
}

// renderValue writes a value (strings and objects of them) in the style
// of the object it goes into; object keys are sorted.
func renderValue(v any, l layout, unit string) string {
	return render(v, l, unit, 0)
}

func render(v any, l layout, unit string, depth int) string {
	obj, ok := v.(map[string]any)
	if !ok {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v) // strings always encode
		return strings.TrimSuffix(b.String(), "\n")
	}
	if len(obj) == 0 {
		return "{}"
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	members := make([]string, len(keys))
	for i, k := range keys {
		members[i] = render(k, l, unit, 0) + l.colon + render(obj[k], l, unit, depth+1)
	}
	if !l.multiline {
		return "{" + strings.Join(members, l.sep) + "}"
	}
	in := l.indent + strings.Repeat(unit, depth+1)
	return "{\n" + in + strings.Join(members, ",\n"+in) + "\n" + l.indent + strings.Repeat(unit, depth) + "}"
}

func renderMember(key string, v any, l layout, unit string) string {
	return render(key, l, unit, 0) + l.colon + renderValue(v, l, unit)
}

// textEdit replaces src[start:end] with text.
type textEdit struct {
	start, end int
	text       string
}

// insertMembers adds rendered members at the end of obj.
func insertMembers(obj *jsonObject, l layout, members []string) textEdit {
	if len(obj.members) == 0 {
		if !l.multiline {
			return textEdit{obj.open + 1, obj.close, strings.Join(members, l.sep)}
		}
		return textEdit{obj.open + 1, obj.close, "\n" + l.indent + strings.Join(members, ",\n"+l.indent) + "\n" + l.closeIndent}
	}
	last := obj.members[len(obj.members)-1].valEnd
	var b strings.Builder
	for _, m := range members {
		if l.multiline {
			b.WriteString(",\n" + l.indent)
		} else {
			b.WriteString(l.sep)
		}
		b.WriteString(m)
	}
	return textEdit{last, last, b.String()}
}

// applyEdits applies non-overlapping edits.
func applyEdits(src []byte, edits []textEdit) []byte {
	out := append([]byte(nil), src...)
	// From the end, so earlier offsets stay valid.
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].start > edits[j].start })
	for _, e := range edits {
		out = append(out[:e.start:e.start], append([]byte(e.text), out[e.end:]...)...)
	}
	return out
}

func sameJSON(raw []byte, v any) bool {
	want, err := json.Marshal(v)
	if err != nil {
		return false
	}
	var a, b any
	if json.Unmarshal(raw, &a) != nil || json.Unmarshal(want, &b) != nil {
		return false
	}
	x, _ := json.Marshal(a) // maps marshal with sorted keys
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func compactJSON(raw []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// verifyMerge checks the merged text: valid JSON, every other key and
// runtime byte-equal once compacted, and the wanted values in place.
func verifyMerge(orig, out []byte, name, path string, setDefault bool) error {
	var a, b map[string]json.RawMessage
	if err := json.Unmarshal(orig, &a); err != nil {
		return err
	}
	if err := json.Unmarshal(out, &b); err != nil {
		return fmt.Errorf("the result is not valid JSON: %w", err)
	}
	ours := func(k string) bool { return k == "runtimes" || (setDefault && k == "default-runtime") }
	for k, v := range a {
		if !ours(k) && compactJSON(v) != compactJSON(b[k]) {
			return fmt.Errorf("key %q changed", k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok && !ours(k) {
			return fmt.Errorf("key %q appeared", k)
		}
	}
	var ar, br map[string]json.RawMessage
	if raw, ok := a["runtimes"]; ok {
		if err := json.Unmarshal(raw, &ar); err != nil {
			return err
		}
	}
	if err := json.Unmarshal(b["runtimes"], &br); err != nil {
		return fmt.Errorf("runtimes: %w", err)
	}
	for k, v := range ar {
		if k != name && compactJSON(v) != compactJSON(br[k]) {
			return fmt.Errorf("runtimes.%s changed", k)
		}
	}
	if len(br) != len(ar) && !(len(br) == len(ar)+1 && ar[name] == nil) {
		return errors.New("runtimes gained or lost entries")
	}
	if !sameJSON(br[name], map[string]any{"path": path}) {
		return fmt.Errorf("runtimes.%s is %s", name, br[name])
	}
	if setDefault && !sameJSON(b["default-runtime"], name) {
		return fmt.Errorf("default-runtime is %s", b["default-runtime"])
	}
	return nil
}
