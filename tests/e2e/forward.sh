#!/usr/bin/env bash
# porthole forward end to end: local ports carried as streams of one
# session to destinations the agent connects to.
#  - 200 curl requests, 20 at a time, through one forward to a local HTTP
#    server: every body byte-exact (four sizes, two above 1 MiB), one
#    session for all of them (the relay's audit: one session_opened, a
#    forward_stream per connection);
#  - a refused destination and one behind an nftables drop rule in a
#    network namespace the test makes (never answers): only that
#    connection closes, with one line on stderr, and the forward goes on;
#  - a reader stopped (SIGSTOP) for 10 s in the middle of a large body: no
#    memory growth in the relay or the agent, and other connections of the
#    same forward still work meanwhile; the body is whole once it resumes;
#  - --socks with curl --socks5-hostname reaches a name only the agent's
#    side resolves (an /etc/hosts entry in the agent's mount namespace);
#    an IPv4 CONNECT too; a refused one gets SOCKS reply 5;
#  - --pid: a server listening on 127.0.0.1 inside another network
#    namespace is reached through a process of that namespace; an agent
#    without CAP_SYS_ADMIN refuses it saying so (and that Fargate does not
#    grant it);
#  - a token without scope forward is refused; the forward claim is
#    enforced by the agent (after resolution); the credential endpoints
#    are refused unless the claim names them;
#    (never connecting to one: the machine running the test may have them);
#  - half-close: a client's shutdown(SHUT_WR) reaches the server, which
#    answers after it.
. "$(dirname "$0")/lib.sh"

for tool in curl nft ip python3 setpriv; do
	command -v "$tool" >/dev/null || { fail "$tool is not installed (scripts/deps.sh)"; finish; }
done

NS=phfwd$$
VH=phf$$h
VN=phf$$n
NET=10.$((200 + $$ % 50)).$(($$ % 250)).
fwd_cleanup() {
	ip link del "$VH" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	cleanup
}
trap fwd_cleanup EXIT

start_relay
start_agent e2e-fwd

# The HTTP server on the agent's side, with four body sizes.
mkdir -p "$T/www"
head -c 100 /dev/urandom >"$T/www/s100"
head -c 4096 /dev/urandom >"$T/www/s4k"
head -c 65536 /dev/urandom >"$T/www/s64k"
head -c 1200000 /dev/urandom >"$T/www/s1200k"
head -c 2500000 /dev/urandom >"$T/www/s2500k"
truncate -s 64000000 "$T/www/huge"
(cd "$T/www" && exec python3 -u -m http.server 0 --bind 127.0.0.1) >"$T/http.out" 2>&1 &
PIDS+=("$!")
check "the HTTP server is up" wait_for 20 grep -q "port" "$T/http.out"
HP=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$T/http.out" | head -1)

# A port that refuses: bound, never listening.
RP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# A destination that never answers: behind a drop rule in a namespace of ours.
ip netns add "$NS"
ip link add "$VH" type veth peer name "$VN"
ip link set "$VN" netns "$NS"
ip addr add "${NET}1/30" dev "$VH"; ip link set "$VH" up
ip netns exec "$NS" ip addr add "${NET}2/30" dev "$VN"
ip netns exec "$NS" ip link set "$VN" up
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" nft add table inet phfwd
ip netns exec "$NS" nft add chain inet phfwd in '{ type filter hook input priority 0; }'
ip netns exec "$NS" nft add rule inet phfwd in tcp dport 9 drop
check "the namespace's drop rule is in place" sh -c 'ip netns exec "$1" nft list ruleset | grep -q "tcp dport 9 drop"' _ "$NS"

"$CLI_BIN" forward e2e-fwd 0:127.0.0.1:"$HP" 0:127.0.0.1:"$RP" 0:"${NET}2":9 \
	--connect-timeout 2s >"$T/fwd.out" 2>"$T/fwd.err" &
