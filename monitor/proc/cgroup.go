package proc

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// CgroupLine is one line of /proc/PID/cgroup: "ID:CONTROLLERS:PATH".
type CgroupLine struct {
	// HierarchyID is 0 for the cgroup v2 (unified) hierarchy.
	HierarchyID int
	// Controllers are the v1 controllers bound to the hierarchy
	// ("cpu", "name=systemd"); nil for v2.
	Controllers []string
	// Path is the cgroup path relative to the hierarchy's root as seen
	// from the reader's cgroup namespace.
	Path string
}

// Unified reports the cgroup v2 line.
func (l CgroupLine) Unified() bool { return l.HierarchyID == 0 && len(l.Controllers) == 0 }

// parseCgroup parses /proc/PID/cgroup. The path is everything after the
// second colon, so a path containing ':' survives.
func parseCgroup(b []byte) ([]CgroupLine, error) {
	var out []CgroupLine
	for n, line := range bytes.Split(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		f := strings.SplitN(string(line), ":", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("cgroup line %d %q: want ID:CONTROLLERS:PATH: %w", n+1, line, ErrParse)
		}
		id, err := strconv.Atoi(f[0])
		if err != nil || id < 0 {
			return nil, fmt.Errorf("cgroup line %d %q: bad hierarchy id: %w", n+1, line, ErrParse)
		}
		if !strings.HasPrefix(f[2], "/") {
			return nil, fmt.Errorf("cgroup line %d %q: path is not absolute: %w", n+1, line, ErrParse)
		}
		l := CgroupLine{HierarchyID: id, Path: f[2]}
		if f[1] != "" {
			l.Controllers = strings.Split(f[1], ",")
		}
		out = append(out, l)
	}
	return out, nil
}

// Containerd namespaces that container layouts map to.
const (
	NamespaceMoby = "moby"   // Docker's containers
	NamespaceK8s  = "k8s.io" // containerd's CRI plugin
)

// scopePrefixes maps the unit-name prefix of a systemd-driver container
// scope ("<slice>/<prefix>-<id>.scope", runc's cgroupsPath
// "slice:prefix:id") to the containerd namespace it implies. nerdctl does
// not put the namespace in the unit name: its namespace is "".
var scopePrefixes = map[string]string{
	"docker":         NamespaceMoby,
	"cri-containerd": NamespaceK8s,
	"nerdctl":        "",
}

var (
	// identifierRe is containerd's rule for namespace and container names
	// (pkg/identifiers): alphanumerics joined by single '.', '_' or '-'.
	identifierRe = regexp.MustCompile(`^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$`)
	podRe        = regexp.MustCompile(`^pod[0-9a-fA-F_-]+$`)
)

const maxIdentifier = 76 // containerd's maxLength for identifiers

func validIdentifier(s string) bool {
	return len(s) <= maxIdentifier && identifierRe.MatchString(s)
}

// ContainerFromCgroup finds the containerd container a process belongs to
// from its /proc/PID/cgroup lines. It looks at the v2 line first, then at
// the v1 lines in order, and returns the first attribution.
//
// The result is a candidate: a cgroup layout can look like a container's
// without being one (any "/a/b" fits containerd's cgroupfs layout), so the
// caller confirms it against the containers it knows. namespace is "" for
// layouts that do not encode it (nerdctl's systemd scopes).
func ContainerFromCgroup(lines []CgroupLine) (namespace, id string, ok bool) {
	for _, l := range lines {
		if l.Unified() {
			if ns, id, ok := ContainerFromCgroupPath(l.Path); ok {
				return ns, id, true
			}
		}
	}
	for _, l := range lines {
		if !l.Unified() {
			if ns, id, ok := ContainerFromCgroupPath(l.Path); ok {
				return ns, id, true
			}
		}
	}
	return "", "", false
}

// ContainerCgroupPath returns the path, among a process's cgroup lines,
// of the cgroup that attributes it to container id of namespace ns (a
// layout without a namespace matches any), the unified line first: what
// a container's cgroup is called under every hierarchy root, recorded
// when the container is registered and resolved under the root when it
// is killed (monitor/kill Finder.Resolve).
func ContainerCgroupPath(lines []CgroupLine, ns, id string) (string, bool) {
	for _, unified := range []bool{true, false} {
		for _, l := range lines {
			if l.Unified() != unified {
				continue
			}
			if cns, cid, ok := ContainerFromCgroupPath(l.Path); ok && cid == id && (cns == "" || cns == ns) {
				return l.Path, true
			}
		}
	}
	return "", false
}

