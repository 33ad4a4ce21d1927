#!/usr/bin/env bash
# dump --kind node end to end: a real Node.js process, the real relay, agent
# and CLI on loopback.  Checks: the heap snapshot parses as JSON, has
# snapshot.meta and holds the string the test program built; the summary's
# sha256 is the file's; auto picks node; afterwards nothing listens on the
# inspector port (127.0.0.1:9229) — an inspector left open is an
# unauthenticated code-execution port; an inspector the app opened itself
# (node --inspect) is used and left open; and the faults, each 255 with a
# message naming the cause and nothing left listening: port 9229 taken by
# another process, an app that handles SIGUSR1 itself, the worker stopped
# (SIGTERM) while the snapshot is in flight; and an app in a network
# namespace of its own (the worker joins it).
#
# Every case here holds port 9229, so they all live in this one script and
# run one after the other.  Skips (77) only when node is missing.
. "$(dirname "$0")/lib.sh"

NODE=$(command -v node || command -v nodejs) || { echo "# skip: no node"; exit 77; }
JS=$(cd "$(dirname "$0")/../tools" && pwd)/porthole-heap-target.js
MARK=porthole-node-marker-$$-$RANDOM

port_free() { ! ss -Hltn 'sport = :9229' | grep -q .; }
# Port 9229 is this script's: anything else on it now is a broken machine.
if ! wait_for 60 port_free; then
	fail "port 9229 is held by another process: $(ss -Hltnp 'sport = :9229')"
	finish
fi

start_relay
start_agent e2e-node
mkdir -p "$T/out"

# start_node NAME [NODE OPTIONS...] -- [ARGS...]: sets NP.
start_node() {
	local name=$1 opts=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	"$NODE" "${opts[@]}" "$JS" "$@" >"$T/$name.out" 2>&1 &
	NP=$!
	PIDS+=("$NP")
	if ! wait_for 30 grep -q '^ready' "$T/$name.out"; then
		cat "$T/$name.out" >&2
		fail "$name: node did not start"
		return 1
	fi
}
alive() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
dead() { ! alive "$1"; }
# valid_snapshot FILE: JSON with snapshot.meta and the marker among its strings.
valid_snapshot() {
	python3 - "$1" "$MARK" <<-'EOF'
	import json, sys
	d = json.load(open(sys.argv[1]))
	assert d["snapshot"]["meta"]["node_fields"]
	assert any(sys.argv[2] in s for s in d["strings"])
	EOF
}

# 1. A snapshot through relay and CLI; the inspector closed again.
start_node main -- "$MARK" || finish
MAIN=$NP
out=$(cd "$T/out" && ph dump e2e-node "$MAIN" --kind node -o main.heapsnapshot 2>&1)
rc=$?
eq "node dump exits 0" "$rc" 0
[ $rc -eq 0 ] || echo "# $out"
check "the snapshot is JSON with snapshot.meta and holds the string" \
	valid_snapshot "$T/out/main.heapsnapshot"
sum=$(sha256sum "$T/out/main.heapsnapshot" 2>/dev/null | cut -d' ' -f1)
contains "the summary's sha256 is the file's" "$out" "sha256 $sum"
contains "the summary names the mode" "$out" "mode inspector"
check "the inspector was used (node said so)" grep -q 'Debugger listening' "$T/main.out"
check "afterwards nothing listens on 9229" wait_for 10 port_free
check "node still runs" alive "$MAIN"

# 2. auto picks node; and a second dump works the same way.
out=$(cd "$T/out" && ph dump e2e-node "$MAIN" -o auto.heapsnapshot 2>&1)
eq "auto: exits 0" "$?" 0
contains "auto: picks node" "$out" "kind node"
check "auto: a valid snapshot" valid_snapshot "$T/out/auto.heapsnapshot"
check "auto: afterwards nothing listens on 9229" wait_for 10 port_free
kill "$MAIN" 2>/dev/null

# 3. The app opened its inspector itself: used, and left open as found.
start_node inspect --inspect=127.0.0.1:9229 -- "$MARK" || finish
out=$(cd "$T/out" && ph dump e2e-node "$NP" --kind node -o inspect.heapsnapshot 2>&1)
eq "already open: exits 0" "$?" 0
contains "already open: says so" "$out" "already open"
check "already open: a valid snapshot" valid_snapshot "$T/out/inspect.heapsnapshot"
check "already open: still listening, as found" sh -c "ss -Hltn 'sport = :9229' | grep -q ."
kill "$NP" 2>/dev/null
check "already open: the port is free once the app is gone" wait_for 20 port_free

