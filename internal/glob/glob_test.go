package glob

import (
	"errors"
	"path"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		match   []string
		noMatch []string
	}{
		{
			name:    "literal",
			pattern: "/etc/shadow",
			match:   []string{"/etc/shadow", "/etc//shadow", "/etc/./shadow"},
			noMatch: []string{"/etc/shadow-", "/etc/shado", "/etc", "/etc/shadow/x", "etc/shadow", ""},
		},
		{
			name:    "root",
			pattern: "/",
			match:   []string{"/"},
			noMatch: []string{"/etc"},
		},
		{
			name:    "star within one segment",
			pattern: "/etc/*",
			match:   []string{"/etc/passwd", "/etc/.pwd.lock", "/etc/x"},
			noMatch: []string{"/etc", "/etc/ssl/certs", "/etcx/passwd"},
		},
		{
			name:    "star in the middle of a segment",
			pattern: "/var/log/*.log",
			match:   []string{"/var/log/a.log", "/var/log/.log", "/var/log/a.b.log"},
			noMatch: []string{"/var/log/a.log.1", "/var/log/x/a.log", "/var/log/alog"},
		},
		{
			name:    "several stars in a segment",
			pattern: "/x/a*b*c",
			match:   []string{"/x/abc", "/x/aXbYc", "/x/abbbc", "/x/abcbc"},
			noMatch: []string{"/x/ab", "/x/acb", "/x/abcd"},
		},
		{
			name:    "double star at the end matches the directory and everything below",
			pattern: "/run/secrets/**",
			match:   []string{"/run/secrets", "/run/secrets/db", "/run/secrets/a/b/c"},
			noMatch: []string{"/run/secretsx", "/run", "/run/other/secrets"},
		},
		{
			name:    "double star in the middle matches zero or more segments",
			pattern: "/a/**/b",
			match:   []string{"/a/b", "/a/x/b", "/a/x/y/b", "/a/b/b"},
			noMatch: []string{"/a", "/a/x", "/a/b/x", "/b"},
		},
		{
			name:    "double star at the start",
			pattern: "/**/id_rsa",
			match:   []string{"/id_rsa", "/root/.ssh/id_rsa", "/home/u/.ssh/id_rsa"},
			noMatch: []string{"/root/.ssh/id_rsa.pub"},
		},
		{
			name:    "everything",
			pattern: "/**",
			match:   []string{"/", "/a", "/a/b/c"},
			noMatch: []string{"relative"},
		},
		{
			name:    "two double stars need backtracking",
			pattern: "/**/a/**/b",
			match:   []string{"/a/b", "/x/a/y/b", "/a/a/b", "/x/a/y/a/z/b"},
			noMatch: []string{"/x/b", "/a/b/c", "/b/a"},
		},
		{
			name:    "double star then star",
			pattern: "/home/**/*.key",
			match:   []string{"/home/a.key", "/home/u/x/a.key"},
			noMatch: []string{"/home/u/a.pem", "/home"},
		},
		{
			name:    "question mark is one character",
			pattern: "/dev/tty?",
			match:   []string{"/dev/tty1", "/dev/ttyS", "/dev/ttyé"},
			noMatch: []string{"/dev/tty", "/dev/tty10"},
		},
		{
			name:    "character class and range",
			pattern: "/dev/sd[a-c][0-9]",
			match:   []string{"/dev/sda1", "/dev/sdc9"},
			noMatch: []string{"/dev/sdd1", "/dev/sda", "/dev/sdaa"},
		},
		{
			name:    "negated class with !",
			pattern: "/x/[!abc]",
			match:   []string{"/x/d", "/x/-"},
			noMatch: []string{"/x/a", "/x/c", "/x/dd"},
		},
		{
			name:    "negated class with ^",
			pattern: "/x/[^a-y]z",
			match:   []string{"/x/zz", "/x/Az"},
			noMatch: []string{"/x/az"},
		},
		{
			name:    "escapes",
			pattern: `/x/\*\?\[\\`,
			match:   []string{`/x/*?[\`},
			noMatch: []string{`/x/a?[\`, `/x/*a[\`},
		},
		{
			name:    "escaped bracket in class",
			pattern: `/x/[\]a]`,
			match:   []string{"/x/]", "/x/a"},
			noMatch: []string{"/x/b"},
		},
		{
			name:    "class spanning / in its range still never matches a separator",
			pattern: "/x/[ -~]",
			match:   []string{"/x/a", "/x/-"},
			noMatch: []string{"/x//", "/x/a/b"},
		},
		{
			name:    "unicode",
			pattern: "/données/*/ü?",
			match:   []string{"/données/x/üa", "/données/é/üé"},
			noMatch: []string{"/donnees/x/üa"},
		},
		{
			name:    "dot dot in the path is cleaned before matching",
			pattern: "/etc/**",
			match:   []string{"/tmp/../etc/shadow"},
			noMatch: []string{"/etc/../tmp/x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.pattern)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.pattern, err)
			}
			if p.String() != tt.pattern {
				t.Errorf("String() = %q, want %q", p.String(), tt.pattern)
			}
			for _, s := range tt.match {
				if !p.Match(s) {
					t.Errorf("%q should match %q", tt.pattern, s)
				}
			}
			for _, s := range tt.noMatch {
				if p.Match(s) {
					t.Errorf("%q should not match %q", tt.pattern, s)
				}
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		want    string
	}{
		{name: "empty", pattern: "", want: "offset 0: empty pattern"},
		{name: "relative", pattern: "relative/[path", want: "offset 0: not an absolute path (must start with /)"},
		{name: "trailing slash", pattern: "/etc/", want: "offset 4: trailing / (write DIR/** for everything below DIR)"},
		{name: "empty segment", pattern: "/etc//x", want: "offset 5: empty path segment (//)"},
		{name: "dot segment", pattern: "/etc/./x", want: `offset 5: "." segment (patterns must be clean paths)`},
		{name: "dot dot segment", pattern: "/etc/../x", want: `offset 5: ".." segment (patterns must be clean paths)`},
		{name: "double star inside a segment", pattern: "/var/**.log", want: "offset 5: ** must be a whole path segment (use * within a segment)"},
		{name: "double star after text", pattern: "/var/x**", want: "offset 6: ** must be a whole path segment (use * within a segment)"},
		{name: "unterminated class", pattern: "/etc/[abc", want: "offset 5: unterminated character class"},
		{name: "class cut by a slash", pattern: "/etc/[a/b]", want: "offset 5: unterminated character class"},
		{name: "empty class", pattern: "/etc/[]", want: "offset 6: empty character class"},
		{name: "empty negated class", pattern: "/etc/[!]", want: "offset 7: empty character class"},
		{name: "reversed range", pattern: "/x/[z-a]", want: `offset 4: range 'z'-'a' is reversed`},
		{name: "range without end", pattern: "/x/[a-]", want: "offset 5: range without an end in character class"},
		{name: "leading dash", pattern: "/x/[-a]", want: "offset 4: unescaped - outside a range in character class"},
		{name: "slash in class", pattern: `/x/[\/]`, want: "offset 4: / cannot be part of a character class"},
		{name: "trailing backslash", pattern: `/x/a\`, want: `offset 4: trailing \ escapes nothing`},
		{name: "escaped slash", pattern: `/x/a\/b`, want: "offset 4: a path separator cannot be escaped"},
		{name: "trailing backslash in class", pattern: `/x/[a\`, want: `offset 5: trailing \ escapes nothing`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.pattern)
			if err == nil {
				t.Fatalf("Compile(%q) = %v, want error %q", tt.pattern, p, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Compile(%q) error = %q, want %q", tt.pattern, err, tt.want)
			}
			if !errors.Is(err, ErrBadPattern) {
				t.Errorf("error %v does not wrap ErrBadPattern", err)
			}
		})
	}
}

func TestIsLiteral(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		want    bool
	}{
		{name: "plain path", pattern: "/etc/shadow", want: true},
		{name: "root", pattern: "/", want: true},
		{name: "dots and dashes", pattern: "/run/secrets/db-pass.v1", want: true},
		{name: "star", pattern: "/etc/*", want: false},
		{name: "double star", pattern: "/run/**", want: false},
		{name: "question mark", pattern: "/dev/tty?", want: false},
		{name: "class", pattern: "/dev/sd[ab]", want: false},
		{name: "escape", pattern: `/x/\*`, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsLiteral(tt.pattern); got != tt.want {
				t.Errorf("IsLiteral(%q) = %v, want %v", tt.pattern, got, tt.want)
			}
		})
	}
}

func TestMustCompilePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustCompile of a bad pattern did not panic")
		}
	}()
	MustCompile("relative")
}

// A pathological pattern must not take exponential time.
func TestNoExponentialBacktracking(t *testing.T) {
	p := MustCompile("/" + strings.Repeat("**/a/", 20) + "b")
	long := "/" + strings.Repeat("a/", 200) + "c"
	if p.Match(long) {
		t.Fatal("unexpected match")
	}
	q := MustCompile("/" + strings.Repeat("*a", 30) + "b")
	if q.Match("/" + strings.Repeat("a", 500)) {
		t.Fatal("unexpected match")
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{"/etc/shadow", "/run/**", "/a/**/b", "/x/[!a-z]?*", `/x/\*`, "/x/[", "rel", "/a//b", "/é/[é-ü]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		p, err := Compile(pattern)
		if err != nil {
			var ge *Error
			if !errors.As(err, &ge) || ge.Offset < 0 || ge.Offset > len(pattern) {
				t.Fatalf("Compile(%q): error %v has no valid offset", pattern, err)
			}
			return
		}
		if p.String() != pattern {
			t.Fatalf("String() = %q, want %q", p.String(), pattern)
		}
		// A valid literal pattern is a clean absolute path and matches itself.
		if IsLiteral(pattern) {
			if path.Clean(pattern) != pattern {
				t.Fatalf("literal pattern %q compiled but is not clean", pattern)
			}
			if !p.Match(pattern) {
				t.Fatalf("literal pattern %q does not match itself", pattern)
			}
		}
	})
}

func FuzzMatch(f *testing.F) {
	f.Add("/run/**", "/run/secrets/x")
	f.Add("/a/**/b/*", "/a/x/b/c")
	f.Add("/x/[a-c]?", "/x/b1")
	f.Add("/etc/*", "/etc/../x")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		p, err := Compile(pattern)
		if err != nil {
			return
		}
		got := p.Match(name)
		// Cleaning is idempotent: a path and its clean form match alike.
		if len(name) > 0 && name[0] == '/' && p.Match(path.Clean(name)) != got {
			t.Fatalf("%q: Match(%q) = %v but differs for the cleaned path", pattern, name, got)
		}
		// "/**" matches every absolute path.
		if len(name) > 0 && name[0] == '/' && !MustCompile("/**").Match(name) {
			t.Fatalf("/** does not match %q", name)
		}
		// Agreement with path.Match for patterns without **, escapes or
		// negated classes (path.Match knows only [^...]),
		// whose syntax both packages share (not for "/": "/*" needs a segment;
		// not for invalid UTF-8, where path.Match splits runes).
		if !strings.Contains(pattern, "**") && !strings.ContainsAny(pattern, `\^!`) && len(name) > 1 && name[0] == '/' && isClean(name) &&
			utf8.ValidString(pattern) && utf8.ValidString(name) {
			want, err := path.Match(pattern, name)
			if err == nil && want != got {
				t.Fatalf("Match(%q, %q) = %v, path.Match says %v", pattern, name, got, want)
			}
		}
	})
}

func TestRoot(t *testing.T) {
	tests := []struct {
		pattern, root string
		exact         bool
	}{
		{"/", "/", true},
		{"/bin/sh", "/bin/sh", true},
		{"/usr/lib/**", "/usr/lib", false},
		{"/etc/*.conf", "/etc", false},
		{"/etc/nginx/**/x", "/etc/nginx", false},
		{"/**", "/", false},
		{"/*", "/", false},
		{`/a/b\*c/d`, "/a", false},
		{"/a/[xy]/c", "/a", false},
	}
	for _, tt := range tests {
		root, exact := Root(tt.pattern)
		if root != tt.root || exact != tt.exact {
			t.Errorf("Root(%q) = %q, %v; want %q, %v", tt.pattern, root, exact, tt.root, tt.exact)
		}
	}
}
