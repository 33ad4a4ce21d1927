# tests/e2e/fleet-lib.sh - sourced after lib.sh by the fleet tests: a real
# redis-server, several dev relays sharing one state directory (one
# certificate, one set of keys and tokens) and one Redis, and HAProxy in TCP
# mode in front of them as the NLB (round-robin, health checks), all on free
# loopback ports.  redis-server and haproxy come from Debian (scripts/deps.sh):
# a missing one fails the test.

for tool in redis-server redis-cli haproxy; do
	command -v "$tool" >/dev/null || { fail "$tool is not installed (scripts/deps.sh)"; finish; }
done

# start_redis: a throwaway redis-server (no persistence); sets REDIS_PORT, REDIS_PID, REDIS_URL.
start_redis() {
	REDIS_PORT=${REDIS_PORT:-$(free_port)}
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$T" >>"$T/redis.log" 2>&1 &
	REDIS_PID=$!
	PIDS+=("$REDIS_PID")
	REDIS_URL=redis://127.0.0.1:$REDIS_PORT
	wait_for 10 redis-cli -p "$REDIS_PORT" ping >/dev/null || { fail "redis-server did not start"; finish; }
}
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

# start_fleet_relay N [ARGS...]: relay N of the fleet on a free port; sets
# RELAY_PIDS[N], RELAY_PORTS[N].  The first one makes the state directory.
declare -a RELAY_PIDS RELAY_PORTS
start_fleet_relay() {
	local n=$1; shift
	# Emptied here, not by the redirect below, which happens later in the
	# child: a restarted relay N must not be found by its last run's line.
	: >"$T/relay$n.out"; : >"$T/relay$n.err"
	"$RELAY_BIN" --dev --state "$STATE" --listen 127.0.0.1:0 --redis "$REDIS_URL" "$@" \
		>"$T/relay$n.out" 2>"$T/relay$n.err" &
	RELAY_PIDS[$n]=$!
	PIDS+=("$!")
	if ! wait_for 20 grep -q 'listening on' "$T/relay$n.err"; then
		cat "$T/relay$n.err" >&2
		fail "relay $n did not start"
		finish
	fi
	RELAY_PORTS[$n]=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$T/relay$n.err" | head -1)
	wait_for 20 grep -q 'redis .*connected' "$T/relay$n.err" || { fail "relay $n did not reach Redis"; finish; }
	# shellcheck disable=SC1091
	. "$STATE/env"
	export PORTHOLE_CA PORTHOLE_TOKEN PORTHOLE_KEY PORTHOLE_PUBKEY
}

# haproxy_cfg PORT N...: the configuration of an HAProxy on PORT in front of
# relays N... (bN: relay N as a backup, taking over while every other one
# fails its health check).
haproxy_cfg() {
	local port=$1 n; shift
	echo "global"
	echo "  maxconn 4096"
	echo "defaults"
	echo "  mode tcp"
	echo "  timeout connect 2s"
	echo "  timeout client 300s"
	echo "  timeout server 300s"
	echo "frontend fleet"
	echo "  bind 127.0.0.1:$port"
	echo "  default_backend relays"
	echo "backend relays"
	echo "  balance roundrobin"
	# The relays' own health: /healthz over TLS (503 while one drains).
	echo "  option httpchk GET /healthz"
	for n in "$@"; do
		echo "  server relay${n#b} 127.0.0.1:${RELAY_PORTS[${n#b}]} check check-ssl verify none inter 500ms fall 1 rise 2$([ "$n" = "${n#b}" ] || echo ' backup')"
	done
}

# start_haproxy N...: HAProxy on a free port in front of relays N...; sets
# LB_PORT, LB_PID and points PORTHOLE_RELAY at it.
start_haproxy() {
	LB_PORT=$(free_port)
	haproxy_cfg "$LB_PORT" "$@" >"$T/haproxy.cfg"
	run_haproxy
	export PORTHOLE_RELAY=wss://127.0.0.1:$LB_PORT
}

# fleet_agent NAME [VAR=VALUE...]: an agent through the load balancer.
fleet_agent() {
	local name=$1; shift
	env PORTHOLE_TOKEN=@"$STATE/agent.token" PORTHOLE_NAME="$name" "$@" \
		"$AGENT_BIN" >"$T/agent-$name.out" 2>"$T/agent-$name.err" &
	PIDS+=("$!")
	LAST_PID=$!
}

# ls_json: the fleet's listing through the load balancer.
ls_json() { "$CLI_BIN" ls --json 2>"$T/ls.err"; }
# listed_names: the names listed, sorted, one a line.
listed_names() { ls_json | jq -r '.agents[].name' | sort; }
# listed_n N: exactly N agents, each id once.
listed_n() {
	local doc
	doc=$(ls_json) || return 1
	[ "$(jq '.agents | length' <<<"$doc")" = "$1" ] &&
		[ "$(jq '[.agents[].id] | unique | length' <<<"$doc")" = "$1" ]
}
