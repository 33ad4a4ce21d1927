#!/usr/bin/env bash
# exec --all end to end: three agents share a label; every output line is
# prefixed with its agent's name, the highest status wins, --json holds one
# result per agent (base64 for bytes that are not UTF-8, capped at 1 MiB per
# stream), and an agent lost mid-run counts 255 without spoiling the others.
. "$(dirname "$0")/lib.sh"

command -v jq >/dev/null || { echo "1..0 # SKIP jq not installed"; exit 77; }

start_relay
ID=one RC=0 start_agent fo-a "family=api,zone=x"
ID=two RC=5 start_agent fo-b "family=api,zone=y"
ID=three RC=2 start_agent fo-c "family=api,zone=x"
start_agent fo-other "family=web"

# Prefixes, streams apart, the highest status.
ph exec --all family=api -- sh -c 'echo "out $ID"; echo "err $ID" >&2; printf "tail"; exit ${RC:-0}' \
	>"$T/o1" 2>"$T/e1"
eq "highest status wins" $? 5
eq "stdout lines prefixed" "$(sort "$T/o1")" "$(printf 'fo-a: out one\nfo-a: tail\nfo-b: out two\nfo-b: tail\nfo-c: out three\nfo-c: tail')"
eq "stderr lines prefixed" "$(sort "$T/e1")" "$(printf 'fo-a: err one\nfo-b: err two\nfo-c: err three')"
check "the agent outside the selector did not run" sh -c "! grep -q fo-other $T/o1 $T/e1"

# A selector matching two: exactly those two.
ph exec --all zone=x -- sh -c 'echo $ID; exit ${RC:-0}' >"$T/o2"; eq "zone=x exit" $? 2
eq "zone=x reaches exactly two" "$(sort "$T/o2")" "$(printf 'fo-a: one\nfo-c: three')"

# Without --all several matches stay an error.
ph exec family=api -- true 2>"$T/e3"; eq "several without --all is an error" $? 255
contains "it says so" "$(cat "$T/e3")" "porthole: "

# --json: one document, three results.
ph exec --all family=api --json -- sh -c 'echo "hi $ID"; echo "e" >&2; exit ${RC:-0}' >"$T/j1"
eq "--json status" $? 5
eq "three results" "$(jq '.results | length' "$T/j1")" 3
eq "names and exits" "$(jq -r '.results[] | "\(.agent.name) \(.exit) \(.stdout | @json)"' "$T/j1" | sort)" \
	"$(printf 'fo-a 0 "hi one\\n"\nfo-b 5 "hi two\\n"\nfo-c 2 "hi three\\n"')"
eq "stderr kept" "$(jq -r '[.results[].stderr] | unique | .[]' "$T/j1")" "e"
eq "agent ids present" "$(jq '[.results[].agent.id | length > 0] | all' "$T/j1")" true
eq "no encoding for text" "$(jq '[.results[] | has("encoding")] | any' "$T/j1")" false

# Binary output: base64, byte-exact.
printf '\x00\xff\xfe\n\x80' >"$T/bin"
ph exec --all zone=y --json -- printf '\000\377\376\n\200' >"$T/j2"
eq "binary: encoding base64" "$(jq -r '.results[0].encoding' "$T/j2")" base64
jq -r '.results[0].stdout' "$T/j2" | base64 -d >"$T/bin.out"
eq "binary: byte-exact" "$(sha256sum <"$T/bin.out")" "$(sha256sum <"$T/bin")"

# More than 1 MiB: truncated at 1 MiB, still valid JSON.
ph exec --all zone=y --json -- sh -c 'head -c 3000000 /dev/zero | tr "\0" a' >"$T/j3"
eq "big: exit 0" $? 0
eq "big: truncated" "$(jq '.results[0].truncated' "$T/j3")" true
eq "big: 1 MiB kept" "$(jq -r '.results[0].stdout | length' "$T/j3")" 1048576

# A partial last line gets its newline; a line past 64 KiB is split, not lost.
ph exec --all zone=y -- sh -c 'head -c 100000 /dev/zero | tr "\0" b' >"$T/o4"
eq "long line: bytes kept" "$(sed 's/^fo-b: //' "$T/o4" | tr -d '\n' | wc -c)" 100000

# --timeout applies to each: 124 overall, "timeout": true in --json.
ph exec --all zone=x --timeout 1s --json -- sh -c 'echo before; sleep 1031' >"$T/j8"
eq "timeout on all: 124" $? 124
eq "timeout on all: flagged" "$(jq -r '[.results[] | "\(.timeout) \(.exit) \(.stdout)"] | unique | .[]' "$T/j8")" \
	"$(printf 'true 124 before\n')"
check "timeout on all: sleeps gone" wait_for 10 no_process "sleep 1031"

# Many short lines from three agents into a reader that starts late: every
# line arrives once, prefixed (the output queue fills and the sessions wait).
ph exec --all family=api -- seq 200000 | { sleep 1; cat; } >"$T/o7"
eq "many lines: status" "${PIPESTATUS[0]}" 0
eq "many lines: count" "$(wc -l <"$T/o7")" 600000
eq "many lines: per agent, in order" "$(grep '^fo-b: ' "$T/o7" | sed 's/^fo-b: //' | sha256sum)" \
	"$(seq 200000 | sha256sum)"

# A program that cannot run: each agent's failure is said as a single exec
# says it, prefixed with the agent's name, and --json has it as "error".
ph exec fo-a -- nosuch-fanout-prog 2>"$T/nf1.err"; eq "not found alone: 127" $? 127
single=$(sed 's/^porthole: //' "$T/nf1.err")
contains "not found alone says so" "$single" "nosuch-fanout-prog: not found"
ph exec --all family=api -- nosuch-fanout-prog >"$T/nf.out" 2>"$T/nf.err"; eq "not found on all: 127" $? 127
eq "not found on all: one line per agent, prefixed" "$(sort "$T/nf.err")" \
	"$(printf 'porthole: fo-a: %s\nporthole: fo-b: %s\nporthole: fo-c: %s' "$single" "$single" "$single")"
