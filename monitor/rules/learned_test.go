package rules

import (
	"testing"

	"github.com/confinehq/confine/profiles"
	"github.com/google/go-cmp/cmp"
)

func TestLearned(t *testing.T) {
	tests := []struct {
		name  string
		snaps []ProcessSnapshot
		prior *Summary
		want  Summary
	}{
		{
			name: "nothing observed",
			want: Summary{},
		},
		{
			name: "two processes of a web container",
			snaps: []ProcessSnapshot{
				{
					Exe: "/usr/sbin/nginx", UID: 0, CapEff: capNetBindService | capChown,
					Fds: []Fd{
						{Path: "/etc/nginx/nginx.conf"},
						{Path: "/var/log/nginx/access.log", Write: true},
						{Path: "/dev/null", Write: true},
						{Path: "pipe:[1]"},
					},
					Listens: []uint16{443, 80},
				},
				{
					Exe: "/usr/sbin/nginx", UID: 101,
					Fds: []Fd{{Path: "/etc/nginx/nginx.conf"}, {Path: "/var/cache/x", Write: true}, {Path: "/var/cache/x"}},
					Conns: []Conn{
						{Proto: "tcp6", Remote: ap("[::ffff:10.0.0.5]:5432"), State: "ESTABLISHED"},
						{Proto: "tcp", Remote: ap("10.0.0.5:5432"), State: "ESTABLISHED"},
						{Proto: "tcp6", Remote: ap("[fd00::1]:443"), State: "SYN_SENT"},
						{Proto: "tcp", Local: ap("10.0.0.2:80"), Remote: ap("203.0.113.1:50000"), State: "ESTABLISHED", Inbound: true},
					},
					Listens: []uint16{80},
				},
				{Exe: "/memfd:payload", ExeMemfd: true, ExeDeleted: true, UID: 101},
				{Exe: "", UID: 101},
			},
			want: Summary{
				Exec:         []string{"/usr/sbin/nginx"},
				Fileless:     []string{"/memfd:payload"},
				FilesRead:    []string{"/etc/nginx/nginx.conf"},
				FilesWritten: []string{"/var/cache/x", "/var/log/nginx/access.log"},
				Peers:        []string{"10.0.0.5:5432", "[fd00::1]:443"},
				Listen:       []int{80, 443},
				UIDs:         []uint32{0, 101},
				Capabilities: []string{"CHOWN", "NET_BIND_SERVICE"},
			},
		},
		{
			name:  "merged with an earlier run",
			prior: &Summary{Exec: []string{"/bin/sh"}, Peers: []string{"1.2.3.4:53", "not a peer"}, Listen: []int{8080, 0}, UIDs: []uint32{5}, Capabilities: []string{"NET_RAW", "FLY"}, FilesRead: []string{"/a"}, FilesWritten: []string{"/b"}, Fileless: []string{"/tmp/x"}},
			snaps: []ProcessSnapshot{{Exe: "/bin/busybox", UID: 5}},
			want: Summary{
				Exec:         []string{"/bin/busybox", "/bin/sh"},
				Fileless:     []string{"/tmp/x"},
				FilesRead:    []string{"/a"},
				FilesWritten: []string{"/b"},
				Peers:        []string{"1.2.3.4:53"},
				Listen:       []int{8080},
				UIDs:         []uint32{5},
				Capabilities: []string{"NET_RAW"},
				// The earlier run had no recorder: what it held stands.
				CapsUnwatched:     true,
				CapsHeldUnwatched: []string{"NET_RAW"},
			},
		},
		{
			name:  "a recorded run merged with a recorded one",
			prior: &Summary{UIDs: []uint32{0}, Capabilities: []string{"CHOWN", "NET_BIND_SERVICE"}, CapsRecorded: true, CapsUsed: []string{"NET_BIND_SERVICE"}},
			snaps: []ProcessSnapshot{{Exe: "/bin/busybox", UID: 0, CapEff: capChown}},
			want: Summary{
				Exec:         []string{"/bin/busybox"},
				UIDs:         []uint32{0},
				Capabilities: []string{"CHOWN", "NET_BIND_SERVICE"},
				CapsRecorded: true,
				CapsUsed:     []string{"NET_BIND_SERVICE"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l Learned
			if tt.prior != nil {
				l.Add(*tt.prior)
			}
			for _, s := range tt.snaps {
				l.Observe(s)
			}
			if diff := cmp.Diff(tt.want, l.Summary()); diff != "" {
				t.Errorf("Summary() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLearnedCapabilities: each container contributes what it used when a
// recorder watched it from its start, else what it held.
func TestLearnedCapabilities(t *testing.T) {
	tests := []struct {
		name      string
		used      []int  // CapabilityUsed calls
		recording bool   // Recording called
		unwatched uint64 // held by unwatched processes
		held      uint64 // CapEff of the observed snapshot
		want      []string
		exact     bool
	}{
		{name: "no recorder: held, not exact", held: capChown | capNetBindService, unwatched: capChown | capNetBindService, want: []string{"CHOWN", "NET_BIND_SERVICE"}},
		{name: "recorded, nothing used", recording: true, held: capChown, want: []string{}, exact: true},
		{name: "recorded use only", used: []int{10}, held: capChown | capNetBindService, want: []string{"NET_BIND_SERVICE"}, exact: true},
		{name: "recorded and an unwatched container", used: []int{10}, unwatched: capChown, held: capChown | capNetBindService, want: []string{"NET_BIND_SERVICE", "CHOWN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l Learned
			l.Observe(ProcessSnapshot{Exe: "/bin/busybox", CapEff: tt.held})
			if tt.recording {
				l.Recording()
			}
			for _, b := range tt.used {
				l.CapabilitiesUsed(1 << b)
			}
			if tt.unwatched != 0 {
				l.Unwatched(tt.unwatched)
			}
			got, exact := l.Summary().LearnedCapabilities()
			if diff := cmp.Diff(tt.want, got); diff != "" || exact != tt.exact {
				t.Errorf("LearnedCapabilities() exact %v (want %v), mismatch (-want +got):\n%s", exact, tt.exact, diff)
			}
			// The summary kept between runs gives the same answer.
			var again Learned
			again.Add(l.Summary())
			if got2, exact2 := again.Summary().LearnedCapabilities(); !cmp.Equal(got, got2) || exact2 != exact {
				t.Errorf("after a round trip: %v %v, want %v %v", got2, exact2, got, exact)
			}
		})
	}
}

func TestSummaryApplyTo(t *testing.T) {
	tests := []struct {
		name    string
		summary Summary
		profile profiles.Profile
		want    profiles.Profile
	}{
		{
			name:    "restrictive start gains what was seen",
			summary: Summary{Exec: []string{"/bin/busybox"}, Peers: []string{"10.0.0.5:5432"}, Listen: []int{443, 80}, UIDs: []uint32{0}, Capabilities: []string{"NET_BIND_SERVICE"}},
			profile: profiles.Profile{
				Name:       "web",
				Exec:       profiles.Exec{Allow: profiles.List{}},
				Network:    profiles.Network{Egress: profiles.List{}, Listen: profiles.Ports{}},
				Privileges: profiles.Privileges{AllowRoot: profiles.Bool(false), Capabilities: profiles.List{}},
			},
			want: profiles.Profile{
				Name:       "web",
				Exec:       profiles.Exec{Allow: profiles.List{"/bin/busybox"}},
				Network:    profiles.Network{Egress: profiles.List{"10.0.0.5:5432"}, Listen: profiles.Ports{80, 443}},
				Privileges: profiles.Privileges{AllowRoot: profiles.Bool(true), Capabilities: profiles.List{"NET_BIND_SERVICE"}},
			},
		},
		{
			name:    "only adds, keeps order and files rules",
			summary: Summary{Exec: []string{"/a", "/c"}, Listen: []int{22}, FilesRead: []string{"/etc/shadow"}, UIDs: []uint32{1000}},
			profile: profiles.Profile{
				Exec:       profiles.Exec{Allow: profiles.List{"/c", "/b"}},
				Files:      profiles.Files{Deny: profiles.List{"/etc/shadow"}},
				Network:    profiles.Network{Listen: profiles.Ports{443}},
				Privileges: profiles.Privileges{AllowRoot: profiles.Bool(false)},
			},
			want: profiles.Profile{
				Exec:       profiles.Exec{Allow: profiles.List{"/c", "/b", "/a"}},
				Files:      profiles.Files{Deny: profiles.List{"/etc/shadow"}},
				Network:    profiles.Network{Listen: profiles.Ports{22, 443}},
				Privileges: profiles.Privileges{AllowRoot: profiles.Bool(false)},
			},
		},
		{
			name:    "unrestricted lists stay nil when nothing is added",
			summary: Summary{},
			profile: profiles.Profile{Name: "open"},
			want:    profiles.Profile{Name: "open"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.profile
			tt.summary.ApplyTo(&p)
			if diff := cmp.Diff(tt.want, p); diff != "" {
				t.Errorf("ApplyTo() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
