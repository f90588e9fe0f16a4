"""Journal group-commit benchmark: 64 concurrent asyncio producers, each awaiting its COMMIT (ACK = durable).

Each append is what the runtime journals for one new order: a PlaceOrder command plus its OrderUpdated event
(1 journal row + 1 orders upsert); ``--fills`` adds a trade and two income rows per append.

    /work/venv/bin/python benchmarks/bench_journal.py [--seconds 5] [--producers 64] [--fills]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

from alfax.domain.commands import PlaceOrder
from alfax.domain.enums import ExecutionType, IncomeType, OrderStatus, OrderType, PositionSide, Side, TimeInForce
from alfax.domain.events import Income, OrderUpdated
from alfax.domain.orders import Evidence, Order, Trade
from alfax.ledger import Ledger


def make(i: int, fills: bool, accounts: int = 4):
    o = Order(order_id=i, account_id=1 + i % accounts, symbol="BTCUSDT", side=Side.BUY, type=OrderType.LIMIT,
              orig_type=OrderType.LIMIT, quantity=10, price=6_500_000 + i % 100, time_in_force=TimeInForce.GTC,
              position_side=PositionSide.BOTH, client_order_id=f"x-{i}", time=1_700_000_000_000 + i,
              update_time=1_700_000_000_000 + i)
    cmd = PlaceOrder(o.account_id, "BTCUSDT", Side.BUY, OrderType.LIMIT, quantity=10, price=o.price,
                     client_order_id=o.client_order_id)
    evs = [OrderUpdated(seq=4 * i, ts=o.time, account_id=o.account_id, order=o, exec_type=ExecutionType.NEW)]
    if fills:
        f = o.copy()
        f.status, f.executed_qty = OrderStatus.FILLED, 10
        t = Trade(i, i, o.account_id, "BTCUSDT", Side.BUY, PositionSide.BOTH, o.price, 10, 650_000_000_000, 26_000_000,
                  0, False, o.time, Evidence("book", i, o.price, 12))
        evs += [
            OrderUpdated(seq=4 * i + 1, ts=o.time, account_id=o.account_id, order=f, exec_type=ExecutionType.TRADE,
                         trade=t),
            Income(seq=4 * i + 2, ts=o.time, account_id=o.account_id, tran_id=2 * i, income_type=IncomeType.COMMISSION,
                   amount=-26_000_000, symbol="BTCUSDT", trade_id=i),
            Income(seq=4 * i + 3, ts=o.time, account_id=o.account_id, tran_id=2 * i + 1,
                   income_type=IncomeType.REALIZED_PNL, amount=0, symbol="BTCUSDT", trade_id=i),
        ]
    return o.time, cmd, evs


async def run_case(path: str, sync: str, seconds: float, producers: int, fills: bool, api: str = "append_async",
                   accounts: int = 4) -> dict:
    led = Ledger(path, synchronous=sync)
    counter = 0
    stop_at = time.perf_counter() + seconds
    work = [make(i, fills, accounts) for i in range(20_000)]

    async def producer() -> None:
        nonlocal counter
        while time.perf_counter() < stop_at:
            counter += 1
            ts, cmd, evs = work[counter % len(work)]
            if api == "append_async":
                await led.append_async(ts, cmd, evs)
            else:
                await asyncio.wrap_future(led.append(ts, cmd, evs))

    t0 = time.perf_counter()
    c0 = time.process_time()
    await asyncio.gather(*(producer() for _ in range(producers)))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    m = led.metrics()
    led.close()
    return {"api": api, "sync": sync, "appends": m["rows"], "appends_s": m["rows"] / wall, "commits": m["commits"],
            "commits_s": m["commits"] / wall, "rows_per_commit": m["rows_per_commit"],
            "lag_p50": m["commit_lag_ms_p50"], "lag_p99": m["commit_lag_ms_p99"], "cpu_s_per_wall_s": cpu / wall}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--producers", type=int, default=64)
    ap.add_argument("--fills", action="store_true", help="order + trade + 2 income rows per append")
    ap.add_argument("--accounts", type=int, default=4, help="accounts the appends are spread over")
    ap.add_argument("--dir", default=None, help="directory for the db files (default: a temp dir)")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        for api in ("append_async", "wrap_future(append)"):
            for sync in ("NORMAL", "FULL"):
                path = os.path.join(d, f"bench-{sync}-{len(results)}.db")
                results.append(asyncio.run(run_case(path, sync, args.seconds, args.producers, args.fills, api,
                                                    args.accounts)))
    kind = "order+trade+2 income per append" if args.fills else "order upsert per append"
    print(f"SQLite WAL group commit, {args.producers} asyncio producers, {args.accounts} accounts, "
          f"{args.seconds:g}s per case, {kind}")
    hdr = f"{'api':<22}{'synchronous':<12}{'appends/s':>12}{'commits/s':>11}{'rows/commit':>13}{'lag p50 ms':>12}{'lag p99 ms':>12}{'cpu/wall':>10}"
    print(hdr)
    for r in results:
        print(f"{r['api']:<22}{r['sync']:<12}{r['appends_s']:>12,.0f}{r['commits_s']:>11,.0f}{r['rows_per_commit']:>13.1f}"
              f"{r['lag_p50']:>12.2f}{r['lag_p99']:>12.2f}{r['cpu_s_per_wall_s']:>10.2f}")


if __name__ == "__main__":
    main()