FP=$!
PIDS+=("$FP")
check "forward prints its three listeners" wait_for 20 sh -c '[ "$(grep -c ^forwarding "$1")" = 3 ]' _ "$T/fwd.out"
lport() { sed -n "$1s/^forwarding 127.0.0.1:\([0-9]*\) .*/\1/p" "$T/fwd.out"; }
P1=$(lport 1); P2=$(lport 2); P3=$(lport 3)
contains "the listener names its destination" "$(sed -n 1p "$T/fwd.out")" "-> 127.0.0.1:$HP"

# --- 200 requests, 20 at a time, byte-exact ---------------------------------------
# Five sizes, two above 1 MiB (one request in ten: the test server is
# python's, slow on a busy machine).
seq 200 | awk '{ split("s100 s4k s64k", n, " ");
	print ($1 % 20 == 0 ? "s2500k" : $1 % 20 == 10 ? "s1200k" : n[$1 % 3 + 1]) " " $1 }' >"$T/reqs"
# One curl, 20 transfers at a time (a process per request is slow on a busy machine).
mkdir -p "$T/got"
while read -r name i; do
	printf 'url = "http://127.0.0.1:%s/%s"\noutput = "%s/got/%s"\n' "$P1" "$name" "$T" "$i"
done <"$T/reqs" >"$T/curl.cfg"
curl -sS --parallel --parallel-max 20 --max-time 120 -K "$T/curl.cfg" 2>"$T/curl.err"
eq "curl: every transfer succeeded" "$?" 0
(cd "$T/www" && sha256sum s100 s4k s64k s1200k s2500k) >"$T/www.sums"
(cd "$T/got" && sha256sum -- *) >"$T/got.sums"
# Per request: its body's sum against its file's (one process for all 200).
res=$(awk 'FILENAME == ARGV[1] { w[$2] = $1; next } FILENAME == ARGV[2] { g[$2] = $1; next }
	{ n++; if (g[$2] == "" || g[$2] != w[$1]) bad++ } END { print n "/" bad + 0 }' \
	"$T/www.sums" "$T/got.sums" "$T/reqs")
n=${res%/*}; bad=${res#*/}
eq "200 requests through the forward, every body byte-exact" "$n/$bad" "200/0"
eq "one session carried them all" "$(grep -c '"event":"session_opened"' "$T/relay.out")" 1
check "the audit has a forward_stream per connection" \
	sh -c '[ "$(grep "\"event\":\"forward_stream\"" "$1" | grep -c "\"outcome\":\"closed\"")" -ge 200 ]' _ "$T/relay.out"
check "an audited connection names its destination and bytes" \
	grep -q "\"dest\":\"127.0.0.1:$HP\",\"address\":\"127.0.0.1\",\"bytes_out\":[0-9]*,\"bytes_in\":2500[0-9][0-9][0-9],\"duration_ms\"" "$T/relay.out"

# --- a refused destination, one that never answers -------------------------------------
out=$(curl -sS --max-time 20 "http://127.0.0.1:$P2/" 2>&1); rc=$?
check "a refused destination closes that connection (curl fails)" [ $rc -ne 0 ]
check "stderr says it was refused, naming the destination" \
	wait_for 10 grep -q "forward 127.0.0.1:$P2 -> 127.0.0.1:$RP: 127.0.0.1:$RP: Connection refused" "$T/fwd.err"
curl -sS --max-time 30 "http://127.0.0.1:$P3/" >/dev/null 2>&1; rc=$?
check "a destination behind a drop rule closes that connection" [ $rc -ne 0 ]
check "stderr says it timed out (no answer)" \
	wait_for 10 grep -q "forward 127.0.0.1:$P3 -> ${NET}2:9: .*connect timed out" "$T/fwd.err"
eq "one line per failed connection on stderr" "$(wc -l <"$T/fwd.err")" 2
check "the forward goes on after both" sh -c 'curl -sS --max-time 20 "http://127.0.0.1:$1/s100" | cmp -s - "$2"' _ "$P1" "$T/www/s100"
check "the audit says refused" grep -q "\"dest\":\"127.0.0.1:$RP\".*\"outcome\":\"refused\"" "$T/relay.out"
check "the audit says timeout" grep -q "\"dest\":\"${NET}2:9\".*\"outcome\":\"timeout\"" "$T/relay.out"

# --- a stopped reader: no memory growth, the others go on -----------------------------
python3 - "$P1" "$T/huge.got" >"$T/slow.out" 2>&1 <<'EOF' &
import os, signal, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.sendall(b"GET /huge HTTP/1.0\r\n\r\n")
n = 0; h = b""
with open(sys.argv[2], "wb") as f:
    while True:
        b = s.recv(65536)
        if not b: break
        f.write(b); n += len(b)
        if n > 8000000 and not os.path.exists(sys.argv[2] + ".stopped"):
            open(sys.argv[2] + ".stopped", "w").close()
            print("stopping", flush=True)
            os.kill(os.getpid(), signal.SIGSTOP)
print("done", n, flush=True)
EOF
SLOW=$!
PIDS+=("$SLOW")
check "the slow reader got 8 MB and stopped" wait_for 30 grep -q stopping "$T/slow.out"
sleep 1
A0=$(rss_kib "$AGENT_PID"); R0=$(rss_kib "$RELAY_PID")
ok=0
for i in $(seq 8); do
	sleep 1
	curl -sS --max-time 10 "http://127.0.0.1:$P1/s64k" | cmp -s - "$T/www/s64k" && ok=$((ok + 1))
done
A1=$(rss_kib "$AGENT_PID"); R1=$(rss_kib "$RELAY_PID")
eq "other connections of the forward work while one reader is stopped" "$ok" 8
less_than "the agent's memory did not grow while the reader was stopped (KiB $A0 -> $A1)" "$A1" $((A0 + 4096))
less_than "the relay's memory did not grow while the reader was stopped (KiB $R0 -> $R1)" "$R1" $((R0 + 4096))
kill -CONT "$SLOW"
check "the stopped reader resumes and gets the whole body" wait_for 60 grep -q "^done" "$T/slow.out"
check "the large body arrived whole (headers + 64000000 zero bytes)" \
	sh -c 'tail -c 64000000 "$1" | cmp -s - "$2"' _ "$T/huge.got" "$T/www/huge"

# --- half-close ------------------------------------------------------------------------
python3 - >"$T/echo.out" 2>&1 <<'EOF' &
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(5); print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept(); data = b""
    while True:
        b = c.recv(65536)
        if not b: break
        data += b
    c.sendall(b"got %d after eof" % len(data)); c.close()
EOF
PIDS+=("$!")
check "the half-close server is up" wait_for 20 test -s "$T/echo.out"
EP=$(cat "$T/echo.out")
"$CLI_BIN" forward e2e-fwd 0:localhost:"$EP" >"$T/fwd2.out" 2>"$T/fwd2.err" &
F2=$!
PIDS+=("$F2")
check "a name as HOST: the forward is up" wait_for 20 grep -q ^forwarding "$T/fwd2.out"
E2=$(sed -n 's/^forwarding 127.0.0.1:\([0-9]*\) .*/\1/p' "$T/fwd2.out")
got=$(python3 - "$E2" <<'EOF'
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"x" * 100000); c.shutdown(socket.SHUT_WR)
out = b""
while True:
    b = c.recv(65536)
    if not b: break
    out += b
print(out.decode())
EOF
)
eq "shutdown(SHUT_WR) reaches the server, which answers after it" "$got" "got 100000 after eof"
kill -TERM "$F2"; wait "$F2"; rc=$?
eq "SIGTERM ends the forward cleanly: status 0" "$rc" 0

