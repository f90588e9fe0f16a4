"""Differential test (exchange-core style): the venue with its heap indexes against the same venue whose
resting-order and trigger indexes are naive list scans. Same random price paths -> same fills and triggers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from alfax.domain.enums import OrderType, Side, WorkingType
from alfax.domain.errors import VenueError
from alfax.engine import ManualClock, Venue
from alfax.engine.triggers import would_fire
from engine_helpers import INSTRUMENTS, T0
from engine_scenarios import stream


class NaiveResting:
    def __init__(self):
        self.live = {}  # oid -> prio
        self.orders = {}

    def __len__(self):
        return len(self.live)

    def add(self, order, prio):
        self.live[order.order_id] = prio
        self.orders[order.order_id] = order

    def remove(self, oid):
        if self.live.pop(oid, None) is not None:
            del self.orders[oid]

    def _side(self, side):
        return [(o, self.live[i]) for i, o in self.orders.items() if o.side is side]

    def best_buy(self):
        return max((o.price for o, _ in self._side(Side.BUY)), default=0)

    def best_sell(self):
        return min((o.price for o, _ in self._side(Side.SELL)), default=0)

    def take_crossing(self, side, price, strict):
        if side is Side.BUY:
            hit = [(o, p) for o, p in self._side(side) if o.price > price or (not strict and o.price == price)]
            hit.sort(key=lambda x: (-x[0].price, x[1]))
        else:
            hit = [(o, p) for o, p in self._side(side) if o.price < price or (not strict and o.price == price)]
            hit.sort(key=lambda x: (x[0].price, x[1]))
        for o, _ in hit:
            self.remove(o.order_id)
        return hit


class NaiveTriggers:
    def __init__(self):
        self.live = {}
        self.trailing = {w: {} for w in WorkingType}

    def __len__(self):
        return len(self.live)

    def add(self, algo):
        self.live[algo.algo_id] = algo
        if algo.order_type is OrderType.TRAILING_STOP_MARKET:
            self.trailing[algo.working_type][algo.algo_id] = algo

    def remove(self, aid):
        a = self.live.pop(aid, None)
        if a is not None:
            self.trailing[a.working_type].pop(aid, None)

    def due(self, wt, price):
        out = sorted((a for a in self.live.values() if a.working_type is wt
                      and a.order_type is not OrderType.TRAILING_STOP_MARKET and would_fire(a, price)),
                     key=lambda a: a.algo_id)
        for a in out:
            del self.live[a.algo_id]
        return out


def naive_venue(clock):
    v = Venue(INSTRUMENTS, clock)
    v.resting = {s: NaiveResting() for s in INSTRUMENTS}
    v.triggers = {s: NaiveTriggers() for s in INSTRUMENTS}
    return v


def run(v, clock, cmds):
    log = []
    for ms, cmd in cmds:
        clock.ms = ms
        try:
            log.append(repr(v.handle(cmd)))
        except VenueError as e:
            log.append(e.code)
    return log


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=0, max_value=10**9), st.booleans())
def test_fast_indexes_equal_naive(seed, risky):
    cmds = stream(seed, 250, risky)
    c1, c2 = ManualClock(T0), ManualClock(T0)
    fast, naive = Venue(INSTRUMENTS, c1), naive_venue(c2)
    assert run(fast, c1, cmds) == run(naive, c2, cmds)
    assert fast.state_hash() == naive.state_hash()
