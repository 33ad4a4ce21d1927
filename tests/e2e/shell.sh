#!/usr/bin/env bash
# shell end to end, through a real terminal: the CLI runs in a tmux pane of
# known size (private tmux server, no config) and is driven with send-keys
# and capture-pane.  Checked: the remote terminal's size at start and after
# a resize, Ctrl-C reaching a remote program, `exit 3` as the CLI's status,
# the local terminal settings identical before and after (also when the
# agent is killed mid-session), `~.` hanging up the remote process groups,
# a missing shell (127), and a shell with piped stdin (no terminal).
. "$(dirname "$0")/lib.sh"
# Lost clients and agents end their sessions here within 2 s, not after the
# resume timeout (5 min) that lets a session outlive a dropped connection
# (tests/e2e/resume.sh).
export PORTHOLE_RESUME_TIMEOUT=2s

command -v tmux >/dev/null || { fail "tmux is not installed (scripts/deps.sh installs it)"; finish; }

TSOCK=porthole-e2e-$$
tm() { tmux -L "$TSOCK" -f /dev/null "$@"; }
tmux_cleanup() { tm kill-server 2>/dev/null; cleanup; }
trap tmux_cleanup EXIT

export PORTHOLE_SHELL=/bin/sh
start_relay
start_agent e2e-shell

# The pane's command: record the terminal settings, run the CLI, record its
# status and the settings again, then stay (the pane must not vanish).
cat >"$T/run.sh" <<RUN
#!/bin/bash
export PORTHOLE_RELAY='$PORTHOLE_RELAY' PORTHOLE_CA='$PORTHOLE_CA'
export PORTHOLE_TOKEN='$PORTHOLE_TOKEN' PORTHOLE_KEY='$PORTHOLE_KEY'
export TERM=screen
n=\$1; shift
stty -a >"$T/\$n.before"
"$CLI_BIN" shell "\$@" 2>"$T/\$n.err"
echo \$? >"$T/\$n.status.tmp"
stty -a >"$T/\$n.after"
mv "$T/\$n.status.tmp" "$T/\$n.status"
exec sleep 100000
RUN
chmod +x "$T/run.sh"

# pane_has SESSION TEXT: the pane shows TEXT.
pane_has() { tm capture-pane -p -t "$1" -S -200 | grep -qF -- "$2"; }
# run_in SESSION MARK CMD: type CMD; wait until MARK shows in the output.
run_in() {
	tm send-keys -t "$1" -l "$3"; tm send-keys -t "$1" Enter
	wait_for 20 pane_has "$1" "$2"
}
has_status() { [ -f "$T/$1.status" ]; }
# remote_pid SESSION MARK: the number a 'echo PID $$ MARK' printed.
remote_pid() { tm capture-pane -p -t "$1" | sed -n "s/.*PID \([0-9][0-9]*\) $2.*/\1/p" | head -1; }
# child_of PID NAME: PID has a child process called NAME.
child_of() { [ -n "$1" ] && pgrep -x "$2" -P "$1" >/dev/null; }

# --- size, resize, Ctrl-C, exit 3, terminal restored ---
tm new-session -d -s s1 -x 100 -y 30 "$T/run.sh s1 e2e-shell" \; set -g status off
check "remote shell up" run_in s1 D2IP 'echo PID $$ D$((2))IP'
s1pid=$(remote_pid s1 D2IP)
size=$(tm display -p -t s1 '#{pane_height} #{pane_width}')
check "stty size is the pane's ($size)" run_in s1 "SZ $size ZS" 'echo SZ $(stty size) ZS'
tm resize-window -t s1 -x 120 -y 40
size2=$(tm display -p -t s1 '#{pane_height} #{pane_width}')
eq "pane resized" "$size2" "40 120"
check "stty size follows the resize ($size2)" run_in s1 "SZ2 $size2 ZS" 'echo SZ2 $(stty size) ZS'

