"""Read-only queries for the edge. Returned domain objects are the engine's own: callers must not mutate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain import margin as M
from ..domain.enums import MarginType, PositionSide
from ..domain.errors import Err, VenueError
from ..domain.orders import AlgoOrder, Order
from ..domain.positions import Position
from . import risk
from .ordering import algo_view
from .summary import AccountSummary, MarketState, PositionMetrics

if TYPE_CHECKING:  # pragma: no cover
    from .venue import Venue


def open_orders(v: "Venue", account_id: int, symbol: str | None) -> list[Order]:
    """Open regular orders by order id (legacy conditional orders are in ``open_algo_orders``)."""
    out = [o for o in v.acct_orders.get(account_id, {}).values() if symbol is None or o.symbol == symbol]
    out.sort(key=lambda o: o.order_id)
    return out


def open_order(v: "Venue", account_id: int, symbol: str, order_id: int, cid: str) -> Order | None:
    if order_id:
        o = v.orders.get(order_id)
        if o is not None:
            return o if o.account_id == account_id and o.symbol == symbol else None
        aid = v.legacy.get(order_id)
        if aid is not None:
            a = v.algos[aid]
            return algo_view(a) if a.account_id == account_id and a.symbol == symbol else None
        return None
    if cid:
        hit = v.client_ids.get((account_id, cid))
        if hit is None:
            return None
        if hit[0] == "o":
            o = v.orders[hit[1]]
            return o if o.symbol == symbol else None
        a = v.algos[hit[1]]
        return algo_view(a) if a.order_id and a.symbol == symbol else None
    return None


def open_algo(v: "Venue", account_id: int, algo_id: int, cid: str) -> AlgoOrder | None:
    if algo_id:
        a = v.algos.get(algo_id)
        return a if a is not None and a.account_id == account_id else None
    hit = v.client_ids.get((account_id, cid)) if cid else None
    if hit is not None and hit[0] == "a":
        return v.algos[hit[1]]
    return None


def positions(v: "Venue", account_id: int, symbol: str | None) -> list[Position]:
    acct = v.accounts.get(account_id)
    if acct is None:
        raise VenueError(Err.REJECTED_MBX_KEY)
    sides = (PositionSide.LONG, PositionSide.SHORT) if acct.dual_side else (PositionSide.BOTH,)
    symbols = [symbol] if symbol else sorted(v.instruments)
    out = []
    for s in symbols:
        for side in sides:
            pos = v.pos_map.get((account_id, s, side))
            if pos is None:
                st = acct.settings.get(s)
                pos = Position(account_id, s, side, margin_type=st.margin_type if st else MarginType.CROSSED,
                               leverage=st.leverage if st else 20)
            out.append(pos)
    return out


def summary(v: "Venue", account_id: int) -> AccountSummary:
    acct = v.accounts.get(account_id)
    if acct is None:
        raise VenueError(Err.REJECTED_MBX_KEY)
    f = risk.figures(v, account_id)
    return AccountSummary(
        wallet_balance=f.wallet, cross_wallet_balance=f.cross_wallet, unrealized_pnl=f.upnl,
        cross_unrealized_pnl=f.cross_upnl, margin_balance=f.wallet + f.upnl, position_initial_margin=f.pos_im,
        open_order_initial_margin=f.ooim, initial_margin=f.pos_im + f.ooim, maint_margin=f.maint,
        available_balance=max(0, f.available), max_withdraw_amount=f.max_withdraw, update_time=acct.update_time,
    )


def position_metrics(v: "Venue", account_id: int, pos: Position) -> PositionMetrics:
    inst = v.instruments[pos.symbol]
    mark = risk.mark_for(v, pos.symbol, pos)
    upnl = M.unrealized_pnl(inst, pos.qty, pos.entry_notional, mark)
    n = inst.notional(mark, abs(pos.qty))
    im = M.initial_margin(n, pos.leverage)
    mm = M.maintenance_margin(inst, n)
    if pos.qty == 0:
        lp = 0
    elif pos.margin_type is MarginType.ISOLATED:
        lp = M.liquidation_price(inst, pos.qty, pos.entry_notional, pos.isolated_wallet)
    else:
        f = risk.figures(v, account_id)
        lp = M.liquidation_price(inst, pos.qty, pos.entry_notional, f.cross_wallet,
                                 other_maint=f.cross_maint - mm, other_upnl=f.cross_upnl - upnl)
    return PositionMetrics(
        mark_price=mark, unrealized_pnl=upnl, notional=n if pos.qty >= 0 else -n, initial_margin=im,
        maint_margin=mm, liquidation_price=lp, entry_price_8dp=M.entry_price_8dp(inst, pos.qty, pos.entry_notional),
        break_even_price_8dp=M.break_even_price_8dp(inst, pos.qty, pos.entry_notional, pos.break_even_fee),
        isolated_margin=(pos.isolated_wallet + upnl) if pos.margin_type is MarginType.ISOLATED and pos.qty else 0,
        max_notional=inst.max_notional_for_leverage(pos.leverage),
    )


def market(v: "Venue", symbol: str) -> MarketState:
    m = v.markets.get(symbol)
    if m is None:
        raise VenueError(Err.BAD_SYMBOL)
    return MarketState(
        symbol=symbol, bids=m.bids, asks=m.asks, book_update_id=m.update_id, last_price=m.last_price,
        last_trade_ms=m.last_trade_ms, mark_price=m.mark_price, index_price=m.index_price,
        funding_rate=m.funding_rate, next_funding_time=m.next_funding_time, last_update_ms=m.last_update_ms,
        stale=m.stale,
    )
