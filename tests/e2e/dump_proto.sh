#!/usr/bin/env bash
# How a dump's events travel, by the session's protocol (docs/protocol.md,
# "dump" and "Versions"): an agent of protocol 3 sends a CLI of 3 the
# worker's start, progress, done and error as CONTROL `meta` {phase} and
# `progress` messages and no event line on STDERR; to a CLI of 2 (a raw
# client whose open says proto 2, and the CLI itself with the test-only
# PORTHOLE_TEST_PROTOCOL=2) it still sends the JSON event lines on STDERR
# and no `progress`/`meta`.  The CLI reads either way: both dumps are
# written, their summary names the kind and mode "start" gave, and an
# error event reaches the operator.
. "$(dirname "$0")/lib.sh"

start_relay
start_agent e2e-dproto

W=$T/out
mkdir "$W"
cd "$W" || exit 1

sleep 3600 &
TGT=$!
PIDS+=("$TGT")
# A pid that is gone.  (Not `sleep & kill`: a kill that lands before the
# forked shell exec'd sleep runs this script's EXIT trap there, which
# removes $T.)
true &
GONE=$!
wait "$GONE"

agent_id=$(ph ls --json | jq -r '.agents[] | select(.name == "e2e-dproto") | .id')
# probe_open MEMBERS: a dump open signed as the CLI signs it, its frames printed.
probe_open() {
	local sid
	sid=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	"$PROBE_BIN" --url "wss://127.0.0.1:$PORT/v1/session" --ca "$PORTHOLE_CA" \
		--token "$PORTHOLE_TOKEN" --proto porthole.session.v1 --wait-ms 60000 \
		--show-stderr --sign "$PORTHOLE_KEY" \
		--ctl "{\"type\":\"open\",\"sid\":\"$sid\",\"agent\":\"$agent_id\",\"op\":\"dump\",$1}"
}
ctl() { grep '^recv CONTROL ' "$1" | sed 's/^recv CONTROL //'; }

# 1. Protocol 3: CONTROL messages, no event lines.
probe_open "\"pid\":$TGT,\"kind\":\"core\",\"proto\":3" >"$T/p3.out" 2>&1
log "protocol 3: $(grep -c . "$T/p3.out") lines"
eq "protocol 3: the dump ends with exit 0" \
	"$(ctl "$T/p3.out" | jq -c 'select(.type == "exit") | .code')" 0
eq "protocol 3: meta start names the kind" \
	"$(ctl "$T/p3.out" | jq -r 'select(.type == "meta" and .phase == "start") | .kind')" core
method=$(ctl "$T/p3.out" | jq -r 'select(.type == "meta" and .phase == "start") | .method')
check "protocol 3: meta start names the method ($method)" grep -Eqx "snapshot|freeze" <<<"$method"
size=$(ctl "$T/p3.out" | jq -r 'select(.type == "meta" and .phase == "done") | .size')
check "protocol 3: meta done gives the size" test "${size:-0}" -gt 0
eq "protocol 3: the last progress is the whole file" \
	"$(ctl "$T/p3.out" | jq -c 'select(.type == "progress") | [.done, .total]' | tail -1)" \
	"[$size,$size]"
check "protocol 3: no event line on STDERR" sh -c "! grep -q '^recv STDERR ' '$T/p3.out'"
probe_open "\"pid\":$GONE,\"kind\":\"core\",\"proto\":3" >"$T/p3e.out" 2>&1
eq "protocol 3: an error is a meta" \
	"$(ctl "$T/p3e.out" | jq -r 'select(.type == "meta" and .phase == "error") | .code')" \
	no_such_process

# 2. Protocol 2: the event lines on STDERR, no progress or meta.
probe_open "\"pid\":$TGT,\"kind\":\"core\",\"proto\":2" >"$T/p2.out" 2>&1
eq "protocol 2: the dump ends with exit 0" \
	"$(ctl "$T/p2.out" | jq -c 'select(.type == "exit") | .code')" 0
contains "protocol 2: the start event on STDERR" "$(cat "$T/p2.out")" \
	'recv STDERR {"event":"start","kind":"core"'
contains "protocol 2: the done event on STDERR" "$(cat "$T/p2.out")" '{"event":"done","bytes":'
check "protocol 2: no progress or meta" sh -c \
	"! grep -Eq '^recv CONTROL \\{\"type\":\"(progress|meta)\"' '$T/p2.out'"
probe_open "\"pid\":$GONE,\"kind\":\"core\",\"proto\":2" >"$T/p2e.out" 2>&1
contains "protocol 2: an error is an event line" "$(cat "$T/p2e.out")" \
	'{"event":"error","code":"no_such_process"'

# 3. The CLI, either way.
for p in 3 2; do
	PORTHOLE_TEST_PROTOCOL=$p ph dump e2e-dproto "$TGT" --kind core -o "core.$p" 2>"$T/cli$p.err"
	eq "CLI of $p: dump exit 0" $? 0
	check "CLI of $p: the file is there" test -s "core.$p"
	contains "CLI of $p: the summary names the kind" "$(cat "$T/cli$p.err")" "kind core, mode "
	check "CLI of $p: and the mode" grep -Eq "mode (snapshot|freeze)" "$T/cli$p.err"
	PORTHOLE_TEST_PROTOCOL=$p ph dump e2e-dproto "$GONE" --kind core -o "gone.$p" 2>"$T/cli$p-gone.err"
	eq "CLI of $p: a gone pid is 255" $? 255
	contains "CLI of $p: the worker's error reaches the operator" \
		"$(cat "$T/cli$p-gone.err")" "no such process"
done
contains "the agent sent the CLI of 3 CONTROL events" "$(cat "$T/agent-e2e-dproto.err")" \
	"events as CONTROL progress/meta"
contains "and the CLI of 2 STDERR lines" "$(cat "$T/agent-e2e-dproto.err")" \
	"events as STDERR lines (protocol 2)"
finish
