#!/usr/bin/env bash
# Crash capture (PORTHOLE_CAPTURE_CRASH=1) under a real HotSpot JVM, in the
# plain build only (issue 19, "Test time"): the JVM in launcher mode shows
# a TracerPid, takes its SIGSEGVs (implicit null checks, safepoint polls)
# through the tracer and prints exactly what it prints without porthole;
# an on-demand `dump --kind jvm` and `--kind core` (lent by the tracer)
# work; a watch armed with `--kind jvm` (`watch add`) captures an .hprof with nobody
# attached (header and class names checked).  The cost goes to the log.
# Skips (77) only when java or javac is missing.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { fail "jq is missing"; finish; }
JAVA=$(command -v java) || { echo "# skip: no java"; exit 77; }
JAVAC=$(command -v javac) || { echo "# skip: no javac"; exit 77; }
if sanitizer; then echo "# skip: the JVM runs in the plain build only"; exit 77; fi
SRC=$(cd "$(dirname "$0")/../tools" && pwd)
mkdir -p "$T/cls" "$T/out"
"$JAVAC" -d "$T/cls" "$SRC/PortholeNullChecks.java" "$SRC/PortholeHeapTarget.java" >"$T/javac.err" 2>&1 ||
	{ cat "$T/javac.err" >&2; fail "javac"; finish; }
artifacts_of() { ph artifacts ls --json 2>/dev/null; }
stored() { [ "$(artifacts_of | jq --arg n "$1" '[.artifacts[] | select(.name == $n)] | length')" -ge 1 ]; }
tracer_of() { awk '/^TracerPid:/ { print $2 }' "/proc/$1/status"; }
strip_ms() { sed 's/ ms [0-9]*$//'; }

start_relay

# Without porthole: what the workload prints, and its time.
"$JAVA" -cp "$T/cls" PortholeNullChecks 20 >"$T/plain.out" 2>&1
eq "the workload runs without porthole" "$?" 0

# Under crash capture.
env PORTHOLE_TOKEN=@$STATE/agent.token PORTHOLE_NAME=jvm PORTHOLE_CAPTURE_CRASH=1 \
	"$AGENT_BIN" -- "$JAVA" -cp "$T/cls" PortholeNullChecks 20 100000 "$T/done" \
	>"$T/jvm.out" 2>"$T/jvm.err" &
LPID=$!
PIDS+=("$LPID")
check "the JVM starts" wait_for 60 grep -q '^ready' "$T/jvm.out"
JP=$(sed -n 's/^ready //p' "$T/jvm.out")
eq "the JVM keeps the launcher's pid" "$JP" "$LPID"
traced() { [ "$(tracer_of "$JP")" != 0 ]; }
check "its status shows a TracerPid" wait_for 20 traced
# A watch armed once the program runs (its classes loaded), firing at once.
check "the agent is listed" wait_for 20 agent_listed jvm
ph watch add jvm "$JP" --rss-above 1MiB --kind jvm >"$T/watch.out" 2>&1
eq "watch add" "$?" 0
check "the workload finishes under the tracer" wait_for 120 grep -q '^npes' "$T/jvm.out"
eq "and prints what it prints without porthole" "$(grep '^npes' "$T/jvm.out" | strip_ms)" \
	"$(grep '^npes' "$T/plain.out" | strip_ms)"
log "workload: $(sed -n 's/.* ms //p' "$T/plain.out") ms plain, $(sed -n 's/.* ms //p' "$T/jvm.out") ms traced"

check "the watch's .hprof is stored" wait_for 60 stored jvm
art=$(artifacts_of | jq -c '[.artifacts[] | select(.name == "jvm")][0]')
eq "a complete jvm capture" "$(jq -r '"\(.kind) \(.complete)"' <<<"$art")" "jvm true"
ph artifacts get "$(jq -r .id <<<"$art")" -o "$T/out/watch.hprof" >"$T/get.out" 2>&1
eq "artifacts get succeeds" "$?" 0
eq "the .hprof header" "$(head -c 18 "$T/out/watch.hprof")" "JAVA PROFILE 1.0.2"
check "the .hprof names the workload's class" grep -q 'PortholeNullChecks$Box' "$T/out/watch.hprof"

out=$(cd "$T/out" && ph dump jvm "$JP" --kind jvm -o ondemand.hprof 2>&1)
eq "an on-demand jvm dump of the traced JVM works" "$?" 0
eq "... its header" "$(head -c 18 "$T/out/ondemand.hprof")" "JAVA PROFILE 1.0.2"
out=$(cd "$T/out" && ph dump jvm "$JP" --kind core -o ondemand.core 2>&1)
eq "an on-demand core of the traced JVM works (lent by the tracer)" "$?" 0
check "the tracer takes the JVM back" wait_for 20 traced
check "the JVM still runs" kill -0 "$JP"

touch "$T/done"
wait "$LPID"
eq "the JVM exits 0 as without porthole" "$?" 0
segvs=$(sed -n 's/.*went through the tracer (\([0-9]*\) SIGSEGV).*/\1/p' "$T/jvm.err")
between "the JVM took its SIGSEGVs through the tracer" "${segvs:-0}" 50 100000000
log "signals through the tracer: $(grep -o '[0-9]* signals went.*' "$T/jvm.err")"
finish
