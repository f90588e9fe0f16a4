"""ReplayFeed: determinism, bridge correctness against the real bars, speed, looping, book validity, history."""

from __future__ import annotations

import json
import time
from importlib import resources

import pytest

from alfax.domain.commands import BookUpdate, MarkPriceUpdate, TradePrint
from alfax.domain.instruments import load_instruments
from alfax.feeds import REAL_VS_DERIVED, Feed, ReplayFeed, make_feed
from alfax.feeds.bars import Bar, bundled_series
from alfax.feeds.base import STEP_MS, tick_ceil, tick_floor
from alfax.feeds.replay import DEFAULT_START_MS
from alfax.marketdata import MarketData

DAY = 86_400_000
HOUR = 3_600_000
START = 1_763_683_200_000  # a UTC midnight, so data bars line up with feed hours


@pytest.fixture(scope="module")
def instruments():
    cfg = json.loads((resources.files("alfax") / "data" / "instruments.json").read_text())
    return load_instruments(cfg)


def run(feed, start, seconds, step_ms=1000):
    """Poll from start to start+seconds; returns [(now, cmd)]."""
    out = []
    t = start
    end = start + seconds * 1000
    while t < end:
        t += step_ms
        out.extend((t, c) for c in feed.poll(t))
    return out


def bar_anchors(inst, bar: Bar, forward=True):
    sc, tick = 10**inst.price_precision, inst.tick_size
    H = tick_floor(round(bar.high * sc), tick)
    L = tick_ceil(round(bar.low * sc), tick)
    o, c = (bar.open, bar.close) if forward else (bar.close, bar.open)
    O = min(H, max(L, round(o * sc / tick) * tick))
    C = min(H, max(L, round(c * sc / tick) * tick))
    return O, H, L, C


def trades_in(cmds, sym, t0, t1):
    return [c for t, c in cmds if isinstance(c, TradePrint) and c.symbol == sym and t0 <= t < t1]


# The poll time of a step's commands is the step's grid time when polling every STEP_MS.
def run_steps(feed, start, seconds):
    return run(feed, start, seconds, STEP_MS)


def test_interface_and_wording(instruments):
    f = ReplayFeed(instruments, start_ms=START)
    assert isinstance(f, Feed)
    assert f.symbols == ["BTCUSDT", "ETHUSDT"]
    assert "Real:" in REAL_VS_DERIVED and "Derived" in REAL_VS_DERIVED
    assert isinstance(make_feed("replay", instruments, 2.0), ReplayFeed)
    with pytest.raises(ValueError):
        make_feed("nope", instruments, 1.0)


def test_deterministic_same_seed_and_start(instruments):
    a = run(ReplayFeed(instruments, seed=7, start_ms=START + 123), START + 123, 20, 333)
    b = run(ReplayFeed(instruments, seed=7, start_ms=START + 123), START + 123, 20, 333)
    assert a == b and len(a) > 100
    c = run(ReplayFeed(instruments, seed=8, start_ms=START + 123), START + 123, 20, 333)
    assert [x for _, x in a] != [x for _, x in c]


def test_poll_granularity_does_not_change_output(instruments):
    a = [c for _, c in run(ReplayFeed(instruments, start_ms=START), START, 10, 250)]
    b = [c for _, c in run(ReplayFeed(instruments, start_ms=START), START, 10, 2000)]
    assert a == b


def test_bridge_touches_real_high_low_and_closes_at_close(instruments):
    """At speed 60 each real hourly BTC bar lasts 60 s of feed time: check 6 bars against the real data."""
    inst = instruments["BTCUSDT"]
    bars = bundled_series("BTCUSDT")
    feed = ReplayFeed(instruments, symbols=("BTCUSDT",), speed=60, start_ms=START)
    cmds = run_steps(feed, START - STEP_MS, 6 * 60)
    for i in range(6):
        tr = trades_in(cmds, "BTCUSDT", START + i * 60_000, START + (i + 1) * 60_000)
        O, H, L, C = bar_anchors(inst, bars[i])
        prices = [t.price for t in tr]
        assert prices[0] == O and prices[-1] == C
        assert max(prices) == H and min(prices) == L
        assert all(p % inst.tick_size == 0 for p in prices)
        assert all(bars[i].low * 100 <= p <= bars[i].high * 100 for p in prices)


