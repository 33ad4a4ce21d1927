#!/usr/bin/env python3
"""ph-resume-forge: a client that tries to take over a held session.

It opens /v1/session on the relay with a real client token (its own, or
another subject's), asks to resume session SID of agent AGENT like the CLI
does after a dropped connection, and answers the agent's resume proof
with a proof it cannot make (it holds none of the session's keys: 32
random bytes).  It prints what came back, one line each:

  proof            the agent's resume_proof came (the agent proved itself)
  error CODE MSG   an error frame
  close CODE       the close frame's code

Usage: ph-resume-forge.py --relay HOST:PORT --ca CA.pem --token TOKEN
                          --sid SID --agent AGENT
"""
import argparse
import base64
import json
import os
import socket
import ssl
import struct
import sys


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def send(sock, payload):
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x82, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x82, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x82, 0x80 | 127, n)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(head + mask + body)


def recv_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError
        out += chunk
    return out


def recv(sock):
    b0, b1 = recv_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exact(sock, 8))[0]
    return b0 & 0x0F, recv_exact(sock, n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--relay", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--sid", required=True)
    ap.add_argument("--agent", required=True)
    a = ap.parse_args()
    token = a.token
    if token.startswith("@"):
        token = open(token[1:]).read().strip()
    host, port = a.relay.rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.check_hostname = False
    raw = socket.create_connection((host, int(port)), timeout=20)
    sock = ctx.wrap_socket(raw, server_hostname=host)
    key = b64u(os.urandom(16)) + "=="
    req = ("GET /v1/session HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Protocol: porthole.session.v1\r\n"
           "Authorization: Bearer %s\r\n\r\n" % (a.relay, key, token))
    sock.sendall(req.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        c = sock.recv(1)
        if not c:
            print("close upgrade")
            return
        head += c
    if b" 101 " not in head.split(b"\r\n")[0]:
        print("refused %s" % head.split(b"\r\n")[0].decode())
        return
    msg = {"type": "resume", "sid": a.sid, "agent": a.agent,
           "challenge": b64u(os.urandom(32))}
    send(sock, b"\x03" + json.dumps(msg).encode())
    try:
        while True:
            op, p = recv(sock)
            if op == 8:
                code = struct.unpack("!H", p[:2])[0] if len(p) >= 2 else 1005
                print("close %d" % code, flush=True)
                return
            if op != 2 or not p or p[0] != 3:
                continue
            m = json.loads(p[1:])
            if m.get("type") == "resume_proof":
                print("proof", flush=True)
                forged = {"type": "resume_proof", "received": 0,
                          "proof": b64u(os.urandom(32))}
                send(sock, b"\x03" + json.dumps(forged).encode())
            elif m.get("type") == "error":
                print("error %s %s" % (m.get("code"), m.get("message")),
                      flush=True)
    except (EOFError, OSError):
        print("close 1006")


if __name__ == "__main__":
    sys.exit(main())
