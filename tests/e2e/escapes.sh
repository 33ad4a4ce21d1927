#!/usr/bin/env bash
# Terminal escapes from the network never reach the operator's terminal or a
# log line (issue 14, findings 4 and 6).
#
# A hostile relay (tests/tools/ph-evilrelay) lists agents whose ids, names,
# labels and versions hold ESC sequences, C1 controls and newlines, and
# answers sessions with crafted frames: ps and mem documents with escapes in
# state, cgroup path, user and command, an `error` and an `exit` message with
# escapes, a close reason of raw bytes, a dump whose "done" carries a forged
# sha256, cp streams with escapes in a refused name and in the exit message,
# and an error body for /v1/agents.  Every CLI command's stdout and stderr
# (ls, ls --json, ps, ps --json, ps --all, mem, mem --json, dump, cp, exec,
# exec --all) must hold no C0 byte but tab and newline, no DEL and no C1
# (raw, or UTF-8 C2 80..C2 9F) -- the output streams of exec themselves
# excepted (none are sent here).  Console completion offers no name that
# holds an escape.
#
# Then real ones: a process whose argv and comm hold ESC and C1 shows in
# `ps` escaped (and a non-UTF-8 argv does not break ps for everyone), and a
# real agent named with a newline, ESC and DEL leaves the relay's stderr log
# one "porthole-relay: " line per event and its audit lines clean JSON.
. "$(dirname "$0")/lib.sh"
# The hostile agents and relays here answer in the clear, as agents before
# protocol 4 do: the CLI takes them only when told to (seal_hostile.sh
# tests the refusal).
export PORTHOLE_ALLOW_UNSEALED=1
EVIL_BIN=$BUILD/tests/tools/ph-evilrelay

# safe NAME: NAME's stdout and stderr are to be checked by verdicts.
SAFE=()
safe() { SAFE+=("$1.out" "$1.err"); }
# verdicts: one check per file listed by safe: no byte a terminal acts on
# (C0 but tab and newline, DEL, C1 raw or as UTF-8), in one python run.
verdicts() {
	local v f why
	python3 - "$T" "${SAFE[@]}" >"$T/verdicts" <<'PY'
import sys
for name in sys.argv[2:]:
    s = open(sys.argv[1] + '/' + name, 'rb').read().decode('utf-8', 'surrogateescape')
    bad = [(i, ord(c)) for i, c in enumerate(s) if (ord(c) < 0x20 and c not in '\t\n')
           or 0x7f <= ord(c) <= 0x9f or 0xdc80 <= ord(c) <= 0xdc9f]
    if not bad:
        print('ok', name)
    else:
        i = bad[0][0]
        print('bad', name, '%d unsafe, first %s near %r' % (len(bad), hex(bad[0][1]),
              s[max(0, i - 24):i + 8]))
PY
	while read -r v f why; do
		if [ "$v" = ok ]; then ok "$f holds no terminal controls"
		else fail "$f holds terminal controls: $why"; fi
	done <"$T/verdicts"
	SAFE=()
}
# run NAME CMD...: the CLI's stdout and stderr into $T/NAME.out, .err; sets
# rc; both are checked by the next verdicts.
run() {
	local n=$1; shift
	"$CLI_BIN" "$@" >"$T/$n.out" 2>"$T/$n.err"
	rc=$?
	safe "$n"
}
has() { grep -qF -- "$2" "$T/$1"; }

# --- a hostile relay --------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=evil -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$T/evil.key" -out "$T/evil.pem" 2>/dev/null
"$CLI_BIN" token keygen -o "$T/issuer.key" >/dev/null
"$CLI_BIN" token keygen -o "$T/client.key" >/dev/null
"$CLI_BIN" token issue --key "$T/issuer.key" --kind client --sub evil-test \
	--bind "$T/client.key.pub" >"$T/client.token"

# The dump's file: "hello", zstd-compressed, as \xHH escapes for the script.
zhex=$(printf hello | zstd -q -c | od -An -tx1 -v | tr -d ' \n' | sed 's/../\\x&/g')

# Agents: evil-a and evil-b hostile in every member; two names for completion.
E='\u001b'
cat >"$T/evil.script" <<EOF
agents 200 {"agents":[{"id":"evil-a$E[1m","name":"web$E]0;owned\u0007\nFORGED: line\u009b31m","labels":{"grp":"evil","k$E[1m":"v\u009d0;t\u009c$E[2J"},"version":"1.0$E[2J\u0085","proto":1,"connected_since":1},{"id":"evil-b\u009b1m","name":"db\u009b31m$E[5m\u007f","labels":{"grp":"evil"},"version":"2\r\n","proto":1,"connected_since":1},{"id":"other-c","name":"e2e-esc-ok","labels":{},"version":"1","proto":1,"connected_since":1},{"id":"other-d","name":"e2e-esc$E[31mbad","labels":{},"version":"1","proto":1,"connected_since":1}]}

