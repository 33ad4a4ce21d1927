#!/usr/bin/env bash
# Chaos: 1,000 hostile connections from 127.0.0.2 and up (ph-probe --flood:
# garbage where TLS is expected, half-open sockets, a slow upgrade, a broken
# request, and upgraded channels sending unknown types, invalid JSON, text,
# a 2^40-byte frame header, fragments past the maximum, unmasked frames with
# a reserved opcode, or nothing) while a good session streams from
# 127.0.0.1.  The good session ends byte-exact, the relay still serves, and
# it has dropped the hostile connections by itself.
. "$(dirname "$0")/lib.sh"

N=${CHAOS_HOSTILE_N:-1000}
# A handshake bound well inside the flood's 25 s, however slow the machine.
start_relay --handshake-timeout 4
start_agent e2e-hostile

"$PROBE_BIN" --url "$PORTHOLE_RELAY/v1/session" --ca "$PORTHOLE_CA" --token "$PORTHOLE_TOKEN" \
	--flood "$N" --from 127.0.0.2 --flood-secs 25 >"$T/flood.out" 2>"$T/flood.err" &
flood=$!
PIDS+=("$flood")
# Let the flood ramp up before the good session starts.
wait_for 20 sh -c "[ \$(ss -Htn state established '( dport = :$PORT )' | wc -l) -ge $((N / 4)) ]" ||
	log "flood ramped slowly: $(ss -Htn state established "( dport = :$PORT )" | wc -l) connections"
log "hostile connections open: $(ss -Htn state established "( dport = :$PORT )" | wc -l)"

# The good session: 24 MiB over about ten seconds, through the flood.
ph exec e2e-hostile -- sh -c "for i in \$(seq 24); do head -c 1M /dev/urandom; sleep 0.4; done | tee $T/sent" \
	</dev/null >"$T/got" 2>"$T/good.err"
rc=$?
eq "good session exit status" "$rc" 0
eq "good session: 24 MiB arrive" "$(wc -c <"$T/got")" $((24 * 1024 * 1024))
eq "good session: byte-exact" "$(sha256sum <"$T/got")" "$(sha256sum <"$T/sent")"

check "flood ends" wait_for 60 sh -c "! kill -0 $flood"
cat "$T/flood.out"
summary=$(cat "$T/flood.out")
contains "flood ran" "$summary" "flood $N:"
check "relay is alive" kill -0 "$RELAY_PID"
check "relay still lists the agent" agent_listed e2e-hostile
eq "relay still runs sessions" "$(ph exec e2e-hostile -- echo still-serving </dev/null)" still-serving
# The relay cut the hostile connections itself (handshake and first-message
# timeouts, refusals); what the flood still held at its end is counted too.
byrelay=$(sed -n 's/.*closed-by-relay \([0-9]*\).*/\1/p' "$T/flood.out")
connected=$(sed -n 's/.*connected \([0-9]*\).*/\1/p' "$T/flood.out")
log "closed by the relay: ${byrelay:-?} of ${connected:-?} connected ($N tried)"
check "most of the flood got in" [ "${connected:-0}" -ge $((N / 2)) ]
check "the relay closed most hostile connections itself" \
	[ "${byrelay:-0}" -ge $(( ${connected:-0} * 7 / 10 )) ]
finish
