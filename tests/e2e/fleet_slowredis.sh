#!/usr/bin/env bash
# A slow but steady Redis is not a dead one: the relay reaches a real
# redis-server through a proxy that passes Redis's answers on at a few
# hundred bytes a second.  Six hundred agents (tests/tools/ph-agentload) are
# on the relay; the proxy is restarted, the relay dials again and writes
# every agent again at once -- 600 claims whose answers take the proxy
# well over 5 s to pass on.  The relay keeps the link (answers keep coming)
# instead of dropping it when the oldest claim is 5 s old, which at 10,000
# agents a relay set off drop after drop (bench/fleet-scale), and every
# agent is listed again.  A listing whose answer from Redis takes longer
# than 5 s to arrive (another relay's 300 agents, ~1 MB, through the slow
# link) is answered whole, not closed by libwebsockets' 5 s deadline.  A
# proxy that stops passing anything on is still dropped within 5 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet-lib.sh"

LOAD_BIN=$BUILD/tests/tools/ph-agentload
N=600
RATE=400	# bytes a second from Redis to the relay: a claim's answer is 6

start_redis
PROXY_PORT=$(free_port)
cat >"$T/slowproxy.py" <<'PY'
import socket, sys, threading, time
lport, rport, rate, stall = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lport))
ls.listen(8)
print("listening", flush=True)
def up(c, r):
    while True:
        d = c.recv(65536)
        if not d:
            break
        r.sendall(d)
def down(r, c):
    while True:
        d = r.recv(max(64, rate // 20))
        if not d:
            break
        while stall == "stall":
            time.sleep(1)
        c.sendall(d)
        time.sleep(len(d) / rate)
while True:
    c, _ = ls.accept()
    r = socket.create_connection(("127.0.0.1", rport))
    threading.Thread(target=up, args=(c, r), daemon=True).start()
    threading.Thread(target=down, args=(r, c), daemon=True).start()
PY
start_proxy() {
	: >"$T/proxy.out"
	python3 "$T/slowproxy.py" "$PROXY_PORT" "$REDIS_PORT" "$RATE" "$1" >"$T/proxy.out" 2>&1 &
	PROXY_PID=$!
	PIDS+=("$PROXY_PID")
	wait_for 10 grep -q listening "$T/proxy.out" || { fail "the proxy did not start"; finish; }
}
start_proxy pass
REDIS_URL=redis://127.0.0.1:$PROXY_PORT
start_fleet_relay 1
export PORTHOLE_RELAY=wss://127.0.0.1:${RELAY_PORTS[1]}
R1=$PORTHOLE_RELAY

"$LOAD_BIN" --url "$PORTHOLE_RELAY" --ca "$PORTHOLE_CA" --token "@$STATE/agent.token" \
	-n $N --per-addr 50 --inflight 16 >"$T/load.out" 2>"$T/load.err" &
PIDS+=($!)
if ! wait_for 120 grep -q '^ready' "$T/load.out"; then
	fail "ph-agentload did not report ready"; cat "$T/load.err" >&2; finish
fi
contains "every agent connected" "$(head -1 "$T/load.out")" "ready $N of $N"
load_listed() { [ "$(ls_json | jq '[.agents[] | select(.labels.bench == "load")] | length')" = $N ]; }
check "every agent listed" wait_for 60 load_listed
# Whatever happened while they connected is not what this test is about.
drops0=$(grep -c 'no answer within' "$T/relay1.err")

# The link goes and comes back: the relay writes all 600 claims at once.
kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null
start_proxy pass
check "the relay is back in Redis" wait_for 30 sh -c \
	"[ \$(grep -c 'redis .*connected' '$T/relay1.err') -ge 2 ]"
n=0
for _ in $(seq 40); do
	rcli hlen "ph:relay:$(sed -n 's/.*fleet: this relay is \([0-9a-f]*\) in Redis.*/\1/p' \
		"$T/relay1.err" | head -1):agents" | grep -qx "$N" && { n=$N; break; }
	sleep 1
done
# Redis took them at once; their answers take the proxy ~9 s to pass on.
sleep 15
log "$(grep -c 'redis .*connected' "$T/relay1.err") connections to Redis so far"
eq "all $N agents written to Redis again through the slow link" "$n" "$N"
eq "the slow link was never dropped for want of an answer" \
	"$(($(grep -c 'no answer within' "$T/relay1.err") - drops0))" 0
check "every agent listed" wait_for 30 load_listed

# A second relay, straight to Redis, holds 300 agents with large labels;
# relay 1's listing of them comes through the proxy at ~150 KB/s.
start_fleet_relay 2 --handshake-timeout 60
export PORTHOLE_RELAY=$R1	# start_fleet_relay read the state's env
"$LOAD_BIN" --url "wss://127.0.0.1:${RELAY_PORTS[2]}" --ca "$PORTHOLE_CA" \
	--token "@$STATE/agent.token" -n 300 --pad 3000 --prefix far --addr-base 100 \
	>"$T/far.out" 2>"$T/far.err" &
PIDS+=($!)
wait_for 120 grep -q '^ready' "$T/far.out" || { fail "the far agents did not connect"; finish; }
kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null
RATE=150000 start_proxy pass
check "relay 1 is back in Redis" wait_for 30 sh -c \
	"[ \$(grep -c 'redis .*connected' '$T/relay1.err') -ge 3 ]"
sleep 2
drops1=$(grep -c 'no answer within' "$T/relay1.err")
"$CLI_BIN" ls --json >"$T/far.json" 2>"$T/far.cli"
eq "a listing slower than 5 s: exit 0" $? 0
eq "... with all 300 agents of the other relay" \
	"$(jq '[.agents[] | select(.labels.bench == "far")] | length' "$T/far.json")" 300
eq "... and not partial" "$(jq -r '.partial // false' "$T/far.json")" false
eq "... the slow link was not dropped" "$(grep -c 'no answer within' "$T/relay1.err")" "$drops1"

# A link that passes nothing on is dropped all the same.
kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null
start_proxy stall
check "a stalled link is dropped" wait_for 30 sh -c \
	"[ \$(grep -c 'no answer within' '$T/relay1.err') -gt $drops0 ]"

finish
