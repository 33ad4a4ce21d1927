#!/usr/bin/env bash
# Resume through any relay of a fleet (docs/protocol.md, "Resume" and
# "Relay to relay"): a real redis-server, three relays and two HAProxies
# (TCP): the CLI's goes to relay 1, the agent's to relay 2, each with relay
# 3 as its backup.  So `exec -- seq 1 N` starts as a cross-relay session
# (client on 1, agent on 2), and the relays carrying it are killed with
# SIGKILL mid-stream one after another, each started again on its port
# once the session went on without it:
#   1. relay 1 (the client's): the CLI comes back through relay 3, whose
#      resume goes over a link to relay 2 and reaches the agent there;
#   2. relay 2 (the agent's control and data channels): the agent
#      reconnects to relay 3 holding its session, the CLI resumes through
#      relay 1 (or 3) and finds it there;
#   3. relay 3 (the agent's again): the agent moves back to relay 2.
# The output is byte-identical to the local `seq 1 N`, exit 0; the relays
# that saw each step audit it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet-lib.sh"
# Resume is asked for on both ends (it is off unless asked); bounded, so a
# session that cannot resume ends within the test's time.
export PORTHOLE_RESUME_TIMEOUT=${FLEET_RESUME_TIMEOUT:-90s}

start_redis
for n in 1 2 3; do start_fleet_relay "$n"; done
rid() { sed -n 's/.*fleet: this relay is \([^ ]*\) in Redis.*/\1/p' "$T/relay$1.err" | tail -1; }
for n in 1 2 3; do wait_for 20 sh -c "grep -q 'fleet: this relay is' '$T/relay$n.err'" || fail "relay $n has no id"; done

# lb NAME PRIMARY BACKUP: HAProxy on a free port in front of relay PRIMARY,
# relay BACKUP taking over while PRIMARY's health check fails; sets LBPORT.
lb() {
	LBPORT=$(free_port)
	{
		echo "global"
		echo "  maxconn 4096"
		echo "defaults"
		echo "  mode tcp"
		echo "  timeout connect 2s"
		echo "  timeout client 300s"
		echo "  timeout server 300s"
		echo "  option redispatch"
		echo "  retries 3"
		echo "frontend fleet"
		echo "  bind 127.0.0.1:$LBPORT"
		echo "  default_backend relays"
		echo "backend relays"
		echo "  option httpchk GET /healthz"
		echo "  server relay$2 127.0.0.1:${RELAY_PORTS[$2]} check check-ssl verify none inter 500ms fall 1 rise 2"
		echo "  server relay$3 127.0.0.1:${RELAY_PORTS[$3]} check check-ssl verify none inter 500ms fall 1 rise 2 backup"
	} >"$T/haproxy-$1.cfg"
	haproxy -f "$T/haproxy-$1.cfg" -db >"$T/haproxy-$1.log" 2>&1 &
	PIDS+=("$!")
	wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $LBPORT), 1)" ||
		{ cat "$T/haproxy-$1.log" >&2; fail "haproxy $1 did not start"; finish; }
}
lb cli 1 3
export PORTHOLE_RELAY=wss://127.0.0.1:$LBPORT
lb agent 2 3
fleet_agent far PORTHOLE_RELAY="wss://127.0.0.1:$LBPORT"
AGENT=$LAST_PID
check "the agent is listed through the CLI's relay" wait_for 30 agent_listed far
id=$("$CLI_BIN" ls --json | jq -r '.agents[] | select(.name == "far") | .id')
claim() { rcli GET "ph:agent:$id" | cut -d' ' -f1; }
eq "the agent's control channel is on relay 2" "$(claim)" "$(rid 2)"

