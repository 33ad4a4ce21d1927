#!/usr/bin/env bash
# ls and TARGET resolution: listing, JSON, selectors, unknown and ambiguous
# targets (255, the message lists what is connected / what matched).
. "$(dirname "$0")/lib.sh"

start_relay
out=$(ph exec nobody -- true </dev/null 2>&1); eq "no agents: exit 255" $? 255
contains "no agents: says so" "$out" "no agent"

start_agent web-1 "family=web,zone=a"
a1=$AGENT_PID
start_agent web-2 "family=web,zone=b"
start_agent dup "family=db"
start_agent dup "family=db"

ls_out=$(ph ls); eq "ls exits 0" $? 0
for n in web-1 web-2 dup; do contains "ls shows $n" "$ls_out" "$n"; done
contains "ls shows labels" "$ls_out" "family=web"
contains "ls has a header" "$ls_out" "NAME"

json=$(ph ls --json); eq "ls --json exits 0" $? 0
eq "ls --json has 4 agents" "$(printf '%s' "$json" | jq '.agents | length')" 4
eq "ls --json carries labels" "$(printf '%s' "$json" | jq -r '.agents[] | select(.name == "web-2") | .labels.zone')" b
sel=$(ph ls family=web); eq "ls SELECTOR exits 0" $? 0
contains "selector keeps web-1" "$sel" "web-1"
case $sel in *dup*) fail "selector dropped dup";; *) ok "selector dropped dup";; esac

out=$(ph exec web-9 -- true </dev/null 2>&1); eq "unknown target exits 255" $? 255
contains "unknown target lists connected agents" "$out" "web-1"
eq "unknown target: one line ($out)" "$(printf '%s\n' "$out" | wc -l)" 1

out=$(ph exec dup -- true </dev/null 2>&1); eq "ambiguous name exits 255" $? 255
contains "ambiguous lists candidates" "$out" "2 agents"
out=$(ph exec family=web -- true </dev/null 2>&1); eq "ambiguous selector exits 255" $? 255

eq "unique selector runs" "$(ph exec family=web,zone=b -- echo hi </dev/null)" hi
eq "exact name runs" "$(ph exec web-1 -- echo hi </dev/null)" hi
id=$(ph ls --json | jq -r '.agents[] | select(.name == "web-1") | .id // empty')
check "web-1's id known ($id)" test -n "$id"
eq "id prefix runs" "$(ph exec "${id:0:6}" -- echo hi </dev/null)" hi

# Names match by prefix like ids (issue 16 item 2): "web" is web-1 and web-2.
out=$(ph exec web -- true </dev/null 2>&1); eq "ambiguous name prefix exits 255" $? 255
contains "ambiguous prefix names web-1" "$out" "web-1 ("
contains "ambiguous prefix names web-2" "$out" "web-2 ("
contains "ambiguous prefix says what to do" "$out" "give more of the name"
eq "ambiguous prefix: one line ($out)" "$(printf '%s\n' "$out" | wc -l)" 1
eq "unique name prefix runs" "$(ph exec web-2 -- echo hi </dev/null)" hi
start_agent solo "family=x"
out=$(ph exec so -- echo hi </dev/null 2>&1); eq "unique name prefix runs (exit)" $? 0
eq "unique name prefix runs (output)" "$out" hi
eq "ls of that prefix is the agent" "$(ph ls --json so | jq -r '[.agents[].name] | join(",")')" solo
pre=$(ph ls web); eq "ls PREFIX exits 0" $? 0
contains "ls PREFIX lists web-1" "$pre" "web-1"
contains "ls PREFIX lists web-2" "$pre" "web-2"
eq "ls PREFIX lists only those (header + 2)" "$(printf '%s\n' "$pre" | wc -l)" 3
eq "ls --json PREFIX" "$(ph ls --json web | jq -r '[.agents[].name] | sort | join(",")')" "web-1,web-2"

# An agent that goes away leaves the list.
kill "$a1"
check "killed agent leaves the list" wait_for 20 sh -c "! \"$CLI_BIN\" ls | grep -q web-1"
finish
