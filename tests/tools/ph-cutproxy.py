#!/usr/bin/env python3
"""ph-cutproxy: a TCP proxy that cuts its connections, for resume tests.

Listens on 127.0.0.1 (an ephemeral port, printed as "listening PORT" on
stdout) and forwards each connection to --upstream HOST:PORT, bytes
untouched (TLS passes through).  It cuts connections the way a flaky path
does, each cut an abrupt close of both sides (RST toward the client):

  --cut-bytes N   a connection is cut once N bytes went through it (both
                  ways; the next one again after N more), until --cuts
                  cuts were made; after that everything passes
  --cuts K        how many cuts at most (default 20)
  SIGUSR1         cut every connection now (not counted in --cuts)
  SIGUSR2         toggle "down": while down, new connections are accepted
                  and closed at once (a path that does not work)

Each cut is said on stderr as "cut N" (N counts them), so a test can
assert that the cuts happened.
"""
import argparse
import asyncio
import signal
import socket
import struct
import sys


class Proxy:
    def __init__(self, upstream, cut_bytes, cuts):
        self.host, port = upstream.rsplit(":", 1)
        self.port = int(port)
        self.cut_bytes = cut_bytes
        self.cuts_left = cuts
        self.ncut = 0
        self.down = False
        self.conns = set()

    def cut(self, pair, counted=True):
        if counted and pair not in self.conns:
            return
        for w in pair:
            try:
                sock = w.get_extra_info("socket")
                if sock is not None:
                    # SO_LINGER 0: the close sends RST, as a broken path.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
                w.transport.abort()
            except Exception:
                pass
        self.conns.discard(pair)
        if counted:
            self.cuts_left -= 1
        self.ncut += 1
        print("cut %d" % self.ncut, file=sys.stderr, flush=True)

    def cut_all(self):
        for pair in list(self.conns):
            self.cut(pair, counted=False)

    async def pipe(self, r, w, pair, count):
        try:
            while True:
                data = await r.read(65536)
                if not data:
                    break
                if pair not in self.conns:
                    return      # cut from the other direction
                if self.cut_bytes > 0 and self.cuts_left > 0:
                    room = self.cut_bytes - count[0]
                    if len(data) >= room:
                        w.write(data[:room])
                        await w.drain()
                        self.cut(pair)
                        return
                    count[0] += len(data)
                w.write(data)
                await w.drain()
        except Exception:
            pass
        finally:
            try:
                w.close()
            except Exception:
                pass

    async def handle(self, cr, cw):
        if self.down:
            self.cut((cw,), counted=False)
            return
        try:
            ur, uw = await asyncio.open_connection(self.host, self.port)
        except OSError:
            cw.close()
            return
        pair = (cw, uw)
        self.conns.add(pair)
        count = [0]
        await asyncio.gather(self.pipe(cr, uw, pair, count),
                             self.pipe(ur, cw, pair, count))
        self.conns.discard(pair)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--cut-bytes", type=int, default=0)
    ap.add_argument("--cuts", type=int, default=20)
    a = ap.parse_args()
    p = Proxy(a.upstream, a.cut_bytes, a.cuts)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, p.cut_all)

    def toggle():
        p.down = not p.down
        if p.down:
            p.cut_all()
        print("down" if p.down else "up", file=sys.stderr, flush=True)
    loop.add_signal_handler(signal.SIGUSR2, toggle)
    srv = await asyncio.start_server(p.handle, "127.0.0.1", 0)
    print("listening %d" % srv.sockets[0].getsockname()[1], flush=True)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
