package fanotify

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/confinehq/confine/monitor/rules"
	"github.com/confinehq/confine/profiles"
)

func testProfile(mode profiles.Mode) *profiles.Profile {
	return &profiles.Profile{
		APIVersion: profiles.APIVersion,
		Name:       "guard-test",
		Mode:       mode,
		Exec:       profiles.Exec{Allow: profiles.List{"/bin/busybox"}},
		Files: profiles.Files{
			Deny:     profiles.List{"/etc/sha*", "/data/secret*"},
			ReadOnly: profiles.List{"/etc/**", "/data/ro/**"},
			Watch:    profiles.List{"/etc/hostname"},
		},
	}
}

func compile(t testing.TB, p *profiles.Profile) *rules.Set {
	t.Helper()
	set, err := rules.Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestRulesDecider(t *testing.T) {
	type want struct {
		allow  bool
		rule   string // "" for no violation
		watch  bool
		detail string
	}
	open := func(p string, write bool) Event { return Event{Kind: KindOpen, Path: p, Write: write, PID: 7} }
	exec := func(p string, role ExecRole) Event { return Event{Kind: KindExec, Path: p, Role: role, PID: 7} }
	tests := []struct {
		name string
		mode profiles.Mode
		ev   Event
		want want
	}{
		{name: "allowed exec", mode: profiles.ModeEnforce, ev: exec("/bin/busybox", ExecBinary), want: want{allow: true}},
		{name: "copied binary", mode: profiles.ModeEnforce, ev: exec("/tmp/x/busybox", ExecBinary), want: want{rule: rules.RuleExec, detail: "executable not in exec.allow"}},
		{name: "deleted binary", mode: profiles.ModeEnforce, ev: Event{Kind: KindExec, Path: "/bin/busybox", Deleted: true}, want: want{rule: rules.RuleExec, detail: rules.DetailFileless}},
		{name: "script is not the executable", mode: profiles.ModeEnforce, ev: exec("/tmp/s.sh", ExecScript), want: want{allow: true}},
		{name: "ELF interpreter of an allowed binary", mode: profiles.ModeEnforce, ev: exec("/lib/ld.so", ExecInterpreter), want: want{allow: true}},
		{name: "copied binary in monitor mode", mode: profiles.ModeMonitor, ev: exec("/tmp/x/busybox", ExecBinary), want: want{allow: true, rule: rules.RuleExec, detail: "executable not in exec.allow"}},
		{name: "copied binary in learn mode", mode: profiles.ModeLearn, ev: exec("/tmp/x/busybox", ExecBinary), want: want{allow: true}},
		{name: "deny glob", mode: profiles.ModeEnforce, ev: open("/etc/shadow", false), want: want{rule: rules.RuleFile, detail: "open of a path in files.deny"}},
		{name: "deny glob on a volume", mode: profiles.ModeEnforce, ev: open("/data/secret.txt", false), want: want{rule: rules.RuleFile, detail: "open of a path in files.deny"}},
		{name: "readOnly read", mode: profiles.ModeEnforce, ev: open("/etc/passwd", false), want: want{allow: true}},
		{name: "readOnly write", mode: profiles.ModeEnforce, ev: open("/etc/passwd", true), want: want{rule: rules.RuleFile, detail: "opened for writing, path is in files.readOnly"}},
		{name: "readOnly write, monitor", mode: profiles.ModeMonitor, ev: open("/etc/passwd", true), want: want{allow: true, rule: rules.RuleFile, detail: "opened for writing, path is in files.readOnly"}},
		{name: "free write", mode: profiles.ModeEnforce, ev: open("/tmp/f", true), want: want{allow: true}},
		{name: "watch read is allowed and reported", mode: profiles.ModeEnforce, ev: open("/etc/hostname", false), want: want{allow: true, rule: rules.RuleFile, watch: true, detail: "open of a path in files.watch"}},
		{name: "watch path written is a readOnly denial", mode: profiles.ModeEnforce, ev: open("/etc/hostname", true), want: want{rule: rules.RuleFile, detail: "opened for writing, path is in files.readOnly"}},
		{name: "null device", mode: profiles.ModeEnforce, ev: open("/dev/null", true), want: want{allow: true}},
		{name: "exec is not a file open", mode: profiles.ModeEnforce, ev: exec("/etc/shadow", ExecScript), want: want{allow: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testProfile(tt.mode)
			v := RulesDecider(compile(t, p), tt.mode)(tt.ev)
			got := want{allow: v.Allow}
			if v.Violation != nil {
				got.rule, got.watch, got.detail = v.Violation.Rule, v.Violation.Watch, v.Violation.Detail
				if v.Violation.Subject != tt.ev.Path {
					t.Errorf("violation subject %q, want %q", v.Violation.Subject, tt.ev.Path)
				}
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("verdict (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRulesDeciderIgnoresWrite(t *testing.T) {
	d := RulesDecider(compile(t, testProfile(profiles.ModeEnforce)), profiles.ModeEnforce)
	tests := []struct {
		name string
		ev   Event
		want bool
	}{
		{name: "free path", ev: Event{Kind: KindOpen, Path: "/tmp/f"}, want: true},
		{name: "denied path", ev: Event{Kind: KindOpen, Path: "/etc/shadow"}, want: true},
		{name: "readOnly path", ev: Event{Kind: KindOpen, Path: "/etc/passwd"}, want: false},
		{name: "readOnly path written", ev: Event{Kind: KindOpen, Path: "/etc/passwd", Write: true}, want: false},
		{name: "watch path (readOnly too)", ev: Event{Kind: KindOpen, Path: "/etc/hostname"}, want: false},
		{name: "exec", ev: Event{Kind: KindExec, Path: "/bin/busybox"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := d(tt.ev).IgnoresWrite; got != tt.want {
				t.Errorf("IgnoresWrite = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSnapshot(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		want rules.ProcessSnapshot
	}{
		{name: "exec", ev: Event{Kind: KindExec, Path: "/bin/x", Deleted: true, PID: 3}, want: rules.ProcessSnapshot{PID: 3, Exe: "/bin/x", ExeDeleted: true}},
		{name: "script", ev: Event{Kind: KindExec, Role: ExecScript, Path: "/s", PID: 3}, want: rules.ProcessSnapshot{PID: 3}},
		{name: "open", ev: Event{Kind: KindOpen, Path: "/f", Write: true, PID: 3}, want: rules.ProcessSnapshot{PID: 3, Fds: []rules.Fd{{Path: "/f", Write: true}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Snapshot(tt.ev)); diff != "" {
				t.Errorf("snapshot (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCache(t *testing.T) {
	c := newCache(2)
	k := func(p string) cacheKey { return cacheKey{dev: 1, ino: 2, path: p, kind: KindOpen} }
	_, ok, gen := c.get(k("/a"))
	if ok {
		t.Fatal("hit in an empty cache")
	}
	c.put(k("/a"), Verdict{Allow: true}, gen)
	if v, ok, _ := c.get(k("/a")); !ok || !v.Allow {
		t.Fatalf("get after put = %v %v", v, ok)
	}
	// Same inode, another name (a hard link): not the same decision.
	if _, ok, _ := c.get(k("/etc/shadow")); ok {
		t.Fatal("a hard link hit the cached decision of another name")
	}
	// A decision started before an invalidation is not stored.
	_, _, old := c.get(k("/b"))
	c.invalidate()
	c.put(k("/b"), Verdict{Allow: true}, old)
	if _, ok, _ := c.get(k("/b")); ok {
		t.Fatal("a stale decision was cached")
	}
	if _, ok, _ := c.get(k("/a")); ok {
		t.Fatal("invalidate kept an entry")
	}
	// Bounded.
	_, _, gen = c.get(k("/x"))
	for _, p := range []string{"/1", "/2", "/3", "/4"} {
		c.put(k(p), Verdict{Allow: true}, gen)
	}
	if n := c.len(); n != 2 {
		t.Fatalf("cache holds %d entries, max 2", n)
	}
	// Disabled.
	d := newCache(-1)
	d.put(k("/a"), Verdict{}, 0)
	if d.len() != 0 {
		t.Fatal("a disabled cache stored an entry")
	}
}

func TestInterpWait(t *testing.T) {
	var w interpWait
	w.expect(10, fileID{1, 2})
	if _, ok := w.take(11); ok {
		t.Fatal("another thread took the expectation")
	}
	if id, ok := w.take(10); !ok || id != (fileID{1, 2}) {
		t.Fatalf("take = %v %v", id, ok)
	}
	if _, ok := w.take(10); ok {
		t.Fatal("an expectation was taken twice")
	}
}

func TestMountsFromSpec(t *testing.T) {
	spec := &specs.Spec{Mounts: []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs"},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts"},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm"},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue"},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs"},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup"},
		{Destination: "/run", Type: "tmpfs", Source: "tmpfs"},
		{Destination: "/data", Type: "bind", Source: "/srv/data", Options: []string{"rbind", "rw"}},
		{Destination: "/etc/resolv.conf", Source: "/var/lib/x/resolv.conf", Options: []string{"bind", "ro"}},
		{Destination: "/data/", Type: "bind", Source: "/srv/data"},
		{Destination: "/", Type: "bind", Source: "/x"},
	}}
	want := []string{"/dev", "/dev/shm", "/run", "/data", "/etc/resolv.conf"}
	if diff := cmp.Diff(want, MountsFromSpec(spec)); diff != "" {
		t.Errorf("mounts (-want +got):\n%s", diff)
	}
	if MountsFromSpec(nil) != nil {
		t.Error("nil spec gave mounts")
	}
}
