#!/usr/bin/env bash
# packaging/build.sh deb|rpm VERSION
#
# Builds dist/confine_<version>_<arch>.deb or .rpm from the binaries in bin/
# (`make deb` / `make rpm` run `make build` first) with nfpm, which is
# installed through the Go toolchain when missing (pinned below).
#
# VERSION is `git describe` output (or anything else); it becomes a package
# version that dpkg and rpm both order correctly:
#   v1.2.3                      -> 1.2.3
#   v1.2.3-rc.1                 -> 1.2.3~rc.1        (before 1.2.3)
#   v1.2.3-4-gabcdef0-dirty     -> 1.2.3+4.gabcdef0.dirty (after 1.2.3)
#   abcdef0 (no tag yet)        -> 0.0.0+gitabcdef0
#   0.0.0-dev                   -> 0.0.0~dev
#
# Environment: CONFINE_MAINTAINER ("Name <address>") overrides the package
# maintainer; GOARCH the target architecture (default: go env GOARCH);
# CONFINE_PKG_COMPRESSION another compression than xz (tests use gzip).
set -euo pipefail

NFPM_MODULE=github.com/goreleaser/nfpm/v2
NFPM_VERSION=v2.45.2

usage() {
	echo "usage: $0 deb|rpm VERSION" >&2
	exit 2
}
die() {
	echo "packaging/build.sh: $*" >&2
	exit 1
}

# pkg_version turns VERSION into a dpkg- and rpm-safe version.
pkg_version() {
	local v=${1#v} base rest pre="" commits="" hash="" dirty=""
	if [[ $v =~ ^([0-9a-f]{7,40})(-dirty)?$ ]]; then
		echo "0.0.0+git${BASH_REMATCH[1]}${BASH_REMATCH[2]:+.dirty}"
		return
	fi
	if [[ ! $v =~ ^([0-9]+(\.[0-9]+)*)(.*)$ ]]; then
		echo "0.0.0+$(echo "$v" | tr -c 'A-Za-z0-9.\n' '.')"
		return
	fi
	base=${BASH_REMATCH[1]}
	rest=${BASH_REMATCH[3]}
	if [[ $rest =~ ^(.*)-dirty$ ]]; then
		dirty=1
		rest=${BASH_REMATCH[1]}
	fi
	if [[ $rest =~ ^(.*)-([0-9]+)-g([0-9a-f]+)$ ]]; then
		rest=${BASH_REMATCH[1]}
		commits=${BASH_REMATCH[2]}
		hash=${BASH_REMATCH[3]}
	fi
	rest=${rest#[-+.~]}
	if [ -n "$rest" ]; then
		pre="~$(echo "$rest" | tr -c 'A-Za-z0-9.\n' '.')"
	fi
	v="$base$pre"
	if [ -n "$commits" ]; then
		v="$v+$commits.g$hash"
		[ -z "$dirty" ] || v="$v.dirty"
	elif [ -n "$dirty" ]; then
		v="$v+dirty"
	fi
	echo "$v"
}

[ $# -eq 2 ] || usage
if [ "$1" = "--print-version" ]; then # the version mapping alone, for checks
	pkg_version "$2"
	exit 0
fi
format=$1
raw_version=$2
case $format in deb | rpm) ;; *) usage ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

version=$(pkg_version "$raw_version")
goarch=${GOARCH:-$(go env GOARCH)}
case $format/$goarch in
rpm/amd64) file_arch=x86_64 ;;
rpm/arm64) file_arch=aarch64 ;;
rpm/386) file_arch=i386 ;;
*) file_arch=$goarch ;;
esac
maintainer=${CONFINE_MAINTAINER:-"confine maintainers <maintainers@confinehq.invalid>"}

