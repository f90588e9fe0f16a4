"""Phoenix channels V2 JSON serializer (signals.md §3; seed 002, the AlphaHub client). Pure, no I/O.

Every text frame is a JSON array ``[join_ref, ref, topic, event, payload]``: refs are strings or ``null``
(AlphaHub sends ``null`` for both), topic and event non-empty strings, payload a JSON object. Replies keep the
request's join_ref, ref and topic and carry ``{"response": …, "status": "ok"|"error"}`` (keys in this order, as
Phoenix emits them); server pushes have ``ref = null``. Anything else is a :class:`PhoenixProtocolError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

__all__ = [
    "PhoenixProtocolError", "Frame", "decode", "encode", "reply", "heartbeat_reply", "push", "close_frame",
    "error_frame", "is_heartbeat", "join_params", "algorithm_topic", "parse_algorithm_topic",
    "PHX_JOIN", "PHX_LEAVE", "PHX_REPLY", "PHX_CLOSE", "PHX_ERROR", "HEARTBEAT", "PHOENIX_TOPIC", "NEW_SIGNALS",
    "HEAD", "ALGORITHMS_PREFIX", "VSN",
]

VSN = "2.0.0"
PHX_JOIN = "phx_join"
PHX_LEAVE = "phx_leave"
PHX_REPLY = "phx_reply"
PHX_CLOSE = "phx_close"
PHX_ERROR = "phx_error"
HEARTBEAT = "heartbeat"
PHOENIX_TOPIC = "phoenix"
NEW_SIGNALS = "new_signals"
HEAD = "head"
ALGORITHMS_PREFIX = "algorithms:"

MAX_FRAME_CHARS = 1 << 20  # 1 MiB of text: far beyond any legitimate client frame
MAX_SEQ = (1 << 63) - 1


class PhoenixProtocolError(ValueError):
    """A frame that is not a V2 ``[join_ref, ref, topic, event, payload]`` array."""


@dataclass(frozen=True, slots=True)
class Frame:
    join_ref: str | None
    ref: str | None
    topic: str
    event: str
    payload: dict


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def decode(text: str | bytes) -> Frame:
    """Parse one text frame. Raises :class:`PhoenixProtocolError` (and nothing else) on any malformed input."""
    if not isinstance(text, (str, bytes, bytearray, memoryview)):
        raise PhoenixProtocolError(f"frame must be text, not {type(text).__name__}")
    if len(text) > MAX_FRAME_CHARS:
        raise PhoenixProtocolError(f"frame too large ({len(text)} > {MAX_FRAME_CHARS})")
    try:
        doc = orjson.loads(text)
    except (orjson.JSONDecodeError, ValueError, TypeError, RecursionError) as exc:
        raise PhoenixProtocolError(f"frame is not valid JSON: {exc}") from None
    if not isinstance(doc, list):
        raise PhoenixProtocolError(
            f"frame must be a JSON array [join_ref, ref, topic, event, payload] (vsn=2.0.0), not {type(doc).__name__}")
    if len(doc) != 5:
        raise PhoenixProtocolError(f"frame must have 5 elements [join_ref, ref, topic, event, payload], got {len(doc)}")
    join_ref, ref, topic, event, payload = doc
    for name, value in (("join_ref", join_ref), ("ref", ref)):
        if value is not None and not isinstance(value, str):
            raise PhoenixProtocolError(f"{name} must be a string or null, not {_describe(value)}")
    for name, value in (("topic", topic), ("event", event)):
        if not isinstance(value, str) or not value:
            raise PhoenixProtocolError(f"{name} must be a non-empty string, not {_describe(value)}")
    if not isinstance(payload, dict):
        raise PhoenixProtocolError(f"payload must be a JSON object, not {_describe(payload)}")
    return Frame(join_ref, ref, topic, event, payload)


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    raise TypeError(f"cannot encode {type(obj).__name__} in a Phoenix payload")


def encode(frame: Frame) -> str:
    """Compact JSON array text (no spaces), e.g. ``[null,null,"phoenix","phx_reply",{"response":{},"status":"ok"}]``."""
    return orjson.dumps([frame.join_ref, frame.ref, frame.topic, frame.event, frame.payload],
                        default=_default).decode("utf-8")


def reply(frame: Frame, status: str, response: dict | None = None) -> Frame:
    """The ``phx_reply`` to ``frame``: same join_ref, ref and topic; payload ``{"response": …, "status": …}``."""
    if status not in ("ok", "error"):
        raise ValueError(f"reply status must be 'ok' or 'error', not {status!r}")
    return Frame(frame.join_ref, frame.ref, frame.topic, PHX_REPLY,
                 {"response": {} if response is None else response, "status": status})


def is_heartbeat(frame: Frame) -> bool:
    return frame.topic == PHOENIX_TOPIC and frame.event == HEARTBEAT


def heartbeat_reply(frame: Frame) -> Frame:
    """``[…, ref, "phoenix", "phx_reply", {"response": {}, "status": "ok"}]`` for a ``heartbeat`` frame."""
    if not is_heartbeat(frame):
        raise ValueError(f"not a heartbeat: topic={frame.topic!r} event={frame.event!r}")
    return reply(frame, "ok", {})


def push(topic: str, event: str, payload: dict, join_ref: str | None = None) -> Frame:
    """A server push (``ref`` null); ``join_ref`` None is a broadcast as AlphaHub clients see it."""
    return Frame(join_ref, None, topic, event, payload)


def close_frame(topic: str, join_ref: str | None) -> Frame:
    """Graceful channel close: ``[join_ref, join_ref, topic, "phx_close", {}]``."""
    return Frame(join_ref, join_ref, topic, PHX_CLOSE, {})


def error_frame(topic: str, join_ref: str | None, reason: str = "channel_crash") -> Frame:
    """Channel crashed: ``[join_ref, join_ref, topic, "phx_error", {"reason": …}]``."""
    return Frame(join_ref, join_ref, topic, PHX_ERROR, {"reason": reason})


def _non_negative_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_SEQ else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and 0 <= value <= MAX_SEQ else None
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 19:
            number = int(text)
            return number if number <= MAX_SEQ else None
    return None


def join_params(payload: Any) -> tuple[int | None, str | None]:
    """``(last_seq, epoch)`` from a ``phx_join`` payload (§3.4). Missing or invalid values give None:
    ``{}`` (AlphaHub) means live only. ``last_seq`` accepts a non-negative int, an integral float or a digit
    string; ``epoch`` a non-empty string without ':' (at most 64 characters)."""
    if not isinstance(payload, dict):
        return None, None
    last_seq = _non_negative_int(payload.get("last_seq"))
    epoch = payload.get("epoch")
    if isinstance(epoch, str):
        epoch = epoch.strip()
    if not isinstance(epoch, str) or not epoch or ":" in epoch or len(epoch) > 64:
        epoch = None
    return last_seq, epoch


def algorithm_topic(algo_id: int | str) -> str:
    """``algorithms:<id>`` (AlphaHub's topic naming)."""
    if isinstance(algo_id, bool):
        raise ValueError("algorithm id must be an int or a string")
    text = str(algo_id)
    if not text or ":" in text or any(c.isspace() for c in text):
        raise ValueError(f"invalid algorithm id {algo_id!r}")
    return ALGORITHMS_PREFIX + text


def parse_algorithm_topic(topic: Any) -> str | None:
    """``"algorithms:16"`` → ``"16"``; anything else (other prefix, empty or malformed id) → None."""
    if not isinstance(topic, str) or not topic.startswith(ALGORITHMS_PREFIX):
        return None
    algo_id = topic[len(ALGORITHMS_PREFIX):]
    if not algo_id or ":" in algo_id or any(c.isspace() for c in algo_id):
        return None
    return algo_id
