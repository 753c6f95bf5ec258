#!/bin/sh
# capture.sh DEST PID... copies the parts of /proc/PID that monitor/proc reads
# into DEST/PID, keeping symlinks as symlinks (their targets are what the
# kernel reported). Run as root. Review the result before committing: trim
# net/* to the lines a test needs and scrub anything host-specific.
set -eu
dest=$1; shift
for pid in "$@"; do
	src=/proc/$pid
	d=$dest/$pid
	mkdir -p "$d/fd" "$d/fdinfo" "$d/ns" "$d/net"
	for f in stat status cgroup comm; do
		cat "$src/$f" > "$d/$f"
	done
	for l in exe root cwd ns/net ns/mnt ns/pid; do
		t=$(readlink "$src/$l" 2>/dev/null) || continue
		ln -sfn "$t" "$d/$l"
	done
	for fd in "$src"/fd/*; do
		[ -e "$fd" ] || [ -L "$fd" ] || continue
		n=${fd##*/}
		t=$(readlink "$fd" 2>/dev/null) || continue
		ln -sfn "$t" "$d/fd/$n"
		cat "$src/fdinfo/$n" > "$d/fdinfo/$n" 2>/dev/null || true
	done
	for f in tcp tcp6 udp udp6; do
		cat "$src/net/$f" > "$d/net/$f" 2>/dev/null || true
	done
done
