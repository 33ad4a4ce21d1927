#!/usr/bin/env bash
# A client token without its key is useless: listing needs a proof of the
# key (docs/protocol.md, "Listing proof") as opening does, and the relay
# refuses tokens made to live longer than --max-token-lifetime allows their
# kind (client 30 days by default, agent no limit).  Every refusal is one
# 'porthole: ' line from the CLI, a 401 with a reason over HTTP, and a
# `refused` audit line.
. "$(dirname "$0")/lib.sh"

start_relay
start_agent leak-a team=blue
URL=https://127.0.0.1:$PORT
tok=$(cat "${PORTHOLE_TOKEN#@}")

# one_line FILE: exactly one line, starting 'porthole: '.
one_line() { [ "$(wc -l <"$1")" -eq 1 ] && grep -q '^porthole: ' "$1"; }
# audited TEXT: a `refused` audit line whose reason holds TEXT.
audited() { jq -r 'select(.event == "refused") | .reason' "$T/relay.out" 2>/dev/null | grep -qF -- "$1"; }
# get FILE [CURL ARGS...]: GET /v1/agents with the operator's bearer; prints the status.
get() {
	local f=$1; shift
	curl -s -o "$f" -w '%{http_code}' --max-time 20 --cacert "$PORTHOLE_CA" \
		-H "Authorization: Bearer $tok" "$@"
}
# proof [ph-probe ARGS...]: a Porthole-Proof value for the operator's token.
proof() {
	"$PROBE_BIN" --url "wss://127.0.0.1:$PORT/v1/agents" --token "@${PORTHOLE_TOKEN#@}" \
		--list-proof "$@"
}

# --- the bearer alone lists nothing ---------------------------------------
eq "bearer alone: 401" "$(get "$T/b.json" "$URL/v1/agents")" 401
contains "bearer alone: says why" "$(jq -r .error.message "$T/b.json")" "no proof of the client's key"
check "bearer alone: audited" wait_for 10 audited "no proof of the client's key"
check "bearer alone: no agent in the answer" sh -c "! grep -q leak-a '$T/b.json'"

# --- the CLI with the token's key lists -----------------------------------
check "the CLI with the right key lists" sh -c "'$CLI_BIN' ls | grep -q leak-a"
check "... with a selector too" sh -c "'$CLI_BIN' ls --json team=blue | grep -q leak-a"
eq "curl with a good proof: 200" "$(get "$T/g.json" -H "Porthole-Proof: $(proof --sign "$PORTHOLE_KEY")" "$URL/v1/agents")" 200
check "curl with a good proof: the agent is listed" grep -q leak-a "$T/g.json"
eq "a proof for a selector, on that selector: 200" "$(get "$T/s.json" \
	-H "Porthole-Proof: $(proof --sign "$PORTHOLE_KEY" --selector team=blue)" \
	"$URL/v1/agents?selector=team=blue")" 200

# --- proofs that do not hold ------------------------------------------------
# refused_proof NAME WANT PROOF [QUERY]
refused_proof() {
	eq "$1: 401" "$(get "$T/r.json" -H "Porthole-Proof: $3" "$URL/v1/agents${4:-}")" 401
	contains "$1: says why" "$(jq -r .error.message "$T/r.json")" "$2"
	check "$1: audited" wait_for 10 audited "$2"
}
refused_proof "another key's proof" "does not verify" "$(proof --sign "$STATE/viewer.key")"
refused_proof "a proof for another relay name" "does not verify" \
	"$(proof --sign "$PORTHOLE_KEY" --proof-host relay.example.com)"
refused_proof "a proof for no selector, sent with one" "does not verify" \
	"$(proof --sign "$PORTHOLE_KEY")" "?selector=team=blue"
refused_proof "a stale proof" "stale" "$(proof --sign "$PORTHOLE_KEY" --ts-offset -300)"
refused_proof "a malformed proof" "is not ts=UNIXTIME;sig=BASE64URL" "ts=1;sig=not base64!"

# The CLI without the key refuses before asking; an unbound token is refused.
PORTHOLE_KEY= "$CLI_BIN" ls >/dev/null 2>"$T/e1"; eq "CLI without the key: 255" $? 255
check "CLI without the key: one line" one_line "$T/e1"
contains "CLI without the key: says so" "$(cat "$T/e1")" "set PORTHOLE_KEY"
# token issue makes no unbound client token any more: ph-mint does, for this refusal.
"$BUILD/tests/tools/ph-mint" "$STATE/signing.key" unbound >"$T/unbound.token"
PORTHOLE_TOKEN=@$T/unbound.token PORTHOLE_KEY= "$CLI_BIN" ls >/dev/null 2>"$T/e2"
eq "unbound token: 255" $? 255
contains "unbound token: says why" "$(cat "$T/e2")" "not bound to a client key"

