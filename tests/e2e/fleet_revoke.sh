#!/usr/bin/env bash
# Revocation for the fleet (docs/operations.md, "Revoking a token"):
# `porthole token revoke` through one relay of a fleet is refused by another
# relay within the 5 s bound; the relays push it to their agents, and an
# agent refuses an open with the revoked token even when the relay it is
# held by lets it through (a relay without the fleet's list, on the port its
# fleet relay had); Redis restarted empty gets the entry written back; an
# entry given --until expires and the token works again; without Redis the
# relay appends "JTI EXP" to its PORTHOLE_REVOKED; token revoke without the
# admin scope revoke is refused (403, audited).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet-lib.sh"

start_redis
start_fleet_relay 1
P2=$(free_port)
# relay2 NTH [ARGS...]: relay 2 (started the NTH time) on its fixed port P2 (the agent's relay).
relay2() {
	local nth=$1; shift
	"$RELAY_BIN" --dev --state "$STATE" --listen "127.0.0.1:$P2" "$@" \
		>>"$T/relay2.out" 2>>"$T/relay2.err" &
	R2_PID=$!
	PIDS+=("$R2_PID")
	wait_for 20 sh -c "grep -c 'listening on' '$T/relay2.err' | grep -qx '$nth'" ||
		{ fail "relay 2 did not start"; finish; }
}
"$RELAY_BIN" --dev --state "$STATE" --listen "127.0.0.1:$P2" --redis "$REDIS_URL" \
	>>"$T/relay2.out" 2>>"$T/relay2.err" &
R2_PID=$!
PIDS+=("$R2_PID")
wait_for 20 grep -q 'redis .*connected' "$T/relay2.err" || { fail "relay 2 did not start"; finish; }
R1=wss://127.0.0.1:${RELAY_PORTS[1]}
R2=wss://127.0.0.1:$P2

PORTHOLE_RELAY=$R2 start_agent a1
issue() {	# issue SUB SCOPE [ARGS...]: a client token bound to the operator's key
	local sub=$1 scope=$2; shift 2
	ph token issue --key "$STATE/signing.key" --kind client --sub "$sub" --scope "$scope" \
		--bind "$PORTHOLE_KEY" --ttl 1h "$@" 2>/dev/null
}
issue admin ls,revoke >"$T/admin.token"
issue victim ls,exec >"$T/victim.token"
issue brief ls,exec >"$T/brief.token"
jti() { ph token show "@$1" 2>/dev/null | jq -r .claims.jti; }
as() { local tok=$1 relay=$2; shift 2; PORTHOLE_TOKEN=@$tok PORTHOLE_RELAY=$relay "$CLI_BIN" "$@"; }

check "the victim's token works through relay 2" as "$T/victim.token" "$R2" exec a1 -- true

# Without the admin scope: refused.
out=$(as "$STATE/operator.token" "$R1" token revoke "@$T/victim.token" 2>&1); rc=$?
eq "token revoke with the operator's default token: 255" "$rc" 255
contains "... saying the scope is missing" "$out" "lacks scope revoke"
check "... audited" wait_for 5 grep -q '"what":"/v1/revoked".*lacks scope revoke' "$T/relay1.out"
check "... and the token still works" as "$T/victim.token" "$R2" ls

# Through relay 1; relay 2 refuses within the bound (5 s).
out=$(as "$T/admin.token" "$R1" token revoke "@$T/victim.token" 2>&1)
contains "token revoke through relay 1" "$out" "revoked $(jti "$T/victim.token")"
check "... audited with who revoked it" grep -q '"event":"token_revoked".*"sub":"admin"' "$T/relay1.out"
refused() { ! as "$1" "$2" ls >/dev/null 2>"$T/refused.err"; }
check "relay 2 refuses the revoked token within 5 s" wait_for 5 refused "$T/victim.token" "$R2"
contains "... saying it was revoked" "$(cat "$T/refused.err")" "revoked"
check "relay 1 refuses it too" refused "$T/victim.token" "$R1"
exp=$(ph token show "@$T/victim.token" | jq -r .claims.exp)
eq "Redis holds the entry until the token's exp" \
	"$(rcli zscore ph:revoked "$(jti "$T/victim.token")")" "$exp"
