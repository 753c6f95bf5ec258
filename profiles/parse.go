package profiles

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxFileBytes bounds a profile file.
const MaxFileBytes = 1 << 20

// ErrInvalid is wrapped by every error about a profile's content.
var ErrInvalid = errors.New("invalid profile")

// FieldError is an error about one place in a profile file.
type FieldError struct {
	File  string // file name, or "<input>"
	Line  int    // 1-based, 0 when unknown
	Field string // dotted path such as seccomp.allow[3], "" for the document
	Msg   string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap lets errors.Is(err, ErrInvalid) match.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Options tune decoding and validation.
type Options struct {
	// KnownSyscall reports whether a syscall name exists for the host. When
	// nil, names are only checked for shape. The daemon and the CLI wire
	// seccomp/syscalls.Known (libseccomp) here.
	KnownSyscall func(name string) bool
	// CheckSeccomp, when set, turns the profile's seccomp section into a
	// filter and reports why it cannot be (package seccomp's Generate;
	// profiles cannot import it).
	CheckSeccomp func(p *Profile) error
}

// Result is a decoded profile with what validation had to say.
type Result struct {
	Profile  *Profile
	Warnings []string
	node     *yaml.Node
}

// ReadFile reads and validates one profile file.
func ReadFile(path string, opts Options) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading profile: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading profile %s: %w", path, err)
	}
	if len(data) > MaxFileBytes {
		return nil, &FieldError{File: path, Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileBytes)}
	}
	return Parse(data, path, opts)
}

var (
	yamlLineRe     = regexp.MustCompile(`line (\d+): (.*)`)
	unknownFieldRe = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
)

// Parse decodes one profile document strictly and validates it. Every
// problem found is returned, joined, each naming file, line and field.
func Parse(data []byte, file string, opts Options) (*Result, error) {
	if file == "" {
		file = "<input>"
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FieldError{File: file, Msg: "empty document: no profile"}
		}
		return nil, yamlError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &FieldError{File: file, Line: extra.Line, Msg: "more than one YAML document: one profile per file"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(file, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &FieldError{File: file, Line: doc.Line, Msg: "a profile must be a YAML mapping"}
	}
	if err := checkDuplicateKeys(file, doc.Content[0], ""); err != nil {
		return nil, err
	}

	var p Profile
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(&p); err != nil {
		return nil, yamlError(file, err)
	}
	p.Source = file
	r := &Result{Profile: &p, node: doc.Content[0]}
	errs, warns := validate(&p, r.node, file, opts)
	r.Warnings = warns
	if len(errs) > 0 {
		return r, errors.Join(errs...)
	}
	return r, nil
}

// yamlError turns yaml.v3's messages into file:line: message errors.
func yamlError(file string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var errs []error
		for _, m := range te.Errors {
			errs = append(errs, lineMsg(file, m))
		}
		return errors.Join(errs...)
	}
	return lineMsg(file, strings.TrimPrefix(err.Error(), "yaml: "))
}

func lineMsg(file, m string) error {
	if sm := yamlLineRe.FindStringSubmatch(m); sm != nil {
		n, _ := strconv.Atoi(sm[1])
		msg := sm[2]
		if um := unknownFieldRe.FindStringSubmatch(msg); um != nil {
			msg = fmt.Sprintf("unknown field %q", um[1])
		}
		return &FieldError{File: file, Line: n, Msg: msg}
	}
	return &FieldError{File: file, Msg: m}
}

func checkDuplicateKeys(file string, n *yaml.Node, path string) error {
	switch n.Kind {
	case yaml.MappingNode:
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if seen[k.Value] {
				return &FieldError{File: file, Line: k.Line, Field: join(path, k.Value), Msg: "duplicate key"}
			}
			seen[k.Value] = true
			if err := checkDuplicateKeys(file, n.Content[i+1], join(path, k.Value)); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if err := checkDuplicateKeys(file, c, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// locate returns the line of a dotted field path ("seccomp.allow", index
// idx when >= 0) in the document, or the closest parent's line.
func locate(root *yaml.Node, field string, idx int) int {
	if root == nil {
		return 0
	}
	n := root
	line := root.Line
	for _, part := range strings.Split(field, ".") {
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				line = n.Content[i].Line
				n = n.Content[i+1]
				found = true
				break
			}
		}
		if !found {
			return line
		}
	}
	if idx >= 0 && n.Kind == yaml.SequenceNode && idx < len(n.Content) {
		return n.Content[idx].Line
	}
	if idx >= 0 && n.Kind == yaml.MappingNode {
		// idx counts keys for maps
		if 2*idx < len(n.Content) {
			return n.Content[2*idx].Line
		}
	}
	return line
}