# 4. Port 9229 taken by another process: refused, node not signalled.
python3 -c 'import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 9229)); s.listen()
print("held", flush=True)
time.sleep(600)' >"$T/holder.out" 2>&1 &
HOLDER=$!
PIDS+=("$HOLDER")
check "port taken: the holder listens" wait_for 20 grep -q held "$T/holder.out"
start_node taken -- "$MARK" || finish
out=$(cd "$T/out" && ph dump e2e-node "$NP" --kind node -o taken.heapsnapshot 2>&1)
eq "port taken: exit 255" "$?" 255
contains "port taken: names the port" "$out" "port 9229 is taken by another process"
check "port taken: no file written" test ! -e "$T/out/taken.heapsnapshot"
check "port taken: node listens on nothing" sh -c "! grep -q Debugger '$T/taken.out'"
kill "$HOLDER" "$NP" 2>/dev/null
check "port taken: free again" wait_for 20 port_free

# 5. An app that handles SIGUSR1 itself: the inspector never comes up.
start_node usr1 -- "$MARK" usr1 || finish
out=$(cd "$T/out" && ph dump e2e-node "$NP" --kind node -o usr1.heapsnapshot 2>&1)
eq "SIGUSR1 handled: exit 255" "$?" 255
contains "SIGUSR1 handled: says why" "$out" "handles SIGUSR1 itself"
check "SIGUSR1 handled: no file written" test ! -e "$T/out/usr1.heapsnapshot"
check "SIGUSR1 handled: nothing listens on 9229" port_free
check "SIGUSR1 handled: the app saw its signal and runs on" \
	grep -q 'SIGUSR1 handled by the app' "$T/usr1.out"
check "SIGUSR1 handled: node still runs" alive "$NP"
kill "$NP" 2>/dev/null

# 6. The worker stopped (SIGTERM) once connected to the inspector, while
# its output is a pipe nobody reads: it ends at once, and the inspector is
# closed all the same (by its closer, once Node has ended the snapshot).
start_node cancel -- "$MARK" plain 300000 || finish
CAN=$NP
mkfifo "$T/fifo"
"$AGENT_BIN" --op-dump --kind node --pid "$CAN" >"$T/fifo" 2>"$T/cancel.err" &
WK=$!
PIDS+=("$WK")
exec 7<"$T/fifo"	# opened, never read
check "cancel: the worker connects to the inspector" \
	wait_for 60 grep -q 'Debugger attached' "$T/cancel.out"
kill -TERM "$WK"
check "cancel: the worker ends" wait_for 10 dead "$WK"
exec 7<&-
check "cancel: the inspector is closed again" wait_for 120 port_free
check "cancel: node still runs" alive "$CAN"
check "cancel: no closer left behind" wait_for 30 \
	sh -c "! pgrep -f -- '--op-dump --kind node --pid $CAN\$' >/dev/null"
kill "$CAN" 2>/dev/null

# 7. The app in a network namespace of its own (a sidecar on a host): the
# worker joins it (setns) to reach 127.0.0.1:9229 there.  Needs
# CAP_SYS_ADMIN; skipped without it.
if unshare -n true 2>/dev/null && command -v ip >/dev/null; then
	cat >"$T/netns.sh" <<-'EOF'
	#!/bin/sh
	ip link set lo up || exit 1
	exec "$@"
	EOF
	chmod +x "$T/netns.sh"
	unshare -n "$T/netns.sh" "$NODE" "$JS" "$MARK" >"$T/netns.out" 2>&1 &
	NP=$!
	PIDS+=("$NP")
	if wait_for 30 grep -q '^ready' "$T/netns.out"; then
		out=$(cd "$T/out" && ph dump e2e-node "$NP" --kind node -o netns.heapsnapshot 2>&1)
		eq "own network namespace: exits 0" "$?" 0
		check "own network namespace: a valid snapshot" \
			valid_snapshot "$T/out/netns.heapsnapshot"
		check "own network namespace: nothing listens there afterwards" \
			sh -c "! nsenter -t $NP -n ss -Hltn 'sport = :9229' | grep -q ."
	else
		fail "own network namespace: node did not start"
	fi
	kill "$NP" 2>/dev/null
else
	log "no network namespaces here: the setns case is skipped"
fi

finish
