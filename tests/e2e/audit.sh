#!/usr/bin/env bash
# audit end to end: the relay's stdout carries one JSON line per event --
# agent connected/gone, sessions opened/closed (exec and shell) with who,
# from where, what, on which agent, bytes, duration and exit, refusals with
# their reason and never the token -- and X-Forwarded-For is believed only
# from a trusted proxy (127.0.0.1 here; 127.0.0.2 is an untrusted peer).
. "$(dirname "$0")/lib.sh"

command -v jq >/dev/null || { fail "jq is not installed (scripts/deps.sh installs it)"; finish; }
command -v curl >/dev/null || { fail "curl is not installed (scripts/deps.sh installs it)"; finish; }

start_relay --trusted-proxies 127.0.0.1/32
start_agent e2e-audit "team=blue,tier=web"
A=$T/relay.out
URL=https://127.0.0.1:$PORT

# n_events FILTER: how many audit lines match the jq FILTER.
n_events() { jq -c "select($1)" "$A" 2>/dev/null | wc -l; }
has_event() { [ "$(n_events "$1")" -ge "${2:-1}" ]; }
# last EVENT: the last line of that event.
last() { jq -c "select(.event == \"$1\")" "$A" | tail -1; }
# jqt JSON FILTER: the filter holds for the JSON.
jqt() { printf '%s' "$1" | jq -n -e "input | ($2)" >/dev/null; }

check "agent_connected with id, name, labels, peer, sub" wait_for 20 has_event \
	'.event == "agent_connected" and .agent.name == "e2e-audit" and .agent.labels.team == "blue"
	 and .agent.labels.tier == "web" and (.agent.id | length) > 0 and .peer == "127.0.0.1"
	 and .sub == "dev-agent"'

# --- exec: opened and closed, with everything ---
ph exec e2e-audit -- sh -c 'echo out12345; echo e >&2; exit 5' </dev/null >/dev/null 2>&1
eq "exec ran (exit 5)" $? 5
check "exec session_closed" wait_for 20 has_event '.event == "session_closed" and .op == "exec"'
closed=$(last session_closed)
sid=$(printf '%s' "$closed" | jq -r .sid)
opened=$(jq -c "select(.event == \"session_opened\" and .sid == \"$sid\")" "$A")
check "session_opened for the same sid" jqt "$opened" \
	'.sub == "dev-operator" and .peer == "127.0.0.1" and .op == "exec"
	 and .argv == ["sh", "-c", "echo out12345; echo e >&2; exit 5"]
	 and .agent.name == "e2e-audit" and .agent.labels.team == "blue" and (has("proxy") | not)'
check "session_closed: sub, peer, op, argv, agent" jqt "$closed" \
	'.sub == "dev-operator" and .peer == "127.0.0.1" and .op == "exec"
	 and .argv[2] == "echo out12345; echo e >&2; exit 5" and .agent.labels.tier == "web"'
check "session_closed: exit code 5" jqt "$closed" '.exit.code == 5'
# STDOUT "out12345\n" (9) + STDERR "e\n" (2) + ready/exit controls.
check "session_closed: bytes to the client counted" jqt "$closed" '.bytes.to_client >= 11'
check "session_closed: duration in ms" jqt "$closed" '.duration_ms >= 0 and (.duration_ms | floor) == .duration_ms'

# stdin bytes count toward the agent.
head -c 100000 /dev/zero | ph exec e2e-audit -- sh -c 'cat >/dev/null; kill -TERM $$' >/dev/null 2>&1
eq "exec killed by SIGTERM" $? 143
check "closed after SIGTERM" wait_for 20 has_event '.event == "session_closed" and .exit.signal == 15'
closed=$(last session_closed)
check "100000 stdin bytes to the agent" jqt "$closed" '.bytes.to_agent >= 100000'

# --- shell (piped: no terminal) ---
ph shell e2e-audit -- sh -c 'echo shelled; exit 4' </dev/null >/dev/null 2>&1
eq "shell ran (exit 4)" $? 4
check "shell session_closed" wait_for 20 has_event '.event == "session_closed" and .op == "shell"'
closed=$(last session_closed)
check "shell: opened line too" has_event ".event == \"session_opened\" and .op == \"shell\" and .sid == $(printf '%s' "$closed" | jq .sid)"
check "shell: sub, peer, argv, agent, bytes, exit" jqt "$closed" \
	'.sub == "dev-operator" and .peer == "127.0.0.1" and .argv == ["sh", "-c", "echo shelled; exit 4"]
	 and .agent.name == "e2e-audit" and .bytes.to_client >= 8 and .exit.code == 4'

# A client that vanishes mid-session: closed without an exit, and says so.
"$CLI_BIN" exec e2e-audit -- sleep 60 </dev/null >/dev/null 2>&1 &
cli=$!
check "the sleep session opened" wait_for 20 has_event '.event == "session_opened" and .argv == ["sleep", "60"]'
kill -KILL "$cli"
wait "$cli" 2>/dev/null
check "closed with no exit, ended by the client leaving" wait_for 20 has_event \
	'.event == "session_closed" and .argv == ["sleep", "60"] and .exit == null and .end == "client left"'

