#!/usr/bin/env bash
# dump end to end, through the real relay, agent (and its dump worker) and
# CLI on loopback: a core of the multi-threaded test program that gdb opens
# (every thread, the known call chain, the global marker), the summary's
# size and sha256 equal to the file's, mode 0600, the file-name and
# overwrite rules (-o FILE, -o DIR, --force); the agent's own checks of the
# open (a raw client: missing pid, bad kind, relative tmpdir, container, the
# agent itself; argv never run; a client's signal never reaches the worker;
# the file travels as DATA frames); a 256 MiB incompressible dump with the
# CLI's memory flat; and the faults, each ending in 255 with one message and
# nothing left behind: no such pid, a kernel thread, ptrace not permitted
# (an unprivileged agent), the CLI killed (SIGKILL), SIGTERM and SIGINT to
# the CLI, the worker killed, the target killed (snapshot and freeze), the
# local disk full, the relay killed (the CLI and the relay killed: once a
# resume timeout passed, the dump held meanwhile with the app running;
# never held with --freeze).  After every fault: the app is not stopped,
# it has no child left (snapshot), the worker is gone, and neither FILE nor
# FILE.partial exists.
#
# "Mid-dump" is made certain, and checked: the CLI is stopped (SIGSTOP) as
# soon as the worker runs, so flow control holds the dump in flight (the
# app's 256 MiB of random heap do not fit the pipes, queues and sockets
# between), and the worker must still be there a second later.
. "$(dirname "$0")/lib.sh"

DT_BIN=$BUILD/tests/tools/ph-dumptarget

start_relay
start_agent e2e-dump

W=$T/out
mkdir "$W"
cd "$W" || exit 1

# A process with a big heap of random bytes (incompressible), owned by root.
start_big() {
	: >"$T/big.out"	# the last one's "ready" must not answer for this one
	python3 -c 'import os, sys, time
b = os.urandom(256 << 20)
sys.stdout.write("ready\n"); sys.stdout.flush()
time.sleep(3600)' >"$T/big.out" &
	BIG=$!
	PIDS+=("$BIG")
	wait_for 50 grep -q ready "$T/big.out" || fail "the big target did not start"
}

