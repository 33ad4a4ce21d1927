# tests/e2e/lib.sh - sourced by every end-to-end test: starts the real
# porthole-relay (--dev, loopback, a free port), real agents and the real
# CLI from the build tree, and cleans every process up on exit.
#
# The build directory comes from $PORTHOLE_BUILD (meson sets it).  Waits are
# bounded generously (see wait_for) and tests assert outcomes, never times.
set -u

BUILD=${PORTHOLE_BUILD:?PORTHOLE_BUILD must name the build directory}
RELAY_BIN=$BUILD/src/relay/porthole-relay
AGENT_BIN=$BUILD/agent/porthole-agent
CLI_BIN=$BUILD/client/porthole
PROBE_BIN=$BUILD/tests/tools/ph-probe

# Nothing from the caller's environment: the dev relay's env file sets what a test needs.
for v in $(env | sed -n 's/^\(PORTHOLE_[A-Z_]*\)=.*/\1/p'); do
	case $v in PORTHOLE_BUILD|PORTHOLE_SANITIZER|PORTHOLE_TEST_RESUME) ;; *) unset "$v";; esac
done
# PORTHOLE_TEST_RESUME=DURATION runs every test with that resume timeout
# (PORTHOLE_RESUME_TIMEOUT on every agent and CLI, unless the test sets its
# own): 0 runs the suite with resume off, as before it was on by default
# (5m, what runs without it).
if [ -n "${PORTHOLE_TEST_RESUME:-}" ]; then
	export PORTHOLE_RESUME_TIMEOUT=$PORTHOLE_TEST_RESUME
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/porthole-e2e.XXXXXX")
STATE=$T/state
# No context from the caller's config file (client-context.h): tests that
# want one write $XDG_CONFIG_HOME/porthole/config.
export XDG_CONFIG_HOME=$T/config
PIDS=()
fails=0
checks=0

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "${KEEP_T:-0}" = 1 ] || [ $fails -gt 0 ]; then
		echo "# state kept in $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

log() { echo "# $*"; }
ok() { checks=$((checks + 1)); echo "ok - $*"; }
fail() { checks=$((checks + 1)); fails=$((fails + 1)); echo "not ok - $*"; }
# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }
# eq DESCRIPTION GOT WANT
eq() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: got '$2', want '$3'"; fi; }
contains() { case $2 in *"$3"*) ok "$1";; *) fail "$1: '$2' lacks '$3'";; esac; }
# between DESCRIPTION VALUE LOW HIGH: VALUE is an integer from LOW to HIGH.
between() {
	if [[ $2 =~ ^-?[0-9]+$ ]] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ]; then ok "$1"
	else fail "$1: got '$2', want $3 to $4"; fi
}
# less_than DESCRIPTION A B: A and B are integers and A < B.
less_than() {
	if [[ $2 =~ ^-?[0-9]+$ && $3 =~ ^-?[0-9]+$ ]] && [ "$2" -lt "$3" ]; then ok "$1"
	else fail "$1: got '$2' and '$3', want the first below the second"; fi
}
# A compound condition is never `check "…" [ a ] && [ b ]` (check gets only
# `[ a ]`): use between/less_than, two checks, or check "…" sh -c '…'.
# scripts/lint-tests rejects the pattern.
finish() {
	echo "# $checks checks, $fails failed"
	[ $fails -eq 0 ]
	exit $?
}

# wait_for SECONDS COMMAND...: poll until the command succeeds; 1 on timeout.
wait_for() {
	local secs=$1 i; shift
	for i in $(seq $((secs * 10))); do
		"$@" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# start_relay [ARGS...]: a dev relay on 127.0.0.1:0; sets RELAY_PID, PORT and
# sources the env file (PORTHOLE_RELAY, _CA, _TOKEN, _KEY, _PUBKEY).
start_relay() {
	"$RELAY_BIN" --dev --state "$STATE" --listen "${RELAY_LISTEN:-127.0.0.1:0}" "$@" \
		>"$T/relay.out" 2>"$T/relay.err" &
	RELAY_PID=$!
	PIDS+=("$RELAY_PID")
	if ! wait_for 20 grep -q 'listening on' "$T/relay.err"; then
		cat "$T/relay.err" >&2
		fail "relay did not start"
		finish
	fi
	PORT=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$T/relay.err" | head -1)
	# shellcheck disable=SC1091
	. "$STATE/env"
	export PORTHOLE_RELAY PORTHOLE_CA PORTHOLE_TOKEN PORTHOLE_KEY PORTHOLE_PUBKEY
}

# start_agent NAME [LABELS]: an agent with the dev agent token; sets AGENT_PID.
start_agent() {
	local name=$1 labels=${2:-}
	PORTHOLE_TOKEN=@$STATE/agent.token PORTHOLE_NAME=$name PORTHOLE_LABELS=$labels \
		"$AGENT_BIN" >"$T/agent-$name.out" 2>"$T/agent-$name.err" &
	AGENT_PID=$!
	PIDS+=("$AGENT_PID")
	if ! wait_for 20 agent_listed "$name"; then
		cat "$T/agent-$name.err" >&2
		fail "agent $name did not register"
		finish
	fi
}

# free_port: a loopback port free right now (for a program that cannot
# listen on port 0 and say which it got, such as haproxy or redis-server).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run_haproxy [CFG]: haproxy with CFG (default $T/haproxy.cfg; its log
# beside it), which listens on LB_PORT (a free_port); sets LB_PID once it
# accepts connections.
run_haproxy() {
	local cfg=${1:-$T/haproxy.cfg}
	haproxy -f "$cfg" -db >"${cfg%.cfg}.log" 2>&1 &
	LB_PID=$!
	PIDS+=("$LB_PID")
	wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $LB_PORT), 1)" ||
		{ cat "${cfg%.cfg}.log" >&2; fail "haproxy did not start"; finish; }
}

