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
check "every line is JSON with rss and pid" jqq -s --argjson p "$grow" \
	'all(.[]; .pid == $p and (.rss | type) == "number")' "$T/mem.jsonl"
first=$(head -1 "$T/mem.jsonl" | jq .rss)
last=$(tail -1 "$T/mem.jsonl" | jq .rss)
check "rss grew ($first -> $last KiB)" [ "$last" -gt "$first" ]
check "positive growth rate in the last line" jqq -s '.[-1].growth_kib_min > 0' "$T/mem.jsonl"
check "cgroup usage sampled" jqq -s 'map(.cg_usage) | min > 0' "$T/mem.jsonl"

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
g=$(tail -1 "$T/rate.jsonl" | jq '.growth_kib_min | floor')
log "1 MiB/s process: growth ${g} KiB/min (want 61440 +/- 20%)"
between "1 MiB/s measured within 20% (${g} KiB/min)" "$g" 49152 73728
ph mem e2e-mem "$steady" --every 500ms --for 5s --json >"$T/steady.jsonl"; eq "steady: exit 0" $? 0
g=$(tail -1 "$T/steady.jsonl" | jq '.growth_kib_min | floor')
log "steady process: growth ${g} KiB/min"
between "steady process near zero (${g} KiB/min)" "$g" -1024 1024
kill "$rate" "$steady" 2>/dev/null

# Not a terminal, no --json: one plain line per sample.
ph mem e2e-mem "$grow" --every 100ms --for 500ms >"$T/mem.txt"; eq "plain exit 0" $? 0
contains "plain line" "$(head -1 "$T/mem.txt")" "pid=$grow rss="
contains "plain growth" "$(tail -1 "$T/mem.txt")" "growth_kib_min="

# On a terminal (script(1) gives it a pty): header, growth and sparkline.
if command -v script >/dev/null; then
	script -qec "$CLI_BIN mem e2e-mem $grow --every 100ms --for 1s" /dev/null \
		</dev/null >"$T/mem.tty"; eq "live exit 0" $? 0
	contains "live header" "$(cat "$T/mem.tty")" "GROWTH/min"
	contains "live sparkline" "$(cat "$T/mem.tty")" "▁"
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
finish
