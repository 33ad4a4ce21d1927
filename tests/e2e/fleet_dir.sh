#!/usr/bin/env bash
# The fleet's directory (docs/operations.md, "A fleet of relays"): a real
# redis-server, three relays and HAProxy (TCP, round-robin, health checks) in
# front of them; six agents through HAProxy.  `ls --json` through HAProxy
# lists all six, each once, ten times in a row, whichever relay answers.  An
# agent id held on one relay is refused to another agent process on another
# relay (4409, audited).  Redis down: the relays keep their agents, ls says
# the view is partial (a stderr line, "partial": true), /healthz stays 200
# and /metrics says Redis is down; Redis back, restarted empty: the whole
# view returns.  A relay killed with -9: its agents come back through
# HAProxy and are listed again, none twice; its entries go.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet-lib.sh"

start_redis
for n in 1 2 3; do start_fleet_relay "$n"; done
start_haproxy 1 2 3
for i in 1 2 3 4 5 6; do fleet_agent "a$i"; done
check "six agents listed through HAProxy" wait_for 30 listed_n 6

ok_runs=0
for run in $(seq 10); do
	listed_n 6 && [ ! -s "$T/ls.err" ] && ok_runs=$((ok_runs + 1))
done
eq "ls through HAProxy: six agents, each once, ten times in a row" "$ok_runs" 10
eq "the names" "$(listed_names | tr '\n' ' ')" "a1 a2 a3 a4 a5 a6 "
holders=0
for n in 1 2 3; do
	grep -q 'agent connected' "$T/relay$n.err" && holders=$((holders + 1))
done
between "agents spread over the relays" "$holders" 2 3
rid1=$(sed -n 's/.*fleet: this relay is \([0-9a-f]*\) in Redis.*/\1/p' "$T/relay1.err" | head -1)
eq "relay 1 publishes where its peers reach it" \
	"$(rcli get "ph:relay:$rid1" | jq -r .advertise)" "127.0.0.1:${RELAY_PORTS[1]}"
out=$("$RELAY_BIN" --dev --state "$STATE" --listen 0.0.0.0:0 --redis "$REDIS_URL" 2>&1 >/dev/null)
contains "a relay on every address needs --advertise" "$out" "--advertise HOST:PORT (PORTHOLE_ADVERTISE) is required"
eq "no partial listing while Redis is up" "$(ls_json | jq -r '.partial // false')" "false"
check "Redis holds no token or secret" sh -c "! redis-cli -p $REDIS_PORT --scan | \
	xargs -r -n1 redis-cli -p $REDIS_PORT --raw dump 2>/dev/null | grep -qa 'eyJ'"

# One id, two agent processes, two relays: the second is refused by the fleet.
META_BIN=$BUILD/tests/tools/ph-ecsmeta
mkdir -p "$T/meta"
echo '{"DockerId": "dup-1", "Name": "app", "Labels": {}}' >"$T/meta/container.json"
cat >"$T/meta/task.json" <<JSON
{"Cluster": "arn:aws:ecs:us-west-2:111122223333:cluster/prod",
 "TaskARN": "arn:aws:ecs:us-west-2:111122223333:task/prod/d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0",
 "Family": "dup", "Revision": "1", "AvailabilityZone": "us-west-2a",
 "LaunchType": "FARGATE", "Containers": []}
JSON
"$META_BIN" "$T/meta" >"$T/meta/meta.out" 2>&1 &
PIDS+=("$!")
wait_for 10 grep -q 'listening on' "$T/meta/meta.out" || { fail "ph-ecsmeta did not start"; finish; }
URI=http://127.0.0.1:$(sed -n 's/listening on //p' "$T/meta/meta.out")/v4/dup-1
fleet_agent dup1 PORTHOLE_RELAY=wss://127.0.0.1:${RELAY_PORTS[1]} ECS_CONTAINER_METADATA_URI_V4="$URI"
DUP1=$LAST_PID
check "the first holder of the id is listed" wait_for 20 sh -c \
	"'$CLI_BIN' ls --json | jq -n -e 'input | (.agents[] | select(.name == \"dup1\"))' >/dev/null"
