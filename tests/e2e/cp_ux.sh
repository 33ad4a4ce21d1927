#!/usr/bin/env bash
# cp as an operator uses it (issue 16 item 8): a relative remote path
# starts where `porthole shell` starts (the agent's working directory, or
# the --pid process's, inside its root), both ways; an agent that does not
# list the feature (an older one would take the path from /) is refused by
# the CLI; `-` streams one file to stdout and stdin to a remote file
# (binary, several MiB, sha256-equal), a directory with `-` is a clear
# error, and a reader leaving early ends the CLI quietly; the progress
# line (percent and ETA for one file, bytes and rate for a stream) shows
# on a terminal only, and the one-line summary always, unless -q.
. "$(dirname "$0")/lib.sh"
# The hostile agents and relays here answer in the clear, as agents before
# protocol 4 do: the CLI takes them only when told to (seal_hostile.sh
# tests the refusal).
export PORTHOLE_ALLOW_UNSEALED=1
umask 022
EVIL_BIN=$BUILD/tests/tools/ph-evilagent

start_relay
mkdir -p "$T/home/etc" "$T/home/logs" "$T/l" "$T/remote"
echo "from the agent's directory" >"$T/home/etc/x"
pushd "$T/home" >/dev/null || exit 1
start_agent e2e-cpux
popd >/dev/null || exit 1
check "the agent lists the cp.cwd feature" sh -c "'$CLI_BIN' ls --json | grep -q '\"cp.cwd\"'"

# Relative paths from the agent's working directory, both ways.
ph cp e2e-cpux:etc/x "$T/l/x" 2>"$T/err"; eq "get etc/x: exit 0" $? 0
eq "get etc/x: from the agent's directory" "$(cat "$T/l/x" 2>/dev/null)" "from the agent's directory"
echo up >"$T/up.txt"
ph cp "$T/up.txt" e2e-cpux:logs/ 2>"$T/err"; eq "put to logs/: exit 0" $? 0
check "put to logs/: landed in the agent's directory" cmp "$T/up.txt" "$T/home/logs/up.txt"
check "put to logs/: nothing in /logs" test ! -e /logs/up.txt

# --pid: that process's cwd, inside its root (a chrooted python in /in).
R="$T/croot"
mkdir -p "$R/etc" "$R/in"
echo inside >"$R/etc/passwd"; echo "in its cwd" >"$R/in/data"
ln -s /etc/passwd "$R/in/abs"
python3 -c 'import os, sys, time; os.chroot(sys.argv[1]); os.chdir("/in"); time.sleep(600)' "$R" &
CHROOTED=$!
PIDS+=("$CHROOTED")
check "the chrooted process is up" wait_for 10 sh -c "[ \"\$(readlink /proc/$CHROOTED/root)\" = \"$R\" ]"
ph cp --pid "$CHROOTED" e2e-cpux:data "$T/l/data" 2>"$T/err"; eq "--pid get data: exit 0" $? 0
eq "--pid get data: from its cwd" "$(cat "$T/l/data" 2>/dev/null)" "in its cwd"
ph cp --pid "$CHROOTED" e2e-cpux:abs "$T/l/abs" 2>"$T/err"; eq "--pid get abs: exit 0" $? 0
eq "--pid get abs: an absolute symlink stays in the root" "$(cat "$T/l/abs" 2>/dev/null)" inside
ph cp --pid "$CHROOTED" "$T/up.txt" e2e-cpux:. 2>"$T/err"; eq "--pid put to .: exit 0" $? 0
check "--pid put to .: landed in its cwd" cmp "$T/up.txt" "$R/in/up.txt"

# `-` to stdout: a 6 MiB binary file, sha256-equal; a directory refused.
head -c 6M /dev/urandom >"$T/bin"
eq "get to -: sha256" "$(ph cp e2e-cpux:"$T/bin" - 2>"$T/err" | sha256sum)" "$(sha256sum <"$T/bin")"
contains "get to -: the summary on stderr" "$(cat "$T/err")" "cp: copied e2e-cpux:$T/bin to stdout"
check "get to -: no file named -" test ! -e ./-
ph cp e2e-cpux:"$T/home" - >/dev/null 2>"$T/err"; eq "a directory to -: 255" $? 255
contains "a directory to -: says why" "$(cat "$T/err")" "is a directory"
quiet_pipe_end "cp ... - with its reader gone" "$CLI_BIN" cp e2e-cpux:"$T/bin" -
out=$("$CLI_BIN" cp e2e-cpux:"$T/bin" - 2>"$T/err" | head -c 10 | wc -c)
eq "cp ... - | head -c 10: 10 bytes" "$out" 10
eq "cp ... - | head -c 10: nothing on stderr" "$(cat "$T/err")" ""

