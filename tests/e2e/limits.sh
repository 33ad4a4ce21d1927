#!/usr/bin/env bash
# Limits before and after authentication (src/relay/relay-limits.c):
# a flood of idle half-open connections from 127.0.0.2 does not keep an
# authenticated operator on 127.0.0.1 out; the per-address limit refuses
# the flood's excess at accept; floods from several addresses past the
# total pending limit evict the oldest pending connections instead of
# refusing newcomers; the handshake timeout closes silent connections (TCP
# only, and TLS done but no upgrade); the sessions-per-agent limit refuses
# the N+1st session with a clear message.  Floods come from their own
# loopback addresses (tests/tools/ph-flood binds them).
. "$(dirname "$0")/lib.sh"

FLOOD_BIN=$BUILD/tests/tools/ph-flood

# flood NAME FROM COUNT [ARGS...]: start ph-flood in the background.
flood() {
	local name=$1 from=$2 count=$3; shift 3
	"$FLOOD_BIN" --to "127.0.0.1:$PORT" --from "$from" --count "$count" "$@" \
		>"$T/flood-$name.out" 2>"$T/flood-$name.err" &
	PIDS+=($!)
	eval "FLOOD_$name=\$!"
}
# flood_last NAME: its last status line.
flood_last() { grep -E '^(status|done)' "$T/flood-$1.out" 2>/dev/null | tail -1; }
# flood_is NAME PATTERN: its last status line matches PATTERN (grep -E).
flood_is() { flood_last "$1" | grep -Eq -- "$2"; }
count_of() { flood_last "$1" | sed -n "s/.* $2=\([0-9]*\).*/\1/p"; }

# --- relay 1: per-address and total pending limits, sessions per agent ---
# (Both sessions are the operator's: --max-sessions-per-sub 2 lifts the
# per-subject limit, half the agent's by default, out of the way; limits_sub.sh
# tests that one.)
start_relay --max-pending-per-addr 40 --max-pending 100 --handshake-timeout 120 \
	--max-sessions-per-agent 2 --max-sessions-per-sub 2
start_agent e2e-limits

flood a 127.0.0.2 300 --hold 200
check "the flood's 300 connections settled" \
	wait_for 60 flood_is a 'pending=0 connected=300 '
check "per-address limit: 40 of 127.0.0.2's connections held, 260 refused at accept" \
	wait_for 30 flood_is a 'alive=40 closed=260 '
out=$(ph exec e2e-limits -- echo through </dev/null 2>"$T/exec1.err"); rc=$?
eq "exec from 127.0.0.1 during the flood: exit 0" "$rc" 0
eq "exec from 127.0.0.1 during the flood: output" "$out" through

# Three more addresses, 40 each: 160 pending > --max-pending 100.  The
# oldest are closed to make room; the relay still admits a real client.
flood b 127.0.0.3 40 --hold 200
check "127.0.0.3's flood settled" wait_for 60 flood_is b 'pending=0 connected=40 '
flood c 127.0.0.4 40 --hold 200
check "127.0.0.4's flood settled" wait_for 60 flood_is c 'pending=0 connected=40 '
flood d 127.0.0.5 40 --hold 200
check "127.0.0.5's flood settled" wait_for 60 flood_is d 'pending=0 connected=40 '
alive_total() {
	local n=0 f
	for f in a b c d; do n=$((n + $(count_of $f alive))); done
	echo $n
}
at_most_100() { [ "$(alive_total)" -le 100 ]; }
check "total pending limit: at most 100 of the 160 held" wait_for 30 at_most_100
check "the oldest (127.0.0.2's) were closed first" \
	wait_for 30 eval '[ "$(count_of a alive)" -lt 40 ] && [ "$(count_of d alive)" -eq 40 ]'
log "held: a=$(count_of a alive) b=$(count_of b alive) c=$(count_of c alive) d=$(count_of d alive)"
out=$(ph exec e2e-limits -- echo still </dev/null 2>"$T/exec2.err"); rc=$?
eq "exec from 127.0.0.1 with the pending table full: exit 0" "$rc" 0
eq "exec from 127.0.0.1 with the pending table full: output" "$out" still
check "ls works too" agent_listed e2e-limits
for f in a b c d; do eval "kill \$FLOOD_$f" 2>/dev/null; done

