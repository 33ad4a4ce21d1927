#!/usr/bin/env bash
# Resume (docs/protocol.md, "Resume"): a sealed session survives its
# connections dropping.  The relay killed with SIGKILL mid-stream of an
# exec and started again 2 s later; a TCP proxy between the CLI and the
# relay (tests/tools/ph-cutproxy.py) that cuts the connection 20 times
# during a large exec; a resume whose proof is wrong (another process that
# holds none of the session's keys), and one of another token subject:
# refused and audited, while the session waits for its real client; and a
# resume after the agent's resume timeout passed, refused and audited.
# Output byte-identical to a local run, exit code kept.
. "$(dirname "$0")/lib.sh"
# Resume on both ends (the default), whatever PORTHOLE_TEST_RESUME says.
export PORTHOLE_RESUME_TIMEOUT=5m

CUT=$(cd "$(dirname "$0")/../tools" && pwd)/ph-cutproxy.py
command -v python3 >/dev/null || { fail "python3 is needed (scripts/deps.sh installs it)"; finish; }

RELAY_LISTEN=127.0.0.1:0
start_relay
start_agent e2e-resume
addr=127.0.0.1:$PORT

# cutproxy ARGS: the proxy in front of the relay; sets CPORT, CUT_PID.
cutproxy() {
	# Both emptied first: the last proxy's "listening" line must not be
	# read before the new process has truncated the file itself.
	: >"$T/cut.err"
	: >"$T/cut.out"
	python3 "$CUT" --upstream "$addr" "$@" >"$T/cut.out" 2>"$T/cut.err" &
	CUT_PID=$!
	PIDS+=("$CUT_PID")
	wait_for 20 grep -q '^listening [0-9][0-9]*$' "$T/cut.out" || { fail "ph-cutproxy did not start"; finish; }
	CPORT=$(sed -n 's/^listening //p' "$T/cut.out")
}
phc() { PORTHOLE_RELAY=wss://127.0.0.1:$CPORT "$CLI_BIN" "$@"; }

# 1. kill -9 of the relay mid-stream, restarted after 2 s.
# The sanitizer build moves bytes ~10x slower: smaller streams there.
if sanitizer; then N=${RESUME_SEQ:-500000}; else N=${RESUME_SEQ:-3000000}; fi
seq 1 "$N" >"$T/want"
# A pause mid-way, so the kill lands mid-stream however fast the machine.
ph exec e2e-resume -- sh -c "seq 1 $((N / 2)); sleep 4; seq $((N / 2 + 1)) $N; exit 7" </dev/null >"$T/out" 2>"$T/err" &
cli=$!
wait_for 60 sh -c "[ \$(stat -c %s '$T/out' 2>/dev/null || echo 0) -gt 100000 ]" || fail "no output before the kill"
kill -KILL "$RELAY_PID"
wait "$RELAY_PID" 2>/dev/null
sleep 2
restart_relay
wait "$cli"; rc=$?
eq "relay kill -9: the exit code is kept" "$rc" 7
check "relay kill -9: output byte-identical to the local run" cmp -s "$T/out" "$T/want"
check "relay kill -9: the output was cut mid-stream" grep -q "holding the session" "$T/agent-e2e-resume.err"
check "relay kill -9: the agent says it resumed" grep -q "resumed after" "$T/agent-e2e-resume.err"
check "relay kill -9: the new relay audits the resume" grep -q '"session_resumed"' "$T/relay.out"
wait_for 60 agent_listed e2e-resume || fail "the agent did not come back"

# 2. A proxy that cuts the connection 20 times during a large exec.
if sanitizer; then M=${RESUME_BYTES:-20000000}; else M=${RESUME_BYTES:-100000000}; fi
head -c "$M" /dev/zero | tr '\0' 'x' >"$T/want2" 2>/dev/null || true
cutproxy --cut-bytes $((M / 25)) --cuts 20
phc exec e2e-resume -- sh -c "head -c $M /dev/zero | tr '\\0' x" </dev/null >"$T/out2" 2>"$T/err2"; rc=$?
eq "20 cuts: exit 0" "$rc" 0
eq "20 cuts: the proxy cut 20 times" "$(grep -c '^cut ' "$T/cut.err")" 20
check "20 cuts: output byte-identical" cmp -s "$T/out2" "$T/want2"
kill "$CUT_PID" 2>/dev/null; wait "$CUT_PID" 2>/dev/null

# The CLI's --resume DUR does what PORTHOLE_RESUME_TIMEOUT does, and wins
# over it: with the variable 0, the first cut ends the session (255); with
# --resume 5m as well, and with neither (the default, 5m), the same cuts
# are resumed through.
head -c 4000000 /dev/zero | tr '\0' y >"$T/want3"
cutproxy --cut-bytes 1000000 --cuts 2
PORTHOLE_RESUME_TIMEOUT=0 phc exec e2e-resume -- sh -c "head -c 4000000 /dev/zero | tr '\\0' y" \
	</dev/null >"$T/out3" 2>"$T/err3"; rc=$?
eq "PORTHOLE_RESUME_TIMEOUT=0: the cut ends the session" "$rc" 255
kill "$CUT_PID" 2>/dev/null; wait "$CUT_PID" 2>/dev/null
for how in "--resume 5m" default; do
	cutproxy --cut-bytes 1000000 --cuts 2
	if [ "$how" = default ]; then
		PORTHOLE_RESUME_TIMEOUT= phc exec e2e-resume -- sh -c "head -c 4000000 /dev/zero | tr '\\0' y" \
			</dev/null >"$T/out3" 2>"$T/err3"; rc=$?
	else
		PORTHOLE_RESUME_TIMEOUT=0 phc --resume 5m exec e2e-resume -- sh -c "head -c 4000000 /dev/zero | tr '\\0' y" \
			</dev/null >"$T/out3" 2>"$T/err3"; rc=$?
	fi
	eq "$how: exit 0 across 2 cuts" "$rc" 0
	eq "$how: the proxy cut twice" "$(grep -c '^cut ' "$T/cut.err")" 2
	check "$how: output byte-identical" cmp -s "$T/out3" "$T/want3"
	kill "$CUT_PID" 2>/dev/null; wait "$CUT_PID" 2>/dev/null
done
# A CLI with resume off and an agent with it on: past the agent's 4 MiB of
# records kept for a resume nothing stalls (the CLI's open says it will not
# reconnect, and it would acknowledge an agent that keeps records anyway).
n=$(PORTHOLE_RESUME_TIMEOUT=0 timeout 120 "$CLI_BIN" exec e2e-resume -- head -c 12000000 /dev/zero </dev/null | wc -c)
eq "resume off on the CLI only: 12 MB stream through" "$n" 12000000
PORTHOLE_RESUME_TIMEOUT= "$CLI_BIN" --resume soon exec e2e-resume -- true </dev/null 2>"$T/err4b"
eq "--resume with no duration: 255" $? 255
contains "--resume with no duration: says what it wants" "$(cat "$T/err4b")" "--resume soon: a duration from 1s to 24h"

# cp both ways shares the session's transport: 8 cuts each way, byte-exact.
if sanitizer; then head -c 12M /dev/urandom >"$T/cpsrc"; else head -c 40M /dev/urandom >"$T/cpsrc"; fi
mkdir -p "$T/remote" "$T/local"
cutproxy --cut-bytes $(($(stat -c %s "$T/cpsrc") / 10)) --cuts 8
phc cp "$T/cpsrc" "e2e-resume:$T/remote/cpsrc" </dev/null 2>"$T/cperr"; eq "cp put across 8 cuts: exit 0" $? 0
eq "cp put: the proxy cut 8 times" "$(grep -c '^cut ' "$T/cut.err")" 8
check "cp put: byte-exact" cmp -s "$T/cpsrc" "$T/remote/cpsrc"
kill "$CUT_PID" 2>/dev/null; wait "$CUT_PID" 2>/dev/null
cutproxy --cut-bytes $(($(stat -c %s "$T/cpsrc") / 10)) --cuts 8
phc cp "e2e-resume:$T/remote/cpsrc" "$T/local/cpsrc" </dev/null 2>"$T/cperr2"; eq "cp get across 8 cuts: exit 0" $? 0
eq "cp get: the proxy cut 8 times" "$(grep -c '^cut ' "$T/cut.err")" 8
check "cp get: byte-exact" cmp -s "$T/cpsrc" "$T/local/cpsrc"
kill "$CUT_PID" 2>/dev/null; wait "$CUT_PID" 2>/dev/null

# 3. A held session: forged resumes are refused, the real client comes back.
cutproxy
: >"$T/out3"
phc exec e2e-resume -- sh -c 'echo started; sleep 6; echo done; exit 3' </dev/null >"$T/out3" 2>"$T/err3" &
cli=$!
wait_for 30 grep -q started "$T/out3" || fail "the session did not start"
sid=$(grep '"session_opened"' "$T/relay.out" | grep 'echo started; sleep 6' | sed -n 's/.*"sid":"\([0-9a-f]*\)".*/\1/p' | tail -1)
aid=$(grep '"session_opened"' "$T/relay.out" | grep 'echo started; sleep 6' | sed -n 's/.*"agent":{"id":"\([^"]*\)".*/\1/p' | tail -1)
kill -USR2 "$CUT_PID"	# the path goes down: the client cannot come back yet
wait_for 30 grep -q "session ${sid:0:8}: the channel to the client is gone" "$T/agent-e2e-resume.err" || fail "the agent did not hold the session"
FORGE=$(cd "$(dirname "$0")/../tools" && pwd)/ph-resume-forge.py
python3 "$FORGE" --relay "$addr" --ca "$PORTHOLE_CA" --token "$PORTHOLE_TOKEN" --sid "$sid" --agent "$aid" >"$T/forge" 2>&1
check "wrong proof: the agent proved itself first" grep -q '^proof$' "$T/forge"
check "wrong proof: refused, unauthorized" grep -q '^error unauthorized .*proof does not verify' "$T/forge"
check "wrong proof: closed 4401" grep -q '^close 4401$' "$T/forge"
check "wrong proof: audited" grep -q '"session_resume_refused".*"code":"unauthorized"' "$T/relay.out"
ph token issue --key "$STATE/signing.key" --kind client --sub mallory --bind "$STATE/operator.key" >"$T/mallory.token" 2>"$T/mallory.err" || fail "cannot issue a token for mallory"
python3 "$FORGE" --relay "$addr" --ca "$PORTHOLE_CA" --token "@$T/mallory.token" --sid "$sid" --agent "$aid" >"$T/forge2" 2>&1
check "another subject: refused, forbidden" grep -q '^error forbidden .*another token subject' "$T/forge2"
check "another subject: no proof from the agent" sh -c "! grep -q '^proof$' '$T/forge2'"
check "another subject: audited" grep -q '"session_resume_refused".*"sub":"mallory".*"code":"forbidden"' "$T/relay.out"
kill -USR2 "$CUT_PID"	# the path is back
wait "$cli"; rc=$?
eq "held session: the real client resumed, exit code kept" "$rc" 3
eq "held session: its output" "$(cat "$T/out3")" "$(printf 'started\ndone')"
kill "$CUT_PID" 2>/dev/null; wait "$CUT_PID" 2>/dev/null

# 4. A client that cannot come back within the resume timeout: 255, says why.
cutproxy
PORTHOLE_RESUME_TIMEOUT=3s phc exec e2e-resume -- sh -c 'echo started; sleep 6; echo late' </dev/null >"$T/out4" 2>"$T/err4" &
cli=$!
wait_for 30 grep -q started "$T/out4" || fail "the session did not start"
kill -USR2 "$CUT_PID"
wait "$cli"; rc=$?
eq "resume timeout: exit 255" "$rc" 255
contains "resume timeout: says why" "$(cat "$T/err4")" "could not be resumed within 3s"
eq "resume timeout: nothing after the cut" "$(cat "$T/out4")" started
kill "$CUT_PID" 2>/dev/null; wait "$CUT_PID" 2>/dev/null

# 5. The agent's resume timeout passes first: it ends the session (its
# program stopped), and the client's resume afterwards is refused, audited.
PORTHOLE_RESUME_TIMEOUT=3s start_agent e2e-resume-ttl
cutproxy
phc exec e2e-resume-ttl -- sh -c 'echo started; exec sleep 37.25' </dev/null >"$T/out5" 2>"$T/err5" &
cli=$!
wait_for 30 grep -q started "$T/out5" || fail "the session did not start"
check "agent timeout: the program runs" eval 'pgrep -f "^sleep 37.25" >/dev/null'
kill -USR2 "$CUT_PID"	# down: longer than the agent's 3 s
check "agent timeout: the agent ends the session after 3s" \
	wait_for 30 grep -q "the client did not come back within 3s" "$T/agent-e2e-resume-ttl.err"
check "agent timeout: the program is stopped" wait_for 30 eval '! pgrep -f "^sleep 37.25" >/dev/null'
kill -USR2 "$CUT_PID"	# up: the client tries its resume
wait "$cli"; rc=$?
eq "agent timeout: the client's resume ends 255" "$rc" 255
contains "agent timeout: the client says the agent holds no such session" "$(cat "$T/err5")" "holds no such session"
check "agent timeout: the refusal is audited" grep -q '"session_resume_refused".*"code":"resume_failed"' "$T/relay.out"
kill "$CUT_PID" 2>/dev/null; wait "$CUT_PID" 2>/dev/null

finish
