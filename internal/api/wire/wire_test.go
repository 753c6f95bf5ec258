package wire

import (
	"regexp"
	"strings"
	"testing"
)

// containerd's own expressions for IDs and namespaces: ValidID and
// ValidNamespace must agree with them.
var (
	idRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$`)
	nsRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]{0,75})$`)
)

var nameCases = []string{
	"", "a", "Z9", "c1", "test_busybox", "a.b-c+d", "_a", ".a", "-a", "+a", "a b", "a/b", "a:b", "é", "a\n", "a\x00",
	strings.Repeat("a", 76), strings.Repeat("a", 77), strings.Repeat("a", 128), strings.Repeat("a", 129), "a+b", "a,b",
}

func TestValidNames(t *testing.T) {
	for _, s := range nameCases {
		if got, want := ValidID(s), idRe.MatchString(s); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", s, got, want)
		}
		if got, want := ValidNamespace(s), nsRe.MatchString(s); got != want {
			t.Errorf("ValidNamespace(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzValidNames(f *testing.F) {
	for _, s := range nameCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidID(s), idRe.MatchString(s); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", s, got, want)
		}
		if got, want := ValidNamespace(s), nsRe.MatchString(s); got != want {
			t.Errorf("ValidNamespace(%q) = %v, want %v", s, got, want)
		}
	})
}
