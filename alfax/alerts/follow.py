"""Signal following (issue 5; signals.md §4.2/§4.4): each record published on a signal-hub channel becomes, for
every account subscribed to that channel, one alert in the TradingView grammar, fed through the SAME intake as a
webhook — same dedupe, same challenge rules, same receipts and alert log.

    follower = Follower(intake, subscriptions, read_after=signal_log.read_after, now_ms=…)
    await follower.catch_up()                      # at start: what was published while the venue was down
    hub.listeners.append(follower.on_published)    # then live

A signal ``{"symbol", "side", "action": open|close, "quantity", "price", "leverage", "validate_only", …}`` becomes

    open:  <side> <size> SYMBOL MARKET id=<key> [lev=N] [dry]     size by the subscription's mode:
           fixed_qty → "<value>" (base qty), notional → "<value>$", equity_pct → "<value>%"
    close: <side> 0 SYMBOL MARKET close id=<key> [dry]             (sell … close closes a LONG, as the grammar says)

``<key>`` is a hash of (channel, epoch, seq, subscription): a replayed record (catch-up after a crash, or live and
catch-up overlapping) maps to the same ``id=``, so the intake answers it as a duplicate instead of trading twice.
``max_notional`` caps an open: the size becomes "<cap>$" when the mode's size would exceed it (for ``equity_pct``
only when an ``equity`` reader is given; fixed_qty uses the signal's price). A signal that cannot be turned into a
command (no side, a malformed symbol, a cap that cannot be checked) is logged as a rejected alert with the reason,
never silently dropped; an unknown symbol is rejected by the grammar itself (E007).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Protocol

import orjson

from alfax.domain.alert_catalogue import AlertCode, AlertError, alert_error
from alfax.domain.alert_model import fmt_decimal

log = logging.getLogger("alfax.alerts")

READ_PAGE = 500
_SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")
_SIZE_SUFFIX = {"fixed_qty": "", "notional": "$", "equity_pct": "%"}


class Intake(Protocol):
    async def accept(self, account_id: int, body: bytes | str, *, token_id: str, source_ip: str = "",
                     secret: str | None = None) -> Any: ...

    async def reject(self, account_id: int, body: bytes | str, error: AlertError, *, token_id: str,
                     source_ip: str = "") -> Any: ...


class Subscriptions(Protocol):
    """``alfax.ledger.subscriptions.SqliteSubscriptions`` (called in a worker thread)."""

    def list(self, account_id: int | None = None, channel: str | None = None) -> list[dict]: ...
    def get(self, sub_id: int) -> dict | None: ...
    def set_cursor(self, sub_id: int, epoch: str, seq: int) -> bool: ...


ReadAfter = Callable[..., list]  # (channel, after_seq[, limit]) -> records with .channel .seq .epoch .payload


def signal_key(channel: str, epoch: str, seq: int, sub_id: int) -> str:
    """The ``id=`` of one record for one subscription: 32 characters of ``[A-Za-z0-9]`` (the grammar allows
    ``[A-Za-z0-9._:/-]{1,32}``)."""
    return "sg" + hashlib.sha256(f"{channel}|{epoch}|{seq}|{sub_id}".encode()).hexdigest()[:30]


def _dec(v: Any) -> Decimal | None:
    if v is None or isinstance(v, (bool, float)):
        return None
    try:
        d = Decimal(str(v))
    except InvalidOperation:
        return None
    return d if d.is_finite() and d > 0 else None


def _bad(kind: AlertCode, message: str, hint: str) -> AlertError:
    return alert_error(kind, message, hint=hint)


def _items(payload: Any) -> list[dict]:
    """The signals in one record: an Areix-shaped signal, or AlphaHub's {"close": [...], "open": [...]} (closes
    first: an exit must not wait behind an entry)."""
    if not isinstance(payload, dict):
        return []
    if isinstance(payload.get("open"), list) or isinstance(payload.get("close"), list):
        out = [{**i, "action": "close"} for i in payload.get("close") or () if isinstance(i, dict)]
        return out + [{**i, "action": "open"} for i in payload.get("open") or () if isinstance(i, dict)]
    return [payload]


def signal_commands(sub: dict, record: Any, *, equity: Callable[[int], Decimal | None] | None = None,
                    ) -> tuple[str, AlertError | None]:
    """(alert text, None) for one record and one subscription, or (a description for the log, the reason) when
    the record cannot become a command."""
    items = _items(record.payload)
    if not items:
        return _describe(record), _bad(AlertCode.EMPTY, "signal has no order in it",
                                       "publish {\"symbol\", \"side\", \"action\", …}")
    key = signal_key(record.channel, record.epoch, record.seq, sub["subId"])
    parts = []
    for n, item in enumerate(items):
        side = str(item.get("side", "")).lower()
        symbol = str(item.get("symbol", "")).upper()
        if side not in ("buy", "sell"):
            return _describe(record), _bad(AlertCode.VERB, f"signal side must be buy or sell, got {side!r}",
                                           "publish side=buy|sell")
        if not _SYMBOL.match(symbol):
            return _describe(record), _bad(AlertCode.SYMBOL, f"signal symbol {symbol[:40]!r} is not a symbol",
                                           "publish the venue's symbol, e.g. BTCUSDT")
        ident = key if len(items) == 1 else f"{key[:25]}-{n}"  # one id per signal of a multi-signal record
        dry = " dry" if item.get("validate_only") is True or item.get("validate_only") == "true" else ""
        if item.get("action") == "close" or item.get("reduce_only") is True:
            parts.append(f"{side} 0 {symbol} MARKET close id={ident}{dry}")
            continue
        size, why = _size(sub, item, equity)
        if why is not None:
            return _describe(record), why
        lev = sub.get("leverage") or item.get("leverage")
        lev_txt = f" lev={int(lev)}" if isinstance(lev, int) and not isinstance(lev, bool) else ""
        parts.append(f"{side} {size} {symbol} MARKET id={ident}{lev_txt}{dry}")
    return " ; ".join(parts), None


def _size(sub: dict, item: dict, equity: Callable[[int], Decimal | None] | None) -> tuple[str, AlertError | None]:
    mode, value = sub["mode"], Decimal(sub["value"])
    cap = None if sub.get("maxNotional") is None else Decimal(sub["maxNotional"])
    text = fmt_decimal(value) + _SIZE_SUFFIX[mode]
    if cap is None:
        return text, None
    capped = fmt_decimal(cap) + "$"
    if mode == "notional":
        return (capped if value > cap else text), None
    if mode == "fixed_qty":
        price = _dec(item.get("price"))
        if price is None:  # a market signal without a price: the cap cannot be checked here, so say so
            return "", _bad(AlertCode.MIN_SIZE, f"cannot apply max notional {fmt_decimal(cap)} USDT: the signal has "
                            "no price", "publish the signal with a price, or use the notional mode")
        return (capped if value * price > cap else text), None
    eq = equity(sub["accountId"]) if equity is not None else None
    if eq is None:
        return "", _bad(AlertCode.MIN_SIZE, f"cannot apply max notional {fmt_decimal(cap)} USDT: the account's "
                        "equity is unknown", "use the notional mode, or remove the cap")
    return (capped if eq * value / 100 > cap else text), None


def _describe(record: Any) -> str:
    return f"signal {record.channel} #{record.seq}: " + orjson.dumps(record.payload, default=str).decode()[:3000]


class Follower:
    """Feeds each subscription every record of its channel after its cursor, in seq order, exactly once per
    (record, subscription) as far as the cursor knows — and the ``id=`` dedupe makes any replay harmless.

    Live records and :meth:`catch_up` share one code path ("bring this subscription up to date") under one lock:
    a live record right after the cursor is fed directly; a gap (a live record whose predecessors were never fed,
    e.g. after a failure) is read back from the log first, so the cursor never skips a signal."""

    def __init__(self, intake: Intake, subscriptions: Subscriptions, *, read_after: ReadAfter,
                 now_ms: Callable[[], int], equity: Callable[[int], Decimal | None] | None = None,
                 account_of: Callable[[int], int] = int) -> None:
        """``equity(account_id)``: the account's equity in USDT (only needed to cap ``equity_pct`` opens).
        ``account_of``: the subscription's account → the one that trades now (a challenge's next stage after a
        pass, as for webhooks and API keys)."""
        self.account_of = account_of
        self.intake = intake
        self.subs = subscriptions
        self.read_after = read_after
        self.now_ms = now_ms
        self.equity = equity
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self._lock = asyncio.Lock()  # one subscription update at a time: live and catch-up never race on a cursor

    # ------------------------------------------------------------------ live

    def on_published(self, published: Any) -> None:
        """``SignalHub.listeners`` callback (runs inside ``publish``, on the loop): queue the record, never block."""
        if self._queue is None:
            self._queue = asyncio.Queue()
        self._queue.put_nowait(published.record)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work(), name="alfax-signal-follower")

    async def _work(self) -> None:
        q = self._queue
        assert q is not None
        while not q.empty():
            record = q.get_nowait()
            try:
                subs = await asyncio.to_thread(self.subs.list, None, record.channel)
                async with self._lock:
                    for sub in subs:
                        await self._bring_up_to_date(sub["subId"], record)
            except asyncio.CancelledError:
                raise
            except Exception:  # the cursor did not move: the next record (or catch_up) reads it back
                log.exception("following %s #%s failed", getattr(record, "channel", "?"), getattr(record, "seq", "?"))
            finally:
                q.task_done()

    # ------------------------------------------------------------------ catch-up

    async def catch_up(self) -> int:
        """Feed every subscription the records after its cursor (what was published while the venue was down).
        Returns how many (subscription, record) pairs were fed."""
        fed = 0
        async with self._lock:
            for sub in await asyncio.to_thread(self.subs.list):
                fed += await self._bring_up_to_date(sub["subId"], None)
        return fed

    async def drain(self) -> None:
        """Wait until every live record queued so far has been fed."""
        while self._worker is not None and not self._worker.done():
            await asyncio.shield(self._worker)

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None

    # ------------------------------------------------------------------ one subscription

    async def _bring_up_to_date(self, sub_id: int, upto: Any) -> int:
        """Feed the subscription what follows its cursor, up to the live record ``upto`` (None: the whole log).
        Caller holds the lock."""
        sub = await asyncio.to_thread(self.subs.get, sub_id)
        if sub is None or not sub["enabled"]:
            return 0  # removed or paused
        cursor = sub["cursor"]["seq"]
        if upto is not None:
            if upto.seq <= cursor:
                return 0  # already fed (catch-up got there first)
            if upto.seq == cursor + 1:  # the usual case: no gap, no read
                return await self._feed(sub, upto)
        fed, after = 0, cursor
        while True:
            page = await asyncio.to_thread(self.read_after, sub["channel"], after, READ_PAGE)
            for record in page:
                if upto is not None and record.seq > upto.seq:
                    return fed
                fed += await self._feed(sub, record)
            if not page:
                return fed
            after = page[-1].seq

    async def _feed(self, sub: dict, record: Any) -> int:
        account = self.account_of(sub["accountId"])
        text, why = signal_commands({**sub, "accountId": account}, record, equity=self.equity)
        token = f"signal:{record.channel}"
        if why is None:
            await self.intake.accept(account, text.encode(), token_id=token)
        else:
            await self.intake.reject(account, text.encode(), why, token_id=token)
        await asyncio.to_thread(self.subs.set_cursor, sub["subId"], record.epoch, record.seq)
        return 1


__all__ = ["Follower", "signal_commands", "signal_key"]
