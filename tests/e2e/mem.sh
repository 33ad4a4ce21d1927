#!/usr/bin/env bash
# mem end to end: JSON Lines of a process that allocates steadily show RSS
# growing and a positive growth rate; --for ends it with 0; the plain and
# live (terminal) formats; a pid that
# exits ends it with 255 and says so; a pid that does not exist too.
. "$(dirname "$0")/lib.sh"

jqq() { jq -e "$@" >/dev/null; }

start_relay
start_agent e2e-mem

# Grows by 4 MiB every 100 ms, touched so it is resident, up to 400 MiB.
python3 -c "
import time
keep = []
print('ready', flush=True)
for i in range(100):
    b = bytearray(4 * 1024 * 1024)
    for j in range(0, len(b), 4096): b[j] = 1
    keep.append(b)
    time.sleep(0.1)
time.sleep(300)
" >"$T/grow.out" &
grow=$!
PIDS+=("$grow")
check "growing process started" wait_for 30 grep -q ready "$T/grow.out"

ph mem e2e-mem "$grow" --every 200ms --for 2s --json >"$T/mem.jsonl"; eq "mem --json --for exit 0" $? 0
n=$(wc -l <"$T/mem.jsonl")
check "several samples ($n)" [ "$n" -ge 5 ]
check "every line is JSON with rss_bytes and pid" jqq -s --argjson p "$grow" \
	'all(.[]; .pid == $p and (.rss_bytes | type) == "number")' "$T/mem.jsonl"
first=$(head -1 "$T/mem.jsonl" | jq .rss_bytes)
last=$(tail -1 "$T/mem.jsonl" | jq .rss_bytes)
check "rss grew ($first -> $last bytes)" [ "$last" -gt "$first" ]
check "positive growth rate in the last line" jqq -s '.[-1].growth_bytes_per_min > 0' "$T/mem.jsonl"
check "cgroup usage sampled" jqq -s 'map(.cgroup_usage_bytes) | min > 0' "$T/mem.jsonl"
# One naming of units (docs/operations.md, "Units"): every size says _bytes.
eq "every quantity names its unit" "$(jq -c '[keys[] | select(. != "t" and . != "pid" and
	. != "threads" and (endswith("_bytes") or endswith("_bytes_per_min") | not))]' "$T/mem.jsonl" |
	sort -u)" "[]"
eq "the sizes of a sample" "$(head -1 "$T/mem.jsonl" | jq -c '[keys[] | select(endswith("_bytes"))]')" \
	'["anon_bytes","cgroup_limit_bytes","cgroup_usage_bytes","file_bytes","peak_bytes","pss_bytes","rss_bytes","shmem_bytes","swap_bytes"]'

# A process that grows by exactly 1 MiB/s (allocation follows the clock, so
# a slow loop catches up) and one that holds still: the least-squares rate
# is within 20% of 61440 KiB/min for the first and near zero for the second.
python3 -c "
import time
keep = []
t0 = time.monotonic()
print('ready', flush=True)
done = 0
while True:
    want = int((time.monotonic() - t0) * 1024 * 1024)
    while done < want and done < 200 * 1024 * 1024:
        b = bytearray(64 * 1024)
        for j in range(0, len(b), 4096): b[j] = 1
        keep.append(b)
        done += len(b)
    time.sleep(0.02)
