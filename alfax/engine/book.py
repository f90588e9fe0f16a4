"""Reference market of one symbol: the latest L2 book from the feed plus what our own fills took from it.

Own consumption: liquidity our users took at a price level since the last ``BookUpdate`` is remembered, so two
market orders in a row do not both fill against the same reference quantity. A new book update resets it.
"""

from __future__ import annotations

Level = tuple[int, int]


class RefMarket:
    __slots__ = (
        "symbol", "bids", "asks", "update_id", "bid_used", "ask_used", "has_book",
        "last_price", "last_trade_ms", "last_trade_id", "mark_price", "index_price", "funding_rate",
        "next_funding_time", "last_update_ms", "stale",
    )

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids: tuple[Level, ...] = ()
        self.asks: tuple[Level, ...] = ()
        self.update_id = 0
        self.bid_used: dict[int, int] = {}
        self.ask_used: dict[int, int] = {}
        self.has_book = False
        self.last_price = 0
        self.last_trade_ms = 0
        self.last_trade_id = 0
        self.mark_price = 0
        self.index_price = 0
        self.funding_rate = 0
        self.next_funding_time = 0
        self.last_update_ms = 0
        self.stale = False  # set by FeedStatus: no orders, no evaluation on this symbol's prices

    # ------------------------------------------------------------------ updates
    def set_book(self, bids, asks, update_id: int, now: int) -> None:
        self.bids = bids
        self.asks = asks
        self.update_id = update_id
        self.has_book = True
        if self.bid_used:
            self.bid_used = {}
        if self.ask_used:
            self.ask_used = {}
        self.last_update_ms = now

    def best_ask(self) -> int:
        """Best ask price still available after own consumption (0 if none)."""
        used = self.ask_used
        for p, q in self.asks:
            if q - used.get(p, 0) > 0:
                return p
        return 0

    def best_bid(self) -> int:
        used = self.bid_used
        for p, q in self.bids:
            if q - used.get(p, 0) > 0:
                return p
        return 0

    def reference_price(self) -> int:
        """Best guess of the fair price: mark, else last trade, else mid of the book."""
        if self.mark_price:
            return self.mark_price
        if self.last_price:
            return self.last_price
        b, a = self.best_bid(), self.best_ask()
        if b and a:
            return (a + b) // 2
        return a or b

    # ------------------------------------------------------------------ taker walk
    def walk(self, buy: bool, limit: int, need: int) -> list[tuple[int, int, int]]:
        """Plan a taker fill of ``need`` against the opposite side, best first, up to ``limit`` (0 = none).

        Returns ``[(price, qty, available)]`` without mutating anything; ``consume`` commits a plan.
        """
        levels = self.asks if buy else self.bids
        used = self.ask_used if buy else self.bid_used
        out: list[tuple[int, int, int]] = []
        for p, q in levels:
            if limit and (p > limit if buy else p < limit):
                break
            avail = q - used.get(p, 0)
            if avail <= 0:
                continue
            take = avail if avail < need else need
            out.append((p, take, avail))
            need -= take
            if need == 0:
                break
        return out

    def consume(self, buy: bool, price: int, qty: int) -> None:
        used = self.ask_used if buy else self.bid_used
        used[price] = used.get(price, 0) + qty

    def available(self, buy: bool, price: int, qty: int) -> int:
        used = self.ask_used if buy else self.bid_used
        return qty - used.get(price, 0)

    # ------------------------------------------------------------------ persistence
    def dump(self) -> dict:
        return {
            "bids": [list(x) for x in self.bids], "asks": [list(x) for x in self.asks],
            "update_id": self.update_id, "has_book": self.has_book,
            "bid_used": sorted([p, q] for p, q in self.bid_used.items()),
            "ask_used": sorted([p, q] for p, q in self.ask_used.items()),
            "last_price": self.last_price, "last_trade_ms": self.last_trade_ms, "last_trade_id": self.last_trade_id,
            "mark_price": self.mark_price, "index_price": self.index_price, "funding_rate": self.funding_rate,
            "next_funding_time": self.next_funding_time, "last_update_ms": self.last_update_ms,
            "stale": self.stale,
        }

    @classmethod
    def load(cls, symbol: str, d: dict) -> "RefMarket":
        m = cls(symbol)
        m.bids = tuple((int(p), int(q)) for p, q in d["bids"])
        m.asks = tuple((int(p), int(q)) for p, q in d["asks"])
        m.update_id = d["update_id"]
        m.has_book = d["has_book"]
        m.bid_used = {p: q for p, q in d["bid_used"]}
        m.ask_used = {p: q for p, q in d["ask_used"]}
        for k in ("last_price", "last_trade_ms", "last_trade_id", "mark_price", "index_price", "funding_rate",
                  "next_funding_time", "last_update_ms"):
            setattr(m, k, d[k])
        m.stale = d.get("stale", False)
        return m
