package alert

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestMessageIDs: every kind has its own random 128-bit id (as
// `systemd-id128 new` makes them: version 4, RFC 4122 variant), explained
// in the journald catalog and listed in docs/alerts.md.
func TestMessageIDs(t *testing.T) {
	catalog, err := os.ReadFile("../../packaging/catalog/confine.catalog")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/alerts.md")
	if err != nil {
		t.Fatal(err)
	}
	v4 := regexp.MustCompile(`^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$`)
	seen := map[string]string{}
	for kind, id := range MessageIDs() {
		if !v4.MatchString(id) {
			t.Errorf("%s: MESSAGE_ID %q is not a random id (systemd-id128 new)", kind, id)
		}
		if other, dup := seen[id]; dup {
			t.Errorf("%s and %s share MESSAGE_ID %s", kind, other, id)
		}
		seen[id] = kind
		if !strings.Contains(string(catalog), "\n-- "+id+"\n") {
			t.Errorf("%s: MESSAGE_ID %s has no entry in packaging/catalog/confine.catalog", kind, id)
		}
		if !strings.Contains(string(doc), "`"+id+"`") {
			t.Errorf("%s: MESSAGE_ID %s is not listed in docs/alerts.md", kind, id)
		}
	}
	for _, kind := range []string{EventViolation, EventKill, EventDenied, EventLearned, EventProfileError, EventSinkOutage, EventExecSession, EventUnprotected} {
		if _, ok := MessageIDs()[kind]; !ok {
			t.Errorf("kind %s has no MESSAGE_ID of its own", kind)
		}
	}
	if !v4.MatchString(MessageID("no such kind")) {
		t.Errorf("the fallback MESSAGE_ID is not a random id")
	}
	// Catalog entries are separated by an empty line (journalctl
	// --update-catalog reads the one before "-- ID" as the end of the last).
	if strings.Contains(string(catalog), ".\n-- ") {
		t.Error("a catalog entry runs into the next one (no empty line before \"-- ID\")")
	}
}