# restart_relay [ARGS]: the relay started again, after it stopped, on the
# port it had ($PORT) with the same state; the audit ($T/relay.out) goes
# on, $T/relay.err starts afresh.  Sets RELAY_PID.
restart_relay() {
	: >"$T/relay.err"
	"$RELAY_BIN" --dev --state "$STATE" --listen "127.0.0.1:$PORT" "$@" \
		>>"$T/relay.out" 2>"$T/relay.err" &
	RELAY_PID=$!
	PIDS+=("$RELAY_PID")
	wait_for 20 grep -q 'listening on' "$T/relay.err" || fail "relay did not restart"
}

agent_listed() { "$CLI_BIN" ls --json 2>/dev/null | grep -q "\"name\": *\"$1\""; }

# ph ARGS...: the CLI with the dev operator token.
ph() { "$CLI_BIN" "$@"; }

# rss_kib PID: peak resident set (VmHWM) of a process in KiB.
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# no_process PATTERN: no process whose command line matches PATTERN.
no_process() { ! pgrep -f -- "$1" >/dev/null; }

sanitizer() { [ "${PORTHOLE_SANITIZER:-0}" = 1 ]; }

# reader_gone ERRFILE COMMAND...: run COMMAND with its stdout on a pipe whose
# reader has already left (stdin /dev/null, stderr to ERRFILE) and print its
# status as a shell would: 141 when it died of SIGPIPE, like a member of a
# pipeline whose `head` is done.  No race with a reader that may not have
# exited yet, unlike `| head -1` on a short output.
reader_gone() {
	local err=$1; shift
	python3 -c '
import os, subprocess, sys
r, w = os.pipe()
os.close(r)
with open(sys.argv[1], "wb") as err:
    rc = subprocess.run(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=w, stderr=err).returncode
print(128 - rc if rc < 0 else rc)' "$err" "$@"
}
# quiet_pipe_end DESCRIPTION COMMAND...: COMMAND ends like a pipeline member
# when its reader has gone: SIGPIPE (141) and nothing on stderr.
quiet_pipe_end() {
	local d=$1; shift
	eq "$d: dies of SIGPIPE when its reader is gone" "$(reader_gone "$T/rg.err" "$@")" 141
	eq "$d: and says nothing" "$(cat "$T/rg.err")" ""
}

# use_tmux NAME: a private tmux server (no config) for a test that drives a
# real terminal (tmux is needed); tm runs tmux against it, and the server
# and its socket go on exit, before cleanup.
use_tmux() {
	command -v tmux >/dev/null || { fail "tmux is not installed (scripts/deps.sh installs it)"; finish; }
	TSOCK=porthole-$1-$$
	trap 'tm kill-server 2>/dev/null; rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$TSOCK"; cleanup' EXIT
}
tm() { tmux -L "$TSOCK" -f /dev/null "$@"; }
# Pane helpers (use_tmux): they act on pane $P.  pane: its text, lines
# joined, 1000 lines of history; pane_has TEXT; type_line TEXT (and Enter);
# remote_pid MARK: the pid an `echo PID $$ MARK` printed.
pane() { tm capture-pane -p -J -t "$P" -S -1000; }
pane_has() { pane | grep -qF -- "$1"; }
type_line() { tm send-keys -t "$P" -l "$1"; tm send-keys -t "$P" Enter; }
remote_pid() { pane | sed -n "s/.*PID \([0-9][0-9]*\) $1.*/\1/p" | head -1; }
