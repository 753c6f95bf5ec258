package proc

import (
	"os"
	"testing"
)

func TestMountListed(t *testing.T) {
	mi := []byte("22 1 0:21 / / rw,relatime - overlay overlay rw\n23 22 0:5 / /proc rw - proc proc rw\n225 22 0:6 / /dev rw - tmpfs tmpfs rw\n")
	for id, want := range map[uint64]bool{22: true, 23: true, 225: true, 2: false, 25: false, 0: false} {
		if got := mountListed(mi, id); got != want {
			t.Errorf("mountListed(%d) = %v, want %v", id, got, want)
		}
	}
}

// TestExeDetachedOwnProcess: this test binary runs from a listed mount.
func TestExeDetachedOwnProcess(t *testing.T) {
	fs, err := NewFS("/proc")
	if err != nil {
		t.Fatal(err)
	}
	p, err := fs.Proc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d, err := p.ExeDetached(); err != nil || d {
		t.Errorf("ExeDetached of the test itself = %v, %v; want false", d, err)
	}
}