fleet_agent dup2 PORTHOLE_RELAY=wss://127.0.0.1:${RELAY_PORTS[2]} ECS_CONTAINER_METADATA_URI_V4="$URI"
DUP2=$LAST_PID
check "another process claiming it on another relay is refused (4409)" \
	wait_for 20 grep -q 'held by another agent process' "$T/agent-dup2.err"
check "... and the refusal is audited by that relay" wait_for 10 sh -c \
	"grep '\"event\":\"refused\"' '$T/relay2.out' | grep -q conflict"
eq "the id is listed once, the first holder's" \
	"$(ls_json | jq -r '[.agents[] | select(.name | startswith("dup"))] | map(.name) | join(",")')" dup1
kill "$DUP1" "$DUP2" 2>/dev/null
check "the duplicates' entries go when they leave" wait_for 20 listed_n 6

# Redis down: local agents still served, the view partial.
kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null
check "relay 1 sees Redis gone" wait_for 20 grep -q 'fleet view is partial' "$T/relay1.err"
doc=$(PORTHOLE_RELAY=wss://127.0.0.1:${RELAY_PORTS[1]} "$CLI_BIN" ls --json 2>"$T/partial.err")
eq "ls --json says partial" "$(jq -r '.partial' <<<"$doc")" "true"
contains "ls says so on stderr" "$(cat "$T/partial.err")" "only the agents it holds itself"
eq "... listing relay 1's own agents" "$(jq '.agents | length' <<<"$doc")" \
	"$(curl -sk https://127.0.0.1:${RELAY_PORTS[1]}/metrics | sed -n 's/^porthole_relay_agents //p')"
eq "/healthz stays 200" "$(curl -sk -o /dev/null -w '%{http_code}' https://127.0.0.1:${RELAY_PORTS[1]}/healthz)" 200
contains "/metrics says Redis is down" \
	"$(curl -sk https://127.0.0.1:${RELAY_PORTS[1]}/metrics)" "porthole_relay_redis_up 0"

# Redis back, empty: every relay writes its agents again.
start_redis
check "the whole view is back after Redis restarted empty" wait_for 15 listed_n 6
contains "/metrics says Redis is up" \
	"$(curl -sk https://127.0.0.1:${RELAY_PORTS[1]}/metrics)" "porthole_relay_redis_up 1"

# kill -9 of a relay: its agents come back through HAProxy, listed once.
victim=1
for n in 1 2 3; do
	[ "$(grep -c 'agent connected' "$T/relay$n.err")" -gt 0 ] && victim=$n && break
done
rid=$(sed -n 's/.*fleet: this relay is \([0-9a-f]*\) in Redis.*/\1/p' "$T/relay$victim.err" | head -1)
kill -9 "${RELAY_PIDS[$victim]}"
check "every agent is listed again after kill -9 of relay $victim" wait_for 15 listed_n 6
# Until HAProxy's health check has seen the dead relay (inter 500ms, longer
# on a loaded machine), a listing it still sends there is refused outright.
check "HAProxy took relay $victim out" wait_for 15 grep -q "relay$victim is DOWN" "$T/haproxy.log"
ok_runs=0
for run in $(seq 5); do listed_n 6 && ok_runs=$((ok_runs + 1)); done
eq "... each once, five times in a row" "$ok_runs" 5
check "the dead relay had written its entries" [ -n "$rid" ]
check "its stale entries expire" wait_for 45 sh -c "[ \"\$(redis-cli -p $REDIS_PORT exists ph:relay:$rid ph:relay:$rid:agents)\" = 0 ]"
left_set() { ls_json >/dev/null; [ "$(rcli sismember ph:relays "$rid")" = 0 ]; }
check "... and the next listing drops it from the set of relays" wait_for 10 left_set
finish
