package hookrun

import (
	"errors"
	"strings"
	"testing"

	"github.com/confinehq/confine/internal/api/wire"
	"github.com/google/go-cmp/cmp"
)

// runcState is what runc 1.1.5 writes to a createRuntime hook's stdin.
const runcState = `{"ociVersion":"1.0.2-dev","id":"c1","status":"created","pid":4242,"bundle":"/run/containerd/io.containerd.runtime.v2.task/default/c1","annotations":{"confine.profile":"web"}}`

func TestReadState(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		max    int
		want   wire.State
		errHas string
	}{
		{
			name: "runc createRuntime state",
			in:   runcState,
			want: wire.State{OCIVersion: "1.0.2-dev", ID: "c1", Status: "created", Pid: 4242, Bundle: "/run/containerd/io.containerd.runtime.v2.task/default/c1", Annotations: map[string]string{"confine.profile": "web"}},
		},
		{
			name: "poststop state without pid, trailing newline",
			in:   `{"ociVersion":"1.0.2-dev","id":"c1","status":"stopped","bundle":"/b"}` + "\n",
			want: wire.State{OCIVersion: "1.0.2-dev", ID: "c1", Status: "stopped", Bundle: "/b"},
		},
		{name: "empty", in: "", errHas: "empty stdin"},
		{name: "whitespace", in: " \n", errHas: "empty stdin"},
		{name: "too big", in: `{"id":"` + strings.Repeat("a", 100) + `"}`, max: 64, errHas: "more than 64 bytes"},
		{name: "default bound", in: `{"id":"` + strings.Repeat("a", MaxStateBytes) + `"}`, errHas: "more than 65536 bytes"},
		{name: "unknown field", in: `{"id":"c1","bundle":"/b","extra":1}`, errHas: "field extra: unknown field"},
		{name: "wrong type names the field", in: `{"id":"c1","pid":"4242"}`, errHas: "field pid: cannot use JSON string as int"},
		{name: "annotations of the wrong type", in: `{"id":"c1","annotations":{"a":1}}`, errHas: "field annotations: cannot use JSON number as string"},
		{name: "not an object", in: `[1]`, errHas: "want a JSON object"},
		{name: "truncated", in: `{"id":"c1",`, errHas: "truncated JSON"},
		{name: "garbage", in: `{"id" "c1"}`, errHas: "malformed JSON"},
		{name: "two objects", in: runcState + runcState, errHas: "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadState(strings.NewReader(tt.in), tt.max)
			if tt.errHas != "" {
				if err == nil {
					t.Fatalf("ReadState = %+v, want an error containing %q", got, tt.errHas)
				}
				if !errors.Is(err, ErrBadState) || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("error %q: want ErrBadState containing %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("state (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzReadState(f *testing.F) {
	f.Add([]byte(runcState))
	f.Add([]byte(`{"id":"c1","pid":-1,"bundle":""}`))
	f.Add([]byte(`{"annotations":{"":""}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ReadState(strings.NewReader(string(data)), 4096)
		if err != nil {
			if !errors.Is(err, ErrBadState) {
				t.Fatalf("error %v is not ErrBadState", err)
			}
			return
		}
		if len(data) > 4096 {
			t.Fatalf("accepted %d bytes over the bound", len(data))
		}
		// Validation must never panic on anything ReadState accepts.
		_ = st.Validate(wire.StageCreateRuntime)
		_ = st.Validate(wire.StagePoststop)
	})
}
