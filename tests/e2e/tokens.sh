#!/usr/bin/env bash
# The token matrix: every way a token or a request can be wrong is refused,
# by the relay (its log line says why) and the CLI (one 'porthole: ' line,
# exit 255) -- and, for a relay that has been taken over (ph-fakerelay), by
# the agent itself.  Also: bound keys, revocation while everything runs,
# key rotation with two keys valid at once, labels an agent token allows,
# and no token in any log or process title.
. "$(dirname "$0")/lib.sh"
# The hostile agents and relays here answer in the clear, as agents before
# protocol 4 do: the CLI takes them only when told to (seal_hostile.sh
# tests the refusal).
export PORTHOLE_ALLOW_UNSEALED=1
FAKE_BIN=$BUILD/tests/tools/ph-fakerelay

# Revocation list read by relay and agent; empty for now.
: >"$T/revoked"
export PORTHOLE_REVOKED=$T/revoked
start_relay --revoked "$T/revoked"
start_agent tok-dev env=dev
agent_id=$(ph ls --json | jq -r '.agents[] | select(.name == "tok-dev") | .id')
S=porthole.session.v1
URL=wss://127.0.0.1:$PORT

# one_line FILE: exactly one line, starting 'porthole: '.
one_line() { [ "$(wc -l <"$1")" -eq 1 ] && grep -q '^porthole: ' "$1"; }
# relay_said TEXT: the relay logged a refusal with TEXT.
relay_said() { grep 'refused' "$T/relay.err" | grep -qF -- "$1"; }
# refused NAME WANT CMD...: CMD exits 255 with one 'porthole: ' line holding WANT.
refused() {
	local name=$1 want=$2 rc; shift 2
	"$@" </dev/null >/dev/null 2>"$T/err"; rc=$?
	eq "$name: exit 255" $rc 255
	check "$name: one porthole: line" one_line "$T/err"
	contains "$name: says why" "$(cat "$T/err")" "$want"
}
issue() { ph token issue --key "$STATE/signing.key" "$@"; }
jti_of() { ph token show "@$1" 2>/dev/null | jq -r .claims.jti; }
probe() {
	"$PROBE_BIN" --url "$URL/v1/session" --ca "$PORTHOLE_CA" --proto $S "$@"
}
newsid() { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
open_json() {	# open_json SID [ARGV-JSON]
	printf '{"type":"open","sid":"%s","agent":"%s","op":"exec","argv":%s,"stdin":false}' \
		"$1" "$agent_id" "${2:-[\"true\"]}"
}

check "operator exec works (signed open)" ph exec tok-dev -- true

# An agent without the issuer's public key refuses to start: it could check nothing.
env -u PORTHOLE_PUBKEY PORTHOLE_TOKEN=@$STATE/agent.token "$AGENT_BIN" >/dev/null 2>"$T/nopub.err"
rc=$?
check "agent without PORTHOLE_PUBKEY fails" [ $rc -ne 0 ]
contains "agent without PORTHOLE_PUBKEY: says so" "$(cat "$T/nopub.err")" "no PORTHOLE_PUBKEY"

# --- tokens -------------------------------------------------------------
tok=$(cat "$STATE/operator.token")
sig=${tok##*.}
c=${sig:20:1}; [ "$c" = A ] && r=B || r=A
printf '%s.%s%s%s\n' "${tok%.*}" "${sig:0:20}" "$r" "${sig:21}" >"$T/badsig.token"
refused "wrong signature" "signature" env PORTHOLE_TOKEN=@$T/badsig.token "$CLI_BIN" ls
check "wrong signature: relay log says so" relay_said "signature does not verify"

ph token keygen -o "$T/other.key" >/dev/null
ph token issue --key "$T/other.key" --kind client --sub mallory --bind "$STATE/operator.key" \
	>"$T/other.token"
refused "unknown kid" "unknown key" env PORTHOLE_TOKEN=@$T/other.token "$CLI_BIN" ls
check "unknown kid: relay log says so" relay_said "unknown key"

issue --kind client --sub old --bind "$STATE/operator.key" \
	--expires-at $(( $(date +%s) - 3600 )) >"$T/exp.token"
refused "expired" "expired" env PORTHOLE_TOKEN=@$T/exp.token "$CLI_BIN" exec tok-dev -- true
check "expired: relay log says so" relay_said "expired"

refused "agent token as client" "agent token" env PORTHOLE_TOKEN=@$STATE/agent.token "$CLI_BIN" ls
check "agent token as client: relay log" relay_said "this is an agent token"
# The agent refuses a client token itself (exit 3, agent_firstrun.sh); the
# relay's own check is reached by a peer that dials /v1/agent with one.
PORTHOLE_TOKEN=@$STATE/operator.token PORTHOLE_NAME=impostor timeout 20 "$AGENT_BIN" \
	>"$T/imp.out" 2>"$T/imp.err"
eq "client token as agent: the agent exits 3" $? 3
check "client token as agent: agent says why" grep -q "client token" "$T/imp.err"
"$PROBE_BIN" --url "$PORTHOLE_RELAY/v1/agent" --ca "$PORTHOLE_CA" \
	--token "@$STATE/operator.token" --proto porthole.control.v1 --wait-ms 2000 \
	>"$T/imp.probe" 2>&1
contains "client token on /v1/agent: refused" "$(cat "$T/imp.probe")" "this is a client token"
check "client token as agent: relay log" relay_said "this is a client token"

refused "scope missing" "lacks scope exec" env PORTHOLE_TOKEN=@$STATE/viewer.token \
	PORTHOLE_KEY=$STATE/viewer.key "$CLI_BIN" exec tok-dev -- true
check "scope missing: relay log" relay_said "lacks scope exec"

issue --kind client --sub prod-only --target env=prod --bind "$STATE/operator.key" >"$T/prod.token"
refused "target not matching (CLI)" "may only touch agents matching env=prod" \
	env PORTHOLE_TOKEN=@$T/prod.token "$CLI_BIN" exec tok-dev -- true
out=$(probe --token "@$T/prod.token" --sign "$STATE/operator.key" --ctl "$(open_json "$(newsid)")")
contains "target not matching (relay): 4403" "$out" "close 4403"
check "target not matching: relay log" relay_said "may not touch agent $agent_id"

# --- bound keys -----------------------------------------------------------
refused "bound token, other key" "not the key the token is bound to" \
	env PORTHOLE_KEY=$STATE/viewer.key "$CLI_BIN" exec tok-dev -- true
refused "bound token, no key" "set PORTHOLE_KEY" env PORTHOLE_KEY= "$CLI_BIN" exec tok-dev -- true
# token issue refuses a client token without --bind, saying how to bind one.
issue --kind client --sub unbound >"$T/unbound.token" 2>"$T/e-unbound"; eq "issue without --bind: 255" $? 255
check "issue without --bind: one porthole: line" one_line "$T/e-unbound"
contains "issue without --bind: says how to bind" "$(cat "$T/e-unbound")" "pass --bind FILE.pub, the operator's public key"
eq "issue without --bind: no token printed" "$(cat "$T/unbound.token")" ""
# An unbound token (ph-mint makes one) is refused by the relay.
"$BUILD/tests/tools/ph-mint" "$STATE/signing.key" unbound >"$T/unbound.token"
refused "unbound token" "not bound to a client key" env PORTHOLE_TOKEN=@$T/unbound.token \
	PORTHOLE_KEY= "$CLI_BIN" exec tok-dev -- true
check "unbound token: relay log" relay_said "not bound to a client key"

# --- opens ----------------------------------------------------------------
OPT=(--token "@$STATE/operator.token" --sign "$STATE/operator.key" --wait-ms 8000)
out=$(probe --token "@$STATE/operator.token" --ctl "$(open_json "$(newsid)")")
contains "unsigned open: 4401" "$out" "close 4401"
contains "unsigned open: says so" "$out" "not signed"
sid=$(newsid)
out=$(probe "${OPT[@]}" --ctl "$(open_json "$sid")")
contains "signed open runs" "$out" '"type":"exit","code":0'
out=$(probe "${OPT[@]}" --ctl "$(open_json "$sid")")
contains "open replayed (same sid): 4409" "$out" "close 4409"
check "open replayed: relay log" relay_said "session id $sid was used before"
out=$(probe "${OPT[@]}" --ts-offset -300 --ctl "$(open_json "$(newsid)")")
contains "stale open: 4401" "$out" "close 4401"
check "stale open: relay log" relay_said "the open is stale"
out=$(probe "${OPT[@]}" --after-sign '{"argv":["sh","-c","echo pwned"]}' \
	--ctl "$(open_json "$(newsid)" '["sh","-c","echo fine"]')")
contains "argv changed after signing: 4401" "$out" "close 4401"
case $out in *pwned*) fail "altered argv ran";; *) ok "altered argv did not run";; esac
check "argv changed: relay log" relay_said "the request was altered"

