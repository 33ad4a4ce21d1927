#!/usr/bin/env bash
# Detach and attach (docs/protocol.md, "Detach and attach"), in a real
# terminal (tmux, as shell_resume.sh): in a shell, `export X=...`, its pid
# noted, ~d ends the CLI with status 0 and a line naming the session; the
# agent keeps the shell, and a background loop writing to the detached
# terminal keeps running (never blocked: the agent reads the pty into its
# ring).  `porthole sessions` lists it as detached (--json too); another
# token subject sees none of it and cannot attach it; `porthole attach
# PREFIX` returns to the same shell pid with X set and shows what the loop
# wrote meanwhile; a prefix matching two sessions is refused, listing them;
# a session live elsewhere is refused.  The relay audits session_detached
# and session_attached.  Last, an agent with PORTHOLE_DETACH_TTL=3s ends a
# detached shell (its process gone), and attach then finds nothing.
. "$(dirname "$0")/lib.sh"

use_tmux dtch
export PORTHOLE_SHELL=/bin/sh
export PORTHOLE_RESUME_TIMEOUT=5m
start_relay
start_agent e2e-dtch
agent1=$AGENT_PID

# run.sh NAME ARGS...: the CLI in the pane, its status and terminal settings kept.
cat >"$T/run.sh" <<RUN
#!/bin/bash
export PORTHOLE_RELAY='$PORTHOLE_RELAY' PORTHOLE_CA='$PORTHOLE_CA'
export PORTHOLE_TOKEN='$PORTHOLE_TOKEN' PORTHOLE_KEY='$PORTHOLE_KEY' TERM=screen
n=\$1; shift
stty -a >"$T/\$n.before"
"$CLI_BIN" "\$@"; st=\$?
echo \$st >"$T/\$n.status.tmp"
stty -a >"$T/\$n.after"
mv "$T/\$n.status.tmp" "$T/\$n.status"
exec sleep 100000
RUN
chmod +x "$T/run.sh"

P=d1	# the pane the helpers (lib.sh) look at and type into

tm new-session -d -s d1 -x 100 -y 40 "$T/run.sh d1 --resume 5m shell e2e-dtch" \; set -g status off \; set -g history-limit 5000
type_line 'export X=kept$((6*7)); echo PID $$ D$((1))IP'
check "remote shell up" wait_for 20 pane_has D1IP
pid1=$(remote_pid D1IP)
check "remote shell pid known ($pid1)" test -n "$pid1"
# Output while detached: a loop that writes to the terminal and counts.
type_line "(i=0; while [ ! -e '$T/stop' ]; do i=\$((i+1)); echo LO\$((0))OP \$i; echo \$i >'$T/count'; sleep 0.2; done) &"
check "background loop running" wait_for 20 test -s "$T/count"
# And 1 MiB to the terminal once detached (a pty nobody reads holds ~4 KiB).
type_line "(while [ ! -e '$T/gate' ]; do sleep 0.1; done; head -c 1048576 /dev/zero | tr '\\0' x; echo; echo BU\$((1))RST; : >'$T/wrote') &"
tm send-keys -t d1 -l '~d'
check "~d ends the CLI" wait_for 20 test -f "$T/d1.status"
eq "~d exits 0" "$(cat "$T/d1.status" 2>/dev/null)" 0
check "~d says how to attach" pane_has "porthole attach"
sid=$(pane | sed -n 's/.*as session \([0-9a-f]\{32\}\).*/\1/p' | head -1)
check "~d names the session ($sid)" test -n "$sid"
check "terminal settings restored after ~d" cmp -s "$T/d1.before" "$T/d1.after"
check "the shell runs on after ~d" kill -0 "$pid1"
c1=$(cat "$T/count")
# A detached pty is read: the loop is never blocked (64 KiB of a pipe
# would fill in well under the 10 s; the count keeps growing).
big() { [ "$(cat "$T/count")" -gt $((c1 + 10)) ]; }
check "output while detached is not blocked" wait_for 30 big
: >"$T/gate"
check "1 MiB written to the detached terminal" wait_for 30 test -f "$T/wrote"
: >"$T/stop"
sleep 0.5
cN=$(cat "$T/count")

