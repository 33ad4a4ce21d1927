#!/usr/bin/env bash
# The flight recorder's artifact store in S3 (relay-artifact-s3.c): a relay
# with PORTHOLE_ARTIFACT_S3 stores a capture in s3rver behind the front
# that verifies every SigV4 signature with AWS's own signer
# (tests/tools/s3/s3stack.js), with credentials from the stand-in ECS
# credentials endpoint, refreshed as they age.  `artifacts ls` lists it,
# `artifacts get` returns the bytes of the S3 object (read back through the
# front with ph-s3) and gdb opens the core; a token whose target excludes
# the agent sees nothing; a second relay sharing the bucket lists and
# serves it and `artifacts rm` there deletes the objects for both; relays
# with stale or wrong credentials are refused by the front.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/recorder-lib.sh"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUCKET=porthole-test
command -v zstd >/dev/null || { fail "zstd is missing (scripts/deps.sh installs it)"; finish; }

# The npm packages: installed by scripts/deps.sh (a missing one fails here).
NM=$("$SRC/tests/tools/s3/install.sh") || { fail "npm packages of tests/tools/s3"; finish; }
# Credentials from the endpoint live 12 s: the relay fetches them again half-way.
NODE_PATH=$NM/node_modules node --openssl-legacy-provider "$SRC/tests/tools/s3/s3stack.js" \
	--dir "$T/s3rver" --ready "$T/ready" --bucket $BUCKET --creds-ttl 12 \
	--creds-auth "Bearer tok-relay" --slow-part-ms 300 >"$T/front.log" 2>"$T/front.err" &
PIDS+=("$!")
wait_for 30 test -s "$T/ready" || { fail "s3stack did not start: $(cat "$T/front.err")"; finish; }
FRONT=$(jq -r .front "$T/ready")
CREDS=$(jq -r .creds "$T/ready")

unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_DEFAULT_REGION \
	AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI \
	AWS_CONTAINER_AUTHORIZATION_TOKEN AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$FRONT AWS_REGION=us-east-1
# ph-s3 reads the bucket with the static test key, through the front.
s3() { AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=secret-test PH_S3_URL=s3://$BUCKET/evidence \
	timeout 60 "$BUILD/tests/tools/ph-s3" "$@"; }

# Relay A: credentials from the ECS endpoint only.
AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:$CREDS/v2/credentials/relay \
AWS_CONTAINER_AUTHORIZATION_TOKEN="Bearer tok-relay" \
	start_relay --artifact-s3 s3://$BUCKET/evidence/
RELAY_A=$PORTHOLE_RELAY
contains "relay A keeps artifacts in S3" "$(cat "$T/relay.err")" "artifact store: s3://$BUCKET/evidence/ (S3)"

# relay_at NAME KEY SECRET: one more dev relay on the bucket, static credentials.
relay_at() {
	AWS_ACCESS_KEY_ID=$2 AWS_SECRET_ACCESS_KEY=$3 "$RELAY_BIN" --dev --state "$STATE" \
		--listen 127.0.0.1:0 --artifact-s3 s3://$BUCKET/evidence \
		>"$T/relay$1.out" 2>"$T/relay$1.err" &
	PIDS+=("$!")
	wait_for 20 grep -q 'listening on' "$T/relay$1.err" || { fail "relay $1 did not start"; finish; }
}
# Relay B, on the same bucket with static credentials, started before
# anything is stored: it learns of relay A's captures from the bucket.
relay_at B AKIDTEST secret-test

log "a capture of a leaking process, stored in S3"
start_agent rec env=prod
"$LEAKER" 8 24 "$T/rt.ready" >/dev/null 2>&1 &
RT=$!
PIDS+=("$RT")
check "a leaker runs" wait_for 20 test -s "$T/rt.ready"
ph watch add rec "$RT" --rss-above 16MiB --kind core --max 1 >/dev/null
check "the watch fires and the capture is listed" wait_for 45 stored rec
art=$(artifacts_of | jq -c '[.artifacts[] | select(.name == "rec")][0]')
id=$(jq -r .id <<<"$art")
eq "a complete core of that process" "$(jq -r '"\(.kind) \(.complete) \(.pid)"' <<<"$art")" "core true $RT"
eq "attributed from the connection" "$(jq -r '"\(.sub) \(.labels.env)"' <<<"$art")" "dev-agent prod"
contains "artifacts ls shows it" "$(ph artifacts ls)" "$id"

