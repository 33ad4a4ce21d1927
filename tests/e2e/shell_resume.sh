#!/usr/bin/env bash
# A shell survives a relay restart (docs/protocol.md, "Resume"), in a real
# terminal: the CLI runs in a tmux pane (as in shell.sh) whose stderr is the
# pane, so the CLI's "reconnecting..." and "resumed after" show there.  The
# relay is killed with SIGKILL and started again on the same port about 2 s
# later.  Checked: the same shell (its pid) before and after; output the
# shell made while the relay was down (a background job) shown exactly
# once; keystrokes typed while the relay was down kept by the CLI and run
# exactly once after the resume; a resize during the outage reaching the
# remote terminal; the audit's resume events.  Then a deploy (SIGTERM, the
# relay drains; started again): the same shell again, and `exit 4` as the
# CLI's status.  A shell streaming (seq) when the relay is killed: its
# output, copied from the CLI's stdout, has every line once and in order.
# Last, with the relay down for good: the escapes act at
# once (~? answers, ~. ends the CLI), ~. and SIGTERM say that the shell
# runs on, and the agent ends it at its resume timeout.
. "$(dirname "$0")/lib.sh"

use_tmux shres
export PORTHOLE_SHELL=/bin/sh
# Resume is asked for on both ends (it is off unless asked).
export PORTHOLE_RESUME_TIMEOUT=5m
start_relay
start_agent e2e-shres

# The pane's command (run.sh NAME AGENT [FILE]): the CLI with its stderr on
# the terminal (and its stdout copied to FILE); its status and the terminal
# settings after it are recorded, and the pane stays.
cat >"$T/run.sh" <<RUN
#!/bin/bash
export PORTHOLE_RELAY='$PORTHOLE_RELAY' PORTHOLE_CA='$PORTHOLE_CA'
export PORTHOLE_TOKEN='$PORTHOLE_TOKEN' PORTHOLE_KEY='$PORTHOLE_KEY'
export PORTHOLE_RESUME_TIMEOUT=5m TERM=screen
n=\$1
stty -a >"$T/\$n.before"
if [ -n "\${3:-}" ]; then
	"$CLI_BIN" shell "\$2" | tee "\$3"; st=\${PIPESTATUS[0]}
else
	"$CLI_BIN" shell "\$2"; st=\$?
fi
echo \$st >"$T/\$n.status.tmp"
stty -a >"$T/\$n.after"
mv "$T/\$n.status.tmp" "$T/\$n.status"
exec sleep 100000
RUN
chmod +x "$T/run.sh"

P=s1	# the pane the helpers look at and type into
# times TEXT: how many times TEXT shows in the pane.
times() { pane | grep -oF -- "$1" | wc -l; }

tm new-session -d -s s1 -x 100 -y 40 "$T/run.sh s1 e2e-shres" \; set -g status off \; set -g history-limit 5000
type_line 'echo PID $$ D$((1))IP'
check "remote shell up" wait_for 20 pane_has D1IP
pid1=$(remote_pid D1IP)
check "remote shell pid known ($pid1)" test -n "$pid1"

# A background job that prints while the relay is down: once the test
# makes the gate file, which it does after the kill.
type_line "(: >'$T/bg1'; while [ ! -e '$T/gate' ]; do sleep 0.2; done; echo MA\$((40+2))RK; : >'$T/bg2') &"
check "background job started" wait_for 20 test -f "$T/bg1"

kill -KILL "$RELAY_PID"
wait "$RELAY_PID" 2>/dev/null
check "the CLI says reconnecting on the terminal" wait_for 30 pane_has "reconnecting..."
# Typed during the outage: the CLI keeps the keystrokes (raw mode, so the
# pane shows nothing of them until the remote shell echoes them).
type_line 'echo TY$((5+5))PED'
tm resize-window -t s1 -x 90 -y 30
: >"$T/gate"
check "the background job printed while the relay was down" wait_for 30 test -f "$T/bg2"
sleep 1
eq "the outage's output not shown before the resume" "$(times MA42RK)" 0
eq "typed line not run before the resume" "$(times TY10PED)" 0
restart_relay