" >"$T/rate.out" &
rate=$!
PIDS+=("$rate")
python3 -c "
import time
b = bytearray(64 * 1024 * 1024)
for j in range(0, len(b), 4096): b[j] = 1
print('ready', flush=True)
time.sleep(300)
" >"$T/steady.out" &
steady=$!
PIDS+=("$steady")
check "1 MiB/s process started" wait_for 30 grep -q ready "$T/rate.out"
check "steady process started" wait_for 30 grep -q ready "$T/steady.out"
sleep 1
ph mem e2e-mem "$rate" --every 500ms --for 10s --json >"$T/rate.jsonl"; eq "rate: exit 0" $? 0
g=$(tail -1 "$T/rate.jsonl" | jq '.growth_bytes_per_min | floor')
log "1 MiB/s process: growth ${g} bytes/min (want 62914560 +/- 20%)"
between "1 MiB/s measured within 20% (${g} bytes/min)" "$g" 50331648 75497472
ph mem e2e-mem "$steady" --every 500ms --for 5s --json >"$T/steady.jsonl"; eq "steady: exit 0" $? 0
g=$(tail -1 "$T/steady.jsonl" | jq '.growth_bytes_per_min | floor')
log "steady process: growth ${g} bytes/min"
between "steady process near zero (${g} bytes/min)" "$g" -1048576 1048576
# ps --json and mem --json name and count the same thing the same way.
ph ps e2e-mem --json >"$T/steady.ps"; eq "ps --json beside mem: exit 0" $? 0
ps_rss=$(jq --argjson p "$steady" '.processes[] | select(.pid == $p) | .rss_bytes' "$T/steady.ps")
mem_rss=$(tail -1 "$T/steady.jsonl" | jq .rss_bytes)
vm_rss=$(($(rss_kib "$steady") * 1024))
between "mem's rss_bytes ($mem_rss) is VmRSS in bytes ($vm_rss), within 5%" "$mem_rss" \
	$((vm_rss - vm_rss / 20)) $((vm_rss + vm_rss / 20))
between "ps's rss_bytes ($ps_rss) agrees with mem's ($mem_rss), within 5%" "$ps_rss" \
	$((mem_rss - mem_rss / 20)) $((mem_rss + mem_rss / 20))
kill "$rate" "$steady" 2>/dev/null

# Not a terminal, no --json: one key=value line per sample, as the help says,
# with the JSON's names and values.
ph mem e2e-mem "$grow" --every 100ms --for 500ms >"$T/mem.txt"; eq "plain exit 0" $? 0
contains "plain line" "$(head -1 "$T/mem.txt")" "pid=$grow rss_bytes="
contains "plain growth" "$(tail -1 "$T/mem.txt")" " growth_bytes_per_min="
eq "every plain line is key=value" "$(grep -cvE '^[0-9]{2}:[0-9]{2}:[0-9]{2}( [a-z_]+=(-?[0-9]+|-))+$' \
	"$T/mem.txt")" 0
contains "help says key=value off a terminal" "$(ph help | tr -s " \n" "  ")" "key=value piped"
contains "help says JSON Lines with --json" "$(ph help | tr -s " \n" "  ")" "JSON Lines with --json"

# On a terminal (script(1) gives it a pty): header, growth and sparkline.
if command -v script >/dev/null; then
	script -qec "$CLI_BIN mem e2e-mem $grow --every 100ms --for 1s" /dev/null \
		</dev/null >"$T/mem.tty"; eq "live exit 0" $? 0
	contains "live header" "$(cat "$T/mem.tty")" "GROWTH  RSS"
	contains "live sparkline" "$(cat "$T/mem.tty")" "▁"
	# Human units: the grown process holds 400 MiB; growth has its unit.
	check "live rss in MiB" grep -qE '^[0-9:]{8} +[0-9.]+ MiB ' "$T/mem.tty"
	check "live growth with a unit per minute" grep -qE ' [-+][0-9.]+ (B|KiB|MiB|GiB)/min ' "$T/mem.tty"
else
	log "no script(1): live view not checked"
fi

# Without --for it runs until interrupted (SIGTERM here: a background job
# ignores SIGINT); that ends it with 0 and the agent's sampler is killed.
"$CLI_BIN" mem e2e-mem "$grow" --every 100ms --json >"$T/open.jsonl" &
mp=$!
check "open-ended mem samples" wait_for 20 test -s "$T/open.jsonl"
kill -TERM "$mp"; wait "$mp"; eq "interrupted mem exits 0" $? 0
check "the sampler is gone from the agent" wait_for 10 sh -c "[ -z \"\$(pgrep -P $AGENT_PID)\" ]"