check "the agent got it pushed" wait_for 5 grep -q 'pushed 1 revoked token ids' "$T/agent-a1.err"
m1=$(curl -sk "https://127.0.0.1:${RELAY_PORTS[1]}/metrics")
contains "relay 1 counts the revocation" "$m1" "porthole_relay_revocations_total 1"
contains "... and holds one entry" "$m1" "porthole_relay_revoked_entries 1"
contains "relay 2 counts its push" "$(curl -sk "https://127.0.0.1:$P2/metrics")" \
	"porthole_relay_revoked_pushes_total 1"

# Redis restarted empty: the relays write the entry back.
kill -KILL "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null
start_redis
check "Redis restarted empty gets the entry back within 15 s" wait_for 15 sh -c \
	"[ -n \"\$(redis-cli -p $REDIS_PORT zscore ph:revoked $(jti "$T/victim.token"))\" ]"
check "... counted as written back by a relay" sh -c "curl -sk https://127.0.0.1:${RELAY_PORTS[1]}/metrics \
	https://127.0.0.1:$P2/metrics | grep -Eq '^porthole_relay_revoked_writebacks_total [1-9]'"

# The agent's own check: relay 2 replaced by a relay that knows of no
# revocation (no Redis), on the same port; the agent comes back to it.
kill -KILL "$R2_PID"; wait "$R2_PID" 2>/dev/null
relay2 2
check "the agent is back, on a relay without the fleet's list" wait_for 30 sh -c \
	"PORTHOLE_RELAY=$R2 '$CLI_BIN' ls --json 2>/dev/null | grep -q a1"
as "$T/victim.token" "$R2" exec a1 -- true >/dev/null 2>"$T/agent-refused.err"; rc=$?
check "that relay lets the revoked token through, the agent refuses it (exit $rc)" \
	test "$rc" -ne 0
check "... saying a relay pushed the revocation" wait_for 5 grep -q \
	"revoked (porthole token revoke, pushed by a relay)" "$T/agent-a1.err"
check "... while another token still works" as "$STATE/operator.token" "$R2" exec a1 -- true

# --until: the entry expires, and the token works again.
check "brief works before" as "$T/brief.token" "$R1" ls
until=$(( $(date +%s) + 3 ))
as "$T/admin.token" "$R1" token revoke "$(jti "$T/brief.token")" --until "$until" >/dev/null
check "revoked --until now+3s: refused" refused "$T/brief.token" "$R1"
check "... and works again once the entry expired" wait_for 15 as "$T/brief.token" "$R1" ls

# Without Redis: PORTHOLE_REVOKED gets the line.
: >"$T/revoked"
kill -TERM "$R2_PID"; wait "$R2_PID" 2>/dev/null
PORTHOLE_REVOKED=$T/revoked relay2 3
issue other ls >"$T/other.token"
check "other works on the file relay" as "$T/other.token" "$R2" ls
out=$(as "$T/admin.token" "$R2" token revoke "@$T/other.token" 2>&1)
contains "token revoke without Redis" "$out" "PORTHOLE_REVOKED"
eq "the file holds 'JTI EXP'" "$(cat "$T/revoked")" \
	"$(jti "$T/other.token") $(ph token show "@$T/other.token" | jq -r .claims.exp)"
check "the file relay refuses it" refused "$T/other.token" "$R2"
kill -TERM "$R2_PID"; wait "$R2_PID" 2>/dev/null
relay2 4
out=$(as "$T/admin.token" "$R2" token revoke "@$T/other.token" 2>&1)
contains "a relay with neither Redis nor a file says so" "$out" "keeps no revocation list"
finish
