package profiles

import (
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/confinehq/confine/internal/glob"
	"gopkg.in/yaml.v3"
)

// Compiled on first use: the bounded repetitions make large programs
// (hostRe alone is most of this package's start-up), and binaries that
// import profiles without validating (confine-init) should not pay for them.
var (
	nameRe    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,62})$`) })
	syscallRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z_][a-z0-9_]{0,63}$`) })
	hostRe    = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9-]{0,62})\.)*[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})\.?$`)
	})
)

// ValidName reports whether s can name a profile.
func ValidName(s string) bool { return nameRe().MatchString(s) }

// checker collects errors and warnings with their places.
type checker struct {
	file  string
	node  *yaml.Node
	errs  []error
	warns []string
}

func (c *checker) errf(field string, idx int, format string, args ...any) {
	name := field
	if idx >= 0 {
		name = fmt.Sprintf("%s[%d]", field, idx)
	}
	c.errs = append(c.errs, &FieldError{File: c.file, Line: locate(c.node, field, idx), Field: name, Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) warnf(field string, format string, args ...any) {
	line := locate(c.node, field, -1)
	c.warns = append(c.warns, (&FieldError{File: c.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}).Error())
}

// Validate checks a profile built in code (no file, no lines).
func Validate(p *Profile, opts Options) (errs []error, warnings []string) {
	src := p.Source
	if src == "" {
		src = "<profile " + p.Name + ">"
	}
	return validate(p, nil, src, opts)
}

func validate(p *Profile, node *yaml.Node, file string, opts Options) ([]error, []string) {
	c := &checker{file: file, node: node}
	// The checks, in the order a reader meets the fields.
	if p.APIVersion != APIVersion {
		c.errf("apiVersion", -1, "%q is not supported (want %q)", p.APIVersion, APIVersion)
	}
	if !ValidName(p.Name) {
		c.errf("name", -1, "%q is not a valid profile name (lower-case letters, digits, '.', '_', '-'; at most 63)", p.Name)
	}
	if !p.Mode.Valid() {
		c.errf("mode", -1, "%q is not one of learn, monitor, enforce", p.Mode)
	}
	checkSelector(c, p.Selector)
	checkSeccomp(c, p.Seccomp, opts)
	checkPaths(c, "exec.allow", p.Exec.Allow)
	checkPaths(c, "files.read", p.Files.Read)
	checkPaths(c, "files.write", p.Files.Write)
	checkPaths(c, "files.deny", p.Files.Deny)
	checkPaths(c, "files.readOnly", p.Files.ReadOnly)
	checkPaths(c, "files.watch", p.Files.Watch)
	checkPaths(c, "secrets.ignore", p.Secrets.Ignore)
	checkFileAllowlists(c, p.Files)
	for i, e := range p.Network.Egress {
		if _, err := ParseEgress(e); err != nil {
			c.errf("network.egress", i, "%v", err)
		}
	}
	for i, port := range p.Network.Listen {
		if port < 1 || port > 65535 {
			c.errf("network.listen", i, "port %d is outside 1-65535", port)
		}
	}
	for i, capName := range p.Privileges.Capabilities {
		if _, ok := CapabilityBit(capName); !ok {
			c.errf("privileges.capabilities", i, "unknown capability %q", capName)
		}
	}
	switch p.OnViolation {
	case "", OnViolationKill, OnViolationAlert:
	default:
		c.errf("onViolation", -1, "%q is not kill or alert", p.OnViolation)
	}
	switch p.ExecSessions {
	case "", ExecSessionsDeny, ExecSessionsProfile, ExecSessionsAudit:
	default:
		c.errf("execSessions", -1, "%q is not deny, profile or audit", p.ExecSessions)
	}

	// The whole seccomp section must turn into a filter runc can load
	// (e.g. it may not deny the runtime's own floor).
	if len(c.errs) == 0 && opts.CheckSeccomp != nil && !p.Seccomp.IsZero() {
		if err := opts.CheckSeccomp(p); err != nil {
			c.errf("seccomp", -1, "%v", err)
		}
	}

	// Then the warnings: legal, but probably not what the author meant.
	if p.Mode == ModeEnforce && p.Seccomp.IsZero() {
		c.warnf("seccomp", "enforce mode without a seccomp section: no syscall filter is injected")
	}
	if p.Privileges.NoNewPrivileges != nil && !*p.Privileges.NoNewPrivileges {
		c.warnf("privileges.noNewPrivileges", "false does not turn off no_new_privs that the runtime sets by default")
	}
	return c.errs, c.warns
}

func checkSelector(c *checker, s Selector) {
	for i, img := range s.Images {
		if img == "" {
			c.errf("selector.images", i, "empty image pattern")
			continue
		}
		if _, err := path.Match(img, ""); err != nil {
			c.errf("selector.images", i, "bad image pattern %q: %v", img, err)
		}
	}
	keys := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.TrimSpace(k) == "" {
			c.errf("selector.labels", -1, "empty label key")
		}
		if k == LabelProfile || k == LabelMode {
			c.errf("selector.labels", -1, "label %q steers selection itself and cannot be a selector", k)
		}
	}
}

func checkSeccomp(c *checker, s Seccomp, opts Options) {
	switch s.DefaultAction {
	case "", ActionErrno, ActionKill, ActionLog:
	default:
		c.errf("seccomp.defaultAction", -1, "%q is not errno, kill or log", s.DefaultAction)
	}
	switch s.Base {
	case "", BaseDockerDefault:
	default:
		c.errf("seccomp.base", -1, "unknown base %q (known: %s)", s.Base, BaseDockerDefault)
	}
	allowed := map[string]bool{}
	for i, n := range s.Allow {
		checkSyscall(c, "seccomp.allow", i, n, opts)
		if allowed[n] {
			c.warnf("seccomp.allow", "syscall %q listed twice", n)
		}
		allowed[n] = true
	}
	for i, n := range s.Deny {
		checkSyscall(c, "seccomp.deny", i, n, opts)
		if allowed[n] {
			c.errf("seccomp.deny", i, "syscall %q is both allowed and denied", n)
		}
	}
	if s.Base == "" && s.Allow == nil && (s.DefaultAction != "" || s.Deny != nil) {
		c.warnf("seccomp", "no allow list and no base: only the deny list restricts syscalls (everything else is allowed)")
	}
}

func checkSyscall(c *checker, field string, i int, n string, opts Options) {
	if !syscallRe().MatchString(n) {
		c.errf(field, i, "%q is not a syscall name", n)
		return
	}
	if opts.KnownSyscall != nil && !opts.KnownSyscall(n) {
		c.errf(field, i, "unknown syscall %q (not known to libseccomp for this architecture)", n)
	}
}

func checkPaths(c *checker, field string, list List) {
	for i, pat := range list {
		if _, err := glob.Compile(pat); err != nil {
			c.errf(field, i, "bad path glob %q: %v", pat, err)
		}
	}
}

// Egress is one parsed network.egress entry.
type Egress struct {
	// Prefix is set for IP and CIDR entries.
	Prefix netip.Prefix
	// Host is set for a DNS name entry; "*" means any address.
	Host string
	// Port is 0 for "*" (any port).
	Port uint16
}

// String gives the entry back in profile syntax.
func (e Egress) String() string {
	host := e.Host
	if host == "" {
		if e.Prefix.IsSingleIP() {
			host = e.Prefix.Addr().String()
		} else {
			host = e.Prefix.String()
		}
		if e.Prefix.Addr().Is6() {
			host = "[" + host + "]"
		}
	}
	port := "*"
	if e.Port != 0 {
		port = strconv.Itoa(int(e.Port))
	}
	return host + ":" + port
}

// ParseEgress parses "10.0.0.0/8:5432", "127.0.0.1:*", "[::1]:80",
// "[fd00::/8]:443", "db.internal:5432" or "*:53".
func ParseEgress(s string) (Egress, error) {
	i := strings.LastIndex(s, ":")
	if i <= 0 || i == len(s)-1 {
		return Egress{}, fmt.Errorf("egress %q: want HOST-OR-CIDR:PORT (PORT may be *)", s)
	}
	host, port := s[:i], s[i+1:]
	var e Egress
	if port != "*" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return Egress{}, fmt.Errorf("egress %q: port %q is not 1-65535 or *", s, port)
		}
		e.Port = uint16(n)
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	} else if strings.Contains(host, ":") {
		return Egress{}, fmt.Errorf("egress %q: write IPv6 addresses in brackets, e.g. [::1]:80", s)
	}
	switch {
	case host == "*":
		e.Host = "*"
	case strings.Contains(host, "/"):
		p, err := netip.ParsePrefix(host)
		if err != nil {
			return Egress{}, fmt.Errorf("egress %q: bad CIDR: %v", s, err)
		}
		e.Prefix = p.Masked()
	default:
		if a, err := netip.ParseAddr(host); err == nil {
			e.Prefix = netip.PrefixFrom(a, a.BitLen())
		} else if hostRe().MatchString(host) {
			e.Host = strings.ToLower(strings.TrimSuffix(host, "."))
		} else {
			return Egress{}, fmt.Errorf("egress %q: %q is neither an IP, a CIDR nor a host name", s, host)
		}
	}
	return e, nil
}

// Allows reports whether the entry admits peer (DNS names never match here:
// the caller resolves them).
func (e Egress) Allows(peer netip.AddrPort) bool {
	if e.Port != 0 && e.Port != peer.Port() {
		return false
	}
	if e.Host == "*" {
		return true
	}
	if e.Host != "" {
		return false
	}
	return e.Prefix.Contains(peer.Addr().Unmap())
}

// topLevelSystemDirs are the directories whose whole hierarchy an
// allowlist entry should rarely grant; an entry that widens to one of them
// (or to /) is legal but gets a warning, because Landlock enforces the
// hierarchy, not the glob.
var topLevelSystemDirs = map[string]bool{
	"/": true, "/bin": true, "/sbin": true, "/etc": true, "/usr": true, "/lib": true,
	"/lib64": true, "/root": true, "/dev": true, "/proc": true, "/sys": true, "/boot": true,
}

// checkFileAllowlists warns where Landlock will enforce a wider hierarchy
// than the glob says.
func checkFileAllowlists(c *checker, f Files) {
	for _, cl := range []struct {
		field string
		list  List
	}{{"files.read", f.Read}, {"files.write", f.Write}} {
		for _, pat := range cl.list {
			if _, err := glob.Compile(pat); err != nil {
				continue // reported by checkPaths
			}
			root, exact := glob.Root(pat)
			if !exact && topLevelSystemDirs[root] {
				c.warnf(cl.field, "%q is enforced by the kernel as the whole hierarchy %s (Landlock has no globs)", pat, root)
			}
		}
	}
}
