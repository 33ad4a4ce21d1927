#!/usr/bin/env bash
# One token subject cannot take all of an agent's sessions (issue 14,
# finding 5).  With --max-sessions-per-agent 4 the per-subject limit is 2
# (half, the default): the viewer holds two `mem --every 1h` sessions; its
# third and fourth are refused with a message naming --max-sessions-per-sub
# and its subject; the refusals are audited and counted in /metrics; the
# operator's sessions still open beside them, up to the agent's limit; and a
# viewer session opens again once one of its own has ended.
# PORTHOLE_MAX_SESSIONS_PER_SUB sets the limit too, and a bad value stops
# the relay with one line.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null || { fail "curl is not installed"; finish; }

start_relay --max-sessions-per-agent 4
start_agent e2e-sub
URL=https://127.0.0.1:$PORT

# The CLI with the viewer's token (env execs it: in the background, $! is the CLI).
VIEWER=(env "PORTHOLE_TOKEN=@$STATE/viewer.token" "PORTHOLE_KEY=$STATE/viewer.key" "$CLI_BIN")
# limit_refusals: porthole_relay_refusals_total{reason="limit"} now.
limit_refusals() {
	curl -sf --max-time 20 --cacert "$PORTHOLE_CA" "$URL/metrics" |
		awk '$1 == "porthole_relay_refusals_total{reason=\"limit\"}" { v = $2 } END { print v + 0 }'
}
limit_refusals_are() { [ "$(limit_refusals)" -eq "$1" ]; }
# refused_count SUB: the audit stream's `refused` lines with code limit for SUB.
refused_count() {
	jq -c --arg s "$1" 'select(.event == "refused" and .code == "limit" and .sub == $s)' \
		"$T/relay.out" 2>/dev/null | wc -l
}
refused_at_least() { [ "$(refused_count "$1")" -ge "$2" ]; }
# gone PID: the process has exited (no entry, or a zombie not waited for yet).
gone() { [ ! -e "/proc/$1" ] || [ "$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat")" = Z ]; }
running() { ! gone "$1"; }
# settled FILE PID: the viewer's mem sampled once, or its CLI has exited.
settled() { test -s "$1" || gone "$2"; }
# status PID: sets rc to its exit status once it has exited, or "running".
status() { if wait_for 30 gone "$1"; then wait "$1"; rc=$?; else rc=running; fi; }

contains "the relay says its limits" "$(cat "$T/relay.err")" \
	"4 sessions per agent, 2 per token subject on one agent"
lim0=$(limit_refusals)

# The viewer's sessions, one after the other: mem of the agent's own pid, hourly.
for i in 1 2 3 4; do
	"${VIEWER[@]}" mem e2e-sub "$AGENT_PID" --every 1h --json >"$T/v$i.out" 2>"$T/v$i.err" &
	eval "V$i=\$!"
	PIDS+=("$!")
	check "viewer session $i settled" wait_for 30 settled "$T/v$i.out" "$!"
done
check "the viewer's first session runs" running "$V1"
check "the viewer's second session runs" running "$V2"
status "$V3"; eq "the viewer's third session is refused: exit 255" "$rc" 255
status "$V4"; eq "the viewer's fourth session is refused: exit 255" "$rc" 255
contains "the refusal names the limit" "$(cat "$T/v3.err")" "--max-sessions-per-sub"
contains "... and whose sessions they are" "$(cat "$T/v3.err")" "dev-viewer already has 2 open sessions"
contains "the refusal starts with porthole:" "$(cat "$T/v3.err")" "porthole: "
check "mem's refusal says words, not the raw code" sh -c "! grep -q '(limit)' '$T/v3.err'"
contains "... and what to do" "$(cat "$T/v3.err")" "try again once other sessions have ended"
"${VIEWER[@]}" ps e2e-sub >/dev/null 2>"$T/vps.err"; eq "the viewer's ps is refused too: exit 255" $? 255
check "ps's refusal says words, not the raw code" sh -c "! grep -q '(limit)' '$T/vps.err'"
contains "... naming the limit" "$(cat "$T/vps.err")" "--max-sessions-per-sub"
check "the refusals are counted in /metrics (refusals{reason=limit} +3: two mem, one ps)" \
	wait_for 20 limit_refusals_are $((lim0 + 3))

# The operator keeps room: a session that stays, and an exec beside it (4 in all).
marker=porthole-sub-$$
"$CLI_BIN" exec e2e-sub -- sh -c "echo up; exec sleep 60" </dev/null >"$T/op1.out" 2>&1 &
PIDS+=("$!")
check "an operator session opens beside the viewer's" wait_for 30 grep -q up "$T/op1.out"
eq "and an operator exec still runs" "$(ph exec e2e-sub -- echo room </dev/null 2>"$T/op2.err")" room

check "the refusals are audited with the viewer's subject" \
	wait_for 20 refused_at_least dev-viewer 2
check "... naming the limit" sh -c "jq -r 'select(.event == \"refused\" and .code == \"limit\") \
	| .reason' '$T/relay.out' | grep -q -- --max-sessions-per-sub"

# One of the viewer's own ends: the viewer has room again (once the relay
# has seen that session go, hence the retries).
kill -TERM "$V1"; wait "$V1" 2>/dev/null
viewer_room() {
	"${VIEWER[@]}" mem e2e-sub "$AGENT_PID" --every 1h --for 1s --json >"$T/v5.out" 2>"$T/v5.err" &&
		test -s "$T/v5.out"
}
check "a viewer session opens again once one of its own ended" wait_for 30 viewer_room

# --- the variable, and a bad value ---
relay_line() {
	env "$@" "$RELAY_BIN" --dev --state "$T/state2" --listen 127.0.0.1:0 \
		>"$T/relay2.out" 2>"$T/relay2.err" &
	local p=$!
	wait_for 20 grep -q 'listening on' "$T/relay2.err"
	kill -TERM "$p"; wait "$p" 2>/dev/null
	grep -o 'sessions per agent, [0-9]* per token subject' "$T/relay2.err"
}
eq "default: half the agent's limit" "$(relay_line)" "sessions per agent, 16 per token subject"
eq "PORTHOLE_MAX_SESSIONS_PER_SUB=3" "$(relay_line PORTHOLE_MAX_SESSIONS_PER_SUB=3)" \
	"sessions per agent, 3 per token subject"
PORTHOLE_MAX_SESSIONS_PER_SUB=0 "$RELAY_BIN" --dev --state "$T/state2" --listen 127.0.0.1:0 \
	>/dev/null 2>"$T/bad.err"
eq "a bad value stops the relay: exit 1" $? 1
contains "... saying which setting" "$(cat "$T/bad.err")" "PORTHOLE_MAX_SESSIONS_PER_SUB"
finish