# Is no thread of PID stopped (t or T)?
not_stopped() {
	local f st
	for f in /proc/"$1"/task/*/stat; do
		st=$(sed 's/.*) //' "$f" 2>/dev/null | cut -d' ' -f1)
		case $st in t|T) return 1;; esac
	done
	return 0
}
# Has $P no child at all (alive or zombie)?  One cat and one awk over every
# /proc/PID/stat (a process of its own per file took 2 s on a loaded machine,
# and wait_for counts tries, not seconds: 4c's wait_for 10 ran for minutes).
no_children() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v p="$P" '
		{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); if (f[2] == p) n++ }
		END { exit n > 0 }'
}
worker_gone() { no_process "--op-dump --kind [a-z]* --pid $1( |\$)"; }
nothing_left() { [ -z "$(ls -A "$1")" ]; }

# after_fault NAME PID DIR: the app is unharmed and nothing is left behind.
after_fault() {
	local name=$1 pid=$2 dir=$3
	P=$pid
	check "$name: the worker is gone" wait_for 30 worker_gone "$pid"
	if [ -d "/proc/$pid" ]; then
		check "$name: the app is not left stopped" wait_for 30 not_stopped "$pid"
		# KEEP_CHILD=1: a SIGKILLed worker's snapshot may outlive it (4c).
		if [ "${KEEP_CHILD:-0}" != 1 ]; then
			check "$name: no snapshot child left (alive or zombie)" wait_for 30 no_children
		fi
	fi
	check "$name: neither FILE nor FILE.partial left" nothing_left "$dir"
}

# worker_running PID: the dump worker for PID exists.
worker_running() { pgrep -f -- "--op-dump --kind [a-z]* --pid $1( |\$)" >/dev/null; }

# in_flight NAME CLI PID: stop the CLI once the worker for PID runs; true
# when the dump is then held in flight (the worker still there 1 s later).
in_flight() {
	local i
	for i in $(seq 300); do
		worker_running "$3" && break
		sleep 0.05
	done
	kill -STOP "$2"
	sleep 1
	if worker_running "$3"; then
		return 0
	fi
	fail "$1: the dump could not be caught in flight"
	cat "$T/err"
	kill -KILL "$2"
	rm -f "$W"/*
	return 1
}

# 1. The core of the test program, opened by gdb.
if [ -x "$DT_BIN" ]; then
	# --fill semi: a heap with runs of zero pages, which the CLI leaves
	# as holes (a sparse file that reads, hashes and opens the same).
	"$DT_BIN" --status "$T/dt.status" --threads 3 --fill semi --heap 32 >"$T/dt.out" 2>&1 &
	DT=$!
	PIDS+=("$DT")
	wait_for 20 test -f "$T/dt.status" || fail "ph-dumptarget did not start"
	ph dump e2e-dump "$DT" 2>"$T/err"; rc=$?
	eq "dump of the test program: exit 0" $rc 0
	f=core.e2e-dump.$DT
	check "dump: the default name core.NAME.PID" test -f "$f"
	summary=$(cat "$T/err")
	eq "dump: one summary line, no progress (stderr is no terminal)" "$(wc -l <"$T/err")" 1
	contains "dump: the summary names the file" "$summary" "wrote $f:"
	sha=$(sed -n 's/.*sha256 \([0-9a-f]\{64\}\).*/\1/p' "$T/err")
	eq "dump: the summary's sha256 is the file's" "$sha" "$(sha256sum <"$f" | cut -d' ' -f1)"
	size=$(sed -n 's/.*: \([0-9]*\) bytes.*/\1/p' "$T/err")
	eq "dump: the summary's size is the file's" "$size" "$(stat -c %s "$f")"
	check "dump: zero blocks are holes (8 MiB of zero pages: the file is sparse)" \
		test $(( $(stat -c %b "$f") * $(stat -c %B "$f") + 6 * 1048576 )) -le "$size"
	contains "dump: the summary gives the mode" "$summary" "mode "
	contains "dump: the summary gives the pause" "$summary" "paused"
	eq "dump: the file is private (0600)" "$(stat -c %a "$f")" 600
	check "dump: the file is an ELF core" sh -c "file '$f' | grep -q 'core file'"
	gdb -batch -nx -ex 'info threads' -ex 'thread apply all bt' \
	    -ex 'print marker' "$DT_BIN" "$f" >"$T/gdb.out" 2>&1
	nthreads=$(ls "/proc/$DT/task" | wc -l)
	eq "gdb: every thread is in the core" \
	    "$(grep -c '^[* ] *[0-9][0-9]* *\(Thread\|LWP\|process\)' "$T/gdb.out")" "$nthreads"
	for fn in main level_one level_two park park_thread writer_thread; do
		contains "gdb: the call chain shows $fn" "$(cat "$T/gdb.out")" "$fn"
	done
	contains "gdb: the marker is readable" "$(cat "$T/gdb.out")" "porthole-dump-marker-7f3a"
	check "dump: the app runs on" not_stopped "$DT"
	P=$DT
	check "dump: the app has no child left" wait_for 20 no_children

	# The name is taken: refused, the file untouched; --force replaces it.
	before=$(sha256sum <"$f")
	ph dump e2e-dump "$DT" --kind core 2>"$T/err"; eq "existing FILE: 255" $? 255
	contains "existing FILE: says so" "$(cat "$T/err")" "--force"
	eq "existing FILE: untouched" "$(sha256sum <"$f")" "$before"
	ph dump e2e-dump "$DT" --force 2>"$T/err"; eq "--force: exit 0" $? 0
	check "--force: no partial left" test ! -e "$f.partial"
	rm -f "$f"

	# -o FILE in another directory, -o DIR.
	mkdir "$T/o"
	ph dump e2e-dump "$DT" -o "$T/o/my.core" 2>"$T/err"; eq "-o FILE: exit 0" $? 0
	check "-o FILE: written there" test -s "$T/o/my.core"
	ph dump e2e-dump "$DT" -o "$T/o" 2>"$T/err"; eq "-o DIR: exit 0" $? 0
	check "-o DIR: the default name in DIR" test -s "$T/o/core.e2e-dump.$DT"
	eq "-o: nothing else in the directory" "$(ls "$T/o" | wc -l)" 2
	rm -rf "$T/o"
	kill "$DT"
else
	fail "ph-dumptarget is not built ($DT_BIN): the gdb checks did not run"
fi

# 2. Bad input: one line, 255, nothing written.
ph dump e2e-dump notapid 2>"$T/err"; eq "bad pid: 255" $? 255
contains "bad pid: usage" "$(cat "$T/err")" "usage: porthole dump"
ph dump e2e-dump 1 --kind bogus 2>"$T/err"; eq "bad kind: 255" $? 255
ph dump e2e-dump 1 --tmpdir rel 2>"$T/err"; eq "relative --tmpdir: 255" $? 255
sleep 0 & gone=$!; wait $gone
ph dump e2e-dump "$gone" 2>"$T/err"; eq "no such pid: 255" $? 255
log "no such pid: $(cat "$T/err")"
contains "no such pid: says so" "$(cat "$T/err")" "porthole: dump: "
grep -qi "no process\|no such process" "$T/err"; eq "no such pid: names the cause" $? 0
check "no such pid: nothing written" nothing_left "$W"
kt=2
[ "$(cat /proc/2/comm 2>/dev/null)" = kthreadd ] ||
	kt=$(awk '$4 == 2 { print $1; exit }' /proc/[0-9]*/stat 2>/dev/null)
ph dump e2e-dump "$kt" 2>"$T/err"; eq "kernel thread: 255" $? 255
log "kernel thread: $(cat "$T/err")"
grep -qi "kernel thread" "$T/err"; eq "kernel thread: says so" $? 0
check "kernel thread: nothing written" nothing_left "$W"

# 2b. The agent's own checks of `open`, from a raw client (ph-probe): it
# builds the worker's argv itself, never runs the client's, and ignores
# the client's signals (they would bypass the worker's cleanup).
agent_id=$(ph ls --json | jq -r '.agents[] | select(.name == "e2e-dump") | .id')
probe_open() {
	local sid
	sid=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	"$PROBE_BIN" --url "wss://127.0.0.1:$PORT/v1/session" --ca "$PORTHOLE_CA" \
		--token "$PORTHOLE_TOKEN" --proto porthole.session.v1 --wait-ms "${WAIT_MS:-10000}" \
		--sign "$PORTHOLE_KEY" --ctl "{\"type\":\"open\",\"sid\":\"$sid\",\"agent\":\"$agent_id\",\"op\":\"dump\",$1}" \
		"${@:2}"
}
refused() {
	local name=$1 code=$2 err=$3 out=$4
	case $out in *"\"code\":\"$err\""*"close $code"*) ok "$name: $err${code:+, $code}";;
	*) fail "$name: want error $err and close $code in: $out";; esac
}
refused "open without pid" 1008 bad_message "$(probe_open '"argv":[]')"
refused "open with a bad kind" 1008 bad_message "$(probe_open '"pid":1,"kind":"rootkit"')"
refused "open with a relative tmpdir" 1008 bad_message "$(probe_open '"pid":1,"tmpdir":"tmp"')"
refused "open with a container" 1008 bad_message "$(probe_open '"pid":1,"container":"app"')"
refused "open naming the agent itself" "" unsupported "$(probe_open "\"pid\":$AGENT_PID")"
ph dump e2e-dump "$AGENT_PID" 2>"$T/err"; eq "dump of the agent itself: 255" $? 255
contains "dump of the agent itself: says so" "$(cat "$T/err")" "porthole-agent itself"
out=$(probe_open "\"pid\":$gone,\"argv\":[\"sh\",\"-c\",\"touch $T/pwned\"]")
check "argv in a dump open is never run" test ! -e "$T/pwned"
contains "argv ignored: the worker ran (for pid $gone) and failed" "$out" '"type":"exit","code":1'
if [ -x "$DT_BIN" ]; then
	"$DT_BIN" --status "$T/dt2.status" >"$T/dt2.out" 2>&1 &
	DT2=$!
	PIDS+=("$DT2")
	wait_for 20 test -f "$T/dt2.status"
	out=$(WAIT_MS=60000 probe_open "\"pid\":$DT2" --ctl '{"type":"signal","name":"KILL"}')
	contains "a client's signal does not reach the worker: the dump ends well" "$out" \
		'"type":"exit","code":0'
	check "the DATA came as DATA frames (type 4)" grep -q '^recv 4 ' <<<"$out"
	kill "$DT2"
