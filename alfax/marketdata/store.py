"""MarketData: read model of what the feed produced, answered in Binance's JSON shapes (strings for decimals).

Fed with ``on_command(ts_ms, cmd)`` for every BookUpdate / TradePrint / MarkPriceUpdate (live, and the feed's
``history()`` at start). Everything else is ignored. Not thread-safe: call it from the runtime's loop.

Storage (memory-bounded, decided here):
- per symbol and per price kind (trade, mark, index, premium): 1-minute candles for ``minute_retention_ms``
  (default 3 days) and 1-hour candles for ``hour_retention_ms`` (default 366 days), both updated as data arrives.
  Intervals below 1h (1m 3m 5m 15m 30m) are aggregated from the 1-minute series, 1h and above (1h 2h 4h 6h 8h 12h
  1d 3d 1w 1M) from the 1-hour series. Buckets are UTC-aligned: 3d on multiples of 3 days since the Unix epoch,
  1w on Mondays 00:00, 1M on calendar months.
- trades: a ring buffer of the last ``trade_buffer`` prints per symbol (default 10,000). Each reference print is one
  aggregate trade (a = f = l = the print's trade id; ids from the feed are kept when increasing, else assigned).
- funding history: one row per funding time the mark stream passed, at most ``funding_rows`` per symbol.
- mark/index klines take the MarkPriceUpdate prices; premium klines use (mark - index) / index (8 dp), since the
  MarkPriceUpdate command does not carry the premium index itself.
- ticker_24hr is a rolling 24 h over 1-minute candles (minute granularity), ending at the symbol's latest event.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import datetime, timezone

from alfax.domain.bars import Bar
from alfax.domain.commands import BookUpdate, Command, MarkPriceUpdate, TradePrint
from alfax.domain.instruments import Instrument
from alfax.domain.money import RATE_DECIMALS, RATE_SCALE, div_round_half_up, format_fixed, rescale

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
MONDAY_OFFSET_MS = 4 * DAY_MS  # 1970-01-01 was a Thursday; Mondays are at 4 days + k weeks

INTERVALS: dict[str, int] = {
    "1m": MINUTE_MS, "3m": 3 * MINUTE_MS, "5m": 5 * MINUTE_MS, "15m": 15 * MINUTE_MS, "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS, "2h": 2 * HOUR_MS, "4h": 4 * HOUR_MS, "6h": 6 * HOUR_MS, "8h": 8 * HOUR_MS, "12h": 12 * HOUR_MS,
    "1d": DAY_MS, "3d": 3 * DAY_MS, "1w": WEEK_MS, "1M": 31 * DAY_MS,  # 1M: nominal, buckets are calendar months
}
PRICE_KINDS = ("trade", "mark", "index", "premium")
MAX_KLINES = 1500
MAX_TRADES = 1000
MAX_FUNDING = 1000
INTEREST_RATE_STR = "0.00010000"

# candle row layout (lists, mutated in place)
_O, _H, _L, _C, _V, _Q, _N, _TB, _TQ, _F, _LID = range(11)


def bucket_open(ts: int, interval: str) -> int:
    """Open time of the ``interval`` kline containing ``ts`` (UTC)."""
    if interval == "1M":
        d = datetime.fromtimestamp(ts / 1000, tz=timezone.utc)
        return int(datetime(d.year, d.month, 1, tzinfo=timezone.utc).timestamp() * 1000)
    if interval == "1w":
        return (ts - MONDAY_OFFSET_MS) // WEEK_MS * WEEK_MS + MONDAY_OFFSET_MS
    iv = INTERVALS[interval]
    return ts - ts % iv


def bucket_close(open_ms: int, interval: str) -> int:
    """Close time (inclusive, ms) of the kline opened at ``open_ms``."""
    if interval == "1M":
        d = datetime.fromtimestamp(open_ms / 1000, tz=timezone.utc)
        y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
        return int(datetime(y, m, 1, tzinfo=timezone.utc).timestamp() * 1000) - 1
    return open_ms + INTERVALS[interval] - 1


class Series:
    """Candles at one base resolution (1m or 1h), sorted by open time, bounded by retention."""

    __slots__ = ("res", "retention", "keys", "rows")

    def __init__(self, res: int, retention: int) -> None:
        self.res = res
        self.retention = retention
        self.keys: list[int] = []
        self.rows: list[list[int]] = []

    def _row(self, ts: int) -> list[int]:
        key = ts - ts % self.res
        keys = self.keys
        if keys:
            last = keys[-1]
            if key == last:
                return self.rows[-1]
            if key < last:
                i = bisect_left(keys, key)
                if keys[i] == key:
                    return self.rows[i]
                if key < last - self.retention:
                    return [0] * 11  # too old to keep: updates go nowhere
                row = [0] * 11
                row[_N] = -1
                keys.insert(i, key)
                self.rows.insert(i, row)
                return row
        row = [0] * 11
        row[_N] = -1  # marks "empty": first update sets OHLC
        keys.append(key)
        self.rows.append(row)
        cut_before = key - self.retention
        if keys[0] < cut_before and len(keys) > 64:
            j = bisect_left(keys, cut_before)
            if j > len(keys) // 16:  # amortise: trim in batches
                del keys[:j]
                del self.rows[:j]
        return row

    def add(self, ts: int, price: int, qty: int = 0, quote: int = 0, taker_buy: bool = False, tid: int = 0) -> None:
        r = self._row(ts)
        if r[_N] < 0:
            r[_O] = r[_H] = r[_L] = r[_C] = price
            r[_N] = 0
            r[_F] = tid
        else:
            if price > r[_H]:
                r[_H] = price
            if price < r[_L]:
                r[_L] = price
            r[_C] = price
        r[_N] += 1
        r[_LID] = tid
        if qty:
            r[_V] += qty
            r[_Q] += quote
            if taker_buy:
                r[_TB] += qty
                r[_TQ] += quote

    def put_bar(self, bar: Bar, quote_factor: int) -> bool:
        """Fill an empty base candle from a backfilled bar (never overwrites what live data already built)."""
        r = self._row(bar.open_ms)
        if r[_N] >= 0 or bar.open_ms % self.res:
            return False
        r[_O], r[_H], r[_L], r[_C] = bar.open, bar.high, bar.low, bar.close
        r[_V], r[_Q], r[_N] = bar.volume, bar.quote_volume * quote_factor, max(bar.trades, 0)
        r[_TB], r[_TQ] = bar.taker_buy_volume, bar.taker_buy_quote * quote_factor
        return True

    def groups(self, interval: str, start: int | None, end: int | None, limit: int) -> list[tuple[int, list[int]]]:
        """Aggregate base candles into ``interval`` buckets with Binance's startTime/endTime/limit semantics."""
        keys, rows = self.keys, self.rows
        out: list[tuple[int, list[int]]] = []
        if not keys or limit <= 0:
            return out
        fixed = interval not in ("1M", "1w")
        iv = INTERVALS[interval]
        if start is not None:
            j = bisect_left(keys, start)
            cur_b = None
            cur: list[int] | None = None
            for j in range(j, len(keys)):
                r = rows[j]
                if r[_N] <= 0:
                    continue
                k = keys[j]
                b = k - k % iv if fixed else bucket_open(k, interval)
                if b < start:
                    continue
                if end is not None and b > end:
                    break
                if b == cur_b:
                    _merge_later(cur, r)
                else:
                    if len(out) == limit:
                        break
                    cur_b, cur = b, list(r)
                    out.append((b, cur))
            return out
        hi = len(keys) if end is None else bisect_right(keys, end)
        if end is not None:
            b_end = bucket_open(end, interval)
            while hi < len(keys) and (bucket_open(keys[hi], interval) == b_end):
                hi += 1
        cur_b = None
        cur = None
        for j in range(hi - 1, -1, -1):
            r = rows[j]
            if r[_N] <= 0:
                continue
            k = keys[j]
            b = k - k % iv if fixed else bucket_open(k, interval)
            if b == cur_b:
                _merge_earlier(cur, r)
            else:
                if len(out) == limit:
                    break
                cur_b, cur = b, list(r)
                out.append((b, cur))
        out.reverse()
        return out

    def window(self, start: int) -> list[list[int]]:
        """Base rows with open time >= start."""
        return self.rows[bisect_left(self.keys, start):]


