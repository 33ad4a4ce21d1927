#!/usr/bin/env bash
# Keepalive both ways, with the hangup cut to 6 s (pings every 2 s): the
# relay drops an agent that went silent (SIGSTOP) and takes it back once it
# answers again; it drops a silent client: the agent holds its session (the
# program runs on, its output kept) and the thawed CLI resumes it, output
# exact and exit code kept, or, with resume off (--resume 0), the agent ends
# the program; when the relay goes silent, the agent notices and
# reconnects, and the CLI in the middle of an exec exits 255 saying the
# relay stopped answering (with resume off: with it on the CLI would
# reconnect, which resume.sh and shell_resume.sh check).  (A reader held up by flow control is not
# silent: slow_reader.sh checks that it is never cut.)
. "$(dirname "$0")/lib.sh"

# The agents and the CLI read it from the environment; the relay takes the flag.
export PORTHOLE_HANGUP_SECS=6
start_relay --hangup-secs 6
start_agent e2e-ka-frozen
frozen=$AGENT_PID
# Resume on for its sessions whatever PORTHOLE_TEST_RESUME says (the CLI's
# --resume picks, per case).
PORTHOLE_RESUME_TIMEOUT=5m start_agent e2e-ka

# --- a silent agent is dropped by the relay ---
kill -STOP "$frozen"
not_listed() { ! agent_listed "$1"; }
check "the relay drops the SIGSTOPped agent" wait_for 60 not_listed e2e-ka-frozen
check "the relay says it is gone" wait_for 10 grep -q "agent gone: .*name=e2e-ka-frozen" "$T/relay.err"
check "the other agent stays" agent_listed e2e-ka
kill -CONT "$frozen"
check "the agent is back once it answers again" wait_for 60 agent_listed e2e-ka-frozen

# --- a silent client is dropped by the relay; its session is held, and
# the thawed CLI resumes it: every byte once, in order, the exit code kept ---
go=$T/go
"$CLI_BIN" --resume 5m exec e2e-ka -- sh -c "echo started; while [ ! -e $go ]; do sleep 0.1; done; seq 1 300000; exit 3" \
	</dev/null >"$T/held.out" 2>"$T/held.err" &
cli=$!
PIDS+=("$cli")
check "resume: the client's program is running" wait_for 20 grep -q started "$T/held.out"
kill -STOP "$cli"
check "resume: the relay drops the SIGSTOPped client: the agent holds its session" \
	wait_for 60 grep -q "the channel to the client is gone: holding the session" "$T/agent-e2e-ka.err"
touch "$go"	# the program writes its output while nobody reads it, and exits
kill -CONT "$cli"
check "resume: the thawed CLI ends" wait_for 60 sh -c "! kill -0 $cli 2>/dev/null"
wait "$cli"; eq "resume: the program's exit code" $? 3
{ echo started; seq 1 300000; } >"$T/held.want"
check "resume: the output is exact" cmp -s "$T/held.out" "$T/held.want"
check "resume: the agent says it resumed" grep -q "resumed after" "$T/agent-e2e-ka.err"
log "it said: $(cat "$T/held.err")"

# --- with resume off, the silent client's program is ended ---
marker=porthole-ka-$$
"$CLI_BIN" --resume 0 exec e2e-ka -- bash -c "exec -a $marker sleep 100" </dev/null \
	>/dev/null 2>"$T/frozen-cli.err" &
cli=$!
PIDS+=("$cli")
check "the client's program is running" wait_for 20 pgrep -f "^$marker 100\$"
kill -STOP "$cli"
check "the relay drops the SIGSTOPped client: its program ends" \
	wait_for 60 no_process "^$marker 100\$"
kill -CONT "$cli"
cli_gone() { ! kill -0 "$cli" 2>/dev/null; }
check "the thawed CLI ends" wait_for 30 cli_gone
wait "$cli"; eq "... with 255" $? 255
log "it said: $(cat "$T/frozen-cli.err")"

# --- a silent relay: the CLI gives up, the agent reconnects ---
"$CLI_BIN" --resume 0 exec e2e-ka -- sh -c 'echo started; exec sleep 100' </dev/null \
	>"$T/exec.out" 2>"$T/exec.err" &
exec_pid=$!
PIDS+=("$exec_pid")
check "exec running" wait_for 20 grep -q started "$T/exec.out"
connects() { grep -c "agent connected: .*name=e2e-ka \|agent .* reconnected" "$T/relay.err"; }
before=$(connects)
kill -STOP "$RELAY_PID"
cli_done() { ! kill -0 "$exec_pid" 2>/dev/null; }
check "the CLI notices the silent relay" wait_for 60 cli_done
wait "$exec_pid"; eq "the CLI exits 255" $? 255
contains "the CLI says why" "$(cat "$T/exec.err")" "porthole: the relay at"
contains "... that it stopped answering" "$(cat "$T/exec.err")" "stopped answering"
check "the agent notices the silent relay" \
	wait_for 60 grep -q "lost the control channel" "$T/agent-e2e-ka.err"
kill -CONT "$RELAY_PID"
more_connects() { [ "$(connects)" -gt "$before" ]; }
check "the agent reconnects to the relay" wait_for 90 more_connects
check "and is listed" wait_for 30 agent_listed e2e-ka
eq "exec works again" "$(ph exec e2e-ka -- echo alive </dev/null)" alive
finish
