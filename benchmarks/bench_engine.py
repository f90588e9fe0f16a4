"""Engine-only order benchmark: the same order mix as ``bench_orders.py`` without HTTP or SQLite.

Builds a venue on the bundled instruments, warms it with the replay feed's first market data, creates
``--accounts`` accounts with 1,000,000 USDT, then places ``--orders`` orders (70 % LIMIT GTC resting 1-3 % away
from the touch on the passive side, 30 % MARKET, same quantities as the HTTP bench, sides alternating per round
over the accounts). Feed commands (book/trade/mark) and a Tick are interleaved at roughly the live rate.

Prints, per order: CPU µs of ``Venue.handle`` alone, of the ledger encode (``journal._encode_item``) and of
both; latency percentiles of ``handle`` (wall ns); and the cost of ``snapshot()`` + ``state_hash()`` and
of the ledger's snapshot encode at the end (with every resting order still open).

    /work/venv/bin/python benchmarks/bench_engine.py [--orders 40000] [--accounts 400] [--profile]
"""

from __future__ import annotations

import argparse
import gc
import random
import time

from alfax.domain import commands as C
from alfax.domain.enums import OrderType, Side, TimeInForce
from alfax.domain.money import parse_fixed
from alfax.engine import ManualClock, Venue
from alfax.feeds import make_feed
from alfax.ledger import journal as J
from alfax.ledger import snapshot as S
from alfax.server import load_instrument_config

T0 = 1_795_276_800_000 + 3_600_000  # 2026-11-21 09:00 UTC: an hour after a funding boundary (feed prices as live)


def build(accounts: int):
    inst = load_instrument_config(None)
    clock = ManualClock(T0)
    v = Venue(inst, clock)
    feed = make_feed("replay", inst, 1.0)
    warm = list(feed.poll(T0))
    for cmd in warm:
        v.handle(cmd)
    for a in range(1, accounts + 1):
        v.handle(C.CreateAccount(a, "bench"))
        v.handle(C.Transfer(a, parse_fixed("1000000", 8), "bench"))
    return inst, clock, v, feed


def make_orders(v: Venue, inst, accounts: int, count: int) -> list[C.PlaceOrder]:
    rng = random.Random(1)
    out = []
    for i in range(count):
        acct = 1 + i % accounts
        sym = "BTCUSDT" if i % 3 else "ETHUSDT"
        m = v.markets[sym]
        bid, ask = m.bids[0][0], m.asks[0][0]
        side = Side.BUY if (i // accounts) % 2 == 0 else Side.SELL
        ins = inst[sym]
        q = parse_fixed("0.001" if sym == "BTCUSDT" else "0.010", ins.quantity_precision)
        if rng.random() < 0.7:
            off = 1 - rng.uniform(0.01, 0.03) if side is Side.BUY else 1 + rng.uniform(0.01, 0.03)
            p = int((bid if side is Side.BUY else ask) * off)
            p -= (p - ins.min_price) % ins.tick_size
            out.append(C.PlaceOrder(acct, sym, side, OrderType.LIMIT, quantity=q, price=p,
                                    time_in_force=TimeInForce.GTC))
        else:
            out.append(C.PlaceOrder(acct, sym, side, OrderType.MARKET, quantity=q))
    return out


def run(args) -> None:
    inst, clock, v, feed = build(args.accounts)
    orders = make_orders(v, inst, args.accounts, args.orders)
    # live rate: ~15 feed commands/s and 1 Tick/s against ~4,000 orders/s
    feed_every = max(1, args.rate // 15)
    now = T0
    handle_ns: list[int] = []
    enc_ns = 0
    handle_cpu = 0
    rejected = 0
    gc_ns = 0
    encode = J._encode_item
    tt = time.thread_time_ns
    pc = time.perf_counter_ns
    if args.profile:
        import cProfile
        prof = cProfile.Profile()
        prof.enable()
    gc.collect()
    if args.gc_pacing:
        gc.freeze()
    wall0 = pc()
    for i, cmd in enumerate(orders):
        if i % feed_every == 0:
            now += 1000 * feed_every // args.rate
            clock.ms = now
            for fc in feed.poll(now):
                v.handle(fc)
        if i % args.rate == 0:
            v.handle(C.Tick())
            if args.gc_pacing:  # what Runtime.tick_loop does once a second
                g0 = tt()
                gc.collect()
                gc.freeze()
                gc_ns += tt() - g0
        clock.ms = now
        c0 = tt()
        w0 = pc()
        try:
            evs = v.handle(cmd)
        except Exception:
            rejected += 1
            continue
        w1 = pc()
        c1 = tt()
        encode(cmd, evs)
        c2 = tt()
        handle_ns.append(w1 - w0)
        handle_cpu += c1 - c0
        enc_ns += c2 - c1
    wall = pc() - wall0
    if args.profile:
        prof.disable()
        import pstats
        pstats.Stats(prof).sort_stats("tottime").print_stats(35)
    n = len(handle_ns)
    handle_ns.sort()
    pct = lambda q: handle_ns[min(n - 1, int(q * n))] / 1000  # noqa: E731
    print(f"orders: {n} accepted, {rejected} rejected; resting now: {len(v.orders)}")
    print(f"handle CPU  {handle_cpu / n / 1000:8.1f} µs/order   (wall p50 {pct(0.5):.1f}  p99 {pct(0.99):.1f}  "
          f"max {handle_ns[-1] / 1000:.0f} µs)")
    print(f"encode CPU  {enc_ns / n / 1000:8.1f} µs/order")
    print(f"both        {(handle_cpu + enc_ns) / n / 1000:8.1f} µs/order   -> {1e9 / ((handle_cpu + enc_ns) / n):,.0f} orders/s/core")
    print(f"gc pacing   {gc_ns / n / 1000:8.1f} µs/order ({'on' if args.gc_pacing else 'off'})")
    print(f"loop wall   {wall / n / 1000:8.1f} µs/order (incl. feed, timers, bookkeeping)")
    c0 = tt()
    snap = v.snapshot()
    c1 = tt()
    h = v.state_hash()
    c2 = tt()
    raw = S.encode_snapshot(snap)
    c3 = tt()
    print(f"snapshot() {(c1 - c0) / 1e6:.1f} ms, state_hash() {(c2 - c1) / 1e6:.1f} ms, "
          f"encode {(c3 - c2) / 1e6:.1f} ms ({len(raw) / 1e6:.1f} MB): {(c3 - c0) / 1e6:.1f} ms on the loop "
          f"before snapshot_json; hash {h[:12]}")
    if hasattr(v, "snapshot_json"):
        gc.collect()
        gc.freeze()
        gc.disable()  # as Runtime.save_snapshot
        c0 = tt()
        blob, h2 = v.snapshot_json()
        c1 = tt()
        gc.enable()
        assert h2 == h
        print(f"snapshot_json() {(c1 - c0) / 1e6:.1f} ms (snapshot + hash + encode in one pass, collector paused: "
              f"what Runtime.save_snapshot does on the loop)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=40_000)
    ap.add_argument("--accounts", type=int, default=400)
    ap.add_argument("--rate", type=int, default=4000, help="orders per simulated second (feed interleave)")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--no-gc-pacing", dest="gc_pacing", action="store_false",
                    help="leave the collector alone (before Runtime.tick_loop paced it)")
    run(ap.parse_args())


if __name__ == "__main__":
    main()
