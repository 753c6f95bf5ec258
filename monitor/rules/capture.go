package rules

import (
	"errors"
	"fmt"
	"slices"

	"github.com/confinehq/confine/monitor/proc"
)

// CaptureOptions tune Capture.
type CaptureOptions struct {
	// ContainerRoot is the container's root directory as the host reads
	// it (/proc/<container init>/root): "/" for runc containers. Paths are
	// translated with proc.ContainerPath. "" means "/".
	ContainerRoot string
	// Sockets are the socket tables of the process's network namespace
	// (proc.Proc.Net), read once for all the processes of a container.
	// nil makes Capture read them.
	Sockets []proc.Socket
}

// Capture reads one process through p and builds its snapshot: exe,
// credentials, open files, and the sockets among the namespace's tables
// that the process holds. It fails with proc.ErrGone or proc.ErrZombie
// (check with errors.Is) when the process ended, or its PID was reused,
// before the snapshot was complete: a half-read snapshot is never
// returned. A process without an executable (kernel thread) has Exe "".
func Capture(p proc.Proc, opts CaptureOptions) (ProcessSnapshot, error) {
	snap := ProcessSnapshot{PID: p.PID(), StartTime: p.Key().StartTime}

	exe, err := p.Exe()
	switch {
	case err == nil:
		snap.Exe = proc.ContainerPath(opts.ContainerRoot, exe.Path)
		snap.ExeDeleted, snap.ExeMemfd = exe.Deleted, exe.Memfd
	case errors.Is(err, proc.ErrNotExist):
		// No executable: a kernel thread. Nothing to check.
	default:
		return ProcessSnapshot{}, err
	}

	st, err := p.Status()
	if err != nil {
		return ProcessSnapshot{}, err
	}
	snap.UID = st.UID.Effective
	snap.OtherUIDs = []uint32{st.UID.Real, st.UID.Saved, st.UID.FS}
	snap.CapEff = st.CapEff

	fds, err := p.Fds()
	if err != nil {
		return ProcessSnapshot{}, err
	}
	owned := map[uint64]bool{}
	for _, fd := range fds {
		if ino, ok := fd.SocketInode(); ok {
			owned[ino] = true
			continue
		}
		path, _ := fd.Path()
		if path == "" || fd.Access() == proc.AccessPath {
			continue
		}
		snap.Fds = append(snap.Fds, Fd{Path: proc.ContainerPath(opts.ContainerRoot, path), Write: fd.Writable()})
	}

	if len(owned) > 0 {
		socks := opts.Sockets
		if socks == nil {
			if socks, err = p.Net(); err != nil {
				return ProcessSnapshot{}, err
			}
		}
		snap.Conns, snap.Listens = sockets(socks, owned)
	}

	// The reads above are not atomic: make sure they all saw one process.
	if err := p.Alive(); err != nil {
		return ProcessSnapshot{}, fmt.Errorf("capturing process %d: %w", p.PID(), err)
	}
	return snap, nil
}

// sockets picks the connections and listening ports of the sockets a
// process holds. A connection is inbound when its local port is a
// listening port of the same protocol anywhere in the namespace (the
// accepted socket may be held by a worker, the listener by its parent).
func sockets(all []proc.Socket, owned map[uint64]bool) ([]Conn, []uint16) {
	type key struct {
		tcp  bool
		port uint16
	}
	listening := map[key]bool{}
	for _, s := range all {
		if s.Listening() {
			listening[key{s.Proto.TCP(), s.Local.Port()}] = true
		}
	}
	var conns []Conn
	var ports []uint16
	for _, s := range all {
		if s.Inode == 0 || !owned[s.Inode] {
			continue
		}
		switch {
		case s.Listening():
			if !slices.Contains(ports, s.Local.Port()) {
				ports = append(ports, s.Local.Port())
			}
		case s.Connected():
			conns = append(conns, Conn{
				Proto:   string(s.Proto),
				Local:   s.Local,
				Remote:  s.Remote,
				State:   s.State.String(),
				Inbound: listening[key{s.Proto.TCP(), s.Local.Port()}],
			})
		}
	}
	slices.Sort(ports)
	return conns, ports
}
