"""Restart, queries, step-size filter on a custom instrument, event sequencing."""

from __future__ import annotations

import dataclasses

from alfax.domain.enums import OrderStatus
from engine_helpers import INSTRUMENTS, C, OrderType, Side, Sim, SYM, T0, px, qty, usd
from alfax.engine import ManualClock, Venue


def test_seq_is_contiguous_and_ids_have_own_counters():
    s = Sim()
    s.limit(Side.BUY, "0.1", "29000.0")
    s.market(Side.BUY, "0.1")
    seqs = [e.seq for e in s.events]
    assert seqs == list(range(1, len(seqs) + 1))
    assert [o.order_id for o in s.v.open_orders(1)] == [1]
    trades = [e.trade for e in s.events if getattr(e, "trade", None)]
    assert trades[0].trade_id == 1
    assert all(e.ts == T0 for e in s.events)


def test_restart_bumps_id_counters():
    s = Sim()
    s.do(C.Restart(1000))
    evs = s.limit(Side.BUY, "0.1", "29000.0")
    assert evs[0].order.order_id == 1001


def test_queries():
    s = Sim()
    s.limit(Side.BUY, "0.1", "29000.0", client_order_id="mine")
    s.place(type=OrderType.STOP_MARKET, side=Side.BUY, q="0.1", stop_price=px("30100.0"), via_algo_api=True,
            client_order_id="algo1")
    assert s.v.open_order(1, SYM, client_order_id="mine").price == px("29000.0")
    assert s.v.open_order(1, SYM, order_id=1).client_order_id == "mine"
    assert s.v.open_order(2, SYM, order_id=1) is None
    assert s.v.open_order(1, "ETHUSDT", order_id=1) is None
    assert s.v.open_algo(1, client_algo_id="algo1").algo_id == 2  # one id space: order 1 took id 1
    assert s.v.open_algo(1, algo_id=2).client_algo_id == "algo1"
    assert s.v.has_account(1) and not s.v.has_account(5)
    assert s.v.open_orders(1, "ETHUSDT") == []
    ms = s.v.market(SYM)
    assert ms.asks[0] == (px("30000.1"), qty("5")) and ms.mark_price == px("30000.0")
    assert len(s.v.positions(1)) == len(INSTRUMENTS)


def test_step_size_filter_on_custom_instrument():
    inst = dataclasses.replace(INSTRUMENTS[SYM], step_size=5, min_qty=5, market_step_size=5, market_min_qty=5)
    clock = ManualClock(T0)
    v = Venue({SYM: inst}, clock)
    v.handle(C.CreateAccount(1))
    v.handle(C.Transfer(1, usd("100000")))
    s = Sim.__new__(Sim)
    s.v, s.clock, s.events = v, clock, []
    s.rejects(C.PlaceOrder(1, SYM, Side.BUY, OrderType.LIMIT, quantity=7, price=px("30000.0")), -4023)
    s.rejects(C.PlaceOrder(1, SYM, Side.BUY, OrderType.LIMIT, quantity=3, price=px("30000.0")), -4004)
    v.handle(C.PlaceOrder(1, SYM, Side.BUY, OrderType.LIMIT, quantity=10, price=px("30000.0")))
    assert v.open_orders(1)[0].status is OrderStatus.NEW
