package ctl

import (
	"slices"
	"testing"
)

func TestParseLearnedNotes(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		want []string
	}{
		{name: "no header", data: "apiVersion: confine/v1\n", want: nil},
		{name: "notes kept, others dropped, body ignored",
			data: "# learned by confined\n# capabilities: NET_BIND_SERVICE: used\n# WARNING: fileless\napiVersion: confine/v1\n# capabilities: not a header\n",
			want: []string{"capabilities: NET_BIND_SERVICE: used", "WARNING: fileless"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseLearnedNotes([]byte(tc.data)); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
