#!/usr/bin/env bash
# The core-dump engine on its own: `porthole-agent --op-dump --kind core`
# run directly on ph-dumptarget (no relay: dump.sh covers the whole path).
# gdb opens the core (threads, frames, marker, a counter from the snapshot
# instant); 20 dumps leave no trace on the app (signals, EINTR, strays,
# descriptors, real-time signals lost); seccomp and pids.max fall back to
# freeze and say why; SIGTERM, EPIPE and the target's death mid-dump leave
# the app running and no snapshot alive; bad pids get their error codes.
. "$(dirname "$0")/lib.sh"

TARGET_BIN=$BUILD/tests/tools/ph-dumptarget
command -v gdb >/dev/null || { log "gdb missing: skipped"; finish; }
command -v zstd >/dev/null || { log "zstd missing: skipped"; finish; }

# target NAME ARGS...: start ph-dumptarget with status file $T/NAME.st; sets TP.
target() {
	local name=$1; shift
	"$TARGET_BIN" --status "$T/$name.st" "$@" 2>"$T/$name.err" &
	TP=$!
	PIDS+=("$TP")
	if ! wait_for 30 test -s "$T/$name.st"; then
		fail "target $name did not start: $(cat "$T/$name.err")"
		finish
	fi
}
# st NAME KEY: a value from the target's last status.
st() { sed -n "s/^$2=//p" "$T/$1.st"; }
# refresh NAME PID: have the target write its status anew.
refresh() {
	rm -f "$T/$1.st"
	kill -USR2 "$2"
	wait_for 10 test -s "$T/$1.st"
}
# ev FILE EVENT KEY: a field of the (last) event line of that kind.
ev() { grep "\"event\":\"$2\"" "$1" | tail -1 | sed -n "s/.*\"$3\":\"\{0,1\}\([^\",}]*\).*/\1/p"; }
# not_stopped PID: no task of PID in a stopped or traced state.
not_stopped() { ! grep -q '^State:[[:space:]]*[tT]' /proc/"$1"/task/*/status; }
# snapshot_of PID: the target's children (only ever the snapshot).
snapshot_of() { cat /proc/"$1"/task/*/children 2>/dev/null | tr -s ' ' '\n' | grep .; }
# The worker's command (an array: a function would run as a subshell in the
# background, and $! would not be the worker).
W=("$AGENT_BIN" --op-dump --kind core)
worker() { "${W[@]}" "$@"; }
# A reader that reads nothing for a while: the worker blocks on its stdout
# with the snapshot alive.  slow N (for > >(...)).
slow() { exec >/dev/null 2>&1; sleep "$1"; cat; }

# --- one dump, opened by gdb ------------------------------------------------
target main --heap 64 --threads 3 --holes
MP=$TP
worker --pid "$MP" 2>"$T/d1.ev" >"$T/core1.zst"
eq "worker exits 0" "$?" 0
zstd -dq "$T/core1.zst" -o "$T/core1"
eq "mode snapshot" "$(ev "$T/d1.ev" start mode)" snapshot
eq "no fallback reason" "$(ev "$T/d1.ev" start reason)" null
size=$(stat -c %s "$T/core1")
eq "done.bytes is the file's size" "$(ev "$T/d1.ev" done bytes)" "$size"
eq "estimate is exact" "$(ev "$T/d1.ev" start estimate)" "$size"
# The content's integrity rides in the zstd frame (the CLI checks it and
# computes the sha256 it prints): the frame must carry its checksum, and
# a stream altered in flight must not decompress.
contains "the zstd frame carries a content checksum" "$(zstd -lv "$T/core1.zst" 2>&1)" "XXH64"
python3 - "$T/core1.zst" "$T/core1.bad.zst" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2] ^= 0x01
open(sys.argv[2], "wb").write(b)
PY
check "a stream altered in flight does not decompress" \
	eval '! zstd -dq "$T/core1.bad.zst" -o "$T/core1.bad" 2>/dev/null'
rm -f "$T/core1.zst" "$T/core1.bad.zst" "$T/core1.bad"
refresh main "$MP"
live=$(st main counter)
nthreads=$(ls /proc/"$MP"/task | wc -l)
gdb -batch -nx -ex 'info threads' -ex 'thread apply all bt' -ex 'print marker' \
	-ex 'print counter' -ex 'print *tail' "$TARGET_BIN" "$T/core1" >"$T/gdb1.out" 2>&1
