"""Regenerates the Binance-shaped fixture frames in this directory (deterministic; run once, output committed).

No connection to Binance is made (tests never leave 127.0.0.1): the frames are built in the exact shapes of
fapi/fstream payloads (contract §1.1 depth, §4.2 streams) with realistic BTCUSDT/ETHUSDT values: 13-digit update
ids with gaps between ``pu`` and ``U``, prices at the venue's tick, 8-dp computed mark/index prices.

    python tests/feeds/data/make_binance_fixtures.py
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).parent
T0 = 1_764_000_000_000  # 2025-11-24 16:00 UTC
SPEC = {  # symbol: (mid, tick, price dp, qty dp, first lastUpdateId, n events)
    "BTCUSDT": (Decimal("97250.00"), Decimal("0.10"), 2, 3, 7_219_054_364_339, 60),
    "ETHUSDT": (Decimal("3612.40"), Decimal("0.01"), 2, 3, 7_219_054_101_872, 20),
}


def dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))  # Binance sends compact JSON


def fmt(d: Decimal, dp: int) -> str:
    return f"{d:.{dp}f}"


def qty(rng: random.Random, dp: int) -> str:
    return fmt(Decimal(rng.randint(1, 5000)) / 1000, dp)


def make_symbol(sym: str, rng: random.Random) -> None:
    mid, tick, pdp, qdp, L, n = SPEC[sym]
    bids = {mid - tick * (i + 1): qty(rng, qdp) for i in range(60)}
    asks = {mid + tick * i: qty(rng, qdp) for i in range(60)}
    snap = {"lastUpdateId": L, "E": T0, "T": T0 - 4,
            "bids": [[fmt(p, pdp), q] for p, q in sorted(bids.items(), reverse=True)],
            "asks": [[fmt(p, pdp), q] for p, q in sorted(asks.items())]}
    (HERE / f"binance_{sym}_snapshot.json").write_text(dumps(snap) + "\n")
    lines = []
    pu, U = L - 37, L - 12  # the first event straddles the snapshot: U <= lastUpdateId <= u
    for k in range(n):
        u = U + rng.randint(40, 160) if k else L + 55
        b, a = {}, {}
        for _ in range(rng.randint(1, 6)):
            best_bid, best_ask = max(bids), min(asks)
            if rng.random() < 0.5:
                p = best_bid - tick * rng.randint(-1 if best_ask - best_bid > tick else 0, 25)
                q = "0" if (p in bids and rng.random() < 0.3 and len(bids) > 10) else qty(rng, qdp)
                b[p] = q
                bids.pop(p, None) if q == "0" else bids.__setitem__(p, q)
            else:
                p = best_ask + tick * rng.randint(-1 if best_ask - best_bid > tick else 0, 25)
                q = "0" if (p in asks and rng.random() < 0.3 and len(asks) > 10) else qty(rng, qdp)
                a[p] = q
                asks.pop(p, None) if q == "0" else asks.__setitem__(p, q)
        assert max(bids) < min(asks), "generator produced a crossed book"
        E = T0 + 100 * (k + 1)
        data = {"e": "depthUpdate", "E": E, "T": E - 2, "s": sym, "U": U, "u": u, "pu": pu,
                "b": [[fmt(p, pdp), q] for p, q in sorted(b.items(), reverse=True)],
                "a": [[fmt(p, pdp), q] for p, q in sorted(a.items())]}
        lines.append(dumps({"stream": f"{sym.lower()}@depth@100ms", "data": data}))
        pu, U = u, u + rng.randint(1, 30)
    (HERE / f"binance_{sym}_depth.jsonl").write_text("\n".join(lines) + "\n")


def make_market(rng: random.Random) -> None:
    lines = []
    for sym, (mid, tick, pdp, qdp, L, _) in SPEC.items():
        s = sym.lower()
        agg, first = 2_700_000_001 if sym == "BTCUSDT" else 1_900_000_001, 6_100_000_001
        for k in range(5):
            E = T0 + 250 * k + 7
            n = rng.randint(1, 3)
            q = qty(rng, qdp)
            lines.append(dumps({"stream": f"{s}@aggTrade", "data": {
                "e": "aggTrade", "E": E, "a": agg + k, "s": sym, "p": fmt(mid + tick * rng.randint(-3, 3), pdp),
                "q": q, "nq": q, "f": first, "l": first + n - 1, "T": E - 1, "m": k % 2 == 0}}))
            first += n
        for k in range(3):
            E = T0 + 1000 * (k + 1)
            mark = mid + Decimal(rng.randint(-50_000_000, 50_000_000)) / 10**8
            lines.append(dumps({"stream": f"{s}@markPrice@1s", "data": {
                "e": "markPriceUpdate", "E": E, "s": sym, "p": fmt(mark, 8), "ap": fmt(mark - Decimal("0.6"), 8),
                "P": fmt(mark + Decimal("2.1"), 8), "i": fmt(mark + Decimal("0.87654321"), 8),
                "r": fmt(Decimal(rng.randint(-2000, 12000)) / 10**8, 8), "T": 1_764_028_800_000}}))
        for k in range(3):
            E = T0 + 40 * k + 3
            lines.append(dumps({"stream": f"{s}@bookTicker", "data": {
                "e": "bookTicker", "u": L + 60 + k, "s": sym, "b": fmt(mid - tick, pdp), "B": qty(rng, qdp),
                "a": fmt(mid, pdp), "A": qty(rng, qdp), "T": E - 2, "E": E}}))
    (HERE / "binance_market.jsonl").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    rng = random.Random(20251124)
    for sym in SPEC:
        make_symbol(sym, rng)
    make_market(rng)
