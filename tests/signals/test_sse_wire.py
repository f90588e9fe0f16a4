"""SSE framing (signals.md §2), checked against a small WHATWG event-stream parser written from the standard."""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alfax.signals import sse_wire as S

from .records import Rec


def parse_stream(raw: bytes) -> tuple[list[tuple[str, str, str]], dict]:
    """WHATWG HTML §9.2.6 "interpreting an event stream": → [(type, data, last_event_id)], {retry, comments}."""
    text = raw.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    events: list[tuple[str, str, str]] = []
    state = {"retry": None, "comments": [], "last_id": ""}
    data, etype, id_buf = "", "", ""
    lines = re.split(r"\r\n|\r|\n", text)
    assert lines[-1] == "", "stream must end with a line break"
    for line in lines[:-1]:
        if line == "":
            state["last_id"] = id_buf
            if data == "":
                etype = ""
                continue
            if data.endswith("\n"):
                data = data[:-1]
            events.append((etype or "message", data, id_buf))
            data, etype = "", ""
            continue
        if line.startswith(":"):
            state["comments"].append(line[1:])
            continue
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data += value + "\n"
        elif name == "event":
            etype = value
        elif name == "id":
            if "\x00" not in value:
                id_buf = value
        elif name == "retry" and value.isascii() and value.isdigit():
            state["retry"] = int(value)
    return events, state




# ------------------------------------------------------------------------------------------ exact frames

def test_event_frame_exact():
    assert S.event_frame("e7:1047", "signal", '{"a":1}') == b'id: e7:1047\nevent: signal\ndata: {"a":1}\n\n'
    assert S.event_frame(None, None, "hi") == b"data: hi\n\n"
    assert S.event_frame("1", "", b"x") == b"id: 1\ndata: x\n\n"  # empty event type: the default "message"


def test_multiline_data_split_on_every_line_end():
    assert S.event_frame(None, None, "a\nb\r\nc\rd") == b"data: a\ndata: b\ndata: c\ndata: d\n\n"
    assert S.event_frame(None, None, "a\n") == b"data: a\ndata: \n\n"
    # VT, FF, NEL, U+2028 are not SSE line ends: they stay inside one data line
    assert S.event_frame(None, None, "a\x0bb\x0cc\x85d\u2028e") == "data: a\x0bb\x0cc\x85d\u2028e\n\n".encode()


def test_leading_space_of_data_survives():
    events, _ = parse_stream(S.event_frame("1", None, "  two spaces"))
    assert events == [("message", "  two spaces", "1")]


def test_retry_and_comment_frames():
    assert S.retry_frame(3000) == b"retry: 3000\n\n"
    assert S.retry_frame() == b"retry: 3000\n\n"
    assert S.comment_frame() == b": keepalive\n\n"
    assert S.comment_frame("a\nb") == b": a\n: b\n\n"
    assert S.comment_frame("") == b":\n\n"
    events, state = parse_stream(S.retry_frame(1500) + S.comment_frame() + S.event_frame("e:1", "signal", "{}"))
    assert state["retry"] == 1500 and state["comments"] == [" keepalive"]
    assert events == [("signal", "{}", "e:1")]


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3000", None])
def test_retry_rejects_non_int(bad):
    with pytest.raises(ValueError):
        S.retry_frame(bad)


@pytest.mark.parametrize("bad_id", ["", "a\nb", "a\rb", "a\x00b"])
def test_event_frame_rejects_bad_ids(bad_id):
    with pytest.raises(ValueError):
        S.event_frame(bad_id, None, "x")


def test_event_frame_rejects_bad_event_and_data():
    with pytest.raises(ValueError):
        S.event_frame(None, "a\nb", "x")
    with pytest.raises(ValueError):
        S.event_frame(None, None, b"\xff")
    with pytest.raises(TypeError):
        S.event_frame(None, None, 12)


