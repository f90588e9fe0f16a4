"""TradingView webhook benchmark (issue 5): time to the 202 under 200 concurrent alerts, and alert-to-order time.

What it does (one run, a real ``alfax serve`` on a temporary database, persistence on):
1. creates N accounts through the operator API and reads each one's webhook URL (as TradingView would post to
   each user's own URL when a bar closes: one alert per account);
2. opens every account's user-data stream (WebSocket) to see its ``alertUpdate`` receipts;
3. fires the N alerts at once (one HTTP/1.1 connection each, like N TradingView senders) and records, per alert,
   the time to the 202 and the time until its ``alertUpdate`` with status ``executed`` arrives (the MARKET order
   is filled and journaled by then);
4. beside it, in the same run, times ``GET /health`` fired the same way (the floor of the HTTP stack), and prints
   p50 / p99 for all three.

Targets (issue 5): p99 to the 202 <= 50 ms with 200 concurrent alerts; alert-to-order well under TradingView's 3 s.
Usage: ``python benchmarks/bench_webhook.py [--alerts 200] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_orders import Operator, free_port, signed, start_server  # noqa: E402


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


async def one_round(base: str, accounts: list[dict], round_no: int) -> dict:
    receipts: dict[int, float] = {}
    waiting: dict[int, asyncio.Future] = {}
    loop = asyncio.get_running_loop()
    sockets = []

    async def listen(acc: dict) -> None:
        ws = acc["ws"]
        try:
            async for raw in ws:
                msg = json.loads(raw)
                if msg.get("e") == "alertUpdate" and msg.get("status") == "executed":
                    # the receipt may arrive before the client has read its 202: register it either way
                    fut = waiting.setdefault(msg["alertId"], loop.create_future())
                    if not fut.done():
                        fut.set_result(loop.time())
        except websockets.ConnectionClosed:
            pass

    for acc in accounts:
        acc["ws"] = await websockets.connect(base.replace("http", "ws") + f"/ws/{acc['listenKey']}")
        sockets.append(asyncio.create_task(listen(acc)))
    clients = [httpx.AsyncClient(timeout=30, trust_env=False) for _ in accounts]
    # warm one connection per client (TCP + HTTP keep-alive), like senders that already talked to us
    await asyncio.gather(*(c.get(base + "/health") for c in clients))
    start = asyncio.Event()

    async def fire(i: int, acc: dict) -> tuple[float, float, int]:
        await start.wait()
        body = f"buy 0.001 BTCUSDT MARKET id=b{round_no}x{i}".encode()
        t0 = loop.time()
        r = await clients[i].post(acc["url"], content=body, headers={"Content-Type": "text/plain"})
        t1 = loop.time()
        if r.status_code != 202:
            raise SystemExit(f"alert {i}: HTTP {r.status_code} {r.text}")
        alert_id = r.json()["alertId"]
        fut = waiting.setdefault(alert_id, loop.create_future())
        done = await asyncio.wait_for(fut, 30)
        return (t1 - t0) * 1000, (done - t0) * 1000, alert_id

    tasks = [asyncio.create_task(fire(i, acc)) for i, acc in enumerate(accounts)]
    await asyncio.sleep(0.05)
    start.set()
    results = await asyncio.gather(*tasks)

    # the HTTP floor, same shape: N concurrent GET /health on warm connections
    start2 = asyncio.Event()

    async def health(i: int) -> float:
        await start2.wait()
        t0 = loop.time()
        r = await clients[i].get(base + "/health")
        assert r.status_code == 200
        return (loop.time() - t0) * 1000

    htasks = [asyncio.create_task(health(i)) for i in range(len(accounts))]
    await asyncio.sleep(0.05)
    start2.set()
    floor = await asyncio.gather(*htasks)
    for c in clients:
        await c.aclose()
    for acc in accounts:
        await acc["ws"].close()
    for t in sockets:
        t.cancel()
    receipts.clear()
    return {"ack": [r[0] for r in results], "order": [r[1] for r in results], "health": floor}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="alfax-bench-webhook-"))
    port = free_port()
    db = str(tmp / "bench.db")
    server = start_server(port, db, cpu="0")
    base = f"http://127.0.0.1:{port}"
    try:
        op = Operator(base, json.loads(Path(db + ".operator.json").read_text()))
        accounts = []
        for _ in range(args.alerts):
            acc = op.call("POST", "/alfax/admin/accounts", alias="bench", balance="100000")
            hook = httpx.get(base + "/alfax/v1/webhook?" + signed({"timestamp": int(time.time() * 1000)},
                                                                   acc["secretKey"]),
                             headers={"X-MBX-APIKEY": acc["apiKey"]}).json()
            lk = httpx.post(base + "/fapi/v1/listenKey", headers={"X-MBX-APIKEY": acc["apiKey"]}).json()
            accounts.append({"url": hook["url"], "listenKey": lk["listenKey"]})
        ack: list[float] = []
        order: list[float] = []
        floor: list[float] = []
        for rnd in range(args.rounds):
            res = asyncio.run(one_round(base, accounts, rnd))
            print(f"round {rnd}: 202 p50 {statistics.median(res['ack']):.1f} p99 {pct(res['ack'], 0.99):.1f} ms; "
                  f"health p99 {pct(res['health'], 0.99):.1f} ms", flush=True)
            ack += res["ack"]
            order += res["order"]
            floor += res["health"]
        print(f"{args.alerts} concurrent alerts (one per account, one connection each) x {args.rounds} rounds; "
              "persistence: SQLite WAL, 202 after COMMIT of the alert and its dedupe keys")
        print(f"{'measure':<44}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
        for name, vals in (("GET /health (HTTP floor, same concurrency)", floor),
                           ("POST /tv/<token> -> 202", ack),
                           ("alert -> order filled (alertUpdate executed)", order)):
            print(f"{name:<44}{statistics.median(vals):>10.1f}{pct(vals, 0.99):>10.1f}{max(vals):>10.1f}")
        print(f"202 p99 / health p99: {pct(ack, 0.99) / max(pct(floor, 0.99), 1e-9):.2f}x  "
              "(targets: 202 p99 <= 50 ms; alert -> order well under TradingView's 3 s)")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except Exception:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
