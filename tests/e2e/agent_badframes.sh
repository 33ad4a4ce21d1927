#!/usr/bin/env bash
# The agent's own input checks: a relay that has been taken over sends
# malformed frames on a session's data channel.  That channel is closed with
# 1008/1009 after an error frame, the program behind it is ended, and the
# agent's other session runs to its end.
. "$(dirname "$0")/lib.sh"
# The hostile agents and relays here answer in the clear, as agents before
# protocol 4 do: the CLI takes them only when told to (seal_hostile.sh
# tests the refusal).
export PORTHOLE_ALLOW_UNSEALED=1
FAKE_BIN=$BUILD/tests/tools/ph-fakerelay

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=fake -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$T/fake.key" -out "$T/fake.pem" 2>/dev/null

# The fake relay holds a client's token and key, as if it had recorded them:
# its opens pass the agent's checks, so what is tested is the frame after.
"$CLI_BIN" token keygen -o "$T/issuer.key" >/dev/null
"$CLI_BIN" token keygen -o "$T/client.key" >/dev/null
"$CLI_BIN" token issue --key "$T/issuer.key" --kind client --sub fake-client \
	--bind "$T/client.key.pub" >"$T/client.token"
# The agent's own token: the fake relay takes any, but the agent gives up on
# one that is not an agent token (exit 3).
"$CLI_BIN" token issue --key "$T/issuer.key" --kind agent --sub victim >"$T/agent.token"
FAKE_AUTH=(--token "@$T/client.token" --client-key "$T/client.key")
# The agent's own token: the fake relay checks nothing, but the agent reads
# its sub (its full id is <claimed>@<sub>: docs/protocol.md, "Agent identity").
"$CLI_BIN" token issue --key "$T/issuer.key" --kind agent --sub victim-tasks >"$T/agent.token"

# run_case NAME CODE ERRCODE FAKE-ARGS...
run_case() {
	local name=$1 code=$2 err=$3 out=$T/fake-$1.out; shift 3
	"$FAKE_BIN" --cert "$T/fake.pem" --key "$T/fake.key" "${FAKE_AUTH[@]}" --wait-ms 30000 "$@" >"$out" 2>&1 &
	local fake=$!
	PIDS+=("$fake")
	wait_for 10 grep -q '^listening' "$out" || { fail "$name: fake relay did not start"; return; }
	local port; port=$(sed -n 's/^listening //p' "$out")
	PORTHOLE_RELAY=wss://127.0.0.1:$port PORTHOLE_CA=$T/fake.pem PORTHOLE_TOKEN=@$T/agent.token \
		PORTHOLE_PUBKEY=$T/issuer.key.pub \
		PORTHOLE_NAME=victim "$AGENT_BIN" >"$T/agent-$name.log" 2>&1 &
	local agent=$!
	PIDS+=("$agent")
	wait "$fake"
	local got; got=$(cat "$out")
	case $got in *"s1 recv CONTROL {\"type\":\"error\",\"code\":\"$err\""*) ok "$name: error $err";;
		*) fail "$name: no error $err: $got";; esac
	case $got in *"s1 close $code"*) ok "$name: close $code";; *) fail "$name: no close $code: $got";; esac
	case $got in *"s2 recv 1 5 good"*) ok "$name: other session's output";; *) fail "$name: other session lost: $got";; esac
	case $got in *'s2 recv CONTROL {"type":"exit","code":0}'*) ok "$name: other session's exit";;
		*) fail "$name: other session's exit missing: $got";; esac
	check "$name: the first session's cat was ended" wait_for 20 sh -c "[ -z \"\$(pgrep -P $agent -x cat)\" ]"
	kill "$agent" 2>/dev/null
	wait "$agent" 2>/dev/null
}

run_case unknown-type 1008 bad_frame --hex 08aa
run_case text-message 1008 bad_frame --text hello
run_case invalid-json 1008 bad_json --hex 037b2274797065
run_case schema 1008 bad_message --hex 037b2274797065223a22726573697a65227d
run_case wrong-direction 1008 bad_message --hex 01aa
run_case oversized 1009 too_big --big 70000
finish