eq "not found on all: nothing on stdout" "$(cat "$T/nf.out")" ""
ph exec --all family=api --json -- nosuch-fanout-prog >"$T/nf.json" 2>"$T/nf.jerr"; eq "not found --json: 127" $? 127
eq "not found --json: an error per agent" \
	"$(jq -r '.results[] | "\(.agent.name) \(.exit) \(.error)"' "$T/nf.json" | sort)" \
	"$(printf 'fo-a 127 %s\nfo-b 127 %s\nfo-c 127 %s' "$single" "$single" "$single")"
eq "not found --json: stderr stays quiet" "$(cat "$T/nf.jerr")" ""
printf '#!/bin/sh\necho hi\n' >"$T/noexec"; chmod 644 "$T/noexec"
ph exec zone=y -- "$T/noexec" 2>"$T/ne1.err"; eq "not executable alone: 126" $? 126
ph exec --all zone=y -- "$T/noexec" 2>"$T/ne.err"; eq "not executable on all: 126" $? 126
eq "not executable on all: said as alone, prefixed" "$(cat "$T/ne.err")" \
	"$(sed 's/^porthole: /porthole: fo-b: /' "$T/ne1.err")"
# A program that runs and fails says nothing more than its own stderr.
ph exec --all zone=y -- sh -c 'exit 3' 2>"$T/f3.err"; eq "own failure: 3" $? 3
eq "own failure: no porthole line" "$(cat "$T/f3.err")" ""

# A reader that leaves: exec --all, its --json and ps --all end quietly.
quiet_pipe_end "exec --all" "$CLI_BIN" exec --all family=api -- echo hi
quiet_pipe_end "exec --all --json" "$CLI_BIN" exec --all --json family=api -- echo hi
quiet_pipe_end "ps --all" "$CLI_BIN" ps --all family=api
quiet_pipe_end "ps --all --json" "$CLI_BIN" ps --all --json family=api
ph exec --all family=api -- seq 100000002 2>"$T/head.err" | head -1 >/dev/null
eq "exec --all | head -1: dies of SIGPIPE" "${PIPESTATUS[0]}" 141
eq "exec --all | head -1: says nothing" "$(cat "$T/head.err")" ""
check "exec --all | head -1: the remote seqs are gone" wait_for 10 no_process "seq 100000002"

# One agent killed mid-run: 255 for it, the others' output intact.  (Its
# session waits for the agent to come back, as for any agent cut off from
# the relay: --resume 3s bounds that wait here; mem.sh and ecs.sh check it.)
ph --resume 3s exec --all family=api -- sh -c 'echo "start $ID"; sleep 3; echo "end $ID"; exit 0' \
	>"$T/o5" 2>"$T/e5" &
cli=$!
PIDS+=("$cli")
if wait_for 30 grep -q 'fo-c: start three' "$T/o5"; then
	agent_c=$(for p in $(pgrep -f "$AGENT_BIN"); do
		tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx PORTHOLE_NAME=fo-c && echo "$p"; done)
	kill -KILL $agent_c
	wait "$cli"; eq "lost agent: 255 overall" $? 255
	eq "others intact" "$(grep -v fo-c "$T/o5" | sort)" \
		"$(printf 'fo-a: end one\nfo-a: start one\nfo-b: end two\nfo-b: start two')"
	contains "the lost one is named" "$(cat "$T/e5")" "porthole: fo-c:"
else
	fail "fo-c never started"
fi

# --json with a lost agent: its result has exit 255 and an error.
mv "$T/agent-fo-c.err" "$T/agent-fo-c.err.1"
ID=three RC=2 start_agent fo-c "family=api,zone=x"
ph --resume 3s exec --all zone=x --json -- sh -c 'echo "start $ID"; sleep 3; echo "end $ID"' >"$T/j6" &
cli=$!
PIDS+=("$cli")
wait_for 30 sh -c "[ \$(grep -c 'started pid' $T/agent-fo-c.err) -ge 1 ]" || fail "fo-c never started (json)"
agent_c=$(for p in $(pgrep -f "$AGENT_BIN"); do
	tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx PORTHOLE_NAME=fo-c && echo "$p"; done)
kill -KILL $agent_c
wait "$cli"; eq "json lost: 255" $? 255
eq "json lost: fo-c 255 with error" \
	"$(jq -r '.results[] | select(.agent.name == "fo-c") | "\(.exit) \(has("error"))"' "$T/j6")" "255 true"
eq "json lost: fo-a intact" \
	"$(jq -r '.results[] | select(.agent.name == "fo-a") | "\(.exit) \(.stdout)"' "$T/j6")" \
	"$(printf '0 start one\nend one\n')"
# ps --all: every agent's table, each line prefixed with its name (fo-c
# was killed above: family=api is fo-a and fo-b now).
out=$(ph ps --all family=api); eq "ps --all exits 0" $? 0
for n in fo-a fo-b; do contains "ps --all: $n's header" "$out" "$n:     PID"; done
case $out in *fo-other:*) fail "ps --all ran on fo-other";; *) ok "ps --all only where the selector matches";; esac
json=$(ph ps --all --json family=api); eq "ps --all --json exits 0" $? 0
eq "ps --all --json: two results" "$(printf '%s' "$json" | jq '.results | length')" 2
eq "ps --all --json: process lists" \
	"$(printf '%s' "$json" | jq '[.results[] | select(.exit == 0 and (.ps.processes | length) > 0)] | length')" 2
finish