def test_speed_factor_maps_bars_to_feed_time(instruments):
    """At speed 120 an hourly bar lasts 30 s; at speed 1 the same bar lasts a wall-clock hour (checked on 60 s)."""
    inst = instruments["BTCUSDT"]
    bars = bundled_series("BTCUSDT")
    fast = run_steps(ReplayFeed(instruments, symbols=("BTCUSDT",), speed=120, start_ms=START), START - STEP_MS, 120)
    for i in range(4):
        tr = trades_in(fast, "BTCUSDT", START + i * 30_000, START + (i + 1) * 30_000)
        O, H, L, C = bar_anchors(inst, bars[i])
        assert tr[0].price == O and tr[-1].price == C and max(t.price for t in tr) == H
    slow = run_steps(ReplayFeed(instruments, symbols=("BTCUSDT",), speed=1, start_ms=START), START - STEP_MS, 60)
    O, H, L, C = bar_anchors(inst, bars[0])
    tr = trades_in(slow, "BTCUSDT", START, START + 60_000)
    assert tr[0].price == O and all(L <= t.price <= H for t in tr)
    # several trades per second at speed 1
    assert 60 <= len(tr) <= 60 * 4 * 8


def test_eth_daily_bridge_inside_real_bar(instruments):
    inst = instruments["ETHUSDT"]
    bar = bundled_series("ETHUSDT")[0]
    cmds = run_steps(ReplayFeed(instruments, symbols=("ETHUSDT",), speed=1440, start_ms=START), START - STEP_MS, 60)
    tr = trades_in(cmds, "ETHUSDT", START, START + 60_000)  # one daily bar = 60 s at speed 1440
    O, H, L, C = bar_anchors(inst, bar)
    assert tr[0].price == O and tr[-1].price == C
    assert max(t.price for t in tr) == H and min(t.price for t in tr) == L


def small_series():
    b = [Bar(0, HOUR, 100.0, 110.0, 95.0, 105.0, 10.0),
         Bar(HOUR, 2 * HOUR, 105.0, 120.0, 104.0, 118.0, 10.0),
         Bar(2 * HOUR, 3 * HOUR, 118.0, 119.0, 90.0, 92.0, 10.0)]
    return {"ETHUSDT": b}