out=$(cat "$T/gdb1.out")
eq "gdb sees every thread" "$(grep -c '^Thread [0-9]* (' "$T/gdb1.out")" "$nthreads"
for fn in main level_one level_two park writer_thread waiter_thread park_thread signal_thread; do
	contains "gdb shows $fn" "$out" " $fn ("
done
contains "main's chain in order" "$(grep -A6 '^Thread 1 ' "$T/gdb1.out" | tr '\n' ' ')" "park (how=0)"
contains "marker" "$out" '"porthole-dump-marker-7f3a"'
c=$(sed -n 's/^\$2 = \([0-9]*\)$/\1/p' "$T/gdb1.out")
d=$(sed -n 's/^\$3 = \([0-9]*\)$/\1/p' "$T/gdb1.out")
check "counter read from the core ($c)" test -n "$c"
# counter sits in .data, its copy at the end of 64 MiB of heap, read last:
# equal (or one apart: the writer stopped between the two stores) only in
# an image of one instant.
check "counter ($c) and its far copy ($d) agree: one instant" \
	test -n "$d" -a \( "$c" = "$d" -o "$c" = "$((d + 1))" \)
check "the app moved on ($c < $live)" test "$c" -lt "$live"
# Pages of private anonymous memory never touched are written as zeros
# without being read (pagemap); the touched ones among them, in runs that
# cross the worker's chunks, must still be there byte for byte.
gdb -batch -nx -ex "dump binary memory $T/holes.bin holes holes+holes_len" \
	"$TARGET_BIN" "$T/core1" >"$T/gdb-holes.out" 2>&1
python3 - "$T/holes.bin" >"$T/holes.res" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
bad = [k for k in range(1024) if b[k * 4096:(k + 1) * 4096] !=
       bytes([(k * 7 % 255 + 1) if k % 5 == 0 or 200 <= k < 600 else 0]) * 4096]
print(len(b), "bad pages:", bad[:5])
PY
eq "untouched pages are zeros, touched ones intact" "$(cat "$T/holes.res")" \
	"4194304 bad pages: []"
check "app runs after the dump" not_stopped "$MP"
eq "no snapshot left" "$(snapshot_of "$MP")" ""

# --- 20 dumps: no trace, every real-time signal delivered, a pipe's EOF -------
sent=0 sent3=0
for i in $(seq 20); do
	"${W[@]}" --pid "$MP" 2>"$T/loop.ev" >/dev/null &
	w=$!
	n=0
	while kill -0 "$w" 2>/dev/null && [ $n -lt 300 ]; do
		kill -s RTMIN+1 "$MP" && sent=$((sent + 1))
		# Caught by a handler on the busy writer: some land while it
		# is being stopped and must be handed back by the detach.
		kill -s RTMIN+3 "$MP" && sent3=$((sent3 + 1))
		n=$((n + 1))
	done
	kill -s RTMIN+2 "$MP" && sent=$((sent + 1))
	wait "$w"
	r=$?
	[ $r -eq 0 ] || fail "dump $i exited $r: $(cat "$T/loop.ev")"
done
log "$sent + $sent3 real-time signals sent during 20 dumps"
# A pipe the app closes while a snapshot is alive: EOF at its reader at once.
"${W[@]}" --pid "$MP" 2>"$T/slow.ev" > >(slow 15) &
w=$!
wait_for 30 grep -q '"start"' "$T/slow.ev"
check "snapshot alive while the worker is blocked" test -n "$(snapshot_of "$MP")"
kill -USR1 "$MP"
check "pipe's reader sees EOF while the snapshot lives" wait_for 5 grep -q '^eof=1' "$T/main.st"
check "... and the snapshot was still alive then" test -n "$(snapshot_of "$MP")"
wait "$w"; eq "slow dump exits 0" $? 0
check "every real-time signal arrived" wait_for 20 sh -c \
	"kill -USR2 $MP; sleep 0.2; grep -qx 'rt=$sent' '$T/main.st'"
