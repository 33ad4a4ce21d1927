#!/usr/bin/env bash
# Captures sealed to an operator's key (issue 19, PORTHOLE_ARTIFACT_RECIPIENT):
# `artifacts keygen` makes the key pair; an agent with the public key seals a
# watch's core as it streams, so the relay's store holds no readable dump
# (not a zstd stream, no marker of the app's heap in it); `artifacts get`
# without the key says to whom it is sealed, `get --key` opens it into a
# core gdb loads, and a wrong key, a flipped byte in the stored object, and
# an upload the relay cut short (the agent's quota) are each refused with a
# clear error and no file.  With the relay down, the spool holds the capture
# sealed, and it opens once uploaded.  The unsealed path is recorder.sh's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/recorder-lib.sh"
command -v zstd >/dev/null || { fail "zstd is missing (scripts/deps.sh installs it)"; finish; }

# --- the key pair -----------------------------------------------------------------
ph artifacts keygen -o "$T/operator-x25519.pem" >"$T/keygen.out" 2>"$T/keygen.err"
eq "keygen succeeds" "$?" 0
RCPT=$(sed -n 's/^PORTHOLE_ARTIFACT_RECIPIENT=//p' "$T/keygen.out")
eq "keygen prints the public key for the agents" "${#RCPT}" 43
eq "the private key is the owner's only" "$(stat -c %a "$T/operator-x25519.pem")" 600
check "and is an X25519 key in PEM" grep -q "BEGIN PRIVATE KEY" "$T/operator-x25519.pem"
ph artifacts keygen -o "$T/operator-x25519.pem" >/dev/null 2>"$T/keygen2.err"
eq "keygen does not replace a key" "$?" 255
ph artifacts keygen -o "$T/other.pem" >/dev/null 2>&1

# The per-agent quota cuts the noisy capture below (about 24 MiB) short.
start_relay --artifact-agent-quota 8MiB
out=$(PORTHOLE_TOKEN=@$STATE/agent.token PORTHOLE_ARTIFACT_RECIPIENT=not-a-key timeout 20 "$AGENT_BIN" 2>&1)
eq "an agent with a bad recipient stops (exit 2)" "$?" 2
contains "saying why" "$out" "PORTHOLE_ARTIFACT_RECIPIENT: a key share must be 32 bytes"

# --- a sealed capture ---------------------------------------------------------------
PORTHOLE_ARTIFACT_RECIPIENT=$RCPT start_agent sealed env=prod
"$LEAKER" 8 24 "$T/leak.ready" >/dev/null 2>&1 &
LEAK=$!
PIDS+=("$LEAK")
check "a leaker runs" wait_for 20 test -s "$T/leak.ready"
ph watch add sealed "$LEAK" --rss-above 16MiB --kind core >/dev/null
check "the watch's capture is stored" wait_for 45 stored sealed
art=$(artifacts_of | jq -c '[.artifacts[] | select(.name == "sealed")][0]')
id=$(jq -r .id <<<"$art")
eq "the listing says to whom it is sealed" "$(jq -r .sealed <<<"$art")" "$RCPT"
eq "a complete core" "$(jq -r '"\(.kind) \(.complete)"' <<<"$art")" "core true"
obj=$STATE/artifacts/$id.zst
check "the relay stored it" test -s "$obj"
eq "the listing's sha256 is the stored object's" "$(sha256sum <"$obj" | cut -d' ' -f1)" \
	"$(jq -r .sha256 <<<"$art")"
eq "and its size" "$(stat -c %s "$obj")" "$(jq -r .size <<<"$art")"
eq "the stored object is sealed (its magic)" "$(head -c 8 "$obj")" "PHSEALA1"
eq "no marker of the app's heap in it" "$(grep -c -a 'PORTHOLE-LEAK-MARKER' "$obj")" 0
zstd -q -dc <"$obj" >/dev/null 2>&1
check "it is no zstd stream either" [ $? -ne 0 ]

ph artifacts get "$id" -o "$T/nokey.core" >"$T/nokey.out" 2>&1
eq "get without the key fails" "$?" 255
contains "and says to whom it is sealed" "$(cat "$T/nokey.out")" "is sealed to the key $RCPT: open it with --key FILE"
check "nothing is written" test ! -e "$T/nokey.core"

ph artifacts get "$id" -o "$T/leak.core" --key "$T/operator-x25519.pem" >"$T/get.out" 2>&1
eq "get --key succeeds" "$?" 0
contains "it says the core is complete and was authenticated" "$(cat "$T/get.out")" \
	"complete (unsealed: every record authenticated)"
contains "it prints the sha256 of the core it wrote" "$(cat "$T/get.out")" \
	"sha256 $(sha256sum <"$T/leak.core" | cut -d' ' -f1)"
gdb -batch -ex 'thread apply all bt' -ex 'print (char *)blocks[0]' "$LEAKER" "$T/leak.core" \
	>"$T/gdb.out" 2>&1
