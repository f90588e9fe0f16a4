"""Random but reproducible command streams over the whole engine (used by the determinism and property tests)."""

from __future__ import annotations

import random

from alfax.domain import commands as C
from alfax.domain.enums import MarginType, OrderType, PositionSide, Side, TimeInForce, WorkingType
from engine_helpers import SYM, T0

MID0 = 3_000_000  # 30000.00


def stream(seed: int, n: int = 300, risky: bool = False):
    """Yield (ms, command) pairs: 3 accounts (3 isolated, 2 hedge), books, prints, marks, orders, stops."""
    r = random.Random(seed)
    ms = T0
    mid = MID0
    out = []
    for a in (1, 2, 3):
        out.append((ms, C.CreateAccount(a)))
        out.append((ms, C.Transfer(a, r.randint(100, 2_000) * 10**8 if risky else r.randint(2_000, 50_000) * 10**8)))
    out.append((ms, C.SetMarginType(3, SYM, MarginType.ISOLATED)))
    out.append((ms, C.SetPositionMode(2, True)))
    out.append((ms, C.SetLeverage(1, SYM, 125 if risky else r.choice([5, 20, 50, 100]))))
    if risky:
        out.append((ms, C.SetLeverage(3, SYM, 100)))
        out.append((ms, C.SetLeverage(2, SYM, 75)))
    swing = 30 if risky else 3
    oid_guess = 0
    for _ in range(n):
        ms += r.choice([1, 50, 1000, 60_000, 3_600_000])
        k = r.random()
        if k < 0.2:
            mid = max(100_000, mid + r.randint(-1000 * swing, 1000 * swing) * 10)
            spread = r.choice([10, 10, 20, 50])
            bids = tuple((mid - spread * (i + 1) // 2 - 10 * i, r.randint(1, 3000)) for i in range(r.randint(0, 4)))
            asks = tuple((mid + spread * (i + 1) // 2 + 10 * i, r.randint(1, 3000)) for i in range(r.randint(0, 4)))
            bids = tuple((p - p % 10, q) for p, q in bids)
            asks = tuple((p - p % 10 + 10, q) for p, q in asks)
            out.append((ms, C.BookUpdate(SYM, bids, asks, r.randint(1, 10**9))))
        elif k < 0.35:
            p = mid + r.randint(-100, 100) * 10
            out.append((ms, C.TradePrint(SYM, p, r.randint(1, 2000), r.random() < 0.5, r.randint(1, 10**9))))
        elif k < 0.45:
            p = mid + r.randint(-50 * swing, 50 * swing) * 10
            out.append((ms, C.MarkPriceUpdate(SYM, p, p, r.randint(-30_000, 30_000), 0)))
        elif k < 0.8:
            a = r.choice([1, 2, 3])
            side = r.choice([Side.BUY, Side.SELL])
            ps = r.choice([PositionSide.LONG, PositionSide.SHORT]) if a == 2 else PositionSide.BOTH
            q = r.randint(1, 3000)
            typ = r.choice([OrderType.LIMIT] * 4 + [OrderType.MARKET] * 2 + [
                OrderType.STOP_MARKET, OrderType.TAKE_PROFIT, OrderType.TRAILING_STOP_MARKET])
            price = mid + r.randint(-300, 300) * 10
            tif = r.choice([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.GTX, TimeInForce.FOK])
            ro = a != 2 and r.random() < 0.2
            kw = dict(time_in_force=tif, reduce_only=ro, position_side=ps)
            if typ is OrderType.MARKET:
                kw.pop("time_in_force")
                out.append((ms, C.PlaceOrder(a, SYM, side, typ, quantity=q, **kw)))
            elif typ is OrderType.LIMIT:
                out.append((ms, C.PlaceOrder(a, SYM, side, typ, quantity=q, price=price, **kw)))
            elif typ is OrderType.TRAILING_STOP_MARKET:
                out.append((ms, C.PlaceOrder(a, SYM, side, typ, quantity=q, callback_rate=r.randint(1, 50) * 100_000,
                                             reduce_only=ro, position_side=ps,
                                             working_type=r.choice(list(WorkingType)))))
            else:
                out.append((ms, C.PlaceOrder(a, SYM, side, typ, quantity=q, price=price, stop_price=price + 100,
                                             reduce_only=ro, position_side=ps,
                                             working_type=r.choice(list(WorkingType)))))
        elif k < 0.9:
            a = r.choice([1, 2, 3])
            oid_guess = r.randint(1, 60)
            out.append((ms, C.CancelOrder(a, SYM, order_id=oid_guess)))
        elif k < 0.93:
            out.append((ms, C.CancelAllOrders(r.choice([1, 2, 3]), SYM)))
        elif k < 0.96:
            a = r.choice([1, 2, 3])
            out.append((ms, C.Transfer(a, r.randint(-5000, 5000) * 10**8 or 1)))
        else:
            out.append((ms, C.Tick()))
    return out


def run(venue_factory, cmds, clock):
    """Run commands; returns the list of (events or error code) per command."""
    from alfax.domain.errors import VenueError

    v = venue_factory()
    log = []
    for ms, cmd in cmds:
        clock.ms = ms
        try:
            log.append(v.handle(cmd))
        except VenueError as e:
            log.append(e.code)
    return v, log
