"""Regular orders: filters, MARKET/LIMIT fills against the reference market, TIFs, cancel, amend, countdown."""

from __future__ import annotations

import pytest

from alfax.domain.enums import ExecutionType, IncomeType, OrderStatus
from engine_helpers import (C, OrderType, PositionSide, Side, Sim, SYM, TimeInForce, incomes, orders, px, qty,
                            trades, usd)


@pytest.fixture
def s():
    return Sim()


# ---------------------------------------------------------------------------------------------- filters
@pytest.mark.parametrize("kw,code", [
    (dict(symbol="NOPEUSDT"), -1121),
    (dict(q="0"), -4003),
    (dict(q="-1"), -4003),
])
def test_basic_rejections(s, kw, code):
    s.rejects(lambda: s.place(price="30000.0", **kw), code)


def test_filter_codes(s):
    s.rejects(lambda: s.limit(Side.BUY, "1001", "30000.0"), -4005)  # LOT_SIZE max 1000
    s.rejects(lambda: s.market(Side.BUY, "121"), -4005)  # MARKET_LOT_SIZE max 120
    s.rejects(lambda: s.limit(Side.BUY, "0.1", "500.00"), -4013)  # below minPrice 556.80
    s.rejects(lambda: s.limit(Side.BUY, "0.1", "4529764.10"), -4013)
    s.rejects(lambda: s.limit(Side.BUY, "0.1", "30000.05"), -4014)  # tick 0.10
    s.rejects(lambda: s.limit(Side.BUY, "0.1", "31500.1"), -4016)  # > mark * 1.05
    s.rejects(lambda: s.limit(Side.BUY, "0.1", "28499.9"), -4024)  # < mark * 0.95


def test_min_notional_message():
    s = Sim(book=False)
    s.mark("3000.0")
    e = s.rejects(lambda: s.limit(Side.BUY, "0.001", "3000.0"), -4164)  # 3 USDT < 5
    assert e.msg == "Order's notional must be no smaller than 5 (unless you choose reduce only)"


def test_min_notional_and_step():
    s = Sim(book=False)
    s.mark("3000.0")
    s.rejects(lambda: s.limit(Side.BUY, "0.001", "3000.0"), -4164)
    from alfax.domain.errors import VenueError
    with pytest.raises(VenueError) as ei:
        s.v.handle(C.PlaceOrder(1, SYM, Side.BUY, OrderType.LIMIT, quantity=0, price=px("3000.0")))
    assert ei.value.code == -4003


def test_client_order_id_rules(s):
    s.rejects(lambda: s.limit(Side.BUY, "0.1", "29000.0", client_order_id="x" * 37), -4015)
    s.limit(Side.BUY, "0.1", "29000.0", client_order_id="abc")
    s.rejects(lambda: s.limit(Side.BUY, "0.1", "29000.0", client_order_id="abc"), -4116)
    s.do(C.CancelOrder(1, SYM, client_order_id="abc"))
    s.limit(Side.BUY, "0.1", "29000.0", client_order_id="abc")  # reusable once the first is closed


def test_max_num_orders(s):
    inst = s.v.instruments[SYM]
    for i in range(inst.max_num_orders):
        s.limit(Side.BUY, "0.001", f"{29000 + i}.0")
    s.rejects(lambda: s.limit(Side.BUY, "0.001", "28999.0"), -2025)


def test_market_without_book_is_unable_to_fill():
    s = Sim(book=False)
    s.rejects(lambda: s.market(Side.BUY, "0.1"), -2020)


def test_unknown_account_and_liquidation_type(s):
    s.rejects(lambda: s.limit(Side.BUY, "0.1", "29000.0", account=99), -2015)
    s.rejects(lambda: s.place(type=OrderType.LIQUIDATION, price="29000.0"), -1116)


def test_position_side_rules(s):
    s.rejects(lambda: s.limit(Side.BUY, "0.1", "29000.0", position_side=PositionSide.LONG), -4061)
    s.do(C.SetPositionMode(1, True))
    s.rejects(lambda: s.limit(Side.BUY, "0.1", "29000.0"), -4061)
    e = s.rejects(lambda: s.limit(Side.BUY, "0.1", "29000.0", position_side=PositionSide.LONG, reduce_only=True),
                  -1106)
    assert e.msg == "Parameter 'reduceonly' sent when not required."


