"""Phoenix V2 JSON codec (signals.md §3.1) with the AlphaHub client's frames from seed 002, byte for byte."""

from __future__ import annotations

import json
from decimal import Decimal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alfax.signals import phoenix_wire as P
from alfax.signals.phoenix_wire import Frame, PhoenixProtocolError

# ---- seed 002, literally (the client builds its frames with json.dumps, i.e. with ", " separators)
SEED_JOIN = json.dumps([None, None, "algorithms:14", "phx_join", {}])
SEED_JOIN_REPLY = '[null,null,"algorithms:14","phx_reply",{"response":{},"status":"ok"}]'
SEED_HEARTBEAT = json.dumps([None, None, "phoenix", "heartbeat", {}])
SEED_HEARTBEAT_TEXT = '[null,null,"phoenix","heartbeat",{}]'
SEED_HEARTBEAT_REPLY = '[null,null,"phoenix","phx_reply",{"response":{},"status":"ok"}]'
SEED_SIGNAL = """[
null,
null,
"algorithms:16",
"new_signals",
{
"close":[
{"price":216.08,"side":"buy","symbol":"VRTX","timestamp":"2021-04-26 T14:30:00"},
{"price":87.1,"side":"sell","symbol":"MU","timestamp":"2021-04-26T14:30:00"},
{"price":80.28,"side":"sell"," symbol":"BMRN","timestamp":"2021-04-26T14:30:00"}
],
"open":[
{"price":168.56,"side":"buy","symbol":"JBHT","timestamp":"2021-04-26T14:30:01"},
{"price":414.6,"side":"buy","symbol":"ILMN","timestamp":"2021-04-26T14:30:01"},
{"price":142.94,"side":"sell","symbol":"CDNS","timestamp":"2021-04-26T14:30:01"}
]
}
]"""


def test_seed_join_and_its_reply():
    join = P.decode(SEED_JOIN)
    assert join == Frame(None, None, "algorithms:14", "phx_join", {})
    assert P.parse_algorithm_topic(join.topic) == "14"
    assert P.join_params(join.payload) == (None, None)  # AlphaHub: live only
    assert P.encode(P.reply(join, "ok", {})) == SEED_JOIN_REPLY


def test_seed_heartbeat_and_its_reply():
    for text in (SEED_HEARTBEAT, SEED_HEARTBEAT_TEXT):
        hb = P.decode(text)
        assert P.is_heartbeat(hb)
        assert P.encode(P.heartbeat_reply(hb)) == SEED_HEARTBEAT_REPLY
    assert P.encode(P.decode(SEED_HEARTBEAT)) == SEED_HEARTBEAT_TEXT


def test_seed_signal_push_round_trips():
    frame = P.decode(SEED_SIGNAL)
    assert frame.join_ref is None and frame.ref is None
    assert (frame.topic, frame.event) == ("algorithms:16", "new_signals")
    assert [i["symbol"] for i in frame.payload["open"]] == ["JBHT", "ILMN", "CDNS"]
    again = P.push("algorithms:16", "new_signals", frame.payload)
    assert again == frame
    assert orjson.loads(P.encode(again)) == orjson.loads(SEED_SIGNAL)
    # the AlphaHub client hands the last element to on_signal
    assert json.loads(P.encode(again))[-1] == json.loads(SEED_SIGNAL)[-1]


# ---- reference §3.1 table
def test_reference_frames():
    join = P.decode('["1","1","signals:acct42","phx_join",{"token":"t","last_seq":1041}]')
    assert P.join_params(join.payload) == (1041, None)
    assert P.encode(P.reply(join, "ok", {"epoch": "e7", "head_seq": 1047, "replay": 6})) == (
        '["1","1","signals:acct42","phx_reply",{"response":{"epoch":"e7","head_seq":1047,"replay":6},"status":"ok"}]')
    assert P.encode(P.reply(join, "error", {"reason": "unauthorized"})) == (
        '["1","1","signals:acct42","phx_reply",{"response":{"reason":"unauthorized"},"status":"error"}]')
    unmatched = P.decode('[null,"1","nope:1","phx_join",{}]')
    assert P.encode(P.reply(unmatched, "error", {"reason": "unmatched topic"})) == (
        '[null,"1","nope:1","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]')
    ack = P.decode('["1","7","signals:acct42","ack",{"seq":1047}]')
    assert P.encode(P.reply(ack, "ok")) == '["1","7","signals:acct42","phx_reply",{"response":{},"status":"ok"}]'
    hb = P.decode('[null,"2","phoenix","heartbeat",{}]')
    assert P.encode(P.heartbeat_reply(hb)) == '[null,"2","phoenix","phx_reply",{"response":{},"status":"ok"}]'
    assert P.encode(P.push("signals:acct42", "new_signals", {}, join_ref="1")) == (
        '["1",null,"signals:acct42","new_signals",{}]')
    assert P.encode(P.push("signals:acct42", "new_signals", {})) == '[null,null,"signals:acct42","new_signals",{}]'
    assert P.encode(P.close_frame("signals:acct42", "1")) == '["1","1","signals:acct42","phx_close",{}]'
    assert P.encode(P.error_frame("signals:acct42", "1")) == (
        '["1","1","signals:acct42","phx_error",{"reason":"channel_crash"}]')
    assert P.encode(P.push("signals:alpha16", "head", {"seq": 1047, "epoch": "e7"}, join_ref="5")) == (
        '["5",null,"signals:alpha16","head",{"seq":1047,"epoch":"e7"}]')
    leave = P.decode('["1","9","signals:acct42","phx_leave",{}]')
    assert leave.event == P.PHX_LEAVE


