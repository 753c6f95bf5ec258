// Package profilecheck gives the profile loading options that confine's
// daemon and CLI use: syscall names checked with libseccomp, and the
// seccomp section turned into a filter for this host.
package profilecheck

import (
	"github.com/confinehq/confine/profiles"
	"github.com/confinehq/confine/seccomp"
	"github.com/confinehq/confine/seccomp/syscalls"
)

// Options are the profile loading options that check syscall names
// with libseccomp and that the seccomp section generates a filter for this
// host: what the daemon and confinectl load profiles with.
func Options() profiles.Options {
	return profiles.Options{
		KnownSyscall: syscalls.Known,
		CheckSeccomp: func(p *profiles.Profile) error {
			_, err := seccomp.Generate(p, seccomp.HostArch())
			return err
		},
	}
}
