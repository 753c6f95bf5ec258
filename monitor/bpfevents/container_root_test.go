package bpfevents

import (
	"context"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/monitor/kill"
)

// TestContainerExec runs a real container through the private containerd
// and runc: an exec inside it arrives with the container's cgroup id, an
// exec on the host does not arrive at all.
func TestContainerExec(t *testing.T) {
	s := openSource(t)
	c := testbed.Start(t)
	ctx, cancel := context.WithTimeout(c.Context(context.Background()), time.Minute)
	defer cancel()
	r, err := c.Start(ctx, testbed.RunOptions{Args: []string{"/bin/sleep", "600"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dir, err := kill.Cgroup(c.Namespace, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	id, err := CgroupID(dir)
	if err != nil {
		t.Fatalf("the container's cgroup %s: %v (runc must place it in the unified hierarchy)", dir, err)
	}
	if err := s.Watch(id); err != nil {
		t.Fatal(err)
	}
	defer s.Forget(id)
	res, err := r.Exec(ctx, "/bin/echo", "hello")
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("exec in the container: %v %+v", err, res)
	}
	host := runIn(t, "", "/bin/echo", "host")
	var got *Event
	for _, e := range collect(t, s, 300*time.Millisecond) {
		if e.CgroupID != id {
			t.Errorf("event of cgroup %d, only the container's %d is watched: %v", e.CgroupID, id, e)
		}
		if e.TGID == host {
			t.Errorf("host exec reported: %v", e)
		}
		if e.Kind == KindExec && e.Filename == "/bin/echo" {
			got = &e
		}
	}
	if got == nil {
		t.Fatal("no exec event of /bin/echo from the container")
	}
	if got.ExeIno == 0 {
		t.Errorf("exec event without the executable's inode: %#v", *got)
	}
}
