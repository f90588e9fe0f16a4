"""Signal hub fan-out benchmark (issue 5): one provider, 1,000 subscribers (half SSE, half Phoenix WebSocket).

What it does, in one run, with the same client code against two servers:
1. **alfax**: a real ``alfax serve`` (CPU 0) on a temporary database. The provider publishes ``POST /signal``
   (Areix shape; answered only after the signal is committed to the durable log); 500 subscribers follow the
   channel over SSE (``/sse/tradingview/stream``) and 500 over Phoenix V2 (``/socket/websocket``, joined to
   ``algorithms:bench`` after an AlphaHub-style session login).
2. **raw broadcast baseline**: ``signal_fanout_baseline.py`` on the same stack (Starlette, uvicorn, uvloop,
   websockets) writing one pre-encoded frame into every subscriber queue: no log, no sequence, no replay.

Per delivery it records publish-request-start → frame-received (the publisher learns each signal's seq from the
ack, subscribers report (seq, time) — one clock, one client process on CPU 1), and prints p50 / p99, delivered
signals/s, and whether every subscriber got every signal exactly once and in order.

Target (issue 5): p99 <= 100 ms. Usage: ``python benchmarks/bench_signal_fanout.py [--subscribers 1000]
[--rate 20] [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_orders import Operator, free_port, start_server  # noqa: E402

SIGNAL = {"symbol": "BTCUSDT", "side": "buy", "quantity": "0.001", "price": "50000", "exchange": "binance",
          "asset_type": "perpetual"}


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))] if s else float("nan")


class Sub:
    def __init__(self) -> None:
        self.got: list[tuple[int, float]] = []
        self.ready = asyncio.Event()


async def sse_sub(port: int, path: str, sub: Sub, stop: asyncio.Event) -> None:
    """A minimal SSE reader on a raw socket (HTTP/1.1 chunked), so the client side costs little per event."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise SystemExit(f"SSE subscribe failed: {head[:200]!r}")
    chunked = b"chunked" in head.lower()
    buf = b""
    try:
        while not stop.is_set():
            if chunked:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                data = await reader.readexactly(size + 2)
                buf += data[:-2]
            else:
                buf += await reader.read(65536)
            now = time.perf_counter()
            while b"\n\n" in buf:
                event, buf = buf.split(b"\n\n", 1)
                sub.ready.set()
                for line in event.split(b"\n"):
                    if line.startswith(b"id:"):
                        sub.got.append((int(line[3:].strip().rsplit(b":", 1)[-1]), now))
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def ws_sub(url: str, sub: Sub, stop: asyncio.Event) -> None:
    """A Phoenix subscriber that costs the client little per frame: no task per receive, and the seq is read from
    the frame text instead of parsing the whole payload (every item of a one-record push carries the same seq)."""
    async with websockets.connect(url, max_size=None, compression=None) as ws:
        await ws.send('[null,null,"algorithms:bench","phx_join",{}]')

        async def heartbeat() -> None:
            while True:
                await asyncio.sleep(15)
                await ws.send('[null,null,"phoenix","heartbeat",{}]')

        hb = asyncio.create_task(heartbeat())
        try:
            async for raw in ws:
                now = time.perf_counter()
                if '"new_signals"' in raw[:80]:
                    i = raw.rindex('"seq":') + 6
                    j = i
                    while raw[j].isdigit():
                        j += 1
                    sub.got.append((int(raw[i:j]), now))
                elif '"phx_reply"' in raw and '"algorithms:' in raw:
                    sub.ready.set()
                if stop.is_set():
                    break
        finally:
            hb.cancel()


