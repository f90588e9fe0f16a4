"""Conditional (algo) orders: triggers by working type, -2021, trailing stops, priceProtect, legacy ids,
closePosition, trigger rejection, GTD and cancellation."""

from __future__ import annotations

import pytest

from alfax.domain.enums import AlgoStatus, OrderStatus
from alfax.domain.events import AlgoUpdated, TrailingStopMoved, TriggerRejected
from engine_helpers import C, OrderType, PositionSide, Side, Sim, SYM, TimeInForce, WorkingType, orders, px, qty, trades


@pytest.fixture
def s():
    s = Sim()
    s.trade("30000.0")  # last price known
    return s


def algo_events(evs):
    return [e for e in evs if isinstance(e, AlgoUpdated)]


def test_stop_market_fires_on_last_price(s):
    s.place(type=OrderType.STOP_MARKET, side=Side.BUY, q="0.1", stop_price=px("30100.0"), via_algo_api=True)
    (a,) = s.v.open_algo_orders(1)
    assert a.status is AlgoStatus.NEW and a.order_id == 0
    assert s.trade("30099.9") == []
    evs = s.trade("30100.0")
    st = [e.algo.status for e in algo_events(evs)]
    assert st == [AlgoStatus.TRIGGERING, AlgoStatus.TRIGGERED, AlgoStatus.FINISHED]
    o = orders(evs)[-1].order
    assert o.type is OrderType.MARKET and o.orig_type is OrderType.STOP_MARKET and o.algo_id == a.algo_id
    assert o.stop_price == px("30100.0") and o.status is OrderStatus.FILLED
    assert algo_events(evs)[-1].algo.actual_order_id == o.order_id
    assert algo_events(evs)[-1].algo.actual_qty == qty("0.1")
    assert s.v.open_algo_orders(1) == [] and s.pos() == qty("0.1")


@pytest.mark.parametrize("typ,side,trigger,fires_at,not_at", [
    (OrderType.STOP_MARKET, Side.SELL, "29900.0", "29900.0", "29900.1"),
    (OrderType.TAKE_PROFIT_MARKET, Side.BUY, "29900.0", "29900.0", "29900.1"),
    (OrderType.TAKE_PROFIT_MARKET, Side.SELL, "30100.0", "30100.0", "30099.9"),
])
def test_trigger_directions(s, typ, side, trigger, fires_at, not_at):
    s.place(type=typ, side=side, q="0.1", stop_price=px(trigger))
    assert s.trade(not_at) == []
    assert algo_events(s.trade(fires_at))


@pytest.mark.parametrize("typ,side,trigger", [
    (OrderType.STOP_MARKET, Side.BUY, "29990.0"),
    (OrderType.STOP_MARKET, Side.SELL, "30010.0"),
    (OrderType.TAKE_PROFIT_MARKET, Side.BUY, "30010.0"),
    (OrderType.TAKE_PROFIT, Side.SELL, "29990.0"),
])
def test_would_immediately_trigger(s, typ, side, trigger):
    price = "29990.0" if typ is OrderType.TAKE_PROFIT else None
    e = s.rejects(lambda: s.place(type=typ, side=side, q="0.1", price=price, stop_price=px(trigger)), -2021)
    assert e.msg == "Order would immediately trigger."


def test_mark_price_working_type(s):
    s.place(type=OrderType.STOP_MARKET, side=Side.BUY, q="0.1", stop_price=px("30100.0"),
            working_type=WorkingType.MARK_PRICE)
    assert s.trade("30200.0") == []  # last price does not matter
    assert algo_events(s.mark("30150.0"))


def test_stop_limit_rests_then_algo_finishes_when_filled(s):
    s.place(type=OrderType.STOP, side=Side.BUY, q="0.1", price="30050.0", stop_price=px("30040.0"))
    s.book([("30000.0", "1")], [("30060.0", "1")])
    evs = s.trade("30040.0")
    assert [e.algo.status for e in algo_events(evs)] == [AlgoStatus.TRIGGERING, AlgoStatus.TRIGGERED]
    (o,) = s.v.open_orders(1)
    assert o.type is OrderType.LIMIT and o.orig_type is OrderType.STOP and o.price == px("30050.0")
    evs = s.trade("30049.0")  # prints through the limit
    assert trades(evs)[0].maker
    assert algo_events(evs)[-1].algo.status is AlgoStatus.FINISHED


