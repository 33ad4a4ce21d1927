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
# that saw each step audit it.  Bad input first: malformed resumes from a
# client and a peer relay, and one for an agent the peer does not hold.
# Then one round-robin HAProxy in front of all three (sides wherever it
# puts them): the relay holding the session, then the agent's, killed
# mid-stream, then the same two stopped with SIGTERM as a deploy stops
# them; byte-identical again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet-lib.sh"
# Resume is asked for on both ends (it is off unless asked); bounded, so a
# session that cannot resume ends within the test's time.
export PORTHOLE_RESUME_TIMEOUT=${FLEET_RESUME_TIMEOUT:-90s}

start_redis
# A stopped relay (SIGTERM) ends what it still carries after 3 s, not 25.
for n in 1 2 3; do start_fleet_relay "$n" --shutdown-secs 3; done
rid() { sed -n 's/.*fleet: this relay is \([^ ]*\) in Redis.*/\1/p' "$T/relay$1.err" | tail -1; }
for n in 1 2 3; do wait_for 20 sh -c "grep -q 'fleet: this relay is' '$T/relay$n.err'" || fail "relay $n has no id"; done

# lb NAME N...: HAProxy NAME in front of relays N... (bN: a backup,
# fleet-lib.sh's haproxy_cfg) that tries another relay when one refuses a
# connection; sets LB_PORT.
lb() {
	local name=$1; shift
	LB_PORT=$(free_port)
	{ haproxy_cfg "$LB_PORT" "$@"; echo "  option redispatch"; } >"$T/haproxy-$name.cfg"
	run_haproxy "$T/haproxy-$name.cfg"
}
lb cli 1 b3
export PORTHOLE_RELAY=wss://127.0.0.1:$LB_PORT
lb agent 2 b3
fleet_agent far PORTHOLE_RELAY="wss://127.0.0.1:$LB_PORT"
AGENT=$LAST_PID
check "the agent is listed through the CLI's relay" wait_for 30 agent_listed far
id=$("$CLI_BIN" ls --json | jq -r '.agents[] | select(.name == "far") | .id')
claim() { rcli GET "ph:agent:$id" | cut -d' ' -f1; }
eq "the agent's control channel is on relay 2" "$(claim)" "$(rid 2)"

# Bad input: a client's resume with a malformed sid; a peer's resume with no
# secret, and one for an agent that relay does not hold.  Refused, audited.
# probe PORT PATH TOKEN SUBPROTOCOL JSON: one CONTROL message, what came back.
probe() {
	"$PROBE_BIN" --url "wss://127.0.0.1:$1$2" --ca "$PORTHOLE_CA" --token "@$STATE/$3" \
		--proto "$4" --ctl "$5" 2>&1
}
sid=0123456789abcdef0123456789abcdef chal=$(printf 'A%.0s' $(seq 43))
out=$(probe "${RELAY_PORTS[1]}" /v1/session operator.token porthole.session.v1 \
	"{\"type\":\"resume\",\"sid\":\"$(printf 'z%.0s' $(seq 32))\",\"agent\":\"$id\",\"challenge\":\"$chal\"}")
contains "a client's resume with a malformed sid: 1008" "$out" "close 1008"
check "... audited" wait_for 10 sh -c "grep '\"event\":\"refused\"' '$T/relay1.out' | grep -q 'resume needs sid'"
out=$(probe "${RELAY_PORTS[2]}" /v1/peer relay.token porthole.peer.v1 \
	"{\"type\":\"resume\",\"sid\":\"$sid\",\"agent\":\"$id\",\"sub\":\"dev-operator\",\"challenge\":\"$chal\"}")
contains "a peer's resume without a secret: 1008" "$out" "close 1008"
check "... audited" wait_for 10 sh -c "grep '\"event\":\"refused\"' '$T/relay2.out' | grep -q 'malformed resume'"
out=$(probe "${RELAY_PORTS[3]}" /v1/peer relay.token porthole.peer.v1 \
	"{\"type\":\"resume\",\"sid\":\"$sid\",\"agent\":\"$id\",\"sub\":\"dev-operator\",\"secret\":\"$(printf '%064d' 0)\",\"challenge\":\"$chal\"}")
contains "a peer's resume for an agent that relay does not hold: 4404" "$out" "close 4404"
check "... audited" wait_for 10 sh -c "grep '\"event\":\"refused\"' '$T/relay3.out' | grep -q 'no longer connected'"
check "the agent was asked nothing" sh -c "! grep -q 'resume' '$T/agent-far.err'"

