#!/usr/bin/env bash
# Detach and attach across the relays of a fleet (docs/protocol.md,
# "Detach and attach"; "Relay to relay"): a real redis-server and two
# relays; the agent on relay 2, the CLI on relay 1 (its open, the listing
# and the attach all go across).  In a real terminal (tmux): a shell, ~d,
# `porthole sessions` through relay 1 shows it detached, `porthole attach`
# through relay 1 returns to the same shell pid with its environment and
# the output written meanwhile; then the attaching CLI is killed (-9, resume
# on), the shell is listed held, and a second attach through relay 1 takes
# it over.  The detach and the attaches are audited.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet-lib.sh"

use_tmux flat
. "$(dirname "$0")/attach-lib.sh"
export PORTHOLE_SHELL=/bin/sh
start_redis
for n in 1 2; do start_fleet_relay "$n"; done
R1=wss://127.0.0.1:${RELAY_PORTS[1]}
R2=wss://127.0.0.1:${RELAY_PORTS[2]}
fleet_agent far PORTHOLE_RELAY="$R2" PORTHOLE_RESUME_TIMEOUT=5m
export PORTHOLE_RELAY=$R1
check "the agent of relay 2 is listed through relay 1" wait_for 30 agent_listed far

attach_run_sh

P=f1

tm new-session -d -s f1 -x 100 -y 40 "$T/run.sh f1 --resume 5m shell far" \; set -g status off \; set -g history-limit 5000
type_line 'export X=fleet$((6*7)); echo PID $$ F$((1))IP'
check "remote shell up (client on relay 1, agent on relay 2)" wait_for 20 pane_has F1IP
pid1=$(remote_pid F1IP)
check "remote shell pid known ($pid1)" test -n "$pid1"
type_line "(while [ ! -e '$T/gate' ]; do sleep 0.1; done; echo DE\$((0))TACHED; : >'$T/wrote') &"
tm send-keys -t f1 -l '~d'
check "~d ends the CLI" wait_for 20 test -f "$T/f1.status"
eq "~d exits 0" "$(cat "$T/f1.status" 2>/dev/null)" 0
sid=$(pane | sed -n 's/.*as session \([0-9a-f]\{32\}\).*/\1/p' | head -1)
check "~d names the session ($sid)" test -n "$sid"
: >"$T/gate"
check "written while detached" wait_for 20 test -f "$T/wrote"

ph sessions >"$T/list" 2>&1
sed 's/^/# sessions: /' "$T/list"
check "sessions through relay 1: detached" grep -q "^${sid:0:12} .*far .*shell .*detached" "$T/list"

P=f2
tm new-session -d -s f2 -x 90 -y 30 "$T/run.sh f2 --resume 5m attach ${sid:0:8}"
check "attach through relay 1 shows the output made while detached" wait_for 20 line_at DE0TACHED
type_line 'echo PID $$ X=$X F$((2))IP'
check "attached shell answers" wait_for 20 pane_has F2IP
eq "attach returns to the same shell pid" "$(remote_pid "X=fleet42 F2IP")" "$pid1"

# The attaching CLI dies: the shell is held, and attach takes it over.
type_line "(while [ ! -e '$T/gate2' ]; do sleep 0.1; done; echo HE\$((0))LD; : >'$T/wrote2') &"
check "the attached shell took the line" wait_for 20 pane_has "gate2"
kill -KILL "$(cat "$T/f2.pid")"
check "the attaching CLI is gone" wait_for 20 test -f "$T/f2.status"
check "the shell is held" wait_for 60 state_of far "$sid" held
: >"$T/gate2"
check "written while held" wait_for 20 test -f "$T/wrote2"
P=f3
tm new-session -d -s f3 -x 90 -y 30 "$T/run.sh f3 --resume 5m attach far $sid"
check "attach of the held shell through relay 1 says it took it over" wait_for 20 pane_has "took over shell ${sid:0:12}"
check "attach of the held shell through relay 1 shows what came meanwhile" wait_for 20 line_at HE0LD
type_line 'echo PID $$ X=$X F$((3))IP'
check "the shell answers again" wait_for 20 pane_has F3IP
eq "the same shell pid again" "$(remote_pid "X=fleet42 F3IP")" "$pid1"
type_line 'exit 3'
check "the shell ends" wait_for 20 test -f "$T/f3.status"
eq "attach exits with the shell's status" "$(cat "$T/f3.status" 2>/dev/null)" 3

audit() { cat "$T"/relay[12].out | grep "\"$1\"" | grep -q "\"session\":\"$sid\"$2"; }
check "the detach is audited" audit session_detached ""
check "the attach is audited" audit session_attached ""
check "the takeover is audited (held true)" audit session_attached ".*\"held\":true"
grep -h '"session_detached"\|"session_attached"' "$T"/relay[12].out | sed 's/^/# audit: /'
check "no sanitizer report from the agent" sh -c "! grep -q 'Sanitizer\|runtime error' '$T/agent-far.err'"

if [ $fails -gt 0 ] || [ "${SHOW_PANE:-0}" = 1 ]; then
	for P in f1 f2 f3; do pane | sed "s/^/# pane $P: /"; done
fi
finish
