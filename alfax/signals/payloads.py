"""Signal payloads (issue 5; signals.md §3.4; seeds 002 and 003). Pure functions, no I/O.

**Published signal** (what a provider ``POST /signal``s, Areix's Submit Signal shape, see
:func:`validate_submit_signal`) → stored as the record's ``payload`` (the normalised dict).

**``new_signals`` push** (AlphaHub's shape, seed 002): ``{"close": [item…], "open": [item…]}`` where an item is
``{"price": 216.08, "side": "buy", "symbol": "VRTX", "timestamp": "2021-04-26T14:30:00"}``. Mapping decisions:

- a signal goes to ``close`` when its ``action`` is ``"close"`` (or ``reduce_only`` is true), else to ``open``
  (Areix's shape has no open/close notion, so a plain buy/sell is an opening signal);
- a payload that already is AlphaHub-shaped (``open``/``close`` lists) contributes its items as they are;
- ``price`` is a JSON number as AlphaHub sends it (our Decimal strings are turned into the float that prints
  identically; a value a float cannot print exactly stays a string), ``null`` for a market signal;
- ``timestamp`` is the signal's ``datetime`` (UTC, seconds, ``YYYY-MM-DDTHH:MM:SS``) or else the record's ``ts``;
- additive fields, ignored by AlphaHub clients: ``seq``, ``epoch``, ``id`` (``"<epoch>:<seq>"``, the SSE
  cursor) on every item, ``quantity``/``leverage``/``exchange``/``asset_type`` when the signal has them, and at the
  top level ``seq`` (the last record's, so "apply if seq == last_seq + 1" works for one-record pushes),
  ``first_seq``, ``epoch``, ``ts``, ``signal_id`` and ``channel``.

Keys are emitted in sorted order, as Phoenix (Elixir small maps) emits them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "new_signals_payload", "signal_items", "head_notice", "reset_notice", "join_response",
    "validate_submit_signal", "SIDES", "ACTIONS", "EXCHANGES", "ASSET_TYPES", "RESET_REASONS",
]

SIDES = ("buy", "sell")
ACTIONS = ("open", "close")
EXCHANGES = ("BINANCE", "BYBIT", "OKX")
ASSET_TYPES = ("PERPETUAL", "DATED_FUTURE", "INVERSE_PERPETUAL", "INVERSE_DATED_FUTURE")
RESET_REASONS = ("epoch_changed", "cursor_expired", "cursor_ahead", "channel_reset")
MAX_LEVERAGE = 125
_SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")
_MAX_DECIMAL_DIGITS = 30
_MAX_TEXT = 500


# ---------------------------------------------------------------------------------------------------- helpers

def _record_id(record: Any) -> str:
    event_id = getattr(record, "event_id", None)
    return event_id if isinstance(event_id, str) and event_id else f"{record.epoch}:{record.seq}"


def _utc_seconds(ms: int) -> str:
    return datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _json_number(value: Any) -> Any:
    """Decimal / decimal string → int or float that prints the same digits; otherwise the value unchanged."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return value
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return value
    if not d.is_finite():
        return str(value)
    if d == d.to_integral_value() and abs(d) < (1 << 53):
        return int(d)
    f = float(d)
    return f if Decimal(repr(f)) == d else str(value)


def _item_from_signal(payload: dict, record: Any) -> tuple[str, dict]:
    action = payload.get("action")
    bucket = "close" if action == "close" or (action is None and payload.get("reduce_only") is True) else "open"
    item: dict[str, Any] = {
        "price": _json_number(payload.get("price")),
        "side": str(payload.get("side", "")).lower(),
        "symbol": payload.get("symbol"),
        "timestamp": payload.get("datetime", "")[:19] if isinstance(payload.get("datetime"), str)
        and payload.get("datetime") else _utc_seconds(record.ts),
    }
    for key in ("quantity", "leverage"):
        if payload.get(key) is not None:
            item[key] = _json_number(payload[key])
    for key in ("exchange", "asset_type"):
        if payload.get(key) is not None:
            item[key] = payload[key]
    return bucket, item


def signal_items(record: Any) -> tuple[list[dict], list[dict]]:
    """``(open_items, close_items)`` of one record, each item tagged with ``seq``, ``epoch`` and ``id``."""
    payload = record.payload if isinstance(record.payload, dict) else {}
    tags = {"epoch": record.epoch, "id": _record_id(record), "seq": record.seq}
    opens: list[dict] = []
    closes: list[dict] = []
    if isinstance(payload.get("open"), list) or isinstance(payload.get("close"), list):
        for bucket, out in (("open", opens), ("close", closes)):
            for item in payload.get(bucket) or ():
                if isinstance(item, dict):
                    out.append(dict(sorted({**item, **tags}.items())))
    else:
        bucket, item = _item_from_signal(payload, record)
        (closes if bucket == "close" else opens).append(dict(sorted({**item, **tags}.items())))
    return opens, closes


