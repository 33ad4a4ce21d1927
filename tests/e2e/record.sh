#!/usr/bin/env bash
# recordings end to end: with --record-dir the relay writes shell and exec
# sessions as asciicast v2.  `asciinema cat` of an exec recording gives back
# the program's output byte for byte (UTF-8 split across frames included);
# invalid UTF-8 becomes U+FFFD, not lost; a shell in a real terminal (tmux)
# is recorded with its size and resizes, and a password typed with echo off
# is not in the file (keystrokes are never recorded).  With
# PORTHOLE_RECORD_REQUIRED a session that cannot be recorded is refused,
# and one whose recording fails mid-way (a full file system, when this test
# may mount one) is closed; without it the session goes on, audited.
. "$(dirname "$0")/lib.sh"

for c in asciinema jq tmux python3; do
	command -v $c >/dev/null || { fail "$c is not installed (scripts/deps.sh installs it)"; finish; }
done
export LC_ALL=C.UTF-8	# asciinema (python) writes UTF-8 whatever the locale

TSOCK=porthole-rec-$$
echo 'set -g status off' >"$T/tmux.conf"
tm() { tmux -L "$TSOCK" -f "$T/tmux.conf" "$@"; }
rec_cleanup() { tm kill-server 2>/dev/null; cleanup; }
trap rec_cleanup EXIT

REC=$T/rec
mkdir -p "$REC"
export PORTHOLE_SHELL=/bin/sh
start_relay --record-dir "$REC"
start_agent e2e-rec
A=$T/relay.out

# acat FILE OUT: `asciinema cat FILE` into OUT.  asciinema 2.2 opens
# /dev/tty (to put it in raw mode), so it runs on a pty of script(1) in its
# own session; its stdout goes straight to OUT, untouched by the pty.
acat() { setsid script -qec "asciinema cat '$1' >'$2'" /dev/null </dev/null >/dev/null 2>&1; }
has_event() { [ "$(jq -c "select($1)" "$A" 2>/dev/null | wc -l)" -ge 1 ]; }
# rec_of SID: the recording of a session (by the audit line's "recording").
rec_of() { jq -r "select(.event == \"session_opened\" and .sid == \"$1\") | .recording" "$A"; }
last_sid() { jq -r 'select(.event == "session_closed") | .sid' "$A" | tail -1; }
n_closed() { jq -c 'select(.event == "session_closed")' "$A" | wc -l; }
closed_more() { [ "$(n_closed)" -gt "$1" ]; }

# --- exec: asciinema cat gives back the output, byte for byte ---
# 1 MiB of UTF-8 text of 1- to 4-byte characters: the agent's reads split
# it wherever the pipe does, so sequences straddle frames.
python3 - "$T/utf8.txt" <<'PY'
import random, sys
random.seed(8)
pool = "ascii text " + "äöüßé" + "€中文日本語" + "😀🎉🚀𝄞"
out = []
size = 0
while size < 1 << 20:
    line = "".join(random.choice(pool) for _ in range(random.randint(0, 120))) + "\n"
    out.append(line)
    size += len(line.encode())
open(sys.argv[1], "w", encoding="utf-8").write("".join(out))
PY
n=$(n_closed)
ph exec e2e-rec -- cat "$T/utf8.txt" </dev/null >"$T/exec.out"
eq "exec cat exit 0" $? 0
check "session closed" wait_for 20 closed_more "$n"
f=$(rec_of "$(last_sid)")
check "the exec recording exists ($f)" test -s "$f"
eq "file mode 0600" "$(stat -c %a "$f")" 600
case $(basename "$f") in
[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z-$(last_sid).cast) ok "named by time and sid";;
*) fail "named by time and sid: $(basename "$f")";;
esac
check "header: asciicast v2" sh -c "head -1 '$f' | jq -n -e 'input | (.version == 2 and .width > 0 and .height > 0 and (.timestamp | type) == \"number\")' >/dev/null"
check "every line is JSON" sh -c "jq -e . '$f' >/dev/null"
acat "$f" "$T/exec.cat"
eq "asciinema cat reproduces 1 MiB of UTF-8 output (sha256)" \
	"$(sha256sum <"$T/exec.cat")" "$(sha256sum <"$T/utf8.txt")"
eq "... which the CLI printed too" "$(sha256sum <"$T/exec.out")" "$(sha256sum <"$T/utf8.txt")"

