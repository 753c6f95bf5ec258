package hookrun_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/hooks/hookrun"
	"github.com/confinehq/confine/hooks/hookstest"
	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/api/wire"
	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/profiles"
)

// shortDir is a temp dir short enough for a unix socket path.
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "ch")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

const stateJSON = `{"ociVersion":"1.0.2-dev","id":"c1","status":"created","pid":4242,"bundle":"/run/containerd/io.containerd.runtime.v2.task/default/c1","annotations":{"confine.profile":"web"}}`

func TestHookRun(t *testing.T) {
	tests := []struct {
		name       string
		stage      string
		stdin      string
		failMode   string
		server     bool  // confined listening
		backendErr error // confined answers with an error
		wantErr    string
		wantUsage  bool
		wantLog    string
		wantSent   int
	}{
		{name: "createRuntime registers", stage: "createRuntime", stdin: stateJSON, failMode: "closed", server: true, wantSent: 1},
		{name: "poststop unregisters", stage: "poststop", stdin: `{"ociVersion":"1.0.2-dev","id":"c1","status":"stopped","bundle":"/b"}`, failMode: "closed", server: true, wantSent: 1},
		{name: "unreachable, closed: the create fails", stage: "createRuntime", stdin: stateJSON, failMode: "closed", wantErr: "confined is not reachable"},
		{name: "unreachable, open: logged, the create goes on", stage: "createRuntime", stdin: stateJSON, failMode: "open", wantLog: "warning: createRuntime hook for container c1 (pid 4242): confined is not reachable"},
		{name: "unreachable at poststop never fails a delete", stage: "poststop", stdin: `{"id":"c1","status":"stopped","bundle":"/b"}`, failMode: "closed", wantLog: "poststop never fails a delete"},
		{name: "confined refuses, closed", stage: "createRuntime", stdin: stateJSON, failMode: "closed", server: true, backendErr: errors.New("unknown container"), wantErr: "confined: unknown container", wantSent: 1},
		{name: "malformed stdin, closed: nothing sent", stage: "createRuntime", stdin: `{"id":`, failMode: "closed", server: true, wantErr: "invalid hook state: truncated JSON"},
		{name: "huge stdin, closed", stage: "createRuntime", stdin: `{"id":"` + strings.Repeat("x", 70000) + `"}`, failMode: "closed", server: true, wantErr: "more than 65536 bytes"},
		{name: "malformed stdin, open", stage: "createRuntime", stdin: `nope`, failMode: "open", server: true, wantLog: "invalid hook state"},
		{name: "createRuntime without pid", stage: "createRuntime", stdin: `{"id":"c1","status":"created","bundle":"/b"}`, failMode: "closed", server: true, wantErr: "field pid"},
		{name: "bad id", stage: "createRuntime", stdin: `{"id":"../x","pid":1,"bundle":"/b"}`, failMode: "closed", server: true, wantErr: "field id"},
		{name: "unknown stage", stage: "prestart", stdin: stateJSON, failMode: "open", server: true, wantErr: "unknown stage", wantUsage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock := filepath.Join(shortDir(t), "api.sock")
			be := hookstest.NewBackend(&profiles.Profile{APIVersion: profiles.APIVersion, Name: "web", Mode: profiles.ModeEnforce})
			be.SetHookErr(tt.backendErr)
			if tt.server {
				hookstest.Serve(t, sock, be)
			}
			var log bytes.Buffer
			run := hookrun.HookRun{
				Stage:    tt.stage,
				Stdin:    strings.NewReader(tt.stdin),
				Client:   wire.Client{Socket: sock, Timeout: hookrun.HookTimeout},
				FailMode: tt.failMode,
				Log:      &log,
			}
			start := time.Now()
			err := run.Run(context.Background())
			if el := time.Since(start); el > hookrun.HookTimeout+time.Second {
				t.Errorf("hook took %s", el)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Run: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Run error = %v, want one containing %q", err, tt.wantErr)
			}
			if errors.Is(err, hookrun.ErrHookUsage) != tt.wantUsage {
				t.Errorf("usage error = %v, want %v", errors.Is(err, hookrun.ErrHookUsage), tt.wantUsage)
			}
			if tt.wantErr != "" && tt.failMode == config.FailClosed && !tt.wantUsage && !strings.Contains(err.Error(), "fail_mode=closed") {
				t.Errorf("error %q does not say fail_mode=closed", err)
			}
			if !strings.Contains(log.String(), tt.wantLog) {
				t.Errorf("log = %q, want %q", log.String(), tt.wantLog)
			}
			got := be.Hooks()
			if len(got) != tt.wantSent {
				t.Fatalf("confined got %d hook requests, want %d", len(got), tt.wantSent)
			}
			if tt.wantSent == 1 {
				if got[0].Stage != tt.stage || got[0].State.ID != "c1" {
					t.Errorf("request = %+v", got[0].HookRequest)
				}
				if tt.stage == api.StageCreateRuntime && got[0].State.Pid != 4242 {
					t.Errorf("pid = %d, want 4242", got[0].State.Pid)
				}
			}
		})
	}
}
