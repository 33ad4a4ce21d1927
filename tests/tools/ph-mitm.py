#!/usr/bin/env python3
"""ph-mitm.py - a hostile relay in the middle, for the end-to-end tests.

It sits between the CLI and the relay (it holds the relay's TLS key, as a
relay that was taken over would), passes HTTP requests through untouched,
and in a WebSocket session does one thing to the session's frames, in one
direction:

  a2c  agent -> client (what the relay sends the CLI)
  c2a  client -> agent (what the CLI sends the relay: masked frames)

  --attack flip     flip one bit of sealed record N
           drop     drop record N
           reorder  send record N after record N+1
           replay   send record N, then again
           inject   add a forged record (the next number, random bytes) before N
           clear    add a clear frame (STDOUT / STDIN "INJECTED") before record N
           swap     (a2c) replace the agent's share in its `seal` with another
           none     pass everything (the control run)

N counts sealed data records (type 0x05, kind 0) of that direction from 0.
It prints "listening PORT" on stdout, and on stderr one line per attack
made ("mitm: flip record 2 a2c"), so a test can tell the attack happened.

Usage: ph-mitm.py --cert PEM --key PEM --upstream HOST:PORT
                  --attack A [--dir a2c|c2a] [--nth N]
"""
import argparse
import asyncio
import base64
import json
import os
import ssl
import struct
import sys


def log(msg):
    print("mitm: " + msg, file=sys.stderr, flush=True)


class Frame:
    def __init__(self, fin_op, masked, mask, payload):
        self.fin_op = fin_op
        self.masked = masked
        self.mask = mask
        self.payload = payload

    @property
    def opcode(self):
        return self.fin_op & 0x0F

    def encode(self):
        n = len(self.payload)
        b1 = 0x80 if self.masked else 0
        if n < 126:
            head = bytes([self.fin_op, b1 | n])
        elif n < 65536:
            head = bytes([self.fin_op, b1 | 126]) + struct.pack(">H", n)
        else:
            head = bytes([self.fin_op, b1 | 127]) + struct.pack(">Q", n)
        if not self.masked:
            return head + self.payload
        return head + self.mask + xor(self.payload, self.mask)


def xor(data, mask):
    if not data:
        return b""
    m = (mask * (len(data) // 4 + 1))[:len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(len(data), "big")


async def read_frame(r):
    h = await r.readexactly(2)
    masked = bool(h[1] & 0x80)
    n = h[1] & 0x7F
    if n == 126:
        n = struct.unpack(">H", await r.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", await r.readexactly(8))[0]
    mask = await r.readexactly(4) if masked else b""
    p = await r.readexactly(n)
    if masked:
        p = xor(p, mask)
    return Frame(h[0], masked, mask, p)


def is_record(p):
    return len(p) >= 26 and p[0] == 0x05 and p[1] == 0


class Attack:
    """The attack on one direction of one session."""

    def __init__(self, kind, nth, direction, my_dir):
        self.kind = kind
        self.nth = nth
        self.on = direction == my_dir
        self.dir = my_dir
        self.count = 0
        self.held = None

    def frames(self, f):
        """What to send for frame f (a list)."""
        if not self.on or f.opcode not in (0x2, 0x0):
            return [f]
        p = f.payload
        if self.kind == "swap" and self.dir == "a2c" and p[:1] == b"\x03":
            try:
                obj = json.loads(p[1:])
            except ValueError:
                return [f]
            if obj.get("type") == "seal" and "share" in obj:
                obj["share"] = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
                log("swap the agent's share " + self.dir)
                return [Frame(f.fin_op, f.masked, f.mask, b"\x03" + json.dumps(obj).encode())]
            return [f]
        if not is_record(p):
            return [f]
        i = self.count
        self.count += 1
        if self.held is not None and i == self.nth + 1:
            held, self.held = self.held, None
            log("reorder record %d after %d %s" % (self.nth, i, self.dir))
            return [f, held]
        if i != self.nth:
            return [f]
        if self.kind == "flip":
            b = bytearray(p)
            b[-20] ^= 0x01
            log("flip record %d %s" % (i, self.dir))
            return [Frame(f.fin_op, f.masked, f.mask, bytes(b))]
        if self.kind == "drop":
            log("drop record %d %s" % (i, self.dir))
            return []
        if self.kind == "reorder":
            self.held = f
            return []
        if self.kind == "replay":
            log("replay record %d %s" % (i, self.dir))
            return [f, f]
        if self.kind == "inject":
            forged = p[:26] + os.urandom(len(p) - 26)
            log("inject a forged record before %d %s" % (i, self.dir))
            return [Frame(f.fin_op, f.masked, f.mask, forged), f]
        if self.kind == "clear":
            t = b"\x01" if self.dir == "a2c" else b"\x00"
            log("inject a clear frame before record %d %s" % (i, self.dir))
            return [Frame(f.fin_op, f.masked, f.mask, t + b"INJECTED\n"), f]
        return [f]


async def pump_raw(r, w):
    try:
        while True:
            b = await r.read(65536)
            if not b:
                break
            w.write(b)
            await w.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
        pass
    finally:
        try:
            w.close()
        except Exception:
            pass


async def pump_ws(r, w, attack):
    try:
        while True:
            f = await read_frame(r)
            for g in attack.frames(f):
                w.write(g.encode())
            await w.drain()
            if f.opcode == 0x8:
                pass
    except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
        pass
    finally:
        try:
            w.close()
        except Exception:
            pass


async def read_head(r):
    head = b""
    while b"\r\n\r\n" not in head:
        b = await r.read(1)
        if not b:
            return None
        head += b
        if len(head) > 65536:
            return None
    return head


def make_handler(args, up_ctx):
    host, port = args.upstream.rsplit(":", 1)

    async def handle(cr, cw):
        try:
            ur, uw = await asyncio.open_connection(host, int(port), ssl=up_ctx,
                                                   server_hostname=host)
        except OSError as e:
            log("cannot reach the relay: %s" % e)
            cw.close()
            return
        head = await read_head(cr)
        if head is None:
            cw.close()
            uw.close()
            return
        uw.write(head)
        await uw.drain()
        if b"upgrade: websocket" not in head.lower():
            await asyncio.gather(pump_raw(cr, uw), pump_raw(ur, cw))
            return
        answer = await read_head(ur)
        if answer is None:
            cw.close()
            uw.close()
            return
        cw.write(answer)
        await cw.drain()
        await asyncio.gather(
            pump_ws(cr, uw, Attack(args.attack, args.nth, args.dir, "c2a")),
            pump_ws(ur, cw, Attack(args.attack, args.nth, args.dir, "a2c")))
    return handle


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--attack", default="none",
                    choices=["none", "flip", "drop", "reorder", "replay", "inject", "clear", "swap"])
    ap.add_argument("--dir", default="a2c", choices=["a2c", "c2a"])
    ap.add_argument("--nth", type=int, default=1)
    args = ap.parse_args()
    srv_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    srv_ctx.load_cert_chain(args.cert, args.key)
    srv_ctx.set_alpn_protocols(["http/1.1"])
    up_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    up_ctx.check_hostname = False
    up_ctx.verify_mode = ssl.CERT_NONE
    up_ctx.set_alpn_protocols(["http/1.1"])
    server = await asyncio.start_server(make_handler(args, up_ctx), "127.0.0.1", 0, ssl=srv_ctx)
    print("listening %d" % server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
