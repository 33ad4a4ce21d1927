#!/usr/bin/env bash
# ps end to end: the agent reads /proc itself; a process we start shows up
# with its pid, ppid and user; --json is one document; --sort rss puts the
# biggest first; the header gives the cgroup's memory; the viewer token may
# run ps; a bad --sort is a usage error.
. "$(dirname "$0")/lib.sh"

jqq() { jq -e "$@" >/dev/null; }

start_relay
start_agent e2e-ps

marker="porthole-ps-marker-$$"
# A parent shell and its child with the marker in argv.
printf 'exec -a %s-parent sleep 300 &\necho $! >%s/child.pid\nwait\n' "$marker" "$T" >"$T/parent.sh"
bash "$T/parent.sh" &
parent=$!
PIDS+=("$parent")
check "marker process started" wait_for 10 test -s "$T/child.pid"
child=$(cat "$T/child.pid")
PIDS+=("$child")

ph ps e2e-ps --json >"$T/ps.json"; eq "ps --json exit 0" $? 0
check "ps --json parses with jq" jqq '.processes | length > 0' "$T/ps.json"
eq "marker pid is listed" "$(jq -r --arg m "$marker-parent" \
	'.processes[] | select(.command | startswith($m)) | .pid' "$T/ps.json")" "$child"
eq "marker ppid" "$(jq -r --argjson p "$child" '.processes[] | select(.pid == $p) | .ppid' \
	"$T/ps.json")" "$parent"
eq "marker user" "$(jq -r --argjson p "$child" '.processes[] | select(.pid == $p) | .user' \
	"$T/ps.json")" "$(id -un)"
# rss within 10% of what the kernel says (the agent's own process: it is
# steady while idle; sampled just after ps so the two readings are close).
ps_rss=$(jq --argjson p "$AGENT_PID" '.processes[] | select(.pid == $p) | .rss_bytes' "$T/ps.json")
vm_rss=$(($(rss_kib "$AGENT_PID") * 1024))
between "agent rss_bytes ${ps_rss} within 10% of VmRSS ${vm_rss} bytes" \
	"$ps_rss" $((vm_rss - vm_rss / 10)) $((vm_rss + vm_rss / 10))
eq "agent's process is there too" "$(jq --argjson p "$AGENT_PID" \
	'[.processes[] | select(.pid == $p)] | length' "$T/ps.json")" 1
check "cgroup memory usage in the document" jqq '.cgroup.usage_bytes > 0' "$T/ps.json"
check "cgroup limit in bytes too" jqq '.cgroup.limit_bytes | type == "number"' "$T/ps.json"
# One naming of units (docs/operations.md, "Units"): sizes are _bytes, no KiB.
eq "no member in KiB or without its unit" "$(jq -c '[.. | objects | keys[] |
	select(endswith("_kib") or . == "usage" or . == "limit" or . == "rss")] | unique' "$T/ps.json")" "[]"
check "cpu is a number" jqq '[.processes[].cpu | numbers] | length > 0' "$T/ps.json"

# A process with a big resident set comes first under --sort rss.
python3 -c "import time; b = bytearray(400 * 1024 * 1024); [b.__setitem__(i, 1) for i in range(0, len(b), 4096)]; print('ready', flush=True); time.sleep(300)" \
	>"$T/big.out" &
big=$!
PIDS+=("$big")
check "big process allocated" wait_for 60 grep -q ready "$T/big.out"
out=$(ph ps e2e-ps --sort rss); eq "ps --sort rss exit 0" $? 0
# Other programs on a shared machine may be bigger still: assert the order of
# ours (400 MiB before the agent and this shell, both far smaller).
row() { printf '%s\n' "$out" | awk -v p="$1" '$1 == p { print NR; exit }'; }
rb=$(row "$big") ra=$(row "$AGENT_PID") rs=$(row $$)
less_than "--sort rss: the 400 MiB process (row $rb) before the agent (row $ra)" "$rb" "$ra"
less_than "--sort rss: the 400 MiB process (row $rb) before this shell (row $rs)" "$rb" "$rs"
header=$(printf '%s\n' "$out" | head -1)
contains "header gives the cgroup memory" "$header" "memory: "
contains "header names the cgroup" "$header" "cgroup v"
contains "column headings" "$(printf '%s\n' "$out" | sed -n 2p)" \
	"PID    PPID USER       STATE  %CPU        RSS  THR  FDS START COMMAND"
check "RSS in binary units: the 400 MiB process" sh -c "printf '%s\n' \"\$1\" |
	awk -v p=$big '\$1 == p && \$7 == \"MiB\" && \$6 >= 390 && \$6 <= 420 { f = 1 } END { exit !f }'" _ "$out"
contains "the cgroup's memory in binary units" "$header" "iB"

# --tree: the child is indented under its parent.
tree=$(ph ps e2e-ps --tree)
contains "tree shows the child under the parent" "$tree" "\\_ $marker-parent"

# The viewer token's scope includes ps.
PORTHOLE_TOKEN=@$STATE/viewer.token PORTHOLE_KEY=$STATE/viewer.key ph ps e2e-ps --json \
	>/dev/null; eq "viewer may run ps" $? 0

ph ps e2e-ps --sort mem 2>"$T/usage.err"; eq "bad --sort is 255" $? 255
contains "bad --sort says so" "$(cat "$T/usage.err")" "--sort takes cpu, rss or pid"

# A reader that leaves (`| head -1`): ps, ls and the commands that print
# without a session end quietly as pipeline members, like exec.
quiet_pipe_end "ps" "$CLI_BIN" ps e2e-ps
quiet_pipe_end "ps --json" "$CLI_BIN" ps e2e-ps --json
quiet_pipe_end "ps --tree" "$CLI_BIN" ps e2e-ps --tree
quiet_pipe_end "ls" "$CLI_BIN" ls
quiet_pipe_end "ls --json" "$CLI_BIN" ls --json
quiet_pipe_end "help" "$CLI_BIN" help
quiet_pipe_end "version" "$CLI_BIN" version
quiet_pipe_end "token show" "$CLI_BIN" token show "@$STATE/viewer.token"
quiet_pipe_end "exec" "$CLI_BIN" exec e2e-ps -- echo hi
quiet_pipe_end "shell without a terminal" "$CLI_BIN" shell e2e-ps -- echo hi
# Another write error is still one line and 255.
if [ -w /dev/full ]; then
	ph ps e2e-ps >/dev/full 2>"$T/full.err"; eq "ps to a full disk: 255" $? 255
	contains "ps to a full disk says so" "$(cat "$T/full.err")" "porthole: cannot write to stdout (No space left on device)"
fi

check "no helper children left under the agent" wait_for 10 sh -c "[ -z \"\$(pgrep -P $AGENT_PID)\" ]"
finish
