#!/usr/bin/env bash
# Refusals: a wrong, expired or wrong-kind token and an untrusted certificate
# end the CLI with 255 and one 'porthole: ' line; the viewer cannot exec.
. "$(dirname "$0")/lib.sh"

start_relay
start_agent e2e-auth

# one_line FILE: exactly one line, starting 'porthole: '.
one_line() { [ "$(wc -l <"$1")" -eq 1 ] && grep -q '^porthole: ' "$1"; }

PORTHOLE_TOKEN=not-a-token ph ls >/dev/null 2>"$T/e1"; eq "garbage token exits 255" $? 255
check "garbage token: one porthole: line" one_line "$T/e1"
PORTHOLE_TOKEN=not-a-token ph exec e2e-auth -- true </dev/null 2>"$T/e1b"; eq "garbage token exec exits 255" $? 255
check "garbage token exec: one porthole: line" one_line "$T/e1b"

# A token signed by another key.
ph token keygen -o "$T/other.key" >/dev/null
ph token issue --key "$T/other.key" --kind client --sub mallory --bind "$STATE/operator.key" \
	>"$T/other.token"
PORTHOLE_TOKEN=@$T/other.token ph ls 2>"$T/e2"; eq "foreign key exits 255" $? 255
contains "foreign key: says unknown key" "$(cat "$T/e2")" "key"

# Expired an hour ago: well past the 60 s of clock skew allowed.
ph token issue --key "$STATE/signing.key" --kind client --sub old --bind "$STATE/operator.key" \
	--expires-at $(( $(date +%s) - 3600 )) >"$T/exp.token"
PORTHOLE_TOKEN=@$T/exp.token ph ls 2>"$T/e3"; eq "expired exits 255" $? 255
contains "expired: says expired" "$(cat "$T/e3")" "expired"
check "expired: one line" one_line "$T/e3"
eq "expired: the hint said once" "$(grep -o "porthole token issue" "$T/e3" | wc -l)" 1
PORTHOLE_TOKEN=@$T/exp.token ph exec e2e-auth -- true 2>"$T/e3b"; eq "expired exec exits 255" $? 255
eq "expired exec: the hint said once" "$(grep -o "porthole token issue" "$T/e3b" | wc -l)" 1

# Wrong kind: the agent token used by the CLI; the operator token by an agent.
PORTHOLE_TOKEN=@$STATE/agent.token ph ls 2>"$T/e4"; eq "agent token as client exits 255" $? 255
contains "agent token as client: says agent" "$(cat "$T/e4")" "agent"
PORTHOLE_TOKEN=@$STATE/operator.token PORTHOLE_NAME=impostor "$AGENT_BIN" >"$T/imp.out" 2>"$T/imp.err" &
imp=$!; PIDS+=("$imp")
check "client token as agent is refused (logged)" wait_for 20 grep -qi "client token\|unauthori\|4401" "$T/imp.err"
check "impostor never listed" sh -c "! \"$CLI_BIN\" ls | grep -q impostor"
kill "$imp" 2>/dev/null

# The viewer may list but not exec.
PORTHOLE_TOKEN=@$STATE/viewer.token PORTHOLE_KEY=$STATE/viewer.key ph ls >/dev/null; eq "viewer can ls" $? 0
PORTHOLE_TOKEN=@$STATE/viewer.token PORTHOLE_KEY=$STATE/viewer.key ph exec e2e-auth -- true </dev/null 2>"$T/e5"
eq "viewer exec exits 255" $? 255
contains "viewer exec: says scope" "$(cat "$T/e5")" "exec"
check "viewer exec: one line" one_line "$T/e5"

# Untrusted certificate: no PORTHOLE_CA, an empty system store.
mkdir -p "$T/emptyca"
PORTHOLE_CA= SSL_CERT_FILE=/dev/null SSL_CERT_DIR=$T/emptyca ph ls 2>"$T/e6"; eq "untrusted cert exits 255" $? 255
contains "untrusted cert: mentions PORTHOLE_CA" "$(cat "$T/e6")" "PORTHOLE_CA"
check "untrusted cert: one line" one_line "$T/e6"
# A CA that did not sign the relay's certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=other \
	-keyout "$T/o.key" -out "$T/o.pem" 2>/dev/null
PORTHOLE_CA=$T/o.pem SSL_CERT_FILE=/dev/null SSL_CERT_DIR=$T/emptyca ph ls 2>"$T/e7"; eq "wrong CA exits 255" $? 255

# Connection refused: nothing listens.
PORTHOLE_RELAY=wss://127.0.0.1:1 ph ls 2>"$T/e8"; eq "refused exits 255" $? 255
check "refused: one line" one_line "$T/e8"

# Plain HTTP endpoints answer 401 without a token, 200 on /healthz.
if command -v curl >/dev/null; then
	eq "healthz 200" "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$PORTHOLE_CA" "https://127.0.0.1:$PORT/healthz")" 200
	eq "agents without token 401" "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$PORTHOLE_CA" "https://127.0.0.1:$PORT/v1/agents")" 401
fi
finish
