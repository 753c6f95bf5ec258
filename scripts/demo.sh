#!/usr/bin/env bash
# demo.sh — confine's main job in three minutes, on a private containerd:
# learn a small web workload, promote the learned profile, enforce it, break
# it, and show the kill and its alert as journald has it. Everything it
# starts it stops by PID; nothing of the host's containerd or Docker is
# touched. Run as root: sudo make demo.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${CONFINE_BIN:-$REPO/bin}
DIR=$(mktemp -d /tmp/cfdemo.XXXXXX)
export CONFINE_CONFIG=$DIR/confine.toml
export NS=demo
IMAGE=localhost/busybox:confine
ID=web-$RANDOM$RANDOM
CONFINED_PID=""
JOURNALD_PID=""

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

cleanup() {
	set +e
	ctr_ task kill -s SIGKILL "$ID" >/dev/null 2>&1
	sleep 0.3
	ctr_ task delete "$ID" >/dev/null 2>&1
	ctr_ container delete "$ID" >/dev/null 2>&1
	if [ -n "$CONFINED_PID" ]; then kill -TERM "$CONFINED_PID" 2>/dev/null; wait "$CONFINED_PID" 2>/dev/null; fi
	"$REPO/scripts/testbed.sh" stop "$DIR/cd" >/dev/null 2>&1
	if [ -n "$JOURNALD_PID" ]; then kill -TERM "$JOURNALD_PID" 2>/dev/null; wait "$JOURNALD_PID" 2>/dev/null; fi
	rm -rf "$DIR"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || die "run as root: sudo make demo"
for b in confined confine-runc confine-hook confinectl; do
	[ -x "$BIN/$b" ] || die "$BIN/$b missing: run make build"
done

ctr_() { ctr -a "$DIR/cd/containerd.sock" -n "$NS" "$@"; }
ctl() { "$BIN/confinectl" "$@"; }

step "1. A private containerd (its own root, state and socket in $DIR/cd), busybox image imported"
"$REPO/scripts/testbed.sh" start "$DIR/cd" >/dev/null
info "containerd at $DIR/cd/containerd.sock, image $IMAGE"

step "2. journald: alerts go there"
# A stopped journald leaves its socket file behind: ask it, don't stat it.
if ! echo "confine demo" | systemd-cat -t confine-demo >/dev/null 2>&1; then
	/lib/systemd/systemd-journald >/dev/null 2>&1 &
	JOURNALD_PID=$!
	for _ in $(seq 50); do [ -S /run/systemd/journal/socket ] && break; sleep 0.1; done
	info "started systemd-journald by hand (pid $JOURNALD_PID): this host's PID 1 is not systemd"
else
	info "using the running journald"
fi

step "3. confined on its embedded defaults (only paths point into the demo directory)"
mkdir -p "$DIR/profiles.d"
cat >"$CONFINE_CONFIG" <<EOF
containerd_address = "$DIR/cd/containerd.sock"
runc_path = "$(command -v runc)"
hook_path = "$BIN/confine-hook"
profiles_dir = "$DIR/profiles.d"
state_dir = "$DIR/state"
run_dir = "$DIR/run"
alert_sinks = ["journald", "jsonl:$DIR/alerts.jsonl"]
rescan_interval = "500ms"
EOF
# A profile to learn into: a name, a selector, and what operator sessions
# (ctr task exec, docker exec) may do: run under the profile, reported
# instead of killed.
cat >"$DIR/profiles.d/web.yaml" <<'EOF'
apiVersion: confine/v1
name: web
mode: learn
selector:
  labels: {app: web}
execSessions: audit
EOF
"$BIN/confined" >"$DIR/confined.log" 2>&1 &
CONFINED_PID=$!
for _ in $(seq 100); do ctl status >/dev/null 2>&1 && break; sleep 0.1; done
ctl status | sed 's/^/    /'

# The workload also runs /tmp/payload/busybox once something has dropped it
# there (never while learning): how a compromised workload runs a payload.
WORKLOAD='httpd -p 8080 -h /www; while true; do wget -q -O /dev/null http://127.0.0.1:8080/; ls /www >/dev/null; [ -f /tmp/payload/busybox ] && /tmp/payload/busybox ls /www >/dev/null; sleep 0.2; done'

step "4. Learn: the web workload (busybox httpd + a client loop) runs in learn mode for 6 s"
ctr_ run -d --runc-binary "$BIN/confine-runc" --label app=web "$IMAGE" "$ID" sh -c "$WORKLOAD" >/dev/null
sleep 6
ctl ps | sed 's/^/    /'
ctr_ task kill -s SIGKILL "$ID" >/dev/null; sleep 0.5
ctr_ task delete "$ID" >/dev/null 2>&1 || true
ctr_ container delete "$ID" >/dev/null
sleep 1
info "learned profile ($DIR/state/learned/web.yaml):"
sed 's/^/      /' "$DIR/state/learned/web.yaml"

step "5. Promote it to enforce"
ctl profile promote web --mode enforce | sed 's/^/    /'

step "6. Enforce: the same workload runs under the learned profile"
ID=web-$RANDOM$RANDOM
ctr_ run -d --runc-binary "$BIN/confine-runc" --label app=web "$IMAGE" "$ID" sh -c "$WORKLOAD" >/dev/null
sleep 4
ctl ps | sed 's/^/    /'
status=$(ctr_ task ls | awk -v id="$ID" '$1==id {print $3}')
[ "$status" = RUNNING ] || die "the learned profile did not run the workload (status $status); see $DIR/confined.log"
info "still $status after 4 s: zero violations"

step "7. A violation: a binary dropped into /tmp (an operator session, ctr task exec) and run by the workload"
info "the session runs under execSessions: audit: what it does is reported (one thread, CONFINE_SESSION), not killed"
ctr_ task exec --exec-id evil "$ID" sh -c 'mkdir -p /tmp/payload && cp /bin/busybox /tmp/payload/busybox && echo dropped' 2>&1 | sed 's/^/    session: /' || true
for _ in $(seq 50); do
	status=$(ctr_ task ls | awk -v id="$ID" '$1==id {print $3}')
	[ "$status" = STOPPED ] && break
	sleep 0.1
done
ctr_ task ls | sed 's/^/    /'
[ "$status" = STOPPED ] || die "the container was not killed"
ctl ps | sed 's/^/    /'

step "8. The alerts, as journald has them"
sleep 0.5
info "the operator session, one thread:"
grep "\"container_id\":\"$ID\"" "$DIR/alerts.jsonl" | grep '"session"' | sed 's/.*"message":"\([^"]*\)".*/      \1/' || true
info "the kill: the workload ran the dropped binary"
journalctl --no-pager -o verbose SYSLOG_IDENTIFIER=confined CONFINE_CONTAINER_ID="$ID" CONFINE_EVENT=kill 2>/dev/null | sed 's/^/    /' || true
if ! journalctl --no-pager SYSLOG_IDENTIFIER=confined CONFINE_CONTAINER_ID="$ID" 2>/dev/null | grep -q killed; then
	info "(journald did not return the entry; the jsonl sink has it:)"
	grep "\"container_id\":\"$ID\"" "$DIR/alerts.jsonl" | sed 's/^/    /'
fi

step "Done: learned, promoted, enforced, a violation killed and reported. Cleaning up."