def test_margin_insufficient(s):
    # 100k USDT at 20x buys at most ~2M notional: 70 BTC at 30000 = 2.1M
    s.rejects(lambda: s.limit(Side.BUY, "70", "30000.0"), -2019)
    s.limit(Side.BUY, "60", "29000.0")  # 1.74M / 20 = 87k
    s.rejects(lambda: s.limit(Side.BUY, "10", "29000.0"), -2019)  # open-order margin counts


def test_max_leverage_ratio(s):
    s.do(C.Transfer(1, usd("10000000")))
    s.do(C.SetLeverage(1, SYM, 125))  # bracket 1 cap 50,000 notional
    s.rejects(lambda: s.limit(Side.BUY, "2", "29000.0"), -2027)
    s.limit(Side.BUY, "1", "29000.0")


# ---------------------------------------------------------------------------------------------- MARKET
def test_market_walks_levels_with_evidence_and_taker_fee(s):
    s.book([("30000.0", "1")], [("30000.1", "0.4"), ("30000.5", "1")], uid=77)
    evs = s.market(Side.BUY, "1")
    ts = trades(evs)
    assert [(t.price, t.qty) for t in ts] == [(px("30000.1"), qty("0.4")), (px("30000.5"), qty("0.6"))]
    assert all(not t.maker for t in ts)
    assert ts[0].evidence.source == "book" and ts[0].evidence.ref_id == 77
    assert ts[0].evidence.ref_price == px("30000.1") and ts[0].evidence.ref_qty == qty("0.4")
    # taker fee 0.05%: 0.4 * 30000.1 = 12000.04 -> 6.00002
    assert ts[0].commission == usd("6.00002")
    assert incomes(evs, IncomeType.COMMISSION)[0].amount == -usd("6.00002")
    assert orders(evs)[-1].order.status is OrderStatus.FILLED
    assert s.pos() == qty("1")


def test_own_consumption_is_remembered_until_next_book(s):
    s.book([("30000.0", "1")], [("30000.1", "0.5"), ("30000.2", "0.5")])
    s.market(Side.BUY, "0.3")
    t = trades(s.market(Side.BUY, "0.3", account=2))
    assert [(x.price, x.qty) for x in t] == [(px("30000.1"), qty("0.2")), (px("30000.2"), qty("0.1"))]
    assert t[0].evidence.ref_qty == qty("0.2")  # what was left after our own first fill
    s.book([("30000.0", "1")], [("30000.1", "0.5"), ("30000.2", "0.5")])
    t = trades(s.market(Side.BUY, "0.3"))
    assert [(x.price, x.qty) for x in t] == [(px("30000.1"), qty("0.3"))]


def test_market_expires_rest_when_book_runs_out(s):
    s.book([("30000.0", "1")], [("30000.1", "0.5")])
    evs = s.market(Side.BUY, "2")
    last = orders(evs)[-1]
    assert last.exec_type is ExecutionType.EXPIRED and last.order.status is OrderStatus.EXPIRED
    assert last.order.executed_qty == qty("0.5")
    assert s.v.open_orders(1) == []


def test_market_sell_walks_bids(s):
    s.book([("30000.0", "0.2"), ("29999.0", "5")], [("30000.1", "1")])
    t = trades(s.market(Side.SELL, "0.5"))
    assert [(x.price, x.qty) for x in t] == [(px("30000.0"), qty("0.2")), (px("29999.0"), qty("0.3"))]
    assert s.pos() == -qty("0.5")


# ---------------------------------------------------------------------------------------------- LIMIT
def test_limit_crossing_takes_then_rests(s):
    s.book([("30000.0", "1")], [("30000.1", "0.2"), ("30000.3", "1")])
    evs = s.limit(Side.BUY, "0.5", "30000.2")
    t = trades(evs)
    assert [(x.price, x.qty, x.maker) for x in t] == [(px("30000.1"), qty("0.2"), False)]
    (o,) = s.v.open_orders(1)
    assert o.status is OrderStatus.PARTIALLY_FILLED and o.remaining == qty("0.3")
    assert o.reserved_margin > 0


