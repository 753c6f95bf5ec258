package profiles

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// MergeInput is one profile to merge, labelled for provenance (a file
// path, a host name).
type MergeInput struct {
	Label string
	Data  []byte
}

// permissiveFalse names the boolean fields where false is the permissive
// value; for every other boolean (allowRoot, ptrace, ...) true is.
var permissiveFalse = map[string]bool{"noNewPrivileges": true}

// Merge returns the union of profiles (typically learned on several
// hosts) as YAML for review: every list is the union of the inputs' lists;
// an entry not found in every input carries a comment naming the inputs
// it came from; a key absent from some inputs, and a value the inputs
// disagree on, are commented too (a differing boolean takes its permissive
// value). It works on the YAML tree, so it knows every field of the
// schema. name, when set, renames the result; otherwise the inputs must
// agree on the name. The result is validated with opts.
func Merge(inputs []MergeInput, name string, opts Options) ([]byte, error) {
	if len(inputs) == 0 {
		return nil, errors.New("merging profiles: no input")
	}
	m := &merger{prov: map[*yaml.Node][]string{}, notes: map[*yaml.Node][]string{}, vals: map[*yaml.Node][]string{}, differ: map[*yaml.Node]bool{}}
	var root *yaml.Node
	var labels []string
	for i, in := range inputs {
		if _, err := Parse(in.Data, in.Label, opts); err != nil {
			return nil, fmt.Errorf("merging profiles: %w", err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(in.Data, &doc); err != nil {
			return nil, fmt.Errorf("merging profiles: %s: %w", in.Label, err)
		}
		src := doc.Content[0]
		stripComments(src)
		labels = append(labels, in.Label)
		if i == 0 {
			root = src
			m.mark(root, in.Label)
			continue
		}
		m.mergeMap(root, src, in.Label, labels[:i], "")
	}
	m.annotate(root, len(inputs))
	if err := m.setName(root, name); err != nil {
		return nil, err
	}
	root.HeadComment = "merged by confinectl profile merge from:\n  " + strings.Join(labels, "\n  ") +
		"\nan entry commented \"from X\" was seen only there; entries without a comment are in every input.\nreview, set the mode, then install it (profile promote / profile push)."
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("merging profiles: encoding: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	if _, err := Parse(buf.Bytes(), "merged profile", opts); err != nil {
		return nil, fmt.Errorf("merging profiles: the union is not a valid profile: %w", err)
	}
	return buf.Bytes(), nil
}

type merger struct {
	prov   map[*yaml.Node][]string // list entries: the inputs that had them
	notes  map[*yaml.Node][]string // keys: comments to add
	vals   map[*yaml.Node][]string // scalar values: "input: value" of each input
	differ map[*yaml.Node]bool     // scalar values the inputs disagree on
}

func stripComments(n *yaml.Node) {
	n.HeadComment, n.LineComment, n.FootComment = "", "", ""
	for _, c := range n.Content {
		stripComments(c)
	}
}

// mark records label as the provenance of every list entry under n.
func (m *merger) mark(n *yaml.Node, label string) {
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			m.prov[c] = append(m.prov[c], label)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if v := n.Content[i+1]; v.Kind == yaml.ScalarNode {
				m.vals[v] = append(m.vals[v], label+": "+v.Value)
			} else {
				m.mark(v, label)
			}
		}
	}
}

func (m *merger) mergeMap(dst, src *yaml.Node, label string, before []string, path string) {
	for i := 0; i+1 < len(src.Content); i += 2 {
		k, v := src.Content[i], src.Content[i+1]
		field := path + k.Value
		dv := lookup(dst, k.Value)
		if dv == nil {
			m.mark(v, label)
			m.notes[k] = append(m.notes[k], "absent from "+strings.Join(before, ", ")+" (absent places no restriction there): review")
			dst.Content = append(dst.Content, k, v)
			continue
		}
		switch {
		case dv.Kind == yaml.MappingNode && v.Kind == yaml.MappingNode:
			m.mergeMap(dv, v, label, before, field+".")
		case dv.Kind == yaml.SequenceNode && v.Kind == yaml.SequenceNode:
			m.mergeSeq(dv, v, label)
		case dv.Kind == yaml.ScalarNode && v.Kind == yaml.ScalarNode:
			m.vals[dv] = append(m.vals[dv], label+": "+v.Value)
			if dv.Value != v.Value {
				m.differ[dv] = true
				if dv.Tag == "!!bool" && v.Tag == "!!bool" {
					want := "true"
					if permissiveFalse[k.Value] {
						want = "false"
					}
					if v.Value == want {
						dv.Value = want
					}
				}
			}
		default:
			m.notes[k] = append(m.notes[k], fmt.Sprintf("%s has a different shape here", label))
		}
	}
	// Keys this input lacks.
	for i := 0; i+1 < len(dst.Content); i += 2 {
		if lookup(src, dst.Content[i].Value) == nil {
			m.notes[dst.Content[i]] = append(m.notes[dst.Content[i]], "absent from "+label+" (absent places no restriction there): review")
		}
	}
}

func (m *merger) mergeSeq(dst, src *yaml.Node, label string) {
	for _, c := range src.Content {
		found := false
		for _, d := range dst.Content {
			if d.Kind == yaml.ScalarNode && c.Kind == yaml.ScalarNode && d.Value == c.Value {
				m.prov[d] = append(m.prov[d], label)
				found = true
				break
			}
		}
		if !found {
			m.prov[c] = append(m.prov[c], label)
			dst.Content = append(dst.Content, c)
		}
	}
}

func lookup(mapping *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(mapping.Content); i += 2 {
		if mapping.Content[i].Value == key {
			return mapping.Content[i+1]
		}
	}
	return nil
}

// annotate writes the provenance and notes as line comments.
func (m *merger) annotate(n *yaml.Node, inputs int) {
	if p, ok := m.prov[n]; ok && len(p) < inputs {
		n.LineComment = "from " + strings.Join(p, ", ")
	}
	if notes := m.notes[n]; len(notes) > 0 {
		n.LineComment = joinComment(n.LineComment, strings.Join(notes, "; "))
	}
	if m.differ[n] {
		n.LineComment = joinComment(n.LineComment, "inputs differ: "+strings.Join(m.vals[n], ", "))
	}
	if n.Kind == yaml.SequenceNode {
		n.Style = 0 // block style: one entry, and its comment, per line
	}
	for _, c := range n.Content {
		m.annotate(c, inputs)
	}
}

func joinComment(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func (m *merger) setName(root *yaml.Node, name string) error {
	n := lookup(root, "name")
	if name != "" {
		n.Value, n.LineComment = name, ""
		return nil
	}
	if m.differ[n] {
		return fmt.Errorf("merging profiles: the inputs have different names (%s): choose one with --name", strings.Join(m.vals[n], ", "))
	}
	return nil
}
