#!/usr/bin/env bash
# runc-suite.sh — prepares runc's own integration suite (tests/integration,
# bats) to run on this machine without the network, and runs it.
#
#   scripts/runc-suite.sh prepare DIR     # DIR/runc: runc's source, helpers built, images made
#   scripts/runc-suite.sh run DIR RUNC OUT.tap   # bats over every .bats file, TAP into OUT.tap
#
# prepare fetches runc's module source ($RUNC_SUITE_VERSION, default v1.1.5;
# make test-matrix's current row runs its runc's own suite)
# with `go mod download`, as scripts/matrix.sh fetches releases, and copies it
# into DIR (the module cache stays read-only and untouched). It builds the
# suite's helpers (runc 1.1: recvtty, sd-helper, seccompagent in contrib/cmd;
# runc 1.2+: every tests/cmd/X into tests/cmd/_bin; -tags seccomp, -mod=mod:
# a module zip carries no vendor/), and writes the two image tarballs
# get-images.sh would download into tests/integration/testdata, built from
# Debian's busybox-static:
# busybox (a busybox root without /proc and /sys, as upstream's) and debian
# (the same plus Debian's static ldconfig and /etc/ld.so.conf, which
# hooks.bats needs).
#
# run runs bats with RUNC=RUNC and a fresh TMPDIR in /tmp, over every .bats
# file or the ones RUNC_SUITE_FILES names (e.g. "list.bats help.bats").
# Needs: bats, gawk, jq, script (bsdutils), gcc, busybox-static, xz-utils.
set -euo pipefail

GO=${GO:-go}
VERSION=${RUNC_SUITE_VERSION:-v1.1.5}

die() { echo "runc-suite.sh: $*" >&2; exit 1; }

prepare() {
	local dir=$1
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	local src=$dir/runc
	# Concurrent prepares of one cache directory would remove each other's work.
	exec 8>"$dir.lock"
	flock 8
	if [ -f "$dir/prepared" ]; then
		return
	fi
	local mod
	mod=$(cd "$dir" && GOFLAGS=-mod=mod "$GO" mod download -json "github.com/opencontainers/runc@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -n "$mod" ] && [ -d "$mod/tests/integration" ] || die "go mod download github.com/opencontainers/runc@$VERSION gave no source with tests/integration"
	rm -rf "$src"
	cp -r "$mod" "$src"
	chmod -R u+w "$src"
	# A module zip keeps no file modes: the suite's scripts need theirs.
	find "$src" -name '*.sh' -exec chmod +x {} +
	# The suite's helpers: runc 1.1 keeps them in contrib/cmd (next to
	# their sources), runc 1.2+ in tests/cmd/_bin.
	local c
	if [ -d "$src/tests/cmd" ]; then
		mkdir -p "$src/tests/cmd/_bin"
		for c in "$src"/tests/cmd/*/; do
			c=$(basename "$c")
			[ "$c" = _bin ] && continue
			(cd "$src" && CGO_ENABLED=1 "$GO" build -mod=mod -tags seccomp -o "tests/cmd/_bin/$c" "./tests/cmd/$c") ||
				die "building $c (needs libseccomp-dev)"
		done
	else
		for c in recvtty sd-helper seccompagent; do
			(cd "$src" && CGO_ENABLED=1 "$GO" build -mod=mod -tags seccomp -o "contrib/cmd/$c/$c" "./contrib/cmd/$c") ||
				die "building $c (needs libseccomp-dev)"
		done
	fi
	local arch
	arch=$("$GO" env GOARCH)
	local bb
	bb=$(command -v busybox) || die "busybox not found (apt-get install busybox-static)"
	file -L "$bb" | grep -q 'statically linked' || die "$bb is not static (apt-get install busybox-static)"
	local work=$dir/images
	rm -rf "$work" && mkdir -p "$work/busybox"
	local r=$work/busybox
	mkdir -p "$r"/{bin,dev,etc,home,root,tmp,usr/sbin,var/spool/mail,var/www}
	chmod 1777 "$r/tmp"
	cp "$bb" "$r/bin/busybox"
	local a
	for a in $("$bb" --list-full); do
		[ "$a" = bin/busybox ] && continue
		mkdir -p "$r/$(dirname "$a")"
		ln -f "$r/bin/busybox" "$r/$a" 2>/dev/null || ln -sf /bin/busybox "$r/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nbin:x:2:2:bin:/bin:/bin/false\nsys:x:3:3:sys:/dev:/bin/false\nsync:x:4:100:sync:/bin:/bin/sync\nmail:x:8:8:mail:/var/spool/mail:/bin/false\nwww-data:x:33:33:www-data:/var/www:/bin/false\noperator:x:37:37:Operator:/var:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$r/etc/passwd"
	printf 'root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\ntty:x:5:\ndisk:x:6:\nwheel:x:10:root\nmail:x:8:\nwww-data:x:33:\noperator:x:37:\nusers:x:100:\nnogroup:x:65534:\n' >"$r/etc/group"
	: >"$r/etc/shadow" && chmod 640 "$r/etc/shadow"
	tar --numeric-owner -C "$r" -cJf "$src/tests/integration/testdata/busybox-$arch.tar.xz" .
	# debian: the busybox root plus a static ldconfig that reads /etc/ld.so.conf.
	local d=$work/debian
	cp -a "$r" "$d"
	mkdir -p "$d/lib" "$d/sbin" "$d/etc/ld.so.conf.d" "$d/var/cache/ldconfig"
	rm -f "$d/sbin/ldconfig"
	cp /sbin/ldconfig "$d/sbin/ldconfig"
	file -L "$d/sbin/ldconfig" | grep -q 'static' || die "/sbin/ldconfig is not static"
	printf '/lib\n/usr/lib\ninclude /etc/ld.so.conf.d/*.conf\n' >"$d/etc/ld.so.conf"
	tar --numeric-owner -C "$d" -cJf "$src/tests/integration/testdata/debian-$arch.tar.xz" .
	rm -rf "$work"
	echo "$VERSION" >"$dir/prepared"
}

run() {
	local dir=$1 runc=$2 out=$3
	dir=$(cd "$dir" && pwd)
	local it=$dir/runc/tests/integration
	[ -d "$it" ] || die "run prepare first: no $it"
	# TMPDIR's parents must be traversable by other uids (the userns tests
	# map root to another uid): a fresh directory in /tmp, mode 755.
	local tmp
	tmp=$(mktemp -d /tmp/runc-suite.XXXXXX)
	chmod 755 "$tmp"
	# One run at a time on a host: the suite's containers and cgroups have
	# fixed names (test_busybox), so two runs would break each other.
	exec 9>/tmp/confine-runc-suite.lock
	flock 9
	local rc=0 files=()
	if [ -n "${RUNC_SUITE_FILES:-}" ]; then
		for f in $RUNC_SUITE_FILES; do files+=("$it/$f"); done
	else
		files=("$it"/*.bats)
	fi
	# script gives bats a controlling terminal: runc's default spec asks for one.
	(cd "$it" && TMPDIR=$tmp RUNC=$runc script -qefc "bats --tap $(printf '%q ' "${files[@]}")" /dev/null) >"$out" 2>&1 </dev/null || rc=$?
	rm -rf "$tmp"
	return $rc
}

case ${1:-} in
prepare) [ $# -eq 2 ] || die "usage: $0 prepare DIR"; prepare "$2" ;;
run) [ $# -eq 4 ] || die "usage: $0 run DIR RUNC OUT.tap"; run "$2" "$3" "$4" ;;
*) die "usage: $0 prepare DIR | run DIR RUNC OUT.tap" ;;
esac