@pytest.mark.parametrize("mirror", [True, False])
def test_looping(instruments, mirror):
    """3 hourly bars at speed 360 (10 s per bar): after 30 s the data loops (mirrored: played backwards)."""
    inst = instruments["ETHUSDT"]
    bars = small_series()["ETHUSDT"]
    feed = ReplayFeed(instruments, symbols=("ETHUSDT",), speed=360, start_ms=START, series=small_series(),
                      mirror=mirror)
    cmds = run_steps(feed, START - STEP_MS, 95)
    seq = [0, 1, 2, 2, 1, 0, 0, 1, 2] if mirror else [0, 1, 2, 0, 1, 2, 0, 1, 2]
    for j, bi in enumerate(seq):
        fwd = not mirror or (j // 3) % 2 == 0
        O, H, L, C = bar_anchors(inst, bars[bi], forward=fwd)
        tr = trades_in(cmds, "ETHUSDT", START + j * 10_000, START + (j + 1) * 10_000)
        assert tr[0].price == O and tr[-1].price == C, (j, bi)
        assert max(t.price for t in tr) == H and min(t.price for t in tr) == L
    ids = [c.trade_id for _, c in cmds if isinstance(c, TradePrint)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_book_validity_and_update_ids(instruments):
    cmds = run(ReplayFeed(instruments, start_ms=START + 7 * HOUR), START + 7 * HOUR, 30, 500)
    last_uid = {}
    n_books = 0
    for _, c in cmds:
        if isinstance(c, BookUpdate):
            inst = instruments[c.symbol]
            n_books += 1
            assert len(c.bids) == 20 and len(c.asks) == 20
            assert c.bids[0][0] < c.asks[0][0]
            assert all(a[0] > b[0] for a, b in zip(c.bids, c.bids[1:]))
            assert all(a[0] < b[0] for a, b in zip(c.asks, c.asks[1:]))
            for p, q in c.bids + c.asks:
                assert p % inst.tick_size == 0 and inst.min_price <= p <= inst.max_price
                assert q % inst.step_size == 0 and q >= inst.min_qty
            assert c.update_id > last_uid.get(c.symbol, 0)
            last_uid[c.symbol] = c.update_id
        elif isinstance(c, TradePrint):
            inst = instruments[c.symbol]
            assert c.price % inst.tick_size == 0 and c.qty % inst.step_size == 0 and c.qty >= inst.min_qty
    assert n_books == 2 * (30 * 4 + 1)  # every 250 ms per symbol, start included


def test_marks_every_second(instruments):
    cmds = run(ReplayFeed(instruments, start_ms=START + 5 * HOUR), START + 5 * HOUR, 10, 1000)
    marks = [c for _, c in cmds if isinstance(c, MarkPriceUpdate)]
    assert len(marks) == 22  # start second included
    for m in marks:
        assert m.next_funding_time == START + 8 * HOUR
        assert -750_000 <= m.funding_rate <= 750_000
        assert abs(m.mark_price - m.index_price) < m.index_price // 100


def test_history_prefill_and_handoff(instruments):
    inst_md = MarketData(instruments)
    now = START + 3 * HOUR + 17_000
    feed = ReplayFeed(instruments, start_ms=now)
    t0, c0 = time.perf_counter(), time.process_time()
    last = 0
    n = 0
    for ts, cmd in feed.history(now):
        assert last <= ts < now
        last = ts
        n += 1
        inst_md.on_command(ts, cmd)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    k = inst_md.klines("BTCUSDT", "1m", limit=1500)
    print(f"\nReplayFeed.history(now) + MarketData prefill: {n} commands, {dt:.2f} s wall, {cpu:.2f} s CPU, "
          f"{len(k)} 1m klines")
    assert len(k) == 1500 and len(inst_md.klines("ETHUSDT", "1m", limit=1500)) == 1500
    assert cpu < 15  # CPU time: wall time on a shared machine says more about the neighbours than about us
    assert len(inst_md.funding_rates("BTCUSDT")) >= 3
    # history hands its state to the live side: the output equals a fresh feed that warmed itself up
    a = run(feed, now, 5, 250)
    b = run(ReplayFeed(instruments, start_ms=now), now, 5, 250)
    assert a == b


def test_catch_up_is_bounded(instruments):
    feed = ReplayFeed(instruments, symbols=("BTCUSDT",), start_ms=START)
    feed.poll(START)
    out = feed.poll(START + 3_600_000)  # an hour-long pause produces at most ~10 s of backlog
    assert sum(isinstance(c, BookUpdate) for c in out) <= 41


def test_default_anchor_history_then_poll_continues(instruments):
    """Default start is a fixed anchor: a feed built "now" resumes the same path; history hands over to poll."""
    for now in (DEFAULT_START_MS + 40 * DAY + 5 * HOUR + 123, DEFAULT_START_MS - 3 * DAY + 17):
        _check_anchor_continuity(instruments, now)


def _check_anchor_continuity(instruments, now):
    f = ReplayFeed(instruments, symbols=("BTCUSDT",))
    f.history_ms = 2 * HOUR  # length is not the point here
    hist = list(f.history(now))
    last_hist = max(t for t, _ in hist)
    out = f.poll(now + 2000)
    assert out and last_hist < now
    g = ReplayFeed(instruments, symbols=("BTCUSDT",))  # a "restarted" feed polled at the same time agrees
    g.poll(now - 1)
    assert g.poll(now + 2000) == out
    books = [c for c in out if isinstance(c, BookUpdate)]
    assert books[0].update_id == -(-now // STEP_MS)  # the first live step is the first grid step >= end_ms
