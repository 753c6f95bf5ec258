package proc

import (
	"os"
	"testing"
)

// TestCwd: the working directory link of a fixture process.
func TestCwd(t *testing.T) {
	p, err := fixtureFS(t).Proc(12844)
	if err != nil {
		t.Fatal(err)
	}
	if cwd, err := p.Cwd(); err != nil || cwd != "/" {
		t.Errorf("Cwd = %q, %v; want /", cwd, err)
	}
}

// TestNamespaces: this process's network namespace, by Self and by PID,
// stat'ed and opened, is one namespace; a missing process is an error.
func TestNamespaces(t *testing.T) {
	fs, err := NewFS("/proc")
	if err != nil {
		t.Fatal(err)
	}
	self, err := fs.StatNamespace(Self, "net")
	if err != nil {
		t.Fatal(err)
	}
	byPID, err := fs.StatNamespace(os.Getpid(), "net")
	if err != nil || byPID != self {
		t.Fatalf("by pid %v %v, by self %v", byPID, err, self)
	}
	f, err := fs.OpenNamespace(Self, "net")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if id, err := FstatNamespace(f); err != nil || id != self {
		t.Errorf("opened: %v %v, want %v", id, err, self)
	}
	if ino, err := mustProc(t, fs, os.Getpid()).NetNS(); err != nil || ino != self.Ino {
		t.Errorf("NetNS %d %v, want the inode %d", ino, err, self.Ino)
	}
	if _, err := fixtureFS(t).StatNamespace(99999999, "net"); err == nil {
		t.Error("a missing process has a namespace")
	}
}

func mustProc(t *testing.T, fs FS, pid int) Proc {
	t.Helper()
	p, err := fs.Proc(pid)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
