package profiles

import (
	"encoding/json"
	"testing"
)

// TestJSONKeepsEmptyLists: a profile sent as JSON (confined's decide
// answer to confine-runc) keeps "empty" apart from "absent": an empty
// capabilities or exec.allow list means none allowed, a nil one no rule.
func TestJSONKeepsEmptyLists(t *testing.T) {
	p := Profile{Name: "x", Exec: Exec{Allow: List{}}, Network: Network{Listen: Ports{}},
		Privileges: Privileges{Capabilities: List{}}}
	b, err := json.Marshal(&p)
	if err != nil {
		t.Fatal(err)
	}
	var got Profile
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Exec.Allow == nil || got.Privileges.Capabilities == nil || got.Network.Listen == nil {
		t.Errorf("empty lists lost in %s", b)
	}
	if got.Network.Egress != nil || got.Files.Read != nil {
		t.Errorf("absent lists appeared in %s", b)
	}
}
