package proc

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// IDs are the four user or group IDs of a process.
type IDs struct {
	Real, Effective, Saved, FS uint32
}

// Any reports whether any of the four IDs is id.
func (i IDs) Any(id uint32) bool {
	return i.Real == id || i.Effective == id || i.Saved == id || i.FS == id
}

// SeccompMode is the Seccomp field of /proc/PID/status.
type SeccompMode int

const (
	SeccompDisabled SeccompMode = 0
	SeccompStrict   SeccompMode = 1
	SeccompFilter   SeccompMode = 2
)

func (m SeccompMode) String() string {
	switch m {
	case SeccompDisabled:
		return "disabled"
	case SeccompStrict:
		return "strict"
	case SeccompFilter:
		return "filter"
	}
	return "mode " + strconv.Itoa(int(m))
}

// Status is the part of /proc/PID/status confine uses.
type Status struct {
	Name string
	UID  IDs
	GID  IDs
	// Capability sets as bitmasks (bit n is capability n).
	CapInh, CapPrm, CapEff, CapBnd, CapAmb uint64
	NoNewPrivs                             bool
	Seccomp                                SeccompMode
	// NSpid lists the PID in each PID namespace the process is in, from
	// the reader's namespace inwards: [12844 1] is PID 1 of a container.
	NSpid []int
}

// parseStatus parses /proc/PID/status ("Key:\tvalue" lines). Uid, Gid and
// the five capability sets are required; NoNewPrivs, Seccomp and NSpid
// (missing on old kernels) are read when present.
func parseStatus(b []byte) (Status, error) {
	var s Status
	seen := map[string]bool{}
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		key := string(k)
		val := strings.TrimSpace(string(v))
		var err error
		switch key {
		case "Name":
			s.Name = val
		case "Uid":
			s.UID, err = parseIDs(val)
		case "Gid":
			s.GID, err = parseIDs(val)
		case "CapInh":
			s.CapInh, err = parseCaps(val)
		case "CapPrm":
			s.CapPrm, err = parseCaps(val)
		case "CapEff":
			s.CapEff, err = parseCaps(val)
		case "CapBnd":
			s.CapBnd, err = parseCaps(val)
		case "CapAmb":
			s.CapAmb, err = parseCaps(val)
		case "NoNewPrivs":
			switch val {
			case "0":
			case "1":
				s.NoNewPrivs = true
			default:
				err = fmt.Errorf("not 0 or 1")
			}
		case "Seccomp":
			var n int
			n, err = strconv.Atoi(val)
			if err == nil && (n < 0 || n > 2) {
				err = fmt.Errorf("unknown mode")
			}
			s.Seccomp = SeccompMode(n)
		case "NSpid":
			s.NSpid, err = parseInts(val)
		default:
			continue
		}
		if err != nil {
			return Status{}, fmt.Errorf("status: bad %s %q: %v: %w", key, val, err, ErrParse)
		}
		seen[key] = true
	}
	for _, k := range []string{"Uid", "Gid", "CapInh", "CapPrm", "CapEff", "CapBnd"} {
		if !seen[k] {
			return Status{}, fmt.Errorf("status: no %s line: %w", k, ErrParse)
		}
	}
	return s, nil
}

func parseIDs(v string) (IDs, error) {
	f := strings.Fields(v)
	if len(f) != 4 {
		return IDs{}, fmt.Errorf("%d ids, want 4", len(f))
	}
	var n [4]uint32
	for i, s := range f {
		u, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return IDs{}, err
		}
		n[i] = uint32(u)
	}
	return IDs{Real: n[0], Effective: n[1], Saved: n[2], FS: n[3]}, nil
}

func parseCaps(v string) (uint64, error) {
	if len(v) == 0 || len(v) > 16 {
		return 0, fmt.Errorf("want 1-16 hex digits")
	}
	return strconv.ParseUint(v, 16, 64)
}

func parseInts(v string) ([]int, error) {
	f := strings.Fields(v)
	if len(f) == 0 {
		return nil, fmt.Errorf("empty")
	}
	out := make([]int, len(f))
	for i, s := range f {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad number %q", s)
		}
		out[i] = n
	}
	return out, nil
}
