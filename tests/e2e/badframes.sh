#!/usr/bin/env bash
# Bad input on every relay endpoint: unknown type bytes, text messages,
# invalid JSON, schema violations, oversized and fragmented-oversized
# messages, out-of-place frames, wrong session secrets, reused session ids.
# Each closes that channel (1008/1009/44xx) with an error frame first, while
# a good session streams on byte-exact and the relay keeps serving.
. "$(dirname "$0")/lib.sh"

start_relay
start_agent e2e-bad
URL=wss://127.0.0.1:$PORT

# A good session that streams for a few seconds through all of this.
ph exec e2e-bad -- sh -c "for i in \$(seq 40); do head -c 256K /dev/urandom; sleep 0.1; done | tee $T/remote.bin" \
	</dev/null >"$T/good.out" 2>"$T/good.err" &
good=$!

# probe PATH TOKENFILE [SUBPROTOCOL] ACTIONS...: output of ph-probe.
probe() {
	local path=$1 tok=$2 proto=$3; shift 3
	"$PROBE_BIN" --url "$URL$path" --ca "$PORTHOLE_CA" --token "@$tok" --proto "$proto" "$@"
}
S=porthole.session.v1
C=porthole.control.v1
OP=$STATE/operator.token
AG=$STATE/agent.token

# expect NAME CODE ERRCODE OUTPUT: closed with CODE after an error ERRCODE.
expect() {
	local name=$1 code=$2 err=$3 out=$4
	case $out in *"\"code\":\"$err\""*) ok "$name: error $err";; *) fail "$name: no error $err in: $out";; esac
	case $out in *"close $code"*) ok "$name: close $code";; *) fail "$name: no close $code in: $out";; esac
}

expect "unknown type byte" 1008 bad_frame "$(probe /v1/session "$OP" $S --hex 08aa)"
expect "empty message" 1008 bad_frame "$(probe /v1/session "$OP" $S --hex '')"
expect "text message" 1008 bad_frame "$(probe /v1/session "$OP" $S --text hello)"
expect "invalid JSON" 1008 bad_json "$(probe /v1/session "$OP" $S --ctl '{"type":')"
expect "schema violation" 1008 bad_message "$(probe /v1/session "$OP" $S --ctl '{"type":"open","sid":"x"}')"
expect "oversized message" 1009 too_big "$(probe /v1/session "$OP" $S --big 70000)"
expect "oversized in fragments" 1009 too_big "$(probe /v1/session "$OP" $S --frag 200000)"
expect "STDOUT from a client" 1008 bad_message "$(probe /v1/session "$OP" $S --hex 01aa)"
expect "no such agent" 4404 no_agent "$(probe /v1/session "$OP" $S --sign "$STATE/operator.key" \
	--ctl '{"type":"open","sid":"0123456789abcdef0123456789abcdef","agent":"nope","op":"exec","argv":["true"]}')"

# Control channel: an agent that says nonsense.
expect "hello without members" 1008 bad_message "$(probe /v1/agent "$AG" $C --ctl '{"type":"hello"}')"
expect "data on the control channel" 1008 bad_message "$(probe /v1/agent "$AG" $C --hex 01ffff)"
expect "control channel oversized" 1009 too_big "$(probe /v1/agent "$AG" $C --frag 100000)"

# Data channel: unknown session, wrong secret.
sid=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
sec=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
expect "attach to an unknown session" 4404 no_agent "$(probe /v1/agent/session/$sid "$AG" $S \
	--ctl "{\"type\":\"attach\",\"sid\":\"$sid\",\"secret\":\"$sec\"}")"

# A session id may be used once: open one, then the same sid again.
agent_id=$(ph ls --json | jq -r '.agents[] | select(.name == "e2e-bad") | .id')
open="{\"type\":\"open\",\"sid\":\"$sid\",\"agent\":\"$agent_id\",\"op\":\"exec\",\"argv\":[\"sleep\",\"1\"],\"stdin\":false}"
first=$(probe /v1/session "$OP" $S --wait-ms 8000 --sign "$STATE/operator.key" --ctl "$open")
contains "first open runs" "$first" '"type":"exit"'
expect "reused session id" 4409 sid_reused "$(probe /v1/session "$OP" $S --sign "$STATE/operator.key" --ctl "$open")"

# Wrong kinds of token on each endpoint.
expect "agent token on /v1/session" 4401 unauthorized "$(probe /v1/session "$AG" $S --ctl '{"type":"eof"}')"
expect "client token on /v1/agent" 4401 unauthorized "$(probe /v1/agent "$OP" $C --ctl '{"type":"eof"}')"

wait "$good"; eq "good session exit 0" $? 0
eq "good session byte-exact" "$(sha256sum <"$T/good.out")" "$(sha256sum <"$T/remote.bin")"
check "relay still serves" ph ls
eq "relay still runs sessions" "$(ph exec e2e-bad -- echo fine </dev/null)" fine
finish
