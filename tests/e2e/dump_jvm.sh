#!/usr/bin/env bash
# dump --kind jvm end to end: a real HotSpot JVM (Debian's openjdk), the
# real relay, agent and CLI on loopback.  The agent runs with a PATH that
# has nothing in it (no jcmd, no JDK tools, no shell tools) and so does the
# JVM.  Checks: the .hprof starts "JAVA PROFILE 1.0.2" and holds the test
# program's class; the summary's sha256 is the file's; auto picks jvm; the
# dump file and the attach trigger are gone from the task afterwards; a
# JVM with /tmp on a tmpfs gets its dump on /var/tmp (a disk) instead; and
# the faults, each 255 with a message naming the cause and nothing left
# behind: -XX:+DisableAttachMechanism (seen on the command line, and hidden
# in an @argfile: the bounded wait for the socket), a stopped JVM, no room
# for the dump, the worker stopped (SIGTERM) while the dump is in flight.
# Skips (77) only when java or javac is missing.
. "$(dirname "$0")/lib.sh"

JAVA=$(command -v java) || { echo "# skip: no java"; exit 77; }
JAVAC=$(command -v javac) || { echo "# skip: no javac"; exit 77; }
JAVA=$(readlink -f "$JAVA")
JAVAC=$(readlink -f "$JAVAC")
SRC=$(cd "$(dirname "$0")/../tools" && pwd)/PortholeHeapTarget.java

mkdir -p "$T/cls" "$T/nobin" "$T/out" "$T/cwd"
if ! "$JAVAC" -d "$T/cls" "$SRC" >"$T/javac.err" 2>&1; then
	cat "$T/javac.err" >&2
	fail "javac PortholeHeapTarget.java"
	finish
fi
NOPATH=$T/nobin		# an empty directory: PATH finds nothing at all

start_relay
# The agent by hand: start_agent's helpers need grep on PATH.
PORTHOLE_TOKEN=@$STATE/agent.token PORTHOLE_NAME=e2e-jvm PATH=$NOPATH \
	"$AGENT_BIN" >"$T/agent.out" 2>"$T/agent.err" &
PIDS+=("$!")
if ! wait_for 20 agent_listed e2e-jvm; then
	cat "$T/agent.err" >&2
	fail "agent did not register"
	finish
fi
AGENT=$!
check "the agent's PATH is an empty directory (no jcmd)" \
	sh -c "tr '\\0' '\\n' </proc/$AGENT/environ | grep -qx 'PATH=$NOPATH' && [ -z \"\$(ls -A '$NOPATH')\" ]"

# start_jvm NAME [JAVA OPTIONS...] -- [ARGS...]: a target JVM, cwd $T/cwd;
# sets JP.  Extra words before -- go to java, after it to the program.
start_jvm() {
	local name=$1 opts=() args=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	args=("$@")
	# shellcheck disable=SC2086
	# A clean environment (no TMPDIR: the dump goes to /tmp unless said).
	(cd "$T/cwd" && exec ${JVM_WRAP:-} env -i PATH="$NOPATH" "$JAVA" "${opts[@]}" \
		-cp "${JVM_CP:-$T/cls}" PortholeHeapTarget "${args[@]}") >"$T/$name.out" 2>&1 &
	JP=$!
	PIDS+=("$JP")
	if ! wait_for 60 grep -q '^ready' "$T/$name.out"; then
		cat "$T/$name.out" >&2
		fail "$name: the JVM did not start"
		return 1
	fi
	# With a wrapper (unshare), the JVM is a child of it.
	JP=$(sed -n 's/^ready //p' "$T/$name.out")
	# ready prints the pid as the JVM sees it; in our namespace it is the same.
	return 0
}

# leftovers PID: the names of dump files and triggers left in the task.
leftovers() {
	local r=/proc/$1/root
	ls -a "$r/tmp" "$r/var/tmp" "$T/cwd" 2>/dev/null | grep -E '^(porthole-heap-|\.attach_pid)' || true
}
nothing_left() { [ -z "$(leftovers "$1")" ]; }
# alive PID: running (a zombie child of ours is not).
alive() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
dead() { ! alive "$1"; }

