"""Reference market-data commands: book, trade prints, mark price. Each updates the reference market, then
lets resting orders fill, conditional orders trigger, and (mark) liquidations run. A pure update that touches
no user state emits no event."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain import commands as C
from ..domain.enums import WorkingType
from ..domain.errors import Err, VenueError
from ..domain.events import TrailingStopMoved
from ..domain.money import RATE_SCALE
from . import liquidation, matching
from .ordering import fire
from .triggers import trailing_step

if TYPE_CHECKING:  # pragma: no cover
    from .venue import Venue


def _market(v: "Venue", symbol: str):
    m = v.markets.get(symbol)
    if m is None:
        raise VenueError(Err.BAD_SYMBOL)
    return m


def on_book(v: "Venue", cmd: C.BookUpdate) -> None:
    m = _market(v, cmd.symbol)
    m.set_book(cmd.bids, cmd.asks, cmd.update_id, v.now)
    if not m.stale:
        matching.on_book(v, cmd.symbol)


def on_trade(v: "Venue", cmd: C.TradePrint) -> None:
    m = _market(v, cmd.symbol)
    m.last_price = cmd.price
    m.last_trade_ms = v.now
    m.last_trade_id = cmd.trade_id
    m.last_update_ms = v.now
    if m.stale:
        return
    matching.on_trade_print(v, cmd.symbol, cmd.price, cmd.qty, cmd.trade_id)
    run_triggers(v, cmd.symbol, WorkingType.CONTRACT_PRICE, cmd.price)


def on_mark(v: "Venue", cmd: C.MarkPriceUpdate) -> None:
    m = _market(v, cmd.symbol)
    m.mark_price = cmd.mark_price
    m.index_price = cmd.index_price
    m.funding_rate = cmd.funding_rate
    m.next_funding_time = cmd.next_funding_time
    m.last_update_ms = v.now
    if m.stale:
        return
    run_triggers(v, cmd.symbol, WorkingType.MARK_PRICE, cmd.mark_price)
    liquidation.check_symbol(v, cmd.symbol)


def on_feed_status(v: "Venue", cmd: C.FeedStatus) -> None:
    m = _market(v, cmd.symbol)
    was_stale, m.stale = m.stale, cmd.stale
    if was_stale and not cmd.stale and m.has_book:
        # back to fresh: resting orders meet the current book at once (triggers and liquidation wait for the
        # next trade / mark price, which are evaluated as usual)
        matching.on_book(v, cmd.symbol)
    if was_stale != cmd.stale:
        # challenge evaluation pauses on stale prices and resumes at once when they are fresh (guard.refresh)
        v.guard.touched.update(v.symbol_holders[cmd.symbol])



def protected(v: "Venue", symbol: str) -> bool:
    """priceProtect: mark and last price diverge by more than the instrument's trigger protection."""
    m = v.markets[symbol]
    mark, last = m.mark_price, m.last_price
    if not mark or not last:
        return False
    return abs(mark - last) * RATE_SCALE > mark * v.instruments[symbol].trigger_protect


def run_triggers(v: "Venue", symbol: str, wt: WorkingType, price: int) -> None:
    idx = v.triggers[symbol]
    if not idx.live:
        return
    fired = idx.due(wt, price)
    trailing = idx.trailing[wt]
    if trailing:
        for algo in sorted(trailing.values(), key=lambda a: a.algo_id):
            changed, go = trailing_step(algo, price)
            if changed:
                algo.update_time = v.now
                v.emit(TrailingStopMoved, account_id=algo.account_id, algo_id=algo.algo_id,
                       extreme_price=algo.extreme_price, activated=algo.activated)
            if go:
                fired.append(algo)
    if not fired:
        return
    deferred = []
    for algo in sorted(fired, key=lambda a: a.algo_id):
        if algo.price_protect and protected(v, symbol):
            deferred.append(algo)
            continue
        if algo.algo_id in v.algos:  # still open (an earlier fire may have cancelled it)
            fire(v, algo)
    for algo in deferred:
        idx.add(algo)
