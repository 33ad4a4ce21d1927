#!/usr/bin/env bash
# Agent identity (docs/protocol.md, "Agent identity"): an agent's id is the id
# it claims qualified with the sub of its token, so an agent token of another
# trust domain can neither take nor block a task's id.  Real agents, both
# reading the same ECS task from the stand-in metadata endpoint: the real one
# with a prod-tasks agent token, an impostor with a staging-tasks token (no
# label restriction on either: the sub alone keeps them apart).  In both orders
# both are listed under distinct ids with their subs, the real agent is never
# refused, opens by its full id, by TASK@SUB and NAME@SUB reach it and only
# it, and a bare name or task shared across subs is refused as ambiguous.  A
# hello with characters outside the rules is refused (4403), audited, and the
# agent's log says why.  An agent of protocol 1 (ph-probe) is still reached.
. "$(dirname "$0")/lib.sh"
# The stand-ins for agents of protocol 1 here do not seal: the CLI takes
# them only when told to (seal_hostile.sh tests the refusal).
export PORTHOLE_ALLOW_UNSEALED=1

META_BIN=$BUILD/tests/tools/ph-ecsmeta
TASK1=a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1
TASK2=b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2

start_relay
issue() { ph token issue --key "$STATE/signing.key" "$@"; }
issue --kind agent --sub prod-tasks >"$T/prod.token"
issue --kind agent --sub staging-tasks >"$T/staging.token"

# meta DIR TASK FAMILY: a stand-in metadata endpoint for that task; sets URI.
meta() {
	mkdir -p "$1"
	cat >"$1/container.json" <<JSON
{"DockerId": "$2-1", "Name": "app", "Labels": {}}
JSON
	cat >"$1/task.json" <<JSON
{"Cluster": "arn:aws:ecs:us-west-2:111122223333:cluster/prod",
 "TaskARN": "arn:aws:ecs:us-west-2:111122223333:task/prod/$2",
 "Family": "$3", "Revision": "7", "AvailabilityZone": "us-west-2a",
 "LaunchType": "FARGATE", "Containers": []}
JSON
	"$META_BIN" "$1" >"$1/meta.out" 2>&1 &
	PIDS+=("$!")
	wait_for 10 grep -q 'listening on' "$1/meta.out" || { fail "ph-ecsmeta did not start"; finish; }
	URI=http://127.0.0.1:$(sed -n 's/listening on //p' "$1/meta.out")/v4/$2-1
}
# agent LOG TOKENFILE ROLE [VAR=VALUE...]: an agent on metadata $URI; its
# programs see ROLE, so a test can tell where a command ran.
agent() {
	local log=$1 tok=$2 role=$3; shift 3
	env PORTHOLE_TOKEN=@"$tok" ECS_CONTAINER_METADATA_URI_V4="$URI" ROLE="$role" "$@" \
		"$AGENT_BIN" >"$T/$log.out" 2>"$T/$log.err" &
	PIDS+=("$!")
	LAST_PID=$!
}
listed() { "$CLI_BIN" ls --json 2>/dev/null | jq -n -e --arg id "$1" 'input | (.agents[] | select(.id == $id))' >/dev/null; }
sub_of() { ph ls --json | jq -r --arg id "$1" '.agents[] | select(.id == $id) | .sub'; }
# where TARGET: the ROLE of the agent an exec on TARGET ran on.
where() { ph exec "$1" -- sh -c 'echo "$ROLE"' </dev/null 2>"$T/where.err"; }
# audit_has JQ-ARGS...: a line of the audit stream matches (the relay may be
# writing the next line while jq reads: callers retry with wait_for).
audit_has() { jq -e "$@" "$T/relay.out" >/dev/null 2>&1; }
# audit_opened ID: sessions the relay opened on agent ID.
audit_opened() { grep '"event":"session_opened"' "$T/relay.out" | grep -cF "\"agent\":{\"id\":\"$1\""; }
# refused_ambiguous NAME TARGET: exit 255, one line naming both subs' agents.
refused_ambiguous() {
	local out rc
	out=$(ph exec "$2" -- sh -c 'echo "ran on $ROLE"' </dev/null 2>&1); rc=$?
	eq "$1: exit 255" $rc 255
	contains "$1: ambiguous" "$out" "matches 2 agents"
	contains "$1: names the real one" "$out" "@prod-tasks"
	contains "$1: names the impostor" "$out" "@staging-tasks"
	case $out in *"ran on"*) fail "$1: something ran";; *) ok "$1: nothing ran";; esac
}

