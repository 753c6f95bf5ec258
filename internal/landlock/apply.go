package landlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	ll "github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// ABI returns the kernel's Landlock ABI version, 0 when Landlock is not
// available (not built in, or left out of the lsm= boot list).
func ABI() int {
	v, err := llsys.LandlockGetABIVersion()
	if err != nil {
		return 0
	}
	return v
}

// Rights per class (see the package documentation).
const (
	rightsExec  = llsys.AccessFSExecute
	rightsRead  = llsys.AccessFSReadFile | llsys.AccessFSReadDir
	rightsWrite = llsys.AccessFSWriteFile | llsys.AccessFSRemoveDir | llsys.AccessFSRemoveFile |
		llsys.AccessFSMakeDir | llsys.AccessFSMakeReg | llsys.AccessFSMakeSock |
		llsys.AccessFSMakeFifo | llsys.AccessFSMakeSym | llsys.AccessFSRefer | llsys.AccessFSTruncate
	// Device nodes: handled with write, never granted.
	rightsMakeDev = llsys.AccessFSMakeChar | llsys.AccessFSMakeBlock
	// Rights that make sense on a file (the kernel refuses the others on
	// a rule for a non-directory).
	rightsFile = llsys.AccessFSExecute | llsys.AccessFSWriteFile | llsys.AccessFSReadFile | llsys.AccessFSTruncate
)

// floorRW and floorRO are the runtime floor granted whenever reads or
// writes are restricted.
var (
	floorRW = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/ptmx", "/dev/pts"}
	floorRO = []string{"/dev/random", "/dev/urandom", "/proc"}
)

// supportedFS is what each ABI can handle.
func supportedFS(abi int) uint64 {
	switch {
	case abi <= 0:
		return 0
	case abi == 1:
		return (1 << 13) - 1
	case abi == 2:
		return (1 << 14) - 1
	case abi <= 4:
		return (1 << 15) - 1
	default:
		return (1 << 16) - 1
	}
}

// Plan is a ruleset resolved against one kernel ABI: what is handled and
// which rights go on which path. Apply restricts with it.
type Plan struct {
	ABI        int
	HandledFS  uint64
	HandledNet uint64
	Paths      map[string]uint64 // path -> rights (before file/dir masking)
	Bind       []uint16
	Connect    []uint16
	LogNewExec bool
	// Skipped says what the ABI could not enforce (e.g. TCP ports on
	// ABI < 4); it is reported, never silent.
	Skipped []string
}

// NewPlan resolves r for abi.
func NewPlan(r *Ruleset, abi int) (*Plan, error) {
	if abi < 1 {
		return nil, errors.New("landlock is not available in this kernel")
	}
	sup := supportedFS(abi)
	p := &Plan{ABI: abi, Paths: map[string]uint64{}, LogNewExec: abi >= 7}
	if r.RestrictExec {
		p.HandledFS |= rightsExec
	}
	if r.RestrictRead {
		p.HandledFS |= rightsRead
	}
	if r.RestrictWrite {
		p.HandledFS |= rightsWrite | rightsMakeDev
	}
	p.HandledFS &= sup
	grant := func(paths []string, rights uint64) {
		rights &= p.HandledFS
		if rights == 0 {
			return
		}
		for _, path := range paths {
			p.Paths[path] |= rights
		}
	}
	grant(r.Execute, rightsExec|llsys.AccessFSReadFile)
	grant(r.Read, rightsRead)
	grant(r.Write, rightsWrite|rightsRead)
	if r.RestrictRead || r.RestrictWrite {
		grant(floorRW, rightsRead|rightsWrite)
		grant(floorRO, rightsRead)
	}
	if r.RestrictBind || r.RestrictConnect {
		if abi < 4 {
			p.Skipped = append(p.Skipped, fmt.Sprintf("TCP port rules need Landlock ABI 4 (kernel has %d)", abi))
		} else {
			if r.RestrictBind {
				p.HandledNet |= llsys.AccessNetBindTCP
				p.Bind = r.Bind
			}
			if r.RestrictConnect {
				p.HandledNet |= llsys.AccessNetConnectTCP
				p.Connect = r.Connect
			}
		}
	}
	return p, nil
}

// Apply restricts the calling process (all its threads) with the plan,
// setting no_new_privs first. Paths missing in this mount namespace are
// skipped; a file gets only the rights that apply to files.
func (p *Plan) Apply() error {
	cfg := ll.Config{HandledAccessFS: ll.AccessFSSet(p.HandledFS), HandledAccessNet: ll.AccessNetSet(p.HandledNet)}
	if p.LogNewExec {
		cfg = cfg.EnableLoggingForSubprocesses()
	}
	paths := p.Paths
	if p.HandledFS&rightsExec != 0 {
		paths = withInterpreters(paths, p.HandledFS)
	}
	var rules []ll.Rule
	for path, rights := range paths {
		st, err := os.Stat(path)
		if err != nil {
			continue // absent here: nothing to grant
		}
		if !st.IsDir() {
			rights &= rightsFile
		}
		if rights == 0 {
			continue
		}
		rules = append(rules, ll.PathAccess(ll.AccessFSSet(rights), path))
	}
	for _, port := range p.Bind {
		rules = append(rules, ll.BindTCP(port))
	}
	for _, port := range p.Connect {
		rules = append(rules, ll.ConnectTCP(port))
	}
	if err := cfg.Restrict(rules...); err != nil {
		return fmt.Errorf("applying the landlock ruleset (ABI %d): %w", p.ABI, err)
	}
	return nil
}

// interpreterGlobs find the ELF program interpreters (dynamic loaders)
// of the common C libraries. The kernel opens a dynamically linked
// program's interpreter like an executable, so without EXECUTE on it no
// dynamically linked program in exec.allow could start. Granting it keeps
// a known Landlock gap open: "ld.so /path/prog" runs a program that is not
// in exec.allow (the kernel checks EXECUTE at execve only); the monitor
// still sees that exec.
var interpreterGlobs = []string{"/lib/ld-*", "/lib64/ld-*", "/lib/*/ld-*", "/usr/lib/ld-*", "/usr/lib64/ld-*", "/usr/lib/*/ld-*"}

func withInterpreters(paths map[string]uint64, handled uint64) map[string]uint64 {
	out := make(map[string]uint64, len(paths)+4)
	for k, v := range paths {
		out[k] = v
	}
	for _, g := range interpreterGlobs {
		matches, _ := filepath.Glob(g)
		for _, m := range matches {
			out[m] |= (rightsExec | llsys.AccessFSReadFile) & handled
		}
	}
	return out
}
