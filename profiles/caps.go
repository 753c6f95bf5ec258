package profiles

import (
	"strconv"
	"strings"
)

// capNames lists Linux capabilities by bit number (linux/capability.h).
var capNames = []string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
	"SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
	"IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
	"LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
	"WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
}

// NormalizeCapability turns "cap_net_raw", "CAP_NET_RAW" or "NET_RAW" into
// "NET_RAW".
func NormalizeCapability(name string) string {
	return strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(name)), "CAP_")
}

// CapabilityBit returns the bit number of a capability name (any of the
// forms NormalizeCapability accepts).
func CapabilityBit(name string) (int, bool) {
	n := NormalizeCapability(name)
	for i, c := range capNames {
		if c == n {
			return i, true
		}
	}
	return 0, false
}

// CapabilityName returns the name (without CAP_) of a capability bit, or
// "CAP_<n>" for bits this table does not know.
func CapabilityName(bit int) string {
	if bit >= 0 && bit < len(capNames) {
		return capNames[bit]
	}
	return "CAP_" + strconv.Itoa(bit)
}
