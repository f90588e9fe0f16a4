"""new_signals / head / reset payloads (seed 002, signals.md §3.4) and the Areix Submit Signal check (seed 003)."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alfax.signals import payloads as PL
from alfax.signals import phoenix_wire as P
from alfax.signals import sse_wire as S

from .records import Rec




# seed 003, Submit Signal example payload (Python True → JSON true)
SEED_SUBMIT = {"symbol": "BTCUSDT", "datetime": "2022-10-05 12:03:11", "price": 19300, "side": "buy",
               "quantity": 0.05, "exchange": "bybit", "asset_type": "perpetual", "leverage": 5,
               "validate_only": True}

# seed 002, the new_signals payload (Minotaur-3), as a provider could publish it in one go
SEED_ALPHAHUB = {
    "close": [{"price": 216.08, "side": "buy", "symbol": "VRTX", "timestamp": "2021-04-26T14:30:00"},
              {"price": 87.1, "side": "sell", "symbol": "MU", "timestamp": "2021-04-26T14:30:00"}],
    "open": [{"price": 168.56, "side": "buy", "symbol": "JBHT", "timestamp": "2021-04-26T14:30:01"}],
}

ALPHAHUB_ITEM_KEYS = {"price", "side", "symbol", "timestamp"}


# ------------------------------------------------------------------------------------------ submit signal

def test_seed_submit_signal_normalised():
    norm, errors = PL.validate_submit_signal(SEED_SUBMIT)
    assert errors == []
    assert norm == {"action": "open", "asset_type": "PERPETUAL", "datetime": "2022-10-05T12:03:11",
                    "exchange": "BYBIT", "leverage": 5, "price": "19300", "quantity": "0.05", "side": "buy",
                    "symbol": "BTCUSDT", "ts": 1664971391000, "validate_only": True}


def test_normalised_form_is_a_fixed_point():
    norm, _ = PL.validate_submit_signal(SEED_SUBMIT)
    assert PL.validate_submit_signal(norm) == (norm, [])


def test_minimal_signal_and_defaults():
    norm, errors = PL.validate_submit_signal({"symbol": " ethusdt ", "side": "SELL"})
    assert errors == []
    assert norm == {"action": "open", "asset_type": "PERPETUAL", "exchange": "BINANCE", "side": "sell",
                    "symbol": "ETHUSDT", "validate_only": False}


def test_close_signals():
    assert PL.validate_submit_signal({"symbol": "BTCUSDT", "side": "sell", "action": "CLOSE"})[0]["action"] == "close"
    assert PL.validate_submit_signal({"symbol": "BTCUSDT", "side": "sell", "reduce_only": True})[0]["action"] == "close"
    norm, errors = PL.validate_submit_signal({"symbol": "BTCUSDT", "side": "sell", "action": "open",
                                              "reduce_only": True})
    assert norm is None and errors == [{"field": "reduce_only", "message": "contradicts action 'open'"}]


@pytest.mark.parametrize("value, expected", [
    ("2022-10-05 12:03:11", ("2022-10-05T12:03:11", 1664971391000)),
    ("2022-10-05T12:03:11Z", ("2022-10-05T12:03:11", 1664971391000)),
    ("2022-10-05T20:03:11+08:00", ("2022-10-05T12:03:11", 1664971391000)),
    ("2022-10-05 12:03:11.250", ("2022-10-05T12:03:11.250000", 1664971391250)),
    (1664971391000, ("2022-10-05T12:03:11", 1664971391000)),
])
def test_datetimes(value, expected):
    norm, errors = PL.validate_submit_signal({"symbol": "BTCUSDT", "side": "buy", "datetime": value})
    assert errors == [] and (norm["datetime"], norm["ts"]) == expected


@pytest.mark.parametrize("doc, field_, fragment", [
    ({"side": "buy"}, "symbol", "required"),
    ({"symbol": "BTCUSDT"}, "side", "required"),
    ({"symbol": "BTC/USDT", "side": "buy"}, "symbol", "symbol"),
    ({"symbol": 5, "side": "buy"}, "symbol", "symbol"),
    ({"symbol": "BTCUSDT", "side": "long"}, "side", "buy, sell"),
    ({"symbol": "BTCUSDT", "side": "buy", "price": 0}, "price", "greater than 0"),
    ({"symbol": "BTCUSDT", "side": "buy", "price": "abc"}, "price", "not a number"),
    ({"symbol": "BTCUSDT", "side": "buy", "price": "NaN"}, "price", "finite"),
    ({"symbol": "BTCUSDT", "side": "buy", "price": True}, "price", "number"),
    ({"symbol": "BTCUSDT", "side": "buy", "quantity": -1}, "quantity", "greater than 0"),
    ({"symbol": "BTCUSDT", "side": "buy", "quantity": "1e-40"}, "quantity", "digits"),
    ({"symbol": "BTCUSDT", "side": "buy", "leverage": 200}, "leverage", "1 to 125"),
    ({"symbol": "BTCUSDT", "side": "buy", "leverage": 2.5}, "leverage", "integer"),
    ({"symbol": "BTCUSDT", "side": "buy", "exchange": "FTX"}, "exchange", "BINANCE"),
    ({"symbol": "BTCUSDT", "side": "buy", "asset_type": "spot"}, "asset_type", "PERPETUAL"),
    ({"symbol": "BTCUSDT", "side": "buy", "validate_only": "yes"}, "validate_only", "true or false"),
    ({"symbol": "BTCUSDT", "side": "buy", "datetime": "yesterday"}, "datetime", "YYYY-MM-DD"),
    ({"symbol": "BTCUSDT", "side": "buy", "datetime": -5}, "datetime", "range"),
    ({"symbol": "BTCUSDT", "side": "buy", "datetime": "1969-12-31 23:59:59"}, "datetime", "range"),
    ({"symbol": "BTCUSDT", "side": "buy", "action": "flip"}, "action", "open, close"),
    ({"symbol": "BTCUSDT", "side": "buy", "dedupe_key": ""}, "dedupe_key", "non-empty"),
    ({"symbol": "BTCUSDT", "side": "buy", "quantiy": 1}, "quantiy", "unknown field"),
])
def test_submit_errors(doc, field_, fragment):
    norm, errors = PL.validate_submit_signal(doc)
    assert norm is None
    assert [e for e in errors if e["field"] == field_ and fragment in e["message"]], errors


def test_all_errors_reported_at_once():
    norm, errors = PL.validate_submit_signal({"price": -1, "side": "x", "leverage": 0})
    assert norm is None
    assert {e["field"] for e in errors} == {"symbol", "side", "price", "leverage"}
    assert all(set(e) == {"field", "message"} for e in errors)


@pytest.mark.parametrize("doc", [None, [], "signal", 5])
def test_body_must_be_an_object(doc):
    assert PL.validate_submit_signal(doc) == (None, [{"field": "", "message": "body must be a JSON object"}])


def test_validate_only_string_forms():
    assert PL.validate_submit_signal({"symbol": "BTCUSDT", "side": "buy", "validate_only": "True"})[0][
        "validate_only"] is True


_datetime_text = st.datetimes().map(lambda d: d.isoformat(sep=" "))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(PL._FIELDS + ("junk",)),
                       st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
                       | _datetime_text | st.sampled_from(["buy", "SELL", "BTCUSDT", "close", "okx", "1.5"]),
                       max_size=8))
def test_fuzz_validate_never_raises(doc):
    norm, errors = PL.validate_submit_signal(doc)
    assert (norm is None) == bool(errors)
    if norm is not None:
        orjson.dumps(norm)  # storable as is: no Decimal, no float amounts
        assert not any(isinstance(norm.get(k), float) for k in ("price", "quantity"))
        assert PL.validate_submit_signal(norm) == (norm, [])


# ------------------------------------------------------------------------------------------ new_signals

def test_submit_signal_to_alphahub_item():
    norm, _ = PL.validate_submit_signal(SEED_SUBMIT)
    payload = PL.new_signals_payload([Rec("alpha", 7, "e7", 1664971392000, norm)])
    assert payload == {
        "channel": "alpha", "close": [], "epoch": "e7", "first_seq": 7,
        "open": [{"asset_type": "PERPETUAL", "epoch": "e7", "exchange": "BYBIT", "id": "e7:7", "leverage": 5,
                  "price": 19300, "quantity": 0.05, "seq": 7, "side": "buy", "symbol": "BTCUSDT",
                  "timestamp": "2022-10-05T12:03:11"}],
        "seq": 7, "signal_id": "e7:7", "ts": 1664971392000}


def test_close_signal_goes_to_close_and_market_signal_has_null_price():
    norm, _ = PL.validate_submit_signal({"symbol": "ETHUSDT", "side": "sell", "action": "close"})
    payload = PL.new_signals_payload([Rec("alpha", 1, "e7", 1619447400000, norm)])
    assert payload["open"] == []
    [item] = payload["close"]
    assert item["price"] is None and item["side"] == "sell" and item["symbol"] == "ETHUSDT"
    assert item["timestamp"] == "2021-04-26T14:30:00"  # from the record's ts when the signal has no datetime


def test_alphahub_shaped_payload_passes_through_with_cursor_fields():
    payload = PL.new_signals_payload([Rec("16", 41, "ab", 0, SEED_ALPHAHUB)])
    assert [i["symbol"] for i in payload["close"]] == ["VRTX", "MU"]
    assert [i["symbol"] for i in payload["open"]] == ["JBHT"]
    for bucket in ("open", "close"):
        for item, original in zip(payload[bucket], SEED_ALPHAHUB[bucket]):
            assert {k: item[k] for k in ALPHAHUB_ITEM_KEYS} == original
            assert (item["seq"], item["epoch"], item["id"]) == (41, "ab", "ab:41")


def test_several_records_in_one_push():
    recs = [Rec("c", 1, "ab", 0, {"symbol": "BTCUSDT", "side": "buy", "action": "open", "price": "100.5"}),
            Rec("c", 2, "ab", 1, {"symbol": "BTCUSDT", "side": "sell", "action": "close", "price": "101"}),
            Rec("c", 3, "ab", 2, {"symbol": "ETHUSDT", "side": "buy", "price": "0.1000000000000000055511"})]
    payload = PL.new_signals_payload(recs)
    assert (payload["first_seq"], payload["seq"], payload["signal_id"], payload["ts"]) == (1, 3, "ab:3", 2)
    assert [i["seq"] for i in payload["open"]] == [1, 3] and [i["seq"] for i in payload["close"]] == [2]
    assert payload["open"][0]["price"] == 100.5 and payload["close"][0]["price"] == 101
    assert payload["open"][1]["price"] == "0.1000000000000000055511"  # a float would change its digits
    with pytest.raises(ValueError):
        PL.new_signals_payload([])


def test_new_signals_frame_in_alphahub_form():
    """What an AlphaHub client receives: the seed's frame shape, on_signal(id, info) gets the last element."""
    frame = P.push("algorithms:16", P.NEW_SIGNALS, PL.new_signals_payload([Rec("16", 1, "ab", 0, SEED_ALPHAHUB)]))
    msg = json.loads(P.encode(frame))
    assert msg[:4] == [None, None, "algorithms:16", "new_signals"]
    info = msg[-1]
    assert list(info)[:2] == ["channel", "close"] and sorted(info) == list(info)  # sorted keys, as Phoenix
    assert all(ALPHAHUB_ITEM_KEYS <= set(i) for i in info["open"] + info["close"])


