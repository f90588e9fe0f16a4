"""Server-Sent Events framing (WHATWG HTML §9.2; signals.md §2). Pure functions returning UTF-8 bytes.

Rules kept here:
- every line ends with LF; an event ends with a blank line;
- ``data`` is split on CRLF, LF and CR only (the standard's line ends — *not* ``str.splitlines``, which also
  splits on VT, FF, U+2028, …), one ``data:`` line per piece, so the client's joined buffer equals ``data``;
- an ``id`` is never empty (an empty ``id:`` resets the browser's cursor) and never contains CR, LF or NUL;
- the resume cursor is the ``Last-Event-ID`` header if non-empty, else the ``last_id`` query parameter (the
  browser re-uses the original URL on auto-reconnect, so the query value goes stale; the header does not).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import orjson

__all__ = [
    "CONTENT_TYPE", "RESPONSE_HEADERS", "DEFAULT_RETRY_MS", "KEEPALIVE_SECONDS",
    "event_frame", "json_event_frame", "id_only_frame", "retry_frame", "comment_frame", "resume_cursor",
    "record_event_id", "frames_for_records",
]

CONTENT_TYPE = "text/event-stream; charset=utf-8"
RESPONSE_HEADERS = {"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
DEFAULT_RETRY_MS = 3000
KEEPALIVE_SECONDS = 15.0

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _text(value: str | bytes, what: str) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"SSE {what} is not valid UTF-8: {exc}") from None
    if isinstance(value, str):
        return value
    raise TypeError(f"SSE {what} must be str or bytes, not {type(value).__name__}")


def _field_value(value: str, what: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"SSE {what} must not contain CR or LF: {value!r}")
    return value


def event_frame(id: str | None, event: str | None, data: str | bytes) -> bytes:  # noqa: A002 - the field's name
    """One event: ``id: …`` (if given), ``event: …`` (if given and non-empty), ``data: …`` lines, blank line."""
    parts: list[str] = []
    if id is not None:
        id = _field_value(_text(id, "id"), "id")
        if not id:
            raise ValueError("SSE id must not be empty (an empty id: resets the client's Last-Event-ID)")
        if "\x00" in id:
            raise ValueError("SSE id must not contain NUL (clients ignore such an id)")
        parts.append(f"id: {id}\n")
    if event is not None:
        event = _field_value(_text(event, "event"), "event")
        if event:
            parts.append(f"event: {event}\n")
    for line in _LINE_BREAK.split(_text(data, "data")):
        parts.append(f"data: {line}\n")
    parts.append("\n")
    return "".join(parts).encode("utf-8")


def _json_default(obj: Any) -> Any:
    from decimal import Decimal

    if isinstance(obj, Decimal):
        return str(obj)
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def json_event_frame(id: str | None, event: str | None, obj: Any) -> bytes:  # noqa: A002
    """:func:`event_frame` with ``obj`` encoded as compact JSON (one line: JSON never holds a raw newline)."""
    return event_frame(id, event, orjson.dumps(obj, default=_json_default))


def id_only_frame(id: str) -> bytes:  # noqa: A002
    """``id: …`` then a blank line: advances the client's cursor without a message (the SSE head notice)."""
    id = _field_value(_text(id, "id"), "id")
    if not id or "\x00" in id:
        raise ValueError("SSE id must be non-empty and free of NUL")
    return f"id: {id}\n\n".encode("utf-8")


def retry_frame(ms: int = DEFAULT_RETRY_MS) -> bytes:
    """``retry: <ms>`` (the client's reconnection delay); sent once at stream start."""
    if isinstance(ms, bool) or not isinstance(ms, int) or ms < 0:
        raise ValueError(f"SSE retry must be a non-negative int of milliseconds, not {ms!r}")
    return f"retry: {ms}\n\n".encode("ascii")


def comment_frame(text: str = "keepalive") -> bytes:
    """``: keepalive`` (a comment: invisible to ``onmessage``; keeps proxies from dropping an idle stream)."""
    lines = _LINE_BREAK.split(_text(text, "comment"))
    return ("".join(f": {line}\n" if line else ":\n" for line in lines) + "\n").encode("utf-8")


def resume_cursor(headers_last_event_id: str | None, query_last_id: str | None) -> str | None:
    """The client's cursor: the ``Last-Event-ID`` header if non-empty, else ``last_id``, else None (live only).

    Values are stripped; blank values count as absent."""
    for value in (headers_last_event_id, query_last_id):
        if value is not None:
            value = value.strip()
            if value:
                return value
    return None


def record_event_id(record: Any) -> str:
    """``"<epoch>:<seq>"`` of a record (its own ``event_id`` if it has one)."""
    event_id = getattr(record, "event_id", None)
    if isinstance(event_id, str) and event_id:
        return event_id
    return f"{record.epoch}:{record.seq}"


def frames_for_records(records: Iterable[Any], event: str | None = "signal") -> bytes:
    """The events for ``records`` in order, each with its own ``id:`` (the epoch:seq cursor) so a client resumes
    from exactly the last one it saw. ``data`` is the record's stored JSON (``raw``) when present, else its
    ``payload`` encoded with orjson."""
    out = bytearray()
    for record in records:
        raw = getattr(record, "raw", b"")
        data = raw if raw else orjson.dumps(record.payload, default=_json_default)
        out += event_frame(record_event_id(record), event, data)
    return bytes(out)