# restart N: relay N started again on its port, the same state; its audit
# ($T/relayN.out) goes on.
restart() {
	local n=$1
	: >"$T/relay$n.err"
	"$RELAY_BIN" --dev --state "$STATE" --listen "127.0.0.1:${RELAY_PORTS[$n]}" \
		--redis "$REDIS_URL" >>"$T/relay$n.out" 2>"$T/relay$n.err" &
	RELAY_PIDS[$n]=$!
	PIDS+=("$!")
	wait_for 20 grep -q 'fleet: this relay is' "$T/relay$n.err" || fail "relay $n did not restart"
}
# kill_at BYTES N: once the CLI has written BYTES, kill -9 relay N.  A CLI
# that ended before is a failure.
cli_gone() { [ "$(awk '{ print $3 }' "/proc/$cli/stat" 2>/dev/null || echo Z)" = Z ]; }
past_or_gone() { [ "$(stat -c %s "$T/out")" -gt "$1" ] || cli_gone; }
kill_at() {
	wait_for 120 past_or_gone "$1"
	if cli_gone || [ "$(stat -c %s "$T/out")" -le "$1" ]; then
		fail "no output past $1 bytes before killing relay $2: $(cat "$T/err")"
		finish
	fi
	log "kill -9 relay $2 at $(stat -c %s "$T/out") bytes"
	kill -KILL "${RELAY_PIDS[$2]}"
	wait "${RELAY_PIDS[$2]}" 2>/dev/null
}
audit() { grep -h "\"event\":\"$2\"" "$T/relay$1.out"; }

# Four parts with a pause between them, so each kill lands while the
# session streams however fast the machine; the bytes are `seq 1 N`'s.
if sanitizer; then Q=${FLEET_RESUME_SEQ:-100000}; else Q=${FLEET_RESUME_SEQ:-750000}; fi
N=$((4 * Q))
seq 1 "$N" >"$T/want"
at() { seq 1 "$1" | wc -c; }
ph exec far -- sh -c "seq 1 $Q; sleep 3; seq $((Q + 1)) $((2 * Q)); sleep 3;
	seq $((2 * Q + 1)) $((3 * Q)); sleep 3; seq $((3 * Q + 1)) $N" \
	</dev/null >"$T/out" 2>"$T/err" &
cli=$!
R2=$(rid 2) R3=$(rid 3)

# 1. The client's relay; started again once the session resumed elsewhere.
kill_at $(( $(at "$Q") / 2 )) 1
check "relay 1 killed: the client resumes through relay 3" wait_for 60 sh -c \
	"grep -h '\"event\":\"session_resumed\"' '$T/relay3.out' | grep -q ."
check "... which audits the resume with the agent's relay, 2" sh -c \
	"grep -h '\"event\":\"session_resume\"' '$T/relay3.out' | jq -e -s \
	'map(select(.relays.client == \"$R3\" and .relays.agent == \"$R2\")) | length > 0' >/dev/null"
check "... relay 2 audits handing the resume to the agent" sh -c \
	"grep -h '\"event\":\"session_resume_forwarded\"' '$T/relay2.out' | jq -e -s \
	'map(select(.agent == \"$id\" and .op == \"resume\")) | length > 0' >/dev/null"
sleep 1
restart 1

# 2. The agent's relay (its control and data channels).
kill_at "$(at $((Q + Q / 2)))" 2
check "relay 2 killed: the agent reconnects to relay 3" wait_for 60 sh -c \
	"[ \"\$(redis-cli -p $REDIS_PORT GET 'ph:agent:$id' | cut -d' ' -f1)\" = '$R3' ]"
restart 2
R2=$(rid 2)

# 3. Relay 3, the agent's now: it moves back to relay 2.
kill_at "$(at $((2 * Q + Q / 2)))" 3
check "relay 3 killed: the agent reconnects to relay 2" wait_for 60 sh -c \
	"[ \"\$(redis-cli -p $REDIS_PORT GET 'ph:agent:$id' | cut -d' ' -f1)\" = '$R2' ]"
restart 3

wait "$cli"; rc=$?
eq "three relays killed one after another: exit 0" "$rc" 0
check "... output byte-identical to the local seq 1 $N" cmp -s "$T/out" "$T/want"
check "... the agent process lived on" kill -0 "$AGENT"
eq "... the agent resumed the session three times or more" \
	"$(grep -c 'resumed after' "$T/agent-far.err" | awk '{ print ($1 >= 3) }')" 1
check "... after relay 3 was killed, the restarted relay 2 handed a resume to the agent" sh -c \
	"grep -h '\"event\":\"session_resume_forwarded\"' '$T/relay2.out' | jq -e -s \
	'map(select(.relay == \"$R2\")) | length > 0' >/dev/null"
check "... the last relay audited the resumed session's exit 0" sh -c \
	"cat '$T'/relay[123].out | grep '\"event\":\"session_closed\"' | jq -e -s \
	'map(select(.op == \"resume\" and .exit.code == 0)) | length == 1' >/dev/null"
finish
