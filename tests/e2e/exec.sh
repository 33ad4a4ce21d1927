#!/usr/bin/env bash
# exec end to end: exit codes, stdout and stderr kept apart, stdin streamed
# byte-exact, program not found / not executable, PORTHOLE_* scrubbed.
. "$(dirname "$0")/lib.sh"
# Lost clients and agents end their sessions here within 2 s, not after the
# resume timeout (5 min) that lets a session outlive a dropped connection
# (tests/e2e/resume.sh).
export PORTHOLE_RESUME_TIMEOUT=2s

start_relay
start_agent e2e-exec

ph exec e2e-exec -- true </dev/null; eq "exit 0" $? 0
ph exec e2e-exec -- sh -c 'exit 7' </dev/null; eq "exit 7" $? 7
ph exec e2e-exec -- sh -c 'kill -9 $$' </dev/null; eq "killed by SIGKILL is 137" $? 137
ph exec e2e-exec -- sh -c 'kill -TERM $$' </dev/null; eq "killed by SIGTERM is 143" $? 143

ph exec e2e-exec -- /nonexistent/prog arg </dev/null 2>"$T/nf.err"; eq "not found is 127" $? 127
contains "not found says so" "$(cat "$T/nf.err")" "not found"
printf '#!/bin/sh\necho hi\n' >"$T/noexec"; chmod 644 "$T/noexec"
ph exec e2e-exec -- "$T/noexec" </dev/null 2>/dev/null; eq "not executable is 126" $? 126

out=$(ph exec e2e-exec -- sh -c 'echo out; echo err >&2; echo out2' 2>"$T/err" </dev/null)
eq "stdout alone" "$out" "$(printf 'out\nout2')"
eq "stderr alone" "$(cat "$T/err")" "err"

# Binary-exact: 64 MiB of random bytes through stdin -> cat -> stdout.
head -c 64M /dev/urandom >"$T/rand"
ph exec e2e-exec -- cat <"$T/rand" >"$T/rand.out"; eq "cat exit 0" $? 0
eq "64 MiB through stdin and stdout, sha256" "$(sha256sum <"$T/rand.out")" "$(sha256sum <"$T/rand")"

# A program that reads its stdin late: meanwhile the agent's input queue
# fills, it stops opening records and keeps them (resume), the client's
# buffer fills and it stops reading its stdin.  When the program reads, the
# kept records go on to it and everything arrives (an agent that lost the
# wake-up for its refilled queue left the program waiting forever; the
# bound is five times what the run needs on the sanitizer build).
head -c 24M "$T/rand" >"$T/late"
timeout 60 "$CLI_BIN" exec e2e-exec -- sh -c 'sleep 2; exec cat' <"$T/late" >"$T/late.out"
eq "a late reader: exit 0" $? 0
eq "a late reader: 24 MiB through, sha256" "$(sha256sum <"$T/late.out")" "$(sha256sum <"$T/late")"

# Bytes that are not UTF-8, NULs included, on stderr too.
printf '\x00\xff\xfe\n\x80' >"$T/bin"
ph exec e2e-exec -- sh -c 'cat >&2' <"$T/bin" 2>"$T/bin.err" >"$T/bin.out"
eq "binary on stderr" "$(sha256sum <"$T/bin.err")" "$(sha256sum <"$T/bin")"
eq "nothing on stdout" "$(wc -c <"$T/bin.out")" 0

# stdin closes when the client's stdin ends: wc sees EOF and exits.
eq "stdin eof reaches the program" "$(printf 'a\nb\n' | ph exec e2e-exec -- wc -l)" 2

# Arguments pass untouched (spaces, quotes, empty).
eq "argv intact" "$(ph exec e2e-exec -- printf '[%s]' 'a b' '' "q'\"" </dev/null)" "[a b][][q'\"]"

# PORTHOLE_* never reaches the programs the agent starts.
env_out=$(ph exec e2e-exec -- env </dev/null)
case $env_out in *PORTHOLE_*) fail "PORTHOLE_ variables leaked to the program";; *) ok "environment scrubbed";; esac
# ... nor can a program read the token from the agent's /proc/PID/environ.
check "token wiped from the agent's /proc environ" \
	sh -c "! tr '\\0' '\\n' </proc/$AGENT_PID/environ | grep -q '^PORTHOLE_TOKEN=.'"

# Several sessions at once on one agent.
cpids=()
for i in 1 2 3 4; do ph exec e2e-exec -- sh -c "sleep 0.3; exit $i" </dev/null & cpids+=($!); done
codes=""
for p in "${cpids[@]}"; do wait "$p"; codes="$codes$?"; done
eq "concurrent sessions" "$codes" "1234"

# `| head -1`: the CLI dies of SIGPIPE, quietly, and the remote program ends.
ph exec e2e-exec -- seq 100000001 </dev/null 2>"$T/head.err" | head -1 >"$T/head.out"
eq "exec | head -1: dies of SIGPIPE" "${PIPESTATUS[0]}" 141
eq "exec | head -1: says nothing" "$(cat "$T/head.err")" ""
eq "exec | head -1: the line" "$(cat "$T/head.out")" 1
check "exec | head -1: the remote seq is gone" wait_for 10 no_process "seq 100000001"

# No zombies or leftovers under the agent.
check "no children left under the agent" wait_for 10 sh -c "[ -z \"\$(pgrep -P $AGENT_PID)\" ]"
finish
