#!/usr/bin/env bash
# Chaos: the relay killed with SIGKILL and restarted 20 times on the same
# address and state.  The agent reconnects on its own (capped, jittered
# backoff) and is listed again after every restart.  Prints the median and
# worst delay from the new relay listening to the agent listed; asserts only
# that it came back each time within a generous bound.
. "$(dirname "$0")/lib.sh"

ROUNDS=${CHAOS_ROUNDS:-20}
start_relay
start_agent e2e-restart
addr=127.0.0.1:$PORT

delays=()
for i in $(seq "$ROUNDS"); do
	kill -KILL "$RELAY_PID"
	wait "$RELAY_PID" 2>/dev/null
	# A random pause so that the agent is caught at different points of
	# its backoff: right away, or after a failed attempt or two.
	sleep "0.$((RANDOM % 10))"
	: >"$T/relay.err"
	"$RELAY_BIN" --dev --state "$STATE" --listen "$addr" >>"$T/relay.out" 2>"$T/relay.err" &
	RELAY_PID=$!
	PIDS+=("$RELAY_PID")
	if ! wait_for 20 grep -q 'listening on' "$T/relay.err"; then
		fail "round $i: relay did not restart"
		cat "$T/relay.err" >&2
		break
	fi
	t0=$(date +%s%N)
	if wait_for 60 agent_listed e2e-restart; then
		d=$((($(date +%s%N) - t0) / 1000000))
		delays+=("$d")
		ok "round $i: agent listed again after ${d} ms"
	else
		fail "round $i: agent not listed within 60 s"
	fi
done
eq "agent came back every time" "${#delays[@]}" "$ROUNDS"
if [ ${#delays[@]} -gt 0 ]; then
	sorted=$(printf '%s\n' "${delays[@]}" | sort -n)
	median=$(echo "$sorted" | sed -n "$(((${#delays[@]} + 1) / 2))p")
	worst=$(echo "$sorted" | tail -1)
	log "relay restarts: $ROUNDS, agent back after median ${median} ms, worst ${worst} ms"
fi
check "the agent process lived through it all" kill -0 "$AGENT_PID"
eq "sessions work after the last restart" "$(ph exec e2e-restart -- echo back </dev/null)" back
finish
