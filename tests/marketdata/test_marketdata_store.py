"""MarketData read model: klines aggregation and paging, 24h ticker, trades, depth, premium index, funding."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from alfax.domain.commands import BookUpdate, MarkPriceUpdate, PlaceOrder, TradePrint
from alfax.domain.enums import OrderType, Side
from alfax.domain.instruments import load_instruments
from alfax.marketdata import INTERVALS, MarketData, bucket_open

MIN = 60_000
HOUR = 3_600_000
DAY = 86_400_000
T0 = 1_763_337_600_000  # Monday 2025-11-17 00:00 UTC


@pytest.fixture(scope="module")
def instruments():
    return load_instruments(json.loads((resources.files("alfax") / "data" / "instruments.json").read_text()))


def tp(price, qty, maker, tid=0, sym="BTCUSDT"):
    return TradePrint(sym, round(price * 100), round(qty * 1000), maker, tid)


TRADES = [  # (offset ms, price, qty, buyer_is_maker, id)
    (0, 60000.00, 0.010, False, 1),
    (30_000, 60100.00, 0.020, True, 2),
    (59_999, 59950.00, 0.005, False, 3),
    (60_000, 59900.00, 0.001, True, 4),
    (150_000, 60200.00, 0.003, False, 5),
    (3_600_000, 60300.00, 0.004, True, 6),
]


@pytest.fixture()
def md(instruments):
    m = MarketData(instruments)
    for off, p, q, mk, i in TRADES:
        m.on_command(T0 + off, tp(p, q, mk, i))
    return m


def test_one_minute_candles_hand_computed(md):
    k = md.klines("BTCUSDT", "1m")
    assert [r[0] for r in k] == [T0, T0 + MIN, T0 + 2 * MIN, T0 + 60 * MIN]
    assert k[0] == [T0, "60000.00", "60100.00", "59950.00", "59950.00", "0.035", T0 + MIN - 1, "2101.75000", 3,
                    "0.015", "899.75000", "0"]
    assert k[1] == [T0 + MIN, "59900.00", "59900.00", "59900.00", "59900.00", "0.001", T0 + 2 * MIN - 1,
                    "59.90000", 1, "0.000", "0.00000", "0"]


def test_higher_intervals_hand_computed(md):
    k3 = md.klines("BTCUSDT", "3m")
    assert k3[0] == [T0, "60000.00", "60200.00", "59900.00", "60200.00", "0.039", T0 + 3 * MIN - 1, "2342.25000", 5,
                     "0.018", "1080.35000", "0"]
    assert k3[1][0] == T0 + HOUR and k3[1][1] == "60300.00"
    h1 = md.klines("BTCUSDT", "1h")
    assert h1[0][1:6] == k3[0][1:6] and h1[0][6] == T0 + HOUR - 1 and h1[0][8] == 5
    d1 = md.klines("BTCUSDT", "1d")
    assert d1 == [[T0, "60000.00", "60300.00", "59900.00", "60300.00", "0.043", T0 + DAY - 1, "2583.45000", 6,
                   "0.018", "1080.35000", "0"]]
    w = md.klines("BTCUSDT", "1w")
    assert w[0][0] == T0 and w[0][6] == T0 + 7 * DAY - 1  # weeks open on Monday
    mo = md.klines("BTCUSDT", "1M")
    nov1 = 1_761_955_200_000  # 2025-11-01
    assert mo[0][0] == nov1 and mo[0][6] == 1_764_547_200_000 - 1  # closes at the end of November
    for iv in INTERVALS:
        rows = md.klines("BTCUSDT", iv)
        assert rows and sum(r[8] for r in rows) == 6, iv
        assert all(len(r) == 12 for r in rows)


def test_month_and_3d_buckets():
    assert bucket_open(1_764_547_200_000 + 5, "1M") == 1_764_547_200_000  # 2025-12-01
    assert bucket_open(T0 + 5, "3d") % (3 * DAY) == 0
    assert bucket_open(T0 + 3 * DAY + 5, "1w") == T0


def test_kline_limit_start_end_semantics(md):
    def opens(**kw):
        return [r[0] for r in md.klines("BTCUSDT", "1m", **kw)]

    assert opens(limit=2) == [T0 + 2 * MIN, T0 + 60 * MIN]  # most recent
    assert opens(start_ms=T0 + 1) == [T0 + MIN, T0 + 2 * MIN, T0 + 60 * MIN]  # open >= startTime
    assert opens(start_ms=T0 + 1, limit=1) == [T0 + MIN]
    assert opens(start_ms=0, limit=1) == [T0]  # startTime=0: the earliest
    assert opens(end_ms=T0 + 2 * MIN - 1) == [T0, T0 + MIN]  # open <= endTime
    assert opens(end_ms=T0 + 2 * MIN - 1, limit=1) == [T0 + MIN]  # latest before endTime
    assert opens(start_ms=T0, end_ms=T0 + MIN) == [T0, T0 + MIN]
    assert opens(start_ms=T0 + 5 * MIN, end_ms=T0) == []
    assert opens(limit=10_000) == opens(limit=1500)  # capped at 1500
    assert [r[0] for r in md.klines("BTCUSDT", "3m", end_ms=T0 + 3 * MIN + 5)] == [T0]
    with pytest.raises(ValueError):
        md.klines("BTCUSDT", "2m")
    with pytest.raises(ValueError):
        md.klines("BTCUSDT", "1m", price="last")


def test_ticker_24hr_maths(md):
    t = md.ticker_24hr("BTCUSDT")
    assert t == {"symbol": "BTCUSDT", "priceChange": "300.00", "priceChangePercent": "0.500",
                 "weightedAvgPrice": "60080.23", "lastPrice": "60300.00", "lastQty": "0.004",
                 "openPrice": "60000.00", "highPrice": "60300.00", "lowPrice": "59900.00", "volume": "0.043",
                 "quoteVolume": "2583.45000", "openTime": T0 + HOUR - DAY, "closeTime": T0 + HOUR,
                 "firstId": 1, "lastId": 6, "count": 6}
    # 24.5 h later only the last two trades are in the rolling window (1440 one-minute candles up to now)
    md.on_command(T0 + DAY + 30 * MIN, tp(59000.00, 0.002, True, 7))
    t = md.ticker_24hr("BTCUSDT")
    assert t["openPrice"] == "60300.00" and t["count"] == 2 and t["firstId"] == 6
    assert t["priceChange"] == "-1300.00" and t["priceChangePercent"] == "-2.156"
    assert md.price_ticker("BTCUSDT") == {"symbol": "BTCUSDT", "price": "59000.00", "time": T0 + DAY + 30 * MIN}
    md.on_command(T0 + 3 * DAY, tp(59100.00, 0.001, False, 8))
    t = md.ticker_24hr("BTCUSDT")
    assert t["count"] == 1 and t["openPrice"] == "59100.00" and t["priceChangePercent"] == "0.000"
    empty = md.ticker_24hr("ETHUSDT")
    assert empty["count"] == 0 and empty["firstId"] == -1


def test_agg_trades_and_trades_paging(instruments):
    m = MarketData(instruments, trade_buffer=20)
    for i in range(25):
        m.on_command(T0 + i * 1000, tp(60000 + i, 0.001, i % 2 == 0, 100 + i))
    a = m.agg_trades("BTCUSDT", from_id=110, limit=5)
    assert [x["a"] for x in a] == [110, 111, 112, 113, 114]
    assert a[0] == {"a": 110, "p": "60010.00", "q": "0.001", "f": 110, "l": 110, "T": T0 + 10_000, "m": True}
    assert [x["a"] for x in m.agg_trades("BTCUSDT", from_id=a[-1]["a"] + 1, limit=3)] == [115, 116, 117]
    assert [x["a"] for x in m.agg_trades("BTCUSDT", limit=3)] == [122, 123, 124]
    assert [x["a"] for x in m.agg_trades("BTCUSDT", start_ms=T0 + 20_000, end_ms=T0 + 22_000)] == [120, 121, 122]
    assert [x["a"] for x in m.agg_trades("BTCUSDT", end_ms=T0 + 22_000, limit=2)] == [121, 122]
    assert m.agg_trades("BTCUSDT", from_id=0, limit=1)[0]["a"] == 105  # only the last 20 are kept
    tr = m.trades("BTCUSDT", limit=1000)
    assert len(tr) == 20 and tr[-1] == {"id": 124, "price": "60024.00", "qty": "0.001", "quoteQty": "60.02400",
                                        "time": T0 + 24_000, "isBuyerMaker": True}
    m.on_command(T0 + 30_000, tp(60000, 0.001, False, 0))  # no id from the feed: next id assigned
    assert m.trades("BTCUSDT", limit=1)[0]["id"] == 125


def test_depth_and_book_ticker(md):
    book = BookUpdate("BTCUSDT", bids=((6_000_000, 1500), (5_999_990, 2000), (5_999_900, 10)),
                      asks=((6_000_010, 500), (6_000_100, 700)), update_id=42)
    md.on_command(T0 + 2 * HOUR, book)
    d = md.depth("BTCUSDT", limit=2)
    assert d == {"lastUpdateId": 42, "E": T0 + 2 * HOUR, "T": T0 + 2 * HOUR,
                 "bids": [["60000.00", "1.500"], ["59999.90", "2.000"]],
                 "asks": [["60000.10", "0.500"], ["60001.00", "0.700"]]}
    md.on_command(T0 + 2 * HOUR + 250, BookUpdate("BTCUSDT", book.bids, book.asks, update_id=43))
    assert md.depth("BTCUSDT")["lastUpdateId"] == 43 and len(md.depth("BTCUSDT")["bids"]) == 3
    assert md.book_ticker("BTCUSDT") == {"lastUpdateId": 43, "symbol": "BTCUSDT", "bidPrice": "60000.00",
                                         "bidQty": "1.500", "askPrice": "60000.10", "askQty": "0.500",
                                         "time": T0 + 2 * HOUR + 250}
    assert md.depth("ETHUSDT")["bids"] == []


def mark(sym, mark_px, index_px, rate, nft):
    return MarkPriceUpdate(sym, round(mark_px * 100), round(index_px * 100), rate, nft)


def test_premium_index_mark_klines_and_funding_history(instruments):
    m = MarketData(instruments)
    f1, f2 = T0 + 8 * HOUR, T0 + 16 * HOUR
    m.on_command(f1 - 2000, mark("BTCUSDT", 60000.00, 60000.00, 10_000, f1))
    m.on_command(f1 - 1000, mark("BTCUSDT", 60010.00, 60004.00, 12_345, f1))
    assert m.funding_rates() == []
    m.on_command(f1, mark("BTCUSDT", 60020.00, 60008.00, 10_000, f2))
    m.on_command(f1 + 1000, mark("ETHUSDT", 3000.00, 3000.00, -5_000, f2))
    m.on_command(f2 + 1000, mark("BTCUSDT", 60030.00, 60030.00, 10_000, f2 + 8 * HOUR))
    m.on_command(f2 + 2000, mark("ETHUSDT", 3001.00, 3000.00, -5_000, f2 + 8 * HOUR))
    assert m.funding_rates("BTCUSDT") == [
        {"symbol": "BTCUSDT", "fundingRate": "0.00012345", "fundingTime": f1, "markPrice": "60010.00000000"},
        {"symbol": "BTCUSDT", "fundingRate": "0.00010000", "fundingTime": f2, "markPrice": "60020.00000000"}]
    assert [r["fundingTime"] for r in m.funding_rates("BTCUSDT", limit=1)] == [f2]
    assert [r["fundingTime"] for r in m.funding_rates("BTCUSDT", start_ms=f1, limit=1)] == [f1]
    assert [r["fundingTime"] for r in m.funding_rates("BTCUSDT", end_ms=f2 - 1)] == [f1]
    both = m.funding_rates()
    assert [(r["symbol"], r["fundingTime"]) for r in both] == [("BTCUSDT", f1), ("BTCUSDT", f2), ("ETHUSDT", f2)]
    assert both[-1]["fundingRate"] == "-0.00005000"
    pi = m.premium_index("BTCUSDT")
    assert pi == {"symbol": "BTCUSDT", "markPrice": "60030.00000000", "indexPrice": "60030.00000000",
                  "estimatedSettlePrice": "60030.00000000", "lastFundingRate": "0.00010000",
                  "interestRate": "0.00010000", "nextFundingTime": f2 + 8 * HOUR, "time": f2 + 1000}
    mk = m.klines("BTCUSDT", "1m", price="mark", end_ms=f1 - 1)
    assert mk == [[f1 - MIN, "60000.00", "60010.00", "60000.00", "60010.00", "0", f1 - 1, "0", 2, "0", "0", "0"]]
    ix = m.klines("BTCUSDT", "1h", price="index", start_ms=f1, limit=1)
    assert ix[0][1] == "60008.00"
    pr = m.klines("BTCUSDT", "1m", price="premium", start_ms=f1 - MIN, limit=1)
    assert pr[0][1:5] == ["0.00000000", "0.00009999", "0.00000000", "0.00009999"]  # 6 / 60004 = 0.0000999933
    assert m.premium_index("ETHUSDT")["markPrice"] == "3001.00000000"


def test_feed_age_and_ignored_commands(instruments):
    m = MarketData(instruments)
    m.on_command(T0, PlaceOrder(1, "BTCUSDT", Side.BUY, OrderType.MARKET, quantity=1))
    assert m.feed_age_ms(T0 + 5) == {"BTCUSDT": T0 + 5, "ETHUSDT": T0 + 5}  # never seen: always stale
    m.on_command(T0, tp(60000, 0.001, False, 1))
    m.on_command(T0 + 100, BookUpdate("ETHUSDT", ((300000, 1000),), ((300001, 1000),), 1))
    assert m.feed_age_ms(T0 + 1000) == {"BTCUSDT": 1000, "ETHUSDT": 900}
    assert m.stale_symbols(T0 + 1000, max_age_ms=950) == ["BTCUSDT"]
    m.on_command(T0, tp(1, 1, False, 1, sym="XRPUSDT"))  # unknown symbols are ignored


def test_minute_retention_is_bounded(instruments):
    m = MarketData(instruments, minute_retention_ms=60 * MIN)
    for i in range(600):
        m.on_command(T0 + i * MIN, tp(60000, 0.001, False, i + 1))
    series = m._s["BTCUSDT"].series["trade"][0]
    assert len(series.keys) <= 60 + 60 // 16 + 64
    assert len(m.klines("BTCUSDT", "1h", limit=1500)) == 10  # the hour series keeps the long history
