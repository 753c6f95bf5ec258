package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type fakeBackend struct {
	hooks []HookRequest
}

func (f *fakeBackend) Decide(ctx context.Context, req DecideRequest) (*Decision, error) {
	return nil, errors.New("no profile in the fake")
}
func (f *fakeBackend) Hook(ctx context.Context, req HookRequest) error {
	f.hooks = append(f.hooks, req)
	return nil
}
func (f *fakeBackend) Status(ctx context.Context) (*Status, error) {
	return &Status{Version: "test"}, nil
}
func (f *fakeBackend) Containers(ctx context.Context) ([]Container, error) { return nil, nil }
func (f *fakeBackend) Reload(ctx context.Context) ([]string, error)        { return nil, nil }

func serve(t *testing.T, allow uint32) (*Client, *fakeBackend) {
	t.Helper()
	b := &fakeBackend{}
	s := NewServer(b, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.AllowUID = allow
	sock := filepath.Join(t.TempDir(), "api.sock")
	if err := s.Listen(sock); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve() }()
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return NewClient(sock, 5*time.Second), b
}

func TestPeerCredentialsAreChecked(t *testing.T) {
	// The test runs as some uid; a server that only lets another uid in
	// must refuse it with 403 naming the uid.
	c, _ := serve(t, 4242)
	_, err := c.Status(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("want a refusal, got %v", err)
	}
}

func TestHookValidation(t *testing.T) {
	c, b := serve(t, uidSelf())
	tests := []struct {
		name string
		req  HookRequest
		want string
	}{
		{"unknown stage", HookRequest{Stage: "prestart", State: State{ID: "c1", Bundle: "/b", Pid: 1}}, "field stage"},
		{"bad id", HookRequest{Stage: StageCreateRuntime, State: State{ID: "../etc", Bundle: "/b", Pid: 1}}, "field id"},
		{"relative bundle", HookRequest{Stage: StageCreateRuntime, State: State{ID: "c1", Bundle: "b", Pid: 1}}, "field bundle"},
		{"no pid", HookRequest{Stage: StageCreateRuntime, State: State{ID: "c1", Bundle: "/b"}}, "field pid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Hook(context.Background(), tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error with %q, got %v", tt.want, err)
			}
		})
	}
	if len(b.hooks) != 0 {
		t.Fatalf("invalid requests reached the backend: %v", b.hooks)
	}
	if err := c.Hook(context.Background(), HookRequest{Stage: StagePoststop, State: State{ID: "c1", Bundle: "/run/x/ns/c1"}}); err != nil {
		t.Fatal(err)
	}
	if len(b.hooks) != 1 {
		t.Fatal("valid request did not reach the backend")
	}
}

func TestUnreachable(t *testing.T) {
	c := NewClient(filepath.Join(t.TempDir(), "none.sock"), time.Second)
	if _, err := c.Status(context.Background()); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("want ErrUnreachable, got %v", err)
	}
}

func FuzzDecodeRequests(f *testing.F) {
	f.Add([]byte(`{"stage":"createRuntime","state":{"ociVersion":"1.0.2","id":"c1","status":"creating","pid":12,"bundle":"/b/ns/c1"}}`))
	f.Add([]byte(`{"namespace":"default","id":"c1","bundle":"/b","annotations":{"a":"b"}}`))
	f.Add([]byte(`{"stage":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var h HookRequest
		if err := DecodeStrict(bytes.NewReader(data), &h); err == nil {
			_ = h.Validate()
		}
		var d DecideRequest
		if err := DecodeStrict(bytes.NewReader(data), &d); err == nil {
			if d.Validate() == nil && (!ValidID(d.ID) || !ValidNamespace(d.Namespace)) {
				t.Fatalf("validated a bad request %+v", d)
			}
		}
	})
}

func TestOversizedBodyRefusedAtOnce(t *testing.T) {
	c, b := serve(t, uidSelf())
	conn, err := net.Dial("unix", c.Socket())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", PathHook, 2*MaxBodyBytes)
	buf := make([]byte, 4096)
	n, _ := conn.Read(buf)
	if got := string(buf[:n]); !strings.Contains(got, "400") || !strings.Contains(got, "larger than") {
		t.Fatalf("answer %q: want a 400 naming the size limit", got)
	}
	if len(b.hooks) != 0 {
		t.Fatal("oversized request reached the backend")
	}
}