# --- revocation while the relay runs -------------------------------------
issue --kind client --sub soon-revoked --bind "$STATE/operator.key" >"$T/rev.token"
check "token works before revocation" env PORTHOLE_TOKEN=@$T/rev.token "$CLI_BIN" exec tok-dev -- true
printf '# revoked by the test\n%s\n' "$(jti_of "$T/rev.token")" >"$T/revoked.new"
mv "$T/revoked.new" "$T/revoked"
refused "revoked jti" "revoked" env PORTHOLE_TOKEN=@$T/rev.token "$CLI_BIN" exec tok-dev -- true
check "revoked: relay log" relay_said "was revoked"
check "other tokens still work" ph exec tok-dev -- true

# --- labels an agent token allows ------------------------------------------
issue --kind agent --sub dev-agents --labels 'env=dev,team=web-*' >"$T/devagent.token"
PORTHOLE_TOKEN=@$T/devagent.token PORTHOLE_NAME=poser PORTHOLE_LABELS=env=prod \
	"$AGENT_BIN" >"$T/poser.out" 2>"$T/poser.err" &
poser=$!; PIDS+=("$poser")
check "hello claiming env=prod: agent says why" wait_for 20 grep -q "does not allow label env=prod" "$T/poser.err"
check "hello claiming env=prod: relay log" relay_said "does not allow label env=prod"
check "the poser is never listed" sh -c "! \"$CLI_BIN\" ls | grep -q poser"
kill "$poser" 2>/dev/null
PORTHOLE_TOKEN=@$T/devagent.token PORTHOLE_NAME=honest PORTHOLE_LABELS=env=dev,team=web-7 \
	"$AGENT_BIN" >"$T/honest.out" 2>"$T/honest.err" &
