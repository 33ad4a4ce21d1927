#!/usr/bin/env bash
# many_agents end to end: a relay holding thousands of real agent control
# channels (tests/tools/ph-agentload, sources in 127.1.0.0/16) answers
# `porthole ls --json` whole, keeps them all past several hangup times
# (ph-agentload never pings on its own: only the relay's pings, answered,
# keep them), a /v1/agents answer of several MB that outlasts
# --handshake-timeout is not cut short while its reader takes it, a burst of
# agents 50 to an address past --max-pending-per-addr still gets in (they
# retry as agents do), and a CLI that gets less than the Content-Length it
# was promised says "truncated" with the byte counts, not "not JSON".
. "$(dirname "$0")/lib.sh"

LOAD_BIN=$BUILD/tests/tools/ph-agentload
command -v python3 >/dev/null || { fail "python3 is not installed (scripts/deps.sh installs it)"; finish; }

# About 230 bytes of JSON per agent plus its padding labels: the answer must
# be well past what the kernel's socket buffers hold (tcp_wmem max, 4 MiB
# here), so that the relay still has most of it to write when the deadline
# passes.  Under the sanitizers fewer agents with more padding, same size.
if sanitizer; then N=400 PAD=15000; else N=2000 PAD=3000; fi

# A short handshake deadline: HTTP connections are never admitted, so the
# slow reader below is under it; the agents' handshakes retry if they miss it.
start_relay --handshake-timeout 2 --hangup-secs 6

"$LOAD_BIN" --url "$PORTHOLE_RELAY" --ca "$PORTHOLE_CA" --token "@$STATE/agent.token" \
	-n $N --pad $PAD --per-addr 50 --inflight 64 >"$T/load.out" 2>"$T/load.err" &
PIDS+=($!)
if ! wait_for $((60 + N / 5)) grep -q '^ready' "$T/load.out"; then
	fail "ph-agentload did not report ready"; cat "$T/load.err" >&2; finish
fi
log "$(head -1 "$T/load.out")"
# 50 agents an address dialled 64 at a time: past the 32 pending an address
# allows, some are refused at accept and get in on a retry.
contains "every agent connected (retrying refusals)" "$(head -1 "$T/load.out")" "ready $N of $N"

# Three hangup times of quiet: the relay pings every agent (every 2 s here)
# and drops none of them, since each answers.
sleep 18
eq "agents the relay dropped as silent" "$(grep -c "hanging up" "$T/relay.err")" 0
eq "agents that lost their connection (ph-agentload)" "$(grep -c "^lost" "$T/load.out")" 0

ph ls --json >"$T/ls.json" 2>"$T/ls.err"; eq "ls --json exit 0" $? 0
size=$(wc -c <"$T/ls.json")
log "ls --json: $size bytes"
check "the answer is several MB (${size} bytes)" [ "$size" -gt 5000000 ]
eq "ls --json lists every agent" "$(jq '[.agents[] | select(.labels.bench == "load")] | length' "$T/ls.json" 2>/dev/null || \
	python3 -c 'import json,sys; print(sum(1 for a in json.load(open(sys.argv[1]))["agents"] if a["labels"].get("bench") == "load"))' "$T/ls.json")" "$N"