def test_encode_decimal_as_string():
    assert P.encode(P.push("t", "e", {"p": Decimal("1.50")})) == '[null,null,"t","e",{"p":"1.50"}]'


def test_reply_and_heartbeat_reply_validate():
    with pytest.raises(ValueError):
        P.reply(P.decode(SEED_JOIN), "maybe", {})
    with pytest.raises(ValueError):
        P.heartbeat_reply(P.decode(SEED_JOIN))


def test_frame_is_frozen():
    frame = P.decode(SEED_JOIN)
    with pytest.raises(AttributeError):
        frame.topic = "x"  # type: ignore[misc]


# ---- invalid frames
@pytest.mark.parametrize("text, fragment", [
    ("", "not valid JSON"),
    ("nope", "not valid JSON"),
    ('{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"1"}', "JSON array"),  # the V1 object shape
    ("[null,null,\"phoenix\",\"heartbeat\"]", "5 elements"),
    ("[null,null,\"phoenix\",\"heartbeat\",{},1]", "5 elements"),
    ("[1,null,\"phoenix\",\"heartbeat\",{}]", "join_ref"),
    ("[null,2,\"phoenix\",\"heartbeat\",{}]", "ref"),
    ("[null,null,\"\",\"heartbeat\",{}]", "topic"),
    ("[null,null,5,\"heartbeat\",{}]", "topic"),
    ("[null,null,\"phoenix\",null,{}]", "event"),
    ("[null,null,\"phoenix\",\"heartbeat\",[]]", "payload"),
    ("[null,null,\"phoenix\",\"heartbeat\",null]", "payload"),
    ("[" * 5000 + "]" * 5000, "JSON"),
    ("[NaN]", "JSON"),
    (b"\xff\xfe", "JSON"),
])
def test_decode_rejects(text, fragment):
    with pytest.raises(PhoenixProtocolError, match=fragment):
        P.decode(text)


def test_decode_rejects_non_text_and_huge_frames():
    with pytest.raises(PhoenixProtocolError):
        P.decode(None)  # type: ignore[arg-type]
    with pytest.raises(PhoenixProtocolError, match="too large"):
        P.decode('[null,null,"t","e",{"x":"' + "a" * P.MAX_FRAME_CHARS + '"}]')


def test_decode_accepts_bytes():
    assert P.decode(SEED_HEARTBEAT.encode()) == P.decode(SEED_HEARTBEAT)


# ---- join params
@pytest.mark.parametrize("payload, expected", [
    ({}, (None, None)),
    ({"last_seq": 1041, "epoch": "e7"}, (1041, "e7")),
    ({"last_seq": 0}, (0, None)),
    ({"last_seq": "12"}, (12, None)),
    ({"last_seq": 12.0}, (12, None)),
    ({"last_seq": 12.5}, (None, None)),
    ({"last_seq": -1}, (None, None)),
    ({"last_seq": True}, (None, None)),
    ({"last_seq": None, "epoch": None}, (None, None)),
    ({"last_seq": "abc", "epoch": 7}, (None, None)),
    ({"last_seq": 2 ** 64}, (None, None)),
    ({"last_seq": "99999999999999999999"}, (None, None)),
    ({"last_seq": float("nan")}, (None, None)),
    ({"epoch": ""}, (None, None)),
    ({"epoch": "a:b"}, (None, None)),
    ({"epoch": " e7 "}, (None, "e7")),
    ({"epoch": "x" * 65}, (None, None)),
    ([], (None, None)),
    (None, (None, None)),
])
def test_join_params(payload, expected):
    assert P.join_params(payload) == expected


# ---- topics
def test_topics():
    assert P.algorithm_topic(16) == "algorithms:16"
    assert P.algorithm_topic("btc-trend") == "algorithms:btc-trend"
    assert P.parse_algorithm_topic("algorithms:16") == "16"
    for bad in ("algorithms:", "signals:16", "phoenix", "algorithms:a:b", "algorithms:a b", None, 16):
        assert P.parse_algorithm_topic(bad) is None
    for bad in ("", "a:b", "a b", True):
        with pytest.raises(ValueError):
            P.algorithm_topic(bad)


# ---- fuzz: arbitrary text never raises anything but PhoenixProtocolError
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 63), 2 ** 64 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_text(text):
    try:
        frame = P.decode(text)
    except PhoenixProtocolError:
        return
    assert P.decode(P.encode(frame)) == frame


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=100))
def test_fuzz_bytes(data):
    try:
        P.decode(data)
    except PhoenixProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(_json)
def test_fuzz_json_values(value):
    text = json.dumps(value)
    try:
        frame = P.decode(text)
    except PhoenixProtocolError:
        return
    assert P.decode(P.encode(frame)) == frame


_ref = st.none() | st.text(max_size=6)
_name = st.text(min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(_ref, _ref, _name, _name, st.dictionaries(st.text(max_size=5), _json, max_size=4))
def test_round_trip(join_ref, ref, topic, event, payload):
    frame = Frame(join_ref, ref, topic, event, payload)
    assert P.decode(P.encode(frame)) == frame
    rep = P.reply(frame, "ok", payload)
    assert (rep.join_ref, rep.ref, rep.topic, rep.event) == (join_ref, ref, topic, "phx_reply")
    P.join_params(payload)  # never raises