def _merge_later(acc: list[int], r: list[int]) -> None:
    if r[_H] > acc[_H]:
        acc[_H] = r[_H]
    if r[_L] < acc[_L]:
        acc[_L] = r[_L]
    acc[_C] = r[_C]
    acc[_V] += r[_V]
    acc[_Q] += r[_Q]
    acc[_N] += r[_N]
    acc[_TB] += r[_TB]
    acc[_TQ] += r[_TQ]
    acc[_LID] = r[_LID]


def _merge_earlier(acc: list[int], r: list[int]) -> None:
    if r[_H] > acc[_H]:
        acc[_H] = r[_H]
    if r[_L] < acc[_L]:
        acc[_L] = r[_L]
    acc[_O] = r[_O]
    acc[_V] += r[_V]
    acc[_Q] += r[_Q]
    acc[_N] += r[_N]
    acc[_TB] += r[_TB]
    acc[_TQ] += r[_TQ]
    acc[_F] = r[_F]


class TradeBuffer:
    """Last ``cap`` prints as parallel lists (ids and times increasing, so bisect works); trimmed in batches."""

    __slots__ = ("cap", "ids", "ts", "px", "qty", "maker")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.ids: list[int] = []
        self.ts: list[int] = []
        self.px: list[int] = []
        self.qty: list[int] = []
        self.maker: list[bool] = []

    def append(self, tid: int, ts: int, px: int, qty: int, maker: bool) -> None:
        self.ids.append(tid)
        self.ts.append(ts)
        self.px.append(px)
        self.qty.append(qty)
        self.maker.append(maker)
        if len(self.ids) >= 2 * self.cap:
            n = len(self.ids) - self.cap
            for lst in (self.ids, self.ts, self.px, self.qty, self.maker):
                del lst[:n]

    def __len__(self) -> int:
        return min(len(self.ids), self.cap)

    @property
    def first(self) -> int:
        """Index of the oldest retained print."""
        return max(0, len(self.ids) - self.cap)