# 1. The heap of the test program, through relay and CLI.
start_jvm main -- 2000 || finish
MAIN=$JP
out=$(cd "$T/out" && ph dump e2e-jvm "$MAIN" --kind jvm -o heap.hprof 2>&1)
rc=$?
eq "jvm dump exits 0" "$rc" 0
[ $rc -eq 0 ] || echo "# $out"
eq "the .hprof header" "$(head -c 18 "$T/out/heap.hprof" 2>/dev/null)" "JAVA PROFILE 1.0.2"
check "the .hprof holds the test program's class" \
	grep -q 'PortholeHeapTarget$PortholeLeakMarker' "$T/out/heap.hprof"
sum=$(sha256sum "$T/out/heap.hprof" 2>/dev/null | cut -d' ' -f1)
contains "the summary's sha256 is the file's" "$out" "sha256 $sum"
contains "the summary names the mode" "$out" "mode attach"
contains "the summary says where the JVM wrote it" "$out" "/tmp in the task"
check "no dump file or trigger left in the task" nothing_left "$MAIN"
check "the JVM still runs" alive "$MAIN"

# 2. auto picks jvm for Debian's java.
out=$(cd "$T/out" && ph dump e2e-jvm "$MAIN" -o auto.hprof 2>&1)
eq "auto: exits 0" "$?" 0
contains "auto: picks jvm" "$out" "kind jvm"
eq "auto: the .hprof header" "$(head -c 18 "$T/out/auto.hprof" 2>/dev/null)" "JAVA PROFILE 1.0.2"

# 2b. A JVM of another user (nobody): trigger owned by it, attach as it.
if command -v setpriv >/dev/null; then
	chmod 755 "$T"
	JVM_WRAP="setpriv --reuid=65534 --regid=65534 --clear-groups"
	start_jvm nobody -- 50 || finish
	JVM_WRAP=
	out=$(cd "$T/out" && ph dump e2e-jvm "$JP" --kind jvm -o nobody.hprof 2>&1)
	eq "another user's JVM: exits 0" "$?" 0
	eq "another user's JVM: the .hprof header" \
		"$(head -c 18 "$T/out/nobody.hprof" 2>/dev/null)" "JAVA PROFILE 1.0.2"
	check "another user's JVM: nothing left in the task" nothing_left "$JP"
	kill "$JP" 2>/dev/null
fi

# 3. A stopped JVM cannot answer: a clear error, then it runs on.
kill -STOP "$MAIN"
out=$(cd "$T/out" && ph dump e2e-jvm "$MAIN" --kind jvm -o stopped.hprof 2>&1)
eq "stopped JVM: exit 255" "$?" 255
contains "stopped JVM: says so" "$out" "stopped"
kill -CONT "$MAIN"
check "stopped JVM: no file written" test ! -e "$T/out/stopped.hprof"
check "stopped JVM: nothing left in the task" nothing_left "$MAIN"

# 4. The worker stopped (SIGTERM) while the dump is in flight: its stdout
# is a pipe nobody reads, 48 MiB of random heap do not fit in it, and the
# JVM writes its file meanwhile; SIGTERM; the file must go.
start_jvm big -- 10 48 || finish
BIG=$JP
mkfifo "$T/fifo"
"$AGENT_BIN" --op-dump --kind jvm --pid "$BIG" >"$T/fifo" 2>"$T/term.err" &
WK=$!
PIDS+=("$WK")
exec 7<"$T/fifo"	# opened, never read
heap_file() { ls "/proc/$BIG/root/tmp" 2>/dev/null | grep -q '^porthole-heap-'; }
check "SIGTERM: the JVM writes its dump file" wait_for 60 heap_file
check "SIGTERM: the worker is still running (blocked on output)" alive "$WK"
kill -TERM "$WK"
check "SIGTERM: the worker ends" wait_for 30 dead "$WK"
exec 7<&-
check "SIGTERM: the dump file is removed from the task" wait_for 30 nothing_left "$BIG"
check "SIGTERM: the JVM still runs" alive "$BIG"
kill "$BIG" 2>/dev/null