// ContainerFromCgroupPath attributes one cgroup path. Layouts, from the
// outermost path component inwards (a process in a sub-cgroup of a
// container, e.g. systemd or Docker inside it, still belongs to the
// container):
//
//	/<ns>/<id>                              containerd's cgroupfs default (ctr, nerdctl); seen here
//	/docker/<id>                            Docker, cgroupfs driver       -> moby
//	/system.slice/docker-<id>.scope         Docker, systemd driver        -> moby
//	/.../cri-containerd-<id>.scope          CRI, systemd driver           -> k8s.io
//	/kubepods[/<qos>]/pod<uid>/<id>         CRI, cgroupfs driver          -> k8s.io
//	/.../nerdctl-<id>.scope                 nerdctl, systemd driver       -> namespace ""
//
// Paths under systemd slices or services that are not container scopes
// (containerd.service, where shims live; user sessions) are not containers.
func ContainerFromCgroupPath(path string) (namespace, id string, ok bool) {
	var comps []string
	for _, c := range strings.Split(path, "/") {
		// A reader in a child cgroup namespace sees "/../.." above its root.
		if c == "" || (c == ".." && len(comps) == 0) {
			continue
		}
		comps = append(comps, c)
	}
	if len(comps) == 0 {
		return "", "", false
	}
	// Systemd scopes can sit at any depth below slices.
	for _, c := range comps {
		if base, ok := strings.CutSuffix(c, ".scope"); ok {
			for prefix, ns := range scopePrefixes {
				if id, ok := strings.CutPrefix(base, prefix+"-"); ok && validIdentifier(id) {
					return ns, id, true
				}
			}
			return "", "", false // a session, podman's libpod-*, init.scope...
		}
		if !isSystemdUnit(c) {
			break
		}
	}
	switch first := comps[0]; {
	case first == "kubepods":
		rest := comps[1:]
		if len(rest) > 0 && (rest[0] == "burstable" || rest[0] == "besteffort" || rest[0] == "guaranteed") {
			rest = rest[1:]
		}
		if len(rest) >= 2 && podRe.MatchString(rest[0]) && validIdentifier(rest[1]) {
			return NamespaceK8s, rest[1], true
		}
		return "", "", false
	case first == "docker":
		if len(comps) >= 2 && validIdentifier(comps[1]) {
			return NamespaceMoby, comps[1], true
		}
		return "", "", false
	case isSystemdUnit(first):
		return "", "", false
	}
	if len(comps) >= 2 && validIdentifier(comps[0]) && validIdentifier(comps[1]) {
		return comps[0], comps[1], true
	}
	return "", "", false
}

// isSystemdUnit reports a path component that is a systemd unit
// (foo.slice, foo.service, foo.scope, ...), never a containerd namespace.
func isSystemdUnit(c string) bool {
	for _, s := range []string{".slice", ".service", ".scope", ".socket", ".mount", ".swap"} {
		if strings.HasSuffix(c, s) {
			return true
		}
	}
	return false
}

// CgroupPathFromSpec turns an OCI spec's linux.cgroupsPath into the path
// the container's processes show in /proc/PID/cgroup, so a container can be
// matched exactly rather than by layout. runc reads "slice:prefix:name" as
// a systemd unit "prefix-name.scope" in the expanded slice
// ("a-b.slice" -> "/a.slice/a-b.slice"); anything else is a cgroupfs path.
// An empty cgroupsPath has no fixed answer (runc then picks one) and is an
// error.
func CgroupPathFromSpec(cgroupsPath string) (string, error) {
	if cgroupsPath == "" {
		return "", fmt.Errorf("empty cgroupsPath")
	}
	f := strings.Split(cgroupsPath, ":")
	if len(f) != 3 || strings.HasPrefix(cgroupsPath, "/") {
		if !strings.HasPrefix(cgroupsPath, "/") {
			// runc makes a relative cgroupfs path relative to its own
			// cgroup; the common case is the root.
			cgroupsPath = "/" + cgroupsPath
		}
		return cleanCgroupPath(cgroupsPath), nil
	}
	slice, prefix, name := f[0], f[1], f[2]
	if slice == "" {
		slice = "system.slice"
	}
	dir, err := expandSlice(slice)
	if err != nil {
		return "", fmt.Errorf("cgroupsPath %q: %w", cgroupsPath, err)
	}
	unit := name
	if !strings.HasSuffix(name, ".slice") {
		unit = name + ".scope"
		if prefix != "" {
			unit = prefix + "-" + unit
		}
	}
	return cleanCgroupPath(dir + "/" + unit), nil
}

func cleanCgroupPath(p string) string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return "/" + strings.Join(out, "/")
}

// expandSlice turns a systemd slice name into its cgroup path:
// "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice", "-.slice" -> "/".
func expandSlice(slice string) (string, error) {
	base, ok := strings.CutSuffix(slice, ".slice")
	if !ok || strings.Contains(base, "/") {
		return "", fmt.Errorf("invalid slice name %q", slice)
	}
	if base == "-" {
		return "/", nil
	}
	var b strings.Builder
	prefix := ""
	for _, part := range strings.Split(base, "-") {
		if part == "" {
			return "", fmt.Errorf("invalid slice name %q", slice)
		}
		b.WriteString("/" + prefix + part + ".slice")
		prefix += part + "-"
	}
	return b.String(), nil
}

// InCgroup reports whether a process with these cgroup lines is in the
// cgroup path or below it, in any hierarchy.
func InCgroup(lines []CgroupLine, path string) bool {
	path = cleanCgroupPath(path)
	for _, l := range lines {
		p := cleanCgroupPath(l.Path)
		if p == path || (path == "/" || strings.HasPrefix(p, path+"/")) {
			return true
		}
	}
	return false
}
