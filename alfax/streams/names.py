"""Binance USDT-M stream names (contract §4.2) parsed into ``StreamSpec`` values.

The parser is the single place that knows the name grammar; the hub keys its topics by ``StreamSpec.name``, the
canonical spelling (lower-case symbol, Binance's casing for the rest), which is also what combined payloads and
LIST_SUBSCRIPTIONS echo. An unknown name parses to None: Binance ignores it (ccxt.pro appends ``/0`` to the path).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Container

KLINE_INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M")
_INTERVALS = frozenset(KLINE_INTERVALS)
DEPTH_SPEEDS = {"": 250, "@100ms": 100, "@250ms": 250, "@500ms": 500}
PARTIAL_LEVELS = (5, 10, 20)
MARK_SPEEDS = {"": 3000, "@1s": 1000}

# kinds
AGG_TRADE = "aggTrade"
TRADE = "trade"
MARK = "markPrice"
MARK_ALL = "!markPrice@arr"
KLINE = "kline"
CONT_KLINE = "continuousKline"
TICKER = "ticker"
TICKER_ALL = "!ticker@arr"
MINI = "miniTicker"
MINI_ALL = "!miniTicker@arr"
BOOK_TICKER = "bookTicker"
BOOK_TICKER_ALL = "!bookTicker"
DIFF_DEPTH = "depth"
PARTIAL_DEPTH = "depthN"
FORCE = "forceOrder"
FORCE_ALL = "!forceOrder@arr"


@dataclass(frozen=True, slots=True)
class StreamSpec:
    name: str  # canonical stream name (the topic key)
    kind: str
    symbol: str = ""  # upper-case exchange symbol ("" for the !…@arr streams)
    interval: str = ""  # kline interval
    levels: int = 0  # partial depth levels
    speed_ms: int = 0  # depth and mark-price push interval


def parse_stream(raw: str, symbols: Container[str]) -> StreamSpec | None:
    """``raw`` → spec, or None when the name is not a stream alfax serves (unknown kind, unknown symbol)."""
    if not raw or len(raw) > 200:
        return None
    if raw[0] == "!":
        return _parse_all(raw)
    head, sep, tail = raw.partition("@")
    if not sep:
        return None
    if tail.startswith("continuousKline_"):
        pair, _, ctype = head.lower().partition("_")
        interval = tail[len("continuousKline_"):]
        sym = pair.upper()
        if ctype != "perpetual" or interval not in _INTERVALS or sym not in symbols:
            return None
        return StreamSpec(f"{pair}_perpetual@continuousKline_{interval}", CONT_KLINE, sym, interval=interval)
    sym = head.upper()
    if sym not in symbols:
        return None
    low = head.lower()
    if tail in (AGG_TRADE, TRADE, TICKER, MINI, BOOK_TICKER, FORCE):
        return StreamSpec(f"{low}@{tail}", tail, sym)
    if tail.startswith("kline_"):
        interval = tail[6:]
        return StreamSpec(f"{low}@{tail}", KLINE, sym, interval=interval) if interval in _INTERVALS else None
    if tail.startswith(MARK):
        speed = MARK_SPEEDS.get(tail[len(MARK):])
        return None if speed is None else StreamSpec(f"{low}@{tail}", MARK, sym, speed_ms=speed)
    if tail.startswith("depth"):
        rest = tail[5:]
        levels = 0
        for n in PARTIAL_LEVELS:
            if rest.startswith(str(n)):
                levels, rest = n, rest[len(str(n)):]
                break
        speed = DEPTH_SPEEDS.get(rest)
        if speed is None:
            return None
        return StreamSpec(f"{low}@{tail}", PARTIAL_DEPTH if levels else DIFF_DEPTH, sym, levels=levels,
                          speed_ms=speed)
    return None


def _parse_all(raw: str) -> StreamSpec | None:
    if raw in (TICKER_ALL, MINI_ALL, BOOK_TICKER_ALL, FORCE_ALL):
        return StreamSpec(raw, raw)
    if raw.startswith(MARK_ALL):
        speed = MARK_SPEEDS.get(raw[len(MARK_ALL):])
        return None if speed is None else StreamSpec(raw, MARK_ALL, speed_ms=speed)
    return None