# A sequence split by time across two frames; invalid bytes; stderr; a
# sequence cut off by the end.
n=$(n_closed)
ph exec e2e-rec -- sh -c "printf 'eu\\342'; sleep 0.5; printf '\\202\\254ro\\n'; \
printf 'A\\377B\\342\\202C\\355\\240\\200D\\n'; printf 'to-stderr\\n' >&2; sleep 0.3; printf 'Z\\342\\202'" \
	</dev/null >"$T/bad.out" 2>/dev/null
eq "exec with invalid UTF-8: exit 0" $? 0
check "session closed" wait_for 20 closed_more "$n"
f=$(rec_of "$(last_sid)")
acat "$f" "$T/bad.cat"
# (stdout and stderr are two pipes: the agent may read them in either order)
check "stderr recorded" grep -qF to-stderr "$T/bad.cat"
want=$(printf 'eu\342\202\254ro\nA\357\277\275B\357\277\275C\357\277\275\357\277\275\357\277\275D\nZ\357\277\275' | od -An -tx1)
eq "split sequence kept, invalid bytes replaced by U+FFFD, cut-off one too" \
	"$(python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.stdout.buffer.write(d.replace(b"to-stderr\n", b"", 1))' "$T/bad.cat" | od -An -tx1)" "$want"
eq "the client still got the raw bytes" "$(od -An -tx1 <"$T/bad.out")" \
	"$(printf 'eu\342\202\254ro\nA\377B\342\202C\355\240\200D\nZ\342\202' | od -An -tx1)"

# ps is not recorded (only shell and exec).
nfiles=$(find "$REC" -name '*.cast' | wc -l)
ph ps e2e-rec >/dev/null 2>&1
eq "ps leaves no recording" "$(find "$REC" -name '*.cast' | wc -l)" "$nfiles"

# --- shell in a terminal: size, resize, a password typed with echo off ---
cat >"$T/run.sh" <<RUN
#!/bin/bash
export PORTHOLE_RELAY='$PORTHOLE_RELAY' PORTHOLE_CA='$PORTHOLE_CA'
export PORTHOLE_TOKEN='$PORTHOLE_TOKEN' PORTHOLE_KEY='$PORTHOLE_KEY'
export TERM=screen
"$CLI_BIN" shell e2e-rec 2>"$T/sh.err"
echo \$? >"$T/sh.status"
exec sleep 100000
RUN
chmod +x "$T/run.sh"
pane_has() { tm capture-pane -p -t "$1" -S -200 | grep -qF -- "$2"; }
run_in() {
	tm send-keys -t "$1" -l "$3"; tm send-keys -t "$1" Enter
	wait_for 20 pane_has "$1" "$2"
}
n=$(n_closed)
tm new-session -d -s r1 -x 100 -y 30 "$T/run.sh"
check "remote shell up" run_in r1 UP7 'echo UP$((3+4))'
check "echo off, waiting for a password" run_in r1 READY2 'stty -echo; echo READY$((1+1)); read x; stty echo; echo got=${#x}'
tm send-keys -t r1 -l 'SeCrEt-PW-9'; tm send-keys -t r1 Enter
check "the remote read it" wait_for 20 pane_has r1 got=11
tm resize-window -t r1 -x 120 -y 40
check "remote sees the resize" run_in r1 "SZ 40 120 ZS" 'echo SZ $(stty size) ZS'
tm send-keys -t r1 -l 'exit'; tm send-keys -t r1 Enter
check "shell ended" wait_for 30 test -f "$T/sh.status"
eq "shell exit 0" "$(cat "$T/sh.status" 2>/dev/null)" 0
check "session closed" wait_for 20 closed_more "$n"
sid=$(jq -r 'select(.event == "session_closed" and .op == "shell") | .sid' "$A" | tail -1)
f=$(rec_of "$sid")
check "the shell recording exists" test -s "$f"
check "header: the terminal's size and TERM" sh -c \
	"head -1 '$f' | jq -n -e 'input | (.width == 100 and .height == 30 and .env.TERM == \"screen\")' >/dev/null"
check "a resize event 120x40" sh -c "tail -n +2 '$f' | jq -e 'select(.[1] == \"r\") | .[2] == \"120x40\"' | grep -q true"
acat "$f" "$T/sh.cat"
check "asciinema cat shows the output (UP7, got=11)" sh -c "grep -q UP7 '$T/sh.cat' && grep -q got=11 '$T/sh.cat'"
check "the password is not in the recording" sh -c "! grep -q SeCrEt '$f' && ! grep -q SeCrEt '$T/sh.cat'"
check "no stdin events at all" sh -c "tail -n +2 '$f' | jq -e 'select(.[1] != \"o\" and .[1] != \"r\")' | wc -l | grep -qx 0"