class _Sym:
    __slots__ = ("inst", "series", "trades", "last_tid", "last_px", "last_qty", "last_trade_ts", "book",
                 "book_ts", "mark", "mark_ts", "funding", "last_ts")

    def __init__(self, inst: Instrument, minute_ret: int, hour_ret: int, trade_cap: int) -> None:
        self.inst = inst
        self.series = {k: (Series(MINUTE_MS, minute_ret), Series(HOUR_MS, hour_ret)) for k in PRICE_KINDS}
        self.trades = TradeBuffer(trade_cap)
        self.last_tid = 0
        self.last_px = 0
        self.last_qty = 0
        self.last_trade_ts = 0
        self.book: BookUpdate | None = None
        self.book_ts = 0
        self.mark: MarkPriceUpdate | None = None
        self.mark_ts = 0
        self.funding: list[tuple[int, int, int]] = []  # (fundingTime, rate raw, mark raw)
        self.last_ts = 0


class MarketData:
    """Implements ``MarketDataReader`` (docs/DESIGN.md) over the feed's commands."""

    def __init__(self, instruments: dict[str, Instrument], *, minute_retention_ms: int = 3 * DAY_MS,
                 hour_retention_ms: int = 366 * DAY_MS, trade_buffer: int = 10_000, funding_rows: int = 3 * 366) -> None:
        self.instruments = instruments
        self.funding_rows = funding_rows
        self._s = {sym: _Sym(inst, minute_retention_ms, hour_retention_ms, trade_buffer)
                   for sym, inst in instruments.items()}

    # ------------------------------------------------------------------ ingest

    def on_command(self, ts_ms: int, cmd: Command) -> None:
        kind = cmd.kind
        if kind not in ("trade", "book", "mark"):
            return
        s = self._s.get(cmd.symbol)  # type: ignore[attr-defined]
        if s is None:
            return
        if ts_ms > s.last_ts:
            s.last_ts = ts_ms
        if kind == "trade":
            self._on_trade(s, ts_ms, cmd)  # type: ignore[arg-type]
        elif kind == "book":
            s.book = cmd  # type: ignore[assignment]
            s.book_ts = ts_ms
        else:
            self._on_mark(s, ts_ms, cmd)  # type: ignore[arg-type]

    def _on_trade(self, s: _Sym, ts: int, t: TradePrint) -> None:
        tid = t.trade_id if t.trade_id > s.last_tid else s.last_tid + 1
        s.last_tid = tid
        quote = t.price * t.qty * s.inst.notional_factor
        taker_buy = not t.buyer_is_maker
        m1, h1 = s.series["trade"]
        m1.add(ts, t.price, t.qty, quote, taker_buy, tid)
        h1.add(ts, t.price, t.qty, quote, taker_buy, tid)
        s.trades.append(tid, ts, t.price, t.qty, t.buyer_is_maker)
        s.last_px, s.last_qty, s.last_trade_ts = t.price, t.qty, ts

    def _on_mark(self, s: _Sym, ts: int, m: MarkPriceUpdate) -> None:
        prev = s.mark
        if prev is not None and prev.next_funding_time <= ts and (
                not s.funding or s.funding[-1][0] < prev.next_funding_time):
            s.funding.append((prev.next_funding_time, prev.funding_rate, prev.mark_price))
            if len(s.funding) > 2 * self.funding_rows:
                del s.funding[: len(s.funding) - self.funding_rows]
        s.mark, s.mark_ts = m, ts
        for kind, v in (("mark", m.mark_price), ("index", m.index_price)):
            a, b = s.series[kind]
            a.add(ts, v)
            b.add(ts, v)
        if m.index_price > 0:
            prem = div_round_half_up((m.mark_price - m.index_price) * RATE_SCALE, m.index_price)
            a, b = s.series["premium"]
            a.add(ts, prem)
            b.add(ts, prem)

    def load_bars(self, symbol: str, kind: str, resolution_ms: int, bars: list[Bar]) -> int:
        """Backfill base candles (``resolution_ms`` = 1 minute or 1 hour) of price ``kind`` from an outside source,
        e.g. the live feed's REST klines at start, so ``klines?limit=1500`` answers before live data accumulates.
        Only empty candles are filled; feed ages (staleness) are not touched. Returns the number filled."""
        if kind not in PRICE_KINDS:
            raise ValueError(f"invalid price kind {kind!r}")
        s = self._sym(symbol)
        series = s.series[kind][0 if resolution_ms == MINUTE_MS else 1]
        if series.res != resolution_ms:
            raise ValueError(f"bars must be 1m or 1h, got {resolution_ms} ms")
        f = s.inst.notional_factor
        return sum(series.put_bar(b, f) for b in sorted(bars, key=lambda b: b.open_ms))

    # ------------------------------------------------------------------ helpers

    def _sym(self, symbol: str) -> _Sym:
        s = self._s.get(symbol)
        if s is None:
            raise KeyError(symbol)
        return s

    def symbols(self) -> list[str]:
        return list(self._s)

    # ------------------------------------------------------------------ reads

    def klines(self, symbol: str, interval: str, start_ms: int | None = None, end_ms: int | None = None,
               limit: int = 500, price: str = "trade") -> list[list]:
        if interval not in INTERVALS:
            raise ValueError(f"invalid interval {interval!r}")
        if price not in PRICE_KINDS:
            raise ValueError(f"invalid price kind {price!r}")
        s = self._sym(symbol)
        limit = max(1, min(int(limit), MAX_KLINES))
        base = s.series[price][0 if INTERVALS[interval] < HOUR_MS else 1]
        groups = base.groups(interval, start_ms, end_ms, limit)
        inst = s.inst
        pp, qp = inst.price_precision, inst.quantity_precision
        f = inst.notional_factor
        out: list[list] = []
        if price == "trade":
            for b, r in groups:
                out.append([b, format_fixed(r[_O], pp), format_fixed(r[_H], pp), format_fixed(r[_L], pp),
                            format_fixed(r[_C], pp), format_fixed(r[_V], qp), bucket_close(b, interval),
                            format_fixed(r[_Q] // f, pp + qp), r[_N], format_fixed(r[_TB], qp),
                            format_fixed(r[_TQ] // f, pp + qp), "0"])
        else:
            d = RATE_DECIMALS if price == "premium" else pp
            for b, r in groups:
                out.append([b, format_fixed(r[_O], d), format_fixed(r[_H], d), format_fixed(r[_L], d),
                            format_fixed(r[_C], d), "0", bucket_close(b, interval), "0", r[_N], "0", "0", "0"])
        return out

    def ticker_24hr(self, symbol: str) -> dict:
        s = self._sym(symbol)
        inst = s.inst
        pp, qp, f = inst.price_precision, inst.quantity_precision, inst.notional_factor
        close_t = s.last_ts
        open_t = close_t - DAY_MS
        rows = s.series["trade"][0].window(open_t - open_t % MINUTE_MS + MINUTE_MS) if close_t else []
        rows = [r for r in rows if r[_N] > 0]
        if not rows:
            z = format_fixed(0, pp)
            return {"symbol": symbol, "priceChange": z, "priceChangePercent": "0.000", "weightedAvgPrice": z,
                    "lastPrice": format_fixed(s.last_px, pp), "lastQty": format_fixed(s.last_qty, qp),
                    "openPrice": z, "highPrice": z, "lowPrice": z, "volume": format_fixed(0, qp),
                    "quoteVolume": format_fixed(0, pp + qp), "openTime": open_t if close_t else 0,
                    "closeTime": close_t, "firstId": -1, "lastId": -1, "count": 0}
        o = rows[0][_O]
        hi = max(r[_H] for r in rows)
        lo = min(r[_L] for r in rows)
        vol = sum(r[_V] for r in rows)
        quote = sum(r[_Q] for r in rows)
        count = sum(r[_N] for r in rows)
        last = s.last_px
        change = last - o
        pct = div_round_half_up(change * 100 * 1000, o) if o else 0
        wavg = div_round_half_up(quote, vol * f) if vol else 0
        return {"symbol": symbol, "priceChange": format_fixed(change, pp), "priceChangePercent": format_fixed(pct, 3),
                "weightedAvgPrice": format_fixed(wavg, pp), "lastPrice": format_fixed(last, pp),
                "lastQty": format_fixed(s.last_qty, qp), "openPrice": format_fixed(o, pp),
                "highPrice": format_fixed(hi, pp), "lowPrice": format_fixed(lo, pp), "volume": format_fixed(vol, qp),
                "quoteVolume": format_fixed(quote // f, pp + qp), "openTime": open_t, "closeTime": close_t,
                "firstId": rows[0][_F], "lastId": rows[-1][_LID], "count": count}

    def book_ticker(self, symbol: str) -> dict:
        s = self._sym(symbol)
        pp, qp = s.inst.price_precision, s.inst.quantity_precision
        b = s.book
        bid = b.bids[0] if b is not None and b.bids else (0, 0)
        ask = b.asks[0] if b is not None and b.asks else (0, 0)
        return {"lastUpdateId": b.update_id if b is not None else 0, "symbol": symbol,
                "bidPrice": format_fixed(bid[0], pp), "bidQty": format_fixed(bid[1], qp),
                "askPrice": format_fixed(ask[0], pp), "askQty": format_fixed(ask[1], qp), "time": s.book_ts}

    def price_ticker(self, symbol: str) -> dict:
        s = self._sym(symbol)
        return {"symbol": symbol, "price": format_fixed(s.last_px, s.inst.price_precision), "time": s.last_trade_ts}

    def _trade_rows(self, s: _Sym, lo: int, hi: int) -> tuple:
        tb = s.trades
        return tb.ids[lo:hi], tb.ts[lo:hi], tb.px[lo:hi], tb.qty[lo:hi], tb.maker[lo:hi]

    def agg_trades(self, symbol: str, from_id: int | None = None, start_ms: int | None = None,
                   end_ms: int | None = None, limit: int = 500) -> list[dict]:
        s = self._sym(symbol)
        tb = s.trades
        limit = max(1, min(int(limit), MAX_TRADES))
        first, n = tb.first, len(tb.ids)
        if from_id is not None:
            lo = max(first, bisect_left(tb.ids, from_id))
            hi = min(n, lo + limit)
            if end_ms is not None:
                hi = min(hi, bisect_right(tb.ts, end_ms))
        elif start_ms is not None:
            lo = max(first, bisect_left(tb.ts, start_ms))
            hi = n if end_ms is None else bisect_right(tb.ts, end_ms)
            hi = min(hi, lo + limit)
        else:
            hi = n if end_ms is None else bisect_right(tb.ts, end_ms)
            lo = max(first, hi - limit)
        pp, qp = s.inst.price_precision, s.inst.quantity_precision
        return [{"a": i, "p": format_fixed(p, pp), "q": format_fixed(q, qp), "f": i, "l": i, "T": t, "m": m}
                for i, t, p, q, m in zip(*self._trade_rows(s, lo, max(lo, hi)))]

    def trades(self, symbol: str, limit: int = 500) -> list[dict]:
        s = self._sym(symbol)
        tb = s.trades
        limit = max(1, min(int(limit), MAX_TRADES))
        n = len(tb.ids)
        lo = max(tb.first, n - limit)
        inst = s.inst
        pp, qp = inst.price_precision, inst.quantity_precision
        return [{"id": i, "price": format_fixed(p, pp), "qty": format_fixed(q, qp),
                 "quoteQty": format_fixed(p * q, pp + qp), "time": t, "isBuyerMaker": m}
                for i, t, p, q, m in zip(*self._trade_rows(s, lo, n))]

    def depth(self, symbol: str, limit: int = 500) -> dict:
        s = self._sym(symbol)
        pp, qp = s.inst.price_precision, s.inst.quantity_precision
        b = s.book
        limit = max(1, int(limit))
        if b is None:
            return {"lastUpdateId": 0, "E": s.last_ts, "T": 0, "bids": [], "asks": []}
        return {"lastUpdateId": b.update_id, "E": max(s.last_ts, s.book_ts), "T": s.book_ts,
                "bids": [[format_fixed(p, pp), format_fixed(q, qp)] for p, q in b.bids[:limit]],
                "asks": [[format_fixed(p, pp), format_fixed(q, qp)] for p, q in b.asks[:limit]]}

    def premium_index(self, symbol: str) -> dict:
        s = self._sym(symbol)
        pp = s.inst.price_precision
        m = s.mark
        if m is None:
            z = format_fixed(0, 8)
            return {"symbol": symbol, "markPrice": z, "indexPrice": z, "estimatedSettlePrice": z,
                    "lastFundingRate": z, "interestRate": INTEREST_RATE_STR, "nextFundingTime": 0, "time": 0}
        return {"symbol": symbol, "markPrice": format_fixed(rescale(m.mark_price, pp, 8), 8),
                "indexPrice": format_fixed(rescale(m.index_price, pp, 8), 8),
                "estimatedSettlePrice": format_fixed(rescale(m.index_price, pp, 8), 8),
                "lastFundingRate": format_fixed(m.funding_rate, RATE_DECIMALS), "interestRate": INTEREST_RATE_STR,
                "nextFundingTime": m.next_funding_time, "time": s.mark_ts}

    def premium_index_all(self) -> list[dict]:
        return [self.premium_index(sym) for sym in self._s]

    def funding_rates(self, symbol: str | None = None, start_ms: int | None = None, end_ms: int | None = None,
                      limit: int = 100) -> list[dict]:
        limit = max(1, min(int(limit), MAX_FUNDING))
        syms = [symbol] if symbol else list(self._s)
        rows: list[tuple[int, str, int, int]] = []
        for sym in syms:
            s = self._sym(sym)
            pp = s.inst.price_precision
            for t, rate, mark in s.funding[-self.funding_rows:]:
                if (start_ms is None or t >= start_ms) and (end_ms is None or t <= end_ms):
                    rows.append((t, sym, rate, rescale(mark, pp, 8)))
        rows.sort()
        rows = rows[:limit] if start_ms is not None else rows[-limit:]
        return [{"symbol": sym, "fundingRate": format_fixed(rate, RATE_DECIMALS), "fundingTime": t,
                 "markPrice": format_fixed(mark, 8)} for t, sym, rate, mark in rows]

    def feed_age_ms(self, now_ms: int) -> dict[str, int]:
        """Milliseconds since the last command of each symbol (never seen: ``now_ms``, i.e. always stale)."""
        return {sym: now_ms - s.last_ts for sym, s in self._s.items()}

    def stale_symbols(self, now_ms: int, max_age_ms: int = 5_000) -> list[str]:
        return [sym for sym, age in self.feed_age_ms(now_ms).items() if age > max_age_ms]

    def last_event_ms(self, symbol: str) -> int:
        return self._sym(symbol).last_ts
