package watch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/typeurl/v2"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/emptypb"
)

func TestDecode(t *testing.T) {
	ts := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	tests := []struct {
		name  string
		topic string
		event any
		want  Event
	}{
		{
			name: "container create", topic: "/containers/create",
			event: &apievents.ContainerCreate{ID: "c1", Image: "localhost/busybox:1", Runtime: &apievents.ContainerCreate_Runtime{Name: "io.containerd.runc.v2"}},
			want:  Event{Kind: ContainerCreate, ID: "c1", Image: "localhost/busybox:1"},
		},
		{
			name: "container update", topic: "/containers/update",
			event: &apievents.ContainerUpdate{ID: "c1", Image: "img", Labels: map[string]string{"a": "b"}},
			want:  Event{Kind: ContainerUpdate, ID: "c1", Image: "img"},
		},
		{
			name: "container delete", topic: "/containers/delete",
			event: &apievents.ContainerDelete{ID: "c1"},
			want:  Event{Kind: ContainerDelete, ID: "c1"},
		},
		{
			name: "task create", topic: "/tasks/create",
			event: &apievents.TaskCreate{ContainerID: "c1", Bundle: "/run/b/c1", Pid: 42},
			want:  Event{Kind: TaskCreate, ID: "c1", Pid: 42, Bundle: "/run/b/c1"},
		},
		{
			name: "task start", topic: "/tasks/start",
			event: &apievents.TaskStart{ContainerID: "c1", Pid: 42},
			want:  Event{Kind: TaskStart, ID: "c1", Pid: 42},
		},
		{
			name: "exec added", topic: "/tasks/exec-added",
			event: &apievents.TaskExecAdded{ContainerID: "c1", ExecID: "e1"},
			want:  Event{Kind: TaskExecAdded, ID: "c1", ExecID: "e1"},
		},
		{
			name: "exec started", topic: "/tasks/exec-started",
			event: &apievents.TaskExecStarted{ContainerID: "c1", ExecID: "e1", Pid: 43},
			want:  Event{Kind: TaskExecStarted, ID: "c1", ExecID: "e1", Pid: 43},
		},
		{
			name: "init exit: process ID is the container ID", topic: "/tasks/exit",
			event: &apievents.TaskExit{ContainerID: "c1", ID: "c1", Pid: 42, ExitStatus: 137},
			want:  Event{Kind: TaskExit, ID: "c1", Pid: 42, ExitStatus: 137},
		},
		{
			name: "exec exit", topic: "/tasks/exit",
			event: &apievents.TaskExit{ContainerID: "c1", ID: "e1", Pid: 43, ExitStatus: 1},
			want:  Event{Kind: TaskExit, ID: "c1", ExecID: "e1", Pid: 43, ExitStatus: 1},
		},
		{
			name: "task delete without process ID", topic: "/tasks/delete",
			event: &apievents.TaskDelete{ContainerID: "c1", Pid: 42, ExitStatus: 0},
			want:  Event{Kind: TaskDelete, ID: "c1", Pid: 42},
		},
		{
			name: "oom", topic: "/tasks/oom",
			event: &apievents.TaskOOM{ContainerID: "c1"},
			want:  Event{Kind: TaskOOM, ID: "c1"},
		},
		{
			name: "paused", topic: "/tasks/paused",
			event: &apievents.TaskPaused{ContainerID: "c1"},
			want:  Event{Kind: TaskPaused, ID: "c1"},
		},
		{
			name: "resumed", topic: "/tasks/resumed",
			event: &apievents.TaskResumed{ContainerID: "c1"},
			want:  Event{Kind: TaskResumed, ID: "c1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := typeurl.MarshalAny(tc.event)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decode(ts, "ns1", tc.topic, a)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			tc.want.Namespace, tc.want.Topic, tc.want.Time = "ns1", tc.topic, ts
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("event (-want +got):\n%s", d)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	checkpointed, err := typeurl.MarshalAny(&apievents.TaskCheckpointed{ContainerID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	empty, err := typeurl.MarshalAny(&emptypb.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		payload     typeurl.Any
		wantIgnored bool
	}{
		{name: "no payload", payload: nil},
		{name: "unknown type url", payload: &fakeAny{url: "example.com/Nope", value: []byte{1, 2}}},
		{name: "garbage value", payload: &fakeAny{url: "containerd.events.TaskExit", value: []byte{0xff, 0xff, 0xff}}},
		{name: "event not followed", payload: checkpointed, wantIgnored: true},
		{name: "not an event", payload: empty, wantIgnored: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decode(time.Now(), "ns", "/tasks/x", tc.payload)
			if err == nil {
				t.Fatal("decode succeeded")
			}
			if got := errors.Is(err, errIgnored); got != tc.wantIgnored {
				t.Errorf("errors.Is(%v, errIgnored) = %v, want %v", err, got, tc.wantIgnored)
			}
		})
	}
}

type fakeAny struct {
	url   string
	value []byte
}

func (a *fakeAny) GetTypeUrl() string { return a.url }
func (a *fakeAny) GetValue() []byte   { return a.value }

func TestFilters(t *testing.T) {
	tests := []struct {
		name       string
		namespaces []string
		want       []string
		watched    map[string]bool
	}{
		{
			name: "all namespaces",
			want: []string{`topic~="^/tasks/"`, `topic~="^/containers/"`},
			watched: map[string]bool{
				"default": true, "moby": true, "k8s.io": true,
			},
		},
		{
			name:       "two namespaces, deduplicated",
			namespaces: []string{"moby", "default", "moby"},
			want: []string{
				`namespace=="default",topic~="^/tasks/"`, `namespace=="default",topic~="^/containers/"`,
				`namespace=="moby",topic~="^/tasks/"`, `namespace=="moby",topic~="^/containers/"`,
			},
			watched: map[string]bool{"default": true, "moby": true, "k8s.io": false, "": false},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := New("/nonexistent.sock", tc.namespaces, nil)
			if d := cmp.Diff(tc.want, w.filters()); d != "" {
				t.Errorf("filters (-want +got):\n%s", d)
			}
			for ns, want := range tc.watched {
				if got := w.watches(ns); got != want {
					t.Errorf("watches(%q) = %v, want %v", ns, got, want)
				}
			}
		})
	}
}

func TestParseSpec(t *testing.T) {
	tests := []struct {
		name        string
		spec        string
		annotations map[string]string
		seccomp     bool
		wantErr     bool
	}{
		{name: "empty"},
		{name: "no linux", spec: `{"ociVersion":"1.0.2"}`},
		{name: "annotations", spec: `{"annotations":{"confine.profile":"web"}}`, annotations: map[string]string{"confine.profile": "web"}},
		{name: "seccomp", spec: `{"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ERRNO"}}}`, seccomp: true},
		{name: "null seccomp", spec: `{"linux":{"seccomp":null}}`},
		{name: "linux without seccomp", spec: `{"linux":{"namespaces":[]}}`},
		{name: "garbage", spec: `{`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := New("/nonexistent.sock", nil, nil)
			var spec typeurl.Any
			if tc.spec != "" {
				spec = &fakeAny{url: "types.containerd.io/opencontainers/runtime-spec/1/Spec", value: []byte(tc.spec)}
			}
			_, err := parseSpec([]byte(tc.spec))
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseSpec error = %v, want error %v", err, tc.wantErr)
			}
			c := w.fromRecord("ns", &containers.Container{ID: "c1", Spec: spec})
			want := tc.annotations
			if want == nil {
				want = map[string]string{}
			}
			if d := cmp.Diff(want, c.Annotations); d != "" {
				t.Errorf("annotations (-want +got):\n%s", d)
			}
			if c.SpecSeccomp != tc.seccomp {
				t.Errorf("SpecSeccomp = %v, want %v", c.SpecSeccomp, tc.seccomp)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	for in, want := range map[tasktypes.Status]string{
		tasktypes.Status_CREATED: StatusCreated,
		tasktypes.Status_RUNNING: StatusRunning,
		tasktypes.Status_PAUSED:  StatusPaused,
		tasktypes.Status_PAUSING: StatusPausing,
		tasktypes.Status_STOPPED: StatusStopped,
		tasktypes.Status_UNKNOWN: StatusUnknown,
		tasktypes.Status(99):     StatusUnknown,
	} {
		if got := taskStatus(in); got != want {
			t.Errorf("taskStatus(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestRunWithoutContainerd(t *testing.T) {
	dir, err := os.MkdirTemp("/tmp", "cwx")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	w := New(filepath.Join(dir, "missing.sock"), nil, nil)
	w.dialTimeout = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	var events atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx, func(Event) { events.Add(1) })
	}()
	time.Sleep(700 * time.Millisecond)
	if w.Connected() || w.Version() != "" || events.Load() != 0 {
		t.Errorf("without containerd: Connected() = %v, Version() = %q, %d events", w.Connected(), w.Version(), events.Load())
	}
	cancel()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("Run did not return within 1s of its context being cancelled")
	}

	lctx, lcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer lcancel()
	if _, err := w.Lookup(lctx, "default", "x"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup without containerd = %v, want an error other than not found", err)
	}
	if err := w.Kill(lctx, "default", "x", syscall.SIGKILL, true); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Kill without containerd = %v, want an error other than not found", err)
	}
	if _, err := w.List(lctx); err == nil {
		t.Error("List without containerd succeeded")
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// FuzzDecode feeds arbitrary payloads under containerd's event type URLs:
// decode must return an error, never panic.
func FuzzDecode(f *testing.F) {
	for _, ev := range []any{
		&apievents.TaskExit{ContainerID: "c", ID: "e", Pid: 1, ExitStatus: 2},
		&apievents.ContainerCreate{ID: "c", Image: "i"},
		&apievents.TaskExecStarted{ContainerID: "c", ExecID: "e", Pid: 3},
	} {
		a, err := typeurl.MarshalAny(ev)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(a.GetTypeUrl(), a.GetValue())
	}
	f.Fuzz(func(t *testing.T, url string, value []byte) {
		_, _ = decode(time.Now(), "ns", "/tasks/x", &fakeAny{url: url, value: value})
	})
}

// FuzzParseSpec: the spec stored in containerd is JSON written by any
// client.
func FuzzParseSpec(f *testing.F) {
	f.Add([]byte(`{"annotations":{"a":"b"},"linux":{"seccomp":{}}}`))
	f.Add([]byte(`{"linux":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseSpec(b)
	})
}