def test_payload_works_with_ledger_records():
    ledger = pytest.importorskip("alfax.ledger.signal_log")
    rec = ledger.SignalRecord("c", 5, "ab", 0, {"symbol": "BTCUSDT", "side": "buy", "price": "1"})
    assert PL.new_signals_payload([rec])["open"][0]["id"] == "ab:5"


# ------------------------------------------------------------------------------------------ notices

def test_head_and_reset_notices():
    assert PL.head_notice("alpha", "e7", 1047) == {"channel": "alpha", "epoch": "e7", "id": "e7:1047", "seq": 1047}
    assert PL.reset_notice("alpha", "e8", 1047, "epoch_changed") == {
        "channel": "alpha", "epoch": "e8", "head_seq": 1047, "id": "e8:1047", "reason": "epoch_changed",
        "reset": True}
    assert PL.join_response("e7", 1047, 6) == {"epoch": "e7", "head_seq": 1047, "replay": 6}
    for bad in (("alpha", "", 1), ("alpha", "a:b", 1), ("alpha", "e", -1), ("alpha", "e", True)):
        with pytest.raises(ValueError):
            PL.head_notice(*bad)
    with pytest.raises(ValueError):
        PL.reset_notice("alpha", "e8", 1, "")


def test_notices_on_the_wire():
    head = PL.head_notice("alpha", "e7", 1047)
    assert P.encode(P.push("algorithms:alpha", P.HEAD, head, join_ref="5")) == (
        '["5",null,"algorithms:alpha","head",{"channel":"alpha","epoch":"e7","id":"e7:1047","seq":1047}]')
    reset = PL.reset_notice("alpha", "e8", 1047, "cursor_expired")
    assert S.json_event_frame(reset["id"], "reset", reset) == (
        b'id: e8:1047\nevent: reset\ndata: {"channel":"alpha","epoch":"e8","head_seq":1047,"id":"e8:1047",'
        b'"reason":"cursor_expired","reset":true}\n\n')
    assert S.id_only_frame(head["id"]) == b"id: e7:1047\n\n"


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries(
    {"symbol": st.sampled_from(["BTCUSDT", "ethusdt"]), "side": st.sampled_from(["buy", "SELL"])},
    optional={"price": st.integers() | st.floats() | st.decimals().map(str),
              "quantity": st.floats(min_value=1e-8, max_value=1e6) | st.decimals().map(str),
              "leverage": st.integers(0, 200),
              "datetime": _datetime_text | st.integers(-1, 2 ** 48),
              "ts": st.integers(-1, 2 ** 48),
              "action": st.sampled_from(["open", "close", "CLOSE", "x"]),
              "reduce_only": st.booleans(),
              "validate_only": st.booleans()}))
def test_fuzz_signals_fixed_point_and_push(doc):
    norm, errors = PL.validate_submit_signal(doc)
    if errors:
        assert norm is None
        return
    assert PL.validate_submit_signal(norm) == (norm, [])
    payload = PL.new_signals_payload([Rec("c", 1, "ab", 0, norm)])
    [item] = payload["open"] + payload["close"]
    assert (item in payload["close"]) == (norm["action"] == "close")
    assert ALPHAHUB_ITEM_KEYS <= set(item)
    P.decode(P.encode(P.push("algorithms:c", P.NEW_SIGNALS, payload)))