ph --resume 5m sessions >"$T/list" 2>"$T/list.err"; eq "sessions exits 0" $? 0
sed 's/^/# sessions: /' "$T/list"
check "sessions lists it as detached" grep -q "^${sid:0:12} .*e2e-dtch .*shell .*detached" "$T/list"
ph sessions e2e-dtch --json >"$T/list.json"
check "sessions --json: id and state" grep -q "\"id\": *\"$sid\".*\"state\": *\"detached\"" "$T/list.json"
check "sessions --json: the shell's pid" grep -q "\"pid\": *$pid1" "$T/list.json"

# The relay knows nothing of it after a restart: the agent does.
kill -TERM "$RELAY_PID"
wait "$RELAY_PID"
restart_relay
check "the agent is back after the relay's restart" wait_for 60 agent_listed e2e-dtch
ph sessions e2e-dtch --json >"$T/list1.json"
check "sessions after a relay restart: still detached" grep -q "\"id\": *\"$sid\".*\"state\": *\"detached\"" "$T/list1.json"

# Another token subject: sees none of it, cannot attach it.
ph token issue --key "$STATE/signing.key" --kind client --sub other-op \
	--bind "$STATE/operator.key" >"$T/other.token"
PORTHOLE_TOKEN=@$T/other.token ph sessions >"$T/olist" 2>&1
check "another subject: the session not listed" sh -c "! grep -q '${sid:0:12}' '$T/olist'"
check "another subject: 'no sessions'" grep -q "no sessions" "$T/olist"
PORTHOLE_TOKEN=@$T/other.token ph attach "${sid:0:8}" </dev/null >"$T/oatt" 2>&1
eq "another subject: attach exits 255" $? 255
check "another subject: no such session" grep -q "no session of yours matches" "$T/oatt"

# ... nor with TARGET and the whole id, which goes to the agent at once:
# the agent refuses it as a session it does not hold (for that subject).
cat >"$T/other.sh" <<OTHER
#!/bin/bash
export PORTHOLE_RELAY='$PORTHOLE_RELAY' PORTHOLE_CA='$PORTHOLE_CA'
export PORTHOLE_TOKEN=@'$T/other.token' PORTHOLE_KEY='$PORTHOLE_KEY' TERM=screen
"$CLI_BIN" attach e2e-dtch $sid; echo \$? >'$T/o.status'
exec sleep 100000
OTHER
chmod +x "$T/other.sh"
P=o1
tm new-session -d -s o1 -x 100 -y 40 "$T/other.sh"
check "another subject, whole id: attach ends" wait_for 20 test -f "$T/o.status"
eq "another subject, whole id: exits 255" "$(cat "$T/o.status" 2>/dev/null)" 255
check "another subject, whole id: the agent holds no such session" pane_has "no detached session $sid on this agent"
check "another subject: the shell runs on" kill -0 "$pid1"

# Attach in a new terminal: the same shell, X set, the loop's output shown.
P=d2
tm new-session -d -s d2 -x 90 -y 30 "$T/run.sh d2 --resume 5m attach ${sid:0:6}"
check "attach shows the end of the output made while detached" wait_for 20 pane_has "BU1RST"
# The loop's lines went before the 1 MiB: past the 64 KiB ring, dropped.
early_gone() { ! pane | grep -q "LO0OP $((c1 + 5))\$"; }
check "the ring keeps only the latest output" early_gone
type_line 'echo PID $$ X=$X D$((2))IP'
check "attached shell answers" wait_for 20 pane_has D2IP
eq "attach returns to the same shell pid" "$(remote_pid "X=kept42 D2IP")" "$pid1"
type_line 'echo SZ $(stty size) ZS'
check "the pty took the attaching terminal's size" wait_for 20 pane_has "SZ 30 90 ZS"

# Live elsewhere: refused, and the live one stays.
P=d5
tm new-session -d -s d5 -x 100 -y 40 "$T/run.sh d5 attach $sid"
check "attach of a live session ends" wait_for 20 test -f "$T/d5.status"
eq "attach of a live session exits 255" "$(cat "$T/d5.status" 2>/dev/null)" 255
check "attach of a live session: the agent says so" pane_has "attached elsewhere"
ph sessions --json >"$T/list2.json"
check "sessions --json: live after attach" grep -q "\"id\": *\"$sid\".*\"state\": *\"live\"" "$T/list2.json"

