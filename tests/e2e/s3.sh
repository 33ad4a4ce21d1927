#!/usr/bin/env bash
# The S3 client of the relay's artifact store (libporthole_s3, driven by
# tests/tools/ph-s3) against a real S3 protocol server: s3rver behind a
# front that recomputes every request's SigV4 signature with AWS's own
# signer and refuses a wrong one, stale credentials or a missing payload
# hash with 403 (tests/tools/s3/s3stack.js), plus the stand-in ECS
# credentials endpoint.  A 20 MiB stream of unknown length round trip,
# byte-exact; paginated listing; delete; a wrong secret, expired keys and
# curl 7.88's own query signing refused with S3's error; 503 SlowDown tried
# again; credentials from
# the endpoint refreshed in the middle of an upload; a reply over the bound
# dropped.
. "$(dirname "$0")/lib.sh"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
S3=$BUILD/tests/tools/ph-s3
BUCKET=porthole-test

# The npm packages: installed by scripts/deps.sh (a missing one fails here).
NM=$("$SRC/tests/tools/s3/install.sh") || { fail "npm packages of tests/tools/s3"; finish; }
# Credentials that expire 6 s after each fetch; the client refreshes 3 s before.
# s3rver makes its continuation tokens with DES: OpenSSL 3's legacy provider.
NODE_PATH=$NM/node_modules node --openssl-legacy-provider "$SRC/tests/tools/s3/s3stack.js" --dir "$T/s3rver" \
	--ready "$T/ready" --bucket $BUCKET --creds-ttl 6 --creds-auth "Bearer tok-ok" \
	>"$T/front.log" 2>"$T/front.err" &
PIDS+=("$!")
wait_for 30 test -s "$T/ready" || { fail "s3stack did not start: $(cat "$T/front.err")"; finish; }
FRONT=$(jq -r .front "$T/ready")
CREDS=$(jq -r .creds "$T/ready")

unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION \
	AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI \
	AWS_CONTAINER_AUTHORIZATION_TOKEN AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$FRONT PH_S3_URL=s3://$BUCKET/artifacts
# s3 ARGS...: ph-s3 with the static test key.
s3() { AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=secret-test timeout 60 "$S3" "$@"; }
part=$((5 * 1024 * 1024))

log "a 20 MiB stream of unknown length, in 5 MiB parts"
head -c $((20 * 1024 * 1024 + 12345)) /dev/urandom >"$T/big"
cat "$T/big" | s3 --stats --part-size $part put run/big.core >"$T/put.out" 2>"$T/put.err"
eq "the upload succeeds" "$?" 0
# Two 5 MiB part buffers over a baseline of about 10 MiB (21 MiB here): a
# client that held the stream would pass 30 MiB.  Sanitizers add their own.
if ! sanitizer; then
	between "the stream is not held in memory (peak KiB)" \
		"$(sed -n 's/^peak memory \([0-9]*\) KiB/\1/p' "$T/put.err")" 1 28672
fi
eq "every byte taken" "$(cat "$T/put.out")" "put run/big.core $((20 * 1024 * 1024 + 12345))"
eq "sent as five parts" "$(grep -c 'accept PUT /porthole-test/artifacts/run/big.core?partNumber=' "$T/front.log")" 5
s3 get run/big.core >"$T/big.back" 2>"$T/get.err"
eq "read back" "$?" 0
eq "byte-exact (sha256)" "$(sha256sum <"$T/big.back" | cut -c1-64)" "$(sha256sum <"$T/big" | cut -c1-64)"
eq "the object in s3rver is the stream" \
	"$(sha256sum <"$T/s3rver/$BUCKET/artifacts/run/big.core._S3rver_object" 2>/dev/null | cut -c1-64)" \
	"$(sha256sum <"$T/big" | cut -c1-64)"

