package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

// TestJournaldOutage: with the journal socket gone, an enforce violation
// still kills the container; the alert reaches the journal once it is back,
// followed by a record of the outage.
func TestJournaldOutage(t *testing.T) {
	bed := e2e.NewBed(t)
	sock := filepath.Join(bed.Dir, "journal.sock")
	// The jsonl sink (delivered after journald) tells when the alert was
	// emitted, so the journal comes back only after it failed to take it.
	bed.WriteConfig(t, `alert_sinks = ["journald:`+sock+`", "jsonl:`+bed.AlertsPath+`"]`)
	bed.WriteProfile(t, "app", appProfile)
	c := bed.StartConfined(t)

	id := testbed.UniqueID("out")
	r, err := bed.Start(context.Background(), testbed.RunOptions{ID: id, Runtime: bed.Runc, Args: []string{"sleep", "60"}, Labels: map[string]string{"confine.profile": "app"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitWatched(t, c, bed.Namespace, id)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	_, _ = r.Exec(ctx, "sh", "-c", "mkdir -p /tmp/o && cp /bin/busybox /tmp/o/busybox && exec /tmp/o/busybox sleep 30")
	cancel()
	if code, exited := waitExit(t, r, 15*time.Second); !exited || code != 137 {
		t.Fatalf("journald outage held up the kill: exited=%v code=%d", exited, code)
	}

	bed.WaitAlert(t, 15*time.Second, map[string]string{"container_id": id, "event": "kill"})

	// The journal comes back: a socket of our own speaking the native
	// protocol, as journald's /run/systemd/journal/socket does.
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(sock)
	defer conn.Close()
	var kill, outage map[string]string
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(20 * time.Second)
	for (kill == nil || outage == nil) && time.Now().Before(deadline) {
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		n, _, err := conn.ReadFromUnix(buf)
		if err != nil {
			continue
		}
		f, err := alert.ParseNative(buf[:n])
		if err != nil {
			t.Fatalf("malformed journal datagram: %v", err)
		}
		switch {
		case f["CONFINE_EVENT"] == "kill" && f["CONFINE_CONTAINER_ID"] == id:
			kill = f
		case f["CONFINE_EVENT"] == "sink_outage":
			outage = f
		}
	}
	if kill == nil {
		t.Fatal("the kill alert never reached the journal after it came back")
	}
	if outage == nil || outage["CONFINE_REPLAYED"] == "" || outage["CONFINE_FAILURES"] == "0" {
		t.Fatalf("outage not reported: %v", outage)
	}
}