tm send-keys -t s1 -l 'sleep 100'; tm send-keys -t s1 Enter
check "remote sleep 100 running" wait_for 20 child_of "$s1pid" sleep
tm send-keys -t s1 C-c
check "Ctrl-C ends the remote sleep" wait_for 20 eval '! child_of "$s1pid" sleep'
check "the prompt is back after Ctrl-C" run_in s1 AFTER3 'echo AFTER$((1+2))'

tm send-keys -t s1 -l '~?'
# (the CLI's own messages go to its stderr: $T/s1.err here)
check "~? lists the escapes" wait_for 20 grep -qF "~.   - disconnect" "$T/s1.err"
tm send-keys -t s1 Enter; tm send-keys -t s1 -l 'cat'; tm send-keys -t s1 Enter
# Typed before cat runs, the line would meet readline's no-echo mode and be echoed once only.
check "remote cat running" wait_for 20 child_of "$s1pid" cat
tm send-keys -t s1 -l '~~Z'; tm send-keys -t s1 Enter
twice() { [ "$(tm capture-pane -p -t s1 | grep -cx '~Z')" -ge 2 ]; }
check "~~ sends one ~ (echoed and read by cat)" wait_for 20 twice
no_double() { ! tm capture-pane -p -t s1 | grep -q '~~Z'; }
check "no doubled ~ reached the remote" no_double
tm send-keys -t s1 C-d
tm send-keys -t s1 -l 'exit 3'; tm send-keys -t s1 Enter
check "the CLI ended" wait_for 30 has_status s1
eq "exit 3 is the CLI's status" "$(cat "$T/s1.status" 2>/dev/null)" 3
# The window was resized on purpose: compare everything but the size.
nosize() { sed 's/rows [0-9]*; columns [0-9]*;//' "$1"; }
eq "terminal settings restored after exit" "$(nosize "$T/s1.after")" "$(nosize "$T/s1.before")"
check "terminal was raw during the session" test -s "$T/s1.before"

# --- ~. disconnects; the shell and its foreground job are hung up ---
tm new-session -d -s s3 -x 80 -y 24 "$T/run.sh s3 e2e-shell"
check "second shell up" run_in s3 "D0IP" 'echo PID $$ D$((0))IP'
rpid=$(remote_pid s3 D0IP)
check "remote shell pid known ($rpid)" test -n "$rpid"; [ -n "$rpid" ] || tm capture-pane -p -t s3 | cat -A | sed "s/^/# pane: /"
tm send-keys -t s3 -l 'sleep 1001'; tm send-keys -t s3 Enter
check "remote sleep 1001 running" wait_for 20 child_of "$rpid" sleep
spgid=$(ps -o pgid= -p "$(pgrep -x sleep -P "$rpid" | head -1)" | tr -d ' ')
tm send-keys -t s3 Enter; tm send-keys -t s3 -l '~.'
check "~. ends the CLI" wait_for 30 has_status s3
eq "~. exits 255" "$(cat "$T/s3.status" 2>/dev/null)" 255
contains "~. says disconnected" "$(cat "$T/s3.err")" "disconnected"
check "terminal settings restored after ~." cmp -s "$T/s3.before" "$T/s3.after"
check "remote shell's process group gone" wait_for 30 sh -c "[ -n '$rpid' ] && ! pgrep -g '$rpid' >/dev/null"
check "remote foreground job's group gone" wait_for 30 sh -c "[ -n '$spgid' ] && ! pgrep -g '$spgid' >/dev/null"

