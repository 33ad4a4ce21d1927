#!/usr/bin/env bash
# /metrics and /healthz end to end: `promtool check metrics` accepts what
# the relay serves, scraped while exec and shell sessions are live; the
# gauges show those sessions and the agents; counters move as sessions run
# (sessions by operation, bytes each way, refusals by reason, queue
# high-water mark); /healthz answers 200 for a load balancer.
. "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null || { fail "promtool is not installed (scripts/deps.sh installs prometheus)"; finish; }
command -v curl >/dev/null || { fail "curl is not installed"; finish; }

start_relay
start_agent e2e-metrics
URL=https://127.0.0.1:$PORT

scrape() { curl -sf --max-time 20 --cacert "$PORTHOLE_CA" "$URL/metrics"; }
# metric 'NAME{LABELS}': its value in a fresh scrape (0 when absent).
metric() { scrape | awk -v m="$1" '$1 == m { v = $2 } END { print v + 0 }'; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }
metric_ge() { [ "$(metric "$1")" -ge "$2" ]; }
# promtool_ok FILE: promtool accepts it, with nothing to say.
promtool_ok() { promtool check metrics <"$1" >"$1.promtool" 2>&1 && [ ! -s "$1.promtool" ]; }

# --- /healthz ---
code=$(curl -s --max-time 20 -o "$T/healthz" -w '%{http_code}' --cacert "$PORTHOLE_CA" "$URL/healthz")
eq "/healthz answers 200" "$code" 200
eq "/healthz body" "$(cat "$T/healthz")" ok
ctype=$(curl -s --max-time 20 -o /dev/null -w '%{content_type}' --cacert "$PORTHOLE_CA" "$URL/metrics")
contains "/metrics is Prometheus text 0.0.4" "$ctype" "version=0.0.4"

scrape >"$T/m0"
check "promtool check metrics: idle relay" promtool_ok "$T/m0"
exec0=$(metric 'porthole_relay_sessions_total{op="exec"}')
out0=$(metric 'porthole_relay_session_bytes_total{direction="to_client"}')
in0=$(metric 'porthole_relay_session_bytes_total{direction="to_agent"}')
unauth0=$(metric 'porthole_relay_refusals_total{reason="unauthorized"}')
eq "one agent connected" "$(metric porthole_relay_agents)" 1

# --- live sessions: an exec and a shell that wait ---
"$CLI_BIN" exec e2e-metrics -- sh -c 'echo live; sleep 60' </dev/null >"$T/live1.out" 2>&1 &
live1=$!
"$CLI_BIN" shell e2e-metrics -- sh -c 'echo live; sleep 60' </dev/null >"$T/live2.out" 2>&1 &
live2=$!
check "exec session open gauge is 1" wait_for 20 metric_is 'porthole_relay_sessions{op="exec"}' 1
check "shell session open gauge is 1" wait_for 20 metric_is 'porthole_relay_sessions{op="shell"}' 1
# Output at the CLI: the session's agent side is attached too (a session is
# counted open before it is), so the count below is steady, not passing by.
check "exec session's output arrived" wait_for 20 grep -q live "$T/live1.out"
check "shell session's output arrived" wait_for 20 grep -q live "$T/live2.out"
scrape >"$T/m1"
check "promtool check metrics: during live sessions" promtool_ok "$T/m1"
eq "websockets: the agent's link and two per live session" \
	"$(metric porthole_relay_websockets)" 5

# --- counters move ---
for i in 1 2 3; do ph exec e2e-metrics -- true </dev/null; done
check "sessions_total{op=exec} grew by at least 4" \
	wait_for 20 metric_ge 'porthole_relay_sessions_total{op="exec"}' $((exec0 + 4))
head -c 300000 /dev/zero | ph exec e2e-metrics -- sh -c 'cat >/dev/null; head -c 500000 /dev/zero' >/dev/null
eq "bulk exec exit 0" $? 0
check "bytes to the client grew by 500000" \
	wait_for 20 metric_ge 'porthole_relay_session_bytes_total{direction="to_client"}' $((out0 + 500000))
check "bytes to the agent grew by 300000" \
	wait_for 20 metric_ge 'porthole_relay_session_bytes_total{direction="to_agent"}' $((in0 + 300000))
check "a session queue high-water mark" metric_ge 'porthole_relay_queue_high_water_bytes{kind="session"}' 1
check "a control queue high-water mark" metric_ge 'porthole_relay_queue_high_water_bytes{kind="control"}' 1
curl -s --max-time 20 --cacert "$PORTHOLE_CA" -H 'Authorization: Bearer nonsense' "$URL/v1/agents" >/dev/null
PORTHOLE_TOKEN=@$STATE/agent.token ph ls >/dev/null 2>&1
check "refusals{reason=unauthorized} grew by 2" \
	wait_for 20 metric_ge 'porthole_relay_refusals_total{reason="unauthorized"}' $((unauth0 + 2))
check "process RSS reported" metric_ge process_resident_memory_bytes 1000000
check "open fds reported" metric_ge process_open_fds 5

start_agent e2e-metrics-2
eq "two agents connected" "$(metric porthole_relay_agents)" 2
check "agent connections counted" metric_ge porthole_relay_agent_connections_total 2

scrape >"$T/m2"
check "promtool check metrics: after traffic" promtool_ok "$T/m2"

kill -KILL "$live1" "$live2" 2>/dev/null	# the relay sees the clients go
wait "$live1" "$live2" 2>/dev/null
check "exec gauge back to 0" wait_for 20 metric_is 'porthole_relay_sessions{op="exec"}' 0
check "shell gauge back to 0" wait_for 20 metric_is 'porthole_relay_sessions{op="shell"}' 0
check "shell sessions_total counted" metric_ge 'porthole_relay_sessions_total{op="shell"}' 1
finish
