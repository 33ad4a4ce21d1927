#!/usr/bin/env bash
# exec --timeout end to end: the agent's clock ends the remote program's
# process group (SIGTERM, then SIGKILL after the grace) and the CLI exits
# 124 saying so; a program that ends in time keeps its own status.
. "$(dirname "$0")/lib.sh"

start_relay
start_agent e2e-timeout

# A sleep that outlives the timeout: 124, one line, and the sleep is gone.
ph exec --timeout 1s e2e-timeout -- sleep 1017 </dev/null 2>"$T/t1.err"
eq "timeout exits 124" $? 124
contains "timeout says so" "$(cat "$T/t1.err")" "porthole: timed out"
eq "one line on stderr" "$(wc -l <"$T/t1.err")" 1
# The timeout is said as it was given, not in milliseconds.
contains "timeout said as given" "$(cat "$T/t1.err")" "porthole: timed out after 1s: "
check "the remote sleep is gone" wait_for 10 no_process "sleep 1017"

# The whole process group: a child of a shell is ended too.
ph exec --timeout 1s e2e-timeout -- sh -c 'sleep 1018 & sleep 1019; wait' </dev/null 2>/dev/null
eq "group timeout exits 124" $? 124
check "the group's members are gone" wait_for 10 sh -c '! pgrep -f "sleep 101[89]" >/dev/null'

# A program that ignores SIGTERM is killed once the grace is over.
ph exec --timeout 1s --grace 1s e2e-timeout -- sh -c 'trap "" TERM; sleep 1020; echo survived' \
	</dev/null >"$T/t3.out" 2>/dev/null
eq "SIGTERM ignored: still 124" $? 124
eq "it did not survive" "$(cat "$T/t3.out")" ""
check "SIGTERM-ignoring program is gone" wait_for 10 no_process "sleep 1020"
check "agent logged the SIGKILL after the grace" \
	grep -q 'still there .*SIGKILL' "$T/agent-e2e-timeout.err"

# Ending in time: its own status and output, no timeout line.
out=$(ph exec --timeout 60s e2e-timeout -- sh -c 'echo done; exit 3' </dev/null 2>"$T/t4.err")
eq "in time: own status" $? 3
eq "in time: output" "$out" "done"
eq "in time: nothing on stderr" "$(cat "$T/t4.err")" ""
ph exec --timeout 60s e2e-timeout -- true </dev/null; eq "in time: exit 0" $? 0

# Compound durations, as Go and kubectl take them; said back the same way.
ph exec --timeout 1m30s e2e-timeout -- true </dev/null 2>"$T/c1.err"; eq "--timeout 1m30s taken" $? 0
eq "--timeout 1m30s: nothing on stderr" "$(cat "$T/c1.err")" ""
ph exec --timeout 1h2m3.5s --grace 1m500ms e2e-timeout -- true </dev/null
eq "--timeout 1h2m3.5s --grace 1m500ms taken" $? 0
ph exec --timeout 0.5s1500ms e2e-timeout -- sleep 1021 </dev/null 2>"$T/c2.err"
eq "--timeout 0.5s1500ms expires: 124" $? 124
contains "said normalised" "$(cat "$T/c2.err")" "timed out after 2s: "
ph exec --all e2e-timeout --timeout 1500ms -- sleep 1022 </dev/null 2>"$T/c3.err"
eq "--all: timeout 124" $? 124
contains "--all: timeout said as given" "$(cat "$T/c3.err")" "porthole: e2e-timeout: timed out after 1.5s"
check "the timed out sleeps are gone" wait_for 10 sh -c '! pgrep -f "sleep 102[12]" >/dev/null'

# What is not a duration is refused, saying why.
for bad in "nan:not a duration" "inf:not a duration" "-1s:is negative" "1m30:needs a unit after 30" \
	"1e3s:unknown unit 'e'" "106752d:too long" "99999999999999999999s:too long" \
	"1500us:finer than a millisecond"; do
	ph exec --timeout "${bad%%:*}" e2e-timeout -- true </dev/null 2>"$T/bad.err"
	eq "--timeout ${bad%%:*} refused" $? 255
	contains "--timeout ${bad%%:*} says why" "$(cat "$T/bad.err")" "${bad#*:}"
done
ph mem e2e-timeout 1 --every nan 2>"$T/bad.err"; eq "mem --every nan refused" $? 255
contains "mem --every nan says why" "$(cat "$T/bad.err")" "not a duration"

# Usage errors.
ph exec --timeout 0 e2e-timeout -- true </dev/null 2>/dev/null; eq "zero timeout refused" $? 255
ph exec --timeout soon e2e-timeout -- true </dev/null 2>/dev/null; eq "bad duration refused" $? 255
ph exec --grace 1s e2e-timeout -- true </dev/null 2>/dev/null; eq "--grace alone refused" $? 255

check "no children left under the agent" wait_for 10 sh -c "[ -z \"\$(pgrep -P $AGENT_PID)\" ]"
finish
