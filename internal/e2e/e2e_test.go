package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRaceReport(t *testing.T) {
	clean := "time=… level=INFO msg=\"confined ready\"\ntime=… level=INFO msg=\"confined stopping\"\n"
	if r := raceReport(clean); r != "" {
		t.Fatalf("a clean log has a race report: %q", r)
	}
	racy := clean + "==================\nWARNING: DATA RACE\nWrite at 0x00c0001172f0 by goroutine 13:\n  main.f()\n"
	r := raceReport(racy)
	if !strings.HasPrefix(r, "WARNING: DATA RACE\nWrite at") {
		t.Fatalf("race report = %q", r)
	}
}

func TestConfinedPathPrefersRaceBuild(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("CONFINE_BENCH", "")
	if got, want := ConfinedPath(dir), filepath.Join(dir, "confined"); got != want {
		t.Fatalf("without race/confined: %s, want %s", got, want)
	}
	if err := os.MkdirAll(filepath.Join(dir, "race"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "race", "confined"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, want := ConfinedPath(dir), filepath.Join(dir, "race", "confined"); got != want {
		t.Fatalf("with race/confined: %s, want %s", got, want)
	}
	t.Setenv("CONFINE_BENCH", "1")
	if got, want := ConfinedPath(dir), filepath.Join(dir, "confined"); got != want {
		t.Fatalf("benchmarks: %s, want %s", got, want)
	}
}
