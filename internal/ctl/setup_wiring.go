package ctl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Is the wiring in effect? The containerd that serves containerd_address
// is found by its listening socket (/proc/net/unix, then the process
// holding that socket); its PATH is read from /proc/PID/environ and "runc"
// looked up in it as its shims do. This is what decides which runc new
// containers get, whatever the configuration files say.

// wiring is what probeContainerd found.
type wiring struct {
	address string
	pid     int
	path    string // containerd's PATH
	runc    string // what "runc" resolves to in that PATH ("" = none)
	confine bool   // runc is confine-runc
	err     error
}

func (w wiring) String() string {
	switch {
	case w.err != nil:
		return "cannot tell whether containerd runs confine-runc: " + w.err.Error()
	case w.runc == "":
		return fmt.Sprintf("containerd (pid %d, %s) finds no runc in its PATH %s", w.pid, w.address, w.path)
	case w.confine:
		return fmt.Sprintf("in effect: containerd (pid %d, %s) runs %s = confine-runc for new containers", w.pid, w.address, w.runc)
	default:
		return fmt.Sprintf("NOT in effect: containerd (pid %d, %s) runs %s (not confine-runc) for new containers: they are not injected", w.pid, w.address, w.runc)
	}
}

// probeContainerd inspects the containerd listening on address; runc is
// confine's when it is confineRunc or the confine-runc next to this
// confinectl.
func probeContainerd(address, confineRunc string) wiring {
	w := wiring{address: address}
	pid, err := socketOwner("/proc", address)
	if err != nil {
		w.err = err
		return w
	}
	w.pid = pid
	env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		w.err = fmt.Errorf("reading the environment of containerd (pid %d): %w", pid, err)
		return w
	}
	for _, kv := range bytes.Split(env, []byte{0}) {
		if p, ok := bytes.CutPrefix(kv, []byte("PATH=")); ok {
			w.path = string(p)
		}
	}
	root := filepath.Join("/proc", strconv.Itoa(pid), "root")
	w.runc = lookPathIn(root, w.path, "runc")
	if w.runc != "" {
		a, err := os.Stat(filepath.Join(root, w.runc))
		cands := []string{confineRunc}
		if self, err := os.Executable(); err == nil {
			cands = append(cands, filepath.Join(filepath.Dir(self), "confine-runc"))
		}
		for _, c := range cands {
			if b, err2 := os.Stat(c); err == nil && err2 == nil && os.SameFile(a, b) {
				w.confine = true
			}
		}
	}
	return w
}

// lookPathIn finds name in the PATH list as exec.LookPath does, with the
// directories seen under root (a process's /proc/PID/root).
func lookPathIn(root, pathList, name string) string {
	for _, dir := range filepath.SplitList(pathList) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		st, err := os.Stat(filepath.Join(root, p))
		if err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// socketOwner returns the pid of a process that holds the unix socket
// listening on path.
func socketOwner(procRoot, path string) (int, error) {
	f, err := os.Open(filepath.Join(procRoot, "net", "unix"))
	if err != nil {
		return 0, fmt.Errorf("reading the unix sockets: %w", err)
	}
	defer f.Close()
	inodes, err := parseNetUnix(f, path)
	if err != nil {
		return 0, err
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("no process listens on %s (is containerd running?)", path)
	}
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join(procRoot, e.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil {
				continue
			}
			if ino, ok := strings.CutPrefix(target, "socket:["); ok && inodes[strings.TrimSuffix(ino, "]")] {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no process holds the socket %s", path)
}

// parseNetUnix returns the inodes of listening sockets bound to path in
// /proc/net/unix ("Num RefCount Protocol Flags Type St Inode Path").
func parseNetUnix(f io.Reader, path string) (map[string]bool, error) {
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || fields[7] != path {
			continue
		}
		flags, err := strconv.ParseUint(fields[3], 16, 32)
		if err != nil {
			continue
		}
		const acceptCon = 0x10000 // __SO_ACCEPTCON: listening
		if flags&acceptCon != 0 {
			out[fields[6]] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, errors.New("reading /proc/net/unix: " + err.Error())
	}
	return out, nil
}
