#!/usr/bin/env bash
# The flight recorder near the edge (issue 19), on a real memory cgroup: a
# leaker in a 512 MiB cgroup with too little room for a snapshot's copies
# is captured with stop-the-world, says so in the artifact's metadata, and
# is not OOM-killed by the capture.  Then the relay down at capture time
# with a spool dir: the artifact arrives once the relay is back, and
# `artifacts rm` deletes it.  recorder.sh has the OOM case.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/recorder-lib.sh"

# --- 2: near the edge: stop-the-world ------------------------------------------
make_cgroup edge 512 || { fail "no writable memory cgroup (v1 memory or v2 with memory)"; finish; }
start_relay
# Near the edge of a cgroup in the plain build only (issue 19, "Test time"):
# a sanitized agent's own memory does not fit the room this case leaves.
if ! sanitizer; then
	# Leaks to 470 MiB and holds: at 85% the cgroup has ~70 MiB of room, less than
	# a snapshot of ~440 MiB may need.
	launch edge "$CG" 64 470 '--rss-above 85% --kind core'
	check "the edge leaker runs" wait_for 20 test -s "$T/edge.ready"
	check "the edge capture is stored" wait_for 45 stored edge
	art=$(artifacts_of | jq -c '[.artifacts[] | select(.name == "edge")][0]')
	eq "the capture stopped the world" "$(jq -r .mode <<<"$art")" freeze
	contains "and says why in its metadata" "$(jq -r .reason <<<"$art")" "stop-the-world: the cgroup has"
	eq "complete" "$(jq -r .complete <<<"$art")" true
	check "the app was not OOM-killed by the capture" sh -c "[ -e /proc/$LPID ] && ! grep -q ') Z' /proc/$LPID/stat"
	if [ -e "$CG/memory.oom_control" ]; then
		eq "no OOM kill in its cgroup" "$(awk '/oom_kill /{print $2}' "$CG/memory.oom_control")" 0
	fi
	kill -KILL "$LPID" 2>/dev/null
else
	log "sanitizer build: the stop-the-world case is checked in the plain build"
fi

# --- 3: the relay down at capture time, a spool dir ----------------------------
mkdir -p "$T/spool"
kill -TERM "$RELAY_PID"
wait "$RELAY_PID" 2>/dev/null
make_cgroup spool 256 || fail "third cgroup"
launch spooled "$CG" 32 100 '--rss-above 32MiB --kind core' PORTHOLE_SPOOL_DIR="$T/spool"
check "the capture goes to the spool" wait_for 30 sh -c "ls '$T/spool' | grep -q '\.end\.json$'"
contains "the agent says it spooled" "$(cat "$T/spooled.err")" "spooled to $T/spool/"
# The same relay, on the same port, back.
RELAY_LISTEN=127.0.0.1:$PORT start_relay
check "the spooled capture arrives when the relay is back" wait_for 60 stored spooled
art=$(artifacts_of | jq -c '[.artifacts[] | select(.name == "spooled")][0]')
eq "spooled, complete" "$(jq -r '"\(.spooled) \(.complete)"' <<<"$art")" "true true"
check "the spool is emptied" wait_for 10 sh -c "[ -z \"\$(ls '$T/spool')\" ]"
ph artifacts rm "$(jq -r .id <<<"$art")" >/dev/null
eq "artifacts rm deletes it" "$(n_stored spooled)" 0
check "the relay audited the delete" grep -q '"event":"artifact_deleted"' "$T/relay.out"


# --- hostile uploads: attribution comes from the connection, never the stream --
upload() {
	"$BUILD/tests/tools/ph-probe" --url "$PORTHOLE_RELAY/v1/agent/artifact" --ca "$PORTHOLE_CA" \
		--proto porthole.session.v1 --wait-ms 3000 "$@" 2>&1
}
before=$(artifacts_of | jq '.artifacts | length')
claimed=$(ph ls --json | jq -r '.agents[] | select(.name == "spooled") | .id' | sed 's/@.*//')
out=$(upload --token "@$STATE/agent.token" \
	--ctl '{"type":"artifact","phase":"begin","id":"'"$claimed"'","instance":"not-its-instance","kind":"core"}')
contains "an upload claiming another agent's instance is refused" "$out" "close 4404"
out=$(upload --token "@$STATE/agent.token" --hex 00414243)
contains "an upload that does not begin with begin is refused" "$out" "close 1008"
out=$(upload --token "@$STATE/operator.token")
contains "a client token cannot upload" "$out" "agent token"
eq "nothing of these was stored" "$(artifacts_of | jq '.artifacts | length')" "$before"

# --- 4: watches at run time: porthole watch add|ls|rm --------------------------
start_agent w-rt env=prod
"$LEAKER" 8 24 "$T/rt.ready" >/dev/null 2>&1 &
RT=$!
PIDS+=("$RT")
check "a plain leaker runs" wait_for 20 test -s "$T/rt.ready"
eq "no watch yet" "$(ph watch ls w-rt --json | jq '.agents[0].watches | length')" 0
out=$(ph watch add w-rt "$RT" --rss-above 16MiB --kind core 2>&1)
contains "watch add arms it" "$out" "watch w-rt:1 armed: --rss-above 16MiB --pid $RT --kind core"
check "it captures the process" wait_for 30 stored w-rt
art=$(artifacts_of | jq -c '[.artifacts[] | select(.name == "w-rt")][0]')
contains "its trigger names the reading" "$(jq -r .trigger <<<"$art")" "rss-above 16MiB: rss"
eq "of that process" "$(jq -r .pid <<<"$art")" "$RT"
ls_out=$(ph watch ls)
line=$(grep -- "--rss-above 16MiB --pid $RT" <<<"$ls_out")
contains "watch ls (every agent) shows it by agent id and number" "$line" "@dev-agent:1  --rss-above 16MiB"
contains "watch ls counts the capture" "$line" "captures 1"
out=$(PORTHOLE_TOKEN=@$STATE/viewer.token PORTHOLE_KEY=$STATE/viewer.key ph watch ls w-rt 2>&1)
contains "a viewer token may not touch watches" "$out" "lacks scope watch"
contains "bad options are refused before the network" "$(ph watch add w-rt --rss-above 0 2>&1)" \
	"--rss-above must be more than 0"
eq "watch rm removes it" "$(ph watch rm w-rt:1)" "watch w-rt:1 removed"
eq "none left" "$(ph watch ls w-rt --json | jq '.agents[0].watches | length')" 0
contains "rm of a watch that is not there" "$(ph watch rm w-rt:7 2>&1)" "no watch 7 on this agent"

finish
