package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Landlock audit record types (Linux 6.15, Landlock ABI 7).
const (
	typeLandlockAccess = 1423 // AUDIT_LANDLOCK_ACCESS: one denial
	typeLandlockDomain = 1424 // AUDIT_LANDLOCK_DOMAIN: a domain's life
)

// LandlockDenial is one AUDIT_LANDLOCK_ACCESS record, with the process
// that created its domain (from the domain's "allocated" record).
type LandlockDenial struct {
	// Domain is the kernel's id of the Landlock domain (hex in the record).
	Domain string
	// Blockers are the missing rights: fs.execute, fs.write_file,
	// fs.read_file, fs.make_reg, net.bind_tcp, net.connect_tcp, ...
	Blockers []string
	// Path is the file concerned ("" for network denials).
	Path string
	// Port is the TCP port of a network denial (lport= or dest=), Addr
	// the peer of a refused connect (daddr=).
	Port int
	Addr string
	// PID is the process that restricted itself into the domain (for
	// confine: the container's confine-init, which became the workload,
	// or a runc exec process); 0 when the allocated record was not seen.
	PID int
	// Exe is that process's executable when the domain was logged first.
	Exe string
}

// ParseLandlockAccess reads `domain=1a2b blockers=fs.write_file,fs.make_reg
// path="/tmp/x" dev="vda" ino=12` (or `... blockers=net.connect_tcp
// daddr=1.2.3.4 dest=80`).
func ParseLandlockAccess(s string) (LandlockDenial, bool) {
	var d LandlockDenial
	forEachField(s, func(k, v string) {
		switch k {
		case "domain":
			d.Domain = v
		case "blockers":
			d.Blockers = strings.Split(v, ",")
		case "path":
			d.Path = unquote(v)
		case "daddr":
			d.Addr = v
		case "dest", "lport":
			if n, err := strconv.Atoi(v); err == nil {
				d.Port = n
			}
		}
	})
	return d, d.Domain != "" && len(d.Blockers) > 0
}

// landlockDomain is an AUDIT_LANDLOCK_DOMAIN record.
type landlockDomain struct {
	Domain    string
	Allocated bool
	PID       int
	Exe       string
}

// parseLandlockDomain reads `domain=1a2b status=allocated mode=enforcing
// pid=123 uid=0 exe="/bin/sh" comm="sh"` or `domain=1a2b
// status=deallocated denials=3`.
func parseLandlockDomain(s string) (landlockDomain, bool) {
	var d landlockDomain
	forEachField(s, func(k, v string) {
		switch k {
		case "domain":
			d.Domain = v
		case "status":
			d.Allocated = v == "allocated"
		case "pid":
			d.PID, _ = strconv.Atoi(v)
		case "exe":
			d.Exe = unquote(v)
		}
	})
	return d, d.Domain != ""
}

// landlockJoiner pairs denials with their domain's creator. The kernel
// sends a domain's "allocated" record with its first logged denial, just
// after it; later denials of a known domain are complete at once.
type landlockJoiner struct {
	mu      sync.Mutex
	domains map[string]landlockDomain
	pending map[string][]pendingDenial
	out     func(LandlockDenial)
}

type pendingDenial struct {
	d  LandlockDenial
	at time.Time
}

// maxDomains bounds the domain table; the oldest half is dropped beyond.
const maxDomains = 65536

func newLandlockJoiner(out func(LandlockDenial)) *landlockJoiner {
	return &landlockJoiner{domains: map[string]landlockDomain{}, pending: map[string][]pendingDenial{}, out: out}
}

// Domain is a Landlock domain known from its "allocated" record: who
// created it. Kept across restarts of the reader (Demux.Domains,
// Options.Domains), since the kernel names a domain's creator only once.
type Domain struct {
	ID  string `json:"id"`
	PID int    `json:"pid"`
	Exe string `json:"exe,omitempty"`
}

func (j *landlockJoiner) snapshot() []Domain {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]Domain, 0, len(j.domains))
	for _, d := range j.domains {
		out = append(out, Domain{ID: d.Domain, PID: d.PID, Exe: d.Exe})
	}
	return out
}

func (j *landlockJoiner) seed(ds []Domain) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, d := range ds {
		if len(j.domains) >= maxDomains {
			return
		}
		if d.ID != "" {
			j.domains[d.ID] = landlockDomain{Domain: d.ID, Allocated: true, PID: d.PID, Exe: d.Exe}
		}
	}
}

func (j *landlockJoiner) access(d LandlockDenial, now time.Time) {
	j.mu.Lock()
	dom, ok := j.domains[d.Domain]
	if !ok {
		j.pending[d.Domain] = append(j.pending[d.Domain], pendingDenial{d, now})
		j.mu.Unlock()
		return
	}
	j.mu.Unlock()
	d.PID, d.Exe = dom.PID, dom.Exe
	j.out(d)
}