# `-` from stdin: 5 MiB of binary through a pipe, mode 0644 minus the umask.
head -c 5M /dev/urandom >"$T/in5"
cat "$T/in5" | ph cp - e2e-cpux:"$T/remote/from-stdin" 2>"$T/err"; eq "put from -: exit 0" $? 0
eq "put from -: sha256" "$(sha256sum <"$T/remote/from-stdin")" "$(sha256sum <"$T/in5")"
eq "put from -: mode 0644" "$(stat -c %a "$T/remote/from-stdin")" 644
contains "put from -: the summary" "$(cat "$T/err")" "cp: copied stdin to e2e-cpux:$T/remote/from-stdin"
ph cp - e2e-cpux:"$T/remote/empty" </dev/null 2>"$T/err"; eq "put an empty stdin: exit 0" $? 0
check "put an empty stdin: an empty file" sh -c "[ -f '$T/remote/empty' ] && [ ! -s '$T/remote/empty' ]"
echo x | ph cp - e2e-cpux:"$T/remote" 2>"$T/err"; eq "put from - into a directory: 255" $? 255
contains "put from - into a directory: says why" "$(cat "$T/err")" "is a directory"
check "no partial files" sh -c "[ -z \"\$(find '$T/remote' -name '*.porthole-partial-*')\" ]"
ph cp -q - e2e-cpux:"$T/remote/q" <"$T/up.txt" 2>"$T/err"; eq "-q: exit 0" $? 0
eq "-q: says nothing" "$(cat "$T/err")" ""

# Progress on a terminal: percent and ETA for one file (its reader holds
# the copy back a second), bytes and rate for a stream (stdin pauses).
script -qfec "sh -c '\"$CLI_BIN\" cp e2e-cpux:$T/bin - | (sleep 1; cat >/dev/null)'" /dev/null \
	</dev/null >"$T/pty1" 2>&1
contains "pty: progress with percent" "$(cat "$T/pty1")" "%  ETA "
contains "pty: then the summary" "$(cat "$T/pty1")" "cp: copied"
script -qfec "sh -c '(head -c 1M /dev/zero; sleep 1; head -c 1M /dev/zero) | \"$CLI_BIN\" cp - e2e-cpux:$T/remote/slow'" \
	/dev/null </dev/null >"$T/pty2" 2>&1
contains "pty: a stream's progress has a rate" "$(cat "$T/pty2")" "/s"
contains "pty: a stream's summary" "$(cat "$T/pty2")" "2097152 bytes"
ph cp e2e-cpux:"$T/bin" "$T/l/bin" 2>"$T/err"
check "no terminal: no progress line" sh -c "! grep -q ETA '$T/err'"
contains "no terminal: the summary all the same" "$(cat "$T/err")" "sha256 $(sha256sum <"$T/bin" | cut -d' ' -f1)"

# An agent that does not list the features (as an older one): refused by the CLI.
: >"$T/evil.script"
"$EVIL_BIN" --url "wss://127.0.0.1:$PORT" --ca "$PORTHOLE_CA" --token "@$STATE/agent.token" \
	--id old-1 --name old --script "$T/evil.script" >"$T/evil.out" 2>"$T/evil.err" &
PIDS+=("$!")
check "the old agent registered" wait_for 20 agent_listed old
ph cp old:etc/x "$T/l/old" 2>"$T/err"; eq "relative path to an old agent: 255" $? 255
contains "relative path to an old agent: says why" "$(cat "$T/err")" "does not resolve relative paths"
echo x | ph cp - old:/tmp/x 2>"$T/err"; eq "stdin to an old agent: 255" $? 255
contains "stdin to an old agent: says why" "$(cat "$T/err")" "cannot take a stream from stdin"

finish