# --- impostor first, then the real agent ------------------------------------
meta "$T/m1" "$TASK1" api
agent imp1 "$T/staging.token" impostor
check "impostor (staging) listed as $TASK1/app@staging-tasks" wait_for 20 listed "$TASK1/app@staging-tasks"
agent real1 "$T/prod.token" real
check "real agent (prod) listed as $TASK1/app@prod-tasks after it" wait_for 20 listed "$TASK1/app@prod-tasks"
check "the impostor is still listed: both held" listed "$TASK1/app@staging-tasks"
eq "ls --json: the real agent's sub" "$(sub_of "$TASK1/app@prod-tasks")" prod-tasks
eq "ls --json: the impostor's sub" "$(sub_of "$TASK1/app@staging-tasks")" staging-tasks
check "real agent's log: connected under its full id" \
	grep -q "connected to relay .* as $TASK1/app@prod-tasks" "$T/real1.err"
check "real agent was never refused" sh -c "! grep -q 'refused the agent' '$T/real1.err'"
table=$(ph ls)
contains "ls has a SUB column" "$(head -1 <<<"$table")" "SUB"
check "ls row of the real agent shows its sub" \
	grep -Eq "^$TASK1/app@prod-tasks +api +prod-tasks " <<<"$table"
check "ls row of the impostor shows its sub" \
	grep -Eq "^$TASK1/app@staging-tasks +api +staging-tasks " <<<"$table"

eq "exec by the real full id runs on the real agent" "$(where "$TASK1/app@prod-tasks")" real
eq "exec by TASK@SUB runs on the real agent" "$(where "$TASK1@prod-tasks")" real
eq "exec by a task prefix@SUB runs on the real agent" "$(where "${TASK1:0:8}@prod-tasks")" real
eq "exec by NAME@SUB runs on the real agent" "$(where "api@prod-tasks")" real
eq "exec by the impostor's own full id reaches the impostor" \
	"$(where "$TASK1/app@staging-tasks")" impostor
refused_ambiguous "bare task id shared across subs" "$TASK1"
refused_ambiguous "bare name shared across subs" api
refused_ambiguous "claimed id without its sub" "$TASK1/app"
out=$(ph exec --all api -- sh -c 'echo "ran on $ROLE"' </dev/null 2>&1); rc=$?
eq "exec --all by a name shared across subs: exit 255" $rc 255
contains "exec --all by a shared name: says why" "$out" "different token subs"
case $out in *"ran on"*) fail "exec --all by a shared name: something ran";; *) ok "exec --all by a shared name: nothing ran";; esac
eq "exec --all by NAME@SUB runs on the real agent only" \
	"$(ph exec --all api@prod-tasks -- sh -c 'echo "$ROLE"' </dev/null)" "api: real"

# On a terminal the CLI says which agent a name or prefix chose (not for a full id).
said=$(script -qec "$CLI_BIN exec api@prod-tasks -- true" /dev/null </dev/null | tr -d '\r')
contains "a name on a terminal: says the id and sub" "$said" \
	"porthole: 'api@prod-tasks' is $TASK1/app@prod-tasks (name api, sub prod-tasks)"
said=$(script -qec "$CLI_BIN exec $TASK1/app@prod-tasks -- true" /dev/null </dev/null | tr -d '\r')
case $said in *" is "*) fail "a full id: no resolution line: $said";; *) ok "a full id: no resolution line";; esac

eq "the relay opened 1 session on the impostor (its own full id only)" \
	"$(audit_opened "$TASK1/app@staging-tasks")" 1
check "the impostor ran only what was meant for it" \
	sh -c "[ \$(grep -c 'session .*: exec for' '$T/imp1.err') -eq 1 ]"

# --- the real agent first, then the impostor --------------------------------
meta "$T/m2" "$TASK2" web
agent real2 "$T/prod.token" real
real2=$LAST_PID
check "real agent listed as $TASK2/app@prod-tasks" wait_for 20 listed "$TASK2/app@prod-tasks"
agent imp2 "$T/staging.token" impostor
check "impostor listed as $TASK2/app@staging-tasks after it" wait_for 20 listed "$TASK2/app@staging-tasks"
check "the real agent is still listed" listed "$TASK2/app@prod-tasks"
check "the real agent's connection was never replaced nor refused" \
	sh -c "! grep '\"event\":\"agent_gone\"' '$T/relay.out' | grep -qF '$TASK2/app@prod-tasks'"
check "the real agent logged no refusal nor reconnect" \
	sh -c "! grep -Eq 'refused the agent|lost the control channel' '$T/real2.err'"
eq "exec by the real full id runs on the real agent" "$(where "$TASK2/app@prod-tasks")" real
eq "exec by NAME@SUB runs on the real agent" "$(where "web@prod-tasks")" real
refused_ambiguous "bare name shared across subs (real first)" web
check "the impostor never received an open" sh -c "! grep -q 'session ' '$T/imp2.err'"
eq "the relay opened no session on the impostor" "$(audit_opened "$TASK2/app@staging-tasks")" 0

# Within one sub the rule stays: another process with the prod token claiming
# the same id is refused (4409) and audited; the holder keeps serving.
agent rival "$T/prod.token" rival
check "same sub, another process: refused as a conflict" \
	wait_for 20 grep -q "conflict: agent id $TASK2/app@prod-tasks is held by another agent process" "$T/rival.err"
