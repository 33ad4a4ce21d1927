#!/usr/bin/env bash
# Sidecar mode end to end: `exec` and `shell` with --pid run the program in
# that process's root (chroot), with its uid, gid, groups, environment and
# working directory.  The "application" is a sleep started as nobody in a
# tiny root built here (the binaries it needs and their libraries, copied by
# ldd), with a marker file that exists only there.  --container resolves a
# name through the ECS task metadata (tests/tools/ph-ecsmeta) and the
# container's DockerId in /proc/PID/cgroup (a pids cgroup named after it is
# made for the app when this machine lets root do that).  Errors: no such
# pid, no metadata, unknown container (the known ones are listed), and
# --pid with --container.
. "$(dirname "$0")/lib.sh"

META_BIN=$BUILD/tests/tools/ph-ecsmeta
TASK=5e1dca4c0a2f4b7e9d3f1a6b8c0d2e4f
DID=$TASK-3141592653
CG=/sys/fs/cgroup/pids/porthole-e2e-$DID

[ "$(id -u)" = 0 ] || { log "needs root (chroot, another user): skipped"; exit 77; }
# After lib.sh's cleanup has ended the app, its stand-in container cgroup goes too.
trap 'cleanup; rmdir "$CG" 2>/dev/null' EXIT

# The application's root: sh and a few tools with their libraries.
ROOT=$T/root
mkdir -p "$ROOT/app" "$ROOT/bin" "$ROOT/etc"
for prog in sh cat id pwd env sleep; do
	src=$(type -P "$prog")
	cp -L "$src" "$ROOT/bin/$prog"
	for lib in $(ldd "$src" | grep -o '/[^ ]*'); do
		mkdir -p "$ROOT$(dirname "$lib")"
		cp -Ln "$lib" "$ROOT$lib" 2>/dev/null || true
	done
done
echo "only in the app's root" >"$ROOT/marker"
chmod 755 "$T" "$ROOT" "$ROOT/app"

# The app: nobody, groups nogroup + 4242, its own environment, cwd /app.
env -i APPVAR=from-the-app PATH=/bin HOME=/app \
	"$(PATH=$PATH:/usr/sbin:/sbin type -P chroot)" --userspec=65534:65534 --groups=65534,4242 "$ROOT" \
	/bin/sh -c 'cd /app && exec sleep 1000' &
APP=$!
PIDS+=("$APP")
app_ready() { [ "$(readlink "/proc/$APP/root")" = "$ROOT" ] && [ "$(cat "/proc/$APP/comm")" = sleep ]; }
check "the app runs in its root" wait_for 20 app_ready

start_relay
start_agent e2e-sidecar

# exec --pid: the app's uid, gid, groups, cwd, environment and files.
out=$(ph exec --pid "$APP" e2e-sidecar -- sh -c \
	'id -u; id -g; id -G; pwd; echo "$APPVAR"; cat /marker; echo "${PORTHOLE_TOKEN:-none}"' \
	</dev/null 2>"$T/exec.err")
eq "exec --pid exits 0" $? 0
eq "uid, gid, groups, cwd, env, root" "$out" "$(printf '%s\n' 65534 65534 '65534 4242' /app \
	from-the-app "only in the app's root" none)"
# Without --pid the same program runs in the agent's world.
out=$(ph exec e2e-sidecar -- sh -c 'id -u; cat /marker 2>/dev/null || echo no-marker' </dev/null)
eq "without --pid: the agent's root and user" "$out" "$(printf '0\nno-marker')"
# PATH is the app's: a program the agent's root has but the app's lacks.
ph exec --pid "$APP" e2e-sidecar -- ls / </dev/null 2>"$T/ls.err"
eq "a program missing from the app's root is 127" $? 127
# stdin still streams.
eq "stdin reaches the program" "$(printf 'a\nb\n' | ph exec --pid "$APP" e2e-sidecar -- cat)" \
	"$(printf 'a\nb')"

# shell --pid without a terminal: the app's /bin/sh, fed by stdin.
out=$(printf 'pwd; echo "$APPVAR"; id -u\n' | ph shell --pid "$APP" e2e-sidecar 2>"$T/sh.err")
eq "shell --pid (pipes) exits 0" $? 0
eq "shell --pid: the app's cwd, env and uid" "$out" "$(printf '/app\nfrom-the-app\n65534')"
# shell --pid on a terminal (script gives the CLI one).
script -qec "$CLI_BIN shell --pid $APP e2e-sidecar -- sh -c 'pwd; id -u; echo \$APPVAR'" \
	/dev/null </dev/null >"$T/tty.out" 2>&1
eq "shell --pid (tty) exits 0" $? 0
tty_out=$(tr -d '\r' <"$T/tty.out")
contains "shell --pid (tty): cwd" "$tty_out" "/app"
contains "shell --pid (tty): env" "$tty_out" "from-the-app"
contains "shell --pid (tty): uid" "$tty_out" "65534"