async def run(name: str, port: int, publish, sse_path: str, ws_url: str, n: int, rate: float,
              seconds: float, burst_n: int) -> dict:
    stop = asyncio.Event()
    subs_sse = [Sub() for _ in range(n // 2)]
    subs_ws = [Sub() for _ in range(n - n // 2)]
    tasks = [asyncio.create_task(sse_sub(port, sse_path, s, stop)) for s in subs_sse]
    tasks += [asyncio.create_task(ws_sub(ws_url, s, stop)) for s in subs_ws]
    await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in subs_sse + subs_ws)), 120)
    everyone = subs_sse + subs_ws

    async def phase(count: int, pace: float) -> dict[int, float]:
        sent: dict[int, float] = {}
        async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
            t_start = time.perf_counter()
            for i in range(count):
                if pace:
                    await asyncio.sleep(max(0.0, t_start + i / pace - time.perf_counter()))
                t0 = time.perf_counter()
                sent[await publish(http)] = t0
        last = max(sent)
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline and any(not s.got or s.got[-1][0] < last for s in everyone):
            await asyncio.sleep(0.02)
        return sent

    sent = await phase(int(rate * seconds), rate)  # paced: latency
    marks = [len(s.got) for s in everyone]
    burst = await phase(burst_n, 0.0)  # back to back: capacity (delivered signals/s)
    burst_times = [t for s, m in zip(everyone, marks) for q, t in s.got[m:] if q in burst]
    burst_rate = len(burst_times) / max(max(burst_times) - min(burst.values()), 1e-9) if burst_times else 0.0
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    lat = {"sse": [], "ws": []}
    exact = 0
    for kind, group in (("sse", subs_sse), ("ws", subs_ws)):
        for s in group:
            seqs = [q for q, _ in s.got]
            exact += seqs == sorted(set(sent) | set(burst))  # every signal once, in order, nothing else
            for q, t in s.got:
                if q in sent:
                    lat[kind].append((t - sent[q]) * 1000)
    both = lat["sse"] + lat["ws"]
    return {"name": name, "p50": statistics.median(both), "p99": pct(both, 0.99),
            "sse_p99": pct(lat["sse"], 0.99), "ws_p99": pct(lat["ws"], 0.99),
            "rate": burst_rate, "delivered": len(both), "expected": len(sent) * n, "exact": exact, "n": n,
            "burst": len(burst)}


async def alfax_run(args, base: str, port: int, db: str) -> dict:
    op = Operator(base, json.loads(Path(db + ".operator.json").read_text()))
    acc = op.call("POST", "/alfax/admin/accounts", alias="provider", balance="1000")
    op.call("POST", "/alfax/admin/hub-users", accountId=acc["accountId"], email="bench@alfax.local",
            password="bench-password")
    login = httpx.post(base + "/api/v1/session", data={"user[email]": "bench@alfax.local",
                                                       "user[password]": "bench-password"}).json()
    token = login["data"]["token"]
    key = acc["apiKey"]

    async def publish(http: httpx.AsyncClient) -> int:
        r = await http.post(base + "/signal?user_code=bench", json=SIGNAL, headers={"x-api-key": key})
        if r.status_code != 200:
            raise SystemExit(f"publish failed: {r.status_code} {r.text}")
        return int(r.json()["data"]["seq"])

    # the channel exists before anyone subscribes: one signal, not measured
    async with httpx.AsyncClient(trust_env=False) as http:
        await publish(http)
    return await run("alfax hub (durable log)", port, publish, f"/sse/tradingview/stream?channel=bench&api_key={key}",
                     base.replace("http", "ws") + f"/socket/websocket?vsn=2.0.0&api_token={token}",
                     args.subscribers, args.rate, args.seconds, args.burst)


async def baseline_run(args, port: int) -> dict:
    base = f"http://127.0.0.1:{port}"

    async def publish(http: httpx.AsyncClient) -> int:
        r = await http.post(base + "/publish", json=SIGNAL)
        return int(r.json()["data"]["seq"])

    return await run("raw broadcast (no log)", port, publish, "/sse", f"ws://127.0.0.1:{port}/ws",
                     args.subscribers, args.rate, args.seconds, args.burst)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=20.0, help="signals per second")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--burst", type=int, default=200, help="signals published back to back for delivered/s")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:
        os.sched_setaffinity(0, {1})  # clients on CPU 1, servers on CPU 0
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    tmp = Path(tempfile.mkdtemp(prefix="alfax-bench-fanout-"))
    results = []
    try:
        port = free_port()
        db = str(tmp / "bench.db")
        server = start_server(port, db, cpu="0")
        try:
            results.append(asyncio.run(alfax_run(args, f"http://127.0.0.1:{port}", port, db)))
            print("alfax:", {k: round(v, 1) if isinstance(v, float) else v for k, v in results[-1].items()}, flush=True)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        port = free_port()
        cmd = [sys.executable, str(Path(__file__).with_name("signal_fanout_baseline.py")), str(port)]
        if shutil.which("taskset"):
            cmd = ["taskset", "-c", "0"] + cmd
        base_proc = subprocess.Popen(cmd)
        try:
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    httpx.post(f"http://127.0.0.1:{port}/publish", json=SIGNAL, timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            results.append(asyncio.run(baseline_run(args, port)))
        finally:
            base_proc.kill()  # the baseline's streams never end by themselves (no draining shutdown there)
            base_proc.wait(timeout=30)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = args.subscribers
    print()
    print(f"1 provider, {n} subscribers ({n // 2} SSE + {n - n // 2} Phoenix WebSocket), {args.rate:g} signals/s "
          f"for {args.seconds:g} s (latency = publish request start -> frame received), then {args.burst} "
          "back to back (delivered signals/s)")
    print(f"{'server':<28}{'p50 ms':>9}{'p99 ms':>9}{'SSE p99':>9}{'WS p99':>9}{'delivered/s':>13}{'exactly-once':>15}")
    for r in results:
        print(f"{r['name']:<28}{r['p50']:>9.1f}{r['p99']:>9.1f}{r['sse_p99']:>9.1f}{r['ws_p99']:>9.1f}"
              f"{r['rate']:>13.0f}{r['exact']:>10}/{r['n']:<4}")
    a, b = results
    print(f"alfax / raw: p99 {a['p99'] / max(b['p99'], 1e-9):.2f}x, delivered/s {a['rate'] / max(b['rate'], 1e-9):.2f}x"
          f"  (target: p99 <= 100 ms; paced deliveries {a['delivered']}/{a['expected']})")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
