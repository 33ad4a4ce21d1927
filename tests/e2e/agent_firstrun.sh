#!/usr/bin/env bash
# The agent's first run (issue 16, point 10): what a newcomer sees when a
# setting is wrong.  A self-signed relay without PORTHOLE_CA: one line that
# says what to set, not one per retry.  A token that can never work (a
# client token, a token that does not parse): a distinct exit status (3) at
# once, and in launcher mode APP runs on.  A relay's verdict (4401: a key
# the relay does not know yet, as during a rotation) and files that are not
# there yet (token file, PORTHOLE_CA, PORTHOLE_PUBKEY): the agent waits and
# retries, says so once, and connects when the cause is gone.
. "$(dirname "$0")/lib.sh"

APP_BIN=$BUILD/tests/tools/ph-testapp

gone() { [ ! -e "/proc/$1" ] || [ "$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat")" = Z ]; }
# agent NAME [VAR=VALUE...]: an agent in the background with the dev settings
# plus these; AGENT_PID, output in $T/NAME.err.
agent() {
	local name=$1; shift
	env PORTHOLE_TOKEN=@$STATE/agent.token PORTHOLE_NAME="$name" "$@" "$AGENT_BIN" \
		>"$T/$name.out" 2>"$T/$name.err" &
	AGENT_PID=$!
	PIDS+=("$AGENT_PID")
}
# lines FILE PATTERN: how many lines of FILE match PATTERN (0 when none).
lines() { grep -c -- "$2" "$1" 2>/dev/null || true; }
# retried FILE N: the agent logged (at debug) at least N repeats of a problem.
retried() { [ "$(lines "$1" '(again)')" -ge "$2" ]; }
# loud FILE: the lines an operator sees at the default level (info and above).
loud() { grep -v ': debug: ' "$1"; }

start_relay

# --- self-signed relay, no PORTHOLE_CA: one line with the hint ----------------
# PORTHOLE_LOG=debug shows the retries (as "(again)" lines); what an operator
# sees at the default level is every line that is not debug.
agent fr-noca PORTHOLE_CA= SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PORTHOLE_LOG=debug
check "no CA: the agent retries (3 repeats)" wait_for 60 retried "$T/fr-noca.err" 3
check "no CA: the agent is still running" kill -0 "$AGENT_PID"
eq "no CA: the certificate problem is said once" \
	"$(loud "$T/fr-noca.err" | grep -c 'self-signed')" 1
contains "no CA: the line says what to set" "$(loud "$T/fr-noca.err" | grep 'self-signed')" \
	"set PORTHOLE_CA to the relay's CA file"
eq "no CA: no libwebsockets SSL error lines" "$(loud "$T/fr-noca.err" | grep -c 'lws: SSL error')" 0
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null

# --- a client token: exit 3 at once --------------------------------------------
env PORTHOLE_TOKEN=@$STATE/operator.token timeout 20 "$AGENT_BIN" >/dev/null 2>"$T/client.err"
eq "a client token: the agent exits 3" $? 3
contains "a client token: says what it needs" "$(cat "$T/client.err")" \
	"is a client token: the agent needs an agent token"
eq "a client token: one line" "$(wc -l <"$T/client.err")" 1
# The same token given by value.
env PORTHOLE_TOKEN="$(cat "$STATE/operator.token")" timeout 20 "$AGENT_BIN" >/dev/null 2>&1
eq "a client token by value: exit 3" $? 3

# --- tokens that do not parse: exit 3 ------------------------------------------
env PORTHOLE_TOKEN=abc.def.ghi timeout 20 "$AGENT_BIN" >/dev/null 2>"$T/garbage.err"
eq "a token that does not parse: exit 3" $? 3
contains "... says so" "$(cat "$T/garbage.err")" "the agent token does not parse"
env PORTHOLE_TOKEN='not a token!' timeout 20 "$AGENT_BIN" >/dev/null 2>"$T/chars.err"
eq "a token with characters no token has: exit 3" $? 3
# A missing setting stays a usage error (2), distinct from a bad token (3).
env -u PORTHOLE_RELAY timeout 20 "$AGENT_BIN" >/dev/null 2>&1
eq "no relay at all: exit 2" $? 2

# --- launcher mode: the agent gives up, APP runs on -----------------------------
mkdir -p "$T/app"
PORTHOLE_TOKEN=@$STATE/operator.token PORTHOLE_NAME=fr-launch "$AGENT_BIN" -- \
	"$APP_BIN" app "$T/app" 0 >"$T/launch.out" 2>"$T/launch.err" &
LPID=$!
PIDS+=("$LPID")
check "launcher, client token: APP started" wait_for 20 test -f "$T/app/ready"
check "launcher, client token: the agent says why it gives up" \
	wait_for 30 grep -q "is a client token" "$T/launch.err"
# Every child of APP has exited (APP does not reap here: a zombie is gone too).
no_child() { local p; for p in $(pgrep -P "$LPID"); do gone "$p" || return 1; done; }
check "launcher, client token: the agent is gone" wait_for 30 no_child
check "launcher, client token: APP runs on" kill -0 "$LPID"
eq "launcher, client token: APP is PID $LPID still" "$(cat "$T/app/pid")" "$LPID"
kill -TERM "$LPID"; wait "$LPID"
eq "launcher, client token: APP's own status on SIGTERM" $? 0

# --- the relay's verdict (4401 during a key rotation): retry, then connect ------
ph token keygen -o "$T/next.key" >/dev/null
ph token issue --key "$T/next.key" --kind agent --sub next-agents >"$T/next.token"
agent fr-rotate PORTHOLE_TOKEN=@$T/next.token PORTHOLE_LOG=debug
check "unknown key: the agent retries after the relay's refusal" \
	wait_for 60 retried "$T/fr-rotate.err" 2
check "unknown key: the agent is still running" kill -0 "$AGENT_PID"
eq "unknown key: the refusal is said once" \
	"$(loud "$T/fr-rotate.err" | grep -c 'refused the agent')" 1
# The rotation reaches the relay: its key file gets the new public key beside the old.
cat "$T/next.key.pub" >>"$STATE/signing.key.pub"
check "unknown key: connects once the relay knows the key" wait_for 60 agent_listed fr-rotate
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null

# --- files that appear later: wait for them, then connect ------------------------
agent fr-later PORTHOLE_TOKEN=@$T/later/agent.token PORTHOLE_CA=$T/later/ca.pem \
	PORTHOLE_PUBKEY=$T/later/signing.pub PORTHOLE_LOG=debug
check "missing files: the agent waits (2 repeats)" wait_for 60 retried "$T/fr-later.err" 2
check "missing files: the agent is still running" kill -0 "$AGENT_PID"
eq "missing files: said once" "$(loud "$T/fr-later.err" | grep -c 'waiting for')" 1
contains "missing files: names the file" "$(loud "$T/fr-later.err" | grep 'waiting for')" \
	"$T/later/agent.token"
mkdir -p "$T/later"
cp "$STATE/agent.token" "$T/later/agent.token"
cp "$STATE/ca.pem" "$T/later/ca.pem"
cp "$STATE/signing.key.pub" "$T/later/signing.pub"
check "missing files: connects once they are there" wait_for 60 agent_listed fr-later
eq "missing files: serves exec" "$(ph exec fr-later -- echo hi </dev/null)" hi
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null

finish
