#!/usr/bin/env bash
# net, lsof and probe from the static agent in an empty root, as in a
# distroless or scratch image: a chroot (in a mount namespace of its own)
# holding only the agent, a CA bundle (the dev relay's certificate),
# /dev/null, /dev/urandom, an /etc/hosts and an /etc/resolv.conf, with
# /proc mounted as every container runtime mounts it.  No shell, no ss, no
# lsof, no curl: the three operations work from the agent alone.
#
# The root's /etc/hosts names db.task.internal, which the host does not
# know: probe resolves it, so the lookup is the image's own configuration
# (static glibc's built-in files and dns lookups, no NSS module).  Its
# /etc/resolv.conf names 127.0.0.1, where no DNS server listens, so any
# other name does not resolve.  The black hole is probe.sh's: a listener
# whose one-slot queue is full drops every SYN.
. "$(dirname "$0")/lib.sh"

jqq() { jq -e "$@" >/dev/null; }

if sanitizer; then
	echo "# SKIP: the sanitizer build's agent is dynamic (ASan cannot link -static)"
	exit 77
fi
if ! file -L "$AGENT_BIN" | grep -q 'statically linked'; then
	echo "# SKIP: this build's agent is dynamic (-Dstatic_agent=false)"
	exit 77
fi
CHROOT=$(PATH=$PATH:/usr/sbin:/sbin command -v chroot)
: >"$T/.probe"
if [ -z "$CHROOT" ] || ! unshare --mount mount --bind /dev/null "$T/.probe" 2>/dev/null; then
	echo "# SKIP: needs chroot and unshare --mount with bind mounts (root)"
	exit 77
fi

start_relay
ROOT=$T/root
TOKEN=$(cat "$STATE/agent.token")
PUBPEM=$(cat "$PORTHOLE_PUBKEY")
mkdir -p "$ROOT/dev" "$ROOT/proc" "$ROOT/etc/ssl/certs"
: >"$ROOT/dev/null"; : >"$ROOT/dev/urandom"
cp "$AGENT_BIN" "$ROOT/porthole-agent"
cp "$STATE/ca.pem" "$ROOT/etc/ssl/certs/ca-certificates.crt"
printf '127.0.0.1 localhost\n127.0.0.1 db.task.internal\n' >"$ROOT/etc/hosts"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$ROOT/etc/resolv.conf"
eq "the root holds only the agent, the bundle, the resolver files and two devices" \
	"$(cd "$ROOT" && find . -type f | sort | tr '\n' ' ')" \
	"./dev/null ./dev/urandom ./etc/hosts ./etc/resolv.conf ./etc/ssl/certs/ca-certificates.crt ./porthole-agent "
check "the host does not know db.task.internal" sh -c '! getent hosts db.task.internal'

unshare --mount sh -c 'mount --bind /dev/null "$1/dev/null" &&
	mount --bind /dev/urandom "$1/dev/urandom" && mount -t proc proc "$1/proc" &&
	shift && exec "$@"' sh "$ROOT" \
	env -i PORTHOLE_PUBKEY="$PUBPEM" PORTHOLE_RELAY="wss://localhost:$PORT" \
	PORTHOLE_TOKEN="$TOKEN" PORTHOLE_NAME=tb-root \
	"$CHROOT" "$ROOT" /porthole-agent >"$T/tb-root.out" 2>"$T/tb-root.err" &
RPID=$!
PIDS+=("$RPID")
if ! wait_for 20 agent_listed tb-root; then
	fail "the agent in the empty root did not register"
	sed 's/^/#   /' "$T/tb-root.err"
	finish
fi
ph exec tb-root -- /bin/sh -c true </dev/null 2>/dev/null
eq "the root has no shell" $? 127

# The task's processes: an HTTP server holding a deleted file and a
# connection with itself, a free port, a full listener.
python3 - "$T" >"$T/srv.out" 2>"$T/srv.err" <<'EOF' &
import http.server, os, socket, sys, threading, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a): pass
web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=web.serve_forever, daemon=True).start()
c = socket.create_connection(web.server_address)
f = open(sys.argv[1] + "/held.log", "w"); f.write("y" * 4096); f.flush(); os.unlink(sys.argv[1] + "/held.log")
free = socket.socket(); free.bind(("127.0.0.1", 0)); fport = free.getsockname()[1]; free.close()
hole = socket.socket(); hole.bind(("127.0.0.1", 0)); hole.listen(0)
fill = []
for _ in range(2):
    s = socket.socket(); s.setblocking(False)
    try: s.connect(hole.getsockname())
    except BlockingIOError: pass
    fill.append(s)
