#!/usr/bin/env bash
# console end to end, in a real terminal (tmux on a private socket): a
# command name, an agent name and, after `use`, a pid complete with Tab;
# `ls` prints the agents; a failing command and Ctrl-C print and the prompt
# returns; the history file survives a restart (Up recalls the last line)
# and is private; Ctrl-D leaves with 0.
. "$(dirname "$0")/lib.sh"

command -v tmux >/dev/null || { echo "1..0 # SKIP no tmux"; exit 77; }

SOCK=porthole-console-$$
tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
screen() { tm capture-pane -p -t con 2>/dev/null; }
# The last non-blank line of the pane: the line being edited.
cur_line() { screen | sed '/^ *$/d' | tail -1; }
on_screen() { screen | grep -q -- "$1"; }
line_is() { [ "$(cur_line | sed 's/ *$//')" = "$1" ]; }
keys() { tm send-keys -t con "$@"; }
text() { tm send-keys -t con -l -- "$1"; }
tm_cleanup() { tm kill-server 2>/dev/null; }

start_relay
start_agent e2e-console-agent

XDG=$T/xdg
cat >"$T/console.sh" <<SH
export PORTHOLE_RELAY='$PORTHOLE_RELAY' PORTHOLE_CA='$PORTHOLE_CA'
export PORTHOLE_TOKEN='$PORTHOLE_TOKEN' PORTHOLE_KEY='$PORTHOLE_KEY'
export XDG_STATE_HOME='$XDG' HOME='$T'
'$CLI_BIN' console
echo \$? >'$T/console.exit'
SH

# start_console: a fresh console in a new tmux session.
start_console() {
	rm -f "$T/console.exit"
	tm new-session -d -s con -x 160 -y 50 "bash $T/console.sh"
	PIDS+=("$(tm display -p -t con '#{pid}')")
	wait_for 30 line_is "porthole>"
}
trap 'tm_cleanup; cleanup' EXIT

check "console shows its prompt" start_console

# A command name completes.
text "ex"; keys Tab
check "ex<Tab> completes to exec" wait_for 20 line_is "porthole> exec"
keys C-u

# An agent name completes, and `use` sets the target (the prompt shows it).
text "use e2e-con"; keys Tab
check "an agent name completes" wait_for 30 line_is "porthole> use e2e-console-agent"
keys Enter
check "use sets the target" wait_for 20 line_is "porthole e2e-console-agent>"

# ls prints the agent table.
text "ls"; keys Enter
check "ls output appears" wait_for 30 on_screen "^ID  *NAME  *SUB  *VERSION"
check "ls lists the agent" wait_for 30 sh -c "tmux -L $SOCK capture-pane -p -t con | grep -v '>' | grep -q e2e-console-agent"
check "prompt back after ls" wait_for 20 line_is "porthole e2e-console-agent>"

# After `use`, a pid completes: a process of ours with a known pid.
sleep 300 &
marker=$!
PIDS+=("$marker")
prefix=${marker%?}
text "mem $prefix"; keys Tab
pid_done() {
	local l got
	l=$(cur_line | sed 's/ *$//')
	got=${l#porthole e2e-console-agent> mem }
	# Either one pid was inserted whole, or the choices were listed.
	{ [ "$got" != "$prefix" ] && [ "$got" != "$l" ] && [ -d "/proc/$got" ] &&
		case $got in "$prefix"*) true;; *) false;; esac; } ||
		screen | grep -qw -- "$marker"
}
check "a pid completes after use" wait_for 60 pid_done
keys C-u

# The default target goes in; a command's exit status does not end the console.
text "exec -- sh -c 'echo hello-from-\$((6*7)); exit 3'"; keys Enter
check "exec runs on the default target" wait_for 30 on_screen "hello-from-42"
check "prompt back after exit 3" wait_for 20 line_is "porthole e2e-console-agent>"

# An unknown target prints its error and the prompt returns.
text "ps @no-such-agent-here"; keys Enter
check "unknown target error printed" wait_for 30 on_screen "porthole: no agent matches 'no-such-agent-here'"
check "prompt back after the error" wait_for 20 line_is "porthole e2e-console-agent>"

# Ctrl-C stops the running command, not the console.
# (4713: a duration no other test uses; no_process looks machine-wide, and
# keepalive.sh and shell.sh run a "sleep 100" of their own beside this test.)
text "exec -- sleep 4713"; keys Enter
check "sleep started on the agent" wait_for 30 sh -c "pgrep -f -x 'sleep 4713' >/dev/null"
keys C-c
check "prompt back after Ctrl-C" wait_for 30 line_is "porthole e2e-console-agent>"
check "the remote sleep is gone" wait_for 30 no_process "^sleep 4713$"
keys C-c
sleep 0.5
text "use"; keys Enter
check "Ctrl-C at the prompt leaves the console up" wait_for 20 on_screen "target: e2e-console-agent"

