#!/usr/bin/env bash
# --advertise's default (docs/operations.md, "The relay"): with --redis, a
# relay listening on every address needs --advertise — except on ECS, where
# it takes the task's private IPv4 from the task metadata
# (ECS_CONTAINER_METADATA_URI_V4: the stand-in ph-ecsmeta here) and its
# listen port, and publishes that in Redis; metadata without an address
# stops it with a clear line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet-lib.sh"

META_BIN=$BUILD/tests/tools/ph-ecsmeta
start_redis
mkdir -p "$T/meta" "$T/noip"
echo '{"Name": "relay", "Networks": [{"NetworkMode": "awsvpc", "IPv4Addresses": ["10.9.8.7"]}]}' \
	>"$T/meta/container.json"
echo '{"Name": "relay"}' >"$T/noip/container.json"
for d in meta noip; do echo '{}' >"$T/$d/task.json"; done
start_meta() {	# start_meta DIR: sets META_PORT
	"$META_BIN" "$1" >"$1/meta.out" 2>&1 &
	PIDS+=("$!")
	wait_for 10 grep -q 'listening on' "$1/meta.out" || { fail "ph-ecsmeta did not start"; finish; }
	META_PORT=$(sed -n 's/listening on //p' "$1/meta.out")
}
relay() {	# relay LOG [VAR=VALUE...]: a relay on every address, with --redis
	local log=$1; shift
	env "$@" timeout 20 "$RELAY_BIN" --dev --state "$STATE" --listen 0.0.0.0:0 \
		--redis "$REDIS_URL" >"$T/$log.out" 2>"$T/$log.err" &
	LAST=$!
	PIDS+=("$LAST")
}

relay plain
wait "$LAST"; rc=$?
check "every address, no --advertise, not on ECS: the relay exits ($rc)" test "$rc" -ne 0 -a "$rc" -ne 124
contains "... saying --advertise is required" "$(cat "$T/plain.err")" "--advertise HOST:PORT"

start_meta "$T/meta"
relay ecs ECS_CONTAINER_METADATA_URI_V4="http://127.0.0.1:$META_PORT/v4/abc"
check "on ECS: the relay starts" wait_for 10 grep -q 'listening on' "$T/ecs.err"
PORT=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$T/ecs.err" | head -1)
contains "... advertising the task's IPv4 and its port" \
	"$(grep 'reach this one at' "$T/ecs.err")" "10.9.8.7:$PORT"
check "... published in Redis" wait_for 10 sh -c \
	"redis-cli -p $REDIS_PORT --raw keys 'ph:relay:*' | grep -v agents | head -1 |
	 xargs redis-cli -p $REDIS_PORT --raw get | grep -q '\"advertise\":\"10.9.8.7:$PORT\"'"
kill -TERM "$LAST"; wait "$LAST" 2>/dev/null

start_meta "$T/noip"
relay noip ECS_CONTAINER_METADATA_URI_V4="http://127.0.0.1:$META_PORT/v4/abc"
wait "$LAST"; rc=$?
check "metadata without an address: the relay exits ($rc)" test "$rc" -ne 0 -a "$rc" -ne 124
contains "... saying why" "$(cat "$T/noip.err")" "names no IPv4 address"
finish
