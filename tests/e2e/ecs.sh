#!/usr/bin/env bash
# ECS identity end to end: an agent whose ECS_CONTAINER_METADATA_URI_V4
# points at a stand-in endpoint (tests/tools/ph-ecsmeta, AWS's documented v4
# format) registers as <task id>/<container> with the metadata labels, is
# named after the family, PORTHOLE_LABELS override the metadata, and a label
# selector reaches it.  Malformed or unreachable metadata: the agent still
# connects, with a random id, and says why in its log.
. "$(dirname "$0")/lib.sh"

META_BIN=$BUILD/tests/tools/ph-ecsmeta
TASK=cd189a933e5849daa93386466019ab50

start_relay

# start_meta DIR: the stand-in endpoint serving DIR; sets META_PORT.
start_meta() {
	"$META_BIN" "$1" >"$1/meta.out" 2>&1 &
	PIDS+=("$!")
	wait_for 10 grep -q 'listening on' "$1/meta.out" || { fail "ph-ecsmeta did not start"; finish; }
	META_PORT=$(sed -n 's/listening on //p' "$1/meta.out")
}

# start_ecs_agent LOG URI [VAR=VALUE...]: an agent with that metadata URI.
start_ecs_agent() {
	local log=$1 uri=$2; shift 2
	env PORTHOLE_TOKEN=@"$STATE/agent.token" ECS_CONTAINER_METADATA_URI_V4="$uri" "$@" \
		"$AGENT_BIN" >"$T/$log.out" 2>"$T/$log.err" &
	PIDS+=("$!")
}

mkdir -p "$T/good" "$T/bad"
cat >"$T/good/container.json" <<JSON
{"DockerId": "$TASK-2495160603", "Name": "app", "DockerName": "app",
 "Image": "111122223333.dkr.ecr.us-west-2.amazonaws.com/api:latest",
 "Labels": {"com.amazonaws.ecs.cluster": "arn:aws:ecs:us-west-2:111122223333:cluster/prod",
            "com.amazonaws.ecs.container-name": "app",
            "com.amazonaws.ecs.task-arn": "arn:aws:ecs:us-west-2:111122223333:task/prod/$TASK",
            "com.amazonaws.ecs.task-definition-family": "api",
            "com.amazonaws.ecs.task-definition-version": "26"},
 "DesiredStatus": "RUNNING", "KnownStatus": "RUNNING", "Limits": {"CPU": 2, "Memory": 512},
 "Type": "NORMAL", "Networks": [{"NetworkMode": "awsvpc", "IPv4Addresses": ["10.0.0.108"]}]}
JSON
cat >"$T/good/task.json" <<JSON
{"Cluster": "arn:aws:ecs:us-west-2:111122223333:cluster/prod",
 "TaskARN": "arn:aws:ecs:us-west-2:111122223333:task/prod/$TASK",
 "Family": "api", "Revision": "26", "DesiredStatus": "RUNNING", "KnownStatus": "RUNNING",
 "Limits": {"CPU": 0.25, "Memory": 512}, "PullStartedAt": "2023-07-21T15:45:33.532811081Z",
 "AvailabilityZone": "us-west-2d", "LaunchType": "FARGATE", "Containers": []}
JSON
start_meta "$T/good"
start_ecs_agent good "http://127.0.0.1:$META_PORT/v4/$TASK-2495160603" PORTHOLE_LABELS=team=core,az=override

ecs_listed() { "$CLI_BIN" ls --json 2>/dev/null | jq -n -e --arg id "$1" 'input | (.agents[] | select(.id == $id))' >/dev/null; }
# The id claimed is <task>/<container>; the relay qualifies it with the
# agent token's sub (dev-agent: the dev relay's agent token).
check "agent registered as <task>/<container>@<sub>" wait_for 20 ecs_listed "$TASK/app@dev-agent"
agent=$(ph ls --json | jq -c --arg id "$TASK/app@dev-agent" '.agents[] | select(.id == $id)')
eq "its sub is listed" "$(jq -r .sub <<<"$agent")" "dev-agent"
eq "name defaults to the family" "$(jq -r .name <<<"$agent")" "api"
eq "cluster label" "$(jq -r .labels.cluster <<<"$agent")" "prod"
eq "family label" "$(jq -r .labels.family <<<"$agent")" "api"
eq "revision label" "$(jq -r .labels.revision <<<"$agent")" "26"
eq "task label" "$(jq -r .labels.task <<<"$agent")" "$TASK"
eq "container label" "$(jq -r .labels.container <<<"$agent")" "app"
eq "launch_type label" "$(jq -r .labels.launch_type <<<"$agent")" "FARGATE"
eq "PORTHOLE_LABELS override the metadata" "$(jq -r .labels.az <<<"$agent")" "override"
eq "PORTHOLE_LABELS add" "$(jq -r .labels.team <<<"$agent")" "core"

