package alert

import (
	"strings"
	"testing"
)

func TestNativeRoundTrip(t *testing.T) {
	uid := 0
	a := &Alert{Event: EventKill, Message: "line one\nline two", Priority: PriCrit, Namespace: "ns", Container: "c1",
		Profile: "web", Mode: "enforce", Rule: RuleExec, Action: ActionKilled, PID: 42, Exe: "/tmp/x", UID: &uid}
	f := a.Fields()
	f["MESSAGE"] = a.Message
	keys := []string{}
	for k := range f {
		keys = append(keys, k)
	}
	got, err := ParseNative(EncodeNative(f, keys))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range f {
		if got[k] != v {
			t.Errorf("%s: got %q want %q", k, got[k], v)
		}
	}
	// journald drops lower-case field names while sd_journal_send says
	// nothing: every field we send must be upper case.
	for k := range f {
		if k != strings.ToUpper(k) {
			t.Errorf("field %q is not upper case: journald would drop it", k)
		}
	}
}

func FuzzNativeRoundTrip(f *testing.F) {
	f.Add("KEY", "value")
	f.Add("MESSAGE", "multi\nline")
	f.Fuzz(func(t *testing.T, k, v string) {
		if k == "" || strings.ContainsAny(k, "=\n") {
			return
		}
		got, err := ParseNative(EncodeNative(map[string]string{k: v}, []string{k}))
		if err != nil {
			t.Fatal(err)
		}
		if got[k] != v {
			t.Fatalf("round trip %q=%q gave %q", k, v, got[k])
		}
	})
}