def test_id_only_frame_moves_the_cursor_without_a_message():
    assert S.id_only_frame("e7:1047") == b"id: e7:1047\n\n"
    events, state = parse_stream(S.event_frame("e7:1", None, "x") + S.id_only_frame("e7:1047"))
    assert events == [("message", "x", "e7:1")] and state["last_id"] == "e7:1047"
    with pytest.raises(ValueError):
        S.id_only_frame("")


def test_json_event_frame_is_one_line():
    frame = S.json_event_frame("e:2", "reset", {"text": "a\nb", "n": 1})
    assert frame == b'id: e:2\nevent: reset\ndata: {"text":"a\\nb","n":1}\n\n'


# ------------------------------------------------------------------------------------------ resume cursor

@pytest.mark.parametrize("header, query, expected", [
    ("e7:1047", "e7:1000", "e7:1047"),   # header wins (the query string is stale after auto-reconnect)
    (None, "e7:1000", "e7:1000"),
    ("", "e7:1000", "e7:1000"),           # empty header ignored
    ("   ", "e7:1000", "e7:1000"),
    ("e7:5", None, "e7:5"),
    ("e7:5", "", "e7:5"),
    (None, None, None),
    ("", "", None),
    (" e7:5 ", None, "e7:5"),
])
def test_resume_cursor(header, query, expected):
    assert S.resume_cursor(header, query) == expected


# ------------------------------------------------------------------------------------------ records

def test_frames_for_records_uses_event_id_and_raw():
    recs = [Rec("c", 1, "ab12", 1000, {"x": 1}, raw=b'{"x":1}'),
            Rec("c", 2, "ab12", 1001, {"y": "2"})]  # no raw: payload encoded
    out = S.frames_for_records(recs)
    assert out == (b'id: ab12:1\nevent: signal\ndata: {"x":1}\n\n'
                   b'id: ab12:2\nevent: signal\ndata: {"y":"2"}\n\n')
    events, state = parse_stream(out)
    assert [e[2] for e in events] == ["ab12:1", "ab12:2"] and state["last_id"] == "ab12:2"
    assert [orjson.loads(e[1]) for e in events] == [{"x": 1}, {"y": "2"}]
    assert S.frames_for_records([]) == b""


def test_frames_for_records_without_event_id_property():
    @dataclass
    class Bare:
        channel: str
        seq: int
        epoch: str
        ts: int
        payload: dict

    assert S.frames_for_records([Bare("c", 9, "ee", 0, {})], event=None) == b"id: ee:9\ndata: {}\n\n"


def test_ledger_signal_record_is_accepted():
    ledger = pytest.importorskip("alfax.ledger.signal_log")  # the test may import the ledger; the package may not
    rec = ledger.SignalRecord("c", 3, "ab", 5, {"k": 1}, raw=b'{"k":1}')
    assert S.frames_for_records([rec]) == b'id: ab:3\nevent: signal\ndata: {"k":1}\n\n'


# ------------------------------------------------------------------------------------------ fuzz

_id_text = st.text(min_size=1, max_size=20).filter(lambda s: not set(s) & {"\r", "\n", "\x00"})


@settings(max_examples=200, deadline=None)
@given(data=st.text(max_size=200), event_id=_id_text, etype=st.text(max_size=10).filter(
    lambda s: "\r" not in s and "\n" not in s))
def test_round_trip_through_a_whatwg_parser(data, event_id, etype):
    events, state = parse_stream(S.comment_frame() + S.event_frame(event_id, etype, data))
    normalised = re.sub(r"\r\n|\r", "\n", data)
    assert state["last_id"] == event_id
    # a "data:" line always exists, so even "" is dispatched (the buffer is "\n" before its LF is removed)
    assert events == [(etype or "message", normalised, event_id)]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=5), st.text(max_size=20), max_size=3), max_size=5))
def test_records_round_trip(payloads):
    recs = [Rec("c", i + 1, "ep", i, p) for i, p in enumerate(payloads)]
    events, _ = parse_stream(S.frames_for_records(recs)) if recs else ([], {})
    assert [(e[0], orjson.loads(e[1]), e[2]) for e in events] == [
        ("signal", p, f"ep:{i + 1}") for i, p in enumerate(payloads)]