# A command that makes no sense inside is refused.
text "console"; keys Enter
check "console inside the console refused" wait_for 20 on_screen "porthole: 'console' does not run inside the console"

# The console's help says how to name another target (issue 16 item 4).
text "help"; keys Enter
check "help shows the console's rules" wait_for 20 on_screen "^in the console:"
check "help says how to name another target" wait_for 20 on_screen "with '@': 'exec @worker -- uptime'"
text "help ps"; keys Enter
check "help runs" wait_for 20 on_screen "usage: porthole ps "

check "prompt back after help" wait_for 30 line_is "porthole e2e-console-agent>"
keys C-d
check "Ctrl-D leaves" wait_for 60 test -s "$T/console.exit"
eq "console exit status" "$(cat "$T/console.exit" 2>/dev/null)" 0

# History: private, and recalled after a restart.
eq "history directory is 0700" "$(stat -c %a "$XDG/porthole")" 700
eq "history file is 0600" "$(stat -c %a "$XDG/porthole/history")" 600
wait_for 30 sh -c "! tmux -L $SOCK has-session -t con 2>/dev/null"
check "console shows its prompt again" start_console
keys Up
check "Up recalls the last line" wait_for 20 line_is "porthole> help ps"
keys C-u C-d
check "Ctrl-D leaves again" wait_for 60 test -s "$T/console.exit"
eq "second exit status" "$(cat "$T/console.exit" 2>/dev/null)" 0

# Piped stdin: no terminal, same commands.
out=$(printf 'use e2e-console-agent\nexec -- echo piped-ok\n' |
	XDG_STATE_HOME=$XDG "$CLI_BIN" console 2>&1); eq "piped console exit 0" $? 0
contains "piped console runs commands" "$out" "piped-ok"

# `use` checks its target, and a word naming another agent is no program
# (issue 16 item 4).  Two agents in directories of their own: `pwd` on the
# agent says which ran a line.
for w in worker-a worker-b; do
	mkdir -p "$T/$w"
	(cd "$T/$w" && PORTHOLE_TOKEN=@$STATE/agent.token PORTHOLE_NAME=$w exec "$AGENT_BIN") \
		>"$T/agent-$w.out" 2>"$T/agent-$w.err" &
	PIDS+=("$!")
	check "agent $w registers" wait_for 20 agent_listed "$w"
done
# con LINES...: a piped console running the lines; stdout and stderr to $T/con.out, .err.
con() {
	printf '%s\n' "$@" | XDG_STATE_HOME=$XDG "$CLI_BIN" console >"$T/con.out" 2>"$T/con.err"
}
con "use nope-no-agent" "use"
contains "use of an unknown target: refused" "$(cat "$T/con.err")" "use: no agent matches 'nope-no-agent'; connected:"
contains "use of an unknown target: the target stays unset" "$(cat "$T/con.out")" "no target"
con "use worker" "use"
contains "use of an ambiguous prefix: refused" "$(cat "$T/con.err")" "use: 'worker' matches 2 agents:"
contains "use of an ambiguous prefix: lists worker-a" "$(cat "$T/con.err")" "worker-a ("
contains "use of an ambiguous prefix: lists worker-b" "$(cat "$T/con.err")" "worker-b ("
contains "use of an ambiguous prefix: the target stays unset" "$(cat "$T/con.out")" "no target"
con "use family=nothing-here"
contains "use of a selector matching nothing: refused" "$(cat "$T/con.err")" "use: no agent matches 'family=nothing-here'"
con "use worker-a" "use"
contains "use of one agent: says which" "$(cat "$T/con.out")" "target: worker-a is "
contains "use of one agent: taken" "$(cat "$T/con.out")" "target: worker-a"
# After `use worker-a`, another agent's name is refused, not run as a program.
con "use worker-a" "exec -n worker-b -- pwd" "exec -n @worker-b -- pwd" "exec -n -- pwd"
contains "another agent's name after use: refused" "$(cat "$T/con.err")" "'worker-b' is an agent, and the target is worker-a: write 'exec @worker-b ...'"
eq "@NAME runs there, -- on the target, nothing else ran" "$(grep -v -e '^target:' -e '^$' "$T/con.out" | tr '\n' ' ')" "$T/worker-b $T/worker-a "
finish