# nfpm, pinned, in GOBIN (else GOPATH/bin).
gobin=$(go env GOBIN)
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
nfpm=$gobin/nfpm
if ! [ -x "$nfpm" ] || ! go version -m "$nfpm" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+$NFPM_MODULE[[:space:]]+$NFPM_VERSION([[:space:]]|$)"; then
	echo "installing nfpm $NFPM_VERSION into $gobin (go install)"
	GOFLAGS= CGO_ENABLED=0 go install "$NFPM_MODULE/cmd/nfpm@$NFPM_VERSION" ||
		die "installing nfpm failed: it comes from the Go module proxy ($NFPM_MODULE@$NFPM_VERSION)"
fi

# Stage what is generated: binaries, compressed man pages, the changelog.
for b in confined confine-runc confine-runc-full confine-hook confinectl confine-init; do
	[ -x "bin/$b" ] || die "bin/$b is missing: run make build (make $format does)"
done
# A stage of its own: two builds at once (tests) must not share one.
mkdir -p "$root/dist"
stage=$(mktemp -d "$root/dist/.stage-$format.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/man"
cp bin/confined bin/confine-runc bin/confine-runc-full bin/confine-hook bin/confinectl bin/confine-init "$stage/bin/"
for page in packaging/man/*.[0-9]; do
	gzip -9n <"$page" >"$stage/man/$(basename "$page").gz"
done

# lintian overrides (deb): an upstream package closes no Debian bug, and a
# confine-hook built without cgo and without -buildmode=pie is static on
# purpose (it runs on every container start).
{
	echo "# confine is packaged upstream: its first changelog entry closes no ITP bug."
	echo "confine: initial-upload-closes-no-bugs"
	if command -v file >/dev/null 2>&1 && file -b bin/confine-hook | grep -q "statically linked"; then
		echo "# confine-hook is pure Go (no cgo, no libc): static on purpose, it runs on every container start."
		echo "confine: statically-linked-binary [usr/bin/confine-hook]"
	fi
	if command -v file >/dev/null 2>&1 && file -b bin/confine-runc | grep -q "statically linked"; then
		echo "# confine-runc is pure Go (no cgo, no libc): static on purpose, it runs for every runc command."
		echo "confine: statically-linked-binary [usr/bin/confine-runc]"
	fi
	echo "# confine-init is bind-mounted into containers of any libc: static on purpose."
	echo "confine: statically-linked-binary [usr/bin/confine-init]"
} >"$stage/lintian-overrides"

# The newest glibc symbol version the cgo binaries need.
glibc=2.34
if command -v objdump >/dev/null 2>&1; then
	g=$(objdump -T bin/confined bin/confinectl bin/confine-runc 2>/dev/null |
		grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1 || true)
	[ -z "$g" ] || glibc=$g
fi

# Reproducible dates: the commit's time unless SOURCE_DATE_EPOCH says.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
{
	echo "confine ($version-1) unstable; urgency=medium"
	echo
	echo "  * Built from $raw_version by packaging/build.sh."
	echo
	echo " -- $maintainer  $(LC_ALL=C date -u -R -d "@$epoch")"
} | gzip -9n >"$stage/changelog.Debian.gz"

mkdir -p dist
target="dist/confine_${version}_${file_arch}.$format"
rm -f "$target"
# CONFINE_PKG_COMPRESSION (tests: gzip) trades size for build time.
config=packaging/nfpm.yaml
if [ -n "${CONFINE_PKG_COMPRESSION:-}" ]; then
	config=$stage/nfpm.yaml
	sed "s/^  compression: xz\$/  compression: $CONFINE_PKG_COMPRESSION/" packaging/nfpm.yaml >"$config"
fi
CONFINE_STAGE=$stage CONFINE_PKG_VERSION=$version CONFINE_ARCH=$goarch \
	CONFINE_GLIBC=$glibc CONFINE_MAINTAINER=$maintainer \
	"$nfpm" package --config "$config" --packager "$format" --target "$target"
rm -rf "$stage"
echo "built $target"