# --- recordings that cannot be written ---
# another_relay NAME CMD...: another dev relay (same state), audit in
# $T/NAME.audit, and an agent agent-NAME on it; sets URL_NAME.
another_relay() {
	local name=$1 port; shift
	"$@" >"$T/$name.audit" 2>"$T/$name.err" &
	PIDS+=($!)
	if ! wait_for 20 grep -q 'listening on' "$T/$name.err"; then
		fail "relay $name did not start: $(cat "$T/$name.err")"
		return 1
	fi
	port=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$T/$name.err" | head -1)
	eval "URL_$name=wss://127.0.0.1:$port"
	PORTHOLE_RELAY=wss://127.0.0.1:$port PORTHOLE_TOKEN=@$STATE/agent.token \
		PORTHOLE_NAME=agent-$name "$AGENT_BIN" >"$T/agent-$name.out" 2>"$T/agent-$name.err" &
	PIDS+=($!)
	wait_for 20 eval "PORTHOLE_RELAY=wss://127.0.0.1:$port agent_listed agent-$name"
}
touch "$T/not-a-dir"
RELAY_CMD=("$RELAY_BIN" --dev --state "$STATE" --listen 127.0.0.1:0)

check "relay with an unusable dir, recordings required" \
	another_relay req env PORTHOLE_RECORD_DIR="$T/not-a-dir/rec" PORTHOLE_RECORD_REQUIRED=1 "${RELAY_CMD[@]}"
PORTHOLE_RELAY=$URL_req ph exec agent-req -- echo should-not-run </dev/null >"$T/cli-req.out" 2>"$T/cli-req.err"
eq "required and unwritable: refused (255)" $? 255
contains "... with a clear message" "$(cat "$T/cli-req.err")" "cannot record this session"
eq "... before the program ran" "$(cat "$T/cli-req.out")" ""
# audited EVENT-FILTER FILE: some audit line of FILE matches.
audited() { [ -n "$(jq -c "select($1)" "$2" 2>/dev/null)" ]; }
check "... audited as a refusal" audited '.event == "refused" and .code == "recording_failed"' "$T/req.audit"
check "... and the failure audited" audited '.event == "recording_failed" and .required == true' "$T/req.audit"
check "... no session opened" sh -c "! grep -q session_opened '$T/req.audit'"

check "relay with an unusable dir, recordings not required" \
	another_relay opt env PORTHOLE_RECORD_DIR="$T/not-a-dir/rec" "${RELAY_CMD[@]}"
out=$(PORTHOLE_RELAY=$URL_opt ph exec agent-opt -- echo ran-anyway </dev/null 2>/dev/null)
eq "not required: the session goes on" "$out" ran-anyway
check "... and the failure is audited" audited \
	'.event == "recording_failed" and .required == false and (.error | test("Not a directory"))' "$T/opt.audit"
check "... in the session's lines too" audited \
	'.event == "session_closed" and .recording == null and (.recording_error | test("Not a directory"))' "$T/opt.audit"

# A file system that fills up mid-session: a 64 KiB tmpfs in a private
# mount namespace (needs root and unshare; skipped otherwise).
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	mkdir -p "$T/full"
	check "relay recording to a 64 KiB tmpfs, required" another_relay full \
		unshare -m sh -c "mount -t tmpfs -o size=64k tmpfs '$T/full' && exec \"\$@\"" sh \
		env PORTHOLE_RECORD_DIR="$T/full" PORTHOLE_RECORD_REQUIRED=1 "${RELAY_CMD[@]}"
	PORTHOLE_RELAY=$URL_full ph exec agent-full -- sh -c 'yes 0123456789abcdef | head -c 1000000' \
		</dev/null >"$T/cli-full.out" 2>"$T/cli-full.err"
	eq "recording failed mid-way, required: the session is closed (255)" $? 255
	contains "... with a reason" "$(cat "$T/cli-full.err")" "could not record this session"
	check "... audited" audited '.event == "recording_failed" and .action == "session closed"
		and (.error | test("No space"))' "$T/full.audit"
	check "... the session's end says why" wait_for 20 audited \
		'.event == "session_closed" and (.end | test("recording failed"))' "$T/full.audit"
	check "... less than the whole output reached the client" \
		test "$(wc -c <"$T/cli-full.out")" -lt 1000000
else
	log "skipped: a full file system mid-session (needs root and unshare -m)"
fi
finish
