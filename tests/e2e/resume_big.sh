#!/usr/bin/env bash
# Resume across a relay killed with SIGKILL and started again 2 s later
# on its port (docs/protocol.md, "Resume"), for what e2e_resume does not
# cover:
#  0. an exec whose program writes a line every 2 ms all along, so output
#     comes while the agent's resumed data channel dials: the channel
#     still starts with `attach` (the relay refused it once, when held
#     records went first, and the session stood still 10 s); every line
#     once, in order, exit code kept;
#  1. a 200 MiB `cp` to the agent and one from it: exit 0, sha256 equal;
#  2. a `dump` of a process with 1 GiB of resident, non-trivial memory:
#     exit 0, the core opened by gdb, the CLI's sha256 the file's;
#  and the issue's `exec -- seq 1 20000000`, byte-identical, exit 0.
# 1, 2 and the seq run in the plain build only (issue 18: the sanitizers move
# bytes ~10x slower; the same paths run there, smaller, in e2e_resume).
#
# "Mid-transfer" is made certain: once the CLI has moved some of the bytes
# (its read or write count in /proc/PID/io), it is stopped (SIGSTOP), so
# flow control holds the rest in flight however fast the machine, the
# relay is killed, the CLI let go (SIGCONT) to see the relay gone, and the
# relay started again 2 s later on its port.
. "$(dirname "$0")/lib.sh"
export PORTHOLE_RESUME_TIMEOUT=5m
DT_BIN=$BUILD/tests/tools/ph-dumptarget

start_relay
start_agent e2e-resume-big

# io_count PID FIELD: rchar or wchar of PID (0 when it is gone).
io_count() { sed -n "s/^$2: //p" "/proc/$1/io" 2>/dev/null || echo 0; }
# moved PID FIELD BYTES: PID has read or written more than BYTES.
moved() { [ "$(io_count "$1" "$2")" -gt "$3" ]; }

# kill_mid NAME CLI FIELD BYTES: once CLI has moved BYTES, the relay is
# killed with the CLI stopped, the CLI goes on, and the relay comes back
# 2 s later.  1 when the transfer was over before BYTES.
kill_mid() {
	local name=$1 cli=$2 field=$3 bytes=$4 i
	# A tight poll (a copy may take well under a second), bounded.
	for i in $(seq 6000); do
		moved "$cli" "$field" "$bytes" && break
		kill -0 "$cli" 2>/dev/null || break
		sleep 0.01
	done
	if ! moved "$cli" "$field" "$bytes"; then
		fail "$name: the CLI did not move $bytes bytes while it ran"
		return 1
	fi
	kill -STOP "$cli"
	relay_down_2s kill -CONT "$cli"
	return 0
}

# relay_down_2s [COMMAND...]: the relay killed (SIGKILL), COMMAND run, and
# the relay started again 2 s later on its port.
relay_down_2s() {
	kill -KILL "$RELAY_PID"
	wait "$RELAY_PID" 2>/dev/null
	"$@"
	sleep 2
	restart_relay
}

# cp_across_kill NAME SRC DST FIELD FILE: `cp SRC DST` with the relay
# killed once the CLI moved 16 MiB (FIELD: rchar or wchar); exit 0, FILE
# (the copy) has the source's sha256, and the new relay audits a resume.
cp_across_kill() {
	local name=$1 before
	before=$(grep -c '"session_resumed"' "$T/relay.out")
	"$CLI_BIN" cp "$2" "$3" </dev/null 2>"$T/err.$name" &
	cli=$!
	if kill_mid "cp $name" "$cli" "$4" $((16 << 20)); then
		wait "$cli"; eq "cp $name across a relay kill -9: exit 0" $? 0
		eq "cp $name: sha256 equal" "$(sha256sum <"$5" | cut -d' ' -f1)" "$want"
		check "cp $name: the new relay audits the resume" \
			test "$(grep -c '"session_resumed"' "$T/relay.out")" -gt "$before"
	else
		wait "$cli"
	fi
	wait_for 60 agent_listed e2e-resume-big || fail "the agent did not come back after cp $name"
}

# 0. A steady stream across the kill.
N=4000
seq 1 "$N" >"$T/want0"
"$CLI_BIN" exec e2e-resume-big -- python3 -c "import sys, time
for i in range(1, $N + 1):
    sys.stdout.write('%d\\n' % i); sys.stdout.flush(); time.sleep(0.002)
sys.exit(5)" </dev/null >"$T/out0" 2>"$T/err0" &
cli=$!
wait_for 60 grep -q '^200$' "$T/out0" || fail "stream: no output before the kill"
relay_down_2s
wait "$cli"; rc=$?
eq "stream: the exit code is kept" "$rc" 5
check "stream: every line once, in order" cmp -s "$T/out0" "$T/want0"
check "stream: the agent resumed the session" \
	grep -q "resumed after" "$T/agent-e2e-resume-big.err"