check "every real-time signal to a handler arrived" wait_for 20 sh -c \
	"kill -USR2 $MP; sleep 0.2; grep -qx 'rt_handled=$sent3' '$T/main.st'"
refresh main "$MP"
for k in sigchld eintr badret strays; do
	eq "after 21 dumps: $k" "$(st main "$k")" 0
done
log "sigwaitinfo EINTRs (any stop, a debugger's too): $(st main sigwait_eintr)"
eq "no snapshot left after 21 dumps" "$(snapshot_of "$MP")" ""
check "no zombie" sh -c "! grep -l '^State:[[:space:]]*Z' /proc/[0-9]*/status 2>/dev/null | xargs -r grep -l '^PPid:[[:space:]]*$MP\$' | grep -q ."

# --- SIGTERM, EPIPE mid-dump ------------------------------------------------
for mode in snapshot freeze; do
	extra=; [ $mode = freeze ] && extra=--freeze
	"${W[@]}" --pid "$MP" $extra 2>"$T/term.ev" > >(slow 30) &
	w=$!
	wait_for 30 grep -q '"start"' "$T/term.ev"
	snap=$(snapshot_of "$MP")
	kill -TERM "$w"
	wait "$w"; eq "$mode: SIGTERM: worker exits 1" $? 1
	eq "$mode: SIGTERM: error cancelled" "$(ev "$T/term.ev" error code)" cancelled
	check "$mode: SIGTERM: app running" wait_for 5 not_stopped "$MP"
	eq "$mode: SIGTERM: no snapshot left" "$(snapshot_of "$MP")" ""
	# Snapshot mode forks one (alive at "start": the worker is blocked on
	# its stdout); freeze mode stops the app and forks none.
	if [ $mode = snapshot ]; then
		check "$mode: SIGTERM: a snapshot ($snap) was alive mid-dump" test -n "$snap"
		check "$mode: SIGTERM: snapshot $snap gone" test ! -e "/proc/${snap:-0}"
	else
		eq "$mode: SIGTERM: no snapshot mid-dump" "$snap" ""
	fi
done
worker --pid "$MP" 2>"$T/pipe.ev" | head -c 1000 >/dev/null
eq "EPIPE: worker exits 1" "${PIPESTATUS[0]}" 1
check "EPIPE: app running" wait_for 5 not_stopped "$MP"
eq "EPIPE: no snapshot left" "$(snapshot_of "$MP")" ""
refresh main "$MP"
for k in sigchld eintr badret strays; do
	eq "after cancelled dumps: $k" "$(st main "$k")" 0
done

# --- fallbacks: seccomp, pids.max -------------------------------------------
target secc --seccomp
worker --pid "$TP" 2>"$T/secc.ev" | zstd -dq >"$T/core.secc"
eq "seccomp: worker exits 0" "${PIPESTATUS[0]}" 0
eq "seccomp: mode freeze" "$(ev "$T/secc.ev" start mode)" freeze
contains "seccomp: reason" "$(ev "$T/secc.ev" start reason)" seccomp
check "seccomp: pause given in done" test -n "$(ev "$T/secc.ev" done pause_us | grep '^[0-9]')"
contains "seccomp: gdb reads the core" "$(gdb -batch -nx -ex 'print marker' "$TARGET_BIN" "$T/core.secc" 2>&1)" porthole-dump-marker
check "seccomp: app running" wait_for 5 not_stopped "$TP"
refresh secc "$TP"
for k in sigchld eintr badret strays; do eq "seccomp: $k" "$(st secc "$k")" 0; done

cg=/sys/fs/cgroup/pids/porthole-dumpworker-$$
if [ -w /sys/fs/cgroup/pids ] && [ "$(stat -fc %T /sys/fs/cgroup/pids 2>/dev/null)" = cgroupfs ]; then
	target pids --pids-cgroup "$cg"
	PP=$TP
	worker --pid "$PP" 2>"$T/pids.ev" | zstd -dq >"$T/core.pids"
	eq "pids.max: worker exits 0" "${PIPESTATUS[0]}" 0
	eq "pids.max: mode freeze" "$(ev "$T/pids.ev" start mode)" freeze
	contains "pids.max: reason" "$(ev "$T/pids.ev" start reason)" pids.max
	contains "pids.max: gdb reads the core" "$(gdb -batch -nx -ex 'print marker' "$TARGET_BIN" "$T/core.pids" 2>&1)" porthole-dump-marker
	check "pids.max: app running" wait_for 5 not_stopped "$PP"
	refresh pids "$PP"
	for k in sigchld eintr badret strays; do eq "pids.max: $k" "$(st pids "$k")" 0; done
	kill -KILL "$PP"; wait "$PP" 2>/dev/null
	rmdir "$cg" 2>/dev/null