# --- SOCKS5 with a name only the agent's side resolves ------------------------------------
printf '127.0.0.1 localhost\n127.0.0.1 only-the-agent.task.internal\n' >"$T/hosts"
check "the host does not know only-the-agent.task.internal" sh -c '! getent hosts only-the-agent.task.internal'
PORTHOLE_TOKEN=@$STATE/agent.token PORTHOLE_NAME=e2e-fwd-hosts \
	unshare --mount sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh "$T/hosts" \
	"$AGENT_BIN" >"$T/agent-hosts.out" 2>"$T/agent-hosts.err" &
PIDS+=("$!")
check "the agent with its own /etc/hosts registers" wait_for 20 agent_listed e2e-fwd-hosts
"$CLI_BIN" forward e2e-fwd-hosts --socks 0 >"$T/socks.out" 2>"$T/socks.err" &
PIDS+=("$!")
check "--socks is up" wait_for 20 grep -q "^forwarding .*SOCKS5" "$T/socks.out"
SP=$(sed -n 's/^forwarding 127.0.0.1:\([0-9]*\) .*/\1/p' "$T/socks.out")
check "curl --socks5-hostname reaches a name only the agent resolves" \
	sh -c 'curl -sS --max-time 20 --socks5-hostname "127.0.0.1:$1" "http://only-the-agent.task.internal:$2/s1200k" | cmp -s - "$3"' \
	_ "$SP" "$HP" "$T/www/s1200k"