# The objects, read back through the verifying front.
s3 get "$id.zst" >"$T/object.zst" 2>"$T/s3get.err"
eq "the bytes are an object in the bucket" "$?" 0
eq "as many as the relay says it stored" "$(stat -c %s "$T/object.zst")" "$(jq .stored_bytes <<<"$art")"
s3 get "$id.json" >"$T/object.json" 2>>"$T/s3get.err"
eq "the metadata is its sidecar object" "$(jq -r '"\(.id) \(.sha256) \(.labels.env)"' "$T/object.json")" \
	"$id $(jq -r .sha256 <<<"$art") prod"

ph artifacts get "$id" -o "$T/rec.core" >"$T/get.out" 2>&1
eq "artifacts get succeeds" "$?" 0
eq "artifacts get returns the S3 object's bytes" "$(sha256sum <"$T/rec.core" | cut -c1-64)" \
	"$(zstd -dc <"$T/object.zst" | sha256sum | cut -c1-64)"
eq "which are what the relay measured" "$(sha256sum <"$T/rec.core" | cut -c1-64)" "$(jq -r .sha256 <<<"$art")"
gdb -batch -ex 'thread apply all bt' -ex 'print (char *)blocks[0]' "$LEAKER" "$T/rec.core" \
	>"$T/gdb.out" 2>&1
contains "gdb: the leaking thread's stack" "$(cat "$T/gdb.out")" "leak_forever"
contains "gdb: the marker from its heap" "$(cat "$T/gdb.out")" '"PORTHOLE-LEAK-MARKER 0"'
check "the upload was audited" grep -q '"event":"artifact_stored"' "$T/relay.out"
metrics=$(curl -sf --max-time 20 --cacert "$PORTHOLE_CA" "https://${PORTHOLE_RELAY#wss://}/metrics")
contains "metrics count the bytes served" "$metrics" \
	'porthole_relay_artifact_bytes_total{direction="out"} '"$(jq .stored_bytes <<<"$art")"

log "a token whose target excludes the agent"
ph token issue --key "$STATE/signing.key" --kind client --sub staging-only \
	--target env=staging --bind "$STATE/operator.key" >"$T/staging.token"
eq "lists nothing of prod" \
	"$(PORTHOLE_TOKEN=@$T/staging.token ph artifacts ls --json | jq '.artifacts | length')" 0
PORTHOLE_TOKEN=@$T/staging.token ph artifacts get "$id" -o "$T/stolen.core" >/dev/null 2>&1
eq "cannot get it" "$?" 255
check "nor is anything written" test ! -e "$T/stolen.core"

log "credentials from the endpoint, refreshed as they age"
# Each listing signs with the current credentials; they are 12 s keys.
refreshed() { ph artifacts ls >/dev/null 2>&1; [ "$(grep -c '^creds ASIATEST' "$T/front.log")" -ge 2 ]; }
check "the relay fetched new credentials before the first expired" wait_for 40 refreshed
listed_a() { ph artifacts ls 2>/dev/null | grep -q "$id"; }
check "the listing with them is accepted" listed_a
eq "no request of the relay was refused" "$(grep -c '^reject.*ASIATEST' "$T/front.log")" 0

log "an upload faster than S3: the relay stops reading the agent (backpressure)"
# Relay E stores under slow/: the front holds each part 0.3 s more than it
# takes to verify it (its JavaScript sha256 of 8 MiB takes a second or
# two).  A 40 MiB capture that does not compress is 5 parts of 8 MiB: the
# agent sends it far faster than that.
AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=secret-test "$RELAY_BIN" --dev --state "$STATE" \
	--listen 127.0.0.1:0 --artifact-s3 s3://$BUCKET/slow >"$T/relayE.out" 2>"$T/relayE.err" &