time.sleep(0.5)
print(web.server_address[1], c.getsockname()[1], fport, hole.getsockname()[1], flush=True)
time.sleep(120)
EOF
SRV=$!
PIDS+=("$SRV")
check "the test servers are up" wait_for 20 test -s "$T/srv.out"
read -r WEB CPORT FREE HOLE <"$T/srv.out"

# net: the server's listening socket with its pid, the connection's two ends.
ph net tb-root --json >"$T/net.json"; eq "root: net --json: 0" $? 0
check "root: net lists the listening socket with its pid" jqq --argjson p "$SRV" --arg l "127.0.0.1:$WEB" \
	'[.sockets[] | select(.state == "LISTEN" and .local == $l and any(.owners[]; .pid == $p and .comm == "python3"))] | length == 1' "$T/net.json"
check "root: net lists both ends of the connection" jqq --argjson p "$SRV" --arg a "127.0.0.1:$WEB" --arg b "127.0.0.1:$CPORT" \
	'[.sockets[] | select(.state == "ESTAB" and any(.owners[]; .pid == $p)) |
	  select((.local == $a and .peer == $b) or (.local == $b and .peer == $a))] | length == 2' "$T/net.json"
out=$(ph net tb-root --listening); eq "root: net --listening: 0" $? 0
contains "root: the listening row, as text" "$(printf '%s\n' "$out" | grep " 127.0.0.1:$WEB ")" "python3/$SRV"

# lsof: the deleted-but-open file and the socket's peer.
ph lsof tb-root "$SRV" --json >"$T/lsof.json"; eq "root: lsof --json: 0" $? 0
check "root: lsof flags the deleted file" jqq --arg p "$T/held.log" \
	'([.fds[] | select(.path == $p and .deleted and .size == 4096)] | length == 1) and .deleted_bytes == 4096' "$T/lsof.json"
check "root: lsof gives the socket's peer" jqq --arg l "127.0.0.1:$CPORT" --arg r "127.0.0.1:$WEB" \
	'[.fds[] | select(.type == "socket" and .local == $l and .peer == $r)] | length == 1' "$T/lsof.json"
out=$(ph lsof tb-root "$SRV"); eq "root: lsof: 0" $? 0
contains "root: lsof's DELETED row" "$(printf '%s\n' "$out" | grep held.log)" "DELETED"

# probe: the five outcomes.
out=$(ph probe tb-root "http://db.task.internal:$WEB/"); eq "root: probe of the image's own name: 0" $? 0
contains "root: the name from the root's /etc/hosts" "$out" "db.task.internal -> 127.0.0.1"
contains "root: the root's nameserver reported" "$out" "(nameservers: 127.0.0.1)"
contains "root: HTTP 200" "$out" "200 OK, first byte after"
ph probe tb-root "http://db.task.internal:$WEB/" --json >"$T/ok.json"
check "root: json ok" jqq '.ok and .http.status == 200 and .resolver.nameservers == ["127.0.0.1"]' "$T/ok.json"
ph probe tb-root "127.0.0.1:$FREE" --json >"$T/refused.json"; eq "root: refused: 1" $? 1
check "root: refused" jqq '.outcome == "refused"' "$T/refused.json"
out=$(ph probe tb-root "127.0.0.1:$FREE"); eq "root: refused text: 1" $? 1
contains "root: refused, said so" "$out" "result   refused"
ph probe tb-root "127.0.0.1:$HOLE" --timeout 1s --json >"$T/timeout.json"; eq "root: timeout: 1" $? 1
check "root: timeout" jqq '.outcome == "timeout" and .connect[0].result == "timeout"' "$T/timeout.json"
out=$(ph probe tb-root "127.0.0.1:$HOLE" --timeout 1s); eq "root: timeout text: 1" $? 1
contains "root: timeout, said so" "$out" "result   timeout"
out=$(ph probe tb-root "https://localhost:$PORT/v1/agents"); eq "root: https: 0" $? 0
contains "root: the certificate's names" "$out" "names    localhost, 127.0.0.1, ::1"
contains "root: verified against the root's bundle" "$out" "verified yes, for localhost"
ph probe tb-root "localhost:$PORT" --tls --json >"$T/tls.json"
check "root: json tls names and verified" jqq '.ok and .tls.names == ["localhost","127.0.0.1","::1"] and .tls.verified' "$T/tls.json"
ph probe tb-root "nothing.task.internal:80" --timeout 5s --json >"$T/dns.json"; eq "root: no such name: 1" $? 1
check "root: dns failure" jqq '.outcome == "dns" and (.dns.error | type == "string") and .connect == []' "$T/dns.json"
out=$(ph probe tb-root "nothing.task.internal:80" --timeout 5s); eq "root: no such name text: 1" $? 1
contains "root: dns failure, said so" "$out" "result   dns"

check "root: no helper children left under the agent" wait_for 10 sh -c "[ -z \"\$(pgrep -P $RPID)\" ]"
finish
