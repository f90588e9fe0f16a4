"""Binance feed without sockets: payload conversions (exact raw ints), the §4.4 sync rules, make_feed."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alfax.domain.commands import MarkPriceUpdate, TradePrint
from alfax.domain.instruments import load_instruments
from alfax.feeds import BinanceFeed, make_feed
from alfax.feeds.binance_book import APPLIED, BRIDGING, BUFFERED, GAP, IGNORED, SYNCED, WAIT, DepthSync
from alfax.feeds.binance_wire import (
    DepthEvent, DepthSnapshot, WireError, agg_trade, book_ticker, depth_event, depth_snapshot, mark_price,
    parse_exact, parse_rounded,
)

INSTRUMENTS = load_instruments(json.loads((resources.files("alfax") / "data" / "instruments.json").read_text()))
BTC = INSTRUMENTS["BTCUSDT"]  # price precision 2, quantity precision 3


# ---------------------------------------------------------------------------------------------- conversions


def test_agg_trade_exact_raw_ints():
    data = {"e": "aggTrade", "E": 123456789, "s": "BTCUSDT", "a": 5933014, "p": "97250.10", "q": "0.012",
            "f": 100, "l": 105, "T": 123456785, "m": True}
    assert agg_trade(data, BTC) == TradePrint("BTCUSDT", 9725010, 12, buyer_is_maker=True, trade_id=5933014)
    trailing = dict(data, p="97250.10000000", q="0.01200000", m=False)  # more zeros than the precision
    assert agg_trade(trailing, BTC) == TradePrint("BTCUSDT", 9725010, 12, buyer_is_maker=False, trade_id=5933014)


def test_mark_price_contract_sample_rounds_computed_values_half_up():
    # The contract's §4.2 sample, at BTCUSDT's 2 price decimals.
    data = {"e": "markPriceUpdate", "E": 1562305380000, "s": "BTCUSDT", "p": "11794.15000000", "ap": "11794.1",
            "i": "11784.62659091", "P": "11784.25641265", "r": "0.00038167", "T": 1562306400000}
    assert mark_price(data, BTC) == MarkPriceUpdate("BTCUSDT", mark_price=1179415, index_price=1178463,
                                                    funding_rate=38167, next_funding_time=1562306400000)
    neg = dict(data, p="100.125", i="100.12499999", r="-0.000000005")
    m = mark_price(neg, BTC)
    assert (m.mark_price, m.index_price, m.funding_rate) == (10013, 10012, -1)  # ties away from zero
    assert mark_price(dict(data, r="-0.00000000499"), BTC).funding_rate == 0


@pytest.mark.parametrize("text,decimals,raw", [
    ("1.5", 2, 150), ("1.50000000", 2, 150), ("1.005", 2, 101), ("1.00499999", 2, 100), ("0", 8, 0),
    ("-0.125", 2, -13), ("12", 0, 12),
])
def test_parse_rounded(text, decimals, raw):
    assert parse_rounded(text, decimals, allow_negative=True) == raw


@pytest.mark.parametrize("bad", [1.5, 1, None, True, "", "abc", "NaN", "Infinity", "-1"])
def test_decimals_must_be_plain_non_negative_strings(bad):
    with pytest.raises(WireError):
        parse_rounded(bad, 2)
    with pytest.raises(WireError):
        parse_exact(bad, 2)


def test_traded_values_never_round():
    assert parse_exact("97250.1000", 2) == 9725010
    with pytest.raises(WireError):
        parse_exact("97250.105", 2)  # instrument table disagrees with the venue: refuse, do not move levels


def test_depth_event_and_snapshot():
    data = {"e": "depthUpdate", "E": 123456789, "T": 123456788, "s": "BTCUSDT", "U": 157, "u": 160, "pu": 149,
            "b": [["97250.00", "10.000"], ["97249.90", "0"]], "a": [["97250.10", "0.100"]]}
    assert depth_event(data, BTC) == DepthEvent(157, 160, 149, ((9725000, 10000), (9724990, 0)),
                                                ((9725010, 100),), 123456789)
    snap = {"lastUpdateId": 1027024, "E": 1589436922972, "T": 1589436922959,
            "bids": [["97250.00000000", "431.00000000"]], "asks": [["97250.10", "12"]]}
    assert depth_snapshot(snap, BTC) == DepthSnapshot(1027024, ((9725000, 431000),), ((9725010, 12000),))


@pytest.mark.parametrize("patch", [
    {"e": "depth"}, {"U": "157"}, {"u": None}, {"pu": True}, {"U": 161}, {"b": "x"}, {"b": [["97250.00"]]},
    {"a": [[97250.1, "1"]]}, {"a": [["0", "1"]]}, {"b": [["97250.005", "1"]]}, {"b": [["97250.00", "-1"]]},
])
def test_malformed_depth_events_raise(patch):
    data = {"e": "depthUpdate", "E": 1, "T": 1, "s": "BTCUSDT", "U": 157, "u": 160, "pu": 149, "b": [], "a": []}
    with pytest.raises(WireError):
        depth_event({**data, **patch}, BTC)


def test_malformed_market_payloads_raise():
    trade = {"e": "aggTrade", "s": "BTCUSDT", "a": 1, "p": "1.00", "q": "1.000", "m": True}
    for patch in ({"m": "true"}, {"a": 1.0}, {"p": "0"}, {"q": "0.000"}, {"p": 1.0}, {"e": "trade"}):
        with pytest.raises(WireError):
            agg_trade({**trade, **patch}, BTC)
    mark = {"e": "markPriceUpdate", "s": "BTCUSDT", "p": "1.00", "i": "1.00", "r": "0.0001", "T": 1}
    for patch in ({"p": "0"}, {"i": None}, {"r": 0.0001}, {"T": "1"}):
        with pytest.raises(WireError):
            mark_price({**mark, **patch}, BTC)
    with pytest.raises(WireError):
        depth_snapshot({"lastUpdateId": 1, "bids": [["1.00", "0"]], "asks": []}, BTC)  # no empty levels there
    with pytest.raises(WireError):
        depth_snapshot([], BTC)
    bt = {"e": "bookTicker", "u": 1, "s": "BTCUSDT", "b": "1.00", "B": "1.000", "a": "1.10", "A": "2.000"}
    assert book_ticker(bt, BTC) == ((100, 1000), (110, 2000))
    with pytest.raises(WireError):
        book_ticker({**bt, "B": 1}, BTC)


# ---------------------------------------------------------------------------------------------- §4.4 rules


def ev(U, u, pu, bids=(), asks=()):
    return DepthEvent(U, u, pu, tuple(bids), tuple(asks))


SNAP = DepthSnapshot(100, ((1000, 5), (990, 7)), ((1010, 3), (1020, 4)))


def test_buffer_then_snapshot_drops_old_and_bridges():
    d = DepthSync()
    assert d.on_event(ev(80, 90, 70, [(1000, 1)])) == BUFFERED  # u < L: dropped at snapshot time
    assert d.on_event(ev(95, 105, 90, [(995, 2)], [(1010, 0)])) == BUFFERED  # U <= L <= u: first applied
    assert d.on_event(ev(106, 110, 105, [(990, 0)])) == BUFFERED
    assert d.apply_snapshot(SNAP) == APPLIED
    assert d.state == SYNCED and d.last_u == 110
    assert d.full() == (((1000, 5), (995, 2)), ((1020, 4),))


def test_pu_equal_to_last_update_id_also_bridges():
    d = DepthSync()
    d.on_event(ev(120, 130, 110))
    assert d.apply_snapshot(DepthSnapshot(110, (), ())) == APPLIED  # U > L but pu == L (ccxt accepts it)


def test_snapshot_older_than_buffer_needs_another_and_keeps_buffer():
    d = DepthSync()
    d.on_event(ev(150, 160, 140, [(1000, 9)]))
    d.on_event(ev(161, 170, 160))
    assert d.apply_snapshot(SNAP) == GAP  # L=100 < U=150 and pu != L
    assert d.state == WAIT and [e.u for e in d.buffer] == [160, 170]
    assert d.apply_snapshot(DepthSnapshot(155, ((1000, 1),), ())) == APPLIED
    assert d.full() == (((1000, 9),), ()) and d.last_u == 170


def test_snapshot_with_nothing_to_bridge_waits_for_live_events():
    d = DepthSync()
    d.on_event(ev(80, 90, 70))
    assert d.apply_snapshot(SNAP) == BRIDGING and not d.synced
    assert d.on_event(ev(91, 99, 90)) == IGNORED  # u < L
    assert d.on_event(ev(100, 104, 99, [(1000, 0)])) == APPLIED  # U <= L <= u
    assert d.synced and d.full()[0] == ((990, 7),)


def test_bridge_failure_is_a_gap():
    d = DepthSync()
    d.on_event(ev(80, 90, 70))
    d.apply_snapshot(SNAP)
    assert d.on_event(ev(120, 130, 110)) == GAP
    assert d.state == WAIT and [e.u for e in d.buffer] == [130] and d.full() == ((), ())


def test_synced_chain_duplicates_and_gaps():
    d = DepthSync()
    d.on_event(ev(95, 105, 90))
    d.apply_snapshot(SNAP)
    assert d.on_event(ev(106, 110, 105, [(1000, 6)])) == APPLIED
    assert d.on_event(ev(106, 110, 105, [(1000, 1)])) == IGNORED  # duplicate: already applied
    assert d.on_event(ev(96, 104, 90)) == IGNORED  # late replay of something older
    assert d.full()[0][0] == (1000, 6)
    assert d.on_event(ev(115, 120, 112)) == GAP  # pu != previous u
    assert d.state == WAIT and d.last_u == 0


def test_buffer_keeps_only_an_unbroken_chain():
    d = DepthSync()
    d.on_event(ev(1, 10, 0))
    d.on_event(ev(11, 20, 10))
    assert d.on_event(ev(11, 20, 10)) == IGNORED  # duplicate while buffering
    d.on_event(ev(31, 40, 30))  # pu 30 != 20: the earlier events can never be used
    assert [e.u for e in d.buffer] == [40]


def test_top_levels_best_first():
    d = DepthSync()
    d.on_event(ev(100, 100, 99))
    d.apply_snapshot(DepthSnapshot(100, tuple((p, 1) for p in range(900, 1000, 10)),
                                   tuple((p, 1) for p in range(1090, 1000, -10))))
    bids, asks = d.top(3)
    assert bids == ((990, 1), (980, 1), (970, 1)) and asks == ((1010, 1), (1020, 1), (1030, 1))


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_whenever_synced_the_local_book_is_the_true_book(data):
    """Random diffs on a true book, delivered with losses, duplicates and swaps; snapshots at random moments."""
    n = data.draw(st.integers(5, 40))
    true_bids: dict[int, int] = {1000: 5}
    book_at: dict[int, tuple] = {}  # u -> true book after that diff
    events, pu, U = [], 0, 1
    for _ in range(n):
        u = U + data.draw(st.integers(0, 5))
        lv = data.draw(st.lists(st.tuples(st.integers(990, 1000), st.integers(0, 3)), max_size=3))
        for p, q in lv:
            true_bids.pop(p, None) if q == 0 else true_bids.__setitem__(p, q)
        events.append(ev(U, u, pu, lv))
        book_at[u] = dict(true_bids)
        pu, U = u, u + data.draw(st.integers(1, 3))
    d = DepthSync()
    i = 0
    while i < len(events):
        action = data.draw(st.sampled_from(["send", "send", "send", "lose", "dup", "swap", "snapshot"]))
        e = events[i]
        if action == "snapshot" and i > 0:  # a snapshot at the exchange's current point (last processed diff)
            last = events[i - 1]
            d.apply_snapshot(DepthSnapshot(last.u, tuple(book_at[last.u].items()), ()))
            continue
        if action == "swap" and i + 1 < len(events):
            d.on_event(events[i + 1])
            d.on_event(e)
            i += 2
        else:
            if action != "lose":
                d.on_event(e)
            if action == "dup":
                d.on_event(e)
            i += 1
        if d.synced:
            assert d.bids == book_at[d.last_u]


# ---------------------------------------------------------------------------------------------- construction


def test_make_feed_specs():
    f = make_feed("binance", INSTRUMENTS, rest_url="http://127.0.0.1:1", ws_url="ws://127.0.0.1:1/")
    assert isinstance(f, BinanceFeed) and f.symbols == ["BTCUSDT", "ETHUSDT"]
    assert f.stream_url("market") == ("ws://127.0.0.1:1/market/stream?streams=btcusdt@aggTrade/btcusdt@markPrice@1s/"
                                      "ethusdt@aggTrade/ethusdt@markPrice@1s")
    assert f.rest_url == "http://127.0.0.1:1"
    g = make_feed("binance:ethusdt", INSTRUMENTS, stale_after_ms=1000, depth_levels=10)
    assert g.symbols == ["ETHUSDT"] and g.stale_after_ms == 1000 and g.depth_levels == 10
    assert g.ws_url == "wss://fstream.binance.com" and g.rest_url == "https://fapi.binance.com"
    assert list(g.history(10**13)) == [] and g.poll(0) == []
    with pytest.raises(ValueError, match="NOPEUSDT"):
        make_feed("binance:BTCUSDT,NOPEUSDT", INSTRUMENTS)
    with pytest.raises(TypeError):
        make_feed("replay", INSTRUMENTS, depth_levels=10)
    make_feed("replay", INSTRUMENTS, rest_url="http://127.0.0.1:1")  # URLs are harmless for other feeds
    with pytest.raises(ValueError):
        BinanceFeed(INSTRUMENTS, [], ws_url="ws://127.0.0.1:1")
    with pytest.raises(ValueError):
        BinanceFeed(INSTRUMENTS, ["BTCUSDT"], depth_levels=0)