fi

# 3. ptrace not permitted: an agent as nobody, a target owned by root.
start_big
chmod 711 "$T"
mkdir -m 755 "$T/pub"
cp "$STATE/ca.pem" "$T/pub/ca.pem"; chmod 644 "$T/pub/ca.pem"
PORTHOLE_TOKEN=$(cat "$STATE/agent.token") PORTHOLE_NAME=e2e-nobody PORTHOLE_CA=$T/pub/ca.pem \
	PORTHOLE_PUBKEY=$(cat "$PORTHOLE_PUBKEY") \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$AGENT_BIN" \
	>"$T/agent-nobody.out" 2>"$T/agent-nobody.err" &
PIDS+=("$!")
if wait_for 20 agent_listed e2e-nobody; then
	ph dump e2e-nobody "$BIG" 2>"$T/err"; eq "ptrace not permitted: 255" $? 255
	log "ptrace not permitted: $(cat "$T/err")"
	grep -qi "not permitted\|SYS_PTRACE" "$T/err"; eq "ptrace not permitted: says what to do" $? 0
	after_fault "ptrace not permitted" "$BIG" "$W"
else
	fail "the unprivileged agent did not register"; cat "$T/agent-nobody.err"
fi

# 3b. A 256 MiB incompressible dump: whole, and the CLI's memory stays
# flat (the file is written as it arrives; nothing is staged).
python3 -c 'import resource, subprocess, sys
r = subprocess.run(sys.argv[1:]).returncode
print(r, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' \
	"$CLI_BIN" dump e2e-dump "$BIG" -o "$W/big.core" 2>"$T/err" >"$T/rusage"
read -r rc maxrss <"$T/rusage"
eq "256 MiB dump: exit 0" "$rc" 0
eq "256 MiB dump: sha256" "$(sed -n 's/.*sha256 \([0-9a-f]\{64\}\).*/\1/p' "$T/err")" \
	"$(sha256sum <"$W/big.core" | cut -d' ' -f1)"
log "256 MiB dump: CLI peak RSS ${maxrss} KiB; $(cat "$T/err")"
# ASan's shadow and quarantine make RSS meaningless there (DESIGN.md).
if sanitizer; then
	log "256 MiB dump: peak RSS not asserted under sanitizers"
else
	less_than "256 MiB dump: the CLI's peak RSS (${maxrss} KiB) stays under 64 MiB" "$maxrss" 65536
fi
rm -f "$W/big.core"

# 4. The CLI killed (SIGKILL) mid-dump.  A snapshot dump's session is
# held for the CLI to resume it (a CLI that is gone cannot say so): the
# app runs on meanwhile (the worker streams from the snapshot, blocked once
# the agent's resume buffer is full), and the agent's resume timeout (5s
# on this agent) ends it like any lost session.  A stop-the-world dump
# (--freeze) is never held: the app must not stay stopped for the timeout,
# so the agent ends it at once, well within its own 5m.
PORTHOLE_RESUME_TIMEOUT=5s start_agent e2e-dump-hold
"$CLI_BIN" --resume 5m dump e2e-dump-hold "$BIG" -o "$W/big.core" 2>"$T/err" &
cli=$!
if in_flight "CLI killed" "$cli" "$BIG"; then
	kill -KILL "$cli"
	wait "$cli" 2>/dev/null
	check "CLI killed: the agent holds the dump for a resume" wait_for 30 \
		grep -q "the channel to the client is gone: holding the session for 5s" \
		"$T/agent-e2e-dump-hold.err"
	check "CLI killed: the app is not stopped while the dump is held" not_stopped "$BIG"
	check "CLI killed: the resume timeout ends it" wait_for 30 \
		grep -q "did not come back within 5s" "$T/agent-e2e-dump-hold.err"
	after_fault "CLI killed" "$BIG" "$W"
fi
wait "$cli" 2>/dev/null
PORTHOLE_RESUME_TIMEOUT=5m start_agent e2e-dump-freeze
"$CLI_BIN" --resume 5m dump e2e-dump-freeze "$BIG" --freeze -o "$W/big.core" 2>"$T/err" &
cli=$!
if in_flight "CLI killed (freeze)" "$cli" "$BIG"; then
	kill -KILL "$cli"
	wait "$cli" 2>/dev/null
	after_fault "CLI killed (freeze)" "$BIG" "$W"
	check "CLI killed (freeze): the dump was not held" \
		sh -c "! grep -q 'holding the session' '$T/agent-e2e-dump-freeze.err'"
fi
wait "$cli" 2>/dev/null

# 4b. SIGTERM and SIGINT to the CLI mid-dump: 255, the partial removed.
# (A background job of a script starts with SIGINT ignored: undo that.)
for sig in TERM INT; do
	env --default-signal=INT "$CLI_BIN" dump e2e-dump "$BIG" -o "$W/big.core" 2>"$T/err" &
	cli=$!
	if in_flight "SIG$sig" "$cli" "$BIG"; then
		kill -"$sig" "$cli"
		kill -CONT "$cli"
		wait "$cli"; eq "SIG$sig to the CLI: 255" $? 255
		log "SIG$sig: $(cat "$T/err")"
		contains "SIG$sig to the CLI: says so" "$(cat "$T/err")" "interrupted"
		after_fault "SIG$sig to the CLI" "$BIG" "$W"
	fi
	wait "$cli" 2>/dev/null
done

# 4c. The worker dies mid-dump (SIGKILL): 255 and what happened.
"$CLI_BIN" dump e2e-dump "$BIG" -o "$W/big.core" 2>"$T/err" &
cli=$!
if in_flight "worker killed" "$cli" "$BIG"; then
	pkill -KILL -f -- "--op-dump --kind [a-z]* --pid $BIG( |\$)"
	kill -CONT "$cli"
	wait "$cli"; eq "worker killed: the CLI exits 255" $? 255
	log "worker killed: $(cat "$T/err")"
	contains "worker killed: says so" "$(cat "$T/err")" "signal 9"
	# A SIGKILLed worker cannot kill the snapshot it made: that is the
	# worker's to solve (PTRACE_O_EXITKILL on the snapshot), not this
	# plumbing's, so it is logged here, not asserted; the rest is.
	P=$BIG
	wait_for 10 no_children || log "worker killed: a child of the app is left: $(
		awk -v p="$BIG" '{ s = $0; sub(/.*\) /, "", s); split(s, f, " ");
		    if (f[2] == p) print FILENAME, f[1] }' /proc/[0-9]*/stat 2>/dev/null)"
	KEEP_CHILD=1 after_fault "worker killed" "$BIG" "$W"
