"""A finished or running candle from an outside source (e.g. Binance REST klines backfilled at start).

Raw ints like everything else: prices at the instrument's price precision (premium at RATE_DECIMALS), volumes at
its quantity precision, quote volumes at price + quantity precision. ``trades`` is Binance's trade count.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bar:
    open_ms: int
    open: int
    high: int
    low: int
    close: int
    volume: int = 0
    quote_volume: int = 0
    trades: int = 0
    taker_buy_volume: int = 0
    taker_buy_quote: int = 0
