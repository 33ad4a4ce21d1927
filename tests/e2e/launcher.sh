#!/usr/bin/env bash
# Launcher mode end to end (porthole-agent [OPTIONS] -- APP): APP keeps the
# launcher's pid (PID 1 under unshare --pid), gets SIGTERM with its own
# handler, its exit code is the launcher's and the namespace's, it sees no
# PORTHOLE_*; the agent is its child in a session of its own, serves exec
# while APP runs, dies with APP, and its death (kill -9) leaves APP running.
. "$(dirname "$0")/lib.sh"

APP_BIN=$BUILD/tests/tools/ph-testapp

# gone PID: the process has exited (no entry, or a zombie nobody reaped yet).
gone() { [ ! -e "/proc/$1" ] || [ "$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat")" = Z ]; }
# sid PID, pgid PID: session and process group of a process.
sid() { ps -o sid= -p "$1" | tr -d ' '; }
pgid() { ps -o pgid= -p "$1" | tr -d ' '; }
# launch NAME DIR CODE [reap] [-- WRAPPER...]: APP under the agent, in the background;
# the agent gets every PORTHOLE_* the test has plus its token, APP must get none.
launch() {
	local name=$1 dir=$2 code=$3 reap=${4:-}
	mkdir -p "$dir"
	shift 4 2>/dev/null || shift $#
	PORTHOLE_TOKEN=@$STATE/agent.token PORTHOLE_NAME=$name PORTHOLE_LABELS=mode=launcher \
		PORTHOLE_SHELL=/bin/sh "$@" "$AGENT_BIN" -- "$APP_BIN" app "$dir" "$code" $reap \
		>"$T/$name.out" 2>"$T/$name.err" &
	LPID=$!
	PIDS+=("$LPID")
}
not_listed() { ! agent_listed "$1"; }

start_relay

# --- Outside a namespace: pid, exit code, parent death -------------------------
launch l-plain "$T/plain" 5
check "APP started" wait_for 20 test -f "$T/plain/ready"
eq "APP keeps the launcher's pid" "$(cat "$T/plain/pid")" "$LPID"
check "the launched agent is listed" wait_for 20 agent_listed l-plain
apid=$(pgrep -P "$LPID" | head -1)
check "the agent is APP's child" test -n "$apid"
contains "the agent says it rides with APP" "$(cat "$T/l-plain.err")" \
	"launcher mode: $APP_BIN runs as pid $LPID, the agent as its child, pid $apid"
check "the agent has a session of its own" test "$(sid "$apid")" = "$apid"
eq "APP sees no PORTHOLE_*" "$(grep -c '^PORTHOLE_' "$T/plain/env")" 0
check "APP keeps the rest of its environment" grep -q '^PATH=' "$T/plain/env"
eq "the agent serves exec while APP runs" "$(ph exec l-plain -- echo hi </dev/null)" hi
kill -TERM "$LPID"
wait "$LPID"; eq "APP's exit code is the launcher's" $? 5
check "APP handled SIGTERM" test -f "$T/plain/term"
check "the agent goes when APP goes (parent-death signal)" wait_for 20 gone "$apid"
check "... and leaves the relay" wait_for 20 not_listed l-plain

# APP's fds are exactly what they would be without the agent (stdin closed
# here: the agent's sync pipe must not take its place, nor leak into APP).
# ls lists its own fds (exec'd by sh: no pipeline of sh's in between, whose
# pipe ends would come and go while it looks).
fds='exec ls /proc/self/fd'
want=$(sh -c "$fds" <&- | sort -n | tr "\n" " ")
got=$(PORTHOLE_TOKEN=@$STATE/agent.token PORTHOLE_NAME=l-fds "$AGENT_BIN" -- sh -c "$fds" <&- 2>/dev/null | sort -n | tr "\n" " ")
eq "APP's fds are its own (closed stdin stays closed, no pipe of ours)" "$got" "$want"

# --- APP that cannot run: the launcher's status says so, no agent lingers -------
PORTHOLE_TOKEN=@$STATE/agent.token PORTHOLE_NAME=l-nf "$AGENT_BIN" -- /nonexistent/ph-app-nf \
	>/dev/null 2>"$T/nf.err"
eq "APP not found is 127" $? 127
contains "and says so" "$(cat "$T/nf.err")" "cannot run /nonexistent/ph-app-nf"
printf '#!/bin/sh\n' >"$T/noexec"; chmod 644 "$T/noexec"
PORTHOLE_TOKEN=@$STATE/agent.token PORTHOLE_NAME=l-nx "$AGENT_BIN" -- "$T/noexec" \
	>/dev/null 2>&1
eq "APP not executable is 126" $? 126
check "no agent is left behind a failed exec" wait_for 20 no_process "ph-app-nf"
"$AGENT_BIN" -- >/dev/null 2>"$T/empty.err"; eq "nothing after -- is a usage error" $? 2
contains "usage says why" "$(cat "$T/empty.err")" "nothing to run after '--'"
# A bad agent setting does not keep APP from running: the agent alone gives up.
mkdir -p "$T/bad"
PORTHOLE_RELAY=not-a-url PORTHOLE_TOKEN=@$STATE/agent.token "$AGENT_BIN" -- \
	"$APP_BIN" echo still-runs >"$T/bad/out" 2>"$T/bad/err"
eq "a bad agent setting: APP runs and its status is kept" $? 0
eq "... APP's output" "$(cat "$T/bad/out")" still-runs

# --- In a PID namespace: APP is PID 1 -------------------------------------------
if ! unshare --pid --fork --mount-proc true 2>/dev/null; then
	log "unshare --pid is not permitted here: the namespace half is skipped"
	finish
fi
launch l-ns "$T/ns" 3 reap setsid unshare --pid --fork --mount-proc
UPID=$LPID
check "APP started in the namespace" wait_for 20 test -f "$T/ns/ready"
eq "APP is PID 1" "$(cat "$T/ns/pid")" 1
app=$(pgrep -P "$UPID" | head -1)
apid=$(pgrep -P "$app" | head -1)
check "the agent runs as APP's child" test -n "$apid"
check "the agent is in neither APP's session nor its process group" \
	test "$(sid "$apid")" != "$(sid "$app")" -a "$(pgid "$apid")" != "$(pgid "$app")"
eq "APP sees no PORTHOLE_*" "$(grep -c '^PORTHOLE_' "$T/ns/env")" 0
check "the launched agent is listed" wait_for 20 agent_listed l-ns
eq "exec runs inside APP's namespace (PID 1 is APP)" \
	"$(ph exec l-ns -- cat /proc/1/cmdline </dev/null | tr '\0' ' ')" \
	"$APP_BIN app $T/ns 3 reap "
env_out=$(ph exec l-ns -- env </dev/null)
case $env_out in *PORTHOLE_*) fail "PORTHOLE_ variables reached the agent's programs";;
*) ok "the agent's programs see no PORTHOLE_*";; esac
check "token wiped from the agent's /proc environ" \
	sh -c "! tr '\\0' '\\n' </proc/$apid/environ | grep -q '^PORTHOLE_TOKEN=.'"