def test_ioc_expires_rest_and_fok_all_or_nothing(s):
    s.book([("30000.0", "1")], [("30000.1", "0.2"), ("30000.3", "1")])
    evs = s.limit(Side.BUY, "0.5", "30000.2", time_in_force=TimeInForce.IOC)
    assert orders(evs)[-1].order.status is OrderStatus.EXPIRED
    assert s.v.open_orders(1) == []
    s.book([("30000.0", "1")], [("30000.1", "0.2"), ("30000.3", "1")])
    s.rejects(lambda: s.limit(Side.BUY, "0.5", "30000.2", time_in_force=TimeInForce.FOK), -5021)
    evs = s.limit(Side.BUY, "0.5", "30000.3", time_in_force=TimeInForce.FOK)
    assert orders(evs)[-1].order.status is OrderStatus.FILLED


def test_post_only_rejects_when_crossing(s):
    e = s.rejects(lambda: s.limit(Side.BUY, "0.1", "30000.1", time_in_force=TimeInForce.GTX), -5022)
    assert "Post Only" in e.msg
    s.limit(Side.BUY, "0.1", "30000.0", time_in_force=TimeInForce.GTX)
    assert len(s.v.open_orders(1)) == 1


def test_gtd_validation_and_expiry(s):
    s.rejects(lambda: s.limit(Side.BUY, "0.1", "29000.0", time_in_force=TimeInForce.GTD), -1102)
    s.rejects(lambda: s.limit(Side.BUY, "0.1", "29000.0", time_in_force=TimeInForce.GTD,
                              good_till_date=s.clock.ms + 1000), -5040)
    gtd = s.clock.ms + 700_000
    s.limit(Side.BUY, "0.1", "29000.0", time_in_force=TimeInForce.GTD, good_till_date=gtd)
    s.clock.ms = gtd - 1
    assert s.do(C.Tick()) == []
    s.clock.ms = gtd
    evs = s.do(C.Tick())
    assert orders(evs)[0].order.status is OrderStatus.EXPIRED
    assert s.v.open_orders(1) == []


def test_resting_fills_as_maker_on_trade_through_shared_in_priority(s):
    s.limit(Side.BUY, "0.3", "29990.0")  # first in time
    s.limit(Side.BUY, "0.3", "29995.0", account=2)  # better price
    s.limit(Side.BUY, "0.3", "29990.0", account=2)  # same price, later
    assert s.trade("29995.0", "1") == []  # at the best price, not through it: nothing
    evs = s.trade("29989.9", "0.5", tid=42)
    t = trades(evs)
    assert [(x.account_id, x.price, x.qty, x.maker) for x in t] == [
        (2, px("29995.0"), qty("0.3"), True), (1, px("29990.0"), qty("0.2"), True)]
    assert t[0].evidence.source == "trade" and t[0].evidence.ref_id == 42
    assert t[0].evidence.ref_price == px("29989.9")
    assert t[0].commission == usd("1.79970")  # maker 0.02% of 8998.5


def test_resting_fills_on_quote_cross_capped_by_levels(s):
    s.limit(Side.SELL, "1", "30010.0")
    evs = s.book([("30010.0", "0.4"), ("30009.0", "5")], [("30011.0", "1")], uid=500)
    t = trades(evs)
    assert [(x.price, x.qty, x.maker) for x in t] == [(px("30010.0"), qty("0.4"), True)]
    assert t[0].evidence.source == "quote" and t[0].evidence.ref_id == 500
    # the crossing level is consumed: a taker now only sees the rest of the book
    t2 = trades(s.market(Side.SELL, "0.1", account=2))
    assert t2[0].price == px("30009.0")


def test_reference_update_that_crosses_nothing_emits_nothing(s):
    s.limit(Side.BUY, "0.1", "29000.0")
    s.limit(Side.SELL, "0.1", "31000.0")
    assert s.book([("30000.0", "1")], [("30000.1", "1")]) == []
    assert s.trade("30000.0") == []
    assert s.mark("30000.0") == []