check "the CLI says resumed on the terminal" wait_for 60 pane_has "resumed after"
check "the typed line ran after the resume" wait_for 30 pane_has TY10PED
# The terminal is raw: the CLI's line ends with "\r\n", so the remote
# output after it starts at the left edge (after a bare "\n", indented).
# next_line_is TEXT RE: the pane's line after the one with TEXT matches RE.
next_line_is() { pane | awk -v t="$1" 'found { print; exit } index($0, t) { found = 1 }' | grep -q -- "$2"; }
check "the output after 'resumed after' starts at the left edge" next_line_is 'resumed after' '^[^ ]'
type_line 'echo PID $$ D$((2))IP'
check "the shell answers after the resume" wait_for 30 pane_has D2IP
pid2=$(remote_pid D2IP)
eq "the same shell after the relay restart" "$pid2" "$pid1"
eq "output made during the outage shown exactly once" "$(times MA42RK)" 1
eq "keystrokes typed during the outage ran exactly once" "$(times TY10PED)" 1
type_line 'echo SZ $(stty size) ZS'
check "the resize during the outage reached the remote terminal" wait_for 30 pane_has "SZ 30 90 ZS"
check "the agent resumed the session" grep -q "resumed after" "$T/agent-e2e-shres.err"
sid=$(grep '"session_opened"' "$T/relay.out" | grep '"name":"e2e-shres"' | sed -n 's/.*"sid":"\([0-9a-f]*\)".*/\1/p' | head -1)
check "the shell's session id known ($sid)" test -n "$sid"
check "the new relay audits the resume request" grep -q "\"session_resume\",\"sid\":\"$sid\"" "$T/relay.out"
check "the new relay audits the resume" grep -q "\"session_resumed\",\"sid\":\"$sid\"" "$T/relay.out"

# A deploy: SIGTERM (the relay drains and closes with 1001), started again.
kill -TERM "$RELAY_PID"
wait "$RELAY_PID"; eq "the relay drained and exited 0" $? 0
restart_relay
resumed_twice() { [ "$(times 'resumed after')" -ge 2 ]; }
check "the CLI resumed again after the drain" wait_for 60 resumed_twice
type_line 'echo PID $$ D$((6))IP'
check "the shell answers after the drain" wait_for 30 pane_has D6IP
eq "the same shell after the drained relay's restart" "$(remote_pid D6IP)" "$pid1"

type_line 'exit 4'
check "the CLI ended" wait_for 30 test -f "$T/s1.status"
eq "exit 4 is the CLI's status" "$(cat "$T/s1.status" 2>/dev/null)" 4
check "the new relay audits the resumed session's exit 4" wait_for 20 \
	grep -q "\"session_closed\",\"sid\":\"$sid\".*\"resumed\":true.*\"exit\":{\"code\":4}" "$T/relay.out"
nosize() { sed 's/rows [0-9]*; columns [0-9]*;//' "$1"; }
eq "terminal settings restored" "$(nosize "$T/s1.after")" "$(nosize "$T/s1.before")"
check "the remote shell is gone" wait_for 30 sh -c "[ -n '$pid1' ] && ! kill -0 '$pid1'"
if [ $fails -gt 0 ] || [ "${SHOW_PANE:-0}" = 1 ]; then pane | sed 's/^/# pane s1: /'; fi

