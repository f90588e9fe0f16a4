"""Incremental / cached engine structures against full recomputation (hypothesis over random command streams).

- ``Venue.ooim`` (per-account sum of open-order reserved margin) == the sum over the account's open orders;
- ``Venue.sym_orders`` / ``side_orders`` iterate in order-id order (legacy conditional children register with
  older ids) and hold exactly the open (LIMIT) orders;
- ``risk.available`` == ``risk.figures(...).available``; ``risk.free_reducible`` == the original sorted-claims scan;
- ``risk.reserve_all``'s memo changes nothing: a venue without it reaches the same state hash at every step;
- ``persist.snapshot_json`` == (``snapshot()``, ``state_hash()``), and ``canonical_json`` == ``json.dumps``.
"""

from __future__ import annotations

import hashlib
import json

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from alfax.domain import commands as C
from alfax.domain.enums import OrderType, PositionSide, Side
from alfax.domain.errors import VenueError
from alfax.engine import ManualClock, Venue, persist, risk
from engine_helpers import INSTRUMENTS, SYM, T0, Sim, px, qty
from engine_scenarios import stream


def _ref_free_reducible(v, account_id, symbol, side, pside, exclude=0):
    """The original implementation: build the claims, sort them by order id, walk them."""
    cap = risk.closable(v, account_id, symbol, side, pside)
    if cap == 0:
        return 0
    dual = v.accounts[account_id].dual_side
    claims = [o for o in v.sym_orders.get((account_id, symbol), {}).values()
              if o.side is side and o.position_side is pside and o.type is OrderType.LIMIT
              and o.order_id != exclude and not risk.is_reducing(dual, o.side, o.position_side, o.reduce_only, False)]
    claims.sort(key=lambda o: o.order_id)
    for o in claims:
        if o.order_id > exclude > 0:
            break
        cap -= min(cap, o.remaining)
        if cap == 0:
            break
    return cap


def _check_derived(v: Venue) -> None:
    for a in v.accounts:
        orders = v.acct_orders.get(a, {})
        assert v.ooim.get(a, 0) == sum(o.reserved_margin for o in orders.values()), a
        assert risk.available(v, a) == risk.figures(v, a).available, a
        sides = [(s, p) for s in (Side.BUY, Side.SELL) for p in (PositionSide.BOTH, PositionSide.LONG,
                                                                  PositionSide.SHORT)]
        for side, pside in sides:
            for ex in [0] + [o.order_id for o in orders.values()]:
                assert risk.free_reducible(v, a, SYM, side, pside, ex) == _ref_free_reducible(v, a, SYM, side, pside,
                                                                                                ex)
    for key, d in v.sym_orders.items():
        ids = list(d)
        assert ids == sorted(ids), key
    expect: dict = {}
    for o in sorted(v.orders.values(), key=lambda o: o.order_id):
        if o.type is OrderType.LIMIT:
            expect.setdefault((o.account_id, o.symbol, o.side, o.position_side), []).append(o.order_id)
    assert {k: list(d) for k, d in v.side_orders.items() if d} == expect
    for oid in v.reserve_memo:
        assert oid in v.orders  # forgotten with the order


class _NoMemo(dict):
    """A memo that never hits (and never stores): reserve_all recomputes every reservation."""

    def get(self, key, default=None):
        return default

    def __setitem__(self, key, value):
        pass


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.booleans())
def test_incremental_structures_match_recomputation(seed, risky):
    clock = ManualClock(T0)
    v = Venue(INSTRUMENTS, clock)
    ref = Venue(INSTRUMENTS, clock)
    ref.reserve_memo = _NoMemo()
    for ms, cmd in stream(seed, 250, risky):
        clock.ms = ms
        try:
            v.handle(cmd)
        except VenueError as e:
            try:
                ref.handle(cmd)
            except VenueError as e2:
                assert e2.code == e.code
            else:
                raise AssertionError("the memo-less venue accepted what the venue rejected")
        else:
            ref.handle(cmd)
        _check_derived(v)
        assert v.state_hash() == ref.state_hash()


def test_out_of_order_registration_keeps_id_order():
    s = Sim()
    s.limit(Side.BUY, "0.1", "29000.0")
    first = next(iter(s.v.orders.values()))
    # a legacy conditional order takes its order id now and registers its child later, behind newer orders
    s.do(C.PlaceOrder(1, SYM, Side.BUY, OrderType.STOP, quantity=qty("0.1"), price=px("29500.0"),
                      stop_price=px("30100.0")))
    child_id = next(iter(s.v.algos.values())).order_id
    s.limit(Side.BUY, "0.1", "29001.0")
    s.limit(Side.BUY, "0.1", "29002.0")
    s.book([("30100.0", "5")], [("30100.1", "5")])
    s.trade("30100.1")  # triggers the stop: its resting child (older id) registers after the two newer limits
    assert not s.v.algos and child_id in s.v.orders
    ids = list(s.v.sym_orders[(1, SYM)])
    assert ids == sorted(ids) and len(ids) == 4
    assert ids[:2] == [first.order_id, child_id]
    _check_derived(s.v)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000))
def test_snapshot_json_is_snapshot_and_hash(seed):
    clock = ManualClock(T0)
    v = Venue(INSTRUMENTS, clock)
    for ms, cmd in stream(seed, 150, False):
        clock.ms = ms
        try:
            v.handle(cmd)
        except VenueError:
            pass
    v.handle(C.CreateAccount(77, "żółw \x7f \u2603 \"quoted\""))  # non-ASCII and DEL: the stdlib path
    blob, h = v.snapshot_json()
    assert orjson.loads(blob) == json.loads(json.dumps(v.snapshot()))
    assert h == v.state_hash()
    # the hash definition is unchanged: sha256 of json.dumps(user state, separators)
    ref = hashlib.sha256(json.dumps(persist._user_state(v), separators=(",", ":")).encode()).hexdigest()
    assert h == ref
    r = Venue.restore(INSTRUMENTS, clock, orjson.loads(blob))
    assert r.state_hash() == h
    _check_derived(r)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.text(),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_canonical_json_equals_stdlib(obj):
    assert persist.canonical_json(obj) == json.dumps(obj, separators=(",", ":")).encode()
