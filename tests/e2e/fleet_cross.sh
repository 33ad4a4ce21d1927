#!/usr/bin/env bash
# Sessions across the relays of a fleet (docs/operations.md, "A fleet of
# relays"; docs/protocol.md, "Relay to relay"): a real redis-server, three
# relays and HAProxy (TCP, round-robin) in front; six agents through
# HAProxy.  `exec` with an exit code on every agent, ten times each, through
# HAProxy: the client, the agent's control channel and its data channel land
# wherever the round robin puts them, a third relay included (audited: the
# relay of each side).  kill -9 of the relay carrying the agent's side of a
# running session (client on relay 1, agent on relay 3): that session ends
# with 255 and a line saying it was lost, the audit saying why; every HAProxy agent is listed again within
# 10 s, none twice.  Bulk, shell, cp, dump, a stopped reader and peers with
# the wrong certificate: fleet_cross_ops.sh.  Relay tokens as client or
# agent tokens and the reverse: fleet_auth.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet-lib.sh"

start_redis
for n in 1 2 3; do start_fleet_relay "$n"; done
start_haproxy 1 2 3
for i in 1 2 3 4 5 6; do fleet_agent "a$i"; done
R1=wss://127.0.0.1:${RELAY_PORTS[1]}
R3=wss://127.0.0.1:${RELAY_PORTS[3]}
fleet_agent far PORTHOLE_RELAY="$R3"
check "seven agents listed through HAProxy" wait_for 30 listed_n 7
metric() { curl -sk "https://127.0.0.1:${RELAY_PORTS[$1]}/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }
sum_metric() { echo $(( $(metric 1 "$1") + $(metric 2 "$1") + $(metric 3 "$1") )); }

# --- exec on every agent, ten times each, through HAProxy ---
bad=0
for run in $(seq 10); do
	for i in 1 2 3 4 5 6; do
		out=$(ph exec "a$i" -- sh -c "echo out-$i; exit $((run + i))" </dev/null 2>"$T/x.err")
		rc=$?
		if [ "$rc" != $((run + i)) ] || [ "$out" != "out-$i" ]; then
			bad=$((bad + 1)); log "a$i run $run: rc $rc out '$out' err $(cat "$T/x.err")"
		fi
	done
done
eq "exec through HAProxy: 60 sessions, each exit code and output right" "$bad" 0
check "opens went to other relays" [ "$(sum_metric 'porthole_relay_cross_sessions_total{part="open"}')" -gt 0 ]
check "data channels were carried to the session's relay" \
	[ "$(sum_metric 'porthole_relay_cross_sessions_total{part="splice"}')" -gt 0 ]
third() {
	cat "$T"/relay[123].out | grep '"event":"session_closed"' | jq -r \
		'select(.relays.client != .relays.agent and .relays.data != .relays.client and .relays.data != .relays.agent) | .sid' | head -1
}
check "a session whose three sides were on three relays (audited)" test -n "$(third)"
check "every session's audit names the relays of its sides" sh -c "! cat '$T'/relay[123].out |
	grep '\"event\":\"session_closed\"' | jq -e 'select(.relays.data == null)' >/dev/null"

# --- kill -9 of the relay carrying a running session's agent side ---
export PORTHOLE_RELAY=$R1
marker=porthole-cross-$$
att=$(metric 1 'porthole_relay_cross_sessions_total{part="attach"}')
# --resume 0: this checks the ending of a session that does not resume
# (the agent "far" dials only relay 3, so a session that resumes would wait
# for it; resume across relay kills in a fleet: fleet_resume.sh).
ph --resume 0 exec far -- bash -c "exec -a $marker sleep 600" </dev/null >"$T/k.out" 2>"$T/k.err" &
KPID=$!
check "a session runs on the agent of relay 3" wait_for 20 sh -c "pgrep -f '^$marker' >/dev/null"
check "... its agent side carried to relay 1" wait_for 20 sh -c \
	"[ \"\$(curl -sk https://127.0.0.1:${RELAY_PORTS[1]}/metrics | awk '\$1 == \"porthole_relay_cross_sessions_total{part=\\\"attach\\\"}\" { print \$2 }')\" -gt $att ]"
kill -9 "${RELAY_PIDS[3]}"
wait "$KPID"; rc=$?
eq "its session ends with 255" "$rc" 255
contains "... and a line saying the session was lost" "$(cat "$T/k.err")" "was lost mid-session"
eq "... one line" "$(wc -l <"$T/k.err")" 1
check "... the client's relay audited why: the agent's relay went away" wait_for 10 sh -c \
	"grep '\"event\":\"session_closed\"' '$T/relay1.out' | grep -q 'its relay went away'"
export PORTHOLE_RELAY=wss://127.0.0.1:$LB_PORT
check "every HAProxy agent listed again within 10 s, none twice" wait_for 10 sh -c \
	"'$CLI_BIN' ls --json | jq -n -e 'input | ([.agents[].name] | sort == [\"a1\",\"a2\",\"a3\",\"a4\",\"a5\",\"a6\"])' >/dev/null"
check "... ten listings in a row" sh -c "for i in 1 2 3 4 5 6 7 8 9 10; do
	'$CLI_BIN' ls --json | jq -n -e 'input | ([.agents[].id] | length == 6 and (unique | length) == 6)' >/dev/null || exit 1; done"
finish
