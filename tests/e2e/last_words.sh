#!/usr/bin/env bash
# The agent's last words reach a client that stopped reading: the program
# writes more than the relay holds for the client, exits 7, and the agent
# sends its output, its exit and its close while the relay's reading of
# the data channel is paused behind the stopped client.  The agent then
# hangs up (its close is never answered); the relay must neither lose what
# it did not read yet (a ping written to the closed socket brings a reset,
# and libwebsockets drops unread input on it) nor drop the channel as
# silent: once the client reads again, every byte and the exit code 7
# arrive.  Pings every 2 s (hangup 6 s), and the client stays stopped well
# past both.  Then the agent's close while the relay still sends (a client's
# stdin) and is behind on reading: nothing of the end is lost.
. "$(dirname "$0")/lib.sh"
# Sessions that do not resume: one that resumes keeps its channel until the
# client acknowledged every record (docs/protocol.md, "Resume"), so its
# agent never hangs up on a stopped client; this is about one that does.
export PORTHOLE_RESUME_TIMEOUT=0

PORTHOLE_LOG=debug start_relay --hangup-secs 6
PORTHOLE_LOG=debug start_agent e2e-last

# More than the client's side holds (so the relay pauses the data channel)
# and less than both sides together (so the agent can finish).  What the
# sockets hold depends on the kernel's buffer autotuning (5 MiB was all
# held once), so the size grows until a run made the relay pause.
paused=0
for mib in 5 8 12; do
	size=$((mib * 1024 * 1024))
	nfreed=$(grep -c "session .*: freed" "$T/agent-e2e-last.err")
	npaused=$(grep -c "reads paused (0x2)" "$T/relay.err")
	freed() { [ "$(grep -c "session .*: freed" "$T/agent-e2e-last.err")" -gt "$nfreed" ]; }
	rm -f "$T/reader.err" "$T/count"
	# The reader starts once the agent is done with the session, and some.
	ph exec e2e-last -- sh -c "head -c $size /dev/zero; exit 7" </dev/null 2>"$T/err" |
		(wait_for 120 freed || echo "the agent never finished" >"$T/reader.err"
		 sleep 8; wc -c >"$T/count")
	rc=${PIPESTATUS[0]}
	eq "$mib MiB: the agent finished while the client was stopped" "$(cat "$T/reader.err" 2>/dev/null)" ""
	eq "$mib MiB: every byte arrived" "$(cat "$T/count")" "$size"
	eq "$mib MiB: the exit code came through" "$rc" 7
	eq "$mib MiB: nothing on stderr" "$(cat "$T/err")" ""
	if [ "$(grep -c "reads paused (0x2)" "$T/relay.err")" -gt "$npaused" ]; then
		paused=1
		break
	fi
	log "$mib MiB: the relay never paused (the sockets held it all): a larger run"
done
eq "a run where the relay paused its reading of the data channel" "$paused" 1
check "the relay held the channel: it did not hang up on it" \
	sh -c "! grep -q 'hanging up' '$T/relay.err'"

# The client's stdin still flowing when the program exits, and the client
# reading slowly, so the relay is behind on the agent's output when the
# agent closes.  The agent's close must not overtake what the relay has
# not read: a socket closed with the relay's stdin unread in it is a
# reset, and the output was cut ("agent ... was lost mid-session", about
# every second run).  Ten runs: every byte and the exit code, each time.
good=0
for i in $(seq 10); do
	head -c 100M /dev/zero | "$CLI_BIN" exec e2e-last -- \
		sh -c "head -c 1000000 /dev/zero | tr '\\0' x; exit 3" 2>"$T/flood.err" |
		python3 -c 'import os, time
n = 0
while True:
    b = os.read(0, 16384)
    if not b:
        break
    n += len(b)
    time.sleep(0.005)
print(n)' >"$T/flood.count"
	rc=${PIPESTATUS[1]}
	if [ "$rc" = 3 ] && [ "$(cat "$T/flood.count")" = 1000000 ]; then
		good=$((good + 1))
	else
		log "stdin flowing, run $i: exit $rc, $(cat "$T/flood.count") bytes: $(cat "$T/flood.err")"
	fi
done
eq "stdin flowing at the exit: every byte and the exit code in 10 runs of 10" "$good" 10
finish
