"""DepthDiffer: diffs rebuild every snapshot; U/u/pu continuity (contract §4.4), also when coalesced."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from alfax.domain import commands as C
from alfax.domain.money import parse_fixed
from alfax.streams.market_payloads import DepthDiffer

from .helpers import INST, SYM, T0, Sim, keys, plain, px, qty

DEPTH = keys("`e`, `E`, `T`, `s`, `U`, `u`, `pu`, `b`, `a`")
N = 5


def _side(prices, qtys, reverse):
    return tuple(sorted(zip(prices, qtys), reverse=reverse))


@st.composite
def books(draw):
    """A full L2 book: distinct bid prices below distinct ask prices, positive quantities (small ranges so
    levels recur, change and vanish between snapshots)."""
    nb = draw(st.integers(0, 8))
    na = draw(st.integers(0, 8))
    bid_px = draw(st.lists(st.integers(2_999_000, 2_999_012), min_size=nb, max_size=nb, unique=True))
    ask_px = draw(st.lists(st.integers(3_000_000, 3_000_012), min_size=na, max_size=na, unique=True))
    q = st.integers(1, 4)
    bids = _side(bid_px, draw(st.lists(q, min_size=nb, max_size=nb)), True)
    asks = _side(ask_px, draw(st.lists(q, min_size=na, max_size=na)), False)
    return bids, asks


@st.composite
def scenarios(draw):
    snaps = draw(st.lists(books(), min_size=1, max_size=12))
    gaps = draw(st.lists(st.integers(1, 3), min_size=len(snaps), max_size=len(snaps)))
    ids, u = [], draw(st.integers(1, 10**6))
    for g in gaps:
        u += g
        ids.append(u)
    # coalescing: flush after a random subset of the updates (always after the last one)
    flush_after = draw(st.lists(st.booleans(), min_size=len(snaps), max_size=len(snaps)))
    flush_after[-1] = True
    return [C.BookUpdate(SYM, b, a, i) for (b, a), i in zip(snaps, ids)], flush_after


def _apply(state: dict[int, int], levels):
    for p, q in levels:
        p, q = parse_fixed(p, INST.price_precision), parse_fixed(q, INST.quantity_precision)
        if q == 0:
            state.pop(p, None)  # a level added and removed inside one interval is reported as 0 (as Binance does)
        else:
            state[p] = q


def _top(levels, n):
    return dict(levels[:n])


@settings(max_examples=150, deadline=None)
@given(base=books(), scen=scenarios())
def test_diffs_rebuild_every_snapshot_and_sequence_is_continuous(base, scen):
    updates, flush_after = scen
    base_book = C.BookUpdate(SYM, base[0], base[1], updates[0].update_id - 1)
    d = DepthDiffer(INST, levels=N, base=base_book)
    bids, asks = _top(base[0], N), _top(base[1], N)
    prev_u = base_book.update_id
    emitted = 0
    for ts, (book, flush) in enumerate(zip(updates, flush_after)):
        d.feed(book)
        if not flush:
            continue
        ev = d.flush(T0 + ts)
        assert ev is not None and set(ev) == DEPTH and plain(ev)
        emitted += 1
        assert ev["pu"] == prev_u and ev["U"] == prev_u + 1 and ev["u"] == book.update_id
        assert ev["U"] <= ev["u"]
        # a bid/ask list is best first and never repeats a price
        bp = [parse_fixed(p, INST.price_precision) for p, _ in ev["b"]]
        ap = [parse_fixed(p, INST.price_precision) for p, _ in ev["a"]]
        assert bp == sorted(set(bp), reverse=True) and ap == sorted(set(ap))
        _apply(bids, ev["b"])
        _apply(asks, ev["a"])
        assert bids == _top(book.bids, N) and asks == _top(book.asks, N)
        prev_u = ev["u"]
        assert d.last_u == prev_u
    assert emitted == sum(flush_after)
    assert d.flush(T0) is None  # nothing pending


def test_first_snapshot_is_baseline_and_unchanged_book_gives_empty_diff():
    d = DepthDiffer(INST, levels=N)
    b1 = C.BookUpdate(SYM, ((px("30000.0"), qty("1")),), ((px("30000.1"), qty("2")),), 10)
    assert d.update(b1, T0) is None and d.last_u == 10
    ev = d.update(C.BookUpdate(SYM, b1.bids, b1.asks, 11), T0 + 1)
    assert (ev["U"], ev["u"], ev["pu"], ev["b"], ev["a"]) == (11, 11, 10, [], [])
    ev = d.update(C.BookUpdate(SYM, ((px("29999.9"), qty("3")),), b1.asks, 15), T0 + 2)
    assert (ev["U"], ev["u"], ev["pu"]) == (12, 15, 11)
    assert ev["b"] == [["30000.00", "0.000"], ["29999.90", "3.000"]] and ev["a"] == []


def test_coalesced_updates_keep_pu_equal_previous_u():
    d = DepthDiffer(INST, levels=N, base=C.BookUpdate(SYM, ((px("30000.0"), qty("1")),), (), 100))
    for i, q in enumerate(("2", "3", "1"), start=101):  # 3 updates, one 100 ms event; the last equals the base
        d.feed(C.BookUpdate(SYM, ((px("30000.0"), qty(q)),), (), i))
    ev = d.flush(T0)
    # the level changed and changed back: still reported, since a client's snapshot may be from inside the range
    assert (ev["U"], ev["u"], ev["pu"], ev["b"]) == (101, 103, 100, [["30000.00", "1.000"]])
    d.feed(C.BookUpdate(SYM, ((px("30000.0"), qty("4")),), (), 107))
    ev = d.flush(T0 + 100)
    assert (ev["U"], ev["u"], ev["pu"], ev["b"]) == (104, 107, 103, [["30000.00", "4.000"]])


def test_rejects_stale_ids_and_other_symbols():
    d = DepthDiffer(INST, base=C.BookUpdate(SYM, (), (), 5))
    with pytest.raises(ValueError):
        d.feed(C.BookUpdate(SYM, (), (), 5))
    with pytest.raises(ValueError):
        d.feed(C.BookUpdate("ETHUSDT", (), (), 6))


def test_u_is_the_rest_last_update_id_sequence_of_a_real_venue():
    """The engine's book_update_id (what REST depth reports as lastUpdateId) is the diff stream's u; a client
    snapshotting at any point finds U <= L <= u (or pu == L) on the next event."""
    s = Sim()
    d = DepthDiffer(INST, levels=N)
    d.feed(C.BookUpdate(SYM, s.v.market(SYM).bids, s.v.market(SYM).asks, s.v.market(SYM).book_update_id))
    events, snapshots = [], []
    for i in range(1, 8):
        s.book([(f"{30000 - i}.0", str(i))], [(f"{30000 + i}.1", "1")])
        m = s.v.market(SYM)
        snapshots.append(m.book_update_id)
        d.feed(C.BookUpdate(SYM, m.bids, m.asks, m.book_update_id))
        if i % 3 == 0 or i == 7:
            events.append(d.flush(s.clock.now_ms()))
    assert events[-1]["u"] == s.v.market(SYM).book_update_id
    for L in snapshots:
        nxt = [e for e in events if e["u"] >= L][0]
        assert nxt["U"] <= L <= nxt["u"] or nxt["pu"] == L
    for a, b in zip(events, events[1:]):
        assert b["pu"] == a["u"]


@settings(max_examples=150, deadline=None)
@given(base=books(), scen=scenarios(), data=st.data())
def test_a_snapshot_taken_inside_a_coalesced_interval_syncs(base, scen, data):
    """Contract §4.4: a client whose REST snapshot L satisfies U <= L <= u of the first event it applies ends
    with the exact book, whichever update inside the coalesced interval L belongs to."""
    updates, _ = scen
    base_book = C.BookUpdate(SYM, base[0], base[1], updates[0].update_id - 1)
    d = DepthDiffer(INST, levels=N, base=base_book)
    snap = data.draw(st.sampled_from([base_book, *updates]))
    for book in updates:
        d.feed(book)
    ev = d.flush(T0)
    if ev is None:
        return
    assert ev["U"] <= snap.update_id + 1 and snap.update_id <= ev["u"]
    bids, asks = _top(snap.bids, N), _top(snap.asks, N)
    _apply(bids, ev["b"])
    _apply(asks, ev["a"])
    assert bids == _top(updates[-1].bids, N) and asks == _top(updates[-1].asks, N)
