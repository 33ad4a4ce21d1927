#!/usr/bin/env bash
# Faults: the agent lost mid-exec (255, never 0 with truncated output), the
# local stdout closed (`| head`: the CLI dies of SIGPIPE and the remote
# program is ended), the relay restarted (the agent comes back), a loopback
# relay that listens on loopback only.
. "$(dirname "$0")/lib.sh"
# Lost clients and agents end their sessions here within 2 s, not after the
# resume timeout (5 min) that lets a session outlive a dropped connection
# (tests/e2e/resume.sh).
export PORTHOLE_RESUME_TIMEOUT=2s

start_relay
start_agent e2e-faults

# The relay bound 127.0.0.1 only, not every interface.
if command -v ss >/dev/null; then
	binds=$(ss -Htln "sport = :$PORT" | awk '{ print $4 }' | sort -u | tr '\n' ' ')
	eq "relay listens on loopback only" "$binds" "127.0.0.1:$PORT "
fi

# Agent lost during an exec that streams.
lost=porthole-lost-$$
"$CLI_BIN" exec e2e-faults -- bash -c "echo started; exec -a $lost sleep 300" </dev/null >"$T/lost.out" 2>"$T/lost.err" &
cli=$!
check "remote program started" wait_for 20 grep -q started "$T/lost.out"
kill -9 "$AGENT_PID"
wait "$cli"; eq "agent lost: CLI exits 255" $? 255
contains "agent lost: says lost" "$(cat "$T/lost.err")" "lost"
check "agent killed: the program it ran dies with it" wait_for 20 no_process "$lost"

start_agent e2e-faults
# Local stdout closed: `| head -c 1M` ends, porthole dies of SIGPIPE, cat is ended.
marker=porthole-e2e-$$
ph exec e2e-faults -- bash -c "exec -a $marker cat /dev/zero" </dev/null | head -c 1M >/dev/null
eq "CLI dies of SIGPIPE" "${PIPESTATUS[0]}" 141
check "remote cat is gone" wait_for 20 no_process "$marker"

# Relay restarted on the same port: the agent is listed again.
kill -TERM "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null
RELAY_LISTEN=127.0.0.1:$PORT start_relay
check "agent reconnects after a relay restart" wait_for 60 agent_listed e2e-faults
eq "exec works after the restart" "$(ph exec e2e-faults -- echo back </dev/null)" back

# A signal to the CLI reaches the remote program.  (SIGTERM: a background
# job of a non-interactive shell starts with SIGINT ignored.)
"$CLI_BIN" exec e2e-faults -- sh -c 'trap "echo got-term; exit 5" TERM; echo ready; while :; do sleep 0.1; done' \
	</dev/null >"$T/int.out" 2>/dev/null &
cli=$!
check "trap installed" wait_for 20 grep -q ready "$T/int.out"
kill -TERM "$cli"
wait "$cli"; eq "SIGTERM forwarded: remote trap's exit code" $? 5
finish
