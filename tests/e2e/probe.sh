#!/usr/bin/env bash
# probe end to end, all on loopback: the five outcomes in text and JSON --
# a name that resolves (/etc/hosts' localhost) and an HTTP server that
# answers 200; a port nothing listens on (refused); a black hole (timeout);
# TLS to the dev relay, whose certificate's names and issuer come back;
# a name that does not resolve.  Exit 0 only when every step succeeded, 1
# when it stopped short; bad destinations and timeouts are usage errors.
#
# The black hole needs no firewall rule and no root: a listener with a
# backlog of 0 whose queue is already full (one connection it never
# accepts) makes the kernel drop every further SYN, so a connect to it is
# never answered, exactly as behind a DROP rule, without touching any
# other address or the machine's tables.
. "$(dirname "$0")/lib.sh"

jqq() { jq -e "$@" >/dev/null; }

start_relay
start_agent e2e-probe

# An HTTP server, a free port, a full listener.
python3 - "$T" >"$T/srv.out" 2>"$T/srv.err" <<'EOF' &
import http.server, socket, sys, threading, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a): pass
web = http.server.HTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=web.serve_forever, daemon=True).start()
free = socket.socket(); free.bind(("127.0.0.1", 0)); fport = free.getsockname()[1]; free.close()
hole = socket.socket(); hole.bind(("127.0.0.1", 0)); hole.listen(0)
fill = []
for _ in range(2):                     # the queue holds these; nothing is accepted
    c = socket.socket(); c.setblocking(False)
    try: c.connect(hole.getsockname())
    except BlockingIOError: pass
    fill.append(c)
time.sleep(0.5)
print(web.server_address[1], fport, hole.getsockname()[1], flush=True)
time.sleep(120)
EOF
PIDS+=($!)
check "the test servers are up" wait_for 20 test -s "$T/srv.out"
read -r WEB FREE HOLE <"$T/srv.out"

# 1. Resolves and connects, HTTP 200.
out=$(ph probe e2e-probe "http://localhost:$WEB/health?x=1"); eq "resolves and connects: exit 0" $? 0
contains "dns answer" "$out" "localhost -> 127.0.0.1"
contains "connected" "$out" "127.0.0.1:$WEB connected in"
contains "the status line and first byte" "$out" "HTTP/1.0 200 OK, first byte after"
contains "the last line" "$(printf '%s\n' "$out" | tail -1)" "result   ok"
ph probe e2e-probe "http://localhost:$WEB/" --json >"$T/ok.json"; eq "--json: exit 0" $? 0
check "json: ok, dns answers, a connect, status 200" jqq '.ok and .outcome == "ok" and
	(.dns.addresses | index("127.0.0.1")) != null and .dns.ms >= 0 and
	.connect[-1].result == "connected" and .http.status == 200 and .http.ttfb_ms >= 0' "$T/ok.json"
check "json: the resolver's configuration" jqq '.resolver == null or (.resolver.nameservers | type == "array")' "$T/ok.json"
ph probe e2e-probe "127.0.0.1:$WEB" >/dev/null; eq "HOST:PORT of an address: exit 0" $? 0

# 2. Refused.
out=$(ph probe e2e-probe "127.0.0.1:$FREE"); eq "refused: exit 1" $? 1
contains "refused, said so" "$out" "127.0.0.1:$FREE refused after"
contains "refused: result" "$(printf '%s\n' "$out" | tail -1)" "result   refused"
ph probe e2e-probe "127.0.0.1:$FREE" --json >"$T/refused.json"; eq "refused --json: exit 1" $? 1
check "json: refused" jqq '(.ok | not) and .outcome == "refused" and .connect[0].result == "refused"' "$T/refused.json"

