#!/usr/bin/env bash
# The flight recorder's copy-on-write snapshot OOM-killed mid-capture
# (issue 19, "Safe near the edge"), on a real memory cgroup and a real OOM
# kill: an app of 300 MiB in a 512 MiB cgroup rewrites every page it holds,
# over and over.  The watch sees room for a snapshot (the estimate is a
# quarter of the app plus slack), but the app's writes copy every page of
# it during the capture, more than the cgroup has: the kernel's OOM killer
# takes the snapshot (oom_score_adj 1000), never the app, which runs on;
# the artifact is stored incomplete with the worker's error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/recorder-lib.sh"

if ! make_cgroup snap 512; then
	echo "# SKIP: no writable memory cgroup here (v1 memory or v2 with memory)"
	exit 77
fi
start_relay

launch snap "$CG" 64 300 '' PH_LEAKER_DIRTY=1 PH_LEAKER_NOISE=1
check "the app runs in the cgroup" wait_for 20 test -s "$T/snap.ready"
check "its agent registers" wait_for 20 agent_listed snap
check "the app holds its 300 MiB" wait_for 30 sh -c "[ \$(awk '/^VmRSS:/ {print \$2}' /proc/$LPID/status) -ge $((290 * 1024)) ]"
oom_kills() {
	if [ -e "$CG/memory.oom_control" ]; then
		awk '/oom_kill /{print $2}' "$CG/memory.oom_control"
	else
		awk '/^oom_kill /{print $2}' "$CG/memory.events"
	fi
}
eq "no OOM kill before the capture" "$(oom_kills)" 0
# Armed now, when the app no longer grows: the estimate is ~107 MiB, the room ~190 MiB.
ph watch add snap --rss-above 50% --kind core >/dev/null
check "the capture is stored" wait_for 60 stored snap
art=$(artifacts_of | jq -c '[.artifacts[] | select(.name == "snap")][0]')
eq "it tried a snapshot, not stop-the-world" "$(jq -r .mode <<<"$art")" snapshot
eq "the artifact is marked incomplete" "$(jq -r .complete <<<"$art")" false
contains "with the worker's error" "$(jq -r .error <<<"$art")" "the snapshot of process $LPID was killed during the dump"
between "the kernel's OOM killer killed once or more" "$(oom_kills)" 1 99
check "the app runs on" sh -c "[ -e /proc/$LPID ] && ! grep -q ') Z' /proc/$LPID/stat"
log "the artifact's error: $(jq -r .error <<<"$art")"
contains "the agent logs the capture as incomplete" "$(cat "$T/snap.err")" "(incomplete,"
check "the agent runs on" agent_listed snap
kill -KILL "$LPID" 2>/dev/null

finish
