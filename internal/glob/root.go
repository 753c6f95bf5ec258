package glob

import "strings"

// Root returns the directory hierarchy (or single file) that covers every
// path pattern can match: the pattern's leading run of literal segments.
// "/usr/lib/**" gives "/usr/lib", "/etc/*.conf" gives "/etc", "/bin/sh"
// gives "/bin/sh" (exact true: the pattern names that one path), "/**" and
// "/*" give "/". Escaped characters count as metacharacters here, which
// only ever widens the result to a parent. This is how confine turns globs
// into Landlock rules, which know hierarchies and no globs.
func Root(pattern string) (root string, exact bool) {
	if IsLiteral(pattern) {
		return pattern, true
	}
	segs := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	var lit []string
	for _, s := range segs {
		if !IsLiteral(s) {
			break
		}
		lit = append(lit, s)
	}
	return "/" + strings.Join(lit, "/"), false
}