check "the conflict is audited with the claim and the sub" wait_for 10 audit_has --arg id "$TASK2/app" \
	'select(.event == "refused" and .code == "conflict" and .claim.id == $id and .sub == "prod-tasks")'
eq "the holder still serves" "$(where "$TASK2/app@prod-tasks")" real
check "the holder is the process that came first" kill -0 "$real2"

# --- hellos outside the character rules ---------------------------------------
# refused_hello NAME WANT VAR=VALUE...: a dev agent with those settings is
# refused: its log says why, the refusal is audited, it is never listed.
refused_hello() {
	local name=$1 want=$2; shift 2
	env PORTHOLE_TOKEN=@"$STATE/agent.token" "$@" "$AGENT_BIN" >"$T/$name.out" 2>"$T/$name.err" &
	local pid=$!; PIDS+=("$pid")
	check "$name: agent log says why" wait_for 20 grep -qF -- "$want" "$T/$name.err"
	check "$name: refused 4403 forbidden" grep -q "refused the agent: forbidden:" "$T/$name.err"
	check "$name: audited" wait_for 10 audit_has --arg w "$want" \
		'select(.event == "refused" and .what == "agent hello" and .code == "forbidden" and (.reason | contains($w)))'
	check "$name: never listed" sh -c "l=\$(\"$CLI_BIN\" ls --json) && ! printf '%s' \"\$l\" | jq -n -e --arg n \"\$1\" 'input | (.agents[] | select(.name == \$n))' >/dev/null" _ "$NAME_NOW"
	kill "$pid" 2>/dev/null
}
NAME_NOW='bad name'
refused_hello bad-name 'agent name "bad name" is not allowed: agent names hold' PORTHOLE_NAME="$NAME_NOW"
NAME_NOW=ok-name
refused_hello bad-label 'label value of label team "a b" is not allowed' PORTHOLE_NAME=$NAME_NOW PORTHOLE_LABELS='team=a b'
NAME_NOW=$'x\e[31mred'
refused_hello esc-name 'agent name "x\x1b[31mred" is not allowed' PORTHOLE_NAME="$NAME_NOW"
check "no escape byte reached the relay's log or audit" \
	sh -c "! grep -q \$(printf '\\033') '$T/relay.err' '$T/relay.out'"

# --- an agent of protocol 1 (knows only its claimed id) -------------------------
URL=wss://127.0.0.1:$PORT
"$PROBE_BIN" --url "$URL/v1/agent" --ca "$PORTHOLE_CA" --token "@$STATE/agent.token" \
	--proto porthole.control.v1 --wait-ms 30000 \
	--ctl '{"type":"hello","proto":1,"id":"legacy-1","name":"legacy","version":"0.1","instance":"i1","labels":{}}' \
	>"$T/old.out" 2>&1 &
old=$!; PIDS+=("$old")
check "a protocol 1 agent is listed under its full id" wait_for 20 listed "legacy-1@dev-agent"
ph exec legacy-1@dev-agent -- true </dev/null >/dev/null 2>"$T/old-cli.err" &
cli=$!
check "its open arrives" wait_for 20 grep -q '"type":"open"' "$T/old.out"
open=$(sed -n 's/^recv CONTROL //p' "$T/old.out" | grep '"type":"open"' | head -1)
eq "the open names the id it knows" "$(jq -r .agent <<<"$open")" legacy-1
eq "and its sub, for the relay" "$(jq -r .agent_sub <<<"$open")" dev-agent
kill "$old" 2>/dev/null
wait "$cli"
# A CLI that names it by its full id (an older CLI) is told to upgrade.
sid=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$PROBE_BIN" --url "$URL/v1/agent" --ca "$PORTHOLE_CA" --token "@$STATE/agent.token" \
	--proto porthole.control.v1 --wait-ms 30000 \
	--ctl '{"type":"hello","proto":1,"id":"legacy-2","name":"legacy","version":"0.1","instance":"i2","labels":{}}' \
	>"$T/old2.out" 2>&1 &
PIDS+=("$!")
wait_for 20 listed "legacy-2@dev-agent"
out=$("$PROBE_BIN" --url "$URL/v1/session" --ca "$PORTHOLE_CA" --proto porthole.session.v1 \
	--token "@$STATE/operator.token" --sign "$STATE/operator.key" --wait-ms 8000 \
	--ctl "{\"type\":\"open\",\"sid\":\"$sid\",\"agent\":\"legacy-2@dev-agent\",\"op\":\"exec\",\"argv\":[\"true\"],\"stdin\":false}")
contains "an open by full id for a protocol 1 agent: 4426" "$out" "close 4426"
contains "and says to upgrade the CLI" "$out" "upgrade the CLI"
check "it never reached the agent" sh -c "! grep -q '\"type\":\"open\"' '$T/old2.out'"
finish