fi
wait "$cli" 2>/dev/null
# Whatever the worker left must not disturb the tests that follow.
kill -KILL "$BIG"; wait "$BIG" 2>/dev/null
start_big

# 5. The target killed mid-dump, snapshot and stop-the-world: 255 (the
# issue wants no dump of a process that died under it).
for mode in snapshot freeze; do
	flag=; [ $mode = freeze ] && flag=--freeze
	"$CLI_BIN" dump e2e-dump "$BIG" $flag -o "$W/big.core" 2>"$T/err" &
	cli=$!
	if in_flight "target killed ($mode)" "$cli" "$BIG"; then
		kill -KILL "$BIG"
		kill -CONT "$cli"
		wait "$cli"; eq "target killed ($mode): the CLI exits 255" $? 255
		log "target killed ($mode): $(cat "$T/err")"
		contains "target killed ($mode): one porthole line" "$(cat "$T/err")" "porthole: dump"
		after_fault "target killed ($mode)" "$BIG" "$W"
	fi
	wait "$cli" 2>/dev/null
	kill -KILL "$BIG" 2>/dev/null
	wait "$BIG" 2>/dev/null
	start_big
done

# 6. The operator's disk fills: a 2 MiB tmpfs in a private mount namespace.
mkdir "$T/small"
unshare --mount sh -c 'mount -t tmpfs -o size=2m tmpfs "$1" || exit 99
	"$2" dump e2e-dump "$3" -o "$1/big.core" 2>"$4"; rc=$?
	ls -A "$1" >"$5"; exit $rc' sh "$T/small" "$CLI_BIN" "$BIG" "$T/err" "$T/left"
eq "disk full: 255" $? 255
log "disk full: $(cat "$T/err")"
grep -q "No space left on device" "$T/err"; eq "disk full: says so" $? 0
eq "disk full: the partial was removed" "$(cat "$T/left")" ""
after_fault "disk full" "$BIG" "$W"

# 7. The relay killed mid-dump (last: the agent has no relay afterwards).
# Both ends wait for it to come back (a relay restarted mid-dump resumes
# the dump: resume.sh), here for 5s, then give up.
"$CLI_BIN" --resume 5s dump e2e-dump-hold "$BIG" -o "$W/big.core" 2>"$T/err" &
cli=$!
if in_flight "relay killed" "$cli" "$BIG"; then
	kill -KILL "$RELAY_PID"
	kill -CONT "$cli"
	wait "$cli"; eq "relay killed: the CLI exits 255" $? 255
	log "relay killed: $(cat "$T/err")"
	contains "relay killed: one porthole line" "$(cat "$T/err")" "porthole: dump"
	contains "relay killed: ... saying the session could not be resumed" "$(cat "$T/err")" \
		"could not be resumed within 5s"
	after_fault "relay killed" "$BIG" "$W"
fi
wait "$cli" 2>/dev/null

finish
