"""Market stream payloads (contract §4.2) and diff-depth sequencing (contract §4.4).

Inputs are the reference-market commands the feed produces (TradePrint, BookUpdate, MarkPriceUpdate), the
Binance-shaped rows of the marketdata read model (kline rows, 24h ticker dicts) and Liquidated events.
Prices/quantities at the instrument precision; mark/index prices at 8 dp like REST ``premiumIndex``.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from alfax.domain.commands import BookUpdate, MarkPriceUpdate, TradePrint
from alfax.domain.events import Liquidated
from alfax.domain.instruments import Instrument
from alfax.domain.money import RATE_DECIMALS, div_round_half_up, format_fixed, rescale
from alfax.domain.orders import Order

from .user_payloads import avg_price

DEFAULT_DEPTH_LEVELS = 1000
PARTIAL_DEPTH_LEVELS = (5, 10, 20)


def _p8(inst: Instrument, raw: int) -> str:
    return format_fixed(rescale(raw, inst.price_precision, 8), 8)


# ---------------------------------------------------------------------------------------------- trades


def agg_trade(cmd: TradePrint, inst: Instrument, ts: int, agg_id: int | None = None) -> dict:
    """``<s>@aggTrade``: one reference trade = one aggregate (a = f = l = trade id, as REST aggTrades)."""
    a = cmd.trade_id if agg_id is None else agg_id
    return {"e": "aggTrade", "E": ts, "s": cmd.symbol, "a": a,
            "p": format_fixed(cmd.price, inst.price_precision), "q": format_fixed(cmd.qty, inst.quantity_precision),
            "f": cmd.trade_id, "l": cmd.trade_id, "T": ts, "m": cmd.buyer_is_maker}


def trade(cmd: TradePrint, inst: Instrument, ts: int) -> dict:
    """``<s>@trade``."""
    return {"e": "trade", "E": ts, "T": ts, "s": cmd.symbol, "t": cmd.trade_id,
            "p": format_fixed(cmd.price, inst.price_precision), "q": format_fixed(cmd.qty, inst.quantity_precision),
            "X": "MARKET", "m": cmd.buyer_is_maker}


# ---------------------------------------------------------------------------------------------- mark price


def mark_price_update(cmd: MarkPriceUpdate, inst: Instrument, ts: int) -> dict:
    """``<s>@markPrice[@1s]``. ``ap`` (mark moving average) = mark; ``P`` (estimated settle) = index, as REST."""
    return {"e": "markPriceUpdate", "E": ts, "s": cmd.symbol, "p": _p8(inst, cmd.mark_price),
            "ap": _p8(inst, cmd.mark_price), "i": _p8(inst, cmd.index_price), "P": _p8(inst, cmd.index_price),
            "r": format_fixed(cmd.funding_rate, RATE_DECIMALS), "T": cmd.next_funding_time}


def mark_price_array(updates: Iterable[tuple[MarkPriceUpdate, Instrument]], ts: int) -> list[dict]:
    """``!markPrice@arr[@1s]``: a JSON array of markPriceUpdate payloads, one per symbol."""
    return [mark_price_update(cmd, inst, ts) for cmd, inst in updates]


# ---------------------------------------------------------------------------------------------- book


def book_ticker(book: BookUpdate, inst: Instrument, ts: int) -> dict:
    """``<s>@bookTicker`` (``u`` = the book update id, the depth sequence)."""
    pp, qp = inst.price_precision, inst.quantity_precision
    bid = book.bids[0] if book.bids else (0, 0)
    ask = book.asks[0] if book.asks else (0, 0)
    return {"e": "bookTicker", "u": book.update_id, "E": ts, "T": ts, "s": book.symbol,
            "b": format_fixed(bid[0], pp), "B": format_fixed(bid[1], qp),
            "a": format_fixed(ask[0], pp), "A": format_fixed(ask[1], qp)}


def _levels(levels: Iterable[tuple[int, int]], inst: Instrument) -> list[list[str]]:
    pp, qp = inst.price_precision, inst.quantity_precision
    return [[format_fixed(p, pp), format_fixed(q, qp)] for p, q in levels]


def partial_depth(book: BookUpdate, inst: Instrument, levels: int, ts: int, prev_u: int | None = None) -> dict:
    """``<s>@depth<5|10|20>``: a full depthUpdate holding the top ``levels`` of each side.

    ``u`` = the book update id; ``pu`` = ``prev_u`` (the previous pushed ``u``; defaults to u - 1); U = pu + 1.
    """
    u = book.update_id
    pu = u - 1 if prev_u is None else prev_u
    return {"e": "depthUpdate", "E": ts, "T": ts, "s": book.symbol, "U": pu + 1, "u": u, "pu": pu,
            "b": _levels(book.bids[:levels], inst), "a": _levels(book.asks[:levels], inst)}


class DepthDiffer:
    """Diff-depth sequencer for one symbol (``<s>@depth[@100ms|@500ms]``).

    Feed it successive full BookUpdate snapshots (top ``levels`` of each side kept); ``flush`` emits one
    depthUpdate holding the absolute quantity of every level that was updated since the last *emitted* event
    (0 for a level that disappeared), as Binance does. "Updated" means touched by any of the coalesced book
    updates, not only the net difference: a client whose REST snapshot ``lastUpdateId`` falls inside the
    coalesced range (``U <= L <= u``) may hold a level that changed and changed back, and must be told its
    final quantity. ``u`` is the newest BookUpdate ``update_id`` (the same sequence as REST ``lastUpdateId``),
    ``pu`` the previous emitted ``u``, ``U`` = ``pu`` + 1, so ``pu == previous u`` whatever the coalescing.

    The first snapshot (constructor ``base`` or the first one fed) is the baseline: it emits nothing, a client
    takes it from REST. Update ids must increase (a repeated or older id raises ValueError).
    """

    __slots__ = ("inst", "symbol", "levels", "_bids", "_asks", "_u", "_last", "_tb", "_ta")

    def __init__(self, inst: Instrument, levels: int = DEFAULT_DEPTH_LEVELS, base: BookUpdate | None = None) -> None:
        self.inst = inst
        self.symbol = inst.symbol
        self.levels = levels
        self._bids: dict[int, int] = {}  # newest fed state
        self._asks: dict[int, int] = {}
        self._u: int | None = None  # last emitted (or baseline) u
        self._last: int | None = None  # newest fed update id
        self._tb: set[int] = set()  # prices touched since the last emitted event
        self._ta: set[int] = set()
        if base is not None:
            self.reset(base)

    @property
    def last_u(self) -> int | None:
        """``u`` of the last emitted event (or of the baseline)."""
        return self._u

    def reset(self, book: BookUpdate) -> None:
        """Set the baseline (e.g. after a feed gap): no event; the next one has ``pu`` = this id."""
        self._check(book)
        self._bids = dict(book.bids[: self.levels])
        self._asks = dict(book.asks[: self.levels])
        self._u = self._last = book.update_id
        self._tb = set()
        self._ta = set()

    def _check(self, book: BookUpdate) -> None:
        if book.symbol != self.symbol:
            raise ValueError(f"DepthDiffer({self.symbol}) fed {book.symbol}")

    def feed(self, book: BookUpdate) -> None:
        """Take the newest snapshot and remember which levels it touched; nothing is emitted until ``flush``
        (the 100/250/500 ms interval)."""
        self._check(book)
        if self._last is None:
            self.reset(book)
            return
        if book.update_id <= self._last:
            raise ValueError(f"book update id {book.update_id} not after {self._last}")
        bids = dict(book.bids[: self.levels])
        asks = dict(book.asks[: self.levels])
        _touch(self._bids, bids, self._tb)
        _touch(self._asks, asks, self._ta)
        self._bids, self._asks, self._last = bids, asks, book.update_id

    def flush(self, ts: int) -> dict | None:
        """The coalesced depthUpdate since the last emitted event, or None when no update is pending."""
        if self._u is None or self._last == self._u:
            return None
        bids, asks = self._bids, self._asks
        db = sorted(((p, bids.get(p, 0)) for p in self._tb), reverse=True)
        da = sorted((p, asks.get(p, 0)) for p in self._ta)
        pu = self._u
        self._u = self._last
        self._tb = set()
        self._ta = set()
        return {"e": "depthUpdate", "E": ts, "T": ts, "s": self.symbol, "U": pu + 1, "u": self._u,
                "pu": pu, "b": _levels(db, self.inst), "a": _levels(da, self.inst)}

    def update(self, book: BookUpdate, ts: int) -> dict | None:
        """``feed`` + ``flush``: one event per book update (None for the baseline)."""
        self.feed(book)
        return self.flush(ts)


def _touch(old: dict[int, int], new: dict[int, int], touched: set[int]) -> None:
    for p, q in new.items():
        if old.get(p) != q:
            touched.add(p)
    for p in old:
        if p not in new:
            touched.add(p)


# ---------------------------------------------------------------------------------------------- kline, tickers


def kline(symbol: str, interval: str, row: Sequence, ts: int, closed: bool | None = None,
          first_trade_id: int = -1, last_trade_id: int = -1) -> dict:
    """``<s>@kline_<i>`` from a marketdata kline row ``[t, o, h, l, c, v, T, q, n, V, Q, "0"]``.

    ``x`` (closed) defaults to ``ts > T``. The row does not carry first/last trade ids (passed in, -1 = unknown).
    """
    t, o, h, lo, c, v, close_t, q, n, tbv, tbq = row[:11]
    return {"e": "kline", "E": ts, "s": symbol,
            "k": {"t": t, "T": close_t, "s": symbol, "i": interval, "f": first_trade_id, "L": last_trade_id,
                  "o": o, "c": c, "h": h, "l": lo, "v": v, "n": n,
                  "x": (ts > close_t) if closed is None else closed, "q": q, "V": tbv, "Q": tbq, "B": "0"}}


def ticker_24hr(row: dict, ts: int) -> dict:
    """``<s>@ticker`` from a marketdata ``ticker_24hr`` row (REST /fapi/v1/ticker/24hr shape)."""
    return {"e": "24hrTicker", "E": ts, "s": row["symbol"], "p": row["priceChange"], "P": row["priceChangePercent"],
            "w": row["weightedAvgPrice"], "c": row["lastPrice"], "Q": row["lastQty"], "o": row["openPrice"],
            "h": row["highPrice"], "l": row["lowPrice"], "v": row["volume"], "q": row["quoteVolume"],
            "O": row["openTime"], "C": row["closeTime"], "F": row["firstId"], "L": row["lastId"], "n": row["count"]}


def mini_ticker_24hr(row: dict, ts: int) -> dict:
    """``<s>@miniTicker`` from a marketdata ``ticker_24hr`` row."""
    return {"e": "24hrMiniTicker", "E": ts, "s": row["symbol"], "c": row["lastPrice"], "o": row["openPrice"],
            "h": row["highPrice"], "l": row["lowPrice"], "v": row["volume"], "q": row["quoteVolume"]}


# ---------------------------------------------------------------------------------------------- liquidations


def force_order(ev: Liquidated, order: Order, inst: Instrument) -> dict:
    """``<s>@forceOrder`` / ``!forceOrder@arr`` from a Liquidated event and its LIQUIDATION order.

    Binance shows liquidation orders as LIMIT IOC; ``l`` = last fill qty (the engine fills them at once, so the
    executed quantity), ``p`` = the order price, or the average price when the order had none.
    """
    pp, qp = inst.price_precision, inst.quantity_precision
    ap = avg_price(inst, order.cum_quote, order.executed_qty)
    if order.price:
        price_raw = order.price
    elif order.executed_qty:
        price_raw = div_round_half_up(order.cum_quote, order.executed_qty * inst.notional_factor)
    else:
        price_raw = ev.mark_price
    price = format_fixed(price_raw, pp)
    return {"e": "forceOrder", "E": ev.ts,
            "o": {"s": ev.symbol, "S": order.side.value, "o": "LIMIT", "f": "IOC",
                  "q": format_fixed(order.quantity, qp), "p": price, "ap": ap, "X": order.status.value,
                  "l": format_fixed(order.executed_qty, qp), "z": format_fixed(order.executed_qty, qp),
                  "T": ev.ts}}