# A terminal's Ctrl-C goes to APP's process group, never to the agent.  (Not
# SIGHUP: unshare, in the same group, would die of it, as would a runtime.)
kill -INT -- "-$(pgid "$app")"
eq "the agent still serves exec after SIGINT to APP's group" \
	"$(ph exec l-ns -- echo alive </dev/null)" alive
check "APP (an init without a SIGINT handler) ignored it" test ! -f "$T/ns/term"

# The agent's death never takes APP down; APP, reaping like an init, gets it.
kill -9 "$apid"
check "the agent is gone" wait_for 20 gone "$apid"
check "APP reaped its child, the agent" wait_for 20 test -s "$T/ns/reaped"
check "APP still runs after kill -9 of the agent" kill -0 "$app"
check "APP did not see a SIGTERM" test ! -f "$T/ns/term"
check "the agent left the relay" wait_for 20 not_listed l-ns

# SIGTERM to PID 1 (what ECS sends) reaches APP's own handler; its code is the namespace's.
kill -TERM "$app"
wait "$UPID"; eq "APP's exit code is the namespace's" $? 3
check "APP handled SIGTERM" test -f "$T/ns/term"

# APP exits on its own while the agent runs: the namespace ends with APP's code.
launch l-ns2 "$T/ns2" 0 "" setsid unshare --pid --fork --mount-proc
UPID=$LPID
check "second APP started" wait_for 20 test -f "$T/ns2/ready"
check "second agent listed" wait_for 20 agent_listed l-ns2
kill -TERM "$(pgrep -P "$UPID" | head -1)"
wait "$UPID"; eq "exit code 0 kept" $? 0
check "the agent went with the namespace" wait_for 20 not_listed l-ns2
finish
