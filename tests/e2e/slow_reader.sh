#!/usr/bin/env bash
# A reader that stops: `porthole exec T -- cat /dev/zero | (sleep 5; head -c 1M)`
# keeps the relay's and the agent's memory flat (bounded queues, rx flow
# control, the pipe's reads paused) and the remote cat is gone afterwards.
# Memory figures only mean something in the plain build (ASan's quarantine).
. "$(dirname "$0")/lib.sh"

# The relay's keepalive hangup is cut to 3 s so that the 10 s stall below
# proves a stalled reader is not taken for a dead peer.
start_relay --hangup-secs 3
start_agent e2e-slow
# Warm up both so the baseline includes TLS and session setup.
ph exec e2e-slow -- head -c 4M /dev/zero </dev/null >/dev/null
relay0=$(hwm_kib "$RELAY_PID"); agent0=$(hwm_kib "$AGENT_PID")
log "before: relay VmHWM ${relay0} KiB, agent VmHWM ${agent0} KiB"

marker=porthole-slow-$$
ph exec e2e-slow -- bash -c "exec -a $marker cat /dev/zero" </dev/null |
	(sleep 5; head -c 1M >/dev/null)
relay1=$(hwm_kib "$RELAY_PID"); agent1=$(hwm_kib "$AGENT_PID")
log "after: relay VmHWM ${relay1} KiB (+$((relay1 - relay0))), agent VmHWM ${agent1} KiB (+$((agent1 - agent0)))"
if sanitizer; then
	log "sanitizer build: memory bounds are checked in the plain build"
else
	check "relay peak grew by less than 8 MiB" [ $((relay1 - relay0)) -lt 8192 ]
	check "agent peak grew by less than 8 MiB" [ $((agent1 - agent0)) -lt 8192 ]
fi
check "remote cat is gone" wait_for 20 no_process "$marker"

# A reader that stops for 10 s, longer than the relay's hangup: the
# session survives and the stream arrives byte-exact.
ph exec e2e-slow -- sh -c "head -c 32M /dev/urandom | tee $T/sent" </dev/null 2>"$T/big.err" |
	(sleep 10; cat >"$T/big")
eq "stalled 10 s: 32 MiB arrive" "$(wc -c <"$T/big")" $((32 * 1024 * 1024))
eq "stalled 10 s: byte-exact" "$(sha256sum <"$T/big")" "$(sha256sum <"$T/sent")"
finish
