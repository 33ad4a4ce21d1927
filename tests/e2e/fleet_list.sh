#!/usr/bin/env bash
# The fleet's listing at a few thousand agents (docs/operations.md, "A
# fleet of relays"): a real redis-server and two relays; thousands of real
# agent control channels (tests/tools/ph-agentload, each with labels padded
# so that the answer is several MB) on relay 1, none on relay 2.  `ls
# --json` asked of relay 2 -- every agent from Redis -- lists each agent
# exactly once, ten times in a row, and relay 2's RSS after those ten
# answers is about what it was before them: the listing is written piece by
# piece and the heap handed back, where one JSON tree of every agent (then
# dumped, then copied) left relay 2 several answers bigger.  A selector
# filters the other relay's agents, and a malformed one is refused (400) by
# a relay that holds no agent of its own.  The 30,000-agent run is
# bench/fleet-scale.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet-lib.sh"

LOAD_BIN=$BUILD/tests/tools/ph-agentload
# About 2.3 KB of JSON an agent: ~4.6 MB at 2,000.  Fewer under the sanitizers.
if sanitizer; then N=300 PAD=2000; else N=2000 PAD=2000; fi

start_redis
start_fleet_relay 1
start_fleet_relay 2
R2=wss://127.0.0.1:${RELAY_PORTS[2]}

# A few agents of a second kind, to select.
"$LOAD_BIN" --url "wss://127.0.0.1:${RELAY_PORTS[1]}" --ca "$PORTHOLE_CA" \
	--token "@$STATE/agent.token" -n 5 --prefix picked --addr-base 1000 \
	>"$T/picked.out" 2>"$T/picked.err" &
PIDS+=($!)
"$LOAD_BIN" --url "wss://127.0.0.1:${RELAY_PORTS[1]}" --ca "$PORTHOLE_CA" \
	--token "@$STATE/agent.token" -n $N --pad $PAD --per-addr 50 \
	>"$T/load.out" 2>"$T/load.err" &
PIDS+=($!)
if ! wait_for $((60 + N / 5)) grep -q '^ready' "$T/load.out" ||
	! wait_for 60 grep -q '^ready' "$T/picked.out"; then
	fail "ph-agentload did not report ready"; cat "$T/load.err" "$T/picked.err" >&2; finish
fi
log "$(head -1 "$T/load.out")"
contains "every agent connected" "$(head -1 "$T/load.out")" "ready $N of $N"

# The load's agents in a listing, and how many distinct ids among them.
count_load() { jq '[.agents[] | select(.labels.bench == "load")] | length' "$1"; }
count_ids() { jq '[.agents[] | select(.labels.bench == "load") | .id] | unique | length' "$1"; }
rid1=$(sed -n 's/.*fleet: this relay is \([0-9a-f]*\) in Redis.*/\1/p' "$T/relay1.err" | head -1)
# Welcomed agents are claimed in Redis already; no listing before the baseline.
check "every agent is in Redis" wait_for 60 sh -c \
	"[ \"\$(redis-cli -p $REDIS_PORT hlen ph:relay:$rid1:agents)\" = $((N + 5)) ]"
sleep 1
before=$(rss_kib "${RELAY_PIDS[2]}")
good=0
for run in $(seq 10); do
	PORTHOLE_RELAY=$R2 "$CLI_BIN" ls --json >"$T/ls.json" 2>"$T/ls.err" || continue
	[ "$(count_load "$T/ls.json")" = "$N" ] && [ "$(count_ids "$T/ls.json")" = "$N" ] &&
		[ "$(jq -r ".partial // false" "$T/ls.json")" = false ] && good=$((good + 1))
done
eq "ten listings through relay 2: every agent exactly once, not partial" "$good" 10
size=$(wc -c <"$T/ls.json")
log "ls --json: $size bytes"
check "the answer is several MB ($size bytes)" [ "$size" -gt $((N * 1500)) ]
eq "each listed agent is relay 1's" \
	"$(jq --arg r "$rid1" '[.agents[] | select(.relay != $r)] | length' "$T/ls.json")" 0
sleep 1
after=$(rss_kib "${RELAY_PIDS[2]}")
grew=$((after - before))
log "relay 2 RSS: $before KiB before ten listings, $after KiB after (answer $((size / 1024)) KiB)"
if sanitizer; then
	log "RSS not compared under the sanitizers (their allocator keeps freed memory)"
else
	# Building an answer holds about twice its size for a moment (the
	# Redis reply, the body); what stays must be well under one answer.
	less_than "relay 2 keeps less than half an answer after ten ($grew KiB)" \
		"$grew" $((size / 2048))
fi

PORTHOLE_RELAY=$R2 "$CLI_BIN" ls --json bench=picked >"$T/sel.json" 2>"$T/sel.err"
eq "ls with a selector: exit 0" $? 0
eq "the selector picks the five from the other relay" \
	"$(jq -r '[.agents[].name] | sort | join(" ")' "$T/sel.json")" \
	"picked-0 picked-1 picked-2 picked-3 picked-4"

# A malformed selector (an empty key) straight to relay 2, which holds no
# agent: refused, not answered with an empty list.
proof=$("$PROBE_BIN" --url "$R2/v1/agents" --token "$PORTHOLE_TOKEN" --sign "$PORTHOLE_KEY" \
	--list-proof --selector '=x' 2>"$T/proof.err")
code=$(curl -s -o "$T/bad.json" -w '%{http_code}' --cacert "$PORTHOLE_CA" \
	-H "Authorization: Bearer $(cat "${PORTHOLE_TOKEN#@}")" -H "Porthole-Proof: $proof" \
	"https://127.0.0.1:${RELAY_PORTS[2]}/v1/agents?selector==x")
eq "a malformed selector on a relay holding no agent: 400" "$code" 400
contains "and says why" "$(cat "$T/bad.json")" "bad_request"

finish
