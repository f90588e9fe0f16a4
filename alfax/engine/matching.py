"""Fills against the reference market.

- taker: an arriving (or amended) order walks the reference book plan computed by ``RefMarket.walk``;
- maker: resting orders fill at their own limit price when a reference trade prints strictly through them
  (capped by the print's quantity, shared in price-time priority) or when the reference book's opposite best
  quote crosses them (capped by the crossing levels' quantity, which our fills then consume).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain.enums import ExecutionType, OrderStatus, Side
from ..domain.orders import Evidence, Order
from . import risk
from .settlement import apply_fill, finish

if TYPE_CHECKING:  # pragma: no cover
    from .venue import Venue


def take(v: "Venue", order: Order, plan: list[tuple[int, int, int]], reducing: bool) -> None:
    """Execute a taker plan ``[(price, qty, available)]`` for ``order`` (reduce-only fills clipped)."""
    if not plan:
        return
    mkt = v.markets[order.symbol]
    buy = order.side is Side.BUY
    for price, qty, avail in plan:
        if reducing:
            cap = risk.closable(v, order.account_id, order.symbol, order.side, order.position_side)
            if cap < qty:
                qty = cap
            if qty <= 0:
                break
        if qty > order.remaining:
            qty = order.remaining
        if qty <= 0:
            break
        mkt.consume(buy, price, qty)
        apply_fill(v, order, price, qty, False, Evidence("book", mkt.update_id, price, avail))
        if not order.is_open:
            break


def _fillable(v: "Venue", order: Order) -> int:
    """Quantity a resting order may fill now (reduce-only orders are clipped to the position)."""
    acct = v.accounts[order.account_id]
    if risk.is_reducing(acct.dual_side, order.side, order.position_side, order.reduce_only, order.close_position):
        cap = risk.closable(v, order.account_id, order.symbol, order.side, order.position_side)
        return min(cap, order.remaining)
    return order.remaining


def _after(v: "Venue", idx, order: Order, prio: int) -> None:
    """Re-index a popped order if it is still open, or expire a reduce-only order left without position."""
    if not order.is_open:
        return
    if _fillable(v, order) <= 0:
        finish(v, order, OrderStatus.EXPIRED, ExecutionType.EXPIRED)
        return
    idx.add(order, prio)


def on_trade_print(v: "Venue", symbol: str, price: int, qty: int, trade_id: int) -> None:
    """Resting orders the print went strictly through fill as maker at their own price."""
    idx = v.resting[symbol]
    if not idx.live:
        return
    bb = idx.best_buy()
    if bb and bb > price:
        _trade_side(v, idx, Side.BUY, price, qty, trade_id)
    bs = idx.best_sell()
    if bs and bs < price:
        _trade_side(v, idx, Side.SELL, price, qty, trade_id)


def _trade_side(v: "Venue", idx, side: Side, price: int, budget: int, trade_id: int) -> None:
    popped = idx.take_crossing(side, price, True)
    for order, prio in popped:
        if budget > 0 and order.is_open:
            q = _fillable(v, order)
            if q > budget:
                q = budget
            if q > 0:
                budget -= q
                apply_fill(v, order, order.price, q, True, Evidence("trade", trade_id, price, budget + q))
        _after(v, idx, order, prio)


def on_book(v: "Venue", symbol: str) -> None:
    """Resting orders the new best opposite quote crosses fill as maker at their own price."""
    idx = v.resting[symbol]
    if not idx.live:
        return
    mkt = v.markets[symbol]
    if mkt.asks:
        bb = idx.best_buy()
        if bb and bb >= mkt.asks[0][0]:
            _quote_side(v, idx, Side.BUY, mkt)
    if mkt.bids:
        bs = idx.best_sell()
        if bs and bs <= mkt.bids[0][0]:
            _quote_side(v, idx, Side.SELL, mkt)


def _quote_side(v: "Venue", idx, side: Side, mkt) -> None:
    buy = side is Side.BUY
    levels = mkt.asks if buy else mkt.bids
    popped = idx.take_crossing(side, levels[0][0], False)
    for order, prio in popped:
        for lp, lq in levels:
            if not order.is_open:
                break
            if (lp > order.price) if buy else (lp < order.price):
                break
            avail = mkt.available(buy, lp, lq)
            if avail <= 0:
                continue
            q = _fillable(v, order)
            if q <= 0:
                break
            if q > avail:
                q = avail
            mkt.consume(buy, lp, q)
            apply_fill(v, order, order.price, q, True, Evidence("quote", mkt.update_id, lp, avail))
        _after(v, idx, order, prio)
