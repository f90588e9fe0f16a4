"""Time-driven work, checked after every successful command: GTD expiry, countdown cancel-all, funding.
Each check is a heap peek / integer compare when nothing is due."""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from ..domain.enums import AlgoStatus, ExecutionType, OrderStatus
from . import funding
from .settlement import finish

if TYPE_CHECKING:  # pragma: no cover
    from .venue import Venue


def run(v: "Venue") -> None:
    now = v.now
    h = v.gtd_heap
    if h and h[0][0] <= now:
        _expire_gtd(v, now)
    h = v.countdown_heap
    if h and h[0][0] <= now:
        _countdowns(v, now)
    if now >= v.next_funding_ms:
        funding.maybe_settle(v)


def _expire_gtd(v: "Venue", now: int) -> None:
    from .ordering import end_algo

    h = v.gtd_heap
    while h and h[0][0] <= now:
        _, kind, i = heapq.heappop(h)
        if kind == 0:
            o = v.orders.get(i)
            if o is not None and o.good_till_date <= now:
                finish(v, o, OrderStatus.EXPIRED, ExecutionType.EXPIRED)
        else:
            a = v.algos.get(i)
            if a is not None and a.good_till_date <= now:
                end_algo(v, a, AlgoStatus.EXPIRED)


def _countdowns(v: "Venue", now: int) -> None:
    from .ordering import cancel_all

    h = v.countdown_heap
    while h and h[0][0] <= now:
        deadline, account_id, symbol = heapq.heappop(h)
        if v.countdowns.get((account_id, symbol)) != deadline:
            continue
        del v.countdowns[(account_id, symbol)]
        cancel_all(v, account_id, symbol, regular=True, algo=True)