log "S3's 503 SlowDown on every part: each tried again"
head -c $((11 * 1024 * 1024)) /dev/urandom >"$T/flaky"
s3 --part-size $part put run/flaky.core <"$T/flaky" >/dev/null 2>"$T/flaky.err"
eq "the upload succeeds" "$?" 0
eq "three parts slowed down" "$(grep -c '^inject SlowDown PUT /porthole-test/artifacts/run/flaky.core' "$T/front.log")" 3
eq "three parts accepted" "$(grep -c '^accept PUT /porthole-test/artifacts/run/flaky.core?partNumber' "$T/front.log")" 3
eq "byte-exact" "$(s3 get run/flaky.core | sha256sum | cut -c1-64)" "$(sha256sum <"$T/flaky" | cut -c1-64)"

log "three uploads at once from one client; a fifth over the bound of four"
head -c $((11 * 1024 * 1024)) /dev/urandom >"$T/three"
s3 --part-size $part put run/c1 run/c2 run/c3 <"$T/three" >"$T/three.out" 2>"$T/three.err"
eq "the three uploads succeed" "$?" 0
for k in c1 c2 c3; do
	eq "$k byte-exact" "$(s3 get run/$k | sha256sum | cut -c1-64)" "$(sha256sum <"$T/three" | cut -c1-64)"
done
echo x | s3 put run/d1 run/d2 run/d3 run/d4 run/d5 >/dev/null 2>"$T/five.err"
eq "five at once fail" "$?" 1
contains "at the fifth" "$(cat "$T/five.err")" "s3: 4 uploads already running"

log "a stream shorter than a part: one PUT"
echo '{"kind":"core"}' | s3 put run/meta.json >/dev/null 2>"$T/small.err"
eq "the small upload succeeds" "$?" 0
eq "as one PutObject" "$(grep -c 'accept PUT /porthole-test/artifacts/run/meta.json ' "$T/front.log")" 1
eq "read back" "$(s3 get run/meta.json)" '{"kind":"core"}'

log "listing, seven objects three at a time"
for i in 1 2 3 4 5 6 7; do
	echo "object $i" | s3 putsmall "pg/o$i" 2>>"$T/pg.err" || fail "putsmall pg/o$i: $(cat "$T/pg.err")"
done
s3 --page 3 ls pg/ >"$T/ls.out" 2>"$T/ls.err"
eq "the listing succeeds" "$?" 0
eq "all seven listed, keys under the prefix" "$(awk '{print $1}' "$T/ls.out" | tr '\n' ' ')" \
	"pg/o1 pg/o2 pg/o3 pg/o4 pg/o5 pg/o6 pg/o7 "
eq "in three pages" "$(grep pages "$T/ls.err")" "pages 3"
eq "with their sizes" "$(grep '^pg/o7 ' "$T/ls.out")" "pg/o7 9"
eq "continuation tokens were sent" \
	"$(grep -c 'accept GET /porthole-test?continuation-token=' "$T/front.log")" 2

log "delete"
s3 rm pg/o4 2>"$T/rm.err"
eq "the delete succeeds" "$?" 0
eq "six left" "$(s3 ls pg/ 2>/dev/null | wc -l)" 6
s3 get pg/o4 >/dev/null 2>"$T/gone.err"
eq "getting it fails" "$?" 1
contains "with S3's error" "$(cat "$T/gone.err")" "HTTP 404 NoSuchKey"

log "a reply over the bound"
s3 --max-reply 1024 ls pg/ >/dev/null 2>"$T/bound.err"
eq "a listing of 1.5 KiB with a bound of 1 KiB fails" "$?" 1
contains "and says so" "$(cat "$T/bound.err")" "list objects porthole-test: HTTP 200, a reply longer than 1024 bytes (dropped)"

s3 --max-reply 4096 get run/hugereply >/dev/null 2>"$T/huge.err"
eq "a 64 MiB error reply fails the get" "$?" 1
contains "dropped at the bound" "$(cat "$T/huge.err")" "GET artifacts/run/hugereply: HTTP 400, a reply longer than 4096 bytes (dropped)"
check "the client hung up rather than read it all" wait_for 10 grep -q '^hugereply cut' "$T/front.log"