func (j *landlockJoiner) domain(dom landlockDomain) {
	j.mu.Lock()
	if !dom.Allocated {
		delete(j.domains, dom.Domain)
		p := j.pending[dom.Domain]
		delete(j.pending, dom.Domain)
		j.mu.Unlock()
		for _, pd := range p {
			j.out(pd.d)
		}
		return
	}
	if len(j.domains) >= maxDomains {
		n := 0
		for k := range j.domains {
			delete(j.domains, k)
			if n++; n >= maxDomains/2 {
				break
			}
		}
	}
	j.domains[dom.Domain] = dom
	p := j.pending[dom.Domain]
	delete(j.pending, dom.Domain)
	j.mu.Unlock()
	for _, pd := range p {
		pd.d.PID, pd.d.Exe = dom.PID, dom.Exe
		j.out(pd.d)
	}
}

// expire delivers, without a creator, denials whose domain record never
// came.
func (j *landlockJoiner) expire(now time.Time, after time.Duration) {
	var late []LandlockDenial
	j.mu.Lock()
	for k, ps := range j.pending {
		if now.Sub(ps[0].at) < after {
			continue
		}
		for _, pd := range ps {
			late = append(late, pd.d)
		}
		delete(j.pending, k)
	}
	j.mu.Unlock()
	for _, d := range late {
		j.out(d)
	}
}

// feed parses one datagram's Landlock records (tests and fuzzing).
func (j *landlockJoiner) feed(b []byte, now time.Time) {
	m := &Demux{c: Consumers{Landlock: j.out}, ll: j}
	for _, msg := range SplitMessages(b) {
		m.Message(msg, now)
	}
}

// Audit status (struct audit_status) fields and requests.
const (
	auditGet           = 1000
	auditSet           = 1001
	statusEnabled      = 0x0001
	auditStatusMinSize = 40
)

// AuditEnabled returns the kernel's audit "enabled" flag: 0 off, 1 on,
// 2 on and locked.
func AuditEnabled() (uint32, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return 0, fmt.Errorf("opening audit netlink socket: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Sec: 2}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	msg := make([]byte, 16)
	binary.NativeEndian.PutUint32(msg[0:4], 16)
	binary.NativeEndian.PutUint16(msg[4:6], auditGet)
	binary.NativeEndian.PutUint16(msg[6:8], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(msg[8:12], 1)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("asking the audit status: %w", err)
	}
	b := make([]byte, 8192)
	for {
		n, _, err := unix.Recvfrom(fd, b, 0)
		if err != nil {
			return 0, fmt.Errorf("reading the audit status: %w", err)
		}
		if n < 16 {
			continue
		}
		typ := binary.NativeEndian.Uint16(b[4:6])
		switch typ {
		case unix.NLMSG_ERROR:
			if n >= 20 {
				if e := int32(binary.NativeEndian.Uint32(b[16:20])); e != 0 {
					return 0, fmt.Errorf("reading the audit status: %w", unix.Errno(-e))
				}
			}
			continue // the ack
		case auditGet:
			if n < 16+8 {
				return 0, errors.New("reading the audit status: short reply")
			}
			return binary.NativeEndian.Uint32(b[20:24]), nil
		}
	}
}

// SetAuditEnabled sets the kernel's audit "enabled" flag (0 or 1).
func SetAuditEnabled(on uint32) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return fmt.Errorf("opening audit netlink socket: %w", err)
	}
	defer unix.Close(fd)
	status := make([]byte, auditStatusMinSize)
	binary.NativeEndian.PutUint32(status[0:4], statusEnabled)
	binary.NativeEndian.PutUint32(status[4:8], on)
	msg := make([]byte, 16+len(status))
	binary.NativeEndian.PutUint32(msg[0:4], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:6], auditSet)
	binary.NativeEndian.PutUint16(msg[6:8], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(msg[8:12], 1)
	copy(msg[16:], status)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("setting audit enabled=%d: %w", on, err)
	}
	tv := unix.Timeval{Sec: 2}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	b := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, b, 0)
	if err != nil {
		return fmt.Errorf("setting audit enabled=%d: no answer: %w", on, err)
	}
	if n >= 20 && binary.NativeEndian.Uint16(b[4:6]) == unix.NLMSG_ERROR {
		if e := int32(binary.NativeEndian.Uint32(b[16:20])); e != 0 {
			return fmt.Errorf("setting audit enabled=%d: %w", on, unix.Errno(-e))
		}
	}
	return nil
}

// EnableAudit turns the kernel's audit on when it is off, so that
// Landlock sends its denial records, and returns a function that restores
// the previous state. Without auditd, the kernel also prints audit records
// to its log (rate-limited) while audit is on. A locked setting (2) is left
// alone.
func EnableAudit() (restore func() error, err error) {
	cur, err := AuditEnabled()
	if err != nil {
		return nil, err
	}
	if cur != 0 {
		return func() error { return nil }, nil
	}
	if err := SetAuditEnabled(1); err != nil {
		return nil, err
	}
	return func() error { return SetAuditEnabled(0) }, nil
}
