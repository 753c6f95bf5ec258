package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/confinehq/confine/profiles"
)

// MaxDockerBytes bounds a Docker seccomp JSON document. Docker's default
// profile is about 14 KiB.
const MaxDockerBytes = 4 << 20

// ErrDockerProfile is wrapped by every error about the content of a Docker
// seccomp JSON document (syntax, unknown fields, wrong types, bad values).
var ErrDockerProfile = errors.New("invalid Docker seccomp profile")

// ErrUnsupported is wrapped by errors about a construct of a Docker
// seccomp profile that a confine profile cannot express (argument
// filters, SCMP_ACT_TRACE, per-syscall errno values, ...).
var ErrUnsupported = errors.New("cannot be expressed in a confine profile")

// ImportError is an error about one place in a Docker seccomp JSON file.
type ImportError struct {
	File  string // file name as given to ImportDocker
	Line  int    // 1-based, 0 when unknown
	Field string // path such as syscalls[3].args[0].op, "" for the document
	Msg   string
	Err   error // ErrDockerProfile or ErrUnsupported
}

// Error reads file:line: field: message, as profile errors do.
func (e *ImportError) Error() string {
	return (&profiles.FieldError{File: e.File, Line: e.Line, Field: e.Field, Msg: e.Msg}).Error()
}

// Unwrap lets errors.Is match ErrDockerProfile or ErrUnsupported.
func (e *ImportError) Unwrap() error { return e.Err }

// The Docker/Podman seccomp JSON format (moby profiles/seccomp, with the
// fields of the OCI LinuxSeccomp it is a superset of). Both the old format
// ("architectures", "name") and the current one ("archMap", "names",
// "includes"/"excludes") are read.

type dockerProfile struct {
	DefaultAction    string          `json:"defaultAction"`
	DefaultErrnoRet  *uint           `json:"defaultErrnoRet,omitempty"`
	Architectures    []string        `json:"architectures,omitempty"`
	ArchMap          []dockerArchMap `json:"archMap,omitempty"`
	ListenerPath     string          `json:"listenerPath,omitempty"`
	ListenerMetadata string          `json:"listenerMetadata,omitempty"`
	Flags            []string        `json:"flags,omitempty"`
	Syscalls         []dockerSyscall `json:"syscalls"`
}

type dockerArchMap struct {
	Arch      string   `json:"architecture"`
	SubArches []string `json:"subArchitectures"`
}

type dockerSyscall struct {
	Name     string        `json:"name,omitempty"`
	Names    []string      `json:"names,omitempty"`
	Action   string        `json:"action"`
	ErrnoRet *uint         `json:"errnoRet,omitempty"`
	Args     []dockerArg   `json:"args,omitempty"`
	Comment  string        `json:"comment,omitempty"`
	Includes *dockerFilter `json:"includes,omitempty"`
	Excludes *dockerFilter `json:"excludes,omitempty"`
}

type dockerFilter struct {
	Caps      []string `json:"caps,omitempty"`
	Arches    []string `json:"arches,omitempty"`
	MinKernel string   `json:"minKernel,omitempty"`
}

func (f *dockerFilter) empty() bool {
	return f == nil || len(f.Caps) == 0 && len(f.Arches) == 0 && f.MinKernel == ""
}

type dockerArg struct {
	Index    uint   `json:"index"`
	Value    uint64 `json:"value"`
	ValueTwo uint64 `json:"valueTwo,omitempty"`
	Op       string `json:"op"`
}

// dockerSchema lists the keys allowed in each object of the format, by
// path pattern (indices replaced by []).
var dockerSchema = map[string]map[string]bool{
	"": {"defaultAction": true, "defaultErrnoRet": true, "architectures": true, "archMap": true,
		"listenerPath": true, "listenerMetadata": true, "flags": true, "syscalls": true},
	"archMap[]":           {"architecture": true, "subArchitectures": true},
	"syscalls[]":          {"name": true, "names": true, "action": true, "errnoRet": true, "args": true, "comment": true, "includes": true, "excludes": true},
	"syscalls[].includes": {"caps": true, "arches": true, "minKernel": true},
	"syscalls[].excludes": {"caps": true, "arches": true, "minKernel": true},
	"syscalls[].args[]":   {"index": true, "value": true, "valueTwo": true, "op": true},
}

// docPositions maps the field paths of a parsed document to lines.
type docPositions struct {
	file  string
	data  []byte
	lines map[string]int // path -> line of the key or element
	// ends records, for each value, the input offset just after its first
	// token, to map json.UnmarshalTypeError offsets back to paths.
	ends map[int64]string
	// newlines are the offsets of the newlines of data, built on first use.
	newlines []int64
}

// lineAt returns the 1-based line of a byte offset: a binary search over
// the newline offsets, so that scanning stays linear in the input.
func (d *docPositions) lineAt(off int64) int {
	if off < 0 {
		return 0
	}
	if d.newlines == nil {
		d.newlines = []int64{}
		for i, c := range d.data {
			if c == '\n' {
				d.newlines = append(d.newlines, int64(i))
			}
		}
	}
	// Lines before off: newlines at offsets < off.
	return 1 + sort.Search(len(d.newlines), func(i int) bool { return d.newlines[i] >= off })
}