log "refused signatures and credentials"
echo x | AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=not-the-secret timeout 60 "$S3" putsmall bad \
	2>"$T/wrong.err"
eq "a wrong secret fails" "$?" 1
contains "with a clear error" "$(cat "$T/wrong.err")" \
	"ph-s3: s3: PUT artifacts/bad: HTTP 403 SignatureDoesNotMatch: The request signature we calculated"
echo x | AWS_ACCESS_KEY_ID=AKIDSTALE AWS_SECRET_ACCESS_KEY=secret-stale timeout 60 "$S3" putsmall bad \
	2>"$T/stale.err"
eq "expired credentials fail" "$?" 1
contains "with S3's code" "$(cat "$T/stale.err")" "HTTP 403 ExpiredToken"
head -c $((6 * 1024 * 1024)) /dev/zero | s3 --part-size $part --curl-query-signing put curlsigned \
	>/dev/null 2>"$T/curlq.err"
eq "curl 7.88's own query signing (?uploads) is refused" "$?" 1
contains "as a signature mismatch" "$(cat "$T/curlq.err")" \
	"create multipart upload artifacts/curlsigned: HTTP 403 SignatureDoesNotMatch"
check "the front refused it before s3rver saw it" \
	grep -q 'reject SignatureDoesNotMatch POST /porthole-test/artifacts/curlsigned?uploads ' "$T/front.log"
eq "nothing wrongly signed reached s3rver" "$(grep -c '^accept .*\(/bad\|curlsigned\)' "$T/front.log")" 0

log "credentials from the ECS endpoint, refreshed in the middle of an upload"
# s3e ARGS...: ph-s3 with the container credentials endpoint only.
s3e() {
	AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:$CREDS/v2/credentials/abc \
	AWS_CONTAINER_AUTHORIZATION_TOKEN="Bearer tok-ok" timeout 60 "$S3" --refresh-margin 3 --stats "$@"
}
head -c $((12 * 1024 * 1024)) /dev/urandom >"$T/slow"
# Two parts, a pause longer than the credentials live, the rest.
{ head -c $((10 * 1024 * 1024)) "$T/slow"; sleep 8; tail -c +$((10 * 1024 * 1024 + 1)) "$T/slow"; } |
	s3e --part-size $part put run/slow.core >"$T/slow.out" 2>"$T/slow.err"
eq "the upload succeeds" "$?" 0
fetches=$(sed -n 's/^credential fetches //p' "$T/slow.err")
between "the credentials were fetched again" "${fetches:-0}" 2 10
keys=$(grep 'run/slow.core' "$T/front.log" | grep '^accept' | awk '{print $4}' | sort -u | wc -l)
between "requests signed with more than one key" "$keys" 2 10
eq "none refused" "$(grep -c '^reject .*run/slow.core' "$T/front.log")" 0
eq "byte-exact" "$(s3 get run/slow.core | sha256sum | cut -c1-64)" "$(sha256sum <"$T/slow" | cut -c1-64)"
printf 'Bearer tok-ok\n' >"$T/authtoken"
echo tokfile | AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:$CREDS/v2/credentials/abc \
	AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$T/authtoken" timeout 60 "$S3" putsmall run/tokfile 2>"$T/tokfile.err"
eq "the authorization token from a file (EKS pod identity's way)" "$?" 0
eq "and the put is there" "$(s3 get run/tokfile)" tokfile
echo x | AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:$CREDS/v2/credentials/abc \
	AWS_CONTAINER_AUTHORIZATION_TOKEN="Bearer wrong" timeout 60 "$S3" putsmall bad 2>"$T/auth.err"
eq "a wrong authorization token fails" "$?" 1
contains "at the credentials endpoint" "$(cat "$T/auth.err")" "the credentials endpoint: HTTP 401"

finish
