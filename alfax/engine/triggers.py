"""Trigger index of open conditional (algo) orders of one symbol, per working type.

For each working type: a min-heap of "fires when price >= X" and a max-heap of "fires when price <= X" with
lazy deletion, so a price update that triggers nothing costs a peek. Trailing stops live in a small dict and
are scanned on every price of their working type (their trigger moves with the price).
"""

from __future__ import annotations

import heapq

from ..domain.enums import OrderType, Side, WorkingType
from ..domain.money import RATE_SCALE
from ..domain.orders import AlgoOrder


def fires_when_above(algo: AlgoOrder) -> bool:
    """STOP*: BUY fires when price >= trigger, SELL when <=; TAKE_PROFIT*: BUY when <=, SELL when >=."""
    stop = algo.order_type in (OrderType.STOP, OrderType.STOP_MARKET)
    return (algo.side is Side.BUY) == stop


def would_fire(algo: AlgoOrder, price: int) -> bool:
    if fires_when_above(algo):
        return price >= algo.trigger_price
    return price <= algo.trigger_price


def trailing_step(algo: AlgoOrder, price: int) -> tuple[bool, bool]:
    """Advance a trailing stop with ``price``. Returns (state changed, fire now). Mutates the algo."""
    changed = False
    sell = algo.side is Side.SELL
    if not algo.activated:
        ap = algo.activation_price
        if ap and (price < ap if sell else price > ap):
            return False, False
        algo.activated = True
        algo.extreme_price = price
        changed = True
    elif (price > algo.extreme_price) if sell else (price < algo.extreme_price):
        algo.extreme_price = price
        changed = True
    cb = algo.callback_rate
    if sell:
        fire = price * RATE_SCALE <= algo.extreme_price * (RATE_SCALE - cb)
    else:
        fire = price * RATE_SCALE >= algo.extreme_price * (RATE_SCALE + cb)
    return changed, fire


class TriggerIndex:
    __slots__ = ("above", "below", "trailing", "live")

    def __init__(self) -> None:
        self.above: dict[WorkingType, list[tuple[int, int]]] = {w: [] for w in WorkingType}  # (trigger, algo_id)
        self.below: dict[WorkingType, list[tuple[int, int]]] = {w: [] for w in WorkingType}  # (-trigger, algo_id)
        self.trailing: dict[WorkingType, dict[int, AlgoOrder]] = {w: {} for w in WorkingType}
        self.live: dict[int, AlgoOrder] = {}

    def __len__(self) -> int:
        return len(self.live)

    def add(self, algo: AlgoOrder) -> None:
        self.live[algo.algo_id] = algo
        wt = algo.working_type
        if algo.order_type is OrderType.TRAILING_STOP_MARKET:
            self.trailing[wt][algo.algo_id] = algo
        elif fires_when_above(algo):
            heapq.heappush(self.above[wt], (algo.trigger_price, algo.algo_id))
        else:
            heapq.heappush(self.below[wt], (-algo.trigger_price, algo.algo_id))

    def remove(self, algo_id: int) -> None:
        algo = self.live.pop(algo_id, None)
        if algo is not None and algo.order_type is OrderType.TRAILING_STOP_MARKET:
            self.trailing[algo.working_type].pop(algo_id, None)

    def due(self, wt: WorkingType, price: int) -> list[AlgoOrder]:
        """Pop every non-trailing algo of ``wt`` that ``price`` triggers; sorted by algo id (time priority)."""
        live = self.live
        out: list[AlgoOrder] = []
        h = self.above[wt]
        while h and h[0][0] <= price:
            _, aid = heapq.heappop(h)
            a = live.pop(aid, None)
            if a is not None:
                out.append(a)
        h = self.below[wt]
        while h and -h[0][0] >= price:
            _, aid = heapq.heappop(h)
            a = live.pop(aid, None)
            if a is not None:
                out.append(a)
        if len(out) > 1:
            out.sort(key=lambda a: a.algo_id)
        return out
