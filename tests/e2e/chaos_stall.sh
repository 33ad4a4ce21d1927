#!/usr/bin/env bash
# Chaos: a client that stops reading for 10 s while the agent produces
# without end (an AES-CTR keystream: endless, yet reproducible here).  The
# relay's and the agent's memory grow by less than 8 MiB (bounded queues,
# flow control, the pipe's reads paused), then the client reads 32 MiB
# byte-exact, and when it stops for good (head exits) the remote program is
# ended.  slow_reader.sh covers a finite stream and the relay's hangup; this
# one never lets the producer finish.  Memory bounds: plain build only.
# And a client stopped outright (SIGSTOP): the resume buffer bounds what
# the program writes, and the client resumes byte-exact when let go.
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

# A client stopped outright (SIGSTOP: it neither reads nor acknowledges),
# the agent's resume buffer at 1 MiB: the agent stops reading the program
# once 1 MiB is unacknowledged, so the program blocks and its writes stay
# within that of what the client got, even after the relay dropped the
# stopped client and the agent holds the session.  Let go, the client
# resumes: all 64 MiB, byte-exact, exit 0.  (With an 8 MiB buffer the
# program was 8.0 MiB ahead: the bound below failed.)
PORTHOLE_RESUME_BUFFER=1M PORTHOLE_RESUME_TIMEOUT=5m start_agent e2e-stall-stop
head -c 64M /dev/zero | openssl enc -aes-128-ctr -K $KEY -iv $IV -nosalt >"$T/want2"
marker2=porthole-stop-$$
PORTHOLE_RESUME_TIMEOUT=5m "$CLI_BIN" exec e2e-stall-stop -- bash -c "head -c 64M /dev/zero |
	exec -a $marker2 openssl enc -aes-128-ctr -K $KEY -iv $IV -nosalt" </dev/null >"$T/got2" 2>"$T/stop.err" &
cli=$!
wait_for 60 sh -c "[ \$(stat -c %s '$T/got2') -gt 4194304 ]" || fail "stopped client: no 4 MiB before the stop"
kill -STOP "$cli"
check "stopped client: the relay drops it, the agent holds the session" \
	wait_for 60 grep -q "holding the session" "$T/agent-e2e-stall-stop.err"
prod=$(pgrep -f "^$marker2" | head -1)
w1=$(sed -n 's/^wchar: //p' "/proc/$prod/io" 2>/dev/null)
sleep 3
w2=$(sed -n 's/^wchar: //p' "/proc/$prod/io" 2>/dev/null)
got=$(stat -c %s "$T/got2")
log "stopped client: it has $got bytes; the program wrote $w1, then $w2 3 s later"
check "stopped client: the program is blocked (wrote nothing in 3 s)" test -n "$w1" -a "$w1" = "$w2"
check "stopped client: it wrote at most the client's bytes + its 1 MiB buffer + 1 MiB (pipe, a record, the CLI's 256 KiB stdout queue)" \
	test -n "$w2" -a "$((w2 - got))" -lt $((2 << 20))
kill -CONT "$cli"
wait "$cli"; rc=$?
eq "stopped client let go: exit 0" "$rc" 0
check "stopped client let go: 64 MiB byte-exact" cmp -s "$T/got2" "$T/want2"
check "stopped client let go: it resumed" grep -q "resumed after" "$T/agent-e2e-stall-stop.err"
finish
