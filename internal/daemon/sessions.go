package daemon

// Operator exec sessions (execSessions: deny | profile | audit). A process
// started with `runc exec` (docker exec, ctr task exec) is the root of a
// session: its parent is outside the container (runc) and it is not the
// container's init. Its descendants belong to the session too. The
// policy of the container's profile says what happens to them:
//
//   - profile (the default): held to the profile like the workload;
//   - audit: the same rules, but what breaks them is reported, never
//     killed, and every command the session runs is reported too, all
//     with CONFINE_SESSION=<pid of the session's root>, one thread;
//   - deny: the session is killed (its root, by pidfd) as soon as it is
//     seen, and reported; the workload goes on.
//
// The enforcer applies the policy (enforcer.go); the monitor finds a
// process's session. The seccomp listener knows sessions from the filter runc loads for
// them (OCI state "running"): their refused syscalls follow the policy
// too. Detection from /proc walks the parent chain, so a session whose
// root has already exited and whose children were reparented to the
// container's init is seen as the workload, and a command that exits
// before /proc is read is not listed (its refused syscalls still are).
// The fanotify guard does not know sessions: with it on, an audited
// session's exec outside exec.allow is still denied before it happens.

// sessionMaxDepth bounds the parent walk.
const sessionMaxDepth = 64

// sessionOf returns the root of the exec session pid belongs to in c, 0
// when it is the workload (or cannot be told).
func (m *monitor) sessionOf(c *container, pid int) (root int, start uint64) {
	m.recMu.Lock()
	initPid := c.Pid
	m.recMu.Unlock()
	if pid <= 0 || initPid <= 0 {
		return 0, 0
	}
	for i := 0; i < sessionMaxDepth && pid > 0; i++ {
		if pid == initPid {
			return 0, 0
		}
		p, err := m.fs.Proc(pid)
		if err != nil {
			return 0, 0
		}
		st, err := p.Stat()
		if err != nil {
			return 0, 0
		}
		if st.PPID <= 0 || m.containerOf(st.PPID) != c {
			return pid, p.Key().StartTime
		}
		pid = st.PPID
	}
	return 0, 0
}
