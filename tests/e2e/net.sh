#!/usr/bin/env bash
# net and lsof end to end: the agent reads /proc itself.  A test server
# listens and holds an established connection with itself (both ends in
# one process) and a file it deleted while open: `net` lists the listening
# socket with its pid and both ends of the connection, --listening only
# the first, --pid reads that process's namespace; `lsof` shows the
# deleted-but-open file (flagged, its bytes summed) and the socket's peer,
# with a count by type, in text and JSON.  Names the task chose are
# escaped; bad input is a usage error; a viewer may run both; `| head`
# ends quietly.
. "$(dirname "$0")/lib.sh"

jqq() { jq -e "$@" >/dev/null; }

start_relay
start_agent e2e-net

# The server: its name has an escape in it (prctl), to be escaped on output.
python3 - "$T" >"$T/srv.out" <<'EOF' &
import ctypes, os, socket, sys, time
t = sys.argv[1]
ctypes.CDLL(None).prctl(15, b"srv\x1b[31mred", 0, 0, 0)   # PR_SET_NAME
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(5)
c = socket.create_connection(s.getsockname()); a, _ = s.accept()
f = open(t + "/big.log", "w"); f.write("x" * 300000); f.flush(); os.unlink(t + "/big.log")
print(s.getsockname()[1], c.getsockname()[1], flush=True)
time.sleep(120)
EOF
SRV=$!
PIDS+=("$SRV")
check "the test server is up" wait_for 20 test -s "$T/srv.out"
read -r LPORT CPORT <"$T/srv.out"

