#!/usr/bin/env bash
# Protocol versions and the open's signature (docs/protocol.md, "Signed
# open" and "Versions"): the CLI signs form 2 for an agent of protocol 2 and
# form 1 for one of protocol 1 (a stand-in: ph-probe saying hello with
# proto 1), and the relay refuses an open whose form or version does not
# suit its agent.  The agent's own refusals (an added or retyped member, form
# 1) are in tokens.sh, behind a relay that forges them.
. "$(dirname "$0")/lib.sh"
# The stand-ins for agents of protocol 1 here do not seal: the CLI takes
# them only when told to (seal_hostile.sh tests the refusal).
export PORTHOLE_ALLOW_UNSEALED=1

start_relay
start_agent sig-new
URL=wss://127.0.0.1:$PORT
newsid() { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

eq "relay and agent speak 4" "$(ph ls --json | jq -r '.agents[] | select(.name == "sig-new") | .proto')" 4
out=$(ph exec sig-new -- echo signed-v2 </dev/null 2>&1)
eq "exec on an agent of protocol 3 (form 2)" "$out" signed-v2

# An agent of protocol 1, as far as the relay can tell: it takes opens of form 1.
"$PROBE_BIN" --url "$URL/v1/agent" --ca "$PORTHOLE_CA" --token "@$STATE/agent.token" \
	--proto porthole.control.v1 --wait-ms 25000 \
	--ctl '{"type":"hello","proto":1,"id":"old-1","name":"old-one","version":"0.0.9","instance":"i1","labels":{}}' \
	>"$T/old.out" 2>&1 &
old=$!; PIDS+=("$old")
check "an agent of protocol 1 registers" wait_for 20 agent_listed old-one
eq "it is listed as protocol 1" "$(ph ls --json | jq -r '.agents[] | select(.name == "old-one") | .proto')" 1
# The CLI's open reaches it (the relay checked form 1); it never attaches.
ph exec old-one -- true </dev/null >/dev/null 2>"$T/old-cli.err" &
cli=$!; PIDS+=("$cli")
check "the open reached the agent of protocol 1" wait_for 20 grep -q '"type":"open"' "$T/old.out"
open=$(sed -n 's/^recv CONTROL //p' "$T/old.out" | grep '"type":"open"' | head -1)
eq "the CLI stated protocol 1" "$(jq -r .proto <<<"$open")" 1
check "and signed it" jq -e '.sig | length > 40' <<<"$open"
wait "$cli"

# probe_open OPEN-JSON: an open signed as the CLI signs it (in the form its
# proto says), sent straight to the relay.
probe_open() {
	"$PROBE_BIN" --url "$URL/v1/session" --ca "$PORTHOLE_CA" --proto porthole.session.v1 \
		--token "@$STATE/operator.token" --sign "$STATE/operator.key" --wait-ms 8000 \
		--ctl "$1"
}
new_id=$(ph ls --json | jq -r '.agents[] | select(.name == "sig-new") | .id')
out=$(probe_open "$(printf '{"type":"open","sid":"%s","agent":"%s","op":"exec","argv":["true"],"stdin":false,"proto":1}' "$(newsid)" "$new_id")")
contains "form 1 to an agent of protocol 2: 4426" "$out" "close 4426"
contains "form 1 to an agent of protocol 2: says why" "$out" "takes only opens signed in form 2"
# An agent of protocol 1 is named by its claimed id and its sub ("Agent identity").
old_sub=$(ph ls --json | jq -r '.agents[] | select(.name == "old-one") | .sub')
out=$(probe_open "$(printf '{"type":"open","sid":"%s","agent":"old-1","agent_sub":"%s","op":"exec","argv":["true"],"stdin":false,"proto":2}' "$(newsid)" "$old_sub")")
contains "protocol 2 to an agent of protocol 1: 4426" "$out" "close 4426"
contains "protocol 2 to an agent of protocol 1: says why" "$out" "speaks protocol 1"
check "the relay audited both" sh -c "[ \$(grep -c '\"code\":\"version\"' '$T/relay.out') -ge 2 ]"
finish