def test_cancel_and_cancel_all(s):
    s.limit(Side.BUY, "0.1", "29000.0")
    s.limit(Side.BUY, "0.1", "29001.0")
    s.limit(Side.BUY, "0.1", "29002.0", account=2)
    o = s.v.open_orders(1)[0]
    s.rejects(C.CancelOrder(1, SYM, order_id=999), -2011)
    s.rejects(C.CancelOrder(2, SYM, order_id=o.order_id), -2011)  # someone else's
    e = s.rejects(C.CancelOrder(1, SYM, client_order_id="nope"), -2011)
    assert e.msg == "Unknown order sent."
    evs = s.do(C.CancelOrder(1, SYM, order_id=o.order_id))
    assert orders(evs)[0].order.status is OrderStatus.CANCELED
    s.do(C.CancelAllOrders(1, SYM))
    assert s.v.open_orders(1) == [] and len(s.v.open_orders(2)) == 1
    assert s.v.summary(1).open_order_initial_margin == 0


def test_amend(s):
    s.limit(Side.BUY, "0.1", "29000.0")
    (o,) = s.v.open_orders(1)
    s.rejects(C.AmendOrder(1, SYM, Side.BUY, qty("0.1"), px("29000.0"), order_id=999), -2013)
    s.rejects(C.AmendOrder(1, SYM, Side.BUY, qty("0.1"), px("29000.05"), order_id=o.order_id), -4014)
    evs = s.do(C.AmendOrder(1, SYM, Side.BUY, qty("0.2"), px("29100.0"), order_id=o.order_id))
    assert orders(evs)[0].exec_type is ExecutionType.AMENDMENT
    (o,) = s.v.open_orders(1)
    assert (o.price, o.quantity) == (px("29100.0"), qty("0.2"))
    # amending through the book fills like an arrival
    evs = s.do(C.AmendOrder(1, SYM, Side.BUY, qty("0.2"), px("30000.1"), order_id=o.order_id))
    assert trades(evs)[0].price == px("30000.1")
    assert orders(evs)[-1].order.status is OrderStatus.FILLED


def test_countdown_cancel_all(s):
    s.limit(Side.BUY, "0.1", "29000.0")
    s.do(C.CountdownCancelAll(1, SYM, 10_000))
    s.clock.advance(9_999)
    assert s.do(C.Tick()) == []
    s.clock.advance(1)
    evs = s.do(C.Tick())
    assert orders(evs)[0].order.status is OrderStatus.CANCELED
    # disarm
    s.limit(Side.BUY, "0.1", "29000.0")
    s.do(C.CountdownCancelAll(1, SYM, 10_000))
    s.do(C.CountdownCancelAll(1, SYM, 0))
    s.clock.advance(20_000)
    assert s.do(C.Tick()) == []
    assert len(s.v.open_orders(1)) == 1


def test_open_order_margin_follows_the_position(s):
    s.book([("30000.0", "5")], [("30000.0", "5")])
    s.market(Side.BUY, "1")
    s.limit(Side.SELL, "0.6", "31000.0")
    s.limit(Side.SELL, "0.6", "31000.0")
    first, second = s.v.open_orders(1)
    assert first.reserved_margin == 0  # fully reduces the long
    assert second.reserved_margin == usd("310")  # 0.2 opens a short: 0.2 * 31000 / 20
    s.do(C.CancelOrder(1, SYM, order_id=first.order_id))
    assert second.reserved_margin == 0  # the freed capacity moves to the later order
    s.market(Side.SELL, "1")  # the long is gone: the resting sell now opens a short
    assert second.reserved_margin == usd("930")  # 0.6 * 31000 / 20
    assert s.v.summary(1).open_order_initial_margin == usd("930")
    s.do(C.SetLeverage(1, SYM, 10))
    assert second.reserved_margin == usd("1860")


def test_open_loss_is_reserved(s):
    s.mark("29900.0")
    s.limit(Side.BUY, "1", "30000.0")  # 30000 / 20 + open loss 1 * (30000 - 29900) = 1600
    (o,) = s.v.open_orders(1)
    assert o.reserved_margin == usd("1600")
    s.limit(Side.SELL, "1", "30100.0", account=2)  # selling above the mark costs no open loss
    assert s.v.open_orders(2)[0].reserved_margin == usd("1505")