PIDS+=("$!")
check "allowed labels (one by a glob) register" wait_for 20 agent_listed honest

# A second connection of the same token sub claiming a held id from another
# agent process: refused.  (The id it claims is the full id without "@sub".)
out=$("$PROBE_BIN" --url "$URL/v1/agent" --ca "$PORTHOLE_CA" --token "@$STATE/agent.token" \
	--proto porthole.control.v1 --ctl "{\"type\":\"hello\",\"proto\":2,\"id\":\"${agent_id%@*}\",\"name\":\"thief\",\"version\":\"x\",\"instance\":\"not-the-same\",\"labels\":{}}")
contains "hello with a held id: 4409" "$out" "close 4409"
contains "hello with a held id: says why" "$out" "held by another agent process"
check "the holder is still listed" agent_listed tok-dev

# --- the agent's own checks behind the real relay ---------------------------
# An agent with its own revocation list (the relay's does not list the token):
# the agent refuses, and the CLI gets the agent's reason through the relay.
issue --kind client --sub agent-revoked --bind "$STATE/operator.key" >"$T/arev.token"
jti_of "$T/arev.token" >"$T/agent-only-revoked"
PORTHOLE_REVOKED=$T/agent-only-revoked PORTHOLE_TOKEN=@$STATE/agent.token PORTHOLE_NAME=strict \
	"$AGENT_BIN" >"$T/strict.out" 2>"$T/strict.err" &
PIDS+=("$!")
check "strict agent registers" wait_for 20 agent_listed strict
check "the token works on the other agent" env PORTHOLE_TOKEN=@$T/arev.token "$CLI_BIN" exec tok-dev -- true
refused "agent's own revocation, through the relay" "was revoked" \
	env PORTHOLE_TOKEN=@$T/arev.token "$CLI_BIN" exec strict -- true
check "strict agent logs the refusal" grep -q "refused exec: token .* was revoked" "$T/strict.err"

# --- key rotation: two keys valid at once ----------------------------------
ph token keygen -o "$T/next.key" >/dev/null
ph token issue --key "$T/next.key" --kind client --sub rotated --bind "$STATE/operator.key" \
	>"$T/next.token"
refused "new key before it is published" "unknown key" env PORTHOLE_TOKEN=@$T/next.token \
	"$CLI_BIN" ls
cat "$T/next.key.pub" >>"$STATE/signing.pub"
check "new key's token works once published (relay and agent re-read)" \
	env PORTHOLE_TOKEN=@$T/next.token "$CLI_BIN" exec tok-dev -- true
check "old key's token still works" ph exec tok-dev -- true