# Sessions per agent: two running, the third refused, then room again.
marker=porthole-lim-$$
"$CLI_BIN" exec e2e-limits -- bash -c "exec -a $marker sleep 60" </dev/null >/dev/null 2>&1 & s1=$!
"$CLI_BIN" exec e2e-limits -- bash -c "exec -a $marker sleep 60" </dev/null >/dev/null 2>&1 & s2=$!
PIDS+=("$s1" "$s2")
sleeps() { [ "$(pgrep -f "^$marker 60\$" | wc -l)" -eq 2 ]; }
check "two sessions running" wait_for 30 sleeps
ph exec e2e-limits -- echo third </dev/null >"$T/third.out" 2>"$T/third.err"; rc=$?
eq "the third session is refused: exit 255" "$rc" 255
contains "the refusal names the limit" "$(cat "$T/third.err")" "--max-sessions-per-agent"
contains "the refusal starts with porthole:" "$(cat "$T/third.err")" "porthole: "
kill "$s1" "$s2" 2>/dev/null; wait "$s1" "$s2" 2>/dev/null
fourth() { [ "$(ph exec e2e-limits -- echo fourth </dev/null 2>/dev/null)" = fourth ]; }
check "sessions ended: a new one opens" wait_for 30 fourth
contains "the relay logged the refusals" "$(cat "$T/relay.err")" "max-pending-per-addr"

# --- relay 2: the handshake timeout ---
kill -TERM "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null
mv "$T/relay.err" "$T/relay1.err"
start_relay --handshake-timeout 2
flood tcp 127.0.0.2 5 --hold 100
flood tls 127.0.0.3 5 --tls --hold 100
check "silent TCP connections connected" wait_for 30 flood_is tcp 'connected=5 '
check "silent TLS connections completed TLS" wait_for 30 flood_is tls 'connected=5 '
check "the relay closed the silent TCP connections (handshake timeout)" \
	wait_for 30 flood_is tcp 'alive=0 closed=5 '
check "the relay closed the TLS connections that never upgraded" \
	wait_for 30 flood_is tls 'alive=0 closed=5 '
contains "the relay says why" "$(cat "$T/relay.err")" "did not authenticate within 2 s"
# An operator who authenticates in time is not affected.
start_agent e2e-limits2
eq "exec after the timeouts" "$(ph exec e2e-limits2 -- echo fine </dev/null)" fine

# --- relay 3: few file descriptors (ulimit -n 128: 64 connections) ---
# Four floods want 4 x 32 (the per-address limit) = 128 connections, as
# many as the process has fds; the relay must neither run out of them nor
# keep the operator out: the oldest pending connections make room.
kill -TERM "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null
mv "$T/relay.err" "$T/relay2.err"
printf '#!/bin/sh\nulimit -n 128 || exit 1\nexec "%s" "$@"\n' "$RELAY_BIN" >"$T/relay-lowfd"
chmod +x "$T/relay-lowfd"
RELAY_BIN=$T/relay-lowfd start_relay --handshake-timeout 120
contains "the relay sizes itself to the fd limit" "$(cat "$T/relay.err")" "limits: 64 connections"
start_agent e2e-limits3
n=2
for f in e f g h; do
	flood $f 127.0.0.$n 40 --hold 200
	check "127.0.0.$n's flood settled" wait_for 60 flood_is $f 'pending=0 connected=40 '
	n=$((n + 1))
done
held() { echo $(( $(count_of e alive) + $(count_of f alive) + $(count_of g alive) + $(count_of h alive) )); }
fd_room() { [ "$(held)" -le 63 ]; }
check "at most 63 flood connections held (64 less the agent's)" wait_for 30 fd_room
log "held: e=$(count_of e alive) f=$(count_of f alive) g=$(count_of g alive) h=$(count_of h alive)"
eq "exec with every connection slot taken" "$(ph exec e2e-limits3 -- echo room </dev/null)" room
check "the relay never ran out of file descriptors" \
	sh -c "! grep -qi 'too many open files' '$T/relay.err'"
finish
