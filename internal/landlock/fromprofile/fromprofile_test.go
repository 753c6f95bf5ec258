package fromprofile

import (
	"testing"

	"github.com/confinehq/confine/internal/landlock"
	"github.com/confinehq/confine/profiles"
	"github.com/google/go-cmp/cmp"
)

func TestRuleset(t *testing.T) {
	tests := []struct {
		name string
		p    profiles.Profile
		want landlock.Ruleset
	}{
		{name: "nothing restricted", p: profiles.Profile{}, want: landlock.Ruleset{}},
		{name: "globs become hierarchies", p: profiles.Profile{
			Exec:  profiles.Exec{Allow: profiles.List{"/bin/busybox", "/usr/sbin/*"}},
			Files: profiles.Files{Read: profiles.List{"/usr/lib/**", "/usr/lib/x/y", "/etc/nginx/*.conf"}, Write: profiles.List{}},
		}, want: landlock.Ruleset{
			RestrictExec: true, Execute: []string{"/bin/busybox", "/usr/sbin"},
			RestrictRead: true, Read: []string{"/etc/nginx", "/usr/lib"},
			RestrictWrite: true, Write: nil,
		}},
		{name: "ports", p: profiles.Profile{Network: profiles.Network{
			Listen: profiles.Ports{8080, 80, 8080}, Egress: profiles.List{"10.0.0.0/8:5432", "db:443"}}},
			want: landlock.Ruleset{RestrictBind: true, Bind: []uint16{80, 8080}, RestrictConnect: true, Connect: []uint16{443, 5432}}},
		{name: "an any-port egress leaves connect alone", p: profiles.Profile{Network: profiles.Network{
			Egress: profiles.List{"10.0.0.0/8:5432", "127.0.0.1:*"}}}, want: landlock.Ruleset{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Ruleset(&tt.p)
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			back, err := landlock.Decode(got.Encode())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, back); diff != "" {
				t.Errorf("encode round trip (-want +got):\n%s", diff)
			}
		})
	}
}
