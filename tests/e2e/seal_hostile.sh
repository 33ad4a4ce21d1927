#!/usr/bin/env bash
# Sessions sealed end to end against a hostile relay (docs/protocol.md,
# "End-to-end sessions"): tests/tools/ph-mitm.py holds the relay's TLS key
# and sits between the CLI and the relay, as a relay that was taken over
# would.  It flips a bit of, drops, reorders, replays, forges or injects
# beside a sealed record, in either direction, or swaps the agent's share:
# each is detected, the CLI exits 255 saying why, and nothing of it
# reaches the program.  An agent whose token is bound to an agent key signs
# its share (a swap then fails the signature); an agent that does not seal
# is refused unless --allow-unsealed.
. "$(dirname "$0")/lib.sh"

MITM=$(cd "$(dirname "$0")/../tools" && pwd)/ph-mitm.py
EVIL_BIN=$BUILD/tests/tools/ph-evilagent
command -v python3 >/dev/null || { fail "python3 is needed (scripts/deps.sh installs it)"; finish; }

start_relay
start_agent e2e-seal

# mitm ATTACK DIR NTH: a hostile relay in front of the real one; sets MPORT.
mitm() {
	: >"$T/mitm.err"; : >"$T/mitm.out"   # not the last run's port: the redirect below happens in the child, later
	python3 "$MITM" --cert "$STATE/ca.pem" --key "$STATE/tls.key" \
		--upstream "127.0.0.1:$PORT" --attack "$1" --dir "$2" --nth "$3" \
		>"$T/mitm.out" 2>"$T/mitm.err" &
	MITM_PID=$!
	PIDS+=("$MITM_PID")
	wait_for 20 grep -q '^listening [0-9][0-9]*$' "$T/mitm.out" || { fail "ph-mitm did not start"; cat "$T/mitm.err" >&2; finish; }
	MPORT=$(sed -n 's/^listening //p' "$T/mitm.out")
}
mitm_stop() { kill "$MITM_PID" 2>/dev/null; wait "$MITM_PID" 2>/dev/null; }
# phm ARGS: the CLI through the hostile relay.
phm() { PORTHOLE_RELAY=wss://127.0.0.1:$MPORT "$CLI_BIN" "$@"; }

seq 1 30000 >"$T/want"

# The control run: the tool in the middle changes nothing by itself.
mitm none a2c 0
phm exec e2e-seal -- seq 1 30000 </dev/null >"$T/out" 2>"$T/err"; eq "through the tool untouched: exit 0" $? 0
eq "through the tool untouched: output exact" "$(cmp "$T/out" "$T/want" && echo same)" same
eq "through the tool untouched: nothing on stderr" "$(cat "$T/err")" ""
mitm_stop

# Agent -> client: each tampering ends the session with 255 and says so.
for a in flip drop reorder replay inject clear; do
	mitm "$a" a2c 1
	phm exec e2e-seal -- seq 1 30000 </dev/null >"$T/out" 2>"$T/err"; rc=$?
	check "a2c $a: the tool did it" grep -q "^mitm: " "$T/mitm.err"
	eq "a2c $a: exit 255" "$rc" 255
	if [ "$a" = clear ]; then want="injected it"; else want="was tampered with"; fi
	contains "a2c $a: says why" "$(cat "$T/err")" "$want"
	check "a2c $a: nothing injected reached the output" sh -c "! grep -q INJECTED '$T/out'"
	check "a2c $a: what came out is a prefix of the real output" \
		sh -c "cmp -s '$T/out' '$T/want' || cmp '$T/out' '$T/want' 2>&1 | grep -q EOF || [ ! -s '$T/out' ]"
	mitm_stop
done

# A relay that swaps the agent's share for its own: the keys differ.
mitm swap a2c 0
phm exec e2e-seal -- echo secret </dev/null >"$T/out" 2>"$T/err"; rc=$?
check "swap: the tool did it" grep -q "^mitm: swap" "$T/mitm.err"
eq "swap: exit 255" "$rc" 255
contains "swap: says why" "$(cat "$T/err")" "was tampered with"
eq "swap: no output" "$(cat "$T/out")" ""
mitm_stop

# Client -> agent: the program gets nothing of a record that was tampered
# with (a replay: only the first, genuine copy), and the session ends 255.
head -c 300000 /dev/urandom >"$T/in"
for a in flip drop reorder replay inject clear; do
	mitm "$a" c2a 0
	rm -f "$T/got"
	phm exec e2e-seal -- sh -c "cat >'$T/got'" <"$T/in" >"$T/out" 2>"$T/err"; rc=$?
	check "c2a $a: the tool did it" grep -q "^mitm: " "$T/mitm.err"
	eq "c2a $a: exit 255" "$rc" 255
	# A clear frame toward a sealed agent: the relay's own type check
	# refuses it (a relay that let it through: the agent refuses it).
	if [ "$a" = clear ]; then want="STDIN is not allowed"; else want="did not open"; fi
	contains "c2a $a: says why" "$(cat "$T/err")" "$want"
	if [ "$a" = replay ]; then
		# The genuine first record may reach the program, or not: the
		# agent ends the session at the replayed copy, and the program can
		# be gone before it wrote what it had read, or opened its file.  What it wrote is a
		# true prefix of the input, never the record twice.  (The record
		# replayed may also be an ack record of resume, carrying nothing.)
		[ -e "$T/got" ] || : >"$T/got"   # the program may not have got as far as opening it
		check "c2a replay: the program got at most the genuine record" \
			sh -c "s=\$(stat -c %s '$T/got'); [ \"\$s\" -lt 300000 ] && cmp -n \"\$s\" '$T/got' '$T/in'"
	else
		eq "c2a $a: nothing reached the program" "$(stat -c %s "$T/got" 2>/dev/null || echo 0)" 0
	fi
	mitm_stop
done

# An agent whose token is bound to its agent key signs its share: the CLI,
# with the issuer's key (PORTHOLE_PUBKEY), checks it, and a swap fails it.
"$CLI_BIN" token keygen -o "$T/agentkey" >/dev/null 2>&1
"$CLI_BIN" token issue --key "$STATE/signing.key" --kind agent --sub dev-agent \
	--bind "$T/agentkey.pub" >"$T/bound.token" 2>"$T/issue.err"
eq "token issue --kind agent --bind works" $? 0
PORTHOLE_TOKEN=@$T/bound.token PORTHOLE_KEY=$T/agentkey PORTHOLE_NAME=e2e-bound \
	"$AGENT_BIN" >"$T/agent-bound.out" 2>"$T/agent-bound.err" &
PIDS+=("$!")
check "the bound agent registered" wait_for 20 agent_listed e2e-bound
eq "bound agent: a session works" "$(ph exec e2e-bound -- echo hi </dev/null 2>"$T/err")" hi
eq "bound agent: nothing on stderr" "$(cat "$T/err")" ""
mitm swap a2c 0
phm exec e2e-bound -- echo secret </dev/null >"$T/out" 2>"$T/err"; eq "bound agent, share swapped: 255" $? 255
contains "bound agent, share swapped: the signature fails" "$(cat "$T/err")" "not signed by its agent key"
mitm_stop

# No downgrade: an agent that does not seal (ph-evilagent answers in the
# clear) is refused, unless --allow-unsealed.
printf 'ctl {"type":"ready"}\nstdout clear-text\\n\nctl {"type":"exit","code":0}\n' >"$T/evil.script"
"$EVIL_BIN" --url "wss://127.0.0.1:$PORT" --ca "$PORTHOLE_CA" --token "@$STATE/agent.token" \
	--id clear-1 --name clear --script "$T/evil.script" >"$T/evil.out" 2>"$T/evil.err" &
PIDS+=("$!")
check "the clear agent registered" wait_for 20 agent_listed clear
ph exec clear -- true </dev/null >"$T/out" 2>"$T/err"; eq "unsealed agent: 255" $? 255
contains "unsealed agent: says why" "$(cat "$T/err")" "does not seal sessions end to end"
eq "unsealed agent: none of its output" "$(cat "$T/out")" ""
eq "--allow-unsealed: taken" "$(ph exec --allow-unsealed clear -- true </dev/null)" clear-text

finish
