"""Market stream payloads (contract §4.2) from real commands, marketdata rows and a real liquidation."""

from __future__ import annotations

import orjson

from alfax.domain import commands as C
from alfax.domain.enums import OrderType
from alfax.domain.events import Liquidated, OrderUpdated
from alfax.marketdata.store import MarketData
from alfax.streams import market_payloads as MP

from .helpers import INST, INSTRUMENTS, SYM, T0, Sim, keys, plain, px, qty, usd

# ---- key sets, copied literally from contract §4.2
AGG_TRADE = keys('"e","E","s","a","p","q","f","l","T","m"'.replace('"', " "))
TRADE = keys('"e","E","T","s","t","p","q","X","m"'.replace('"', " "))
MARK = keys('"e","E","s","p","ap","i","P","r","T"'.replace('"', " "))
KLINE_TOP = keys("e E s k")
KLINE_K = keys('"t","T","s","i","f","L","o","c","h","l","v","n","x","q","V","Q","B"'.replace('"', " "))
BOOK_TICKER = keys('"e","u","E","T","s","b","B","a","A"'.replace('"', " "))
DEPTH = keys("`e`, `E`, `T`, `s`, `U`, `u`, `pu`, `b`, `a`")
TICKER = keys("`e`, `E`, `s`, `p`, `P`, `w`, `c`, `Q`, `o`, `h`, `l`, `v`, `q`, `O`, `C`, `F`, `L`, `n`")
MINI = keys("`e`, `E`, `s`, `c`, `o`, `h`, `l`, `v`, `q`")
FORCE_TOP = keys("e E o")
FORCE_O = keys('"s","S","o","f","q","p","ap","X","l","z","T"'.replace('"', " "))


def test_agg_trade_and_trade():
    cmd = C.TradePrint(SYM, px("30000.1"), qty("0.25"), True, 77)
    a = MP.agg_trade(cmd, INST, T0)
    assert set(a) == AGG_TRADE and plain(a)
    assert a == {"e": "aggTrade", "E": T0, "s": SYM, "a": 77, "p": "30000.10", "q": "0.250", "f": 77, "l": 77,
                 "T": T0, "m": True}
    t = MP.trade(cmd, INST, T0)
    assert set(t) == TRADE and plain(t)
    assert (t["t"], t["p"], t["q"], t["X"], t["m"], t["T"]) == (77, "30000.10", "0.250", "MARKET", True, T0)


def test_agg_trade_matches_rest_agg_trades():
    md = MarketData(INSTRUMENTS)
    cmd = C.TradePrint(SYM, px("30000.1"), qty("0.25"), False, 9)
    md.on_command(T0, cmd)
    (rest,) = md.agg_trades(SYM)
    ws = MP.agg_trade(cmd, INST, T0)
    assert {k: ws[k] for k in rest} == rest


def test_mark_price_single_and_array():
    cmd = C.MarkPriceUpdate(SYM, px("30000.15"), px("29999.9"), usd("0.00038167"), T0 + 3_600_000)
    p = MP.mark_price_update(cmd, INST, T0)
    assert set(p) == MARK and plain(p)
    assert p == {"e": "markPriceUpdate", "E": T0, "s": SYM, "p": "30000.15000000", "ap": "30000.15000000",
                 "i": "29999.90000000", "P": "29999.90000000", "r": "0.00038167", "T": T0 + 3_600_000}
    md = MarketData(INSTRUMENTS)
    md.on_command(T0, cmd)
    rest = md.premium_index(SYM)
    assert (p["p"], p["i"], p["r"], p["T"]) == (rest["markPrice"], rest["indexPrice"], rest["lastFundingRate"],
                                                rest["nextFundingTime"])
    eth = INSTRUMENTS["ETHUSDT"]
    arr = MP.mark_price_array([(cmd, INST), (C.MarkPriceUpdate("ETHUSDT", 200000, 200000, 0, 0), eth)], T0)
    assert isinstance(arr, list) and [x["s"] for x in arr] == [SYM, "ETHUSDT"] and all(set(x) == MARK for x in arr)
    orjson.dumps(arr)


