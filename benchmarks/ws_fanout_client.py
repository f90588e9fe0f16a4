"""Client fleet process for ``bench_ws_fanout.py``: many WebSocket connections, counted cheaply.

One process holds a few hundred connections (uvloop, raw asyncio protocols). After the HTTP/1.1 upgrade, server
frames (unmasked) are parsed by hand: per frame only the stream kind (from the combined ``{"stream":…`` prefix)
and the ``"E"`` field are read, so the fleet spends a few µs per frame and the servers, not the clients, are
measured. Delay = receive wall time (one ``time.time()`` per socket read) − ``E``.

Control (stdin lines, from the orchestrator):
  ``window NAME T0 T1``  count frames received in [T0, T1) (wall seconds); after T1 print one JSON line
  ``quit``               close every connection and exit
stdout: ``READY <connected> <failed>`` once every connection finished its handshake, then the JSON reports.
Usage: python ws_fanout_client.py SPEC.json   (SPEC: {"host", "port", "paths": [...], "concurrency"})
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import sys
import time

BUCKET_PER_MS = 4  # delay histogram: 0.25 ms buckets …
MAX_MS = 10_000  # … up to 10 s (the last bucket holds everything slower)
NBUCKETS = MAX_MS * BUCKET_PER_MS + 1
E_KEY = b'"E":'
MARKET_PREFIX = b'{"stream":"btcusdt@'  # combined market frames; everything else on our streams is user data
MP_LEN = len(MARKET_PREFIX)


class Stats:
    __slots__ = ("t0", "t1", "name", "book", "agg", "user", "other", "bytes", "hist", "hist_u", "max_ms", "noe")

    def __init__(self) -> None:
        self.t0 = self.t1 = 0.0
        self.name = ""
        self.reset()

    def reset(self) -> None:
        self.book = self.agg = self.user = self.other = self.bytes = self.noe = 0
        self.hist = [0] * NBUCKETS  # market frames
        self.hist_u = [0] * NBUCKETS  # user-data frames
        self.max_ms = 0.0


class FanoutClient(asyncio.Protocol):
    """One connection: upgrade handshake, then a hand-rolled frame parser (server frames are never masked)."""

    __slots__ = ("stats", "req", "transport", "buf", "upgraded", "ready", "closed", "close_info")

    def __init__(self, stats: Stats, host: str, port: int, path: str, ready: asyncio.Future) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        self.req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
        self.stats = stats
        self.transport = None
        self.buf = bytearray()
        self.upgraded = False
        self.ready = ready
        self.closed = False
        self.close_info = ""

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.req)

    def connection_lost(self, exc) -> None:
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"lost before upgrade: {exc!r}"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            del buf[:end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace")))
                self.transport.close()
                return
            self.upgraded = True
            self.ready.set_result(None)
        now = time.time()
        st = self.stats
        counting = st.t0 <= now < st.t1
        now_ms = now * 1000.0
        n = len(buf)
        pos = 0
        find = buf.find
        while n - pos >= 2:
            b0 = buf[pos]
            ln = buf[pos + 1] & 0x7F
            hdr = 2
            if ln == 126:
                if n - pos < 4:
                    break
                ln = (buf[pos + 2] << 8) | buf[pos + 3]
                hdr = 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln = int.from_bytes(buf[pos + 2:pos + 10], "big")
                hdr = 10
            start = pos + hdr
            end = start + ln
            if end > n:
                break
            op = b0 & 0x0F
            if op == 1 or op == 2 or op == 0:
                if counting:
                    st.bytes += ln + hdr
                    hist = st.hist
                    if buf.startswith(MARKET_PREFIX, start):
                        if buf[start + MP_LEN] == 98:  # b"b": bookTicker
                            st.book += 1
                        else:
                            st.agg += 1
                    elif buf[start + 2] == 115:  # b's': {"stream":"<listenKey>"…
                        st.user += 1
                        hist = st.hist_u
                    else:
                        st.other += 1
                    i = find(E_KEY, start, end)
                    if i >= 0:
                        j = find(b",", i + 4, end)
                        d = now_ms - int(buf[i + 4:j])
                        if d > st.max_ms:
                            st.max_ms = d
                        k = int(d * BUCKET_PER_MS)
                        hist[k if 0 <= k < NBUCKETS else (0 if k < 0 else NBUCKETS - 1)] += 1
                    else:
                        st.noe += 1
            elif op == 9:  # ping -> masked pong with the same payload (zero mask)
                payload = bytes(buf[start:end])
                self.transport.write(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)
            elif op == 8:
                code = int.from_bytes(buf[start:start + 2], "big") if ln >= 2 else 0
                self.close_info = f"{code} {bytes(buf[start + 2:end]).decode(errors='replace')}"
                self.transport.close()
            pos = end
        if pos:
            del buf[:pos]


async def main(spec_path: str) -> None:
    spec = json.loads(open(spec_path).read())
    host, port, paths = spec["host"], int(spec["port"]), spec["paths"]
    loop = asyncio.get_running_loop()
    stats = Stats()
    clients: list[FanoutClient] = []
    sem = asyncio.Semaphore(int(spec.get("concurrency", 50)))
    failed: list[str] = []

    async def one(path: str) -> None:
        async with sem:
            for attempt in range(3):
                ready = loop.create_future()
                try:
                    _, proto = await loop.create_connection(
                        lambda: FanoutClient(stats, host, port, path, ready), host, port)
                    await asyncio.wait_for(ready, 30)
                    clients.append(proto)
                    return
                except Exception as e:  # noqa: BLE001 - reported, retried
                    err = repr(e)
                    await asyncio.sleep(0.2 * (attempt + 1))
            failed.append(err)

    await asyncio.gather(*(one(p) for p in paths))
    print(f"READY {len(clients)} {len(failed)} {failed[0] if failed else ''}", flush=True)

    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    while True:
        line = (await reader.readline()).decode().split()
        if not line or line[0] == "quit":
            break
        if line[0] == "window":
            stats.reset()
            stats.name, stats.t0, stats.t1 = line[1], float(line[2]), float(line[3])
            await asyncio.sleep(max(0.0, stats.t0 - time.time()))
            ru0 = resource.getrusage(resource.RUSAGE_SELF)
            await asyncio.sleep(max(0.0, stats.t1 - time.time()) + 0.05)
            ru1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
            hist = {i: c for i, c in enumerate(stats.hist) if c}
            hist_u = {i: c for i, c in enumerate(stats.hist_u) if c}
            print(json.dumps({"name": stats.name, "book": stats.book, "agg": stats.agg, "user": stats.user,
                              "other": stats.other, "noe": stats.noe, "bytes": stats.bytes, "max_ms": stats.max_ms,
                              "hist": hist, "hist_u": hist_u, "cpu_s": cpu, "open": sum(not c.closed for c in clients),
                              "closes": sorted({c.close_info for c in clients if c.close_info})[:3]}), flush=True)
    for c in clients:
        if c.transport is not None:
            c.transport.close()


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 65536)), hard))
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(main(sys.argv[1]))