else
	log "no writable cgroup v1 pids hierarchy: pids.max fallback not tested"
fi

# --- a stopped app (SIGSTOP) stays stopped; a dead leader ------------------------
kill -STOP "$MP"
wait_for 10 sh -c "! grep -q '^State:[[:space:]]*[RS]' /proc/$MP/task/*/status"
worker --pid "$MP" 2>"$T/stopped.ev" >/dev/null
eq "stopped app: worker exits 0" $? 0
eq "stopped app: mode freeze" "$(ev "$T/stopped.ev" start mode)" freeze
contains "stopped app: reason" "$(ev "$T/stopped.ev" start reason)" SIGSTOP
check "stopped app: still stopped" sh -c "! grep -q '^State:[[:space:]]*[RS]' /proc/$MP/task/*/status"
kill -CONT "$MP"
check "stopped app: runs on SIGCONT" wait_for 5 not_stopped "$MP"
target zmain --zombie-main
worker --pid "$TP" 2>"$T/zmain.ev" | zstd -dq >"$T/core.zmain"
eq "dead leader: worker exits 0" "${PIPESTATUS[0]}" 0
eq "dead leader: mode snapshot" "$(ev "$T/zmain.ev" start mode)" snapshot
contains "dead leader: gdb reads the core" "$(gdb -batch -nx -ex 'print marker' "$TARGET_BIN" "$T/core.zmain" 2>&1)" porthole-dump-marker
eq "dead leader: no snapshot left" "$(snapshot_of "$TP")" ""

# --- the target exits mid-dump ------------------------------------------------
target dies --heap 32
DP=$TP
"${W[@]}" --pid "$DP" 2>"$T/dies.ev" > >(slow 10) &
w=$!
wait_for 30 grep -q '"start"' "$T/dies.ev"
snap=$(snapshot_of "$DP")
kill -KILL "$DP"; wait "$DP" 2>/dev/null
wait "$w"; eq "target exits: worker exits 1" $? 1
eq "target exits: error target_exited" "$(ev "$T/dies.ev" error code)" target_exited
check "target exits: a snapshot ($snap) was alive mid-dump" test -n "$snap"
check "target exits: snapshot $snap not alive" \
	sh -c "! grep -q '^State:[[:space:]]*[^Z[:space:]]' /proc/${snap:-0}/status 2>/dev/null"

# --- bad pids -------------------------------------------------------------------
worker --pid 999999999 2>"$T/nopid.ev" >/dev/null; eq "no such pid exits 1" $? 1
eq "no such pid: code" "$(ev "$T/nopid.ev" error code)" no_such_process
kt=
for f in /proc/[0-9]*/stat; do
	s=$(cat "$f" 2>/dev/null) || continue
	set -- ${s##*) }	# from field 3 (state) on: flags is field 9
	if [ $(($7 & 0x200000)) -ne 0 ]; then kt=${f//[^0-9]/}; break; fi
done
if [ -n "$kt" ]; then
	worker --pid "$kt" 2>"$T/kt.ev" >/dev/null; eq "kernel thread exits 1" $? 1
	eq "kernel thread: code" "$(ev "$T/kt.ev" error code)" kernel_thread
fi
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	setpriv --reuid=65534 --regid=65534 --clear-groups "$AGENT_BIN" --op-dump \
		--kind core --pid "$MP" 2>"$T/perm.ev" >/dev/null
	eq "not permitted exits 1" $? 1
	eq "not permitted: code" "$(ev "$T/perm.ev" error code)" not_permitted
	contains "not permitted: says what to do" "$(cat "$T/perm.ev")" SYS_PTRACE
fi
check "the app still runs after everything" not_stopped "$MP"
finish
