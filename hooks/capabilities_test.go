package hooks

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestDropCapabilities(t *testing.T) {
	docker := func() *specs.LinuxCapabilities {
		d := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_NET_RAW", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_MKNOD"}
		return &specs.LinuxCapabilities{Bounding: d, Effective: d, Permitted: d, Inheritable: d, Ambient: []string{"CAP_NET_BIND_SERVICE", "CAP_NET_RAW"}}
	}
	tests := []struct {
		name    string
		keep    []string
		in      *specs.LinuxCapabilities
		want    *specs.LinuxCapabilities
		wantErr bool
	}{
		{
			name: "all five sets narrowed, bounding included",
			keep: []string{"NET_BIND_SERVICE"},
			in:   docker(),
			want: &specs.LinuxCapabilities{
				Bounding: []string{"CAP_NET_BIND_SERVICE"}, Effective: []string{"CAP_NET_BIND_SERVICE"},
				Permitted: []string{"CAP_NET_BIND_SERVICE"}, Inheritable: []string{"CAP_NET_BIND_SERVICE"},
				Ambient: []string{"CAP_NET_BIND_SERVICE"},
			},
		},
		{
			name: "empty list drops everything",
			keep: []string{},
			in:   docker(),
			want: &specs.LinuxCapabilities{Bounding: []string{}, Effective: []string{}, Permitted: []string{}, Inheritable: []string{}, Ambient: []string{}},
		},
		{
			name: "never adds what the spec did not grant; any spelling",
			keep: []string{"cap_sys_admin", "CAP_CHOWN"},
			in:   docker(),
			want: &specs.LinuxCapabilities{
				Bounding: []string{"CAP_CHOWN"}, Effective: []string{"CAP_CHOWN"},
				Permitted: []string{"CAP_CHOWN"}, Inheritable: []string{"CAP_CHOWN"}, Ambient: []string{},
			},
		},
		{
			name: "a spec without capabilities gets exactly the list",
			keep: []string{"KILL"},
			in:   nil,
			want: &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}, Effective: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"}, Inheritable: []string{}},
		},
		{name: "unknown capability", keep: []string{"FLY"}, in: docker(), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := specs.Spec{Process: &specs.Process{Capabilities: tt.in}}
			err := DropCapabilities{Keep: tt.keep}.Modify(&s)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if diff := cmp.Diff(tt.want, s.Process.Capabilities); diff != "" {
				t.Errorf("capabilities (-want +got):\n%s", diff)
			}
		})
	}
	if err := (DropCapabilities{}).Modify(&specs.Spec{}); err == nil {
		t.Error("a spec without a process section was accepted")
	}
}
