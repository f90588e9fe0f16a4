"""Property tests (hypothesis): money conservation over random command streams; the resting-order and trigger
indexes against naive list-scan references."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from alfax.domain.enums import OrderType, PositionSide, Side, TimeInForce, WorkingType
from alfax.domain.errors import VenueError
from alfax.domain.events import Income, Liquidated
from alfax.domain.orders import AlgoOrder, Order
from alfax.engine import ManualClock, Venue
from alfax.engine.resting import RestingIndex
from alfax.engine.triggers import TriggerIndex, would_fire
from engine_helpers import INSTRUMENTS, SYM, T0
from engine_scenarios import stream


def _check_conservation(seed: int, risky: bool):
    clock = ManualClock(T0)
    v = Venue(INSTRUMENTS, clock)
    per_acct: dict[int, int] = {}
    kinds: dict[str, int] = {}
    liq_fees = 0
    for ms, cmd in stream(seed, 250, risky):
        clock.ms = ms
        h = v.state_hash()
        try:
            evs = v.handle(cmd)
        except VenueError:
            assert v.state_hash() == h  # rejections change nothing
            continue
        for e in evs:
            if isinstance(e, Income):
                per_acct[e.account_id] = per_acct.get(e.account_id, 0) + e.amount
                key = e.income_type.value
                if e.info == "LIQUIDATION_FEE":
                    key = "LIQUIDATION_FEE"
                    liq_fees += -e.amount
                kinds[key] = kinds.get(key, 0) + e.amount
        # every wallet is exactly the sum of its income rows
        for aid, acct in v.accounts.items():
            assert acct.wallet_balance == per_acct.get(aid, 0)
        # insurance = liquidation fees in - deficits cleared
        assert v.insurance_balance == liq_fees - kinds.get("INSURANCE_CLEAR", 0)
        # sum of wallet changes == deposits + realized PnL - fees +- funding + insurance clears
        total = sum(a.wallet_balance for a in v.accounts.values())
        assert total == sum(kinds.values())
        for o in v.orders.values():
            assert o.is_open and o.reserved_margin >= 0 and 0 <= o.executed_qty < o.quantity
        for p in v.pos_map.values():
            assert p.isolated_wallet >= 0 or p.margin_type.value == "ISOLATED"
    return kinds


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=10**9))
def test_conservation(seed):
    _check_conservation(seed, False)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=10**9))
def test_conservation_with_liquidations(seed):
    _check_conservation(seed, True)


def test_risky_streams_do_liquidate():
    liq = 0
    for seed in range(10):
        clock = ManualClock(T0)
        v = Venue(INSTRUMENTS, clock)
        for ms, cmd in stream(seed, 250, True):
            clock.ms = ms
            try:
                liq += sum(isinstance(e, Liquidated) for e in v.handle(cmd))
            except VenueError:
                pass
    assert liq > 0


# ---------------------------------------------------------------------------------------------- indexes vs naive
def _order(oid: int, side: Side, price: int, qty: int = 5) -> Order:
    return Order(oid, 1, SYM, side, OrderType.LIMIT, OrderType.LIMIT, qty, price, TimeInForce.GTC,
                 PositionSide.BOTH, f"c{oid}")


ops = st.lists(st.tuples(st.sampled_from(["add", "add", "add", "rm", "trade", "quote"]),
                         st.sampled_from([Side.BUY, Side.SELL]), st.integers(90, 110), st.integers(0, 40)),
               max_size=80)


@settings(max_examples=150, deadline=None)
@given(ops)
def test_resting_index_matches_naive(seq):
    idx = RestingIndex()
    naive: dict[int, tuple[Order, int]] = {}
    prio = 0
    for op, side, price, k in seq:
        if op == "add":
            prio += 1
            o = _order(prio, side, price)
            idx.add(o, prio)
            naive[o.order_id] = (o, prio)
        elif op == "rm":
            if naive:
                oid = sorted(naive)[k % len(naive)]
                idx.remove(oid)
                del naive[oid]
        else:
            strict = op == "trade"
            got = idx.take_crossing(side, price, strict)
            if side is Side.BUY:
                exp = [x for x in naive.values() if x[0].side is side and (x[0].price > price or
                                                                           (not strict and x[0].price == price))]
                exp.sort(key=lambda x: (-x[0].price, x[1]))
            else:
                exp = [x for x in naive.values() if x[0].side is side and (x[0].price < price or
                                                                           (not strict and x[0].price == price))]
                exp.sort(key=lambda x: (x[0].price, x[1]))
            assert [(o.order_id, p) for o, p in got] == [(o.order_id, p) for o, p in exp]
            # the caller puts back a subset (those still open) with their priority
            for i, (o, p) in enumerate(got):
                if (i + k) % 3:
                    idx.add(o, p)
                else:
                    del naive[o.order_id]
        buys = [x[0].price for x in naive.values() if x[0].side is Side.BUY]
        sells = [x[0].price for x in naive.values() if x[0].side is Side.SELL]
        assert idx.best_buy() == (max(buys) if buys else 0)
        assert idx.best_sell() == (min(sells) if sells else 0)
        assert len(idx) == len(naive)


trig_ops = st.lists(st.tuples(st.sampled_from(["add", "add", "rm", "px"]),
                              st.sampled_from([OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET, OrderType.STOP]),
                              st.sampled_from([Side.BUY, Side.SELL]), st.sampled_from(list(WorkingType)),
                              st.integers(90, 110), st.integers(0, 30)), max_size=80)


@settings(max_examples=150, deadline=None)
@given(trig_ops)
def test_trigger_index_matches_naive(seq):
    idx = TriggerIndex()
    naive: dict[int, AlgoOrder] = {}
    n = 0
    for op, typ, side, wt, price, k in seq:
        if op == "add":
            n += 1
            a = AlgoOrder(n, 1, SYM, side, typ, 1, 0, price, TimeInForce.GTC, PositionSide.BOTH, f"a{n}",
                          working_type=wt)
            idx.add(a)
            naive[n] = a
        elif op == "rm":
            if naive:
                aid = sorted(naive)[k % len(naive)]
                idx.remove(aid)
                del naive[aid]
        else:
            got = [a.algo_id for a in idx.due(wt, price)]
            exp = sorted(a.algo_id for a in naive.values() if a.working_type is wt and would_fire(a, price))
            assert got == exp
            for aid in exp:
                del naive[aid]
        assert len(idx) == len(naive)