def test_reduce_only_trigger_without_position_is_rejected(s):
    s.place(type=OrderType.STOP_MARKET, side=Side.SELL, q="0.1", stop_price=px("29900.0"), reduce_only=True)
    evs = s.trade("29800.0")
    assert [e.algo.status for e in algo_events(evs)] == [AlgoStatus.TRIGGERING, AlgoStatus.REJECTED]
    rej = [e for e in evs if isinstance(e, TriggerRejected)]
    assert rej and rej[0].reason == "ReduceOnly Order is rejected."
    assert s.v.open_algo_orders(1) == []


def test_close_position(s):
    s.rejects(lambda: s.place(type=OrderType.STOP_MARKET, side=Side.SELL, q="0.1", stop_price=px("29900.0"),
                              close_position=True), -4137)
    s.rejects(lambda: s.place(type=OrderType.STOP, side=Side.SELL, q=None, price="29900.0",
                              stop_price=px("29900.0"), close_position=True), -1106)
    s.market(Side.BUY, "0.7")
    s.place(type=OrderType.STOP_MARKET, side=Side.SELL, q=None, stop_price=px("29900.0"), close_position=True)
    s.market(Side.BUY, "0.3")  # position grows after placement: the whole position is closed
    s.book([("29850.0", "5")], [("29850.1", "5")])
    evs = s.trade("29900.0")
    t = trades(evs)
    assert sum(x.qty for x in t) == qty("1") and s.pos() == 0


def test_trailing_stop_sell(s):
    s.rejects(lambda: s.place(type=OrderType.TRAILING_STOP_MARKET, side=Side.SELL, q="0.1",
                              callback_rate=50_000), -4105)
    s.rejects(lambda: s.place(type=OrderType.TRAILING_STOP_MARKET, side=Side.SELL, q="0.1",
                              callback_rate=10_000_001), -4105)
    s.market(Side.BUY, "0.1")
    # activate at 30100, callback 1%
    s.place(type=OrderType.TRAILING_STOP_MARKET, side=Side.SELL, q="0.1", callback_rate=1_000_000,
            activation_price=px("30100.0"), reduce_only=True)
    assert s.trade("30050.0") == []  # not active yet, nothing changes
    evs = s.trade("30100.0")
    mv = [e for e in evs if isinstance(e, TrailingStopMoved)]
    assert mv and mv[0].activated and mv[0].extreme_price == px("30100.0")
    evs = s.trade("30500.0")
    assert [e.extreme_price for e in evs if isinstance(e, TrailingStopMoved)] == [px("30500.0")]
    assert s.trade("30300.0") == []  # lower but within 1%: no state change, no events
    # fires at <= 30500 * 0.99 = 30195.0
    assert not algo_events(s.trade("30195.1"))
    s.book([("30190.0", "5")], [("30190.1", "5")])
    evs = s.trade("30195.0")
    assert algo_events(evs)[-1].algo.status is AlgoStatus.FINISHED
    assert s.pos() == 0


def test_trailing_stop_buy_active_at_once(s):
    s.place(type=OrderType.TRAILING_STOP_MARKET, side=Side.BUY, q="0.1", callback_rate=2_000_000)
    (a,) = s.v.open_algo_orders(1)
    assert a.activated and a.extreme_price == px("30000.0")
    s.trade("29000.0")
    # fires at >= 29000 * 1.02 = 29580
    assert not algo_events(s.trade("29579.9"))
    assert algo_events(s.trade("29580.0"))