# --- a relay taken over: the agent refuses what it forges ------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=fake -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$T/fake.key" -out "$T/fake.pem" 2>/dev/null
# forge NAME MODE CLOSE WANT [TOKENFILE]
forge() {
	local name=$1 mode=$2 code=$3 want=$4 tokf=${5:-$STATE/operator.token} out=$T/fake-$1.out
	"$FAKE_BIN" --cert "$T/fake.pem" --key "$T/fake.key" --token "@$tokf" \
		--client-key "$STATE/operator.key" --agent-token "@$STATE/agent.token" \
		--wait-ms 30000 --forge "$mode" >"$out" 2>&1 &
	local fake=$!; PIDS+=("$fake")
	wait_for 10 grep -q '^listening' "$out" || { fail "$name: fake relay did not start"; return; }
	local port; port=$(sed -n 's/^listening //p' "$out")
	PORTHOLE_RELAY=wss://127.0.0.1:$port PORTHOLE_CA=$T/fake.pem PORTHOLE_TOKEN=@$STATE/agent.token \
		PORTHOLE_NAME=victim "$AGENT_BIN" >"$T/victim-$name.log" 2>&1 &
	local agent=$!; PIDS+=("$agent")
	wait "$fake"
	local got; got=$(cat "$out")
	if [ "$mode" != none ]; then
		contains "$name: the good open ran" "$got" "s1 recv 1 5 good"
	fi
	contains "$name: refused $code" "$got" "s2 close $code"
	contains "$name: says why" "$got" "$want"
	case $got in *pwned*) fail "$name: the forged command ran";; *) ok "$name: nothing forged ran";; esac
	check "$name: agent log says why" grep -q "refused exec: .*$want" "$T/victim-$name.log"
	kill "$agent" 2>/dev/null; wait "$agent" 2>/dev/null
}
forge forged forged 4401 "signature does not verify"
forge altered altered 4401 "signature does not verify"
forge unsigned unsigned 4401 "not signed"
forge replay replay 4401 "replayed"
forge stale stale 4401 "stale"
forge agent-token agent 4401 "agent token"
forge other-agent other 4403 "is for agent someone-else"
# The signature covers every member with its type (form 2): an added
# member, a retyped one, and the weak form 1 itself are refused.
forge added added 4401 "signature does not verify"
forge retyped retyped 4401 "signature does not verify"
forge downgrade downgrade 4401 "signed in form 1"

# The agent honours the revocation list too (the fake relay has a revoked token).
out=$T/fake-revoked.out
"$FAKE_BIN" --cert "$T/fake.pem" --key "$T/fake.key" --token "@$T/rev.token" \
	--client-key "$STATE/operator.key" --wait-ms 30000 --forge unsigned >"$out" 2>&1 &
fake=$!; PIDS+=("$fake")
if wait_for 10 grep -q '^listening' "$out"; then
	port=$(sed -n 's/^listening //p' "$out")
	PORTHOLE_RELAY=wss://127.0.0.1:$port PORTHOLE_CA=$T/fake.pem PORTHOLE_TOKEN=@$STATE/agent.token \
		PORTHOLE_NAME=victim "$AGENT_BIN" >"$T/victim-revoked.log" 2>&1 &
	agent=$!; PIDS+=("$agent")
	wait "$fake"
	contains "revoked at the agent: s1 refused" "$(cat "$out")" "s1 close 4401"
	contains "revoked at the agent: says why" "$(cat "$out")" "was revoked"
	kill "$agent" 2>/dev/null
else
	fail "revoked at the agent: fake relay did not start"
fi

# --- no token in logs, error messages or process titles --------------------
"$CLI_BIN" --token "$(cat "$STATE/operator.token")" exec tok-dev -- sleep 3 </dev/null &
cli=$!
check "--token is wiped from the CLI's process title" \
	wait_for 10 sh -c "tr '\\0' ' ' </proc/$cli/cmdline | grep -q -- '--token xxxxxxxxxx'"
check "--token is not in the CLI's process title" \
	sh -c "! tr '\\0' ' ' </proc/$cli/cmdline | grep -qF -- '$(cut -d. -f3 "$STATE/operator.token")'"
wait "$cli"
leaked=0
for f in "$STATE"/*.token "$T"/*.token; do
	s=$(cut -d. -f3 "$f")	# the signature part: unique to each token
	[ -n "$s" ] || continue
	if grep -rlF -- "$s" "$T"/*.err "$T"/*.out "$T"/*.log "$T/err" 2>/dev/null | grep -q .; then
		leaked=1; log "token $f appears in: $(grep -rlF -- "$s" "$T"/*.err "$T"/*.out "$T"/*.log)"
	fi
done
eq "no token in any log or error message" $leaked 0
finish