# Errors: one "porthole: " line, exit 255.
ph exec --pid 2147483646 e2e-sidecar -- true </dev/null 2>"$T/nopid.err"
eq "no such pid: 255" $? 255
eq "no such pid: one line" "$(wc -l <"$T/nopid.err")" 1
contains "no such pid: says so" "$(cat "$T/nopid.err")" "porthole: "
contains "no such pid: names it" "$(cat "$T/nopid.err")" "no process 2147483646"
ph exec --container app e2e-sidecar -- true </dev/null 2>"$T/nometa.err"
eq "--container without metadata: 255" $? 255
contains "--container without metadata: says why" "$(cat "$T/nometa.err")" \
	"ECS_CONTAINER_METADATA_URI_V4"
ph exec --pid 1 --container app e2e-sidecar -- true </dev/null 2>"$T/both.err"
eq "--pid with --container: usage error" $? 255
contains "--pid with --container: says so" "$(cat "$T/both.err")" "exclude each other"

# --container through the task metadata.
mkdir -p "$T/meta"
cat >"$T/meta/container.json" <<JSON
{"DockerId": "$TASK-2718281828", "Name": "porthole", "DockerName": "porthole",
 "Labels": {"com.amazonaws.ecs.container-name": "porthole"}}
JSON
cat >"$T/meta/task.json" <<JSON
{"Cluster": "arn:aws:ecs:us-west-2:111122223333:cluster/prod",
 "TaskARN": "arn:aws:ecs:us-west-2:111122223333:task/prod/$TASK",
 "Family": "shop", "Revision": "3", "AvailabilityZone": "us-west-2a", "LaunchType": "FARGATE",
 "Containers": [{"DockerId": "$TASK-2718281828", "Name": "porthole"},
                {"DockerId": "$DID", "Name": "web"}]}
JSON
"$META_BIN" "$T/meta" >"$T/meta/meta.out" 2>&1 &
PIDS+=("$!")
wait_for 10 grep -q 'listening on' "$T/meta/meta.out" || { fail "ph-ecsmeta did not start"; finish; }
META_PORT=$(sed -n 's/listening on //p' "$T/meta/meta.out")
PORTHOLE_TOKEN=@$STATE/agent.token PORTHOLE_NAME=e2e-sidecar-ecs \
	ECS_CONTAINER_METADATA_URI_V4="http://127.0.0.1:$META_PORT/v4/$TASK-2718281828" \
	"$AGENT_BIN" >"$T/agent-ecs.out" 2>"$T/agent-ecs.err" &
PIDS+=("$!")
check "the ECS agent registered" wait_for 20 agent_listed e2e-sidecar-ecs

ph exec --container db e2e-sidecar-ecs -- true </dev/null 2>"$T/unknown.err"
eq "unknown container: 255" $? 255
eq "unknown container: one line" "$(wc -l <"$T/unknown.err")" 1
contains "unknown container: names it" "$(cat "$T/unknown.err")" "no container 'db'"
contains "unknown container: lists the known" "$(cat "$T/unknown.err")" "porthole, web"
ph cp --container db e2e-sidecar-ecs:/marker "$T/nope" 2>"$T/cpunknown.err"
eq "cp unknown container: 255" $? 255
contains "cp unknown container: lists the known" "$(cat "$T/cpunknown.err")" "porthole, web"

if mkdir "$CG" 2>/dev/null; then
	echo "$APP" >"$CG/cgroup.procs"
	out=$(ph exec --container web e2e-sidecar-ecs -- sh -c 'pwd; echo "$APPVAR"; cat /marker' \
		</dev/null 2>"$T/ctr.err")
	eq "--container web: exit 0" $? 0
	eq "--container web: the app's cwd, env and root" "$out" \
		"$(printf '/app\nfrom-the-app\nonly in the app'"'"'s root')"
	# cp --container reads inside the app's root, not the agent's.
	ph cp --container web e2e-sidecar-ecs:/marker "$T/ctr-marker" 2>"$T/cpctr.err"
	eq "cp --container web: exit 0" $? 0
	eq "cp --container web: the app's file" "$(cat "$T/ctr-marker" 2>/dev/null)" \
		"only in the app's root"
	# Back to the root cgroup, then the fake container cgroup goes.
	echo "$APP" >/sys/fs/cgroup/pids/cgroup.procs
	rmdir "$CG"
else
	log "cannot make a pids cgroup here: --container's positive path not run"
fi
# A container with no process the agent can see.
ph exec --container web e2e-sidecar-ecs -- true </dev/null 2>"$T/noproc.err"
eq "container without processes: 255" $? 255
contains "container without processes: says so" "$(cat "$T/noproc.err")" "no process"

finish