def test_price_protect_defers_trigger(s):
    s.place(type=OrderType.STOP_MARKET, side=Side.BUY, q="0.1", stop_price=px("30100.0"), price_protect=True)
    s.mark("28000.0")  # mark far below last: |mark-last|/mark > 5 %
    assert not algo_events(s.trade("30200.0"))
    assert len(s.v.open_algo_orders(1)) == 1
    s.mark("30150.0")
    assert algo_events(s.trade("30200.0"))


def test_legacy_conditional_has_order_id_and_is_cancellable_by_it(s):
    s.limit(Side.BUY, "0.1", "29000.0")
    s.place(type=OrderType.STOP_MARKET, side=Side.BUY, q="0.1", stop_price=px("30100.0"), client_order_id="stp1")
    (a,) = s.v.open_algo_orders(1)
    assert a.order_id == a.algo_id == 2 and not a.via_algo_api
    view = s.v.open_order(1, SYM, order_id=a.order_id)
    assert view.status is OrderStatus.NEW and view.orig_type is OrderType.STOP_MARKET and view.type is OrderType.STOP_MARKET
    assert s.v.open_order(1, SYM, client_order_id="stp1").order_id == a.order_id
    evs = s.do(C.CancelOrder(1, SYM, order_id=a.order_id))
    assert algo_events(evs)[0].algo.status is AlgoStatus.CANCELED
    assert s.v.open_algo_orders(1) == []


def test_legacy_child_reuses_the_order_id(s):
    s.place(type=OrderType.STOP_MARKET, side=Side.BUY, q="0.1", stop_price=px("30100.0"))
    (a,) = s.v.open_algo_orders(1)
    evs = s.trade("30100.0")
    assert orders(evs)[-1].order.order_id == a.order_id
    assert algo_events(evs)[-1].algo.actual_order_id == a.order_id


def test_cancel_algo(s):
    s.place(type=OrderType.STOP_MARKET, side=Side.BUY, q="0.1", stop_price=px("30100.0"), via_algo_api=True,
            client_order_id="c1")
    s.rejects(C.CancelAlgoOrder(1, SYM, algo_id=999), -2013)
    s.rejects(C.CancelAlgoOrder(2, SYM, algo_id=1), -2013)
    evs = s.do(C.CancelAlgoOrder(1, SYM, client_algo_id="c1"))
    assert algo_events(evs)[0].algo.status is AlgoStatus.CANCELED
    s.place(type=OrderType.STOP_MARKET, side=Side.BUY, q="0.1", stop_price=px("30100.0"), via_algo_api=True)
    s.do(C.CancelAllOrders(1, SYM, regular=False, algo=True))
    assert s.v.open_algo_orders(1) == []
    assert s.trade("30200.0") == []  # cancelled triggers never fire


def test_max_algo_orders(s):
    inst = s.v.instruments[SYM]
    for i in range(inst.max_num_algo_orders):
        s.place(type=OrderType.STOP_MARKET, side=Side.BUY, q="0.1", stop_price=px(f"{30100 + i}.0"))
    s.rejects(lambda: s.place(type=OrderType.STOP_MARKET, side=Side.BUY, q="0.1", stop_price=px("31000.0")), -2025)


def test_algo_gtd_expiry(s):
    gtd = s.clock.ms + 700_000
    s.place(type=OrderType.STOP_MARKET, side=Side.BUY, q="0.1", stop_price=px("30100.0"),
            time_in_force=TimeInForce.GTD, good_till_date=gtd)
    s.clock.ms = gtd
    evs = s.do(C.Tick())
    assert algo_events(evs)[0].algo.status is AlgoStatus.EXPIRED
    assert s.trade("30200.0") == []


def test_hedge_mode_stop(s):
    s.do(C.SetPositionMode(1, True))
    s.market(Side.BUY, "0.2", position_side=PositionSide.LONG)
    s.place(type=OrderType.STOP_MARKET, side=Side.SELL, q=None, stop_price=px("29900.0"), close_position=True,
            position_side=PositionSide.LONG)
    s.book([("29850.0", "5")], [("29850.1", "5")])
    s.trade("29900.0")
    assert s.pos(side=PositionSide.LONG) == 0
