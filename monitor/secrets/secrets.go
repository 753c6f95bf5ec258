// Package secrets is confine's built-in list of credential files: files
// whose every open by a container process is an alert (CONFINE_RULE
// secret), in every mode and every profile, baseline included, even when
// learning saw the read. A profile takes a path out with secrets.ignore.
//
// The list is of container paths, with `*` matching within one path
// segment. Besides these files, opens of /proc/N/environ and /proc/N/mem
// (also below /proc/N/task/M/) of a process other than the opener are
// secret reads: another process's environment holds its tokens, its
// memory everything else.
package secrets

import (
	"path"
	"strconv"
	"strings"

	"github.com/confinehq/confine/internal/glob"
)

// Files are the credential files watched in every container.
var Files = []string{
	// Local accounts and privilege configuration.
	"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-",
	"/etc/sudoers", "/etc/sudoers.d/*", "/etc/security/opasswd",
	// SSH: host keys, users' private keys and authorized keys.
	"/etc/ssh/ssh_host_*_key",
	"/root/.ssh/id_*", "/root/.ssh/authorized_keys", "/root/.ssh/authorized_keys2",
	"/home/*/.ssh/id_*", "/home/*/.ssh/authorized_keys", "/home/*/.ssh/authorized_keys2",
	// TLS private keys in the distribution's place for them.
	"/etc/ssl/private/*", "/etc/pki/tls/private/*",
	// Cloud and registry credentials, cluster configuration.
	"/root/.aws/credentials", "/home/*/.aws/credentials",
	"/root/.config/gcloud/credentials.db", "/home/*/.config/gcloud/credentials.db",
	"/root/.config/gcloud/application_default_credentials.json", "/home/*/.config/gcloud/application_default_credentials.json",
	"/root/.azure/accessTokens.json", "/home/*/.azure/accessTokens.json",
	"/root/.docker/config.json", "/home/*/.docker/config.json",
	"/root/.kube/config", "/home/*/.kube/config",
	"/root/.netrc", "/home/*/.netrc", "/root/.git-credentials", "/home/*/.git-credentials",
	"/root/.pgpass", "/home/*/.pgpass",
	// Kubernetes service-account tokens, Docker and Compose secrets.
	"/var/run/secrets/kubernetes.io/serviceaccount/token",
	"/run/secrets/kubernetes.io/serviceaccount/token",
	"/run/secrets/*",
}

// List is a set of secret patterns a profile leaves watched.
type List struct {
	files  []string
	ignore []*glob.Pattern
}

// New returns the built-in list minus the profile's secrets.ignore globs
// (patterns that do not compile are ignored here: profile validation
// reports them).
func New(ignore []string) *List {
	l := &List{}
	for _, s := range ignore {
		if p, err := glob.Compile(s); err == nil {
			l.ignore = append(l.ignore, p)
		}
	}
	for _, f := range Files {
		if !l.Ignored(f) {
			l.files = append(l.files, f)
		}
	}
	return l
}

// Patterns are the file patterns to watch.
func (l *List) Patterns() []string { return append([]string(nil), l.files...) }

// Ignored reports a path the profile opted out of.
func (l *List) Ignored(p string) bool {
	for _, g := range l.ignore {
		if g.Match(p) || g.String() == p {
			return true
		}
	}
	return false
}

// Match reports whether an open of p (a container path) is a secret read,
// pid being the opener's PID in the container's PID namespace (0 when not
// known: then any process's environ or mem counts).
func (l *List) Match(p string, pid int) bool {
	if l.Ignored(p) {
		return false
	}
	if target, ok := ProcTarget(p); ok {
		return pid == 0 || target != pid
	}
	for _, f := range l.files {
		if ok, _ := path.Match(f, p); ok {
			return true
		}
	}
	return false
}

// ProcTarget parses /proc/N/environ, /proc/N/mem and the same below
// /proc/N/task/M/, returning N.
func ProcTarget(p string) (int, bool) {
	rest, ok := strings.CutPrefix(p, "/proc/")
	if !ok {
		return 0, false
	}
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 2:
	case len(parts) == 4 && parts[1] == "task":
		if _, err := strconv.Atoi(parts[2]); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if last := parts[len(parts)-1]; last != "environ" && last != "mem" {
		return 0, false
	}
	n, err := strconv.Atoi(parts[0])
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}
