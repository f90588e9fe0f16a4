"""OHLCV bars and loaders for the bundled real data (alfax/data, see alfax/data/NOTICE).

- ``Coinbase_BTCUSD_1h.csv``: Coinbase BTC/USD hourly bars, newest first, first line a banner, date "2019-10-17 09-AM" UTC.
- ``bitfinex_BTC_ETH_USD_1d.csv``: Bitfinex BTC and ETH daily bars side by side (ETH empty before its listing).

The replay uses the common window [2017-07-02, 2019-10-17) UTC: BTC from the hourly file, ETH from the daily file.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources

HOUR_MS = 3_600_000
DAY_MS = 86_400_000

# Common replay window (UTC ms): both series are restricted to it so BTC and ETH stay in step.
WINDOW_START_MS = 1_498_953_600_000  # 2017-07-02 00:00 UTC
WINDOW_END_MS = 1_571_270_400_000  # 2019-10-17 00:00 UTC


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar; times are data-time ms (start inclusive, end exclusive); volume in base asset."""

    start_ms: int
    end_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float


def _utc_ms(dt: datetime) -> int:
    return int(dt.replace(tzinfo=timezone.utc).timestamp() * 1000)


def close_gaps(rows: list[tuple[int, float, float, float, float, float]], nominal_ms: int, end_ms: int) -> list[Bar]:
    """Sorted, de-duplicated bars; each bar lasts until the next one starts (a gap stretches the previous bar)."""
    rows = sorted({r[0]: r for r in rows}.values())
    out: list[Bar] = []
    for j, (t, o, h, lo, c, v) in enumerate(rows):
        nxt = rows[j + 1][0] if j + 1 < len(rows) else min(end_ms, t + nominal_ms)
        h = max(h, o, c)
        lo = min(lo, o, c)
        out.append(Bar(t, nxt, o, h, lo, c, max(v, 0.0)))
    return out


def _data_path(name: str):
    return resources.files("alfax") / "data" / name


@lru_cache(maxsize=None)
def coinbase_btc_hourly(start_ms: int = WINDOW_START_MS, end_ms: int = WINDOW_END_MS) -> tuple[Bar, ...]:
    rows = []
    with _data_path("Coinbase_BTCUSD_1h.csv").open("r", encoding="utf-8") as f:
        f.readline()  # banner
        for rec in csv.DictReader(f):
            t = _utc_ms(datetime.strptime(rec["date"], "%Y-%m-%d %I-%p"))
            if start_ms <= t < end_ms:
                rows.append((t, float(rec["open"]), float(rec["high"]), float(rec["low"]), float(rec["close"]),
                             float(rec["volume_btc"] or 0.0)))
    return tuple(close_gaps(rows, HOUR_MS, end_ms))


@lru_cache(maxsize=None)
def bitfinex_daily(asset: str, start_ms: int = WINDOW_START_MS, end_ms: int = WINDOW_END_MS) -> tuple[Bar, ...]:
    rows = []
    with _data_path("bitfinex_BTC_ETH_USD_1d.csv").open("r", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            if not rec.get(f"{asset}:open"):
                continue
            t = _utc_ms(datetime.strptime(rec[""], "%Y-%m-%d"))
            if start_ms <= t < end_ms:
                rows.append((t, float(rec[f"{asset}:open"]), float(rec[f"{asset}:high"]), float(rec[f"{asset}:low"]),
                             float(rec[f"{asset}:close"]), float(rec[f"{asset}:volume"] or 0.0)))
    return tuple(close_gaps(rows, DAY_MS, end_ms))


def bundled_series(symbol: str) -> tuple[Bar, ...]:
    """The real bars behind a replay symbol: BTCUSDT <- Coinbase hourly, ETHUSDT <- Bitfinex ETH daily."""
    if symbol == "BTCUSDT":
        return coinbase_btc_hourly()
    if symbol == "ETHUSDT":
        return bitfinex_daily("ETH")
    raise KeyError(f"no bundled data for {symbol} (bundled: BTCUSDT, ETHUSDT)")
