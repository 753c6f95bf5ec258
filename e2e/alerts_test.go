package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

// journalEntries returns confined's journald entries for a container.
func journalEntries(t *testing.T, id string) []map[string]any {
	t.Helper()
	out, err := exec.Command("journalctl", "-o", "json", "--no-pager", "SYSLOG_IDENTIFIER=confined", "CONFINE_CONTAINER_ID="+id).Output()
	if err != nil {
		t.Fatalf("journalctl: %v", err)
	}
	var entries []map[string]any
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err == nil {
			entries = append(entries, m)
		}
	}
	return entries
}

func TestKillAlertInJournald(t *testing.T) {
	e2e.Journald(t)
	bed := e2e.NewBed(t)
	bed.WriteConfig(t, fmt.Sprintf(`alert_sinks = ["journald", "jsonl:%s"]
metrics_address = "127.0.0.1:19477"`, bed.AlertsPath))
	bed.WriteProfile(t, "app", appProfile)
	c := bed.StartConfined(t)

	scrape := func(metric string) string {
		resp, err := http.Get("http://127.0.0.1:19477/metrics")
		if err != nil {
			t.Fatalf("scraping /metrics: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var lines []string
		for _, l := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(l, metric) {
				lines = append(lines, l)
			}
		}
		return strings.Join(lines, "\n")
	}
	if got := scrape("confine_kills_total"); strings.Contains(got, `rule="exec"} 1`) {
		t.Fatalf("kill counted before any kill: %s", got)
	}

	id := testbed.UniqueID("jd")
	r, err := bed.Start(context.Background(), testbed.RunOptions{ID: id, Runtime: bed.Runc, Args: []string{"sleep", "60"}, Labels: map[string]string{"confine.profile": "app"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitWatched(t, c, bed.Namespace, id)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	_, _ = r.Exec(ctx, "sh", "-c", "mkdir -p /tmp/j && cp /bin/busybox /tmp/j/busybox && exec /tmp/j/busybox sleep 30")
	cancel()
	if code, exited := waitExit(t, r, 15*time.Second); !exited || code != 137 {
		t.Fatalf("not killed: %v %d", exited, code)
	}

	// Exactly one kill entry in journald, every SPEC section 5 field set.
	var kills []map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for {
		kills = nil
		for _, e := range journalEntries(t, id) {
			if e["CONFINE_EVENT"] == "kill" {
				kills = append(kills, e)
			}
		}
		if len(kills) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(kills) != 1 {
		t.Fatalf("want exactly one kill entry in journald, got %d", len(kills))
	}
	k := kills[0]
	for _, f := range []string{"MESSAGE", "PRIORITY", "MESSAGE_ID", "SYSLOG_IDENTIFIER", "CONFINE_EVENT", "CONFINE_NAMESPACE", "CONFINE_CONTAINER_ID", "CONFINE_IMAGE", "CONFINE_PROFILE", "CONFINE_MODE", "CONFINE_RULE", "CONFINE_ACTION", "CONFINE_PID", "CONFINE_EXE", "CONFINE_UID"} {
		if v, ok := k[f].(string); !ok || v == "" {
			t.Errorf("journald entry lacks %s: %v", f, k)
		}
	}
	if k["PRIORITY"] != "2" || k["CONFINE_RULE"] != "exec" || k["CONFINE_ACTION"] != "killed" || !strings.Contains(fmt.Sprint(k["CONFINE_EXE"]), "/tmp/j/busybox") {
		t.Errorf("unexpected kill entry %v", k)
	}

	// confinectl alerts reads the same entry back from journald.
	out, stderr, code := bed.Ctl(t, "alerts", "--json", "--container", id)
	if code != 0 {
		t.Fatalf("confinectl alerts: %d %s", code, stderr)
	}
	var n int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var a map[string]any
		if json.Unmarshal([]byte(line), &a) == nil && a["event"] == "kill" && a["rule"] == "exec" && a["container_id"] == id {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("confinectl alerts --json: want 1 kill, got %d:\n%s", n, out)
	}
	table, _, _ := bed.Ctl(t, "alerts", "--container", id, "--rule", "exec")
	if !strings.Contains(table, "RULE") || !strings.Contains(table, "killed") {
		t.Fatalf("confinectl alerts table:\n%s", table)
	}

	// The metrics moved with the scenario.
	if got := scrape("confine_kills_total"); !strings.Contains(got, `confine_kills_total{rule="exec"} 1`) {
		t.Fatalf("kills metric: %s", got)
	}
	if got := scrape("confine_process_events_total"); strings.HasSuffix(got, " 0") || got == "" {
		t.Fatalf("events metric: %q", got)
	}
	// Rescans tick every rescan_interval (500ms here): wait for one.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got := scrape("confine_rescans_total")
		if got != "" && !strings.HasSuffix(got, " 0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rescans metric: %q", got)
		}
	}
}
