#!/usr/bin/env bash
# The relay refuses tokens made to live longer than --max-token-lifetime
# allows their kind (client 30 days by default, agent no limit).  Every
# refusal is one 'porthole: ' line from the CLI, a 401 with a reason over
# HTTP, and a `refused` audit line.
. "$(dirname "$0")/lib.sh"

start_relay
start_agent leak-a team=blue

# one_line FILE: exactly one line, starting 'porthole: '.
one_line() { [ "$(wc -l <"$1")" -eq 1 ] && grep -q '^porthole: ' "$1"; }
# audited TEXT: a `refused` audit line whose reason holds TEXT.
audited() { jq -r 'select(.event == "refused") | .reason' "$T/relay.out" 2>/dev/null | grep -qF -- "$1"; }

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
case $out in *ran*) fail "31-day client token: the program ran";; *) ok "31-day client token: nothing ran";; esac
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
