#!/usr/bin/env bash
# The agent's token against the programs beside it (issue 14, finding 3).
# Everything runs as an unprivileged user (65534): root reads any memory
# anyway, so as root this test would pass with or without the fix.
#
# Launcher mode: APP (tests/tools/ph-memscan) is the agent's parent and the
# same user, the one process best placed to read the agent; it cannot open
# /proc/AGENT/mem or /proc/AGENT/environ.  APP itself is dumpable as usual
# (its /proc files are its user's: gdb and porthole dump can read it), the
# agent's /proc files are root's (not dumpable), the agent still raised its
# own oom_score_adj to 1000 while APP kept its own, and the agent serves exec.
# Sidecar mode: a program of the same user cannot read the agent either.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "# skip: needs root to run as another user"; exit 77; }
SETPRIV=$(command -v setpriv) || { echo "# skip: no setpriv"; exit 77; }
U=65534
as_user() { "$SETPRIV" --reuid=$U --regid=$U --clear-groups "$@"; }
# verdict FILE: ph-memscan's exit status as it printed it (empty until done).
verdict() { sed -n 's/^verdict //p' "$1"; }
# owner PATH: the uid that owns a /proc file.
owner() { stat -c %u "$1"; }

start_relay

# What user 65534 needs, where it can read it: the binaries (the build tree
# may sit in a private home), the CA and the issuer's public key.
PUB=$T/pub
mkdir -p "$PUB"
cp "$AGENT_BIN" "$BUILD/tests/tools/ph-memscan" "$PUB/"
cp "$PORTHOLE_CA" "$PUB/ca.pem"
cp "$PORTHOLE_PUBKEY" "$PUB/signing.pub"
chmod 755 "$T" "$PUB" "$PUB/porthole-agent" "$PUB/ph-memscan"
chmod 644 "$PUB/ca.pem" "$PUB/signing.pub"
if ! as_user "$PUB/porthole-agent" --version >/dev/null 2>&1; then
	echo "# skip: user $U cannot run the agent copied to $PUB (libraries out of its reach?)"
	exit 77
fi
# The token goes in by value (PORTHOLE_TOKEN=...): the file stays root's, and
# the needle is a copy the agent never reads, so a hit is the agent's own.
tok=$(cat "$STATE/agent.token")
printf '%s\n' "$tok" >"$PUB/needle"
chmod 644 "$PUB/needle"
# The agent's settings (env execs setpriv, which execs the agent: one pid).
AENV=(PORTHOLE_TOKEN="$tok" PORTHOLE_CA="$PUB/ca.pem" PORTHOLE_PUBKEY="$PUB/signing.pub"
	PORTHOLE_RELAY="$PORTHOLE_RELAY")
oom_before=$(cat /proc/self/oom_score_adj)

# --- Launcher mode: APP looks into its child, the agent -------------------------
env "${AENV[@]}" PORTHOLE_NAME=ls-launch "$SETPRIV" --reuid=$U --regid=$U --clear-groups \
	"$PUB/porthole-agent" -- "$PUB/ph-memscan" --child "$PUB/go" "$PUB/needle" \
	>"$T/launch.out" 2>"$T/launch.err" &
LPID=$!
PIDS+=("$LPID")
check "the launched agent registers" wait_for 30 agent_listed ls-launch
apid=$(pgrep -P "$LPID" | head -1)
check "the agent is APP's child" test -n "$apid"
eq "the agent serves exec (as user $U)" "$(ph exec ls-launch -- id -u </dev/null)" $U
touch "$PUB/go"		# the agent has its token in memory now: look
check "APP has looked" wait_for 30 grep -q '^verdict' "$T/launch.out"
log "$(tr '\n' ';' <"$T/launch.out")"
eq "APP cannot read the agent's memory (ph-memscan: 3, cannot open)" \
	"$(verdict "$T/launch.out")" 3
contains "... refused by the kernel" "$(cat "$T/launch.out")" \
	"cannot open /proc/$apid/mem: Permission denied"
check "the token was not found" sh -c "! grep -q '^found' '$T/launch.out'"
contains "APP cannot open the agent's environ either" "$(cat "$T/launch.out")" \
	"environ Permission denied"
eq "the agent is not dumpable: its /proc files are root's" "$(owner "/proc/$apid/mem")" 0
eq "APP is dumpable as usual: its /proc files are its user's" "$(owner "/proc/$LPID/mem")" $U
contains "APP says so itself (PR_GET_DUMPABLE)" "$(cat "$T/launch.out")" "self dumpable 1"
eq "the agent still goes first under memory pressure (oom_score_adj)" \
	"$(cat "/proc/$apid/oom_score_adj")" 1000
eq "APP keeps the oom_score_adj it was started with" \
	"$(cat "/proc/$LPID/oom_score_adj")" "$oom_before"
kill -TERM "$LPID"; wait "$LPID" 2>/dev/null
check "the agent goes with APP" wait_for 20 sh -c "! kill -0 $apid 2>/dev/null"

# --- Sidecar mode: another program of the same user -----------------------------
env "${AENV[@]}" PORTHOLE_NAME=ls-side "$SETPRIV" --reuid=$U --regid=$U --clear-groups "$PUB/porthole-agent" \
	>"$T/side.out" 2>"$T/side.err" &
SPID=$!
PIDS+=("$SPID")
check "the sidecar agent registers" wait_for 30 agent_listed ls-side
as_user "$PUB/ph-memscan" --pid "$SPID" "$PUB/needle" >"$T/scan.out" 2>&1
eq "a program of user $U cannot read the sidecar agent's memory" $? 3
log "$(tr '\n' ';' <"$T/scan.out")"
eq "the sidecar agent is not dumpable" "$(owner "/proc/$SPID/mem")" 0
# Its own programs are dumpable (exec resets it): the agent only guards itself.
eq "a program the agent starts is dumpable" \
	"$(ph exec ls-side -- sh -c 'stat -c %u /proc/self/mem' </dev/null)" $U
finish