# --- token lifetimes --------------------------------------------------------
# life FILE: exp - iat of the token in FILE.
life() { ph token show "@$1" | jq '.claims.exp - .claims.iat'; }
eq "the dev client token lives 30 days (the default limit)" "$(life "$STATE/operator.token")" $((30 * 86400))
ph token issue --key "$STATE/signing.key" --kind client --sub long-lived --ttl 31d \
	--bind "$STATE/operator.key" >"$T/long.token" 2>"$T/issue.err"
contains "issue warns of the relay's limit" "$(cat "$T/issue.err")" "longer than 30d"
PORTHOLE_TOKEN=@$T/long.token "$CLI_BIN" ls >/dev/null 2>"$T/e3"; eq "31-day client token: ls 255" $? 255
check "31-day client token: one line" one_line "$T/e3"
contains "31-day client token: ls says why" "$(cat "$T/e3")" "longer than this relay allows client tokens (30d)"
agent_id=$(ph ls --json | jq -r '.agents[] | select(.name == "leak-a") | .id')
out=$("$PROBE_BIN" --url "wss://127.0.0.1:$PORT/v1/session" --ca "$PORTHOLE_CA" \
	--proto porthole.session.v1 --token "@$T/long.token" --sign "$STATE/operator.key" \
	--wait-ms 8000 --ctl "$(printf '{"type":"open","sid":"%s","agent":"%s","op":"exec","argv":["echo","ran"],"stdin":false}' \
	"$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" "$agent_id")")
contains "31-day client token: open refused 4401" "$out" "close 4401"
contains "31-day client token: open says why" "$out" "longer than this relay allows"
case $out in *'"type":"ready"'*|*'"type":"exit"'*) fail "31-day client token: the program ran";;
	*) ok "31-day client token: nothing ran";; esac
PORTHOLE_TOKEN=@$T/long.token "$CLI_BIN" exec leak-a -- true </dev/null 2>"$T/e4"
eq "31-day client token: exec 255" $? 255
check "31-day client token: audited" wait_for 10 audited "made to live 31d"

# A ten-year agent token: agent tokens have no limit unless set.
ph token issue --key "$STATE/signing.key" --kind agent --sub decade --ttl 3650d >"$T/decade.token"
PORTHOLE_TOKEN=@$T/decade.token PORTHOLE_NAME=leak-decade "$AGENT_BIN" \
	>"$T/decade.out" 2>"$T/decade.err" &
PIDS+=("$!")
check "a ten-year agent token registers" wait_for 20 agent_listed leak-decade
eq "and serves" "$(ph exec leak-decade -- echo fine </dev/null)" fine

# --- the policy set otherwise ----------------------------------------------
"$RELAY_BIN" --dev --state "$T/bad" --listen 127.0.0.1:0 --max-token-lifetime client=bogus \
	>/dev/null 2>"$T/bad.err"
eq "a bad --max-token-lifetime: exit 2" $? 2
contains "a bad --max-token-lifetime: says why" "$(cat "$T/bad.err")" "max-token-lifetime"
env -u PORTHOLE_PUBKEY PORTHOLE_MAX_TOKEN_LIFETIME=client=40d,agent=1d "$RELAY_BIN" --dev --state "$T/st2" \
	--listen 127.0.0.1:0 >"$T/relay2.out" 2>"$T/relay2.err" &
PIDS+=("$!")
check "a relay with client=40d,agent=1d starts" wait_for 20 grep -q 'listening on' "$T/relay2.err"
port2=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$T/relay2.err" | head -1)
R2=(env PORTHOLE_RELAY=wss://127.0.0.1:$port2 PORTHOLE_CA=$T/st2/ca.pem
	PORTHOLE_KEY=$T/st2/operator.key PORTHOLE_PUBKEY=$T/st2/signing.pub)
eq "its dev client token lives 40 days" "$(life "$T/st2/operator.token")" $((40 * 86400))
eq "its dev agent token lives 1 day" "$(life "$T/st2/agent.token")" 86400
ph token issue --key "$T/st2/signing.key" --kind client --sub month --ttl 31d \
	--bind "$T/st2/operator.key" >"$T/month.token" 2>/dev/null
check "there a 31-day client token lists" "${R2[@]}" PORTHOLE_TOKEN=@$T/month.token "$CLI_BIN" ls
ph token issue --key "$T/st2/signing.key" --kind agent --sub decade --ttl 3650d >"$T/decade2.token"
"${R2[@]}" PORTHOLE_TOKEN=@$T/decade2.token PORTHOLE_NAME=leak-decade2 "$AGENT_BIN" \
	>"$T/decade2.out" 2>"$T/decade2.err" &
PIDS+=("$!")
check "there a ten-year agent token is refused" \
	wait_for 20 grep -q "longer than this relay allows agent tokens (1d)" "$T/decade2.err"
check "and audited" wait_for 10 sh -c "grep -q 'longer than this relay allows agent tokens' '$T/relay2.out'"
finish