check "curl --socks5 (an IPv4 CONNECT) works too" \
	sh -c 'curl -sS --max-time 20 --socks5 "127.0.0.1:$1" "http://127.0.0.1:$2/s100" | cmp -s - "$3"' \
	_ "$SP" "$HP" "$T/www/s100"
err=$(curl -sS --max-time 20 --socks5-hostname "127.0.0.1:$SP" "http://127.0.0.1:$RP/" 2>&1)
contains "a refused SOCKS CONNECT gets reply 5 (connection refused)" "$err" "(5)"
err=$(curl -sS --max-time 20 --socks5-hostname "127.0.0.1:$SP" "http://no-such-name.invalid:80/" 2>&1)
contains "a name that does not resolve gets reply 4 (host unreachable)" "$err" "(4)"

# --- --pid: another network namespace ------------------------------------------------------
ip netns exec "$NS" python3 -u -m http.server 8123 --bind 127.0.0.1 --directory "$T/www" >"$T/nshttp.out" 2>&1 &
NSP=$!
PIDS+=("$NSP")
check "a server inside the namespace is up" wait_for 20 grep -q port "$T/nshttp.out"
"$CLI_BIN" forward e2e-fwd --pid "$NSP" 0:127.0.0.1:8123 >"$T/fwdpid.out" 2>"$T/fwdpid.err" &
PIDS+=("$!")
check "forward --pid is up" wait_for 20 grep -q ^forwarding "$T/fwdpid.out"
PP=$(sed -n 's/^forwarding 127.0.0.1:\([0-9]*\) .*/\1/p' "$T/fwdpid.out")
check "--pid reaches 127.0.0.1 of that process's network namespace" \
	sh -c 'curl -sS --max-time 20 "http://127.0.0.1:$1/s64k" | cmp -s - "$2"' _ "$PP" "$T/www/s64k"

# An agent without CAP_SYS_ADMIN (dropped from its bounding set, as on Fargate) cannot enter
# that namespace: the forward fails at once and says what is missing and that Fargate does not
# grant it.
PORTHOLE_TOKEN=@$STATE/agent.token PORTHOLE_NAME=e2e-fwd-nocap \
	setpriv --bounding-set=-sys_admin --inh-caps=-sys_admin "$AGENT_BIN" \
	>"$T/agent-nocap.out" 2>"$T/agent-nocap.err" &
PIDS+=("$!")
check "the agent without CAP_SYS_ADMIN registers" wait_for 20 agent_listed e2e-fwd-nocap
timeout 60 "$CLI_BIN" forward e2e-fwd-nocap --pid "$NSP" 0:127.0.0.1:8123 \
	>"$T/nocap.out" 2>"$T/nocap.err"; rc=$?
check "forward --pid without CAP_SYS_ADMIN fails (status $rc)" [ "$rc" -ne 0 ]
check "and is never up" sh -c '! grep -q ^forwarding "$1"' _ "$T/nocap.out"
contains "stderr says CAP_SYS_ADMIN is needed" "$(cat "$T/nocap.err")" "needs CAP_SYS_ADMIN"
contains "and that Fargate does not grant it" "$(cat "$T/nocap.err")" "Fargate does not grant"
check "and sends nobody for another token (the token was never the problem)" \
	sh -c '! grep -q "ask for a token" "$1"' _ "$T/nocap.err"