RELAY_E_PID=$!
PIDS+=("$RELAY_E_PID")
wait_for 20 grep -q 'listening on' "$T/relayE.err" || { fail "relay E did not start"; finish; }
RELAY_E=wss://127.0.0.1:$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$T/relayE.err" | head -1)
e() { PORTHOLE_RELAY=$RELAY_E ph "$@"; }
hwm0=$(hwm_kib "$RELAY_E_PID")
PORTHOLE_RELAY=$RELAY_E start_agent big env=prod
# (24 MiB in the sanitizer build, whose relay and CLI are slower.)
if sanitizer; then BIGMIB=24; else BIGMIB=40; fi
PH_LEAKER_NOISE=1 "$LEAKER" 64 $BIGMIB "$T/big.ready" >/dev/null 2>&1 &
BIG=$!
PIDS+=("$BIG")
check "a leaker of noise runs" wait_for 20 test -s "$T/big.ready"
wait_for 20 sh -c "[ \$(awk '/^VmRSS:/ { print \$2 }' /proc/$BIG/status) -ge $((BIGMIB * 1024)) ]"
e watch add big "$BIG" --rss-above $((BIGMIB - 2))MiB --kind core --max 1 >/dev/null
stored_e() { [ "$(e artifacts ls --json 2>/dev/null | jq '[.artifacts[] | select(.name == "big")] | length')" -ge 1 ]; }
check "the big capture is stored" wait_for 90 stored_e
big=$(e artifacts ls --json | jq -c '[.artifacts[] | select(.name == "big")][0]')
eq "complete: nothing was cut for want of room" "$(jq -r '"\(.complete) \(.error)"' <<<"$big")" "true null"
between "it did not compress (MiB stored)" "$(jq '.stored_bytes / 1048576 | floor' <<<"$big")" $BIGMIB 200
between "sent as a multipart upload of 8 MiB parts" \
	"$(grep -c "^accept PUT /$BUCKET/slow/$(jq -r .id <<<"$big").zst?partNumber=" "$T/front.log")" 3 30
if ! sanitizer; then
	# Two part buffers of 8 MiB and a few messages, not the capture.
	between "the relay held the parts, not the stream (KiB over its start)" \
		"$(( $(hwm_kib "$RELAY_E_PID") - hwm0 ))" 0 $((40 * 1024))
fi
e artifacts get "$(jq -r .id <<<"$big")" -o "$T/big.core" >"$T/big-get.out" 2>&1
eq "read back through S3 byte-exact" "$(sha256sum <"$T/big.core" | cut -c1-64)" "$(jq -r .sha256 <<<"$big")"
rm -f "$T/big.core"
kill "$BIG" 2>/dev/null

log "a second relay sharing the bucket"
RELAY_B=wss://127.0.0.1:$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$T/relayB.err" | head -1)
b() { PORTHOLE_RELAY=$RELAY_B ph "$@"; }
contains "relay B lists what relay A stored" "$(b artifacts ls 2>&1)" "$id"
b artifacts get "$id" -o "$T/rec-b.core" >/dev/null 2>&1
eq "relay B serves it" "$?" 0
eq "the same bytes" "$(sha256sum <"$T/rec-b.core" | cut -c1-64)" "$(jq -r .sha256 <<<"$art")"
eq "relay B: a staging token lists nothing of prod" \
	"$(PORTHOLE_TOKEN=@$T/staging.token b artifacts ls --json | jq '.artifacts | length')" 0

log "artifacts rm on relay B deletes the objects, for relay A too"
b artifacts rm "$id" >"$T/rm.out" 2>&1
eq "artifacts rm succeeds" "$?" 0
s3 get "$id.json" >/dev/null 2>&1
check "the metadata object is gone" [ $? -ne 0 ]
s3 get "$id.zst" >/dev/null 2>&1
check "the bytes object is gone" [ $? -ne 0 ]
eq "relay A no longer lists it" "$(ph artifacts ls --json | jq --arg id "$id" '[.artifacts[] | select(.id == $id)] | length')" 0
check "relay B audited the delete" grep -q '"event":"artifact_deleted"' "$T/relayB.out"

log "stale and wrongly signed credentials are refused by the front"
relay_at C AKIDSTALE secret-stale
relay_at D AKIDTEST wrong-secret
check "stale credentials: the relay's listing is refused" \
	wait_for 20 grep -q 'listing failed: .*ExpiredToken' "$T/relayC.err"
check "a wrong secret: refused too" \
	wait_for 20 grep -q 'listing failed: .*SignatureDoesNotMatch' "$T/relayD.err"
check "the front refused them" grep -q '^reject .*AKIDSTALE' "$T/front.log"

finish
