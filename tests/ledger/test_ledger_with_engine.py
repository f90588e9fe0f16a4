"""The ledger with the real engine Venue: journal like the runtime, recover, compare state hashes and read models."""

from __future__ import annotations

import json
import random
from pathlib import Path


from alfax.domain import commands as C
from alfax.domain.enums import OrderType, Side, TimeInForce
from alfax.domain.errors import VenueError
from alfax.domain.instruments import load_instruments
from alfax.domain.money import parse_fixed
from alfax.ledger import Ledger, LedgerReader, ReplayClock, recover

from alfax.engine.venue import Venue

DATA = Path(__file__).resolve().parents[2] / "alfax" / "data" / "instruments.json"
INSTRUMENTS = load_instruments(json.loads(DATA.read_text()))
T0 = 1_700_000_000_000
SYM = "BTCUSDT"


def px(s):
    return parse_fixed(s, 2)


def qty(s):
    return parse_fixed(s, 3)


def commands(rng: random.Random, n: int):
    yield C.CreateAccount(1, "a")
    yield C.CreateAccount(2, "b")
    yield C.Transfer(1, parse_fixed("100000", 8))
    yield C.Transfer(2, parse_fixed("100000", 8))
    mid = 30_000_0
    for i in range(n):
        r = rng.random()
        mid += rng.randint(-30, 30)
        if r < 0.35:
            yield C.BookUpdate(SYM, ((mid, qty("2")), (mid - 10, qty("5"))), ((mid + 1, qty("2")), (mid + 11, qty("5"))), i)
        elif r < 0.45:
            yield C.MarkPriceUpdate(SYM, mid, mid, 10_000, 0)
        elif r < 0.5:
            yield C.TradePrint(SYM, mid + rng.randint(-50, 50), qty("1"), rng.random() < 0.5, i)
        elif r < 0.55:
            yield C.Tick()
        elif r < 0.8:
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            price = mid + (rng.randint(-40, 5) if side is Side.BUY else rng.randint(-5, 40))
            yield C.PlaceOrder(rng.choice((1, 2)), SYM, side, OrderType.LIMIT, quantity=qty("0.01") * rng.randint(1, 5),
                               price=price, time_in_force=TimeInForce.GTC)
        elif r < 0.9:
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            yield C.PlaceOrder(rng.choice((1, 2)), SYM, side, OrderType.MARKET, quantity=qty("0.01") * rng.randint(1, 3))
        else:
            yield C.CancelAllOrders(rng.choice((1, 2)), SYM)


def drive(led, venue, clock, cmds, t_start):
    """The runtime's write path. Returns (executed, rejected, last future)."""
    ok = rejected = 0
    fut = None
    t = t_start
    for cmd in cmds:
        t += 7
        clock.set(t)
        try:
            events = venue.handle(cmd)
        except VenueError:
            rejected += 1
            continue
        ok += 1
        if cmd.is_market_data and not events:
            led.append_market(t, cmd)
        else:
            fut = led.append(t, cmd, events)
    return ok, rejected, fut


def test_engine_journal_recover_identical(tmp_path):
    path = tmp_path / "venue.db"
    rng = random.Random(7)
    clock = ReplayClock(T0)
    live = Venue(INSTRUMENTS, clock)
    led = Ledger(path)
    ok1, rej1, _ = drive(led, live, clock, commands(rng, 1500), T0)
    snap_seq = led.save_snapshot(live.snapshot(), live.state_hash()).result(30)
    hash_at_snap = live.state_hash()
    ok2, rej2, fut = drive(led, live, clock, commands(rng, 1500), clock.now_ms())
    if fut is not None:
        fut.result(30)
    led.close()
    assert ok1 + ok2 > 1000

    # 1) from the snapshot
    c1 = ReplayClock()
    v1, n1, last1 = recover(str(path), lambda: Venue(INSTRUMENTS, c1), lambda s: Venue.restore(INSTRUMENTS, c1, s), c1)
    assert v1.state_hash() == live.state_hash()
    assert n1 == last1 - snap_seq
    # 2) from genesis (ignoring the snapshot): the journal alone reproduces the state
    c2 = ReplayClock()
    v2 = Venue(INSTRUMENTS, c2)
    with Ledger(path) as l2:
        for seq, ts, cmd in l2.iter_journal(0):
            c2.set(ts)
            v2.handle(cmd)
            if seq == snap_seq:
                assert v2.state_hash() == hash_at_snap
    assert v2.state_hash() == live.state_hash()

    # 3) read models agree with the venue's own view
    r = LedgerReader(path)
    try:
        for acct in (1, 2):
            hist = r.all_orders(acct, SYM, limit=1000)
            open_ids = {o.order_id for o in live.open_orders(acct, SYM)}
            assert open_ids <= {o.order_id for o in hist}
            for o in live.open_orders(acct, SYM):
                assert r.get_order(acct, SYM, order_id=o.order_id) == o
            trades = r.user_trades(acct, SYM, limit=1000)
            assert [t.trade_id for t in trades] == sorted(t.trade_id for t in trades)
            inc = r.income(acct, limit=1000)
            assert inc and inc[0].income_type.value == "TRANSFER"
    finally:
        r.close()
