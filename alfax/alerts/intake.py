"""The TradingView alert intake (issue 5; signals.md §1.5–§1.6): parse, authenticate, rate-limit, persist, dedupe,
answer — in a few milliseconds, because TradingView gives up after 3 s and never retries a slow answer.

    receipt = await intake.accept(account_id, body, token_id=…, source_ip=…, secret=<the account's body secret>)
    # receipt.http_status / receipt.body: what the webhook answers; receipt.alert_id: the alert log row

Every alert is persisted, accepted or not (a rejected alert the user never hears of is the complaint peers get,
§1.4). Persisting and claiming the idempotency keys of every command is ONE durable step, group-committed with the
other alerts arriving at the same moment (``store.receive_async``): either the alert is received with all its keys
held — then 202 and it goes to the executor — or one of its keys was already held and it is a duplicate (E016,
409, pointing at the original alert). Nothing executes before the 202: the executor runs it in the background.

Entries are rate-limited per account (E021); exits (close, reduceOnly, cancel) never are, so a flood of entries can
never lock a trader out of closing.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Protocol

from alfax.domain.alert_catalogue import AlertCode, AlertError, auth_error, duplicate_error, rate_error
from alfax.domain.alert_grammar import parse_alert
from alfax.domain.alert_model import DEFAULT_DEDUP_WINDOW_MS, ParsedAlert, check_secret, derived_idempotency_key
from alfax.domain.alert_lexing import redact

from .receipts import intake_receipt, receipt_of

log = logging.getLogger("alfax.alerts")

RECEIPT_PATH = "/alfax/v1/alert?alertId={}"  # a signed GET: receipts are private

# One Binance-style numeric code per catalogue code (the body's "code"; the HTTP status is the catalogue's).
# Bots and dashboards that only understand Binance errors still get a familiar code; the E0xx code and the column
# are in "errors".
NUMERIC_CODE = {
    "E001": -1102,  # EMPTY          mandatory parameter empty
    "E002": -1100,  # PLACEHOLDER    illegal characters ({{…}} left in)
    "E003": -1117,  # VERB           invalid side
    "E004": -1100,  # NUMBER         illegal characters in a number
    "E005": -4003,  # NEGATIVE       quantity less than or equal to zero
    "E006": -4003,  # ZERO           quantity less than or equal to zero
    "E007": -1121,  # SYMBOL         invalid symbol
    "E008": -1116,  # ORDER_TYPE     invalid orderType
    "E009": -1102,  # MISSING_ARG    mandatory parameter missing
    "E010": -1130,  # RANGE          data sent for parameter is not valid
    "E011": -1103,  # OPTION         unknown parameter
    "E012": -1101,  # DUP_OPTION     duplicate values for a parameter
    "E013": -1106,  # CONFLICT       parameter sent when not required
    "E014": -1130,  # BAD_VALUE      data sent for parameter is not valid
    "E015": -1021,  # STALE          outside the recvWindow (ts + ttl)
    "E016": -4116,  # DUPLICATE      clientOrderId is duplicated
    "E017": -1100,  # TRAILING       illegal characters after the command
    "E018": -1100,  # TOO_LONG       body too long
    "E019": -1002,  # AUTH           not authorized
    "E020": -4164,  # MIN_SIZE       notional below the minimum
    "E021": -1015,  # RATE           too many new orders
}
STORE_DOWN = (-1001, 503, "Internal error; unable to process your request. Please try again.")


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the webhook answers: ``http_status`` and the JSON ``body``; ``alert_id`` of the log row (None only
    when the alert could not be persisted)."""

    http_status: int
    body: dict
    alert_id: int | None


class IntakeStore(Protocol):
    """``alfax.ledger.alert_log.SqliteAlertLog`` (group-committed receive + key claims)."""

    def receive_async(self, account_id: int, token_id: str, body: str, received_ms: int, source_ip: str = "",
                      commands: list | tuple = (), errors: list | tuple = (), *, keys: Any = (),
                      result: dict | None = None, on_duplicate: Any = None) -> Awaitable[Any]: ...


class Executor(Protocol):
    def enqueue(self, alert_id: int, parsed: ParsedAlert | None = None, *, account_id: int | None = None,
                row: Any = None) -> bool: ...


