package daemon

import (
	"strings"
	"testing"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/internal/landlock"
	"github.com/confinehq/confine/monitor/audit"
	"github.com/confinehq/confine/profiles"
)

func TestLandlockViolation(t *testing.T) {
	tests := []struct {
		name    string
		in      audit.LandlockDenial
		rule    string
		subject string
		ok      bool
	}{
		{"exec", audit.LandlockDenial{Blockers: []string{"fs.execute"}, Path: "/tmp/x"}, alert.RuleExec, "/tmp/x", true},
		{"exec needs read too", audit.LandlockDenial{Blockers: []string{"fs.execute", "fs.read_file"}, Path: "/tmp/x"}, alert.RuleExec, "/tmp/x", true},
		{"read", audit.LandlockDenial{Blockers: []string{"fs.read_file"}, Path: "/etc/shadow"}, alert.RuleFile, "/etc/shadow", true},
		{"read-write open", audit.LandlockDenial{Blockers: []string{"fs.read_file", "fs.write_file"}, Path: "/etc/passwd"}, alert.RuleFile, "/etc/passwd", true},
		{"create", audit.LandlockDenial{Blockers: []string{"fs.make_reg"}, Path: "/etc"}, alert.RuleFile, "/etc", true},
		{"device node", audit.LandlockDenial{Blockers: []string{"fs.make_char"}, Path: "/dev"}, alert.RuleFile, "/dev", true},
		{"bind", audit.LandlockDenial{Blockers: []string{"net.bind_tcp"}, Port: 8080}, alert.RuleNetwork, "8080", true},
		{"connect", audit.LandlockDenial{Blockers: []string{"net.connect_tcp"}, Port: 443}, alert.RuleNetwork, "443", true},
		{"scope (not used by confine)", audit.LandlockDenial{Blockers: []string{"scope.signal"}}, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := landlockViolation(tt.in)
			if ok != tt.ok {
				t.Fatalf("ok = %v", ok)
			}
			if !ok {
				return
			}
			if v.Rule != tt.rule || v.Subject != tt.subject || v.Layer != LayerLandlock || v.Detail == "" {
				t.Errorf("got %+v", v)
			}
		})
	}
}

func TestFilesLayerNote(t *testing.T) {
	enf := &profiles.Profile{Mode: profiles.ModeEnforce, Exec: profiles.Exec{Allow: profiles.List{"/bin/busybox"}}}
	mon := &profiles.Profile{Mode: profiles.ModeMonitor, Exec: profiles.Exec{Allow: profiles.List{"/bin/busybox"}}}
	ann := map[string]string{landlock.AnnotationFilesLayer: "landlock ABI 7"}
	if got := filesLayerNote(enf, ann); got != "files: landlock ABI 7" {
		t.Errorf("enforce: %q", got)
	}
	if got := filesLayerNote(mon, ann); got != "" {
		t.Errorf("monitor: %q", got)
	}
	if got := filesLayerNote(enf, nil); got != "" {
		t.Errorf("no annotation: %q", got)
	}
}

// TestLandlockLayer: an enforce container with exec rules shows Landlock
// in its layers with its ABI, and "denials unreported" with the reason
// when confined cannot see the kernel's denials (a nested PID namespace).
func TestLandlockLayer(t *testing.T) {
	p := &profiles.Profile{Name: "ll", Mode: profiles.ModeEnforce, Exec: profiles.Exec{Allow: profiles.List{"/bin/busybox"}}}
	ann := map[string]string{landlock.AnnotationFilesLayer: "landlock ABI 7"}
	d := &Daemon{}
	c := withDecision(p, &container{Annotations: ann, Injected: true})
	d.landlockLayer(c)
	if len(c.Layers) != 1 || c.Layers[0].Name != alert.LayerLandlock || !c.Layers[0].InForce || c.Layers[0].Detail != "ABI 7" {
		t.Fatalf("layers %+v", c.Layers)
	}
	d.setLandlockUnreported("confined runs in a nested PID namespace")
	c2 := withDecision(p, &container{Annotations: ann, Injected: true})
	d.landlockLayer(c2)
	if want := "ABI 7, denials unreported: confined runs in a nested PID namespace"; len(c2.Layers) != 1 || c2.Layers[0].Detail != want {
		t.Fatalf("layers %+v, want detail %q", c2.Layers, want)
	}
	// Monitor mode gets no Landlock: no layer.
	mon := *p
	mon.Mode = profiles.ModeMonitor
	c3 := withDecision(&mon, &container{Annotations: ann, Injected: true})
	d.landlockLayer(c3)
	if len(c3.Layers) != 0 {
		t.Fatalf("monitor mode: layers %+v", c3.Layers)
	}
}

// TestLandlockLayerOff: landlock = false is the operator's choice, not a
// missing layer; a kernel without Landlock is shown without an alert.
func TestLandlockLayerOff(t *testing.T) {
	p := &profiles.Profile{Name: "ll", Mode: profiles.ModeEnforce, Exec: profiles.Exec{Allow: profiles.List{"/bin/busybox"}}}
	d := &Daemon{}
	c := withDecision(p, &container{Annotations: map[string]string{landlock.AnnotationFilesLayer: "none: landlock = false in the configuration"}, Injected: true})
	d.landlockLayer(c)
	if len(c.Layers) != 0 {
		t.Errorf("landlock = false: layers %+v", c.Layers)
	}
	c = withDecision(p, &container{Annotations: map[string]string{landlock.AnnotationFilesLayer: "none: kernel has no landlock"}, Injected: true})
	d.landlockLayer(c)
	if len(c.Layers) != 1 || c.Layers[0].InForce || !strings.Contains(c.Layers[0].Reason, "fanotify") {
		t.Errorf("no Landlock in the kernel: layers %+v", c.Layers)
	}
}