# A reader that leaves after the first line: mem ends as a pipeline member
# (SIGPIPE, nothing said) and the agent's sampler is ended.
for mode in "" --json; do
	"$CLI_BIN" mem e2e-mem "$grow" --every 100ms $mode 2>"$T/head.err" | head -1 >"$T/head.out"
	eq "mem $mode | head -1: dies of SIGPIPE" "${PIPESTATUS[0]}" 141
	eq "mem $mode | head -1: says nothing" "$(cat "$T/head.err")" ""
	eq "mem $mode | head -1: the line" "$(wc -l <"$T/head.out")" 1
done
quiet_pipe_end "mem" "$CLI_BIN" mem e2e-mem "$grow" --every 100ms
check "the sampler is gone after the reader left" wait_for 10 sh -c "[ -z \"\$(pgrep -P $AGENT_PID)\" ]"

# A process that exits while watched: 255 and a message.
sleep 1.5 &
short=$!
ph mem e2e-mem "$short" --every 100ms --json >"$T/short.jsonl" 2>"$T/short.err"; eq "exited pid is 255" $? 255
contains "exit is said" "$(cat "$T/short.err")" "process $short has exited"
check "it was sampled before it exited" [ "$(wc -l <"$T/short.jsonl")" -ge 1 ]

ph mem e2e-mem 2147483000 --json 2>"$T/none.err" >/dev/null; eq "no such pid is 255" $? 255
contains "no such pid is said" "$(cat "$T/none.err")" "no process 2147483000"

ph mem e2e-mem notapid 2>"$T/usage.err"; eq "bad pid is a usage error" $? 255
contains "bad pid says so" "$(cat "$T/usage.err")" "PID must be a process id"

check "no helper children left under the agent" wait_for 10 sh -c "[ -z \"\$(pgrep -P $AGENT_PID)\" ]"

# An agent that goes away: mem mid-watch and ps before its session started
# say so in words (client-exit.c), not in raw codes.  mem's session resumes
# (an agent cut off from the relay comes back to it): the CLI says on any
# stderr that the agent was lost and that it waits, and ends with 255 once
# the resume timeout (--resume 4s here; 5m by default) passes without the
# agent; ps's session had not started (no seal yet), so it ends at once.
PORTHOLE_RESUME_TIMEOUT=5m start_agent e2e-mem2
lost=$AGENT_PID
ph --resume 4s mem e2e-mem2 "$grow" --every 100ms --json >"$T/lost.jsonl" 2>"$T/lost.err" &
memcli=$!
PIDS+=("$memcli")
check "mem on the second agent samples" wait_for 30 test -s "$T/lost.jsonl"
kill -STOP "$lost"	# it hears no open from here on
# Earlier ps runs in this file opened sessions too: wait for one more.
ps_before=$(grep -c 'opened: op=ps' "$T/relay.err")
opened() { [ "$(grep -c 'opened: op=ps' "$T/relay.err")" -gt "$ps_before" ]; }
ph ps e2e-mem2 >/dev/null 2>"$T/lostps.err" &
pscli=$!
PIDS+=("$pscli")
check "ps's session reached the relay" wait_for 30 opened
kill -KILL "$lost"
check "mem: says the agent was lost and that it waits for it" \
	wait_for 30 grep -q "was lost mid-session (.*): waiting up to 4s for it to come back" "$T/lost.err"
wait "$memcli"; eq "mem: agent lost is 255" $? 255
wait "$pscli"; eq "ps: agent lost is 255" $? 255
contains "mem: the end says the wait was in vain" "$(cat "$T/lost.err")" "could not be resumed within 4s"
contains "mem: ... and that the agent is not connected" "$(cat "$T/lost.err")" "is not connected"
contains "ps: the agent is said lost" "$(cat "$T/lostps.err")" "porthole: agent e2e-mem2 ("
check "mem: no raw code" sh -c "! grep -Eq '\\(agent_lost\\)|code [0-9]{4}' '$T/lost.err'"
check "ps: no raw code" sh -c "! grep -Eq '\\(agent_lost\\)|code [0-9]{4}' '$T/lostps.err'"
finish