# 5. Attach disabled on the command line: refused before any signal.
start_jvm disabled -XX:+DisableAttachMechanism -- 10 || finish
out=$(cd "$T/out" && ph dump e2e-jvm "$JP" --kind jvm -o disabled.hprof 2>&1)
eq "DisableAttachMechanism: exit 255" "$?" 255
contains "DisableAttachMechanism: names the option" "$out" "DisableAttachMechanism"
check "DisableAttachMechanism: no file written" test ! -e "$T/out/disabled.hprof"
check "DisableAttachMechanism: nothing left in the task" nothing_left "$JP"
kill "$JP" 2>/dev/null

# 6. Attach disabled out of sight (@argfile): the bounded wait, the trigger
# file removed, the JVM unharmed by the SIGQUIT.
printf -- '-XX:+DisableAttachMechanism\n' >"$T/cwd/opts"
start_jvm hidden @opts -- 11 || finish
out=$(cd "$T/out" && ph dump e2e-jvm "$JP" --kind jvm -o hidden.hprof 2>&1)
eq "hidden DisableAttachMechanism: exit 255" "$?" 255
contains "hidden DisableAttachMechanism: the bounded wait says why" "$out" \
	"did not open its attach socket"
check "hidden DisableAttachMechanism: trigger and file gone" nothing_left "$JP"
check "hidden DisableAttachMechanism: the JVM survives SIGQUIT" alive "$JP"
kill "$JP" 2>/dev/null

# 7. The task's /tmp is a tmpfs, /var/tmp a disk: the disk is chosen; then
# both small: no room, said before anything is signalled.  Needs a mount
# namespace of its own (root with CAP_SYS_ADMIN); skipped without one.
if unshare -m --propagation private true 2>/dev/null; then
	cat >"$T/ns.sh" <<-EOF
	#!/bin/sh
	# \$T is under /tmp, which the tmpfs hides: reach it on /mnt instead.
	mount --bind "$T" /mnt || exit 1
	cd /mnt/cwd || exit 1
	mount -t tmpfs -o size=\$1 tmpfs /tmp || exit 1
	[ "\$2" = small ] && { mount -t tmpfs -o size=1m tmpfs /var/tmp || exit 1; }
	shift 2
	exec "\$@"
	EOF
	chmod +x "$T/ns.sh"
	JVM_CP=/mnt/cls
	JVM_WRAP="unshare -m --propagation private $T/ns.sh 512m disk"
	start_jvm tmpfs -- 100 || finish
	out=$(cd "$T/out" && ph dump e2e-jvm "$JP" --kind jvm -o tmpfs.hprof 2>&1)
	eq "tmpfs /tmp: exit 0" "$?" 0
	contains "tmpfs /tmp: the dump goes to /var/tmp, a disk" "$out" "/var/tmp in the task (disk"
	eq "tmpfs /tmp: the .hprof header" "$(head -c 18 "$T/out/tmpfs.hprof" 2>/dev/null)" \
		"JAVA PROFILE 1.0.2"
	check "tmpfs /tmp: nothing left in the task" nothing_left "$JP"
	kill "$JP" 2>/dev/null

	JVM_WRAP="unshare -m --propagation private $T/ns.sh 1m small"
	start_jvm small -- 10 || finish
	out=$(cd "$T/out" && ph dump e2e-jvm "$JP" --kind jvm -o small.hprof 2>&1)
	eq "no room: exit 255" "$?" 255
	contains "no room: says so" "$out" "no room in the task"
	contains "no room: names the tmpfs" "$out" "(tmpfs)"
	check "no room: no file written" test ! -e "$T/out/small.hprof"
	check "no room: nothing left in the task" nothing_left "$JP"
	out=$(cd "$T/out" && ph dump e2e-jvm "$JP" --kind jvm --tmpdir /tmp -o small2.hprof 2>&1)
	eq "no room with --tmpdir: exit 255" "$?" 255
	contains "no room with --tmpdir: names it" "$out" "/tmp "
	kill "$JP" 2>/dev/null
	JVM_WRAP=
	JVM_CP=
else
	log "no mount namespace here: the tmpfs and no-room cases are skipped"
fi

finish