# A reader that takes the answer slowly through a tiny receive window: the
# whole of it must arrive although it takes longer than the deadline.
cat >"$T/slowget.py" <<'PY'
import socket, ssl, sys, time
host, port, ca, tokf, proof = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
tok = open(tokf).read().strip()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((host, port))
ctx = ssl.create_default_context(cafile=ca)
ctx.set_alpn_protocols(["http/1.1"])
t = ctx.wrap_socket(s, server_hostname=host)
t.sendall(("GET /v1/agents HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
           "Porthole-Proof: %s\r\n\r\n" % (host, tok, proof)).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    d = t.recv(4096)
    if not d:
        break
    buf += d
head, _, body = buf.partition(b"\r\n\r\n")
clen = -1
for line in head.split(b"\r\n"):
    if line.lower().startswith(b"content-length:"):
        clen = int(line.split(b":")[1])
got, t0 = len(body), time.monotonic()
while clen < 0 or got < clen:
    try:
        d = t.recv(16384)
    except (ConnectionError, ssl.SSLError):
        break
    if not d:
        break
    got += len(d)
    time.sleep(0.01)
print(clen, got, "%.1f" % (time.monotonic() - t0))
PY
# A token lists only with the proof of its key (what the CLI sends).
proof=$("$PROBE_BIN" --url "wss://127.0.0.1:$PORT/v1/agents" --token "$PORTHOLE_TOKEN" \
	--sign "$PORTHOLE_KEY" --list-proof)
read -r want got secs < <(timeout 120 python3 "$T/slowget.py" 127.0.0.1 "$PORT" "$PORTHOLE_CA" \
	"${PORTHOLE_TOKEN#@}" "$proof")
log "slow reader: $got of $want bytes in $secs s (deadline 2 s)"
check "the slow reader's answer has a Content-Length" [ "${want:--1}" -gt 5000000 ]
eq "the slow reader gets all of it" "${got:-0}" "${want:-x}"

# The CLI's side: a server that answers GET /v1/agents with the canned
# answers it is given, one per connection, in order.  It speaks TLS with
# the dev relay's certificate, which the CLI trusts.
cat >"$T/canned.py" <<'PY'
import socket, ssl, sys
cert, key = sys.argv[1], sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(4)
print(ls.getsockname()[1], flush=True)
for name in sys.argv[3:]:
    c, _ = ls.accept()
    t = ctx.wrap_socket(c, server_side=True)
    req = b""
    while b"\r\n\r\n" not in req:
        d = t.recv(4096)
        if not d:
            break
        req += d
    t.sendall(open(name, "rb").read())
    t.close()
PY
# A short answer: it promises more than it sends.  A chunked one (an
# HTTP/1.1 server may send one), whole with a trailer, then cut short
# between its chunks.
python3 - "$T" <<'PY'
import sys
d = sys.argv[1]
open(d + "/short.http", "wb").write(
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100000\r\n\r\n" + b'{"agents":[{"id":"a","name":"a","labels":{}}')
body = (b'{"agents":[{"id":"c0ffee0000000001@dev","name":"chunky","sub":"dev",'
        b'"labels":{},"version":"0.1.0","proto":3,"connected_at":0}]}')
out = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
for i in range(0, len(body), 7):
    out += b"%x;x=y\r\n" % len(body[i:i + 7]) + body[i:i + 7] + b"\r\n"
open(d + "/chunked.http", "wb").write(out + b"0\r\nX-Trailer: 1\r\n\r\n")
open(d + "/cut.http", "wb").write(out[:len(out) // 2])
PY
python3 "$T/canned.py" "$STATE/ca.pem" "$STATE/tls.key" "$T/short.http" \
	"$T/chunked.http" "$T/cut.http" >"$T/canned.out" 2>"$T/canned.err" &
PIDS+=($!)
if wait_for 20 grep -q . "$T/canned.out"; then
	cport=$(head -1 "$T/canned.out")
	ph ls --json --relay "wss://127.0.0.1:$cport" >/dev/null 2>"$T/short.cli"
	eq "a short answer: exit 255" $? 255
	contains "a short answer is called truncated" "$(cat "$T/short.cli")" "truncated"
	contains "with what arrived of what was announced" "$(cat "$T/short.cli")" "44 of 100000 bytes"
	ph ls --relay "wss://127.0.0.1:$cport" >"$T/chunked.ls" 2>"$T/chunked.cli"
	eq "a chunked answer: exit 0" $? 0
	contains "a chunked answer: its agent listed" "$(cat "$T/chunked.ls")" "chunky"
	ph ls --relay "wss://127.0.0.1:$cport" >/dev/null 2>"$T/cut.cli"
	eq "a chunked answer cut short: exit 255" $? 255
	contains "a chunked answer cut short is called truncated" "$(cat "$T/cut.cli")" \
		"its chunked body ended after"
else
	fail "the canned-answer server did not start: $(cat "$T/canned.err")"
fi

finish
