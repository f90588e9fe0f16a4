"""FilesFeed: the user's own market data in Binance public-data formats (data.binance.vision), replayed live.

Recognised file names (anywhere under ``path``, or ``path`` itself): ``<SYMBOL>-<kind>-<anything>.csv`` or ``.zip``
(a zip holding one csv), kind one of ``aggTrades``, ``trades``, ``bookTicker`` or a kline interval (``1m``, ``5m``,
``1h``...). Files with and without a header row are accepted (Binance added headers over time); microsecond
timestamps (spot files since 2025) are converted to ms. Symbols that are not configured instruments are ignored.

Per symbol:
- trades from aggTrades (or trades) rows, emitted on the 250 ms grid at their (time-shifted) time;
- the book from bookTicker rows (best bid/ask as given, plus 9 synthetic levels behind each side, depth growing);
  without bookTicker the touch is synthesised around the last trade (one tick wide, aggressor side at the print);
- klines only: bridged through the bars exactly like the replay feed (``synth.PathSource``);
- marks once per second with ``alfax.domain.pricing`` (index = mid plus small seeded noise, as the replay).
Tick data of all symbols shares one data window [earliest, latest] so symbols stay in step. Data time runs
``speed`` times wall time from the start's time of day, and wraps to the window start when it ends (a plain loop:
prices jump at the wrap if the files end elsewhere than they start).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import zipfile
from array import array
from bisect import bisect_right
from collections.abc import Mapping

from alfax.domain.commands import BookUpdate, Command, TradePrint
from alfax.domain.instruments import Instrument
from alfax.domain.pricing import DEFAULT_FUNDING_CAP, impact_notional, impact_price

from .bars import Bar, close_gaps
from .base import DAY_MS, MARK_MS, STEP_MS, clamp_price, qty_to_step
from .replay import GridFeed
from .synth import CHUNK_STEPS, MarkEngine, PathSource, ValueNoise

KLINE_INTERVALS = {"1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
                   "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000,
                   "12h": 43_200_000, "1d": DAY_MS, "3d": 3 * DAY_MS, "1w": 7 * DAY_MS}
_NAME = re.compile(r"^(?P<sym>[A-Z0-9]+)-(?P<kind>aggTrades|trades|bookTicker|" +
                   "|".join(re.escape(k) for k in KLINE_INTERVALS) + r")-.*\.(csv|zip)$")
SYNTH_LEVELS = 9


def _ms(v: str) -> int:
    t = int(v)
    return t // 1000 if t > 100_000_000_000_000 else t


def _bool(v: str) -> bool:
    return v.strip().lower() in ("true", "1", "t", "yes")


def read_rows(path: str) -> list[list[str]]:
    """Rows of a csv or a zip with one csv, without the header row if there is one."""
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith(".csv")] or z.namelist()
            text = z.read(names[0]).decode("utf-8")
    else:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    rows = [r for r in csv.reader(io.StringIO(text)) if r]
    if rows and not rows[0][0].strip().lstrip("-").isdigit():
        rows = rows[1:]
    return rows


def discover(path: str) -> dict[str, dict[str, list[str]]]:
    """{symbol: {kind: [files]}} for recognised file names under ``path``."""
    files = [path] if os.path.isfile(path) else [os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs]
    out: dict[str, dict[str, list[str]]] = {}
    for fp in sorted(files):
        m = _NAME.match(os.path.basename(fp))
        if m:
            out.setdefault(m["sym"], {}).setdefault(m["kind"], []).append(fp)
    return out


class TickData:
    """Parsed trades and quotes of one symbol, as parallel arrays sorted by time (raw ints)."""

    def __init__(self, inst: Instrument) -> None:
        self.inst = inst
        self.t_ts, self.t_px, self.t_qty, self.t_id = array("q"), array("q"), array("q"), array("q")
        self.t_maker = bytearray()
        self.q_ts, self.q_bid, self.q_bq, self.q_ask, self.q_aq = (array("q") for _ in range(5))

    def _px(self, v: str) -> int:
        inst = self.inst
        return clamp_price(int(round(float(v) * 10**inst.price_precision / inst.tick_size)) * inst.tick_size, inst)

    def _qty(self, v: str) -> int:
        return qty_to_step(float(v), self.inst)

    def load_trades(self, rows: list[list[str]], agg: bool) -> None:
        recs = []
        for r in rows:
            if agg:  # a, p, q, first, last, T, m[, best_match]
                recs.append((_ms(r[5]), int(r[0]), self._px(r[1]), self._qty(r[2]), _bool(r[6])))
            else:  # id, price, qty, quote_qty, time, is_buyer_maker
                recs.append((_ms(r[4]), int(r[0]), self._px(r[1]), self._qty(r[2]), _bool(r[5])))
        recs.sort()
        for ts, i, p, q, m in recs:
            self.t_ts.append(ts)
            self.t_id.append(i)
            self.t_px.append(p)
            self.t_qty.append(q)
            self.t_maker.append(1 if m else 0)

    def load_quotes(self, rows: list[list[str]]) -> None:
        recs = []
        for r in rows:  # update_id, bid, bid_qty, ask, ask_qty, transaction_time, event_time
            ts = _ms(r[5]) if len(r) > 5 and r[5] else _ms(r[6])
            bid, ask = self._px(r[1]), self._px(r[3])
            if ask <= bid:
                ask = bid + self.inst.tick_size
            recs.append((ts, bid, self._qty(r[2]), ask, self._qty(r[4])))
        recs.sort()
        for ts, b, bq, a, aq in recs:
            self.q_ts.append(ts)
            self.q_bid.append(b)
            self.q_bq.append(bq)
            self.q_ask.append(a)
            self.q_aq.append(aq)


class TickSource:
    """Emits one symbol's file trades/quotes on the grid, looping over the shared data window."""

    def __init__(self, data: TickData, w0: int, w1: int, *, start_ms: int, speed: float, seed: int,
                 funding_cap: int = DEFAULT_FUNDING_CAP) -> None:
        self.d = data
        self.inst = data.inst
        self.sym = data.inst.symbol
        self.w0, self.span = w0, max(1, w1 - w0)
        self.start, self.speed = start_ms, speed
        self.phase = (start_ms % DAY_MS) % self.span
        self.t_rel = [t - w0 for t in data.t_ts]
        self.q_rel = [t - w0 for t in data.q_ts]
        self.id_span = (max(data.t_id) - min(data.t_id) + 1) if data.t_id else 0
        self.mark = MarkEngine(self.inst, funding_cap)
        key = f"{seed}:{self.sym}"
        self.noise_fast = ValueNoise(key + ":fast", 60_000)
        self.noise_slow = ValueNoise(key + ":slow", 30 * 60_000)
        self.imn = impact_notional(self.inst.max_leverage)
        sizes = sorted(data.t_qty) or sorted(data.q_bq) or [self.inst.min_qty]
        self.unit_qty = max(self.inst.min_qty, sizes[len(sizes) // 2])
        qs = 10**-self.inst.quantity_precision
        self.syn_q = [qty_to_step(self.unit_qty * qs * 2 * (1 + 0.5 * j), self.inst) for j in range(1, SYNTH_LEVELS + 1)]
        self.last: int | None = None
        self.last_maker = False
        self.bid = self.ask = 0
        self.bq = self.aq = 0

    def _u(self, t: int) -> float:
        return (t - self.start) * self.speed + self.phase

    def _pieces(self, u0: float, u1: float):
        """Split data interval (u0, u1] into (cycle, a, b] pieces inside one loop of the window."""
        k0, k1 = math.floor(u0 / self.span), math.floor(u1 / self.span)
        for k in range(k0, k1 + 1):
            a = max(u0, k * self.span) - k * self.span
            b = min(u1, (k + 1) * self.span) - k * self.span
            if b > a or (k == k0 == k1):
                yield k, a, b

    def _book(self, g: int) -> BookUpdate:
        tick = self.inst.tick_size
        bids = [(self.bid, self.bq)]
        asks = [(self.ask, self.aq)]
        for j, q in enumerate(self.syn_q, start=1):
            if self.bid - j * tick >= self.inst.min_price:
                bids.append((self.bid - j * tick, q))
            asks.append((self.ask + j * tick, q))
        return BookUpdate(self.sym, tuple(bids), tuple(asks), update_id=g)

    def produce(self, t: int, out: list[Command], mode: int = 2, force_book: bool = False) -> None:
        g = t // STEP_MS
        d = self.d
        u1 = self._u(t)
        u0 = self._u(t - STEP_MS)
        changed = False
        for k, a, b in self._pieces(u0, u1):
            if self.t_rel:
                i0, i1 = bisect_right(self.t_rel, a), bisect_right(self.t_rel, b)
                for i in range(i0, i1):
                    p, m = d.t_px[i], bool(d.t_maker[i])
                    if mode:
                        out.append(TradePrint(self.sym, p, d.t_qty[i], m, d.t_id[i] + k * self.id_span))
                    self.last, self.last_maker = p, m
                    changed = True
            if self.q_rel:
                j = bisect_right(self.q_rel, b) - 1
                if j < 0:
                    j = len(self.q_rel) - 1  # before the first quote of this loop: the previous loop's last
                if (d.q_bid[j], d.q_ask[j]) != (self.bid, self.ask) or self.bq != d.q_bq[j]:
                    self.bid, self.bq, self.ask, self.aq = d.q_bid[j], d.q_bq[j], d.q_ask[j], d.q_aq[j]
                    changed = True
        if not self.q_rel:
            if self.last is None:
                if not d.t_px:
                    return
                self.last = d.t_px[0]
            tick = self.inst.tick_size
            p = self.last
            self.bid, self.ask = (p, p + tick) if self.last_maker else (p - tick, p)
            self.bq = self.aq = self.unit_qty * 4
        if self.bid <= 0:
            return
        if (mode == 2 and (changed or t % MARK_MS == 0)) or (mode == 1 and (force_book or g % CHUNK_STEPS == 0)):
            out.append(self._book(g))
        if t % MARK_MS == 0:
            book = self._book(g)
            fac = self.inst.notional_factor
            ib = impact_price(book.bids, self.imn, fac) or book.bids[-1][0]
            ia = impact_price(book.asks, self.imn, fac) or book.asks[-1][0]
            nz = (1.5 * self.noise_fast(t) + 5.0 * self.noise_slow(t)) * 1e-4
            index = clamp_price(int(round((self.bid + self.ask) * (1.0 + nz) / 2)), self.inst)
            m = self.mark.update(t, self.bid, self.ask, index, ib, ia, self.last)
            if mode:
                out.append(m)


class FilesFeed(GridFeed):
    """Replays Binance public-data files found under ``path`` (see module doc)."""

    def __init__(self, instruments: Mapping[str, Instrument], path: str, speed: float = 1.0, seed: int = 7,
                 start_ms: int | None = None, funding_cap: int = DEFAULT_FUNDING_CAP) -> None:
        super().__init__(start_ms)
        self.instruments = instruments
        self.path = path
        self.speed = float(speed)
        if self.speed <= 0:
            raise ValueError("speed must be positive")
        self.seed = seed
        self.funding_cap = funding_cap
        found = discover(path)
        self.ticks: dict[str, TickData] = {}
        self.bars: dict[str, list[Bar]] = {}
        for sym, kinds in found.items():
            inst = instruments.get(sym)
            if inst is None:
                continue
            td = TickData(inst)
            for fp in kinds.get("aggTrades", []):
                td.load_trades(read_rows(fp), agg=True)
            if not kinds.get("aggTrades"):
                for fp in kinds.get("trades", []):
                    td.load_trades(read_rows(fp), agg=False)
            for fp in kinds.get("bookTicker", []):
                td.load_quotes(read_rows(fp))
            if td.t_ts or td.q_ts:
                self.ticks[sym] = td
                continue
            ivs = [k for k in kinds if k in KLINE_INTERVALS]
            if ivs:
                iv = min(ivs, key=KLINE_INTERVALS.get)
                rows = []
                for fp in kinds[iv]:
                    for r in read_rows(fp):
                        rows.append((_ms(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5])))
                if rows:
                    last = max(r[0] for r in rows)
                    self.bars[sym] = close_gaps(rows, KLINE_INTERVALS[iv], last + KLINE_INTERVALS[iv])
        self.symbols = [s for s in instruments if s in self.ticks or s in self.bars]
        if not self.symbols:
            raise ValueError(f"no usable Binance data files for configured symbols under {path!r}")
        all_ts = [a for td in self.ticks.values() for a in (td.t_ts, td.q_ts) if a]
        self.w0 = min(a[0] for a in all_ts) if all_ts else 0
        self.w1 = max(a[-1] for a in all_ts) + 1 if all_ts else 1

    def _make_sources(self) -> list:
        out = []
        for s in self.symbols:
            if s in self.ticks:
                out.append(TickSource(self.ticks[s], self.w0, self.w1, start_ms=self.start_ms, speed=self.speed,
                                      seed=self.seed, funding_cap=self.funding_cap))
            else:
                out.append(PathSource(self.instruments[s], self.bars[s], seed=self.seed, start_ms=self.start_ms,
                                      speed=self.speed, mirror=False, funding_cap=self.funding_cap))
        return out
