from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_helpers import builds_all, order, trade

from alfax.domain.commands import ALL_COMMANDS, BookUpdate, PlaceOrder, Tick
from alfax.domain.enums import ExecutionType, OrderType, PositionSide, Side
from alfax.domain.events import AccountUpdated, Event, MarginCall, OrderUpdated
from alfax.domain.orders import AlgoOrder, Evidence, Order, Trade
from alfax.domain.positions import Position
from alfax.ledger import codec


def _exact(a, b):
    """Equal and with the same types all the way down (ints stay ints, tuples stay tuples, enums are enums)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _exact(x, y)
    elif hasattr(a, "__dataclass_fields__"):
        for name in a.__dataclass_fields__:
            _exact(getattr(a, name), getattr(b, name))
    else:
        assert a == b


ANY_COMMAND = st.one_of(*[builds_all(c) for c in ALL_COMMANDS.values()])
ANY_EVENT = st.one_of(*[builds_all(c) for c in codec.ALL_EVENTS.values()])


@settings(max_examples=400, deadline=None)
@given(ANY_COMMAND)
def test_every_command_round_trips_exactly(cmd):
    rec = codec.encode(cmd)
    assert rec["k"] == cmd.kind
    back = codec.decode_command(codec.loads(codec.dumps(rec)))
    _exact(back, cmd)
    # the record itself is JSON-able (stdlib json, arbitrary ints)
    import json

    assert codec.decode_command(json.loads(json.dumps(rec))) == cmd


@pytest.mark.parametrize("kind", sorted(ALL_COMMANDS))
def test_each_command_type_round_trips(kind):
    cls = ALL_COMMANDS[kind]

    @settings(max_examples=60, deadline=None)
    @given(builds_all(cls))
    def inner(cmd):
        _exact(codec.loads_command(codec.dumps_command(cmd)), cmd)

    inner()


@settings(max_examples=300, deadline=None)
@given(ANY_EVENT)
def test_every_event_round_trips_exactly(ev):
    _exact(codec.loads_event(codec.dumps_event(ev)), ev)


@settings(max_examples=100, deadline=None)
@given(builds_all(Order), builds_all(AlgoOrder), builds_all(Trade), builds_all(Position))
def test_nested_entities_round_trip(o, a, t, p):
    for obj in (o, a, t, p):
        _exact(codec.decode_as(type(obj), codec.loads(codec.dumps(codec.encode(obj)))), obj)


def test_registries_cover_domain():
    import alfax.domain.events as ev_mod

    declared = {c.kind for c in vars(ev_mod).values() if isinstance(c, type) and issubclass(c, Event) and c.kind}
    assert set(codec.ALL_EVENTS) == declared
    assert len(codec.ALL_EVENTS) == 12  # + ChallengeUpdated, PayoutUpdated (issue 4)
    assert len(ALL_COMMANDS) == 22  # + StartChallenge, FailChallenge, RequestPayout, DecidePayout


def test_book_update_levels_are_tuples_and_compact():
    b = BookUpdate("BTCUSDT", ((6_500_000, 3), (6_499_990, 1)), (), 42)
    rec = codec.encode(b)
    assert rec == {"k": "book", "symbol": "BTCUSDT", "bids": [[6_500_000, 3], [6_499_990, 1]], "asks": [], "update_id": 42}
    back = codec.loads_command(codec.dumps_command(b))
    assert back == b and type(back.bids) is tuple and type(back.bids[0]) is tuple
    assert codec.encode(Tick()) == {"k": "tick"}


def test_defaults_omitted_enums_as_values_and_none_preserved():
    p = PlaceOrder(1, "BTCUSDT", Side.BUY, OrderType.LIMIT, quantity=5, price=100)
    assert codec.encode(p) == {"k": "place_order", "account_id": 1, "symbol": "BTCUSDT", "side": "BUY",
                               "type": "LIMIT", "quantity": 5, "price": 100}
    o = order(7)
    ev = OrderUpdated(seq=1, ts=5, account_id=1, order=o, exec_type=ExecutionType.NEW, trade=None)
    back = codec.loads_event(codec.dumps_event(ev))
    assert back.trade is None and back.exec_type is ExecutionType.NEW and back.order == o
    t = trade(1, 7)
    ev2 = OrderUpdated(seq=2, ts=5, account_id=1, order=o, exec_type=ExecutionType.TRADE, trade=t)
    back2 = codec.loads_event(codec.dumps_event(ev2))
    assert back2.trade == t and back2.trade.evidence == Evidence("book", 77, 6_500_000, 5)
    t_none = Trade(2, 7, 1, "X", Side.SELL, PositionSide.BOTH, 1, 1, 1, 0, 0, True, 9, None)
    assert codec.decode_as(Trade, codec.encode(t_none)).evidence is None


def test_positions_tuples_in_events():
    pos = (Position(1, "BTCUSDT", PositionSide.LONG, qty=3, entry_notional=10**20),
           Position(1, "ETHUSDT", PositionSide.SHORT, qty=-2))
    ev = MarginCall(seq=3, ts=4, account_id=1, cross_wallet_balance=-5, positions=pos, maint_margins=(1, 2),
                    mark_prices=(3, 4))
    back = codec.loads_event(codec.dumps_event(ev))
    _exact(back, ev)
    au = AccountUpdated(seq=4, ts=5, account_id=1, reason=__import__("alfax.domain.enums", fromlist=["x"]).BalanceReason.ORDER,
                        wallet_balance=1, cross_wallet_balance=1, balance_change=0, positions=pos)
    _exact(codec.loads_event(codec.dumps_event(au)), au)


def test_big_ints_survive_bytes():
    p = PlaceOrder(1, "BTCUSDT", Side.BUY, OrderType.LIMIT, quantity=10**22, price=-(10**21) - 7)
    data = codec.dumps_command(p)
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(codec.encode(p))
    back = codec.loads_command(data)
    assert back == p and type(back.quantity) is int


def test_unknown_kind_rejected():
    with pytest.raises(codec.CodecError):
        codec.decode_command({"k": "nope"})
    with pytest.raises(codec.CodecError):
        codec.decode_event({"k": "nope"})