class AlertIntake:
    def __init__(self, store: IntakeStore, executor: Executor, *, symbols: Collection[str],
                 now_ms: Callable[[], int], max_leverage: int = 125, entry_rate_per_s: int = 60,
                 on_receipt: Callable[[int, dict], Any] | None = None,
                 dedup_window_ms: int = DEFAULT_DEDUP_WINDOW_MS) -> None:
        self.store = store
        self.executor = executor
        self.symbols = frozenset(s.upper() for s in symbols)
        self.now_ms = now_ms
        self.max_leverage = max_leverage
        self.entry_rate_per_s = entry_rate_per_s
        self.on_receipt = on_receipt
        self.dedup_window_ms = dedup_window_ms
        self._entries: dict[int, deque[int]] = {}  # account -> ms of the entry alerts let through in the last second
        # acks before execution: the executor waits (briefly) while alerts are being received, so a burst of
        # alerts gets its 202s first (TradingView gives up after 3 s) and executes right after
        self._receiving = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def wait_idle(self, max_wait_s: float = 0.25) -> None:
        """Return when no alert is being received, or after ``max_wait_s`` (execution never starves)."""
        if self._receiving:
            try:
                await asyncio.wait_for(self._idle.wait(), max_wait_s)
            except asyncio.TimeoutError:
                pass

    # ------------------------------------------------------------------ entry points

    async def accept(self, account_id: int, body: bytes | str, *, token_id: str, source_ip: str = "",
                     secret: str | None = None) -> Receipt:
        """Parse → body secret (``secret``: the account's, None = none configured) → entry rate → persist + claim
        keys → 202 and hand to the executor, or the error answer. Never raises."""
        self._receiving += 1
        self._idle.clear()
        try:
            now = self.now_ms()
            parsed = self._parse(body, now)
            refusal: AlertError | None = None
            if parsed.ok:
                refusal = check_secret(parsed, secret)
                if refusal is None and self._over_entry_rate(account_id, parsed, now):
                    refusal = rate_error(f"{self.entry_rate_per_s}/s")
            return await self._persist(account_id, parsed, [refusal] if refusal else [], token_id, source_ip)
        finally:
            self._receiving -= 1
            if not self._receiving:
                self._idle.set()

    async def refuse_source(self, account_id: int, body: bytes | str, *, token_id: str, source_ip: str) -> Receipt:
        """A post from an address outside the account's allow-list: logged as a rejected alert (E019), so the owner
        sees it, and never executed."""
        # the refusal is the only answer: a sender we do not accept gets no grammar feedback either
        return await self._persist(account_id, self._parse(body, self.now_ms()), [auth_error("ip")], token_id,
                                   source_ip, replace=True)

    async def reject(self, account_id: int, body: bytes | str, error: AlertError, *, token_id: str,
                     source_ip: str = "") -> Receipt:
        """Log an alert refused before it reached the grammar's checks (e.g. a followed signal that cannot be
        sized): persisted as rejected with ``error``, reported through ``on_receipt``."""
        return await self._persist(account_id, self._parse(body, self.now_ms()), [error], token_id, source_ip,
                                   replace=True)

    # ------------------------------------------------------------------ steps

    def _parse(self, body: bytes | str, now: int) -> ParsedAlert:
        return parse_alert(body, now_ms=now, symbols=self.symbols, max_leverage=self.max_leverage)

    def _over_entry_rate(self, account_id: int, parsed: ParsedAlert, now: int) -> bool:
        """Sliding one-second window per account, counting only alerts with an entry (an alert that may open or
        grow a position); exits pass untouched and are not counted."""
        if not any(c.is_entry for c in parsed.commands):
            return False
        window = self._entries.get(account_id)
        if window is None:
            window = self._entries[account_id] = deque()
        while window and window[0] <= now - 1000:
            window.popleft()
        if len(window) >= self.entry_rate_per_s:
            return True
        window.append(now)
        return False

    async def _persist(self, account_id: int, parsed: ParsedAlert, refusals: list[AlertError], token_id: str,
                       source_ip: str, *, replace: bool = False) -> Receipt:
        """``replace``: ``refusals`` are the only errors (the body was never meant for the grammar)."""
        doc = _log_doc(parsed)  # redacted: secrets never reach the log
        if replace:
            doc["errors"] = []
        errors = doc["errors"] + [_redacted(e) for e in refusals]
        keys = []
        if not errors:
            for c in parsed.commands:
                k = derived_idempotency_key(parsed, c.index, account_id=account_id, window_ms=self.dedup_window_ms)
                if k is not None:
                    keys.append((c.index, k.key, k.window_ms))
        status = "rejected" if errors else "received"
        result = intake_receipt(parsed, status=status, alert_errors=[_redacted(e) for e in refusals], doc=doc)
        try:
            got = await self.store.receive_async(
                account_id, token_id, parsed.redacted_body, parsed.received_ms, source_ip, doc["commands"], errors,
                keys=keys, result=result, on_duplicate=functools.partial(_duplicate_result, parsed, doc))
        except Exception:  # the alert is NOT accepted: say so (TradingView logs the status), never a traceback
            log.exception("could not persist an alert for account %s", account_id)
            code, http, msg = STORE_DOWN
            return Receipt(http, {"code": code, "msg": msg, "alertId": None}, None)
        row = got.row
        if row.status == "received":
            self.executor.enqueue(row.alert_id, parsed, account_id=account_id, row=row)
            return Receipt(202, {"code": 0, "msg": "accepted", "alertId": row.alert_id, "status": "received",
                                 "commands": [c["canonical"] for c in doc["commands"]], "warnings": doc["warnings"],
                                 "receipt": RECEIPT_PATH.format(row.alert_id)}, row.alert_id)
        receipt = receipt_of(row)
        self._notify(account_id, receipt)
        first = row.errors[0]
        body = {"code": NUMERIC_CODE.get(first["code"], -1130), "msg": first["message"], "alertId": row.alert_id,
                "status": row.status, "errors": row.errors, "receipt": RECEIPT_PATH.format(row.alert_id)}
        if "duplicateOf" in receipt:
            body["duplicateOf"] = receipt["duplicateOf"]
        return Receipt(AlertCode.from_code(first["code"]).http_status, body, row.alert_id)

    def _notify(self, account_id: int, receipt: dict) -> None:
        if self.on_receipt is None:
            return
        try:
            self.on_receipt(account_id, receipt)
        except Exception:  # a stream/notification bug must not turn an answered alert into a 500
            log.exception("on_receipt failed for alert %s", receipt.get("alertId"))


