// Package glob matches absolute file paths against the path globs used in
// confine profiles (exec.allow, files.deny, files.readOnly, files.watch).
//
// # Semantics
//
// A pattern is an absolute, clean path: it starts with "/", has no empty
// segment ("//"), no "." or ".." segment and no trailing "/" (except the
// pattern "/" itself). It is matched against the whole path, segment by
// segment, where segments are the parts between "/":
//
//   - "*" matches any run of characters within one segment, including
//     none, never "/": "/etc/*" matches "/etc/passwd" but not "/etc" or
//     "/etc/ssl/certs". A leading "." is not special: "/etc/*" matches
//     "/etc/.pwd.lock" (hidden files do not evade a rule).
//   - "**" as a whole segment matches zero or more whole segments:
//     "/run/**" matches "/run" itself and everything below it; "/a/**/b"
//     matches "/a/b", "/a/x/b" and "/a/x/y/b". "**" inside a segment
//     ("/var/**.log") is an error, not a silent "*".
//   - "?" matches exactly one character (one UTF-8 encoded rune), never "/".
//   - "[...]" matches one character from a class: "[abc]", ranges
//     "[a-z0-9]", negation "[!abc]" or "[^abc]". A class never matches "/",
//     and "/" may not appear inside one. "]" and "-" are literal inside a
//     class when escaped ("[\]]").
//   - "\c" matches the character c literally: "\*", "\?", "\[", "\\".
//
// Matching is case-sensitive and byte-exact otherwise; a byte that is not
// valid UTF-8 is one character and matches only itself. Paths given to Match
// are expected to be absolute and clean, as the kernel reports them in
// /proc; a path that is not clean is cleaned first, and a relative path
// never matches.
//
// Compile errors are *Error values that name the byte offset of the problem
// in the pattern; errors.Is(err, ErrBadPattern) holds for all of them.
package glob

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// ErrBadPattern is wrapped by every error Compile returns.
var ErrBadPattern = errors.New("bad glob pattern")

// Error is a syntax error in a pattern.
type Error struct {
	// Offset is the byte offset in the pattern where the problem is.
	Offset int
	// Msg says what is wrong.
	Msg string
}

func (e *Error) Error() string {
	return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg)
}

// Unwrap makes errors.Is(err, ErrBadPattern) true.
func (e *Error) Unwrap() error { return ErrBadPattern }

// Pattern is a compiled glob. The zero value is not usable; use Compile.
type Pattern struct {
	src  string
	segs []segment
	// literal is set when the pattern has no metacharacters: Match is then
	// a string comparison.
	literal bool
}

// segment is one path segment of a pattern.
type segment struct {
	doubleStar bool
	// lit is the segment's text when it has no metacharacters.
	lit   string
	isLit bool
	// elems is the segment as a sequence of matchers otherwise.
	elems []elem
}

type elemKind uint8

const (
	elemLit  elemKind = iota // one literal rune
	elemAny                  // ?
	elemStar                 // *
	elemClass
)

type elem struct {
	kind   elemKind
	r      rune
	class  []runeRange
	negate bool
}

type runeRange struct{ lo, hi rune }

