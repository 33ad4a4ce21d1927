#!/usr/bin/env bash
# No idle cut: a relay with --hangup-secs 9 (it pings a peer after 3 s of
# silence) behind a real HAProxy in TCP mode whose client and server
# timeouts are 5 s.  The agent (control channel and the session's data
# channel) and the CLI all dial HAProxy, and only the relay is told the
# hangup time: the agent and the CLI keep their own defaults (pings after
# 16 s), so the relay's pings alone must keep every link below the cut.
# A shell in a tmux pane stays idle for 30 s and is still the same shell
# afterwards, and nothing reconnected: no resume in the audit, no agent
# reconnect, no "reconnecting" from the CLI (a resume would hide a
# keepalive that fails, so the test asserts there was none).  A bare TCP
# connection through the same HAProxy shows that the 5 s cut is real.
. "$(dirname "$0")/lib.sh"

for tool in haproxy tmux; do
	command -v "$tool" >/dev/null || { fail "$tool is not installed (scripts/deps.sh)"; finish; }
done

TSOCK=porthole-idle-$$
tm() { tmux -L "$TSOCK" -f /dev/null "$@"; }
tmux_cleanup() { tm kill-server 2>/dev/null; cleanup; }
trap tmux_cleanup EXIT

export PORTHOLE_SHELL=/bin/sh
# Sessions resume here (the agent and the CLI both ask: it is off unless
# asked), so that a cut link would be hidden by a resume -- and the audit
# must show there was none.
export PORTHOLE_RESUME_TIMEOUT=5m
start_relay --hangup-secs 9

LB_PORT=$(free_port)
cat >"$T/haproxy.cfg" <<CFG
global
  maxconn 256
defaults
  mode tcp
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend idle
  bind 127.0.0.1:$LB_PORT
  default_backend relay
backend relay
  server relay 127.0.0.1:$PORT
CFG
run_haproxy
# Everyone from here on dials HAProxy.
export PORTHOLE_RELAY=wss://127.0.0.1:$LB_PORT
start_agent e2e-idle

cat >"$T/run.sh" <<RUN
#!/bin/bash
export PORTHOLE_RELAY='$PORTHOLE_RELAY' PORTHOLE_CA='$PORTHOLE_CA'
export PORTHOLE_TOKEN='$PORTHOLE_TOKEN' PORTHOLE_KEY='$PORTHOLE_KEY'
export PORTHOLE_RESUME_TIMEOUT=5m TERM=screen
# stderr stays on the terminal: the CLI says "reconnecting..." only there.
"$CLI_BIN" shell e2e-idle
echo \$? >"$T/shell.status"
exec sleep 100000
RUN
chmod +x "$T/run.sh"

pane() { tm capture-pane -p -t s1 -S -1000; }
pane_has() { pane | grep -qF -- "$1"; }
run_in() {
	tm send-keys -t s1 -l "$2"; tm send-keys -t s1 Enter
	wait_for 20 pane_has "$1"
}
remote_pid() { pane | sed -n "s/.*PID \([0-9][0-9]*\) $1.*/\1/p" | head -1; }
# lb_conns PID: PID's established TCP connections to HAProxy's port.
lb_conns() { ss -tnpH state established "dst 127.0.0.1:$LB_PORT" | grep -c "pid=$1,"; }

tm new-session -d -s s1 -x 100 -y 30 "$T/run.sh" \; set -g status off
check "remote shell up" run_in BEFORE42 'echo PID $$ BEFORE$((6*7))'
before=$(remote_pid BEFORE42)
check "remote shell pid known ($before)" test -n "$before"
cli=$(pgrep -P "$(tm display -p -t s1 '#{pane_pid}')" | head -1)
eq "the CLI's session goes through HAProxy" "$(lb_conns "$cli")" 1
# The control channel and the session's data channel.
eq "the agent's two channels go through HAProxy" "$(lb_conns "$AGENT_PID")" 2

# The cut is real: a connection through HAProxy that says nothing is
# closed by it (recv returns b"" once HAProxy gives up on it).
python3 -c "
import socket, sys
s = socket.create_connection(('127.0.0.1', $LB_PORT), 5)
s.settimeout(60)
try:
    print('cut' if s.recv(1) == b'' else 'data')
except ConnectionResetError:
    print('cut')" >"$T/bare.out" 2>&1 &
bare=$!
PIDS+=("$bare")

log "idle for 30 s"
sleep 30

wait "$bare"
eq "HAProxy cuts a connection idle past its timeout" "$(cat "$T/bare.out")" cut
check "the shell answers after 30 s idle" run_in AFTER42 'echo PID $$ AFTER$((6*7))'
eq "... and it is the same shell" "$(remote_pid AFTER42)" "$before"
check "the CLI is still running" test ! -e "$T/shell.status"
eq "the CLI still has its one connection" "$(lb_conns "$cli")" 1
eq "the agent still has its two" "$(lb_conns "$AGENT_PID")" 2
check "the CLI never said reconnecting" sh -c "! tmux -L '$TSOCK' -f /dev/null capture-pane -p -t s1 -S -1000 | grep -q reconnecting"
check "no resume in the audit" sh -c "! grep -q '\"session_resume' '$T/relay.out'"
eq "the agent connected once" "$(grep -c '"agent_connected"' "$T/relay.out")" 1
check "the agent never left" sh -c "! grep -q '\"agent_gone\"' '$T/relay.out'"
check "the relay hung up on nobody" sh -c "! grep -q 'hanging up' '$T/relay.err'"
check "the agent never lost its control channel" \
	sh -c "! grep -q 'lost the control channel' '$T/agent-e2e-idle.err'"

tm send-keys -t s1 -l 'exit 7'; tm send-keys -t s1 Enter
check "the CLI ends with the shell" wait_for 30 test -e "$T/shell.status"
eq "exit 7 is its status" "$(cat "$T/shell.status" 2>/dev/null)" 7
finish
