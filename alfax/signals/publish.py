"""Provider endpoints of the signal hub (issue 5), in Areix's shapes (seed 003):

- ``POST /signal?user_code=<channel>``: Submit Signal (:func:`~.payloads.validate_submit_signal`); with
  ``validate_only: true`` the body is checked and nothing is stored. Answered only after the durable append:
  ``{"data": {"channel", "seq", "epoch", "id", "ts", "duplicate"}, "error": false, "msg": "successfully
  stored/executed", "success": true}``. A ``dedupe_key`` field (or an ``Idempotency-Key`` header) makes a retry
  return the original record with ``"duplicate": true`` instead of publishing it twice.
- ``POST /analysis?user_code=`` / ``POST /feeds?user_code=``: Submit Analysis / Submit Feed, stored on the same
  channel (payload ``"kind": "analysis" | "feed"``; signals are ``"kind": "signal"``); answer ``{"data": null,
  "error": false, "msg": "successfully submitted", "success": true}``.
- ``GET /signal?user_code=<channel>&after_seq=&limit=``: the channel's retained records, oldest first, each shaped
  as the SSE event data (payload + ``id``, ``channel``, ``seq``, ``epoch``, ``ts``). Any valid key may read: the
  same records are open to every valid key on the SSE stream, so restricting this copy would protect nothing.

The channel is ``user_code`` (``[A-Za-z0-9_.-]{1,64}``). The first account to publish to a channel owns it for
good (persisted by the log's ``claim_channel``); another account publishing there gets 403.

Errors carry both shapes in one body, ``{"code": -NNNN, "msg": "…", "data": null, "error": true, "success":
false}``, plus ``"errors": [{"field", "message"}]`` for input errors: 401 -2015 for a missing or unknown key, 400
for bad input, 403 for another account's channel, 503 -1001 when the log cannot be reached. Never a 500.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alfax.domain.errors import Err, VenueError

from .access import SignalAccess, authenticate, channel_error, error_response, unauthorized, valid_channel
from .hub import SignalHub
from .payloads import _canonical, _datetime, _decimal, _enum, _text, validate_submit_signal
from .sse import record_data

__all__ = ["publish_routes", "validate_analysis", "validate_feed", "ChannelOwners", "MAX_BODY_BYTES"]

log = logging.getLogger("alfax.signals")

MAX_BODY_BYTES = 64 * 1024
DEFAULT_LIST_LIMIT = 100
MAX_LIST_LIMIT = 1000
MAX_DEDUPE_KEY = 128
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class ChannelOwners(Protocol):
    """Who owns a channel (implemented by ``alfax.ledger.SqliteSignalLog``)."""

    def claim_channel(self, channel: str, owner_account: int, now_ms: int = 0) -> int: ...

    def channel_owner(self, channel: str) -> int | None: ...


def _envelope(data: Any, msg: str) -> Response:
    return Response(orjson.dumps({"data": data, "error": False, "msg": msg, "success": True}),
                    media_type="application/json")


def _bad(param: str, errors: list[dict]) -> Response:
    first = errors[0] if errors else {"field": param, "message": "invalid"}
    field = first.get("field") or param
    msg = f"Data sent for parameter '{field}' is not valid: {first.get('message', 'invalid')}."
    return error_response(VenueError(Err.INVALID_PARAMETER, msg=msg), errors)


class _BadRequest(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


# ---------------------------------------------------------------------------------------------------- endpoints

class _Publisher:
    def __init__(self, hub: SignalHub, access: SignalAccess, owners: ChannelOwners, now_ms: Callable[[], int]):
        self.hub = hub
        self.access = access
        self.owners = owners
        self.now_ms = now_ms
        # ownership never changes once claimed: remember it instead of one database write per publish
        self._owner_cache: dict[str, int] = {}

    # ------------------------------------------------------------------ shared steps
    def _channel_and_account(self, request: Request) -> tuple[str, int]:
        channel = request.query_params.get("user_code")
        if not valid_channel(channel):
            raise _BadRequest(channel_error("user_code", channel))
        account = authenticate(self.access, request)
        if account is None:
            raise _BadRequest(unauthorized())
        return channel, account

    async def _owner(self, channel: str) -> int | None:
        owner = self._owner_cache.get(channel)
        if owner is None:
            owner = await asyncio.to_thread(self.owners.channel_owner, channel)
            if owner is not None:
                self._owner_cache[channel] = owner
        return owner

    async def _check_owner(self, channel: str, account: int, *, claim: bool) -> None:
        owner = await self._owner(channel)
        if owner is None and claim:
            owner = await asyncio.to_thread(self.owners.claim_channel, channel, account, self.now_ms())
            self._owner_cache[channel] = owner
        if owner is not None and owner != account:
            raise _BadRequest(error_response(VenueError(Err.SIGNAL_CHANNEL_OWNED)))

    @staticmethod
    async def _json_body(request: Request) -> Any:
        declared = request.headers.get("content-length", "")
        body = bytearray()
        if not (declared.isdigit() and int(declared) > MAX_BODY_BYTES):
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    break
        if len(body) > MAX_BODY_BYTES or (declared.isdigit() and int(declared) > MAX_BODY_BYTES):
            raise _BadRequest(error_response(
                VenueError(Err.TOO_MANY_PARAMETERS, msg=f"Request body is larger than {MAX_BODY_BYTES} bytes.")))
        try:
            return orjson.loads(bytes(body))
        except orjson.JSONDecodeError as exc:
            raise _BadRequest(_bad("body", [{"field": "", "message": f"malformed JSON: {exc}"}])) from None

    @staticmethod
    def _dedupe_key(request: Request, from_body: str | None) -> str | None:
        header = request.headers.get("idempotency-key")
        if header is not None:
            header = header.strip()
            if not header or len(header) > MAX_DEDUPE_KEY:
                raise _BadRequest(_bad("Idempotency-Key", [{"field": "Idempotency-Key",
                                                             "message": f"must be 1 to {MAX_DEDUPE_KEY} characters"}]))
            if from_body is not None and from_body != header:
                raise _BadRequest(_bad("dedupe_key", [{"field": "dedupe_key",
                                                       "message": "differs from the Idempotency-Key header"}]))
        return from_body if from_body is not None else header

    async def _publish(self, channel: str, account: int, payload: dict, dedupe_key: str | None):
        await self._check_owner(channel, account, claim=True)
        return await self.hub.publish(channel, payload, str(account), dedupe_key=dedupe_key)

    async def _guard(self, request: Request, handler) -> Response:
        try:
            return await handler(request)
        except _BadRequest as bad:
            return bad.response
        except Exception:
            # the log or the key store failed: the provider retries (with its dedupe key: nothing doubles)
            log.exception("signal endpoint %s %s failed", request.method, request.url.path)
            return error_response(VenueError(Err.DISCONNECTED))

    # ------------------------------------------------------------------ /signal
    async def signal(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._guard(request, self._submit_signal)
        if request.method in ("GET", "HEAD"):
            return await self._guard(request, self._list_signals)
        return error_response(VenueError(Err.NOT_FOUND))

    async def _submit_signal(self, request: Request) -> Response:
        channel, account = self._channel_and_account(request)
        await self._check_owner(channel, account, claim=False)
        normalised, errors = validate_submit_signal(await self._json_body(request))
        if errors:
            return _bad("body", errors)
        assert normalised is not None
        dedupe_key = self._dedupe_key(request, normalised.pop("dedupe_key", None))
        if normalised.pop("validate_only"):
            return _envelope({"validate_only": True, "signal": normalised}, "successfully validated")
        record, new = await self._publish(channel, account, {**normalised, "kind": "signal"}, dedupe_key)
        return _envelope({"channel": record.channel, "seq": record.seq, "epoch": record.epoch,
                          "id": f"{record.epoch}:{record.seq}", "ts": record.ts, "duplicate": not new},
                         "successfully stored/executed")

    async def _list_signals(self, request: Request) -> Response:
        channel, _account = self._channel_and_account(request)
        after_seq = _int_param(request, "after_seq", 0, 0, 2 ** 62)
        limit = _int_param(request, "limit", DEFAULT_LIST_LIMIT, 1, MAX_LIST_LIMIT)
        records = await asyncio.to_thread(self.hub.log.read_after, channel, after_seq, limit)
        return _envelope([record_data(r) for r in records], "successfully fetched")

    # ------------------------------------------------------------------ /analysis, /feeds
    def submission(self, kind: str, validate: Callable[[Any], tuple[dict | None, list[dict]]]):
        async def submit(request: Request) -> Response:
            channel, account = self._channel_and_account(request)
            await self._check_owner(channel, account, claim=False)
            normalised, errors = validate(await self._json_body(request))
            if errors:
                return _bad("body", errors)
            assert normalised is not None
            dedupe_key = self._dedupe_key(request, normalised.pop("dedupe_key", None))
            await self._publish(channel, account, {**normalised, "kind": kind}, dedupe_key)
            return _envelope(None, "successfully submitted")

        async def endpoint(request: Request) -> Response:
            if request.method != "POST":
                return error_response(VenueError(Err.NOT_FOUND))
            return await self._guard(request, submit)

        return endpoint


def _int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    if text.isascii() and text.isdigit() and len(text) <= 19 and lo <= int(text) <= hi:
        return int(text)
    raise _BadRequest(_bad(name, [{"field": name, "message": f"must be an integer from {lo} to {hi}"}]))


def publish_routes(hub: SignalHub, access: SignalAccess, *, now_ms: Callable[[], int],
                   owners: ChannelOwners | None = None) -> list[Route]:
    """``/signal`` (POST publish, GET list), ``/analysis`` and ``/feeds`` (POST). ``owners`` defaults to the hub's
    log (``SqliteSignalLog`` implements :class:`ChannelOwners`)."""
    owners = owners if owners is not None else hub.log  # type: ignore[assignment]
    if not (hasattr(owners, "claim_channel") and hasattr(owners, "channel_owner")):
        raise TypeError("publish_routes needs a ChannelOwners (claim_channel, channel_owner): pass owners=")
    p = _Publisher(hub, access, owners, now_ms)  # type: ignore[arg-type]
    return [
        Route("/signal", p.signal, methods=_ALL_METHODS),
        Route("/analysis", p.submission("analysis", validate_analysis), methods=_ALL_METHODS),
        Route("/feeds", p.submission("feed", validate_feed), methods=_ALL_METHODS),
    ]


# ---------------------------------------------------------------------------------------------------- validators
# Submit Analysis / Submit Feed (seed 003). Like validate_submit_signal: every problem is reported as
# {"field", "message"}, unknown fields are errors (a typo must not be dropped silently), amounts become canonical
# decimal strings (never floats), text is kept as sent (translations included: UTF-8 end to end).

_ANALYSIS_FIELDS = ("symbol", "asset_type", "side", "leverage", "entry_price", "exit_price", "sl_price",
                    "effevtive_start", "effevtive_end", "effective_start", "effective_end", "confidence", "detail",
                    "translation", "dedupe_key")
_FEED_FIELDS = ("topic", "text", "url", "img_url", "youtube_url", "translation", "dedupe_key")
ANALYSIS_SIDES = ("long", "short", "buy", "sell")
ANALYSIS_ASSET_TYPES = ("derivatives", "spot")
MAX_PRICES = 20
MAX_LEVERAGE = 125
MAX_CONFIDENCE = 100
MAX_DETAIL = 10_000
MAX_TOPIC = 500
MAX_URL = 2048
MAX_LANGUAGES = 20
_SYMBOL = re.compile(r"[A-Z0-9]{2,30}")
_LANG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?")
_URL = re.compile(r"https?://[^\s]+", re.IGNORECASE)


def _unknown_fields(doc: dict, allowed: tuple[str, ...], errors: list) -> None:
    for key in doc:
        if key not in allowed:
            errors.append({"field": str(key)[:64], "message": "unknown field"})


def _prices(doc: dict, field: str, errors: list) -> list[str] | None:
    value = doc.get(field)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_PRICES:
        errors.append({"field": field, "message": f"must be a list of at most {MAX_PRICES} prices"})
        return None
    out: list[str] = []
    for i, item in enumerate(value):
        name = f"{field}[{i}]"
        d = _decimal({name: item}, name, errors)
        if d is None and item is None:
            errors.append({"field": name, "message": "must be a number or a decimal string"})
        if d is not None:
            out.append(_canonical(d))
    return out


def _date(doc: dict, names: tuple[str, str], errors: list) -> tuple[str, int] | None:
    """A date-time field under the seed's spelling (``effevtive_*``) or the corrected one, stored as the seed's."""
    seed_name, alias = names
    if doc.get(seed_name) is not None and doc.get(alias) is not None:
        errors.append({"field": alias, "message": f"sent together with {seed_name}"})
        return None
    value = doc[seed_name] if doc.get(seed_name) is not None else doc.get(alias)
    if value is None:
        return None
    sub: list[dict] = []
    parsed = _datetime(value, sub)
    errors.extend({"field": seed_name if doc.get(seed_name) is not None else alias, "message": e["message"]}
                  for e in sub)
    return parsed


def _translation(doc: dict, fields: tuple[str, ...], max_len: int, errors: list) -> dict | None:
    value = doc.get("translation")
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > MAX_LANGUAGES:
        errors.append({"field": "translation",
                       "message": f"must be an object of at most {MAX_LANGUAGES} languages, e.g. {{\"zh\": {{…}}}}"})
        return None
    out: dict[str, dict[str, str]] = {}
    for lang, texts in value.items():
        where = f"translation.{str(lang)[:16]}"
        if not _LANG.fullmatch(lang):
            errors.append({"field": where, "message": "must be a language code such as zh or zh-TW"})
            continue
        if not isinstance(texts, dict) or not texts:
            errors.append({"field": where, "message": f"must be an object with some of: {', '.join(fields)}"})
            continue
        for name, text in texts.items():
            if name not in fields:
                errors.append({"field": f"{where}.{str(name)[:32]}", "message": "unknown field"})
            elif not isinstance(text, str) or len(text) > max_len:
                errors.append({"field": f"{where}.{name}", "message": f"must be a string of at most {max_len} "
                                                                      "characters"})
            else:
                out.setdefault(lang, {})[name] = text
    return out


def _plain_text(doc: dict, field: str, max_len: int, errors: list, *, allow_empty: bool = False) -> str | None:
    value = doc.get(field)
    if value is None:
        return None
    if allow_empty and value == "":
        return ""
    return _text(doc, field, errors, max_len=max_len)


def _int_in(doc: dict, field: str, lo: int, hi: int, errors: list) -> int | None:
    d = _decimal(doc, field, errors, positive=False)
    if d is None:
        return None
    if d != d.to_integral_value() or not lo <= d <= hi:
        errors.append({"field": field, "message": f"must be an integer from {lo} to {hi}"})
        return None
    return int(d)


def validate_analysis(doc: Any) -> tuple[dict | None, list[dict]]:
    """Submit Analysis → ``(normalised, errors)``. Required: ``symbol``, ``side`` (long/short/buy/sell). Optional:
    ``asset_type`` (derivatives/spot), ``leverage`` (1–125), ``entry_price`` / ``exit_price`` (lists of prices),
    ``sl_price``, ``effevtive_start`` / ``effevtive_end`` (the seed's spelling; ``effective_*`` accepted too),
    ``confidence`` (integer 0–100), ``detail``, ``translation`` (``{lang: {"detail": …}}``), ``dedupe_key``."""
    if not isinstance(doc, dict):
        return None, [{"field": "", "message": "body must be a JSON object"}]
    errors: list[dict] = []
    _unknown_fields(doc, _ANALYSIS_FIELDS, errors)
    out: dict[str, Any] = {}

    symbol = doc.get("symbol")
    if symbol is None:
        errors.append({"field": "symbol", "message": "required"})
    elif not isinstance(symbol, str) or not _SYMBOL.fullmatch(symbol.strip().upper()):
        errors.append({"field": "symbol", "message": "must be an instrument symbol such as BTCUSDT"})
    else:
        out["symbol"] = symbol.strip().upper()
    if doc.get("side") is None:
        errors.append({"field": "side", "message": "required"})
    elif (side := _enum(doc, "side", ANALYSIS_SIDES, errors, upper=False)) is not None:
        out["side"] = side
    if (asset_type := _enum(doc, "asset_type", ANALYSIS_ASSET_TYPES, errors, upper=False)) is not None:
        out["asset_type"] = asset_type
    if (leverage := _int_in(doc, "leverage", 1, MAX_LEVERAGE, errors)) is not None:
        out["leverage"] = leverage
    for field in ("entry_price", "exit_price"):
        if (prices := _prices(doc, field, errors)) is not None:
            out[field] = prices
    if (sl := _decimal(doc, "sl_price", errors)) is not None:
        out["sl_price"] = _canonical(sl)
    start = _date(doc, ("effevtive_start", "effective_start"), errors)
    end = _date(doc, ("effevtive_end", "effective_end"), errors)
    if start is not None:
        out["effevtive_start"] = start[0]
    if end is not None:
        out["effevtive_end"] = end[0]
    if start is not None and end is not None and end[1] < start[1]:
        errors.append({"field": "effevtive_end", "message": "before effevtive_start"})
    if (confidence := _int_in(doc, "confidence", 0, MAX_CONFIDENCE, errors)) is not None:
        out["confidence"] = confidence
    if (detail := _plain_text(doc, "detail", MAX_DETAIL, errors)) is not None:
        out["detail"] = detail
    if (translation := _translation(doc, ("detail",), MAX_DETAIL, errors)) is not None:
        out["translation"] = translation
    if (key := _text(doc, "dedupe_key", errors, max_len=MAX_DEDUPE_KEY)) is not None:
        out["dedupe_key"] = key
    if errors:
        return None, errors
    return dict(sorted(out.items())), errors


def validate_feed(doc: Any) -> tuple[dict | None, list[dict]]:
    """Submit Feed → ``(normalised, errors)``: ``topic`` and/or ``text`` (at least one), ``url``, ``img_url``,
    ``youtube_url`` (``""`` or an http(s) URL), ``translation`` (``{lang: {"topic": …, "text": …}}``),
    ``dedupe_key``."""
    if not isinstance(doc, dict):
        return None, [{"field": "", "message": "body must be a JSON object"}]
    errors: list[dict] = []
    _unknown_fields(doc, _FEED_FIELDS, errors)
    out: dict[str, Any] = {}
    if (topic := _plain_text(doc, "topic", MAX_TOPIC, errors)) is not None:
        out["topic"] = topic
    if (text := _plain_text(doc, "text", MAX_DETAIL, errors)) is not None:
        out["text"] = text
    if doc.get("topic") is None and doc.get("text") is None:
        errors.append({"field": "text", "message": "required (or topic)"})
    for field in ("url", "img_url", "youtube_url"):
        value = doc.get(field)
        if value is None:
            continue
        if value == "" or (isinstance(value, str) and len(value) <= MAX_URL and _URL.fullmatch(value)):
            out[field] = value
        else:
            errors.append({"field": field, "message": "must be empty or an http(s) URL"})
    if (translation := _translation(doc, ("topic", "text"), MAX_DETAIL, errors)) is not None:
        out["translation"] = translation
    if (key := _text(doc, "dedupe_key", errors, max_len=MAX_DEDUPE_KEY)) is not None:
        out["dedupe_key"] = key
    if errors:
        return None, errors
    return dict(sorted(out.items())), errors
