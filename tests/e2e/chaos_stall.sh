#!/usr/bin/env bash
# Chaos: a client that stops reading for 10 s while the agent produces
# without end (an AES-CTR keystream: endless, yet reproducible here).  The
# relay's and the agent's memory grow by less than 8 MiB (bounded queues,
# flow control, the pipe's reads paused), then the client reads 32 MiB
# byte-exact, and when it stops for good (head exits) the remote program is
# ended.  slow_reader.sh covers a finite stream and the relay's hangup; this
# one never lets the producer finish.  Memory bounds: plain build only.
. "$(dirname "$0")/lib.sh"

KEY=000102030405060708090a0b0c0d0e0f
IV=f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff
start_relay --hangup-secs 3
start_agent e2e-stall
ph exec e2e-stall -- head -c 8M /dev/zero </dev/null >/dev/null
relay0=$(hwm_kib "$RELAY_PID"); agent0=$(hwm_kib "$AGENT_PID")
log "before: relay VmHWM ${relay0} KiB, agent VmHWM ${agent0} KiB"

head -c 32M /dev/zero | openssl enc -aes-128-ctr -K $KEY -iv $IV -nosalt >"$T/want"
marker=porthole-stall-$$
( sleep 8; echo "relay $(rss_kib "$RELAY_PID") agent $(rss_kib "$AGENT_PID")" >"$T/during" ) &
sampler=$!
ph exec e2e-stall -- bash -c "exec -a $marker openssl enc -aes-128-ctr -K $KEY -iv $IV -nosalt -in /dev/zero" \
	</dev/null 2>"$T/exec.err" | (sleep 10; head -c 32M >"$T/got")
wait "$sampler"
relay1=$(hwm_kib "$RELAY_PID"); agent1=$(hwm_kib "$AGENT_PID")
log "during the stall (8 s): $(cat "$T/during") KiB RSS"
log "after: relay VmHWM ${relay1} KiB (+$((relay1 - relay0))), agent VmHWM ${agent1} KiB (+$((agent1 - agent0)))"
eq "after the stall: 32 MiB arrive" "$(wc -c <"$T/got")" $((32 * 1024 * 1024))
eq "after the stall: byte-exact" "$(sha256sum <"$T/got")" "$(sha256sum <"$T/want")"
if sanitizer; then
	log "sanitizer build: memory bounds are checked in the plain build"
else
	check "relay peak grew by less than 8 MiB" [ $((relay1 - relay0)) -lt 8192 ]
	check "agent peak grew by less than 8 MiB" [ $((agent1 - agent0)) -lt 8192 ]
fi
check "the endless remote program is ended" wait_for 20 no_process "$marker"
check "relay still runs sessions" [ "$(ph exec e2e-stall -- echo ok </dev/null)" = ok ]
finish