# --- scope, claim, credential endpoints ----------------------------------------------------------
issue() { ph token issue --key "$STATE/signing.key" --kind client --bind "$STATE/operator.key" "$@"; }
NOFWD=$(issue --sub no-forward --scope ls,exec)
PORTHOLE_TOKEN=$NOFWD "$CLI_BIN" forward e2e-fwd 0:127.0.0.1:"$HP" >"$T/nofwd.out" 2>"$T/nofwd.err"; rc=$?
eq "a token without scope forward: status 255" "$rc" 255
contains "and the refusal names the scope" "$(cat "$T/nofwd.err")" "forward"

CLAIM=$(issue --sub claimed --scope ls,forward --forward "allowed.test:$HP,10.0.0.0/8:*")
check "token issue --forward writes the claim" \
	sh -c '"$1" token show "$2" | grep -q "allowed.test:$3"' _ "$CLI_BIN" "$CLAIM" "$HP"
printf '127.0.0.1 localhost\n127.0.0.1 allowed.test\n' >"$T/hosts"
PORTHOLE_TOKEN=$CLAIM "$CLI_BIN" forward e2e-fwd-hosts 0:allowed.test:"$HP" 0:127.0.0.1:"$HP" \
	0:169.254.169.254:80 >"$T/claim.out" 2>"$T/claim.err" &
PIDS+=("$!")
check "the claimed forward is up" wait_for 20 sh -c '[ "$(grep -c ^forwarding "$1")" = 3 ]' _ "$T/claim.out"
C1=$(sed -n '1s/^forwarding 127.0.0.1:\([0-9]*\) .*/\1/p' "$T/claim.out")
C2=$(sed -n '2s/^forwarding 127.0.0.1:\([0-9]*\) .*/\1/p' "$T/claim.out")
C3=$(sed -n '3s/^forwarding 127.0.0.1:\([0-9]*\) .*/\1/p' "$T/claim.out")
check "the claim lets allowed.test:$HP through" \
	sh -c 'curl -sS --max-time 20 "http://127.0.0.1:$1/s100" | cmp -s - "$2"' _ "$C1" "$T/www/s100"
curl -sS --max-time 20 "http://127.0.0.1:$C2/s100" >/dev/null 2>&1; rc=$?
check "127.0.0.1:$HP, outside the claim, is refused" [ $rc -ne 0 ]
check "and stderr says the claim refused it" \
	wait_for 10 grep -q "127.0.0.1:$HP (127.0.0.1) is not in the token's forward claim" "$T/claim.err"
curl -sS --max-time 20 "http://127.0.0.1:$C3/" >/dev/null 2>&1
check "the credential endpoint is refused too" \
	wait_for 10 grep -q "169.254.169.254:80 (169.254.169.254) is" "$T/claim.err"
check "the audit says not_allowed" grep -q '"outcome":"not_allowed"' "$T/relay.out"

# Without a claim, a name that resolves to a credential endpoint is refused too.
printf '127.0.0.1 localhost\n169.254.170.2 creds.test\n' >"$T/hosts"
err=$(curl -sS --max-time 20 --socks5-hostname "127.0.0.1:$SP" "http://creds.test/" 2>&1)
contains "a name that resolves to 169.254.170.2 is refused (SOCKS reply 2: not allowed)" "$err" "(2)"
check "stderr says it is a credential endpoint" \
	wait_for 10 grep -q "creds.test:80 (169.254.170.2) is a credential endpoint" "$T/socks.err"
# (A claim that names an endpoint opening it is unit/fwdpolicy's: the test
# never connects to a credential endpoint of the machine it runs on.)

check "no raw escape reaches stderr" sh -c '! grep -q "$(printf "\033")" "$1" "$2"' _ "$T/fwd.err" "$T/claim.err"
finish
