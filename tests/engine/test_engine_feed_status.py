"""FeedStatus: a stale reference feed rejects new orders and evaluates nothing on the symbol's prices."""

from __future__ import annotations

import pytest

from alfax.domain.enums import IncomeType, MarginType
from alfax.domain.errors import Err, VenueError
from alfax.domain.events import Liquidated
from alfax.engine import Venue
from engine_helpers import INSTRUMENTS, C, OrderType, Side, Sim, SYM, incomes, orders, trades

H8 = 8 * 3600 * 1000


def _stale(s: Sim, stale: bool = True, symbol: str = SYM):
    return s.do(C.FeedStatus(symbol, stale))


def test_orders_and_amendments_are_rejected_while_stale_and_accepted_again_after():
    s = Sim()
    s.limit(Side.BUY, "0.1", "29000.0")
    oid = s.v.open_orders(1)[0].order_id
    assert _stale(s) == [] and s.v.market(SYM).stale
    with pytest.raises(VenueError) as e:
        s.market(Side.BUY, "0.1")
    assert e.value.err is Err.FEED_STALE and e.value.code == -2010 and e.value.http_status == 400
    assert e.value.msg == ("Reference market feed for BTCUSDT is stale; orders for it are rejected until the feed "
                           "recovers.")
    with pytest.raises(VenueError):  # conditional orders too
        s.place(type=OrderType.STOP_MARKET, q="0.1", stop_price=s.v.market(SYM).mark_price + 10_000)
    with pytest.raises(VenueError) as e:
        s.do(C.AmendOrder(1, SYM, Side.BUY, order_id=oid, quantity=100, price=2_910_000))
    assert e.value.err is Err.FEED_STALE
    # the other symbol and cancels are unaffected
    s.book([("2000.00", "50")], [("2000.01", "50")], symbol="ETHUSDT")
    s.mark("2000.00", symbol="ETHUSDT")
    assert orders(s.place(symbol="ETHUSDT", q="0.01", price="1900.00"))
    assert orders(s.do(C.CancelOrder(1, SYM, order_id=oid)))
    _stale(s, False)
    assert not s.v.market(SYM).stale
    assert trades(s.market(Side.BUY, "0.1"))


def test_no_fill_trigger_or_liquidation_on_a_stale_symbol():
    s = Sim()
    s.do(C.SetMarginType(1, SYM, MarginType.ISOLATED))
    s.do(C.SetLeverage(1, SYM, 100))
    s.book([("30000.0", "5")], [("30000.0", "5")])
    s.market(Side.BUY, "1")  # isolated, liquidation near 29819
    s.limit(Side.BUY, "0.1", "29900.0", account=2)  # rests below the book
    _stale(s)
    # a book crossing the resting order, a trade through it and a mark below the liquidation price: nothing
    assert s.book([("29800.0", "5")], [("29800.1", "5")]) == []
    assert s.trade("29800.0", "3") == []
    assert [e for e in s.mark("29000.0") if isinstance(e, Liquidated)] == []
    assert s.pos() == 1000 and s.v.open_orders(2)
    # fresh again: the resting order meets the current book at once; the next mark liquidates
    evs = _stale(s, False)
    assert trades(evs) and not s.v.open_orders(2)
    assert [e for e in s.mark("29000.0") if isinstance(e, Liquidated)]


def test_funding_is_not_settled_on_a_stale_mark():
    s = Sim()
    s.book([("30000.0", "5")], [("30000.0", "5")])
    s.market(Side.BUY, "1")
    s.mark("30000.0", rate="0.0001")
    boundary = (s.clock.ms // H8 + 1) * H8
    s.clock.ms = boundary - 1
    s.do(C.Tick())
    _stale(s)
    s.clock.ms = boundary
    assert incomes(s.do(C.Tick()), IncomeType.FUNDING_FEE) == []


def test_stale_flag_survives_snapshot_and_restore():
    s = Sim()
    _stale(s)
    v2 = Venue.restore(INSTRUMENTS, s.clock, s.v.snapshot())
    assert v2.market(SYM).stale and v2.state_hash() == s.v.state_hash()
    with pytest.raises(VenueError):
        v2.handle(C.PlaceOrder(1, SYM, Side.BUY, OrderType.MARKET, quantity=100))