# ---------------------------------------------------------------------------------------------------- pushes

def new_signals_payload(records: Iterable[Any]) -> dict:
    """AlphaHub's ``{"close": [...], "open": [...]}`` for ``records`` (in order), with our cursor fields."""
    records = list(records)
    if not records:
        raise ValueError("new_signals_payload needs at least one record")
    opens: list[dict] = []
    closes: list[dict] = []
    for record in records:
        o, c = signal_items(record)
        opens += o
        closes += c
    last = records[-1]
    return {
        "channel": last.channel,
        "close": closes,
        "epoch": last.epoch,
        "first_seq": records[0].seq,
        "open": opens,
        "seq": last.seq,
        "signal_id": _record_id(last),
        "ts": last.ts,
    }


def head_notice(channel: str, epoch: str, last_seq: int) -> dict:
    """The periodic ``head`` push (§3.4 step 4): a client with ``last_seq < seq`` (same epoch) has a gap."""
    _check_cursor(epoch, last_seq)
    return {"channel": channel, "epoch": epoch, "id": f"{epoch}:{last_seq}", "seq": last_seq}


def reset_notice(channel: str, epoch: str, head_seq: int, reason: str) -> dict:
    """The explicit reset (SSE ``event: reset``; Phoenix join reply with ``reset: true``): the client's cursor
    cannot be served by replay; continue from ``head_seq`` of ``epoch`` (resync state elsewhere)."""
    _check_cursor(epoch, head_seq)
    if not isinstance(reason, str) or not reason:
        raise ValueError("reset reason must be a non-empty string")
    return {"channel": channel, "epoch": epoch, "head_seq": head_seq, "id": f"{epoch}:{head_seq}",
            "reason": reason, "reset": True}


def join_response(epoch: str, head_seq: int, replay: int) -> dict:
    """The ``phx_join`` ok response when the cursor is served by replay (§3.4 step 2)."""
    _check_cursor(epoch, head_seq)
    return {"epoch": epoch, "head_seq": head_seq, "replay": int(replay)}


def _check_cursor(epoch: Any, seq: Any) -> None:
    if not isinstance(epoch, str) or not epoch or ":" in epoch:
        raise ValueError(f"invalid epoch {epoch!r}")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ValueError(f"invalid seq {seq!r}")


# ---------------------------------------------------------------------------------------------------- submit

_FIELDS = ("symbol", "side", "price", "quantity", "datetime", "exchange", "asset_type", "leverage",
           "validate_only", "action", "reduce_only", "dedupe_key", "comment", "ts")


def _decimal(doc: dict, field: str, errors: list, *, positive: bool = True) -> Decimal | None:
    value = doc.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        errors.append({"field": field, "message": "must be a number or a decimal string"})
        return None
    try:
        d = Decimal(value.strip()) if isinstance(value, str) else Decimal(repr(value) if isinstance(value, float)
                                                                           else value)
    except (InvalidOperation, ValueError):
        errors.append({"field": field, "message": f"not a number: {str(value)[:40]!r}"})
        return None
    if not d.is_finite():
        errors.append({"field": field, "message": "must be finite"})
        return None
    if len(d.as_tuple().digits) > _MAX_DECIMAL_DIGITS or abs(d.adjusted()) > _MAX_DECIMAL_DIGITS:
        errors.append({"field": field, "message": "too many digits"})
        return None
    if positive and d <= 0:
        errors.append({"field": field, "message": "must be greater than 0"})
        return None
    return d


def _canonical(d: Decimal) -> str:
    return format(d.normalize(), "f")


def _bool(doc: dict, field: str, errors: list) -> bool | None:
    value = doc.get(field)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    errors.append({"field": field, "message": "must be true or false"})
    return None


def _datetime(value: Any, errors: list) -> tuple[str, int] | None:
    """Areix ``"2022-10-05 12:03:11"``, ISO 8601 (``T``, fractions, ``Z``/offset) or epoch milliseconds → (UTC
    ``YYYY-MM-DDTHH:MM:SS[.ffffff]``, ms). A naive time is UTC."""
    if isinstance(value, bool):
        errors.append({"field": "datetime", "message": "must be a date-time string or epoch milliseconds"})
        return None
    if isinstance(value, int):
        if not 0 <= value <= 253402300799999:
            errors.append({"field": "datetime", "message": "epoch milliseconds out of range"})
            return None
        dt = datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    elif isinstance(value, str) and 10 <= len(value.strip()) <= 40:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            errors.append({"field": "datetime", "message": "expected 'YYYY-MM-DD HH:MM:SS' (UTC) or ISO 8601"})
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        try:
            dt = dt.astimezone(timezone.utc)
        except (OverflowError, ValueError):
            errors.append({"field": "datetime", "message": "out of range"})
            return None
    else:
        errors.append({"field": "datetime", "message": "expected 'YYYY-MM-DD HH:MM:SS' (UTC) or ISO 8601"})
        return None
    if dt.year < 1970:
        errors.append({"field": "datetime", "message": "out of range (before 1970)"})
        return None
    iso = dt.replace(tzinfo=None).isoformat(timespec="microseconds" if dt.microsecond else "seconds")
    ms = (dt - datetime(1970, 1, 1, tzinfo=timezone.utc)) // _MS
    return iso, ms


