"""Engine micro-benchmarks.

1. Median cost of one reference market update (alternating BookUpdate / TradePrint near the mid) that crosses
   no resting order and triggers nothing, with 10,000 resting orders over 1,000 accounts and with 100,000;
   the ratio shows the update cost does not grow with the number of resting orders (targets: <= 20 µs at 10k,
   100k at most 1.5x that).
2. Engine-only throughput of placing LIMIT + MARKET orders (orders/s).

Run: /work/venv/bin/python benchmarks/bench_market_updates.py   (about 30 s)
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from alfax.domain import commands as C
from alfax.domain.enums import OrderType, Side, WorkingType
from alfax.domain.instruments import load_instruments
from alfax.engine import ManualClock, Venue

ROOT = Path(__file__).resolve().parents[1]
INSTRUMENTS = load_instruments(json.loads((ROOT / "alfax" / "data" / "instruments.json").read_text()))
SYM = "BTCUSDT"
T0 = 1_700_000_000_000
MID = 3_000_000  # 30000.00
U = 10**8


def build(n_orders: int, n_accounts: int = 1000) -> tuple[Venue, ManualClock]:
    clock = ManualClock(T0)
    v = Venue(INSTRUMENTS, clock)
    for a in range(1, n_accounts + 1):
        v.handle(C.CreateAccount(a))
        v.handle(C.Transfer(a, 100_000 * U))
    v.handle(C.BookUpdate(SYM, ((MID - 10, 5000),), ((MID + 10, 5000),), 1))
    v.handle(C.MarkPriceUpdate(SYM, MID, MID, 10_000, 0))
    v.handle(C.TradePrint(SYM, MID, 1, True, 1))
    per = n_orders // n_accounts
    for a in range(1, n_accounts + 1):
        for i in range(per):
            side = Side.BUY if i % 2 == 0 else Side.SELL
            off = 1500 + ((a * 7919 + i * 104729) % 10000) * 10  # 0.5 % .. 3.8 % away from the mid
            price = MID - off if side is Side.BUY else MID + off
            v.handle(C.PlaceOrder(a, SYM, side, OrderType.LIMIT, quantity=1, price=price))
        # one far stop per account on each working type (triggers nothing near the mid)
        v.handle(C.PlaceOrder(a, SYM, Side.BUY, OrderType.STOP_MARKET, quantity=1, stop_price=MID + 90_000))
        v.handle(C.PlaceOrder(a, SYM, Side.SELL, OrderType.STOP_MARKET, quantity=1, stop_price=MID - 90_000,
                              working_type=WorkingType.MARK_PRICE))
    assert len(v.orders) == per * n_accounts, len(v.orders)
    return v, clock


def updates(n: int):
    out = []
    for i in range(n):
        j = i % 7 - 3  # wiggle a few ticks around the mid
        if i % 2 == 0:
            out.append(C.BookUpdate(SYM, ((MID - 10 + j * 10, 2000 + i % 50), (MID - 20 + j * 10, 3000)),
                                    ((MID + 10 + j * 10, 2000 + i % 40), (MID + 20 + j * 10, 3000)), 100 + i))
        else:
            out.append(C.TradePrint(SYM, MID + j * 10, 1 + i % 5, i % 3 == 0, 100 + i))
    return out


def measure(v: Venue, clock: ManualClock, n: int = 40_000) -> tuple[float, float]:
    """(median wall µs per update with perf_counter_ns, median thread-CPU µs per update)."""
    cmds = updates(n)
    wall, cpu = [], []
    handle = v.handle
    pc, tt = time.perf_counter_ns, time.thread_time_ns
    for k, cmd in enumerate(cmds):
        clock.ms = T0 + 1000 + k  # time moves (but no funding boundary, GTD or countdown is reached)
        c = tt()
        t = pc()
        evs = handle(cmd)
        t = pc() - t
        cpu.append(tt() - c)
        wall.append(t)
        if evs:
            raise AssertionError(f"update produced events: {evs[:1]}")
    return statistics.median(wall[n // 10:]) / 1000, statistics.median(cpu[n // 10:]) / 1000


def throughput(n_accounts: int = 100, per_account: int = 100) -> float:
    clock = ManualClock(T0)
    v = Venue(INSTRUMENTS, clock)
    for a in range(1, n_accounts + 1):
        v.handle(C.CreateAccount(a))
        v.handle(C.Transfer(a, 1_000_000 * U))
    v.handle(C.BookUpdate(SYM, ((MID - 10, 10**9),), ((MID + 10, 10**9),), 1))
    v.handle(C.MarkPriceUpdate(SYM, MID, MID, 10_000, 0))
    cmds = []
    for i in range(per_account):
        for a in range(1, n_accounts + 1):
            side = Side.BUY if (i + a) % 2 else Side.SELL
            off = 200 + (i * 37 + a) % 1000 * 10
            cmds.append(C.PlaceOrder(a, SYM, side, OrderType.LIMIT, quantity=1,
                                     price=MID - off if side is Side.BUY else MID + off))
            cmds.append(C.PlaceOrder(a, SYM, side, OrderType.MARKET, quantity=1))
    t = time.thread_time()  # CPU time of this thread: robust against other processes on the machine
    for cmd in cmds:
        v.handle(cmd)
    dt = time.thread_time() - t
    return len(cmds) / dt


def main() -> None:
    t0 = time.perf_counter()
    v10, c10 = build(10_000)
    m10 = measure(v10, c10)
    del v10
    v100, c100 = build(100_000)
    m100 = measure(v100, c100)
    del v100
    ops = throughput()
    print("reference update (BookUpdate/TradePrint near the mid, nothing crosses or triggers), median per update:")
    print(f"  {'resting orders':>16} {'accounts':>9} {'wall µs':>9} {'thread CPU µs':>14}")
    print(f"  {10_000:>16,} {1000:>9,} {m10[0]:>9.2f} {m10[1]:>14.2f}")
    print(f"  {100_000:>16,} {1000:>9,} {m100[0]:>9.2f} {m100[1]:>14.2f}")
    print(f"  ratio 100k / 10k = {m100[0] / m10[0]:.2f}x wall, {m100[1] / max(m10[1], 1e-9):.2f}x CPU"
          "   (targets: <= 20 µs at 10k, ratio <= 1.5x)")
    print(f"engine-only order placement (LIMIT + MARKET alternating, 100 accounts, up to 100 resting each, "
          f"thread CPU): {ops:,.0f} orders/s")
    print(f"total bench time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