check "stream: the resumed data channel starts with attach" \
	sh -c "! grep -q 'must be attach' '$T/relay.err' '$T/agent-e2e-resume-big.err'"
wait_for 60 agent_listed e2e-resume-big || fail "the agent did not come back after the stream"

if sanitizer; then
	echo "# the 200 MiB copies and the 1 GiB dump across a relay kill: skipped, plain build only (issue 18)"
	finish
fi

# 1. cp, 200 MiB of random bytes, to the agent and back.
mkdir -p "$T/remote" "$T/local"
head -c 200M /dev/urandom >"$T/src"
want=$(sha256sum <"$T/src" | cut -d' ' -f1)
cp_across_kill put "$T/src" "e2e-resume-big:$T/remote/copy" rchar "$T/remote/copy"
cp_across_kill get "e2e-resume-big:$T/remote/copy" "$T/local/copy" wchar "$T/local/copy"
rm -rf "$T/src" "$T/remote" "$T/local"

# The issue's own case: `exec -- seq 1 20000000` (169 MB), the relay
# killed once the CLI wrote 32 MiB of it: the output is byte-identical to
# the local run, exit 0.
seq 1 20000000 >"$T/want-seq"
before=$(grep -c '"session_resumed"' "$T/relay.out")
"$CLI_BIN" exec e2e-resume-big -- seq 1 20000000 </dev/null >"$T/out-seq" 2>"$T/err-seq" &
cli=$!
if kill_mid "seq 1 20000000" "$cli" wchar $((32 << 20)); then
	wait "$cli"; eq "seq 1 20000000 across a relay kill -9: exit 0" $? 0
	check "seq 1 20000000: output byte-identical to the local run" cmp -s "$T/out-seq" "$T/want-seq"
	check "seq 1 20000000: the new relay audits the resume" \
		test "$(grep -c '"session_resumed"' "$T/relay.out")" -gt "$before"
else
	wait "$cli"
fi
rm -f "$T/want-seq" "$T/out-seq"
wait_for 60 agent_listed e2e-resume-big || fail "the agent did not come back after seq"

# 2. dump of a process with 1 GiB of touched heap (--fill semi: what a
# real heap looks like to a compressor), the relay killed mid-dump.
if [ ! -x "$DT_BIN" ]; then
	fail "ph-dumptarget is not built ($DT_BIN): the dump checks did not run"
	finish
fi
"$DT_BIN" --status "$T/dt.status" --threads 2 --fill semi --heap 1024 >"$T/dt.out" 2>&1 &
DT=$!
PIDS+=("$DT")
wait_for 120 test -f "$T/dt.status" || { fail "ph-dumptarget did not start"; finish; }
between "the target holds 1 GiB resident (MiB)" $(( $(rss_kib "$DT") >> 10 )) 1024 1400
resumed_before=$(grep -c '"session_resumed"' "$T/relay.out")
mkdir "$T/w"
"$CLI_BIN" dump e2e-resume-big "$DT" -o "$T/w/big.core" </dev/null 2>"$T/err.dump" &
cli=$!
if kill_mid "dump" "$cli" wchar $((200 << 20)); then
	wait "$cli"; rc=$?
	eq "dump across a relay kill -9: exit 0" $rc 0
	f=$T/w/big.core
	sha=$(sed -n 's/.*sha256 \([0-9a-f]\{64\}\).*/\1/p' "$T/err.dump")
	eq "dump: the CLI's sha256 is the file's" "$sha" "$(sha256sum <"$f" | cut -d' ' -f1)"
	size=$(sed -n 's/.*: \([0-9]*\) bytes.*/\1/p' "$T/err.dump")
	eq "dump: the CLI's size is the file's" "$size" "$(stat -c %s "$f")"
	between "dump: the core holds the 1 GiB heap (MiB)" $(( ${size:-0} >> 20 )) 1024 4096
	check "dump: the new relay audits the resume" \
		test "$(grep -c '"session_resumed"' "$T/relay.out")" -gt "$resumed_before"
	gdb -batch -nx -ex 'thread apply all bt' -ex 'print marker' -ex 'print *tail' \
	    "$DT_BIN" "$f" >"$T/gdb.out" 2>&1
	for fn in main level_one level_two park park_thread writer_thread; do
		contains "gdb: the call chain shows $fn" "$(cat "$T/gdb.out")" "$fn"
	done
	contains "gdb: the marker is readable" "$(cat "$T/gdb.out")" "porthole-dump-marker-7f3a"
	check "gdb: the heap's last word (1 GiB in) is readable" \
		grep -q '^\$2 = [0-9][0-9]*$' "$T/gdb.out"
	rm -f "$f"
else
	wait "$cli"
fi
kill "$DT" 2>/dev/null

finish
