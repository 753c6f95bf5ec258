#!/usr/bin/env bash
# matrix.sh — the root test suite against each containerd/runc pair of the
# compatibility matrix (`make test-matrix`, as root).
#
# Rows:
#   debian   containerd 1.6.20 + runc 1.1.5, as Debian 12 ships them
#   current  containerd $CONTAINERD_VERSION + runc $RUNC_VERSION, built here with
#            the Go toolchain (`go install`; runc with -tags seccomp, without
#            which it builds but applies no seccomp filter at all)
#
# Built binaries are cached in $CONFINE_MATRIX_CACHE (default
# ~/.cache/confine-matrix/<name>-<version>/) and reused by later runs.
# A row runs with its binaries first in PATH (so containerd finds its own
# shim, the shim its runc) and with CONFINE_CONTAINERD, CONFINE_CTR and
# CONFINE_RUNC naming them (the testbed and the e2e configs read those).
#
#   MATRIX="debian current"   rows to run (default both)
#   PKGS="./..."              packages to test (default every package)
#   RUN=regexp                passed to go test -run
# Each row's log is in $OUT/<row>.log (default dist/matrix); a table of
# packages and results is printed at the end. The exit status is non-zero
# when any row failed.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
GO=${GO:-go}
CONTAINERD_VERSION=${CONTAINERD_VERSION:-v2.4.2}
RUNC_VERSION=${RUNC_VERSION:-v1.4.4}
CACHE=${CONFINE_MATRIX_CACHE:-${HOME:-/root}/.cache/confine-matrix}
MATRIX=${MATRIX:-debian current}
PKGS=${PKGS:-./...}
OUT=${OUT:-$REPO/dist/matrix}
RUN=${RUN:-}

die() { echo "matrix.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (the suite starts containerd and runc)"

# build_containerd puts containerd, containerd-shim-runc-v2 and ctr of
# $CONTAINERD_VERSION in $CACHE/containerd-$CONTAINERD_VERSION.
build_containerd() {
	local dir=$CACHE/containerd-$CONTAINERD_VERSION
	if [ -x "$dir/containerd" ] && [ -x "$dir/containerd-shim-runc-v2" ] && [ -x "$dir/ctr" ]; then
		echo "$dir"; return
	fi
	echo "matrix: building containerd $CONTAINERD_VERSION into $dir (cached for later runs)" >&2
	mkdir -p "$dir.tmp"
	local m=github.com/containerd/containerd/v2/cmd
	GOBIN=$dir.tmp CGO_ENABLED=1 "$GO" install \
		"$m/containerd@$CONTAINERD_VERSION" "$m/containerd-shim-runc-v2@$CONTAINERD_VERSION" "$m/ctr@$CONTAINERD_VERSION" >&2
	rm -rf "$dir" && mv "$dir.tmp" "$dir"
	echo "$dir"
}

# build_runc puts runc $RUNC_VERSION, with seccomp, in $CACHE/runc-$RUNC_VERSION.
build_runc() {
	local dir=$CACHE/runc-$RUNC_VERSION
	if [ -x "$dir/runc" ]; then
		echo "$dir"; return
	fi
	echo "matrix: building runc $RUNC_VERSION (-tags seccomp) into $dir (cached for later runs)" >&2
	mkdir -p "$dir.tmp"
	GOBIN=$dir.tmp CGO_ENABLED=1 "$GO" install -tags seccomp "github.com/opencontainers/runc@$RUNC_VERSION" >&2
	rm -rf "$dir" && mv "$dir.tmp" "$dir"
	echo "$dir"
}

mkdir -p "$OUT"
declare -A result
rows=()
for row in $MATRIX; do
	suite=v1.1.5 # runc's own integration suite, run by TestRuncIntegrationSuite: the row's runc's
	case $row in
	debian)
		# Debian's packages, as make test uses them (runc is in /usr/sbin).
		bindir=$CACHE/bin-debian
		mkdir -p "$bindir"
		for b in containerd containerd-shim-runc-v2 ctr runc; do
			p=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v "$b") || die "$b not installed: run make deps"
			ln -sf "$p" "$bindir/$b"
		done
		;;
	current)
		cdir=$(build_containerd)
		rdir=$(build_runc)
		bindir=$CACHE/bin-$CONTAINERD_VERSION-$RUNC_VERSION
		mkdir -p "$bindir"
		for b in containerd containerd-shim-runc-v2 ctr; do ln -sf "$cdir/$b" "$bindir/$b"; done
		ln -sf "$rdir/runc" "$bindir/runc"
		suite=$RUNC_VERSION
		;;
	*) die "unknown row $row (debian, current)" ;;
	esac
	"$bindir/runc" --version | grep -qi seccomp || die "$bindir/runc has no seccomp support"
	versions="containerd $("$bindir/containerd" --version | awk '{print $3}'), runc $("$bindir/runc" --version | awk 'NR==1{print $3}')"
	echo "== matrix row $row: $versions"
	log=$OUT/$row.log
	set +e
	PATH=$bindir:$PATH CONFINE_CONTAINERD=$bindir/containerd CONFINE_CTR=$bindir/ctr CONFINE_RUNC=$bindir/runc \
		CONFINE_RUNC_SUITE_VERSION=$suite CONFINE_BIN=$REPO/bin CONFINE_REQUIRE_ROOT=1 \
		"$GO" test -count=1 -p 1 -timeout 45m ${RUN:+-run "$RUN"} $PKGS 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	set -e
	rows+=("$row")
	result[$row]="$rc|$versions"
done

echo
echo "== compatibility matrix"
printf '%-8s %-44s %s\n' row versions result
fail=0
for row in "${rows[@]}"; do
	rc=${result[$row]%%|*}
	v=${result[$row]#*|}
	if [ "$rc" = 0 ]; then r=pass; else r="FAIL (see $OUT/$row.log)"; fail=1; fi
	printf '%-8s %-44s %s\n' "$row" "$v" "$r"
	grep -E '^(--- FAIL|FAIL)' "$OUT/$row.log" | sed 's/^/           /' || true
done
exit $fail
