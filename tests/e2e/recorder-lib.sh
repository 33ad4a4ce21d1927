# tests/e2e/recorder-lib.sh - sourced by recorder.sh and recorder_edge.sh
# after lib.sh: the leaker, memory cgroups of a given size (v1 or v2, removed
# at exit), a launcher-mode agent armed with PORTHOLE_WATCH in one, and the
# relay's artifact listing.
LEAKER=$BUILD/tests/tools/ph-leaker
MIB=$((1024 * 1024))
command -v gdb >/dev/null || { fail "gdb is missing (scripts/deps.sh installs it)"; finish; }
command -v jq >/dev/null || { fail "jq is missing"; finish; }

# A memory cgroup of LIMIT MiB, v1 or v2: sets CG and CGV; its procs file is $CG/cgroup.procs.
CGS=()
make_cgroup() {
	local name=porthole-recorder-$$-$1 limit=$(($2 * MIB))
	if [ -w /sys/fs/cgroup/memory ] && [ "$(stat -fc %T /sys/fs/cgroup/memory)" = cgroupfs ]; then
		CG=/sys/fs/cgroup/memory/$name
		mkdir "$CG" || return 1
		echo "$limit" >"$CG/memory.limit_in_bytes"
		[ -e "$CG/memory.memsw.limit_in_bytes" ] && echo "$limit" >"$CG/memory.memsw.limit_in_bytes"
		echo 0 >"$CG/memory.swappiness" 2>/dev/null
	elif grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
		CG=/sys/fs/cgroup/$name
		mkdir "$CG" || return 1
		echo "$limit" >"$CG/memory.max"
		echo 0 >"$CG/memory.swap.max" 2>/dev/null
	else
		return 1
	fi
	CGS+=("$CG")
}
# After lib.sh's cleanup has ended the processes, the cgroups go too.
cg_cleanup() { cleanup; for c in "${CGS[@]}"; do rmdir "$c" 2>/dev/null; done; }
trap cg_cleanup EXIT

# launch NAME CGROUP RATE CAP WATCH [ENV...]: the leaker under a launcher-mode agent
# in the cgroup; sets LPID (the leaker's pid, the launcher's).
launch() {
	local name=$1 cg=$2 rate=$3 cap=$4 watch=$5
	shift 5
	rm -f "$T/$name.ready"
	env PORTHOLE_TOKEN=@$STATE/agent.token PORTHOLE_NAME=$name PORTHOLE_LABELS=env=prod \
		PORTHOLE_WATCH="$watch" "$@" \
		sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" \
		"$AGENT_BIN" -- "$LEAKER" "$rate" "$cap" "$T/$name.ready" \
		>"$T/$name.out" 2>"$T/$name.err" &
	LPID=$!
	PIDS+=("$LPID")
}
gone() { [ ! -e "/proc/$1" ] || [ "$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat")" = Z ]; }
artifacts_of() { ph artifacts ls "$@" --json 2>/dev/null; }
# n_stored NAME: how many artifacts of agent NAME the relay lists.
n_stored() { artifacts_of | jq --arg n "$1" '[.artifacts[] | select(.name == $n)] | length'; }
stored() { [ "$(n_stored "$1")" -ge 1 ]; }
