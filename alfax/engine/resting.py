"""Price-time index of our users' resting LIMIT orders of one symbol.

Two heaps (buys: highest price first; sells: lowest first) with lazy deletion: cancelling only forgets the
order in ``live``; stale heap entries are dropped when they reach the top. Checking whether a reference update
crosses anything is a peek at each top: O(1) amortised however many orders rest.
"""

from __future__ import annotations

import heapq

from ..domain.enums import Side
from ..domain.orders import Order


class RestingIndex:
    __slots__ = ("buys", "sells", "live", "orders", "_stale")

    def __init__(self) -> None:
        self.buys: list[tuple[int, int, int]] = []  # (-price, prio, order_id)
        self.sells: list[tuple[int, int, int]] = []  # (price, prio, order_id)
        self.live: dict[int, int] = {}  # order_id -> prio of its current heap entry
        self.orders: dict[int, Order] = {}
        self._stale = 0

    def __len__(self) -> int:
        return len(self.live)

    def add(self, order: Order, prio: int) -> None:
        oid = order.order_id
        if oid in self.live:
            self._stale += 1
        self.live[oid] = prio
        self.orders[oid] = order
        if order.side is Side.BUY:
            heapq.heappush(self.buys, (-order.price, prio, oid))
        else:
            heapq.heappush(self.sells, (order.price, prio, oid))

    def remove(self, order_id: int) -> None:
        if self.live.pop(order_id, None) is not None:
            del self.orders[order_id]
            self._stale += 1
            if self._stale > 1024 and self._stale > 2 * len(self.live):
                self._compact()

    def _compact(self) -> None:
        live = self.live
        self.buys = [e for e in self.buys if live.get(e[2]) == e[1]]
        self.sells = [e for e in self.sells if live.get(e[2]) == e[1]]
        heapq.heapify(self.buys)
        heapq.heapify(self.sells)
        self._stale = 0

    def _top(self, heap: list) -> tuple[int, int, int] | None:
        live = self.live
        while heap:
            e = heap[0]
            if live.get(e[2]) == e[1]:
                return e
            heapq.heappop(heap)
            self._stale -= 1 if self._stale > 0 else 0
        return None

    def best_buy(self) -> int:
        """Highest resting buy price (0 if none)."""
        e = self._top(self.buys)
        return -e[0] if e else 0

    def best_sell(self) -> int:
        """Lowest resting sell price (0 if none)."""
        e = self._top(self.sells)
        return e[0] if e else 0

    def take_crossing(self, side: Side, price: int, strict: bool) -> list[tuple[Order, int]]:
        """Pop, in price-time priority, the orders of ``side`` that ``price`` crosses.

        BUY orders cross when their price > price (strict) or >= price; SELL when < / <=. Returns
        ``[(order, prio)]``; the caller re-``add``s the ones still open with the same prio (keeps priority).
        """
        out: list[tuple[Order, int]] = []
        live = self.live
        if side is Side.BUY:
            heap = self.buys
            while heap:
                neg, prio, oid = heap[0]
                if live.get(oid) != prio:
                    heapq.heappop(heap)
                    continue
                p = -neg
                if p < price or (strict and p == price):
                    break
                heapq.heappop(heap)
                del live[oid]
                out.append((self.orders.pop(oid), prio))
        else:
            heap = self.sells
            while heap:
                p, prio, oid = heap[0]
                if live.get(oid) != prio:
                    heapq.heappop(heap)
                    continue
                if p > price or (strict and p == price):
                    break
                heapq.heappop(heap)
                del live[oid]
                out.append((self.orders.pop(oid), prio))
        return out
