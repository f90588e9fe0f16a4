"""Kline backfill of the live feed: REST kline rows -> Bars (exact raw ints), and MarketData.load_bars."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from alfax.domain.bars import Bar
from alfax.domain.commands import TradePrint
from alfax.domain.instruments import load_instruments
from alfax.feeds.binance_wire import WireError, kline_bar
from alfax.marketdata import MarketData

INSTRUMENTS = load_instruments(json.loads((resources.files("alfax") / "data" / "instruments.json").read_text()))
BTC = INSTRUMENTS["BTCUSDT"]  # price precision 2, quantity precision 3
T = 1_763_337_600_000  # a UTC hour boundary


def test_trade_kline_row_to_bar():
    row = [T, "97250.10", "97300.00", "97200.00", "97280.50", "12.345", T + 59_999, "1200654.19055334", 321,
           "6.000", "583501.50000000", "0"]
    assert kline_bar(row, BTC, "trade") == Bar(T, 9725010, 9730000, 9720000, 9728050, volume=12345,
                                               quote_volume=120065419055, trades=321, taker_buy_volume=6000,
                                               taker_buy_quote=58350150000)


def test_mark_and_premium_rows_are_rounded_half_up():
    mark = [T, "11794.15000000", "11795.005", "11790.00400000", "11794.155", "0", T + 59_999, "0", 60, "0", "0", "0"]
    assert kline_bar(mark, BTC, "mark") == Bar(T, 1179415, 1179501, 1179000, 1179416, trades=60)
    prem = [T, "-0.000123456", "0.00010000", "-0.00020000", "0.000000004", "0", T + 59_999, "0", 60, "0", "0", "0"]
    assert kline_bar(prem, BTC, "premium") == Bar(T, -12346, 10000, -20000, 0, trades=60)


@pytest.mark.parametrize("row", [[], ["x", "1", "1", "1", "1", "0", 0, "0", 1], [T, 1.5, "1", "1", "1", "0", 0, "0", 1],
                                 [T, "97250.123", "1", "1", "1", "0", 0, "0", 1]])
def test_malformed_rows_are_refused(row):
    with pytest.raises(WireError):
        kline_bar(row, BTC, "trade")


def test_load_bars_fills_empty_candles_only_and_leaves_feed_age_alone():
    md = MarketData(INSTRUMENTS)
    minute = [Bar(T + i * 60_000, 9700000 + i, 9700100 + i, 9699900 + i, 9700050 + i, volume=1000, quote_volume=97000500,
                  trades=3) for i in range(3)]
    hour = [Bar(T - 3_600_000, 9600000, 9710000, 9590000, 9700000, volume=5000, quote_volume=485000000, trades=40)]
    assert md.load_bars("BTCUSDT", "trade", 60_000, minute) == 3
    assert md.load_bars("BTCUSDT", "trade", 3_600_000, hour) == 1
    rows = md.klines("BTCUSDT", "1m", start_ms=T, limit=3)
    assert [r[:6] for r in rows] == [[T + i * 60_000, f"97000.{i:02d}", f"97001.{i:02d}", f"96999.{i:02d}",
                                      f"97000.{50 + i}", "1.000"] for i in range(3)]
    assert rows[0][7] == "970.00500" and rows[0][8] == 3
    h = md.klines("BTCUSDT", "1h", start_ms=T - 3_600_000, limit=1)[0]
    assert h[1:6] == ["96000.00", "97100.00", "95900.00", "97000.00", "5.000"] and h[8] == 40
    assert md.feed_age_ms(T)["BTCUSDT"] == T  # backfill is not live data: the symbol is still "never seen"
    # live data wins: a candle that already has trades is not overwritten by a later backfill
    md.on_command(T + 5 * 60_000, TradePrint("BTCUSDT", 9800000, 1000, False, 1))
    assert md.load_bars("BTCUSDT", "trade", 60_000, [Bar(T + 5 * 60_000, 1, 1, 1, 1, volume=1)]) == 0
    assert md.klines("BTCUSDT", "1m", start_ms=T + 5 * 60_000, limit=1)[0][4] == "98000.00"
    with pytest.raises(ValueError):
        md.load_bars("BTCUSDT", "trade", 300_000, minute)
