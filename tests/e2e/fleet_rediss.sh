#!/usr/bin/env bash
# rediss:// (docs/operations.md, "A fleet of relays"): a redis-server with
# TLS only (its --tls-port; no plain port) and a password, as ElastiCache's
# in-transit encryption and AUTH have it; two relays reach it with
# rediss://localhost:PORT, PORTHOLE_REDIS_CA and PORTHOLE_REDIS_PASSWORD_FILE,
# and each lists the agent the other holds.  A relay that does not trust
# the server's certificate never counts Redis as up.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet-lib.sh"

mkcert() {	# mkcert NAME: a self-signed certificate for localhost, NAME.pem/NAME.key
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-keyout "$T/$1.key" -out "$T/$1.pem" -subj /CN=localhost \
		-addext "subjectAltName=DNS:localhost" 2>/dev/null
}
mkcert redis
mkcert other
echo "s3cret-$RANDOM" >"$T/redis.pw"
REDIS_PORT=$(free_port)
redis-server --port 0 --tls-port "$REDIS_PORT" --bind 127.0.0.1 --tls-cert-file "$T/redis.pem" \
	--tls-key-file "$T/redis.key" --tls-ca-cert-file "$T/redis.pem" --tls-auth-clients no \
	--requirepass "$(cat "$T/redis.pw")" --save '' --appendonly no --dir "$T" \
	>>"$T/redis.log" 2>&1 &
PIDS+=("$!")
rcli() { redis-cli --tls --cacert "$T/redis.pem" -h localhost -p "$REDIS_PORT" \
	-a "$(cat "$T/redis.pw")" --no-auth-warning "$@"; }
check "redis-server with TLS is up" wait_for 10 sh -c "$(declare -f rcli); T='$T' REDIS_PORT=$REDIS_PORT; rcli ping | grep -q PONG"
check "... and speaks no plain text" sh -c "! redis-cli -p $REDIS_PORT ping 2>/dev/null | grep -q PONG"

REDIS_URL=rediss://localhost:$REDIS_PORT
export PORTHOLE_REDIS_CA=$T/redis.pem PORTHOLE_REDIS_PASSWORD_FILE=$T/redis.pw
start_fleet_relay 1
start_fleet_relay 2
contains "relay 1 reached Redis over TLS" "$(grep 'redis .*connected' "$T/relay1.err")" "localhost"
PORTHOLE_RELAY=wss://127.0.0.1:${RELAY_PORTS[1]} fleet_agent one
PORTHOLE_RELAY=wss://127.0.0.1:${RELAY_PORTS[2]} fleet_agent two
both() { [ "$(PORTHOLE_RELAY=wss://127.0.0.1:${RELAY_PORTS[$1]} "$CLI_BIN" ls --json |
	jq -r '[.agents[].name] | sort | join(",")')" = one,two ]; }
check "relay 1 lists both agents (one held by relay 2)" wait_for 20 both 1
check "relay 2 lists both agents" wait_for 20 both 2
check "Redis holds the directory" sh -c "$(declare -f rcli); T='$T' REDIS_PORT=$REDIS_PORT; rcli --raw keys 'ph:agent:*' | grep -c . | grep -qx 2"

# A relay that trusts another CA: no link, said in its log and /metrics.
PORTHOLE_REDIS_CA=$T/other.pem "$RELAY_BIN" --dev --state "$STATE" --listen 127.0.0.1:0 \
	--redis "$REDIS_URL" >"$T/relay3.out" 2>"$T/relay3.err" &
PIDS+=("$!")
wait_for 20 grep -q 'listening on' "$T/relay3.err" || { fail "relay 3 did not start"; finish; }
P3=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$T/relay3.err" | head -1)
check "a relay that does not trust the certificate says why" wait_for 10 grep -qi 'certificate\|verify' "$T/relay3.err"
contains "... and /metrics says Redis is down" "$(curl -sk "https://127.0.0.1:$P3/metrics")" "porthole_relay_redis_up 0"
check "... never connected" sh -c "! grep -q 'redis .*connected' '$T/relay3.err'"
finish