# --- Output streaming through the shell's pty when the relay is killed:
# every byte once, in order (the CLI's stdout copied to a file). ---
# (The pane renders every line: a few hundred KiB keep it short.)
if sanitizer; then N=30000; else N=100000; fi
P=s4
tm new-session -d -s s4 -x 100 -y 40 "$T/run.sh s4 e2e-shres $T/s4.out"
type_line 'echo UP$((7*7))'
check "fourth shell up" wait_for 20 pane_has UP49
type_line "seq 1 $N; sleep 3; seq $((N + 1)) $((2 * N)); echo SE\$((1))QDONE"
wait_for 60 sh -c "[ \$(stat -c %s '$T/s4.out' 2>/dev/null || echo 0) -gt 50000 ]" || fail "no output before the kill"
kill -KILL "$RELAY_PID"
wait "$RELAY_PID" 2>/dev/null
eq "the kill landed before the second half" "$(tr -d '\r' <"$T/s4.out" | grep -cx "$((N + 1))")" 0
sleep 2
restart_relay
check "the stream ends after the resume" wait_for 120 grep -q SE1QDONE "$T/s4.out"
eq "the agent resumed the fourth shell (its third resume)" "$(grep -c 'resumed after' "$T/agent-e2e-shres.err")" 3
seq 1 $((2 * N)) >"$T/s4.want"
tr -d '\r' <"$T/s4.out" | grep -E '^[0-9]+$' >"$T/s4.got"
check "the shell's output across the kill: every line once, in order" cmp -s "$T/s4.got" "$T/s4.want"
type_line 'exit 0'
check "fourth shell ended" wait_for 30 test -f "$T/s4.status"
eq "fourth shell: exit 0" "$(cat "$T/s4.status" 2>/dev/null)" 0

# --- The escapes act while the relay is away: ~? answers, ~. ends the CLI
# at once (not after a resume), says the shell runs on, and the agent ends
# that shell after its resume timeout (6 s here). ---
PORTHOLE_RESUME_TIMEOUT=6s start_agent e2e-shres2
P=s2
tm new-session -d -s s2 -x 100 -y 40 "$T/run.sh s2 e2e-shres2"
type_line 'echo PID $$ D$((3))IP'
check "second shell up" wait_for 20 pane_has D3IP
pid3=$(remote_pid D3IP)
check "second shell pid known ($pid3)" test -n "$pid3"
tm new-session -d -s s3 -x 100 -y 40 "$T/run.sh s3 e2e-shres2"
P=s3
type_line 'echo PID $$ D$((5))IP'
check "third shell up" wait_for 20 pane_has D5IP
pid5=$(remote_pid D5IP)
check "third shell pid known ($pid5)" test -n "$pid5"
P=s2
kill -KILL "$RELAY_PID"
wait "$RELAY_PID" 2>/dev/null
check "reconnecting... in the second pane" wait_for 30 pane_has "reconnecting..."
tm send-keys -t s2 -l '~?'
check "~? answers while the relay is away" wait_for 20 pane_has "Supported escape sequences"
tm send-keys -t s2 -l '~.'
check "~. ends the CLI while the relay is away" wait_for 30 test -f "$T/s2.status"
eq "~. while away exits 255" "$(cat "$T/s2.status" 2>/dev/null)" 255
check "~. while away says the shell runs on" pane_has "its shell runs on until the agent's resume timeout"
check "terminal settings restored after ~. while away" cmp -s "$T/s2.before" "$T/s2.after"
# SIGTERM to the CLI while the relay is away: the same.
P=s3
check "reconnecting... in the third pane" wait_for 30 pane_has "reconnecting..."
kill -TERM "$(pgrep -P "$(tm display -p -t s3 '#{pane_pid}')" | head -1)"
check "SIGTERM while away ends the CLI" wait_for 30 test -f "$T/s3.status"
eq "SIGTERM while away exits 255" "$(cat "$T/s3.status" 2>/dev/null)" 255
check "SIGTERM while away says the shell runs on" pane_has "terminated while the relay was away"
check "terminal settings restored after SIGTERM while away" cmp -s "$T/s3.before" "$T/s3.after"
check "the agent ends the held shells after its resume timeout" \
	wait_for 60 sh -c "[ -n '$pid3' ] && [ -n '$pid5' ] && ! kill -0 '$pid3' && ! kill -0 '$pid5'"
eq "the agent logs both held sessions' end" "$(grep -c 'did not come back within 6s' "$T/agent-e2e-shres2.err")" 2
if [ $fails -gt 0 ] || [ "${SHOW_PANE:-0}" = 1 ]; then
	for P in s2 s3; do pane | sed "s/^/# pane $P: /"; done
fi
finish
