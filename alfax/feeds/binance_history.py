"""Kline backfill for the live feed: Binance REST klines at start, so ``/fapi/v1/klines?limit=1500`` (and the mark,
index and premium variants) answer with real history before live data accumulates.

1,500 one-minute bars (25 h) feed the intervals below 1 h; 1,500 one-hour bars (62 days) the intervals from 1 h up.
Synchronous (httpx) and bounded: it runs once before the server accepts connections; any failure is logged and
leaves the history empty (the read model then fills from live data, as before).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import httpx

from alfax.domain.bars import Bar
from alfax.domain.instruments import Instrument

from .binance_wire import WireError, kline_bar

log = logging.getLogger("alfax.feeds.binance")

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
LIMIT = 1500
# kind -> (path, symbol parameter): Binance names the index klines' symbol "pair"
ENDPOINTS = {
    "trade": ("/fapi/v1/klines", "symbol"),
    "mark": ("/fapi/v1/markPriceKlines", "symbol"),
    "index": ("/fapi/v1/indexPriceKlines", "pair"),
    "premium": ("/fapi/v1/premiumIndexKlines", "symbol"),
}

Backfill = list[tuple[str, str, int, list[Bar]]]  # (symbol, kind, resolution ms, bars)


def fetch_bars(rest_url: str, instruments: Mapping[str, Instrument], symbols: Sequence[str], end_ms: int,
               timeout_s: float = 10.0) -> Backfill:
    out: Backfill = []
    with httpx.Client(base_url=rest_url, timeout=timeout_s, trust_env=False) as http:
        for sym in symbols:
            inst = instruments[sym]
            for kind, (path, param) in ENDPOINTS.items():
                for interval, res in (("1m", MINUTE_MS), ("1h", HOUR_MS)):
                    params = {param: sym, "interval": interval, "limit": LIMIT, "endTime": end_ms}
                    try:
                        r = http.get(path, params=params)
                        r.raise_for_status()
                        rows = r.json()
                        bars = [kline_bar(row, inst, kind) for row in rows] if isinstance(rows, list) else []
                    except (httpx.HTTPError, WireError, ValueError) as e:
                        log.warning("binance %s %s %s klines backfill failed: %s", sym, kind, interval, e)
                        continue
                    out.append((sym, kind, res, bars))
    return out
