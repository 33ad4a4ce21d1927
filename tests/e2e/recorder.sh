#!/usr/bin/env bash
# The flight recorder end to end (issue 19), on real memory cgroups and
# real OOM kills: a C program in a 512 MiB cgroup leaking 16 MiB/s under a
# launcher-mode agent armed with PORTHOLE_WATCH='--rss-above 50% --kind
# core' is captured with nobody attached, then OOM-killed; `artifacts ls`
# lists a complete core whose trigger names the reading, `artifacts get`
# + gdb show the leaking thread's stack and a marker from its heap, and a
# token whose target excludes the agent sees nothing.  recorder_edge.sh
# has the stop-the-world and spool cases.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/recorder-lib.sh"

make_cgroup oom 512 || { fail "no writable memory cgroup (v1 memory or v2 with memory)"; finish; }
CG_OOM=$CG
start_relay

# --- 1: leak, capture at 50%, OOM kill ---------------------------------------
# The OOM kill in the plain build only (issue 19, "Test time"): under the
# sanitizers the leaker stops at 320 MiB, past the trigger, short of the limit.
if sanitizer; then CAP=320; else CAP=0; fi
launch leak "$CG_OOM" 16 $CAP '--rss-above 50% --kind core'
check "the leaker runs in the cgroup" wait_for 20 test -s "$T/leak.ready"
check "the watch fires and the capture is stored" wait_for 45 stored leak
if ! sanitizer; then
	check "the leaker is OOM-killed later" wait_for 45 gone "$LPID"
	wait "$LPID" 2>/dev/null
	eq "the task ends as an OOM kill does (137)" "$?" 137
	if [ -e "$CG_OOM/memory.oom_control" ]; then
		between "the kernel's OOM killer did it" \
			"$(awk '/oom_kill /{print $2}' "$CG_OOM/memory.oom_control")" 1 99
	fi
else
	log "sanitizer build: the OOM kill is checked in the plain build"
fi
contains "the agent says the watch fired" "$(cat "$T/leak.err")" "watch 1 fired on pid $LPID"
art=$(artifacts_of | jq -c '[.artifacts[] | select(.name == "leak")][0]')
id=$(jq -r .id <<<"$art")
eq "a complete core" "$(jq -r '"\(.kind) \(.complete)"' <<<"$art")" "core true"
contains "the trigger names the reading" "$(jq -r .trigger <<<"$art")" "rss-above 50%: working set"
between "the reading fired at 50% of 512 MiB or a little more" \
	"$(jq '.reading.cgroup_working_set_bytes / 1048576 | floor' <<<"$art")" 256 400
eq "the reading's limit is the cgroup's" "$(jq .reading.cgroup_limit_bytes <<<"$art")" $((512 * MIB))
eq "attributed to the uploading agent" "$(jq -r '"\(.sub) \(.labels.env) \(.pid) \(.process)"' <<<"$art")" \
	"dev-agent prod $LPID ph-leaker"
eq "a snapshot, not stop-the-world" "$(jq -r .mode <<<"$art")" snapshot
table=$(ph artifacts ls)
contains "artifacts ls shows it" "$table" "$id"
contains "artifacts ls shows the trigger" "$table" "rss-above 50%"

ph artifacts get "$id" -o "$T/leak.core" >"$T/get.out" 2>&1
eq "artifacts get succeeds" "$?" 0
contains "artifacts get says the sha256" "$(cat "$T/get.out")" "$(jq -r .sha256 <<<"$art")"
eq "the file is the relay's sha256" "$(sha256sum <"$T/leak.core" | cut -d' ' -f1)" "$(jq -r .sha256 <<<"$art")"
less_than "zeros are holes (sparse like dump)" "$(du -k "$T/leak.core" | cut -f1)" \
	"$(( $(stat -c %s "$T/leak.core") / 1024 + 1))"
gdb -batch -ex 'thread apply all bt' -ex 'print (char *)blocks[0]' "$LEAKER" "$T/leak.core" \
	>"$T/gdb.out" 2>&1
contains "gdb: the leaking thread's stack" "$(cat "$T/gdb.out")" "leak_forever"
contains "gdb: the marker from its heap" "$(cat "$T/gdb.out")" '"PORTHOLE-LEAK-MARKER 0"'
check "the relay audited the upload" grep -q '"event":"artifact_stored"' "$T/relay.out"
check "the relay audited the download" grep -q '"event":"artifact_read"' "$T/relay.out"
metrics=$(curl -sf --max-time 20 --cacert "$PORTHOLE_CA" "https://${PORTHOLE_RELAY#wss://}/metrics")
contains "metrics count the upload" "$metrics" "porthole_relay_artifact_uploads_total 1"
contains "metrics count the bytes served" "$metrics" 'porthole_relay_artifact_bytes_total{direction="out"} '"$(jq .stored_bytes <<<"$art")"

# A token whose target excludes the agent sees nothing of it.
ph token issue --key "$STATE/signing.key" --kind client --sub staging-only \
	--target env=staging --bind "$STATE/operator.key" >"$T/staging.token"
eq "a staging token lists nothing of prod" \
	"$(PORTHOLE_TOKEN=@$T/staging.token ph artifacts ls --json | jq '.artifacts | length')" 0
PORTHOLE_TOKEN=@$T/staging.token ph artifacts get "$id" -o "$T/stolen.core" >"$T/stolen.out" 2>&1
eq "a staging token cannot get it" "$?" 255
check "nor is anything written" test ! -e "$T/stolen.core"
# A viewer token lacks scope dump.
PORTHOLE_TOKEN=@$STATE/viewer.token PORTHOLE_KEY=$STATE/viewer.key ph artifacts ls >"$T/viewer.out" 2>&1
contains "a viewer token may not list artifacts" "$(cat "$T/viewer.out")" "lacks scope dump"

finish