# 3. Timeout: the black hole.
out=$(ph probe e2e-probe "127.0.0.1:$HOLE" --timeout 1s); eq "timeout: exit 1" $? 1
contains "timeout, said so" "$out" "127.0.0.1:$HOLE timeout after"
contains "timeout: the reason" "$out" "no answer within 1000 ms"
ph probe e2e-probe "127.0.0.1:$HOLE" --timeout 500ms --json >"$T/timeout.json"; eq "timeout --json: exit 1" $? 1
check "json: timeout, the bound kept" jqq '.outcome == "timeout" and .connect[0].result == "timeout" and
	.connect[0].ms >= 500 and .timeout_ms == 500' "$T/timeout.json"

# 4. TLS: the dev relay's certificate.
out=$(ph probe e2e-probe "https://localhost:$PORT/v1/agents"); eq "https: exit 0" $? 0
contains "tls: the handshake" "$out" "tls      TLSv1."
contains "tls: the subject" "$out" "subject  CN=porthole dev relay"
contains "tls: the names" "$out" "names    localhost, 127.0.0.1, ::1"
contains "tls: the issuer" "$out" "issuer   CN=porthole dev relay"
contains "tls: the expiry" "$out" "expires  20"
contains "tls: not in the system bundle" "$out" "verified no: self-signed certificate"
contains "https: the relay's refusal is still an answer" "$out" "HTTP/1.1 401"
ph probe e2e-probe "localhost:$PORT" --tls --json >"$T/tls.json"; eq "HOST:PORT --tls --json: exit 0" $? 0
check "json: the certificate's names, subject, expiry" jqq '.ok and .tls.names == ["localhost","127.0.0.1","::1"] and
	.tls.subject == "CN=porthole dev relay" and .tls.expires_in_days > 0 and .tls.verified == false and .http == null' "$T/tls.json"
ph probe e2e-probe "127.0.0.1:$WEB" --tls --json >"$T/notls.json"; eq "TLS to a plain port: exit 1" $? 1
check "json: a failed handshake is outcome tls" jqq '.outcome == "tls" and (.tls.error | type == "string")' "$T/notls.json"

# 5. A name that does not resolve.
out=$(ph probe e2e-probe "no-such-host.invalid:80" --timeout 3s); eq "no such name: exit 1" $? 1
contains "dns failure, said so" "$out" "no-such-host.invalid: "
contains "dns failure: result" "$(printf '%s\n' "$out" | tail -1)" "result   dns"
ph probe e2e-probe "no-such-host.invalid:80" --timeout 3s --json >"$T/dns.json"; eq "no such name --json: exit 1" $? 1
check "json: dns, no connect" jqq '.outcome == "dns" and (.dns.error | type == "string") and .connect == []' "$T/dns.json"

# Bad input: refused before any session.
bad() {
	local what=$1 want=$2; shift 2
	ph probe e2e-probe "$@" 2>"$T/bad.err"; eq "$what: 255" $? 255
	contains "$what: says why" "$(cat "$T/bad.err")" "$want"
}
bad "no port" "no port: HOST:PORT" db.internal
bad "port 0" "is not a number from 1 to 65535" db:0
bad "another scheme" "only http:// and https:// URLs" ftp://x/
bad "bare IPv6" "an IPv6 address goes in brackets" ::1:80
bad "unclosed bracket" "needs its closing ']'" "[::1:80"
bad "credentials" "credentials (user@host) are not sent" "http://u:p@x/"
bad "a space in the path" "percent-encode it" "http://x/a b"
bad "--tls with http://" "--tls with an http:// URL" --tls http://x/
bad "a timeout too short" "--timeout must be between 100ms and 60s" db:1 --timeout 10ms
bad "no destination" "missing HOST:PORT or URL"

PORTHOLE_TOKEN=@$STATE/viewer.token PORTHOLE_KEY=$STATE/viewer.key ph probe e2e-probe "127.0.0.1:$WEB" >/dev/null
eq "viewer may run probe" $? 0
quiet_pipe_end "probe" "$CLI_BIN" probe e2e-probe "127.0.0.1:$WEB"
check "no helper children left under the agent" wait_for 10 sh -c "[ -z \"\$(pgrep -P $AGENT_PID)\" ]"
finish