# restart N: relay N started again on its port, the same state; its audit
# and log ($T/relayN.out, .err) go on.
restart() {
	local n=$1 runs
	runs=$(grep -c 'fleet: this relay is' "$T/relay$n.err")
	"$RELAY_BIN" --dev --state "$STATE" --listen "127.0.0.1:${RELAY_PORTS[$n]}" \
		--redis "$REDIS_URL" --shutdown-secs 3 >>"$T/relay$n.out" 2>>"$T/relay$n.err" &
	RELAY_PIDS[$n]=$!
	PIDS+=("$!")
	wait_for 20 sh -c "[ \$(grep -c 'fleet: this relay is' '$T/relay$n.err') -gt $runs ]" ||
		fail "relay $n did not restart"
}
# kill_at BYTES N [SIG]: once the CLI has written BYTES more (than at the
# last kill), kill -9 relay N (or send it SIG and wait until it has left).
# A CLI that ended before is a failure.
cli_gone() { [ "$(awk '{ print $3 }' "/proc/$cli/stat" 2>/dev/null || echo Z)" = Z ]; }
past_or_gone() { [ "$(stat -c %s "$OUT")" -gt "$1" ] || cli_gone; }
kill_at() {
	set -- $((${KILLED_BYTES:-0} + $1)) "$2" "${3:-KILL}"
	wait_for 120 past_or_gone "$1"
	if cli_gone || [ "$(stat -c %s "$OUT")" -le "$1" ]; then
		fail "the output did not pass $1 bytes while the session ran (relay $2 not killed): $(cat "$ERR")"
		finish
	fi
	log "kill -$3 relay $2 at $(stat -c %s "$OUT") bytes"
	kill "-$3" "${RELAY_PIDS[$2]}"
	KILLED_AT=$(date +%s.%N) KILLED_BYTES=$(stat -c %s "$OUT")
	wait "${RELAY_PIDS[$2]}" 2>/dev/null
}
# since_kill WHAT: logs the seconds since the last kill (a figure, never asserted).
since_kill() { log "$1 $(echo "$(date +%s.%N) - $KILLED_AT" | bc -l | cut -c1-5) s after the kill"; }
flowing() { [ "$(stat -c %s "$OUT")" -gt "$KILLED_BYTES" ] || cli_gone; }
audit() { grep -h "\"event\":\"$2\"" "$T/relay$1.out"; }

# `seq 1 N` paced on the agent (a 20 ms pause every N/800 lines: at least
# 16 s), so each kill lands mid-stream however fast the machine; the bytes
# are seq's.  The sanitizer build moves bytes slower: a shorter stream.
if sanitizer; then N=${FLEET_RESUME_SEQ:-1000000}; else N=${FLEET_RESUME_SEQ:-4000000}; fi
seq 1 "$N" >"$T/want"
WANT=$(stat -c %s "$T/want")
paced="perl -pe 'select(undef, undef, undef, 0.02) unless \$. % $((N / 800))'"
ph exec far -- sh -c "seq 1 $N | $paced" </dev/null >"$T/out" 2>"$T/err" &
cli=$! OUT=$T/out ERR=$T/err
R2=$(rid 2) R3=$(rid 3)

# 1. The client's relay; started again once the session resumed elsewhere.
kill_at $((WANT / 8)) 1
check "relay 1 killed: the client resumes through relay 3" wait_for 60 sh -c \
	"grep -h '\"event\":\"session_resumed\"' '$T/relay3.out' | grep -q ."
since_kill "resumed through relay 3"
check "... which audits the resume with the agent's relay, 2" sh -c \
	"grep -h '\"event\":\"session_resume\"' '$T/relay3.out' | jq -e -s \
	'map(select(.relays.client == \"$R3\" and .relays.agent == \"$R2\")) | length > 0' >/dev/null"
check "... relay 2 audits handing the resume to the agent" sh -c \
	"grep -h '\"event\":\"session_resume_forwarded\"' '$T/relay2.out' | jq -e -s \
	'map(select(.agent == \"$id\" and .op == \"resume\")) | length > 0' >/dev/null"
check "... and carrying the agent's new data channel to relay 3" sh -c \
	"grep -h '\"event\":\"session_carried\"' '$T/relay2.out' | jq -e -s \
	'map(select(.to_relay == \"$R3\")) | length > 0' >/dev/null"
sleep 1
restart 1