_MS = datetime(1970, 1, 1, 0, 0, 0, 1000) - datetime(1970, 1, 1)


def _enum(doc: dict, field: str, allowed: tuple[str, ...], errors: list, *, upper: bool) -> str | None:
    value = doc.get(field)
    if value is None:
        return None
    if isinstance(value, str):
        norm = value.strip().upper() if upper else value.strip().lower()
        if norm in allowed:
            return norm
    errors.append({"field": field, "message": f"must be one of {', '.join(allowed)}"})
    return None


def _text(doc: dict, field: str, errors: list, *, max_len: int) -> str | None:
    value = doc.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        errors.append({"field": field, "message": f"must be a non-empty string of at most {max_len} characters"})
        return None
    return value.strip()


def validate_submit_signal(doc: Any) -> tuple[dict | None, list[dict]]:
    """Check an Areix Submit Signal body (seed 003) → ``(normalised, errors)``; ``normalised`` is None whenever
    ``errors`` is non-empty. Every problem is reported (not only the first) as ``{"field", "message"}``.

    Required: ``symbol`` (upper-cased, ``[A-Z0-9]{2,30}``), ``side`` (buy/sell, any case). Optional: ``price``,
    ``quantity`` (> 0; normalised to canonical decimal strings: never floats), ``datetime`` (→ UTC ISO plus
    ``ts`` ms; a bare ``ts`` in epoch ms is accepted too, so a normalised dict validates to itself), ``exchange`` (BINANCE/BYBIT/OKX, default BINANCE), ``asset_type`` (PERPETUAL, … default
    PERPETUAL), ``leverage`` (integer 1–125), ``validate_only`` (default false), our extensions ``action``
    (open/close, default open; ``reduce_only: true`` means close), ``dedupe_key`` (≤ 128 chars) and ``comment``.
    Unknown fields are errors (a typo such as ``quantiy`` must not be silently dropped)."""
    errors: list[dict] = []
    if not isinstance(doc, dict):
        return None, [{"field": "", "message": "body must be a JSON object"}]
    for key in doc:
        if key not in _FIELDS:
            errors.append({"field": str(key)[:64], "message": "unknown field"})
    out: dict[str, Any] = {}

    symbol = doc.get("symbol")
    if symbol is None:
        errors.append({"field": "symbol", "message": "required"})
    elif not isinstance(symbol, str) or not _SYMBOL.match(symbol.strip().upper()):
        errors.append({"field": "symbol", "message": "must be an instrument symbol such as BTCUSDT"})
    else:
        out["symbol"] = symbol.strip().upper()

    if doc.get("side") is None:
        errors.append({"field": "side", "message": "required"})
    else:
        side = _enum(doc, "side", SIDES, errors, upper=False)
        if side:
            out["side"] = side

    action = _enum(doc, "action", ACTIONS, errors, upper=False)
    reduce_only = _bool(doc, "reduce_only", errors)
    if action == "open" and reduce_only:
        errors.append({"field": "reduce_only", "message": "contradicts action 'open'"})
    out["action"] = action or ("close" if reduce_only else "open")

    for field in ("price", "quantity"):
        d = _decimal(doc, field, errors)
        if d is not None:
            out[field] = _canonical(d)

    lev = _decimal(doc, "leverage", errors)
    if lev is not None:
        if lev != lev.to_integral_value() or not 1 <= lev <= MAX_LEVERAGE:
            errors.append({"field": "leverage", "message": f"must be an integer from 1 to {MAX_LEVERAGE}"})
        else:
            out["leverage"] = int(lev)

    when = doc["datetime"] if doc.get("datetime") is not None else doc.get("ts")  # ts: epoch ms (normalised form)
    if when is not None:
        parsed = _datetime(when, errors)
        if parsed is not None:
            out["datetime"], out["ts"] = parsed

    out["exchange"] = _enum(doc, "exchange", EXCHANGES, errors, upper=True) or "BINANCE"
    out["asset_type"] = _enum(doc, "asset_type", ASSET_TYPES, errors, upper=True) or "PERPETUAL"

    for field, max_len in (("dedupe_key", 128), ("comment", _MAX_TEXT)):
        text = _text(doc, field, errors, max_len=max_len)
        if text is not None:
            out[field] = text

    out["validate_only"] = bool(_bool(doc, "validate_only", errors))
    if errors:
        return None, errors
    return dict(sorted(out.items())), errors