def test_book_ticker_and_partial_depth():
    book = C.BookUpdate(SYM, ((px("30000.0"), qty("1.5")), (px("29999.9"), qty("2"))),
                        ((px("30000.1"), qty("0.7")),), 42)
    bt = MP.book_ticker(book, INST, T0)
    assert set(bt) == BOOK_TICKER and plain(bt)
    assert bt == {"e": "bookTicker", "u": 42, "E": T0, "T": T0, "s": SYM, "b": "30000.00", "B": "1.500",
                  "a": "30000.10", "A": "0.700"}
    for n in MP.PARTIAL_DEPTH_LEVELS:
        d = MP.partial_depth(book, INST, n, T0, prev_u=40)
        assert set(d) == DEPTH and plain(d)
        assert (d["U"], d["u"], d["pu"]) == (41, 42, 40)
        assert d["b"] == [["30000.00", "1.500"], ["29999.90", "2.000"]] and d["a"] == [["30000.10", "0.700"]]
    assert len(MP.partial_depth(book, INST, 1, T0)["b"]) == 1


def _md_with_trades():
    md = MarketData(INSTRUMENTS)
    for i, (p, q, m) in enumerate([("30000.0", "0.5", False), ("30010.0", "0.2", True), ("29990.5", "1", False)]):
        md.on_command(T0 + i * 1000, C.TradePrint(SYM, px(p), qty(q), m, 100 + i))
    return md


def test_kline_from_marketdata_row():
    md = _md_with_trades()
    (row,) = md.klines(SYM, "1m")
    k = MP.kline(SYM, "1m", row, T0 + 2000)
    assert set(k) == KLINE_TOP and set(k["k"]) == KLINE_K and plain(k)
    kk = k["k"]
    assert (kk["t"], kk["T"], kk["o"], kk["h"], kk["l"], kk["c"], kk["v"], kk["n"], kk["q"], kk["V"], kk["Q"]) == \
        (row[0], row[6], row[1], row[2], row[3], row[4], row[5], row[8], row[7], row[9], row[10])
    assert kk["x"] is False and kk["i"] == "1m" and kk["s"] == SYM
    assert MP.kline(SYM, "1m", row, row[6] + 1)["k"]["x"] is True
    assert MP.kline(SYM, "1m", row, T0, closed=True, first_trade_id=100, last_trade_id=102)["k"]["f"] == 100


def test_tickers_from_marketdata_row():
    md = _md_with_trades()
    row = md.ticker_24hr(SYM)
    t = MP.ticker_24hr(row, T0 + 5000)
    assert set(t) == TICKER and plain(t)
    assert (t["c"], t["o"], t["h"], t["l"], t["v"], t["F"], t["L"], t["n"]) == (
        row["lastPrice"], row["openPrice"], row["highPrice"], row["lowPrice"], row["volume"], row["firstId"],
        row["lastId"], row["count"])
    assert t["c"] == "29990.50" and t["Q"] == "1.000" and t["n"] == 3
    m = MP.mini_ticker_24hr(row, T0 + 5000)
    assert set(m) == MINI and plain(m) and m["e"] == "24hrMiniTicker"
    assert (m["c"], m["o"], m["q"]) == (row["lastPrice"], row["openPrice"], row["quoteVolume"])


def test_force_order_from_real_liquidation():
    s = Sim()
    s.isolated_long_at_100x()
    evs = s.mark("29819.2")
    (liq,) = [e for e in evs if isinstance(e, Liquidated)]
    order = [e.order for e in evs if isinstance(e, OrderUpdated) and e.order.order_id == liq.order_id][-1]
    assert order.type is OrderType.LIQUIDATION
    f = MP.force_order(liq, order, INST)
    assert set(f) == FORCE_TOP and set(f["o"]) == FORCE_O and plain(f)
    o = f["o"]
    assert (o["s"], o["S"], o["o"], o["f"], o["X"]) == (SYM, "SELL", "LIMIT", "IOC", "FILLED")
    assert (o["q"], o["l"], o["z"], o["ap"]) == ("1.000", "1.000", "1.000", "29819.20000")
    assert o["p"] in ("29819.20", INST.fmt_price(order.price)) and o["T"] == f["E"] == liq.ts