# --- net ------------------------------------------------------------------
ph net e2e-net --json >"$T/net.json"; eq "net --json: 0" $? 0
sel() { jq -c --argjson p "$SRV" "[.sockets[] | select(any(.owners[]; .pid == \$p))$1]" "$T/net.json"; }
eq "net: the listening socket with its pid" \
	"$(sel "| select(.state == \"LISTEN\") | .local")" "[\"127.0.0.1:$LPORT\"]"
eq "net: the connection's client end" \
	"$(sel "| select(.state == \"ESTAB\" and .local == \"127.0.0.1:$CPORT\") | .peer")" \
	"[\"127.0.0.1:$LPORT\"]"
eq "net: and its server end" \
	"$(sel "| select(.state == \"ESTAB\" and .local == \"127.0.0.1:$LPORT\") | .peer")" \
	"[\"127.0.0.1:$CPORT\"]"
check "net: the owner's name as the task chose it, in JSON" \
	jqq --argjson p "$SRV" '[.sockets[].owners[] | select(.pid == $p) | .comm] | unique == ["srv\u001b[31mred"]' "$T/net.json"
check "net: unix sockets too" jqq '[.sockets[] | select(.proto == "unix")] | length > 0' "$T/net.json"
check "net: the agent's own connection to the relay" \
	jqq --argjson p "$AGENT_PID" --arg r "127.0.0.1:$PORT" \
	'[.sockets[] | select(.peer == $r and any(.owners[]; .pid == $p))] | length >= 1' "$T/net.json"

out=$(ph net e2e-net); eq "net: 0" $? 0
contains "net: the table's heading" "$(printf '%s\n' "$out" | head -1)" \
	"NETID STATE"
row=$(printf '%s\n' "$out" | grep " 127.0.0.1:$LPORT " | grep LISTEN)
contains "net: the listening row names its program/pid, escaped" "$row" "srv\\x1b[31mred/$SRV"
# From a file, not an argument: with other tests' sockets on the machine the
# table can pass the kernel's 128 KiB limit on one argument.
printf '%s' "$out" >"$T/net.txt"
check "net: no raw escape reaches the terminal" sh -c '! grep -q "$(printf "\033")" "$1"' _ "$T/net.txt"
contains "net: the established row" "$(printf '%s\n' "$out" | grep "127.0.0.1:$CPORT" | grep " 127.0.0.1:$LPORT ")" "ESTAB"

ph net e2e-net --listening --json >"$T/netl.json"; eq "net --listening: 0" $? 0
check "net --listening: only listening sockets" jqq '[.sockets[] | select(.listening | not)] | length == 0' "$T/netl.json"
check "net --listening: ours is there" jqq --arg l "127.0.0.1:$LPORT" '[.sockets[] | select(.local == $l)] | length == 1' "$T/netl.json"

ph net e2e-net --pid "$SRV" --json >"$T/netp.json"; eq "net --pid: 0" $? 0
eq "net --pid: the document names the pid" "$(jq .pid "$T/netp.json")" "$SRV"
check "net --pid: the server's listening socket in its namespace" jqq --arg l "127.0.0.1:$LPORT" '[.sockets[] | select(.local == $l and .state == "LISTEN")] | length == 1' "$T/netp.json"
ph net e2e-net --pid 2147483647 2>"$T/nopid.err"; eq "net --pid of no process: 255" $? 255
contains "net --pid of no process says so" "$(cat "$T/nopid.err")" "no process 2147483647 on this agent"
ph net e2e-net --pid abc 2>"$T/bad.err"; eq "net --pid abc: 255" $? 255
contains "net --pid abc: usage" "$(cat "$T/bad.err")" "--pid abc: not a process id"

# --- lsof -----------------------------------------------------------------
ph lsof e2e-net "$SRV" --json >"$T/lsof.json"; eq "lsof --json: 0" $? 0
eq "lsof: the deleted file, flagged, its size" \
	"$(jq -c --arg p "$T/big.log" '[.fds[] | select(.path == $p) | [.type, .deleted, .size, .pos, .mode]]' "$T/lsof.json")" \
	'[["file",true,300000,300000,"w"]]'
eq "lsof: deleted count and bytes" "$(jq -c '[.deleted, .deleted_bytes]' "$T/lsof.json")" "[1,300000]"
eq "lsof: the client socket's peer" \
	"$(jq -r --arg l "127.0.0.1:$CPORT" '.fds[] | select(.local == $l) | "\(.proto) \(.state) \(.peer)"' "$T/lsof.json")" \
	"tcp ESTAB 127.0.0.1:$LPORT"
eq "lsof: counts by type" "$(jq -c '[.counts.socket, (.counts.file >= 1)]' "$T/lsof.json")" "[3,true]"
out=$(ph lsof e2e-net "$SRV"); eq "lsof: 0" $? 0
contains "lsof: the deleted file's row" "$(printf '%s\n' "$out" | grep "$T/big.log")" "DELETED"
contains "lsof: the socket's row" "$out" "tcp ESTAB 127.0.0.1:$CPORT -> 127.0.0.1:$LPORT"
contains "lsof: the summary, escaped name" "$out" "(srv\\x1b[31mred): "
contains "lsof: the leak summed" "$out" "1 deleted file still open, holding 293.0 KiB of disk"
check "lsof: no raw escape" sh -c '! printf "%s" "$1" | grep -q "$(printf "\033")"' _ "$out"
ph lsof e2e-net 2147483647 2>"$T/lnopid.err"; eq "lsof of no process: 255" $? 255
contains "lsof of no process says so" "$(cat "$T/lnopid.err")" "no process 2147483647 on this agent"
ph lsof e2e-net 2>"$T/lmiss.err"; eq "lsof without PID: 255" $? 255
contains "lsof without PID: usage" "$(cat "$T/lmiss.err")" "missing PID"
ph lsof e2e-net 12x 2>"$T/lbad.err"; eq "lsof 12x: 255" $? 255
contains "lsof 12x: usage" "$(cat "$T/lbad.err")" "PID must be a process id, not '12x'"

# A viewer token carries both scopes (the registry's viewer operations).
PORTHOLE_TOKEN=@$STATE/viewer.token PORTHOLE_KEY=$STATE/viewer.key ph net e2e-net --json >/dev/null
eq "viewer may run net" $? 0
PORTHOLE_TOKEN=@$STATE/viewer.token PORTHOLE_KEY=$STATE/viewer.key ph lsof e2e-net "$SRV" --json >/dev/null
eq "viewer may run lsof" $? 0

quiet_pipe_end "net" "$CLI_BIN" net e2e-net
quiet_pipe_end "lsof" "$CLI_BIN" lsof e2e-net "$SRV"
check "no helper children left under the agent" wait_for 10 sh -c "[ -z \"\$(pgrep -P $AGENT_PID)\" ]"
finish