# A second shell, detached too: a prefix of both is refused, listing them.
P=d3
tm new-session -d -s d3 -x 100 -y 40 "$T/run.sh d3 --resume 5m shell e2e-dtch"
type_line 'echo PID $$ D$((3))IP'
check "second shell up" wait_for 20 pane_has D3IP
tm send-keys -t d3 -l '~d'
check "second ~d ends the CLI" wait_for 20 test -f "$T/d3.status"
sid3=$(pane | sed -n 's/.*as session \([0-9a-f]\{32\}\).*/\1/p' | head -1)
# the longest common prefix of the two ids (at least 4 digits: pad with the first)
common=$(printf '%s\n%s\n' "$sid" "$sid3" | sed -e 'N;s/^\(.*\).*\n\1.*$/\1/')
if [ ${#common} -lt 4 ]; then
	log "the two ids share ${#common} digits: the ambiguity check needs 4"
	ok "ambiguous prefix (skipped: ids differ early)"
else
	ph attach "$common" </dev/null >"$T/amb" 2>&1
	eq "ambiguous prefix exits 255" $? 255
	check "ambiguous prefix: lists both" sh -c "grep -q '$sid' '$T/amb' && grep -q '$sid3' '$T/amb'"
fi

# Detach the first again, from the attached terminal, then stop the loop.
P=d2
tm send-keys -t d2 -l '~d'
check "~d in an attached shell ends the CLI" wait_for 20 test -f "$T/d2.status"
eq "~d in an attached shell exits 0" "$(cat "$T/d2.status" 2>/dev/null)" 0
check "the same id again" pane_has "as session $sid"
check "the relay audits the detach" grep -q "\"session_detached\".*\"session\":\"$sid\"" "$T/relay.out"
grep -h '"session_detached"\|"session_attached"' "$T/relay.out" | sed 's/^/# audit: /'
check "the relay audits the attach" grep -q "\"session_attached\".*\"session\":\"$sid\"" "$T/relay.out"
check "the agent logs the attach" grep -q "attached shell ${sid:0:8}" "$T/agent-e2e-dtch.err"

# PORTHOLE_DETACH_TTL: a detached shell ends when it passes.
PORTHOLE_DETACH_TTL=3s start_agent e2e-dtch2
agent2=$AGENT_PID
P=d4
tm new-session -d -s d4 -x 100 -y 40 "$T/run.sh d4 --resume 5m shell e2e-dtch2"
type_line 'echo PID $$ D$((4))IP'
check "third shell up" wait_for 20 pane_has D4IP
pid4=$(remote_pid D4IP)
check "third shell pid known ($pid4)" test -n "$pid4"
tm send-keys -t d4 -l '~d'
check "third ~d ends the CLI" wait_for 20 test -f "$T/d4.status"
sid4=$(pane | sed -n 's/.*as session \([0-9a-f]\{32\}\).*/\1/p' | head -1)
check "the TTL ends the detached shell" wait_for 30 sh -c "[ -n '$pid4' ] && ! kill -0 '$pid4' 2>/dev/null"
check "the agent logs the TTL" grep -q "detached for 3s, nobody attached" "$T/agent-e2e-dtch2.err"
ph sessions e2e-dtch2 --json >"$T/list4.json"
check "the ended session is not listed" sh -c "! grep -q '$sid4' '$T/list4.json'"
ph attach "${sid4:-x}" </dev/null >"$T/late" 2>&1
eq "attach after the TTL exits 255" $? 255

# The agents stop (a detached shell still held by the first): cleanly,
# and under the sanitizers without a report.
kill -TERM "$agent1" "$agent2"
wait "$agent1"; eq "the agent holding a detached shell stops with 0" $? 0
wait "$agent2"
check "no sanitizer report from the agents" sh -c "! grep -q 'Sanitizer\|runtime error' '$T/agent-e2e-dtch.err' '$T/agent-e2e-dtch2.err'"

if [ $fails -gt 0 ] || [ "${SHOW_PANE:-0}" = 1 ]; then
	for P in d1 d2 d3 d4 d5 o1; do pane | sed "s/^/# pane $P: /"; done
fi
finish
