package secrets

import "testing"

func TestMatch(t *testing.T) {
	tests := []struct {
		name   string
		ignore []string
		path   string
		pid    int
		want   bool
	}{
		{name: "shadow", path: "/etc/shadow", want: true},
		{name: "sudoers.d entry", path: "/etc/sudoers.d/admins", want: true},
		{name: "user's ssh key", path: "/home/alice/.ssh/id_ed25519", want: true},
		{name: "public key matches id_* too", path: "/root/.ssh/id_rsa.pub", want: true},
		{name: "host key", path: "/etc/ssh/ssh_host_ed25519_key", want: true},
		{name: "host public key", path: "/etc/ssh/ssh_host_ed25519_key.pub", want: false},
		{name: "service-account token", path: "/var/run/secrets/kubernetes.io/serviceaccount/token", want: true},
		{name: "docker secret", path: "/run/secrets/db_password", want: true},
		{name: "passwd is no secret", path: "/etc/passwd", want: false},
		{name: "ignored exactly", ignore: []string{"/etc/shadow"}, path: "/etc/shadow", want: false},
		{name: "ignored by glob", ignore: []string{"/run/secrets/**"}, path: "/run/secrets/app-token", want: false},
		{name: "other process's environ", path: "/proc/1/environ", pid: 7, want: true},
		{name: "own environ", path: "/proc/7/environ", pid: 7, want: false},
		{name: "other thread's mem", path: "/proc/1/task/3/mem", pid: 7, want: true},
		{name: "opener unknown", path: "/proc/7/mem", want: true},
		{name: "other proc file", path: "/proc/1/status", pid: 7, want: false},
		{name: "environ ignored", ignore: []string{"/proc/*/environ"}, path: "/proc/1/environ", pid: 7, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := New(tt.ignore).Match(tt.path, tt.pid); got != tt.want {
				t.Errorf("Match(%q, %d) = %v, want %v", tt.path, tt.pid, got, tt.want)
			}
		})
	}
}

func TestNewDropsIgnoredPatterns(t *testing.T) {
	l := New([]string{"/etc/shadow", "/home/**"})
	for _, p := range l.Patterns() {
		if p == "/etc/shadow" || p == "/home/*/.ssh/id_*" {
			t.Errorf("ignored pattern %q still watched", p)
		}
	}
	if len(l.Patterns()) == 0 || len(New(nil).Patterns()) != len(Files) {
		t.Error("patterns lost")
	}
}

func FuzzProcTarget(f *testing.F) {
	for _, s := range []string{"/proc/1/environ", "/proc/1/task/2/mem", "/proc/self/environ", "/proc//mem", "/proc/-1/mem"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if n, ok := ProcTarget(p); ok && n <= 0 {
			t.Fatalf("%q: pid %d", p, n)
		}
		_ = New([]string{p}).Match(p, 1)
	})
}
