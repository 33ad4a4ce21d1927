#!/usr/bin/env bash
# SIGTERM to the relay with an open shell and a running exec: both CLIs are
# told (1001 "relay shutting down") and exit 255 with `porthole: relay
# shutting down ...`; output sent before the signal still arrives; the
# relay exits 0 within --shutdown-secs, and the
# agent (which treats 1001 as "reconnect with backoff") registers again
# with a relay restarted on the same port.  The shell runs in a tmux pane,
# as in shell.sh.
. "$(dirname "$0")/lib.sh"
# Resuming off (docs/protocol.md, "Resume"), so the CLIs end at the 1001
# as clients that do not resume do; a shell resumed across a drained relay
# is tests/e2e/shell_resume.sh.
export PORTHOLE_RESUME_TIMEOUT=0

command -v tmux >/dev/null || { fail "tmux is not installed (scripts/deps.sh installs it)"; finish; }

TSOCK=porthole-drain-$$
tm() { tmux -L "$TSOCK" -f /dev/null "$@"; }
tmux_cleanup() { tm kill-server 2>/dev/null; cleanup; }
trap tmux_cleanup EXIT

export PORTHOLE_SHELL=/bin/sh
start_relay --shutdown-secs 30
start_agent e2e-drain
agent_pid=$AGENT_PID

cat >"$T/run.sh" <<RUN
#!/bin/bash
export PORTHOLE_RELAY='$PORTHOLE_RELAY' PORTHOLE_CA='$PORTHOLE_CA'
export PORTHOLE_TOKEN='$PORTHOLE_TOKEN' PORTHOLE_KEY='$PORTHOLE_KEY'
export TERM=screen
"$CLI_BIN" shell e2e-drain 2>"$T/shell.err"
echo \$? >"$T/shell.status.tmp"
mv "$T/shell.status.tmp" "$T/shell.status"
exec sleep 100000
RUN
chmod +x "$T/run.sh"
pane_has() { tm capture-pane -p -t "$1" -S -200 | grep -qF -- "$2"; }

tm new-session -d -s s1 -x 100 -y 30 "$T/run.sh" \; set -g status off
tm send-keys -t s1 -l 'echo UP$((6*7))'; tm send-keys -t s1 Enter
check "remote shell up" wait_for 20 pane_has s1 UP42

# An exec that has printed a line and is still running.
"$CLI_BIN" exec e2e-drain -- sh -c 'echo before-term; exec sleep 4711' </dev/null \
	>"$T/exec.out" 2>"$T/exec.err" &
exec_pid=$!
PIDS+=("$exec_pid")
check "exec running" wait_for 20 grep -q before-term "$T/exec.out"

# An exec whose output is held up: its reader sleeps, so the relay's queue
# toward this CLI is full when the signal comes.  The relay must send what
# it queued before its 1001.
"$CLI_BIN" exec e2e-drain -- sh -c 'head -c 256M /dev/zero; exec sleep 4711' </dev/null \
	2>"$T/big.err" | (sleep 4; cat >"$T/big.out") &
big_pid=$!
PIDS+=("$big_pid")
# (sleep 4711: a duration no other test uses, since no_process looks
# machine-wide.  256 MiB: far more than every buffer on the way holds — the
# CLI's output queue, the sockets, the relay's and the agent's queues — so
# head is still blocked when pgrep looks; 8 MiB could all fit and head was
# gone before it looked.)  Its session is up once the remote head runs (it then blocks on the full
# queue); a moment more lets the relay's queue toward the CLI fill.
check "held-up exec running" wait_for 60 pgrep -x -f "head -c 256M /dev/zero"
sleep 1

kill -TERM "$RELAY_PID"
relay_gone() { ! kill -0 "$RELAY_PID" 2>/dev/null; }
check "the relay exits (bound: --shutdown-secs 30)" wait_for 150 relay_gone
wait "$RELAY_PID"; eq "the relay's exit status" $? 0
check "the relay drained without being forced" \
	sh -c "! grep -q 'still draining\|did not finish closing' '$T/relay.err'"

check "the shell's CLI ended" wait_for 30 test -f "$T/shell.status"
eq "shell: exit 255" "$(cat "$T/shell.status" 2>/dev/null)" 255
contains "shell: told why" "$(cat "$T/shell.err")" "porthole: relay shutting down"
wait "$exec_pid"; eq "exec: exit 255" $? 255
contains "exec: told why" "$(cat "$T/exec.err")" "porthole: relay shutting down"
eq "exec: output before the signal arrived" "$(cat "$T/exec.out")" before-term
check "the remote sleep was ended" wait_for 30 no_process "sleep 4711$"

wait "$big_pid"
contains "held-up exec: told why" "$(cat "$T/big.err")" "porthole: relay shutting down"
# Payload bytes the relay forwarded to that client (its output and a few
# control messages) against what the client wrote out: all that was queued
# arrived (without the drain, the queue's 256 KiB and more would be lost).
# Each message the relay forwarded is a sealed record whose envelope, tag
# and inner type byte (43 bytes) never reach the output: 48 bytes a message
# are allowed for that, and 4 KiB for the control messages.
# The held-up exec is the session that sent its client the most.
read -r queued msgs < <(awk '/ closed: op=exec / {
	q = ""; m = ""
	for (i = 1; i <= NF; i++) {
		if ($i ~ /^to_client=/) q = substr($i, 11)
		if ($i ~ /^msgs_to_client=/) m = substr($i, 16)
	}
	if (q != "" && q + 0 > best) { best = q + 0; line = q " " m }
} END { print line }' "$T/relay.err")
got=$(wc -c <"$T/big.out")
log "held-up exec: relay forwarded ${queued:-?} payload bytes in ${msgs:-?} messages, the client wrote $got"
check "held-up exec: output arrived" [ "$got" -gt 0 ]
all_arrived() {
	[ -n "$queued" ] && [ -n "$msgs" ] && [ "$got" -le "$queued" ] &&
		[ "$got" -ge $((queued - msgs * 48 - 4096)) ]
}
check "held-up exec: everything the relay queued arrived (less control messages)" all_arrived

# The agent stays up and comes back to a relay restarted on the same port.
check "the agent is still running" kill -0 "$agent_pid"
check "the agent took 1001 as going away" grep -q "going away" "$T/agent-e2e-drain.err"
check "the agent logged no error for it" \
	sh -c "! grep -q 'closed the control channel: 1001' '$T/agent-e2e-drain.err'"
mv "$T/relay.err" "$T/relay1.err"
RELAY_LISTEN=127.0.0.1:$PORT start_relay
check "the agent registers with the restarted relay" wait_for 60 agent_listed e2e-drain
eq "exec through the restarted relay" "$(ph exec e2e-drain -- echo back </dev/null)" back
finish
