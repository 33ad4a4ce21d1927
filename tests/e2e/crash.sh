#!/usr/bin/env bash
# Crash capture in launcher mode (issue 19, PORTHOLE_CAPTURE_CRASH=1): a
# launcher-mode app, PID 1 of a new pid namespace, segfaults after 2 s; the
# agent's tracer stores its core on the relay before the app dies of the
# signal; `artifacts ls` lists a complete core with trigger "crash" and the
# signal, `artifacts get` + gdb show the faulting function at the top of
# the stack, and the namespace's exit status is 139 as without porthole.
# An app with a SIGSEGV handler takes its handled SIGSEGVs (and SIGURGs)
# unchanged under the tracer; SIGABRT outside a namespace ends as 134;
# an on-demand `porthole dump` of the traced app still works.
. "$(dirname "$0")/lib.sh"
command -v gdb >/dev/null || { fail "gdb is missing (scripts/deps.sh installs it)"; finish; }
command -v jq >/dev/null || { fail "jq is missing"; finish; }

APP=$BUILD/tests/tools/ph-crashapp
gone() { [ ! -e "/proc/$1" ] || [ "$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat")" = Z ]; }
artifacts_of() { ph artifacts ls --json 2>/dev/null; }
n_stored() { artifacts_of | jq --arg n "$1" '[.artifacts[] | select(.name == $n)] | length'; }
stored() { [ "$(n_stored "$1")" -ge 1 ]; }
art_of() { artifacts_of | jq -c --arg n "$1" '[.artifacts[] | select(.name == $n)][0]'; }
# crashrun NAME WRAPPER... -- APP ARGS: APP under a crash-capturing launcher-mode agent.
crashrun() {
	local name=$1
	shift
	env PORTHOLE_TOKEN=@$STATE/agent.token PORTHOLE_NAME=$name PORTHOLE_LABELS=env=prod \
		PORTHOLE_CAPTURE_CRASH=1 "$@" >"$T/$name.out" 2>"$T/$name.err"
}
# tracer_of PID: the TracerPid of a process.
tracer_of() { awk '/^TracerPid:/ { print $2 }' "/proc/$1/status"; }

start_relay
NS=""
if unshare --pid --fork --mount-proc true 2>/dev/null; then
	NS="unshare --pid --fork --mount-proc"
else
	log "unshare --pid is not permitted here: the app is not PID 1"
fi

# --- 1: SIGSEGV after 2 s, PID 1 of a namespace --------------------------------
mkdir -p "$T/plain" "$T/segv"
$NS "$APP" segv 2000 "$T/plain" 2>/dev/null
want=$?
eq "without porthole the namespace ends as a SIGSEGV (139)" "$want" 139
crashrun segv $NS "$AGENT_BIN" -- "$APP" segv 2000 "$T/segv"
eq "with crash capture the status is the same" "$?" "$want"
if [ -n "$NS" ]; then
	eq "the app was PID 1" "$(cat "$T/segv/ready")" 1
else
	log "skipped: the app was PID 1 (no pid namespace here)"
fi
contains "the agent says it captures the crash" "$(cat "$T/segv.err")" "crash capture: tracing pid"
contains "... and that the core is stored before the signal goes back" "$(cat "$T/segv.err")" \
	"is stored"
check "the core is listed" wait_for 20 stored segv
art=$(art_of segv)
id=$(jq -r .id <<<"$art")
eq "a complete core" "$(jq -r '"\(.kind) \(.complete)"' <<<"$art")" "core true"
contains "trigger: crash and the signal" "$(jq -r .trigger <<<"$art")" "crash: SIGSEGV (signal 11)"
eq "the reading has the signal" "$(jq -r '.reading.signal_name' <<<"$art")" SEGV
eq "the fault address is the null pointer's" "$(jq -r '.reading.fault_address' <<<"$art")" 0x0
ph artifacts get "$id" -o "$T/segv.core" >"$T/get.out" 2>&1
eq "artifacts get succeeds" "$?" 0
gdb -batch -ex bt -ex 'info threads' "$APP" "$T/segv.core" >"$T/gdb.out" 2>&1
contains "gdb: the core says SIGSEGV" "$(cat "$T/gdb.out")" "Program terminated with signal SIGSEGV"
eq "gdb: the faulting function at the top of the stack" \
	"$(grep -m1 '^#0' "$T/gdb.out" | grep -o 'ph_crash_here')" ph_crash_here
contains "gdb: at the faulting line" "$(grep -m1 -A1 '^#0' "$T/gdb.out")" "*p = 42"
between "gdb: every thread is in the core" "$(grep -c 'Thread\|LWP' "$T/gdb.out")" 3 99

# --- 2: SIGABRT -----------------------------------------------------------------
mkdir -p "$T/abort" "$T/abort0"
"$APP" abort 300 "$T/abort0" 2>/dev/null
want=$?
eq "without porthole abort() ends as 134" "$want" 134
crashrun abort "$AGENT_BIN" -- "$APP" abort 300 "$T/abort"
eq "with crash capture abort() ends as 134 too" "$?" "$want"
check "its core is listed" wait_for 20 stored abort
contains "trigger: SIGABRT" "$(jq -r .trigger <<<"$(art_of abort)")" "crash: SIGABRT (signal 6)"

# --- 3: handled signals pass through untouched -------------------------------------
# The app waits for its tracer (a slow sanitizer build attaches late).
crashrun handled env PH_CRASHAPP_TRACED=1 "$AGENT_BIN" -- "$APP" handled 2000
eq "the app with handlers exits as it would (7)" "$?" 7
eq "it took its 2000 handled SIGSEGVs" "$(awk '$1 == "segv" { print $2 }' "$T/handled.out")" 2000
eq "and its 2000 SIGURGs" "$(awk '$1 == "urg" { print $2 }' "$T/handled.out")" 2000
contains "under the tracer" "$(cat "$T/handled.err")" "crash capture: tracing pid"
eq "no core for handled signals" "$(n_stored handled)" 0

# --- 3b: a relay that stops answering: the signal goes back at --crash-timeout --
# The agent is welcomed, then the relay is stopped (SIGSTOP): the kernel still
# accepts the capture's connection, nobody answers its TLS handshake.
mkdir -p "$T/mute"
crashrun mute "$AGENT_BIN" --crash-timeout 2 -- "$APP" segv-on "$T/mute" &
MPID=$!
PIDS+=("$MPID")
check "the app runs" wait_for 20 test -s "$T/mute/ready"
check "its agent is welcomed" wait_for 20 agent_listed mute
kill -STOP "$RELAY_PID"
touch "$T/mute/crash"
wait "$MPID"
eq "a crash capture that cannot finish still ends as SIGSEGV (139)" "$?" 139
kill -CONT "$RELAY_PID"
contains "the tracer gave up at the timeout" "$(cat "$T/mute.err")" \
	"took longer than --crash-timeout (2 s)"
contains "--crash-timeout is read" "$(cat "$T/mute.err")" "(--crash-timeout 2 s)"
# No relay at all, a spool: the core waits there, a later agent uploads it.
mkdir -p "$T/spool" "$T/spapp"
crashrun spool env PORTHOLE_RELAY=wss://127.0.0.1:1 PORTHOLE_SPOOL_DIR="$T/spool" \
	"$AGENT_BIN" --crash-timeout 3 -- "$APP" segv 300 "$T/spapp"
eq "with no relay the crash still ends as SIGSEGV (139)" "$?" 139
check "the core is spooled" sh -c "ls '$T/spool' | grep -q 'end.json\$'"
PORTHOLE_SPOOL_DIR=$T/spool start_agent spool
check "a later agent uploads the spooled core" wait_for 30 stored spool
contains "... with its crash trigger" "$(jq -r .trigger <<<"$(art_of spool)")" "crash: SIGSEGV"
kill -TERM "$AGENT_PID"

PORTHOLE_CAPTURE_CRASH=1 PORTHOLE_CRASH_TIMEOUT=0 PORTHOLE_TOKEN=@$STATE/agent.token \
	"$AGENT_BIN" -- sleep 2 2>"$T/badto.err"
contains "a bad timeout is refused by the agent, never the app" "$(cat "$T/badto.err")" \
	"PORTHOLE_CRASH_TIMEOUT wants seconds from 1 to 3600"

# --- 4: an on-demand dump of the traced app ------------------------------------------
mkdir -p "$T/dump"
crashrun dump "$AGENT_BIN" -- "$APP" segv-on "$T/dump" &
LPID=$!
PIDS+=("$LPID")
check "the app runs" wait_for 20 test -s "$T/dump/ready"
check "the agent is listed" wait_for 20 agent_listed dump
APID=$(cat "$T/dump/ready")
traced() { [ "$(tracer_of "$APID")" != 0 ]; }
check "the app is traced (TracerPid)" wait_for 20 traced
ph dump dump "$APID" -o "$T/ondemand.core" >"$T/dump.out" 2>&1
eq "porthole dump of the traced app works" "$?" 0
gdb -batch -ex 'thread apply all bt' "$APP" "$T/ondemand.core" >"$T/gdb2.out" 2>&1
contains "gdb opens the on-demand core at the app's main" "$(cat "$T/gdb2.out")" "in main ("
contains "the tracer lent the app for the dump" "$(cat "$T/dump.err")" "lent to dump worker"
check "the app is traced again after the dump" wait_for 20 traced
touch "$T/dump/crash"
wait "$LPID"
eq "and its crash after the dump is captured as well: 139" "$?" 139
check "that core is listed" wait_for 20 stored dump

finish