contains "gdb: the leaking thread's stack" "$(cat "$T/gdb.out")" "leak_forever"
contains "gdb: the marker from its heap" "$(cat "$T/gdb.out")" '"PORTHOLE-LEAK-MARKER 0"'

ph artifacts get "$id" -o "$T/wrong.core" --key "$T/other.pem" >"$T/wrong.out" 2>&1
eq "a wrong key is refused" "$?" 255
contains "naming both keys" "$(cat "$T/wrong.out")" "is sealed to the key $RCPT, not to $T/other.pem's"
check "nothing is written" test ! -e "$T/wrong.core"

# One byte flipped in the stored object (the bucket or the relay's disk altered).
size=$(stat -c %s "$obj")
cp "$obj" "$T/orig.zst"
# XOR, not a fixed value: a byte that was 0x5a already changed nothing.
b=$(od -An -tu1 -j $((size / 2)) -N1 "$obj" | tr -d ' ')
printf "\\$(printf '%03o' $((b ^ 0x5a)))" | dd of="$obj" bs=1 seek=$((size / 2)) conv=notrunc status=none
check "the byte was flipped" sh -c '! cmp -s "$1" "$2"' _ "$obj" "$T/orig.zst"
ph artifacts get "$id" -o "$T/flipped.core" --key "$T/operator-x25519.pem" >"$T/flipped.out" 2>&1
eq "a flipped byte is refused" "$?" 255
contains "as altered" "$(cat "$T/flipped.out")" "does not open: the artifact was altered"
check "nothing is written" test ! -e "$T/flipped.core"
check "nor left behind" test ! -e "$T/flipped.core.partial"
cp "$T/orig.zst" "$obj"

# --- truncated: the relay cuts the upload at the agent's quota ------------------------
PORTHOLE_ARTIFACT_RECIPIENT=$RCPT start_agent cut env=prod
PH_LEAKER_NOISE=1 "$LEAKER" 8 24 "$T/noise.ready" >/dev/null 2>&1 &
NOISE=$!
PIDS+=("$NOISE")
check "a leaker of noise runs" wait_for 20 test -s "$T/noise.ready"
ph watch add cut "$NOISE" --rss-above 20MiB --kind core >/dev/null
check "its capture is stored, cut short" wait_for 60 stored cut
art=$(artifacts_of | jq -c '[.artifacts[] | select(.name == "cut")][0]')
eq "incomplete" "$(jq -r .complete <<<"$art")" false
contains "the relay says why" "$(jq -r .error <<<"$art")" "quota"
ph artifacts get "$(jq -r .id <<<"$art")" -o "$T/cut.core" --key "$T/operator-x25519.pem" \
	>"$T/cut.out" 2>&1
eq "a truncated sealed stream is refused" "$?" 255
contains "as truncated" "$(cat "$T/cut.out")" "the sealed stream is truncated"
check "nothing is written" test ! -e "$T/cut.core"

# --- the spool holds sealed bytes too (EFS outlives the task) ------------------------
mkdir -p "$T/spool"
kill -TERM "$RELAY_PID"
wait "$RELAY_PID" 2>/dev/null
PORTHOLE_TOKEN=@$STATE/agent.token PORTHOLE_NAME=spooled PORTHOLE_LABELS=env=prod \
	PORTHOLE_ARTIFACT_RECIPIENT=$RCPT PORTHOLE_SPOOL_DIR=$T/spool \
	PORTHOLE_WATCH='--rss-above 16MiB --kind core' \
	"$AGENT_BIN" -- "$LEAKER" 8 24 "$T/spool.ready" >"$T/spooled.out" 2>"$T/spooled.err" &
PIDS+=("$!")
check "the capture goes to the spool" wait_for 45 sh -c "ls '$T/spool' | grep -q '\.end\.json$'"
spooled=$(ls "$T"/spool/*.zst)
eq "the spooled capture is sealed" "$(head -c 8 "$spooled")" "PHSEALA1"
eq "no marker of the app's heap in the spool" "$(grep -c -a 'PORTHOLE-LEAK-MARKER' "$spooled")" 0
RELAY_LISTEN=127.0.0.1:$PORT start_relay --artifact-agent-quota 8MiB
check "it arrives when the relay is back" wait_for 60 stored spooled
art=$(artifacts_of | jq -c '[.artifacts[] | select(.name == "spooled")][0]')
eq "spooled, sealed, complete" "$(jq -r '"\(.spooled) \(.sealed) \(.complete)"' <<<"$art")" "true $RCPT true"
ph artifacts get "$(jq -r .id <<<"$art")" -o "$T/spooled.core" --key "$T/operator-x25519.pem" \
	>"$T/spget.out" 2>&1
eq "get --key opens it" "$?" 0
gdb -batch -ex 'print (char *)blocks[0]' "$LEAKER" "$T/spooled.core" >"$T/gdb2.out" 2>&1
contains "gdb: the marker from its heap" "$(cat "$T/gdb2.out")" '"PORTHOLE-LEAK-MARKER 0"'

finish