out=$(ph exec cluster=prod,family=api -- echo reached </dev/null); eq "exec by selector exit 0" $? 0
eq "exec by cluster=prod,family=api reaches it" "$out" "reached"
eq "a task id prefix reaches it" "$(ph exec "${TASK:0:12}" -- echo ok </dev/null)" "ok"

# PORTHOLE_NAME wins over the family (another task: ids are unique).
mkdir -p "$T/named"
sed "s/$TASK/0123456789abcdef0123456789abcdef/g" "$T/good/task.json" >"$T/named/task.json"
cp "$T/good/container.json" "$T/named/container.json"
start_meta "$T/named"
start_ecs_agent named "http://127.0.0.1:$META_PORT/v4/other" PORTHOLE_NAME=e2e-named \
	PORTHOLE_RESUME_TIMEOUT=5m
named_pid=$!
named_port=$META_PORT
check "PORTHOLE_NAME overrides the family" wait_for 20 agent_listed e2e-named
eq "its id is its own task's" "$(ph ls --json | jq -r '.agents[] | select(.name == "e2e-named") | .id')" \
	"0123456789abcdef0123456789abcdef/app@dev-agent"

# The agent restarted (killed, then a new process with the same id: a
# task's id outlives its agent) while a session waits to resume: the CLI
# says the agent was lost and that it waits, the new process refuses the
# resume, and the CLI ends with 255 saying the agent restarted, at once,
# not at the end of the resume timeout (5m).
"$CLI_BIN" --resume 5m exec e2e-named -- sh -c 'echo started; exec sleep 30' </dev/null \
	>"$T/rs.out" 2>"$T/rs.err" &
cli=$!
PIDS+=("$cli")
if wait_for 20 grep -q started "$T/rs.out"; then
	kill -KILL "$named_pid"
	check "restart: the CLI says the agent was lost and that it waits" \
		wait_for 30 grep -q "was lost mid-session (.*): waiting up to 5m" "$T/rs.err"
	mv "$T/named.err" "$T/named.err.1"
	start_ecs_agent named "http://127.0.0.1:$named_port/v4/other" PORTHOLE_NAME=e2e-named \
		PORTHOLE_RESUME_TIMEOUT=5m
	check "restart: the agent is back" wait_for 20 agent_listed e2e-named
	cli_gone() { ! kill -0 "$cli" 2>/dev/null; }
	check "restart: the CLI ends once the new process refuses" wait_for 60 cli_gone
	wait "$cli"; eq "restart: 255" $? 255
	contains "restart: the CLI says the agent restarted" "$(cat "$T/rs.err")" \
		"agent 0123456789abcdef0123456789abcdef/app@dev-agent restarted while the session waited to resume"
	check "restart: the new process refused the resume" grep -q "resume refused" "$T/named.err"
else
	fail "restart: the program did not start"
fi

# Malformed metadata: still connects, random id, a log line.
echo '{"Name": "app", ' >"$T/bad/container.json"
echo 'not json at all' >"$T/bad/task.json"
start_meta "$T/bad"
start_ecs_agent bad "http://127.0.0.1:$META_PORT/v4/x" PORTHOLE_NAME=e2e-ecs-bad
check "malformed metadata: agent still connects" wait_for 20 agent_listed e2e-ecs-bad
id=$(ph ls --json | jq -r '.agents[] | select(.name == "e2e-ecs-bad") | .id')
check "malformed metadata: random id ($id)" grep -Eqx '[0-9a-f]{16}@dev-agent' <<<"$id"
contains "malformed metadata is logged" "$(cat "$T/bad.err")" "ECS task metadata skipped"
eq "exec reaches the malformed-metadata agent" "$(ph exec e2e-ecs-bad -- echo ok </dev/null)" "ok"

# Unreachable endpoint (nothing listens): same.
start_ecs_agent gone "http://127.0.0.1:1/v4/x" PORTHOLE_NAME=e2e-ecs-gone
check "unreachable metadata: agent still connects" wait_for 20 agent_listed e2e-ecs-gone
contains "unreachable metadata is logged" "$(cat "$T/gone.err")" "cannot connect"
finish
