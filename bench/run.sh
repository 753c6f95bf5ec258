#!/usr/bin/env bash
# make bench: every side-by-side measurement in one run. Paste the output
# into bench/RESULTS.md with the date and the machine line.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "# confine benchmarks — $(date -u +%Y-%m-%dT%H:%MZ) — $(uname -r), $(nproc) cores, $(containerd --version | awk '{print $3}'), runc $(runc --version | awk 'NR==1{print $3}')"
export CONFINE_BENCH=1 CONFINE_BIN=${CONFINE_BIN:-$PWD/bin} CONFINE_REQUIRE_ROOT=1
go test -count=1 -timeout 60m -run 'TestBench' -v ./... 2>&1 | grep -v -E '^(=== RUN|--- PASS|PASS|ok |\?|\s+time=|testing: warning)' || true
