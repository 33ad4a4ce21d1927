#!/usr/bin/env bash
# Attaching a held shell (docs/protocol.md, "Detach and attach"): the CLI
# of a shell in a real terminal (tmux) dies (kill -9, resume on), the agent
# holds the session for its resume, and a new process, which has none of
# its keys, takes it over with `porthole attach`.
#  - `porthole sessions` lists it as held;
#  - attach returns to the same shell pid with its environment, and shows
#    the output the dead CLI never acknowledged (written while it was
#    stopped: in the agent's resume buffer) and the output written while
#    no one was attached;
#  - the relay audits the attach with held true; the agent logs it;
#  - a held exec is refused (only shells are attached), and stays held;
#  - a shell live in another terminal is still refused;
#  - `attach` runs inside `porthole console` too, and ~d returns to its
#    prompt;
#  - a CLI only cut off (stopped across a relay restart) whose shell was
#    taken over meanwhile cannot resume it when it comes back (255).
. "$(dirname "$0")/lib.sh"

use_tmux atth
. "$(dirname "$0")/attach-lib.sh"
export PORTHOLE_SHELL=/bin/sh
export PORTHOLE_RESUME_TIMEOUT=5m
start_relay
start_agent e2e-atth
agent1=$AGENT_PID
agent_id=$(ph ls --json | jq -r '.agents[] | select(.name == "e2e-atth") | .id')
check "agent id known ($agent_id)" test -n "$agent_id"

attach_run_sh

P=h1

tm new-session -d -s h1 -x 100 -y 40 "$T/run.sh h1 --resume 5m shell e2e-atth" \; set -g status off \; set -g history-limit 5000
type_line 'export X=held$((6*7)); echo PID $$ H$((1))IP'
check "remote shell up" wait_for 20 pane_has H1IP
pid1=$(remote_pid H1IP)
check "remote shell pid known ($pid1)" test -n "$pid1"
cli1=$(cat "$T/h1.pid")
check "CLI pid known ($cli1)" test -n "$cli1"
# A line the shell writes once told (the CLI is stopped by then), and a
# loop that writes and counts until told to stop.
type_line "(while [ ! -e '$T/gate' ]; do sleep 0.1; done; echo UN\$((0))ACKED; : >'$T/wrote') &"
type_line "(i=0; while [ ! -e '$T/stop' ]; do i=\$((i+1)); echo LO\$((0))OP \$i; echo \$i >'$T/count'; sleep 0.2; done) &"
check "background loop running" wait_for 20 test -s "$T/count"
sid=$(ph sessions e2e-atth --json | sed -n 's/.*"id": *"\([0-9a-f]\{32\}\)".*"state": *"live".*/\1/p' | head -1)
check "sessions lists the shell as live ($sid)" test -n "$sid"

# The CLI stops: what the shell writes now reaches its socket, never its
# terminal, and is never acknowledged.  Then it dies.
kill -STOP "$cli1"
: >"$T/gate"
check "the line was written while the CLI was stopped" wait_for 20 test -f "$T/wrote"
sleep 1
kill -KILL "$cli1"
check "the CLI is gone" wait_for 20 test -f "$T/h1.status"
check "the agent holds the session" wait_for 60 state_of e2e-atth "$sid" held
log "at ${SECONDS}s"
ph sessions >"$T/list" 2>&1
sed 's/^/# sessions: /' "$T/list"
check "sessions (table): held" grep -q "^${sid:0:12} .*e2e-atth .*shell .*held" "$T/list"
check "the shell runs on" kill -0 "$pid1"
c1=$(cat "$T/count")
more() { [ "$(cat "$T/count")" -gt $((c1 + 5)) ]; }
check "the loop goes on while no one is attached" wait_for 30 more
c2=$(cat "$T/count")
log "at ${SECONDS}s"

# A held exec of the same subject: not a shell, refused, still held.
"$CLI_BIN" --resume 5m exec e2e-atth -- sleep 300 </dev/null >"$T/exec.out" 2>&1 &
execcli=$!
PIDS+=("$execcli")
exec_id() { ph sessions e2e-atth --json 2>/dev/null | grep -o '"id": *"[0-9a-f]\{32\}", *"op": *"exec"' | sed 's/.*"id": *"\([0-9a-f]*\)".*/\1/'; }
exec_listed() { exec_id | grep -q .; }
check "the exec is listed" wait_for 20 exec_listed
esid=$(exec_id)
kill -KILL "$execcli"
wait "$execcli" 2>/dev/null
check "the exec is held ($esid)" wait_for 60 state_of e2e-atth "$esid" held
P=e1
tm new-session -d -s e1 -x 100 -y 40 "$T/run.sh e1 attach e2e-atth $esid"
check "attach of a held exec ends" wait_for 20 test -f "$T/e1.status"
eq "attach of a held exec exits 255" "$(cat "$T/e1.status" 2>/dev/null)" 255
check "attach of a held exec: only shells" pane_has "cannot attach on e2e-atth ($agent_id): session $esid runs 'exec', not a shell on a terminal"
check "the exec stays held" state_of e2e-atth "$esid" held
log "at ${SECONDS}s"