// IsLiteral reports whether pattern contains no glob metacharacters
// (*, ?, [, \), so that it names exactly one path and can be used as such,
// for example in an OCI spec's maskedPaths or readonlyPaths. It does not
// check that the pattern is valid; use Compile for that.
func IsLiteral(pattern string) bool {
	return !strings.ContainsAny(pattern, `*?[\`)
}

// MustCompile is Compile for patterns known to be valid; it panics otherwise.
func MustCompile(pattern string) *Pattern {
	p, err := Compile(pattern)
	if err != nil {
		panic(fmt.Sprintf("glob: compiling %q: %v", pattern, err))
	}
	return p
}

// Compile parses pattern. See the package documentation for the syntax.
func Compile(pattern string) (*Pattern, error) {
	if pattern == "" {
		return nil, &Error{Offset: 0, Msg: "empty pattern"}
	}
	if pattern[0] != '/' {
		return nil, &Error{Offset: 0, Msg: "not an absolute path (must start with /)"}
	}
	p := &Pattern{src: pattern, literal: IsLiteral(pattern)}
	if pattern == "/" {
		return p, nil
	}
	if strings.HasSuffix(pattern, "/") {
		return nil, &Error{Offset: len(pattern) - 1, Msg: "trailing / (write DIR/** for everything below DIR)"}
	}
	// Split at unescaped slashes, remembering where each segment starts.
	start := 1
	for i := 1; i <= len(pattern); i++ {
		if i < len(pattern)-1 && pattern[i] == '\\' {
			i++ // skip the escaped byte; a trailing \ is caught in the segment
			continue
		}
		if i < len(pattern) && pattern[i] != '/' {
			continue
		}
		seg, err := compileSegment(pattern[start:i], start)
		if err != nil {
			return nil, err
		}
		p.segs = append(p.segs, seg)
		start = i + 1
	}
	return p, nil
}

func compileSegment(s string, off int) (segment, error) {
	switch s {
	case "":
		return segment{}, &Error{Offset: off, Msg: "empty path segment (//)"}
	case ".", "..":
		return segment{}, &Error{Offset: off, Msg: fmt.Sprintf("%q segment (patterns must be clean paths)", s)}
	case "**":
		return segment{doubleStar: true}, nil
	}
	if IsLiteral(s) {
		return segment{lit: s, isLit: true}, nil
	}
	var elems []elem
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case '*':
			if i+1 < len(s) && s[i+1] == '*' {
				return segment{}, &Error{Offset: off + i, Msg: "** must be a whole path segment (use * within a segment)"}
			}
			// Consecutive stars cannot occur (rejected above), so no folding.
			elems = append(elems, elem{kind: elemStar})
			i++
		case '?':
			elems = append(elems, elem{kind: elemAny})
			i++
		case '[':
			e, n, err := compileClass(s[i:], off+i)
			if err != nil {
				return segment{}, err
			}
			elems = append(elems, e)
			i += n
		case '\\':
			if i+1 >= len(s) {
				return segment{}, &Error{Offset: off + i, Msg: "trailing \\ escapes nothing"}
			}
			r, n := decodeRune(s[i+1:])
			if r == '/' {
				return segment{}, &Error{Offset: off + i, Msg: "a path separator cannot be escaped"}
			}
			elems = append(elems, elem{kind: elemLit, r: r})
			i += 1 + n
		default:
			r, n := decodeRune(s[i:])
			elems = append(elems, elem{kind: elemLit, r: r})
			i += n
		}
	}
	return segment{elems: elems}, nil
}

// compileClass parses the class at the start of s (s[0] == '['), returning
// the element and the number of bytes consumed.
func compileClass(s string, off int) (elem, int, error) {
	e := elem{kind: elemClass}
	i := 1
	if i < len(s) && (s[i] == '!' || s[i] == '^') {
		e.negate = true
		i++
	}
	// next reads one class character, honouring escapes.
	next := func() (rune, error) {
		if i >= len(s) {
			return 0, &Error{Offset: off, Msg: "unterminated character class"}
		}
		if s[i] == '\\' {
			if i+1 >= len(s) {
				return 0, &Error{Offset: off + i, Msg: "trailing \\ escapes nothing"}
			}
			r, n := decodeRune(s[i+1:])
			i += 1 + n
			return r, nil
		}
		r, n := decodeRune(s[i:])
		i += n
		return r, nil
	}
	for {
		if i >= len(s) {
			return elem{}, 0, &Error{Offset: off, Msg: "unterminated character class"}
		}
		if s[i] == ']' {
			if len(e.class) == 0 {
				return elem{}, 0, &Error{Offset: off + i, Msg: "empty character class"}
			}
			return e, i + 1, nil
		}
		pos := i
		if s[i] == '-' {
			return elem{}, 0, &Error{Offset: off + i, Msg: "unescaped - outside a range in character class"}
		}
		lo, err := next()
		if err != nil {
			return elem{}, 0, err
		}
		hi := lo
		if i < len(s) && s[i] == '-' {
			i++
			if i < len(s) && s[i] == ']' {
				return elem{}, 0, &Error{Offset: off + i - 1, Msg: "range without an end in character class"}
			}
			hi, err = next()
			if err != nil {
				return elem{}, 0, err
			}
			if hi < lo {
				return elem{}, 0, &Error{Offset: off + pos, Msg: fmt.Sprintf("range %q-%q is reversed", lo, hi)}
			}
		}
		if lo == '/' || hi == '/' {
			return elem{}, 0, &Error{Offset: off + pos, Msg: "/ cannot be part of a character class"}
		}
		e.class = append(e.class, runeRange{lo, hi})
	}
}

// String returns the pattern as it was given to Compile.
func (p *Pattern) String() string { return p.src }

// Match reports whether the absolute path matches the pattern.
func (p *Pattern) Match(name string) bool {
	if name == "" || name[0] != '/' {
		return false
	}
	if !isClean(name) {
		name = path.Clean(name)
	}
	if p.literal {
		return name == p.src
	}
	var parts []string
	if name != "/" {
		parts = strings.Split(name[1:], "/")
	}
	return matchSegments(p.segs, parts)
}

// matchSegments matches segments against path parts. "**" is a star over
// whole segments, so the classic single-backtrack-point wildcard algorithm
// applies: on a mismatch, retry from the last "**" with one more part
// swallowed. That is O(len(segs)*len(parts)) at worst.
func matchSegments(segs []segment, parts []string) bool {
	si, pi := 0, 0
	starSeg, starPart := -1, 0
	for pi < len(parts) {
		if si < len(segs) {
			if segs[si].doubleStar {
				starSeg, starPart = si, pi
				si++
				continue
			}
			if segs[si].match(parts[pi]) {
				si++
				pi++
				continue
			}
		}
		if starSeg < 0 {
			return false
		}
		starPart++
		si, pi = starSeg+1, starPart
	}
	for si < len(segs) && segs[si].doubleStar {
		si++
	}
	return si == len(segs)
}

func (s *segment) match(part string) bool {
	if s.isLit {
		return s.lit == part
	}
	// The same algorithm within a segment, over runes: "*" is the star.
	ei, ti := 0, 0
	starElem, starText := -1, 0
	for ti < len(part) {
		if ei < len(s.elems) {
			e := &s.elems[ei]
			if e.kind == elemStar {
				starElem, starText = ei, ti
				ei++
				continue
			}
			r, n := decodeRune(part[ti:])
			if e.matchRune(r) {
				ei++
				ti += n
				continue
			}
		}
		if starElem < 0 {
			return false
		}
		_, n := decodeRune(part[starText:])
		starText += n
		ei, ti = starElem+1, starText
	}
	for ei < len(s.elems) && s.elems[ei].kind == elemStar {
		ei++
	}
	return ei == len(s.elems)
}

func (e *elem) matchRune(r rune) bool {
	switch e.kind {
	case elemLit:
		return r == e.r
	case elemAny:
		return true
	case elemClass:
		in := false
		for _, rr := range e.class {
			if rr.lo <= r && r <= rr.hi {
				in = true
				break
			}
		}
		return in != e.negate
	}
	return false
}

// isClean reports whether an absolute path is already in path.Clean form.
func isClean(p string) bool {
	if p == "/" {
		return true
	}
	if strings.HasSuffix(p, "/") || strings.Contains(p, "//") {
		return false
	}
	return !strings.Contains(p+"/", "/./") && !strings.Contains(p+"/", "/../")
}

// decodeRune is utf8.DecodeRuneInString, except that a byte that is not
// valid UTF-8 decodes to a value of its own beyond the Unicode range, so an
// invalid byte in a pattern matches only the same byte in a path (Linux
// paths are bytes, not necessarily UTF-8).
func decodeRune(s string) (rune, int) {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && n == 1 {
		return utf8.MaxRune + 1 + rune(s[0]), 1
	}
	return r, n
}