# --- refused tokens: the reason, never the token ---
good=$(cat "$STATE/operator.token")
sig=${good##*.}
bad="${good%.*}.${sig:0:10}AAAAAAAAAAAAAAAAAAAA${sig:30}"
nref=$(n_events '.event == "refused"')
PORTHOLE_TOKEN=$bad ph exec e2e-audit -- true </dev/null >/dev/null 2>"$T/bad.err"
eq "a forged token is refused (255)" $? 255
check "refused line for it" wait_for 20 has_event '.event == "refused"' $((nref + 1))
ref=$(last refused)
check "refusal says why (unauthorized, bad token)" jqt "$ref" \
	'.code == "unauthorized" and (.reason | test("token")) and .peer == "127.0.0.1" and (.what | length) > 0'
nref=$(n_events '.event == "refused"')
PORTHOLE_TOKEN=@$STATE/agent.token ph exec e2e-audit -- true </dev/null >/dev/null 2>&1
check "agent token used by a client: refused line" wait_for 20 has_event '.event == "refused"' $((nref + 1))
check "... naming the reason" jqt "$(last refused)" '.reason | test("agent token")'
agent_tok=$(cat "$STATE/agent.token")
for f in "$A" "$T/relay.err"; do
	for t in "$bad" "${bad#*.}" "${sig:0:20}" "${good#*.}" "${agent_tok##*.}"; do
		if grep -qF -- "$t" "$f"; then fail "a token (or part) is in $(basename "$f")"; fi
	done
done
ok "no token in the audit stream or the log"

# --- X-Forwarded-For ---
# xff_from SOURCE XFF: a request with a bad token (so it is refused and
# audited) from SOURCE with that header; prints the refused line.
xff_from() {
	local n
	n=$(n_events '.event == "refused"')
	curl -s --max-time 20 --interface "$1" --cacert "$PORTHOLE_CA" \
		-H "X-Forwarded-For: $2" -H "Authorization: Bearer not-a-token" \
		"$URL/v1/agents" >/dev/null
	wait_for 20 has_event '.event == "refused"' $((n + 1)) || return 1
	last refused
}
r=$(xff_from 127.0.0.2 198.51.100.7)
check "forged X-Forwarded-For from an untrusted peer: not believed" jqt "$r" \
	'.peer == "127.0.0.2" and (has("proxy") | not)'
r=$(xff_from 127.0.0.1 198.51.100.7)
check "X-Forwarded-For from a trusted proxy: believed" jqt "$r" \
	'.peer == "198.51.100.7" and .proxy == "127.0.0.1"'
r=$(xff_from 127.0.0.1 "192.0.2.66, 198.51.100.8")
check "only the last untrusted hop: a client cannot forge what it prepends" jqt "$r" \
	'.peer == "198.51.100.8"'
r=$(xff_from 127.0.0.1 "198.51.100.9, 127.0.0.1")
check "trusted hops are skipped" jqt "$r" '.peer == "198.51.100.9"'
r=$(xff_from 127.0.0.1 "nonsense")
check "a malformed header from a trusted proxy: the peer stands" jqt "$r" \
	'.peer == "127.0.0.1" and (has("proxy") | not)'

# The same on the session WebSocket (where it matters: who opened what).
probe_open() {
	local n
	n=$(n_events '.event == "refused"')
	"$PROBE_BIN" --url "$PORTHOLE_RELAY/v1/session" --ca "$PORTHOLE_CA" --token "$good" \
		--source "$1" --xff "$2" --wait-ms 10000 \
		--ctl '{"type":"open","sid":"0123456789abcdef0123456789abcdef","agent":"no-such-agent","op":"exec","argv":["true"]}' \
		>/dev/null 2>&1
	wait_for 20 has_event '.event == "refused"' $((n + 1)) || return 1
	last refused
}
r=$(probe_open 127.0.0.2 203.0.113.5)
check "session open: forged header from an untrusted peer ignored" jqt "$r" \
	'.peer == "127.0.0.2" and (has("proxy") | not)'
r=$(probe_open 127.0.0.1 203.0.113.5)
check "session open: header from a trusted proxy used" jqt "$r" \
	'.peer == "203.0.113.5" and .proxy == "127.0.0.1"'

# --- agent gone ---
kill -TERM "$AGENT_PID"
check "agent_gone with id, name, labels" wait_for 20 has_event \
	'.event == "agent_gone" and .agent.name == "e2e-audit" and .agent.labels.team == "blue"
	 and .peer == "127.0.0.1" and (.connected_secs | type) == "number"'

# --- the stream itself ---
check "every stdout line is one JSON object" sh -c "jq -e 'type == \"object\"' '$A' >/dev/null"
check "every line has an RFC 3339 UTC time with ms and an event" sh -c \
	"jq -e '(.time | test(\"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\\\.[0-9]{3}Z\$\")) and (.event | length) > 0' '$A' >/dev/null"
check "no diagnostic lines on stdout" sh -c "! grep -q 'porthole-relay:' '$A'"
check "the diagnostic log stays on stderr" grep -q 'porthole-relay: info:' "$T/relay.err"
finish