// line returns the line of path, or of its closest recorded parent.
func (d *docPositions) line(path string) int {
	for {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i <= 0 {
			return d.lines[""]
		}
		path = path[:i]
	}
}

// errAt builds an ImportError for a field path.
func (d *docPositions) errAt(path string, sentinel error, format string, args ...any) *ImportError {
	return &ImportError{File: d.file, Line: d.line(path), Field: path, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

// parseDocker decodes a Docker seccomp JSON document strictly: syntax
// errors, unknown or duplicate keys, trailing data and wrong types are
// errors naming the file, line and field.
func parseDocker(data []byte, file string) (*dockerProfile, *docPositions, error) {
	pos := &docPositions{file: file, data: data, lines: map[string]int{}, ends: map[int64]string{}}
	if len(data) > MaxDockerBytes {
		return nil, pos, &ImportError{File: file, Msg: fmt.Sprintf("larger than %d bytes", MaxDockerBytes), Err: ErrDockerProfile}
	}
	if err := pos.scan(); err != nil {
		return nil, pos, err
	}
	var p dockerProfile
	if err := json.Unmarshal(data, &p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			path, ok := pos.ends[te.Offset]
			if !ok {
				path = te.Field
			}
			return nil, pos, &ImportError{File: file, Line: pos.lineAt(te.Offset), Field: path,
				Msg: fmt.Sprintf("cannot use %s as %s", te.Value, jsonTypeName(te.Type.String())), Err: ErrDockerProfile}
		}
		return nil, pos, &ImportError{File: file, Msg: err.Error(), Err: ErrDockerProfile}
	}
	return &p, pos, nil
}

func jsonTypeName(goType string) string {
	switch goType {
	case "string":
		return "a string"
	case "uint", "uint64", "*uint":
		return "a non-negative integer"
	case "[]string":
		return "a list of strings"
	}
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.Contains(goType, "seccomp."):
		return "an object"
	}
	return goType
}

// scanFrame is one open object or array during scan.
type scanFrame struct {
	path    string
	pattern string
	array   bool
	index   int
	key     string // object: the key whose value comes next
	wantKey bool   // object: a key (or the end) comes next
	keys    map[string]bool
}

// scan walks the token stream once, without recursion, checking keys
// against dockerSchema and recording where every field is.
func (d *docPositions) scan() error {
	dec := json.NewDecoder(bytes.NewReader(d.data))
	dec.UseNumber()
	var stack []*scanFrame
	done := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if !done {
				return &ImportError{File: d.file, Line: d.lineAt(int64(len(d.data))), Msg: "unexpected end of input", Err: ErrDockerProfile}
			}
			return nil
		}
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return &ImportError{File: d.file, Line: d.lineAt(se.Offset), Msg: "syntax error: " + se.Error(), Err: ErrDockerProfile}
			}
			return &ImportError{File: d.file, Line: d.lineAt(dec.InputOffset()), Msg: "syntax error: " + err.Error(), Err: ErrDockerProfile}
		}
		end := dec.InputOffset()
		if done {
			return &ImportError{File: d.file, Line: d.lineAt(end), Msg: "unexpected data after the top-level object", Err: ErrDockerProfile}
		}
		var top *scanFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		// A closing delimiter ends the innermost container.
		if delim, ok := tok.(json.Delim); ok && (delim == '}' || delim == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				done = true
			}
			continue
		}
		// An object key.
		if top != nil && !top.array && top.wantKey {
			key, _ := tok.(string)
			path := joinPath(top.path, key)
			if allowed, ok := dockerSchema[top.pattern]; ok && !allowed[key] {
				return &ImportError{File: d.file, Line: d.lineAt(end), Field: path, Msg: fmt.Sprintf("unknown field %q", key), Err: ErrDockerProfile}
			}
			if top.keys[key] {
				return &ImportError{File: d.file, Line: d.lineAt(end), Field: path, Msg: fmt.Sprintf("field %q given twice", key), Err: ErrDockerProfile}
			}
			top.keys[key] = true
			top.key = key
			top.wantKey = false
			d.lines[path] = d.lineAt(end)
			continue
		}
		// A value: find its path.
		var path, pattern string
		switch {
		case top == nil:
			path, pattern = "", ""
		case top.array:
			path = fmt.Sprintf("%s[%d]", top.path, top.index)
			pattern = top.pattern + "[]"
			top.index++
		default:
			path = joinPath(top.path, top.key)
			pattern = joinPath(top.pattern, top.key)
			top.wantKey = true
		}
		if _, ok := d.lines[path]; !ok {
			d.lines[path] = d.lineAt(end)
		}
		d.ends[end] = path
		delim, isDelim := tok.(json.Delim)
		if top == nil && !(isDelim && delim == '{') {
			return &ImportError{File: d.file, Line: d.lineAt(end), Msg: "the document is not a JSON object", Err: ErrDockerProfile}
		}
		if isDelim {
			stack = append(stack, &scanFrame{path: path, pattern: pattern, array: delim == '[', wantKey: delim == '{', keys: map[string]bool{}})
		} else if top == nil {
			done = true
		}
	}
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}