def _log_doc(parsed: ParsedAlert) -> dict:
    """What the log keeps of a parsed alert, redacted: each command as its canonical text (plus what a listing
    filters on), the segments, errors and warnings. Not ``ParsedAlert.to_dict()``: every field of every command
    costs the event loop more than the rest of the intake together, and the stored body re-parses to all of it."""
    return {"commands": [{"index": c.index, "canonical": c.canonical(), "action": c.action.value,
                          "symbol": c.symbol, "side": None if c.side is None else c.side.value}
                         for c in parsed.commands],
            "segments": [redact(x) for x in parsed.segments],
            "errors": [_redacted(e) for e in parsed.errors],
            "warnings": [_redacted(w) for w in parsed.warnings]}


def _redacted(e: AlertError) -> dict:
    d = e.to_dict()
    d["message"], d["token"] = redact(d["message"]), redact(d["token"])
    return d


def _key_text(idem_key: str) -> str:
    kind, _, rest = idem_key.partition(":")
    if kind == "id":
        return f"id={rest}"
    if kind == "ts":
        return "same commands and ts="
    return "same commands within the dedupe window"


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _duplicate_result(parsed: ParsedAlert, doc: dict, alert_id: int, dups: tuple) -> tuple[list, dict]:
    """Errors (one E016 per command whose key was held) and receipt of a duplicate; runs inside the store's
    transaction, so it only builds values."""
    errors = [_redacted(duplicate_error(alert_ref=str(d.alert_id), key=_key_text(d.idem_key),
                                        received=_utc(d.received_ms), status=d.status or d.state,
                                        command=d.command)) for d in dups]
    original = [{"command": d.command, "alertId": d.alert_id, "status": d.status, "keyState": d.state,
                 "receipt": RECEIPT_PATH.format(d.alert_id)} for d in dups]
    return errors, intake_receipt(parsed, status="duplicate", alert_errors=errors, duplicate_of=original, doc=doc)


__all__ = ["AlertIntake", "NUMERIC_CODE", "Receipt"]
