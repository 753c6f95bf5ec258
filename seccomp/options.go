package seccomp

import (
	"github.com/confinehq/confine/profiles"
	"github.com/confinehq/confine/seccomp/syscalls"
)

// ProfileOptions are the profile loading options that check syscall names
// with libseccomp and that the seccomp section generates a filter for this
// host: what the daemon and confinectl load profiles with.
func ProfileOptions() profiles.Options {
	return profiles.Options{
		KnownSyscall: syscalls.Known,
		CheckSeccomp: func(p *profiles.Profile) error {
			_, err := Generate(p, HostArch())
			return err
		},
	}
}