# --- `yes` with the CLI stopped: relay and agent memory stay flat ---
# (plain build only: AddressSanitizer's quarantine grows RSS by itself)
if ! sanitizer; then
	tm new-session -d -s s4 -x 80 -y 24 "$T/run.sh s4 e2e-shell"
	check "fourth shell up" run_in s4 D4IP 'echo PID $$ D$((4))IP'
	s4pid=$(remote_pid s4 D4IP)
	cli=$(pgrep -P "$(tm display -p -t s4 '#{pane_pid}')" | head -1)
	relay_idle=$(rss_kib "$RELAY_PID"); agent_idle=$(rss_kib "$AGENT_PID")
	tm send-keys -t s4 -l 'yes'; tm send-keys -t s4 Enter
	check "remote yes running" wait_for 20 child_of "$s4pid" yes
	sleep 1
	kill -STOP "$cli"
	relay_max=0; agent_max=0
	for _ in $(seq 20); do
		sleep 0.5
		r=$(rss_kib "$RELAY_PID"); a=$(rss_kib "$AGENT_PID")
		[ "$r" -gt "$relay_max" ] && relay_max=$r
		[ "$a" -gt "$agent_max" ] && agent_max=$a
	done
	log "RSS KiB, idle -> max while the CLI was stopped 10 s with yes running:" \
		"relay $relay_idle -> $relay_max, agent $agent_idle -> $agent_max"
	check "relay RSS flat (+$((relay_max - relay_idle)) KiB)" test $((relay_max - relay_idle)) -lt 8192
	check "agent RSS flat (+$((agent_max - agent_idle)) KiB)" test $((agent_max - agent_idle)) -lt 8192
	kill -CONT "$cli"
	tm send-keys -t s4 C-c
	check "Ctrl-C stops yes after SIGCONT" wait_for 60 eval '! child_of "$s4pid" yes'
	check "the prompt is back after yes" run_in s4 AFTER11 'echo AFTER$((5+6))'
	tm send-keys -t s4 -l 'exit 0'; tm send-keys -t s4 Enter
	check "fourth shell ended" wait_for 30 has_status s4
	eq "exit 0 after yes" "$(cat "$T/s4.status" 2>/dev/null)" 0
fi

# --- SIGTERM and SIGHUP to the CLI: 255, terminal restored, shell hung up ---
for sig in TERM HUP; do
	tm new-session -d -s "k$sig" -x 80 -y 24 "$T/run.sh k$sig e2e-shell"
	check "shell for SIG$sig up" run_in "k$sig" D1IP 'echo PID $$ D$((1))IP'
	kpid=$(remote_pid "k$sig" D1IP)
	kill -"$sig" "$(pgrep -P "$(tm display -p -t "k$sig" '#{pane_pid}')" | head -1)"
	check "SIG$sig ends the CLI" wait_for 30 has_status "k$sig"
	eq "SIG$sig exits 255" "$(cat "$T/k$sig.status" 2>/dev/null)" 255
	check "terminal settings restored after SIG$sig" cmp -s "$T/k$sig.before" "$T/k$sig.after"
	check "remote shell gone after SIG$sig" wait_for 30 sh -c "[ -n '$kpid' ] && ! kill -0 '$kpid'"
done

# --- the agent killed mid-session: 255, terminal restored ---
tm new-session -d -s s2 -x 80 -y 24 "$T/run.sh s2 e2e-shell"
check "third shell up" run_in s2 READY7 'echo READY$((3+4))'
kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
check "agent loss ends the CLI" wait_for 60 has_status s2
eq "agent lost exits 255" "$(cat "$T/s2.status" 2>/dev/null)" 255
contains "agent lost is said" "$(cat "$T/s2.err")" "lost"
check "terminal settings restored after agent loss" cmp -s "$T/s2.before" "$T/s2.after"

# --- no terminal (piped stdin), and a missing shell ---
start_agent e2e-shell2
out=$(printf 'echo piped-$((2*3))\nexit 4\n' | ph shell e2e-shell2 2>"$T/p.err"); rc=$?
eq "piped shell exit status" "$rc" 4
eq "piped shell output" "$out" "piped-6"
eq "command after --" "$(ph shell e2e-shell2 -- sh -c 'echo cmd-ok; exit 5' </dev/null)" "cmd-ok"

PORTHOLE_SHELL=/nonexistent/shell start_agent e2e-noshell
ph shell e2e-noshell </dev/null 2>"$T/ns.err"; eq "missing shell exits 127" $? 127
contains "missing shell suggests exec" "$(cat "$T/ns.err")" "porthole exec"

check "no children left under the agent" wait_for 20 sh -c "[ -z \"\$(pgrep -P $AGENT_PID)\" ]"
finish