# A new process takes the held shell over.
P=h2
tm new-session -d -s h2 -x 90 -y 30 "$T/run.sh h2 --resume 5m attach ${sid:0:8}"
check "attach says it took the held shell over" wait_for 20 pane_has "took over shell ${sid:0:12}, held since its CLI's connection dropped"
check "attach shows what the dead CLI never acknowledged" wait_for 20 line_at UN0ACKED
check "attach shows what was written while no one was attached" wait_for 20 line_at "LO0OP $c2"
type_line 'echo PID $$ X=$X H$((2))IP'
check "attached shell answers" wait_for 20 pane_has H2IP
eq "attach returns to the same shell pid" "$(remote_pid "X=held42 H2IP")" "$pid1"
check "sessions: live again" state_of e2e-atth "$sid" live
check "the relay audits the attach of a held session" grep -q "\"session_attached\".*\"session\":\"$sid\".*\"held\":true" "$T/relay.out"
grep -h '"session_attached"' "$T/relay.out" | sed 's/^/# audit: /'
check "the agent logs the takeover" grep -q "taken over by an attach" "$T/agent-e2e-atth.err"
grep -h "taken over\|attached shell" "$T/agent-e2e-atth.err" | sed 's/^/# agent: /'

# Live in that terminal: another attach is refused, the live one stays.
P=h3
tm new-session -d -s h3 -x 100 -y 40 "$T/run.sh h3 attach $sid"
check "attach of a live session ends" wait_for 20 test -f "$T/h3.status"
eq "attach of a live session exits 255" "$(cat "$T/h3.status" 2>/dev/null)" 255
check "attach of a live session: the CLI names the agent" pane_has "cannot attach on e2e-atth ("
check "attach of a live session: the agent says why" pane_has "is attached elsewhere: detach it there first"
P=h2
type_line 'echo STILL$((3))HERE'
check "the attached shell is still there" wait_for 20 pane_has STILL3HERE

# In the console: attach, then ~d back to its prompt, which goes on.
tm send-keys -t h2 -l '~d'
check "~d in the attached shell ends its CLI" wait_for 20 test -f "$T/h2.status"
eq "~d exits 0" "$(cat "$T/h2.status" 2>/dev/null)" 0
rm -f "$T/h2.status"
cat >"$T/console.sh" <<CON
export PORTHOLE_RELAY='$PORTHOLE_RELAY' PORTHOLE_CA='$PORTHOLE_CA'
export PORTHOLE_TOKEN='$PORTHOLE_TOKEN' PORTHOLE_KEY='$PORTHOLE_KEY' TERM=screen
export XDG_STATE_HOME='$T/xdg' HOME='$T'
'$CLI_BIN' console; echo \$? >'$T/c1.status'
exec sleep 100000
CON
P=c1
tm new-session -d -s c1 -x 100 -y 40 "bash $T/console.sh"
check "the console is up" wait_for 30 pane_has "porthole>"
type_line "attach ${sid:0:8}"
type_line 'echo PID $$ X=$X C$((1))IP'
check "attach in the console: the shell answers" wait_for 20 pane_has "C1IP"
eq "attach in the console: the same shell pid" "$(remote_pid "X=held42 C1IP")" "$pid1"
check "attach of a detached shell: no takeover said" sh -c "! tmux -L '$TSOCK' -f /dev/null capture-pane -p -t c1 -S -1000 | grep -q 'took over'"
tm send-keys -t c1 -l '~d'
check "~d returns to the console's prompt" wait_for 20 sh -c "tmux -L '$TSOCK' -f /dev/null capture-pane -p -t c1 | sed '/^ *\$/d' | tail -1 | grep -q '^porthole> *\$'"
type_line 'exit'
check "the console ends" wait_for 20 test -f "$T/c1.status"
eq "the console exits 0" "$(cat "$T/c1.status" 2>/dev/null)" 0

# A CLI that was only cut off, not dead: attached again (resume on), it
# stops; the relay restarts (the session is held); another attach takes
# the shell over; the old CLI, continued, cannot resume it any more.
P=h2
tm kill-session -t h2
rm -f "$T/h2.status"
tm new-session -d -s h2 -x 90 -y 30 "$T/run.sh h2 --resume 5m attach $sid"
type_line 'echo PID $$ H$((4))IP'
check "attached again" wait_for 20 pane_has H4IP
cli2=$(cat "$T/h2.pid")
kill -STOP "$cli2"
kill -TERM "$RELAY_PID"
wait "$RELAY_PID"
restart_relay
check "the agent is back after the relay's restart" wait_for 60 agent_listed e2e-atth
check "the shell is held (its CLI stopped)" wait_for 60 state_of e2e-atth "$sid" held
P=h4
tm new-session -d -s h4 -x 90 -y 30 "$T/run.sh h4 attach $sid"
check "taken over after the relay's restart" wait_for 20 pane_has "took over shell ${sid:0:12}"
type_line 'echo PID $$ H$((5))IP'
check "the shell answers the new CLI" wait_for 20 pane_has H5IP
kill -CONT "$cli2"
P=h2
check "the old CLI, continued, ends" wait_for 60 test -f "$T/h2.status"
eq "the old CLI exits 255" "$(cat "$T/h2.status" 2>/dev/null)" 255
check "the old CLI says it could not resume" pane_has "could not be resumed"
check "the relay audits the refused resume" grep -q '"session_resume_refused".*"code":"resume_failed"' "$T/relay.out"
P=h4
type_line 'echo PID $$ H$((6))IP'
check "the new CLI's shell goes on" wait_for 20 pane_has H6IP
eq "the same shell pid" "$(remote_pid H6IP)" "$pid1"
: >"$T/stop"
type_line 'exit 7'
check "the attached shell ends" wait_for 20 test -f "$T/h4.status"
eq "attach exits with the shell's status" "$(cat "$T/h4.status" 2>/dev/null)" 7

kill -TERM "$agent1"
wait "$agent1"; eq "the agent stops with 0" $? 0
check "no sanitizer report from the agent" sh -c "! grep -q 'Sanitizer\|runtime error' '$T/agent-e2e-atth.err'"

if [ $fails -gt 0 ] || [ "${SHOW_PANE:-0}" = 1 ]; then
	for P in h1 h2 h3 h4 e1 c1; do pane | sed "s/^/# pane $P: /"; done
fi
finish