# kill_agent_relay N TO: kill -9 relay N, the agent's; it reconnects to
# relay TO (its claim names TO's id) and the output flows again; N restarts.
kill_agent_relay() {
	kill_at $((WANT / 8)) "$1"
	check "relay $1 killed: the agent reconnects to relay $2" wait_for 60 sh -c \
		"[ \"\$(redis-cli -p $REDIS_PORT GET 'ph:agent:$id' | cut -d' ' -f1)\" = '$(rid "$2")' ]"
	since_kill "the agent's claim moved to relay $2"
	wait_for 60 flowing && since_kill "output flowing again"
	restart "$1"
}
# 2. The agent's relay (its control and data channels).
kill_agent_relay 2 3
R2=$(rid 2)
# 3. Relay 3, the agent's now: it moves back to relay 2.
kill_agent_relay 3 2

wait "$cli"; rc=$?
eq "three relays killed one after another: exit 0" "$rc" 0
check "... output byte-identical to the local seq 1 $N" cmp -s "$T/out" "$T/want"
check "... the agent process lived on" kill -0 "$AGENT"
eq "... the agent resumed the session three times or more" \
	"$(grep -c 'resumed after' "$T/agent-far.err" | awk '{ print ($1 >= 3) }')" 1
check "... after relay 3 was killed, the restarted relay 2 handed a resume to the agent" sh -c \
	"grep -h '\"event\":\"session_resume_forwarded\"' '$T/relay2.out' | jq -e -s \
	'map(select(.relay == \"$R2\")) | length > 0' >/dev/null"
check "... no relay refused the agent's data channel (its attach goes first)" sh -c \
	"! cat '$T'/relay[123].out | grep '\"event\":\"refused\"' | grep -q '\"what\":\"data channel\"'"
check "... the last relay audited the resumed session's exit 0" sh -c \
	"cat '$T'/relay[123].out | grep '\"event\":\"session_closed\"' | jq -e -s \
	'map(select(.op == \"resume\" and .exit.code == 0)) | length == 1' >/dev/null"

# --- One round-robin HAProxy in front of the three, as fleet_cross.sh:
# the client's side, the agent's control channel and its data channel land
# wherever the round robin puts them.  Killed: the relay holding the
# session (ph:session:SID names it), then the one holding the agent's
# control channel (its claim), each started again once the output flows;
# then the same two stopped as a deploy stops them (SIGTERM: agents sent
# elsewhere with 4307 at once, sessions closed 1001 after --shutdown-secs)
# and started again.
lb rr 1 2 3
fleet_agent rr PORTHOLE_RELAY="wss://127.0.0.1:$LB_PORT"
check "round robin: the agent is listed" wait_for 30 agent_listed rr
rrid=$("$CLI_BIN" ls --json | jq -r '.agents[] | select(.name == "rr") | .id')
# relay_of RID: the relay's number; sess_relay: the relay holding rr's
# session; agent_relay: the one holding its control channel.
relay_of() { local n; for n in 1 2 3; do [ "$(rid "$n")" = "$1" ] && echo "$n"; done; }
sess_relay() {
	local p key
	p=$(sed -n 's/.*agent_session_open: session \([0-9a-f]*\):.*/\1/p' "$T/agent-rr.err" | tail -1)
	key=$(rcli --scan --pattern "ph:session:$p*" | head -1)
	relay_of "$(rcli GET "$key" | cut -d' ' -f1)"
}
agent_relay() { relay_of "$(rcli GET "ph:agent:$rrid" | cut -d' ' -f1)"; }
# stop_at WHICH SIG WHAT: kill_at the relay sess_relay or agent_relay names
# with SIG, check the output flows again, start it again.
stop_at() {
	local n
	n=$($1)
	check "round robin: $3's relay is known" test -n "$n"
	kill_at $((WANT / 8)) "${n:-1}" "$2"
	check "round robin: $3's relay stopped with SIG$2: the output flows again" wait_for 60 flowing
	since_kill "output flowing again"
	restart "${n:-1}"
}
seq 1 "$N" >"$T/want2"
WANT=$(stat -c %s "$T/want2")
PORTHOLE_RELAY=wss://127.0.0.1:$LB_PORT ph exec rr -- sh -c "seq 1 $N | $paced" \
	</dev/null >"$T/out2" 2>"$T/err2" &
cli=$! OUT=$T/out2 ERR=$T/err2 KILLED_BYTES=0
wait_for 60 past_or_gone 0
stop_at sess_relay KILL "the session"
stop_at agent_relay KILL "the agent"
stop_at sess_relay TERM "the session"
stop_at agent_relay TERM "the agent"
wait "$cli"; rc=$?
eq "round robin: relays killed and stopped: exit 0" "$rc" 0
check "... output byte-identical to the local seq 1 $N" cmp -s "$T/out2" "$T/want2"
check "... no relay refused the agent's data channel" sh -c \
	"! cat '$T'/relay[123].out | grep '\"event\":\"refused\"' | grep -q '\"what\":\"data channel\"'"
finish
