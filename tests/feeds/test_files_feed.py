"""FilesFeed: Binance public-data files (aggTrades, bookTicker, klines), zipped or plain, with or without header."""

from __future__ import annotations

import json
import zipfile
from importlib import resources

import pytest

from alfax.domain.commands import BookUpdate, MarkPriceUpdate, TradePrint
from alfax.domain.instruments import load_instruments
from alfax.feeds import FilesFeed, make_feed
from alfax.feeds.base import STEP_MS

D0 = 1_700_006_400_000  # 2023-11-15 00:00 UTC: file data starts at midnight
START = 1_763_683_200_000  # feed start, also a UTC midnight


@pytest.fixture(scope="module")
def instruments():
    return load_instruments(json.loads((resources.files("alfax") / "data" / "instruments.json").read_text()))


def write(path, name, header, rows, zipped):
    text = "\n".join([header] * bool(header) + [",".join(map(str, r)) for r in rows]) + "\n"
    if zipped:
        with zipfile.ZipFile(path / (name + ".zip"), "w") as z:
            z.writestr(name + ".csv", text)
    else:
        (path / (name + ".csv")).write_text(text)


AGG_HEADER = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
BT_HEADER = "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time"
KL_HEADER = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
             "taker_buy_quote_volume,ignore")


def agg_rows():
    # 20 trades, one every 1.5 s, prices walking up then down
    rows = []
    for i in range(20):
        px = 37000 + (i if i < 10 else 20 - i) * 0.5
        rows.append((1000 + i, f"{px:.1f}", "0.012", 5000 + i, 5000 + i, D0 + 1500 * i + 100, "true" if i % 3 else "false"))
    return rows


def bt_rows():
    return [(9000 + i, f"{36999.5 + i * 0.1:.1f}", "1.5", f"{37000.5 + i * 0.1:.1f}", "2.25", D0 + 1000 * i, D0 + 1000 * i + 3)
            for i in range(30)]


def kline_rows(us=False):
    f = 1000 if us else 1
    rows = []
    for i in range(5):
        o = 2000 + i * 2
        rows.append(((D0 + 60_000 * i) * f, f"{o:.2f}", f"{o + 3:.2f}", f"{o - 2:.2f}", f"{o + 2:.2f}", "12.5",
                     (D0 + 60_000 * (i + 1) - 1) * f, "25000", 100, "6", "12000", 0))
    return rows


@pytest.mark.parametrize("zipped_trades, trade_header", [(False, True), (True, False)])
def test_files_feed_trades_quotes_klines(tmp_path, instruments, zipped_trades, trade_header):
    write(tmp_path, "BTCUSDT-aggTrades-2023-11-15", AGG_HEADER if trade_header else "", agg_rows(), zipped_trades)
    write(tmp_path, "BTCUSDT-bookTicker-2023-11-15", "" if trade_header else BT_HEADER, bt_rows(), not zipped_trades)
    sub = tmp_path / "eth"
    sub.mkdir()
    write(sub, "ETHUSDT-1m-2023-11-15", KL_HEADER if zipped_trades else "", kline_rows(us=zipped_trades), zipped_trades)
    write(sub, "DOGEUSDT-1m-2023-11-15", "", kline_rows(), False)  # not an instrument: ignored

    feed = make_feed(f"files:{tmp_path}", instruments, 1.0, start_ms=START)
    assert isinstance(feed, FilesFeed)
    assert feed.symbols == ["BTCUSDT", "ETHUSDT"]
    out = []
    t = START - STEP_MS
    while t < START + 60_000:
        t += STEP_MS
        out.extend((t, c) for c in feed.poll(t))

    trades = [(t, c) for t, c in out if isinstance(c, TradePrint) and c.symbol == "BTCUSDT"]
    # first loop of the 30 s window: every file trade once, in order, with its price, qty, side and time (250 ms grid)
    first = trades[:20]
    for (t, c), r in zip(first, agg_rows()):
        assert c.price == round(float(r[1]) * 100) and c.qty == 12 and c.trade_id == r[0]
        assert c.buyer_is_maker == (r[6] == "true")
        rel = r[5] - D0
        assert t - START == -(-rel // STEP_MS) * STEP_MS
    # the data window is [first ts, last ts]: it loops with ids shifted by the id span
    span = max(r[5] for r in agg_rows() + [(0,) * 5 + (x[5],) for x in bt_rows()]) + 1 - D0
    looped = [c for t, c in trades if t - START > span]
    assert looped and looped[0].trade_id == 1000 + 20 and looped[0].price == first[0][1].price
    ids = [c.trade_id for _, c in trades]
    assert ids == sorted(ids)

    books = [(t, c) for t, c in out if isinstance(c, BookUpdate) and c.symbol == "BTCUSDT"]
    _, b5 = next((t, b) for t, b in books if t >= START + 5000)
    # latest bookTicker row at data time 5 s is row 5: bid 37000.0 x 1.5, ask 37001.0 x 2.25
    assert b5.bids[0] == (3_700_000, 1500) and b5.asks[0] == (3_700_100, 2250)
    assert len(b5.bids) == 10 and len(b5.asks) == 10  # best level plus 9 synthetic levels
    for _, b in books:
        assert b.bids[0][0] < b.asks[0][0]
        assert all(x[0] > y[0] for x, y in zip(b.bids, b.bids[1:]))
        assert all(x[0] < y[0] for x, y in zip(b.asks, b.asks[1:]))
    uids = [b.update_id for _, b in books]
    assert uids == sorted(set(uids))

    # ETH from klines only: bridged inside each 1m bar (plain loop, 5 bars = 5 minutes, minute 0 = bar 0)
    eth = [(t, c) for t, c in out if isinstance(c, TradePrint) and c.symbol == "ETHUSDT"]
    assert eth
    bar0 = [c.price for t, c in eth if START <= t < START + 60_000]
    assert bar0[0] == 200_000 and max(bar0) == 200_300 and min(bar0) == 199_800 and bar0[-1] == 200_200

    marks = [c for _, c in out if isinstance(c, MarkPriceUpdate)]
    assert {m.symbol for m in marks} == {"BTCUSDT", "ETHUSDT"}
    assert all(m.next_funding_time == START + 8 * 3_600_000 for m in marks)


def test_files_feed_history_and_determinism(tmp_path, instruments):
    write(tmp_path, "BTCUSDT-aggTrades-2023-11-15", AGG_HEADER, agg_rows(), True)
    a = FilesFeed(instruments, str(tmp_path), start_ms=START)
    b = FilesFeed(instruments, str(tmp_path), start_ms=START)
    a.history_ms = b.history_ms = 3_600_000  # the 30 s file loops; an hour of history is plenty here
    ha = list(a.history(START))
    assert ha == list(b.history(START))
    assert ha and all(t < START for t, _ in ha)
    assert any(isinstance(c, TradePrint) for _, c in ha) and any(isinstance(c, BookUpdate) for _, c in ha)
    # trades only: the touch is synthesised around the last print
    out = a.poll(START + 5000)
    bk = [c for c in out if isinstance(c, BookUpdate)]
    assert bk and all(x.bids[0][0] < x.asks[0][0] for x in bk)


def test_files_feed_errors(tmp_path, instruments):
    with pytest.raises(ValueError):
        FilesFeed(instruments, str(tmp_path))
    with pytest.raises(ValueError):
        make_feed("files:", instruments, 1.0)
