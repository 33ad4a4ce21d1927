# tests/e2e/attach-lib.sh - sourced after lib.sh and use_tmux by the tests
# that drive shells in tmux panes and take them up again (attach_held.sh,
# fleet_attach.sh).
#
# attach_run_sh: writes $T/run.sh NAME ARGS..., which runs the CLI in a pane
# (through $PORTHOLE_RELAY as it is now) with the pane's terminal, keeping
# its pid in $T/NAME.pid and its status in $T/NAME.status; the pane stays.
# The helpers act on pane $P.
attach_run_sh() {
	cat >"$T/run.sh" <<RUN
#!/bin/bash
export PORTHOLE_RELAY='$PORTHOLE_RELAY' PORTHOLE_CA='$PORTHOLE_CA'
export PORTHOLE_TOKEN='$PORTHOLE_TOKEN' PORTHOLE_KEY='$PORTHOLE_KEY' TERM=screen
n=\$1; shift
"$CLI_BIN" "\$@" </dev/tty & p=\$!
echo \$p >"$T/\$n.pid"
wait \$p; echo \$? >"$T/\$n.status"
exec sleep 100000
RUN
	chmod +x "$T/run.sh"
}
# line_at TEXT: a line of TEXT alone, or after the shell's prompt
line_at() { pane | grep -qE -- "^(# )?$1\$"; }
# state_of AGENT ID STATE: porthole sessions AGENT lists ID in STATE
state_of() { ph sessions "$1" --json 2>/dev/null | grep -q "\"id\": *\"$2\"[^}]*\"state\": *\"$3\""; }