# ps: escapes in the cgroup path, user, state and command (JSON: valid UTF-8).
session ps
ctl {"type":"ready"}
stdout {"time":1,"interval_ms":500,"cgroup":{"version":2,"usage":1024,"limit":4096,"path":"/cg$E[31m\u009b2J"},"processes":[{"pid":1,"ppid":0,"uid":0,"user":"ro\u009bot$E[1m","state":"S$E[5m","cpu":0.1,"rss_kib":10,"threads":1,"fds":3,"start":1,"comm":"c\u009b$E","command":"evil$E]52;c;aGk=\u0007cmd\u009b\u007f","kernel":false}]}
ctl {"type":"exit","code":0}

# mem: a sample with an escape in a string, then raw C1 and ESC on STDERR.
session mem
ctl {"type":"ready"}
stdout {"t":1.5,"pid":1,"rss":10,"pss":null,"anon":1,"file":1,"shmem":0,"swap":0,"peak":10,"threads":1,"cg_usage":0,"cg_limit":0,"note":"n$E[31m\u009b\u007f"}\n
stderr \x9b31m\e[2Jprocess 1 has exited\nFORGED: line\n
ctl {"type":"exit","code":255}

# dump: a whole, good stream, but "done" carries a forged sha256 with ESC.
session dump
ctl {"type":"ready","pid":9}
stderr {"event":"start","kind":"core","mode":"snap$E[1mshot","reason":"r\u009b","pause_us":1}\n
data $zhex
stderr {"event":"done","bytes":5,"sha256":"$E[31m$E]0;x\u0007aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}\n
ctl {"type":"exit","code":0}

# cp from evil-a: the stream's second component holds an escape, the third is "..".
session cp evil-a\e[1m
ctl {"type":"ready"}
ctl {"type":"meta","path":"wanted/d$E[31m\u009b/../x","kind":"file","mode":420,"size":1,"mtime":1}
data x
ctl {"type":"meta","path":"wanted/d$E[31m\u009b/../x","sha256":"2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"}
ctl {"type":"meta","kind":"end"}
ctl {"type":"exit","code":0}

# cp from evil-b: refused with escapes in the exit message.
session cp
ctl {"type":"exit","code":1,"message":"no such file$E[2J\u009b\nFORGED: line"}

# exec on evil-a: an error frame with escapes, then a close of raw bytes.
session exec evil-a\e[1m
ctl {"type":"error","code":"forbidden$E[1m","message":"not you$E]0;x\u0007\u009b\nFORGED: line"}
close 4403 \x9b\e[31mreason\nFORGED

# exec on evil-b: an exit whose message clears the screen.
session exec evil-b\xc2\x9b1m
ctl {"type":"ready"}
ctl {"type":"exit","code":3,"message":"bye$E[2J$E[H\u009b\u007f"}

# exec on anything else: closed with a raw reason and no error frame.
session exec
close 4000 \x9b\e]0;gone\x07\nFORGED
EOF
"$EVIL_BIN" --cert "$T/evil.pem" --key "$T/evil.key" --script "$T/evil.script" \
	>"$T/evil.out" 2>"$T/evil.err" &
PIDS+=("$!")
check "the hostile relay started" wait_for 20 grep -q '^listening [0-9]' "$T/evil.out"
EPORT=$(awk '/^listening/ { print $2; exit }' "$T/evil.out")

# The CLI pointed at it, with a token and key it accepts unseen.
export PORTHOLE_RELAY=wss://127.0.0.1:$EPORT PORTHOLE_CA=$T/evil.pem
export PORTHOLE_TOKEN=@$T/client.token PORTHOLE_KEY=$T/client.key

run ls ls; eq "ls exit" "$rc" 0
check "ls shows the name escaped" has ls.out 'web\x1b]0;owned\x07\nFORGED: line\u009b31m'
check "ls shows labels and version escaped" sh -c "grep -qF 'k\\x1b[1m=v\\u009d0;t\\u009c\\x1b[2J' '$T/ls.out' && grep -qF '1.0\\x1b[2J\\u0085' '$T/ls.out'"
check "no forged line in ls" sh -c "! grep -q '^FORGED' '$T/ls.out'"

run lsjson ls --json; eq "ls --json exit" "$rc" 0
check "ls --json still parses, names intact" jq -n -e \
	'input | any(.agents[].name; . == "db\u009b31m\u001b[5m\u007f")' "$T/lsjson.out"

run ps ps evil-a; eq "ps exit" "$rc" 0
check "ps shows cgroup path, user, state and command escaped" sh -c "
	grep -qF '/cg\\x1b[31m\\u009b2J' '$T/ps.out' && grep -qF 'ro\\u009bot' '$T/ps.out' &&
	grep -qF 'S\\x1b[5m' '$T/ps.out' && grep -qF 'evil\\x1b]52;c;aGk=\\x07cmd\\u009b\\x7f' '$T/ps.out'"
run psjson ps evil-a --json; eq "ps --json exit" "$rc" 0
run psall ps --all grp=evil; eq "ps --all exit" "$rc" 0
check "ps --all prefixes lines with the escaped name" has psall.out 'db\u009b31m\x1b[5m\x7f: memory:'
check "no forged line in ps --all" sh -c "! grep -q '^FORGED' '$T/psall.out'"
run psalljson ps --all grp=evil --json; eq "ps --all --json exit" "$rc" 0

run mem mem evil-a 1 --for 1s; eq "mem exit" "$rc" 255
check "mem's failure is one line, escaped" sh -c "[ \$(wc -l <'$T/mem.err') = 1 ] && grep -qF '\\x9b31m\\x1b[2Jprocess 1 has exited\\nFORGED: line' '$T/mem.err'"
run memjson mem evil-a 1 --json; eq "mem --json exit" "$rc" 255
check "mem --json prints the sample" has memjson.out '"pid":1'

if [ -n "$zhex" ]; then
	mkdir -p "$T/dumps"
	run dump dump evil-a 9 -o "$T/dumps/core"; eq "dump exit" "$rc" 255
	check "dump names the forged sha256 escaped" has dump.err 'sha256 \x1b[31m\x1b]0;x\x07aaaa'
	check "dump left no file" sh -c "[ -z \"\$(ls -A '$T/dumps')\" ]"
else
	log "no zstd command: dump case skipped"
fi

mkdir -p "$T/cpdst"
run cpa cp evil-a:/srv/wanted "$T/cpdst"; eq "cp (bad name) exit" "$rc" 255
check "cp's error quotes the name escaped" has cpa.err 'd\x1b[31m\u009b'
run cpb cp evil-b:/srv/wanted "$T/cpdst"; eq "cp (exit message) exit" "$rc" 255
check "cp's error gives the message escaped" has cpb.err 'no such file\x1b[2J\u009b\nFORGED: line'

run execa exec evil-a -- true; eq "exec (error frame) exit" "$rc" 255
check "exec's error gives the message escaped" has execa.err 'not you\x1b]0;x\x07\u009b\nFORGED: line'
check "exec's error names the agent escaped" has execa.err 'evil-a\x1b[1m'
run execb exec evil-b -- true; eq "exec (exit message) exit" "$rc" 3
check "exec prints the exit message escaped" has execb.err 'bye\x1b[2J\x1b[H\u009b\x7f'
run execc exec other-c -- true; eq "exec (raw close reason) exit" "$rc" 255
check "exec's error gives the close reason escaped" has execc.err '\x9b\x1b]0;gone\x07\nFORGED'
run execall exec --all grp=evil -- true; eq "exec --all exit" "$rc" 255
check "exec --all names the failed agent escaped" has execall.err 'porthole: web\x1b]0;owned\x07\nFORGED: line\u009b31m: exec failed: not you\x1b]0;x\x07'
run execalljson exec --all grp=evil --json -- true; eq "exec --all --json exit" "$rc" 255
check "exec --all --json gives the names JSON-escaped" has execalljson.out '"name":"db\u009B31m\u001B[5m\u007F"'

# Ambiguous and unknown targets list the agents by name.
run ambiguous exec grp=evil -- true; eq "an ambiguous target exit" "$rc" 255
run nomatch ps nothing-like-it; eq "an unknown target exit" "$rc" 255

# The relay's error body for /v1/agents.
cat >"$T/evil401.script" <<EOF
agents 401 {"error":{"code":"unauthorized$E[1m","message":"go away$E]0;x\u0007\u009b\u007f"}}
EOF
"$EVIL_BIN" --cert "$T/evil.pem" --key "$T/evil.key" --script "$T/evil401.script" \
	>"$T/evil401.out" 2>&1 &
PIDS+=("$!")
check "the second hostile relay started" wait_for 20 grep -q '^listening [0-9]' "$T/evil401.out"
PORTHOLE_RELAY=wss://127.0.0.1:$(awk '/^listening/ { print $2; exit }' "$T/evil401.out") \
	run ls401 ls
eq "ls refused exit" "$rc" 255
check "the refusal's message is escaped" has ls401.err 'go away\x1b]0;x\x07\u009b\x7f'

verdicts

# Console completion: the names come from the network; one with an escape is
# not offered (it could not be typed back anyway).
if command -v tmux >/dev/null; then
	SOCK=porthole-escapes-$$
	tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
	cur_line() { tm capture-pane -p -t con 2>/dev/null | sed '/^ *$/d' | tail -1; }
	line_is() { [ "$(cur_line | sed 's/ *$//')" = "$1" ]; }
	cat >"$T/console.sh" <<SH
export PORTHOLE_RELAY='$PORTHOLE_RELAY' PORTHOLE_CA='$PORTHOLE_CA'
export PORTHOLE_TOKEN='$PORTHOLE_TOKEN' PORTHOLE_KEY='$PORTHOLE_KEY'
export XDG_STATE_HOME='$T/xdg' HOME='$T'
'$CLI_BIN' console
SH
	trap 'tm kill-server 2>/dev/null; cleanup' EXIT
	tm new-session -d -s con -x 160 -y 50 "bash $T/console.sh"
	PIDS+=("$(tm display -p -t con '#{pid}')")
	check "console shows its prompt" wait_for 30 line_is "porthole>"
	tm send-keys -t con -l -- "use e2e-esc"
	tm send-keys -t con Tab
	check "completion offers only the name without escapes" \
		wait_for 30 line_is "porthole> use e2e-esc-ok"
	tm send-keys -t con C-u C-d
	tm kill-server 2>/dev/null
else
	log "no tmux: console completion case skipped"
fi

# --- real agents -------------------------------------------------------------
unset PORTHOLE_RELAY PORTHOLE_CA PORTHOLE_TOKEN PORTHOLE_KEY
start_relay
start_agent e2e-escapes

# argv with ESC, UTF-8 C1 and a raw C1 byte (not UTF-8); comm with ESC and C1.
argv0=$(printf 'esc\033[31m\302\233\233-%s' $$)
(exec -a "$argv0" sleep 300) &
PIDS+=("$!")
python3 -c 'import ctypes, time
ctypes.CDLL(None).prctl(15, b"pc\x1b[31m\xc2\x9bz", 0, 0, 0)
print("ready", flush=True)
time.sleep(300)' >"$T/comm.out" &
PIDS+=("$!")
check "the comm process is up" wait_for 20 grep -q ready "$T/comm.out"

run realps ps e2e-escapes; eq "ps with a non-UTF-8 argv among the processes exit" "$rc" 0
check "the argv shows escaped" has realps.out "esc\\x1b[31m\\u009b\\x9b-$$"
run realpsjson ps e2e-escapes --json; eq "ps --json exit" "$rc" 0
check "ps --json gives the comm as it is (JSON-escaped)" jq -n -e \
	'input | any(.processes[].comm; . == "pc\u001b[31m\u009bz")' "$T/realpsjson.out"
want=$(printf 'esc\033[31m\302\233\\x9b-%s' $$)
check "ps --json gives the raw byte of the argv as text" jq -n -e --arg p "$want" \
	'input | any(.processes[].command; startswith($p))' "$T/realpsjson.out"

# An agent named with a newline, ESC and DEL: one log line per event.
bad_name=$(printf 'e2e-esc\nFORGED: line\033[31m\177')
PORTHOLE_TOKEN=@$STATE/agent.token PORTHOLE_NAME=$bad_name \
	"$AGENT_BIN" >"$T/agent-bad.out" 2>"$T/agent-bad.err" &
PIDS+=("$!")
# Whatever the relay makes of the name (accepts or refuses it), wait for it to
# have said so: an audit event or a log line that mentions it.
wait_for 30 grep -q 'FORGED' "$T/relay.out" "$T/relay.err" ||
	log "the relay said nothing about the agent with the bad name"
check "no forged line in the relay's log" sh -c "! grep -q '^FORGED' '$T/relay.err'"
check "every line of the relay's log is its own" sh -c "! grep -v '^porthole-relay: ' '$T/relay.err' | grep -q ."
SAFE+=(relay.err relay.out)
check "every audit line is JSON" sh -c "jq -e . '$T/relay.out' >/dev/null"
check "the agent's own log is one line per event" sh -c "! grep -v '^porthole-agent: ' '$T/agent-bad.err' | grep -q ."
SAFE+=(agent-bad.err)
verdicts

finish
