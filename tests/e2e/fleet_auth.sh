#!/usr/bin/env bash
# Relay tokens (docs/protocol.md, "Relay to relay"): `porthole token issue
# --kind relay` makes one and `--dev` writes relay.token; /v1/peer takes a
# relay token and nothing else (no token, a client token, an agent token:
# 4401, audited), a relay token opens nothing else (/v1/session,
# /v1/agent, /v1/agents: refused, audited), and a peer link that passed is
# audited and counted in /metrics.
. "$(dirname "$0")/lib.sh"

start_relay
URL=wss://127.0.0.1:$PORT
# probe PATH TOKENFILE SUBPROTOCOL ACTIONS...
probe() {
	local path=$1 tok=$2 proto=$3; shift 3
	"$PROBE_BIN" --url "$URL$path" --ca "$PORTHOLE_CA" ${tok:+--token "@$tok"} \
		--proto "$proto" "$@" 2>&1
}
audit_refused() {
	grep '"event":"refused"' "$T/relay.out" | grep -F "\"what\":\"$1\"" | grep -qF "$2"
}

check "--dev wrote relay.token" test -s "$STATE/relay.token"
eq "its kind is relay" "$(ph token show @"$STATE/relay.token" | jq -r .claims.kind)" relay
ph token issue --key "$STATE/signing.key" --kind relay --sub fleet-a --ttl 1h >"$T/issued.token"
check "token issue --kind relay makes one" test -s "$T/issued.token"
check "token issue --kind relay refuses --scope" sh -c \
	"! '$CLI_BIN' token issue --key '$STATE/signing.key' --kind relay --sub x --scope exec 2>/dev/null"

probe /v1/peer "$T/issued.token" porthole.peer.v1 --sleep-ms 3000 >"$T/peer-ok.out" &
ppid=$!
check "a peer with a relay token is let in and audited" wait_for 10 sh -c \
	"grep -q '\"event\":\"peer_connected\"' '$T/relay.out'"
contains "... and counted in /metrics" "$(curl -sk "https://127.0.0.1:$PORT/metrics")" "porthole_relay_peers 1"
wait "$ppid"
check "its link closed without a refusal" sh -c "! grep -q 'close 44' '$T/peer-ok.out'"

out=$(probe /v1/peer "" porthole.peer.v1)
contains "a peer without a token: 4401" "$out" "close 4401"
out=$(probe /v1/peer "$STATE/operator.token" porthole.peer.v1)
contains "a peer with a client token: 4401" "$out" "close 4401"
contains "... saying why" "$out" "needs a relay token"
check "... audited" wait_for 5 audit_refused /v1/peer "a client token"
out=$(probe /v1/peer "$STATE/agent.token" porthole.peer.v1)
contains "a peer with an agent token: 4401" "$out" "close 4401"
check "... audited" wait_for 5 audit_refused /v1/peer "an agent token"

out=$(probe /v1/session "$STATE/relay.token" porthole.session.v1)
contains "a relay token as a client's: 4401" "$out" "close 4401"
contains "... saying why" "$out" "this is a relay token"
check "... audited" wait_for 5 audit_refused /v1/session "relay token"
out=$(probe /v1/agent "$STATE/relay.token" porthole.control.v1)
contains "a relay token as an agent's: 4401" "$out" "close 4401"
check "... audited" wait_for 5 audit_refused /v1/agent "relay token"
code=$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$STATE/relay.token")" \
	"https://127.0.0.1:$PORT/v1/agents")
eq "a relay token cannot list agents" "$code" 401
finish
