"""What a parsed TradingView alert means: frozen values built by ``alert_grammar.parse_alert``.

Amounts and prices stay ``Decimal`` exactly as written (never float); turning them into venue raw ints needs the
instrument (step, tick, min notional) and the account (equity, position), which the webhook layer has. Also here:
the canonical form of a command, the derived idempotency key of §1.6 and the body-secret check of §1.5.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .alert_catalogue import AlertCode, AlertError, AlertWarning, auth_error
from .alert_lexing import redact
from .enums import MarginType, OrderType, PositionSide, Side, StrEnum, TimeInForce, WorkingType

# TradingView's published webhook source addresses (signals.md §1.1), for the optional allow-list
TRADINGVIEW_WEBHOOK_IPS = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")
DEFAULT_DEDUP_WINDOW_MS = 10_000  # §1.6: a content-only key dedupes within a short window


class Action(StrEnum):
    BUY = "buy"  # also written "long"
    SELL = "sell"  # also written "short"
    CLOSE = "close"
    CANCEL = "cancel"


class SizeUnit(StrEnum):
    BASE = "base"  # "0.01" / "0.01c": base quantity (contracts)
    QUOTE = "quote"  # "100$" / "$100": USDT notional
    QUOTE_MARGIN = "quote_margin"  # "100$m": USDT margin; notional = margin x leverage
    PCT_EQUITY = "pct_equity"  # "5%" / "5%e": % of equity, as notional
    PCT_AVAILABLE = "pct_available"  # "5%a": % of available balance, as notional
    PCT_AVAILABLE_MARGIN = "pct_available_margin"  # "5%m": % of available balance, as margin
    PCT_POSITION = "pct_position"  # "50%p": % of the current position
    ALL = "all"  # "*": everything (close / cancel)


_UNIT_SUFFIX = {SizeUnit.BASE: "", SizeUnit.QUOTE: "$", SizeUnit.QUOTE_MARGIN: "$m", SizeUnit.PCT_EQUITY: "%",
                SizeUnit.PCT_AVAILABLE: "%a", SizeUnit.PCT_AVAILABLE_MARGIN: "%m", SizeUnit.PCT_POSITION: "%p"}


class PriceKind(StrEnum):
    ABSOLUTE = "absolute"  # "3500"
    OFFSET = "offset"  # "+5" / "-5": price units from the reference price
    PERCENT = "percent"  # "+2%" / "-0.1%": percent of the reference price


class Expect(StrEnum):
    FLAT = "flat"
    LONG = "long"
    SHORT = "short"


def fmt_decimal(d: Decimal) -> str:
    """Plain notation without exponent or trailing zeros: Decimal('1E+2') -> '100', '0.0100' -> '0.01'."""
    if d == 0:
        return "0"
    return format(d.normalize(), "f")


@dataclass(frozen=True, slots=True)
class Size:
    unit: SizeUnit
    value: Decimal | None  # None only for ALL ("*")
    text: str  # as written

    @property
    def is_zero(self) -> bool:
        return self.value is not None and self.value == 0

    def canonical(self) -> str:
        if self.unit is SizeUnit.ALL or self.value is None:
            return "*"
        return fmt_decimal(self.value) + _UNIT_SUFFIX[self.unit]


@dataclass(frozen=True, slots=True)
class PriceSpec:
    """An order, trigger, TP/SL or activation price. Relative prices move *in price direction*: '+2%' is above the
    reference (last/mark price at validation for order prices, the entry fill for TP/SL legs)."""

    kind: PriceKind
    value: Decimal  # absolute price, or the signed offset (price units or percent)
    text: str

    @property
    def is_relative(self) -> bool:
        return self.kind is not PriceKind.ABSOLUTE

    def resolve(self, reference: Decimal) -> Decimal:
        """The absolute price for a reference price (exact Decimal; the caller rounds to the tick)."""
        if self.kind is PriceKind.ABSOLUTE:
            return self.value
        if self.kind is PriceKind.OFFSET:
            return reference + self.value
        return reference * (Decimal(100) + self.value) / Decimal(100)

    def canonical(self) -> str:
        if self.kind is PriceKind.ABSOLUTE:
            return fmt_decimal(self.value)
        sign = "-" if self.value < 0 else "+"
        return sign + fmt_decimal(abs(self.value)) + ("%" if self.kind is PriceKind.PERCENT else "")


@dataclass(frozen=True, slots=True)
class Leg:
    """One take-profit or stop-loss leg: reduce-only, for ``share_pct`` % of the filled entry. ``None`` means an
    equal share of what the legs with an explicit share leave (all of it when no leg has one)."""

    price: PriceSpec
    share_pct: Decimal | None

    def canonical(self) -> str:
        return self.price.canonical() + ("" if self.share_pct is None else f":{fmt_decimal(self.share_pct)}%")


@dataclass(frozen=True, slots=True)
class Trail:
    """An attached trailing stop leg: callback rate in %, optional activation price (default: current price)."""

    callback_pct: Decimal
    activation: PriceSpec | None

    def canonical(self) -> str:
        return fmt_decimal(self.callback_pct) + ("" if self.activation is None else "@" + self.activation.canonical())


_EXPECT_TEXT = {Expect.FLAT: "flat", Expect.LONG: "long", Expect.SHORT: "short"}
_WT_TEXT = {WorkingType.MARK_PRICE: "mark", WorkingType.CONTRACT_PRICE: "last"}
_MARGIN_TEXT = {MarginType.ISOLATED: "isolated", MarginType.CROSSED: "cross"}


@dataclass(frozen=True, slots=True)
class AlertCommand:
    """One command of an alert.

    ``side`` is BUY/SELL for buy/long/sell/short and None for close/cancel. ``order_type`` is MARKET when none is
    written; for ``cancel`` it is the optional order-type *filter* (None = all types). ``reduce_only`` is the
    effective flag: true for verb close, the ``close`` flag and ``reduceOnly``/``ro``. ``close_position`` is the
    ``close`` flag (or verb close): the hub reads the position and sends a reduce-only order for it; for a
    buy/sell verb it closes the side that verb closes (buy closes a SHORT, sell a LONG).

    ``id`` is the idempotency key (inline ``id=`` on buy/sell/close, or the JSON envelope's id). On ``cancel`` an
    inline ``id=`` is a filter instead and lands in ``filter_id`` (the id of the alert that placed the orders).
    """

    index: int  # 0-based position in the alert
    action: Action
    side: Side | None
    verb: str  # as written, lower-case ("long", "buy", …)
    symbol: str  # normalised, e.g. "BTCUSDT"
    symbol_text: str  # as written, e.g. "BINANCE:BTCUSDT.P"
    symbol_venue: str | None  # "BINANCE" of "BINANCE:BTCUSDT.P"
    size: Size
    order_type: OrderType | None
    price: PriceSpec | None = None  # LIMIT price; limit price of STOP / TAKE_PROFIT
    stop_price: PriceSpec | None = None  # trigger of STOP / STOP_MARKET / TAKE_PROFIT / TAKE_PROFIT_MARKET
    callback_pct: Decimal | None = None  # TRAILING_STOP_MARKET callback rate, %
    activation_price: PriceSpec | None = None  # TRAILING_STOP_MARKET activation
    time_in_force: TimeInForce | None = None  # None: the venue default (GTC); postOnly sets GTX
    reduce_only: bool = False
    close_position: bool = False
    post_only: bool = False
    dry_run: bool = False  # "dry" / "validate_only"
    nodedup: bool = False
    take_profit: tuple[Leg, ...] = ()
    stop_loss: tuple[Leg, ...] = ()
    trail: Trail | None = None
    target_position: Decimal | None = None  # pos=: signed target net position (base qty)
    expect: Expect | None = None
    id: str | None = None
    filter_id: str | None = None
    tag: str | None = None
    secret: str | None = None
    leverage: int | None = None
    margin_type: MarginType | None = None
    position_side: PositionSide | None = None  # side= (hedge mode)
    working_type: WorkingType | None = None  # wt=
    slippage_pct: Decimal | None = None  # slip=
    delay_ms: int | None = None
    ttl_ms: int | None = None
    ts_ms: int | None = None
    text: str = ""  # the command as written (one segment of the message)
    span: tuple[int, int] = (0, 0)  # [start, end) character offsets of ``text`` in the message
    line: int = 1
    col: int = 1

    @property
    def is_entry(self) -> bool:
        """May open or increase a position (entries are rate-limited and ttl-checked strictly)."""
        return self.action in (Action.BUY, Action.SELL) and not self.reduce_only

    def canonical(self) -> str:
        """Normalised text: 'long 1 BINANCE:BTCUSDT.P' and 'buy 1 btcusdt MARKET' give the same string. The secret
        is left out (rotating it must not change a dedupe key)."""
        parts = [self.action.value, self.size.canonical(), self.symbol]
        if self.action is Action.CANCEL:
            if self.order_type is not None:
                parts.append(self.order_type.value)
        else:
            parts.append(self.order_type.value if self.order_type is not None else OrderType.MARKET.value)
            if self.stop_price is not None:
                parts.append(self.stop_price.canonical())
            if self.price is not None:
                parts.append(self.price.canonical())
            if self.callback_pct is not None:
                parts.append(fmt_decimal(self.callback_pct))
                if self.activation_price is not None:
                    parts.append(self.activation_price.canonical())
        explicit_ro = self.reduce_only and not self.close_position and self.action is not Action.CLOSE
        for flag, on in (("reduceOnly", explicit_ro),
                         ("close", self.close_position and self.action is not Action.CLOSE),
                         ("postOnly", self.post_only), ("dry", self.dry_run), ("nodedup", self.nodedup)):
            if on:
                parts.append(flag)
        kv: list[tuple[str, str | None]] = [
            ("id", self.filter_id if self.action is Action.CANCEL else self.id),
            ("lev", None if self.leverage is None else str(self.leverage)),
            ("margin", None if self.margin_type is None else _MARGIN_TEXT[self.margin_type]),
            ("tif", None if self.time_in_force is None or self.post_only else self.time_in_force.value),
            ("tp", ",".join(x.canonical() for x in self.take_profit) or None),
            ("sl", ",".join(x.canonical() for x in self.stop_loss) or None),
            ("trail", None if self.trail is None else self.trail.canonical()),
            ("delay", None if self.delay_ms is None else f"{self.delay_ms}ms"),
            ("ttl", None if self.ttl_ms is None else f"{self.ttl_ms}ms"),
            ("ts", None if self.ts_ms is None else str(self.ts_ms)),
            ("pos", None if self.target_position is None else fmt_decimal(self.target_position)),
            ("expect", None if self.expect is None else _EXPECT_TEXT[self.expect]),
            ("slip", None if self.slippage_pct is None else fmt_decimal(self.slippage_pct)),
            ("tag", None if self.tag is None else _quote(self.tag)),
            ("side", None if self.position_side is None else self.position_side.value.lower()),
            ("wt", None if self.working_type is None else _WT_TEXT[self.working_type]),
        ]
        if self.action is Action.CANCEL and self.id is not None:
            kv.append(("key", self.id))  # the envelope's dedupe id of a cancel (not a filter)
        parts.extend(f"{k}={v}" for k, v in kv if v is not None)
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__slots__:  # type: ignore[attr-defined]
            out[name] = _jsonable(getattr(self, name))
        out.pop("secret", None)
        out["text"] = redact(self.text)
        out["canonical"] = self.canonical()
        return out


def _quote(s: str) -> str:
    if s and all(c.isalnum() or c in "._:/-" for c in s):
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _jsonable(v: Any) -> Any:
    if isinstance(v, Decimal):
        return fmt_decimal(v)
    if isinstance(v, StrEnum):
        return v.value
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if hasattr(v, "__dataclass_fields__"):
        return {k: _jsonable(getattr(v, k)) for k in v.__dataclass_fields__}
    return v


@dataclass(frozen=True, slots=True)
class ParsedAlert:
    """The outcome of ``parse_alert``. ``ok`` is true when there is no error; an alert with any error must not
    execute at all (every command is validated before the first one runs). ``commands`` holds the commands that
    parsed, ``segments`` the text of every command (parsed or not) so a receipt can give each one a status."""

    commands: tuple[AlertCommand, ...]
    errors: tuple[AlertError, ...]
    warnings: tuple[AlertWarning, ...]
    envelope: str  # "text" or "json"
    text: str  # the command text that was parsed: the body, or the JSON envelope's "cmd"
    segments: tuple[str, ...]
    body_bytes: int
    redacted_body: str  # the decoded body with every secret replaced by ***, for the alert log
    received_ms: int

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def secrets(self) -> tuple[str, ...]:
        out: list[str] = []
        for c in self.commands:
            if c.secret is not None and c.secret not in out:
                out.append(c.secret)
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        """The alert-log form: JSON-ready, with every secret replaced by ***."""
        return {"ok": self.ok, "envelope": self.envelope, "body": self.redacted_body, "bodyBytes": self.body_bytes,
                "receivedMs": self.received_ms, "segments": [redact(x) for x in self.segments],
                "commands": [c.to_dict() for c in self.commands],
                "errors": [_redacted(e.to_dict()) for e in self.errors],
                "warnings": [_redacted(w.to_dict()) for w in self.warnings]}


def _redacted(d: dict[str, Any]) -> dict[str, Any]:
    d["message"], d["token"] = redact(d["message"]), redact(d["token"])
    return d


# ---------------------------------------------------------------- §1.5 body secret


def check_secret(alert: ParsedAlert, expected: str | None) -> AlertError | None:
    """E019 unless the alert carries the account's body secret. No secret configured: always fine. Otherwise at
    least one ``secret=`` (inline or the envelope's) must be given and every one given must match (constant time)."""
    if expected is None:
        return None
    given = alert.secrets
    if not given:
        return auth_error("secret")
    want = expected.encode()
    ok = True
    for s in given:
        ok &= hmac.compare_digest(s.encode(), want)
    return None if ok else auth_error("secret")


# ---------------------------------------------------------------- §1.6 idempotency keys

_CLIENT_ID_LEG = re.compile(r"^[.A-Za-z0-9:/_-]{1,9}$", re.ASCII)


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """``(account_id, key)`` is the UNIQUE dedupe row. ``source`` is "id" (explicit ``id=``), "ts" (content + ``ts=``)
    or "content" (content only). ``window_ms`` is None for keys kept durably (≥ 24 h) and the short window of a
    content-only key otherwise."""

    account_id: str
    key: str
    source: str
    window_ms: int | None

    def client_order_id(self, leg: str | int = 0) -> str:
        """Exchange client order id for one leg of this command: 'tv' + 24 hex of sha256(account|key) + '-' + leg,
        which fits Binance's ``^[\\.A-Z\\:/a-z0-9_-]{1,36}$``. (The reference sketches ``<key8>-<leg>``; 96 bits
        instead of 32 so a lookup by client order id after a timeout cannot hit another alert's order.)"""
        leg_s = str(leg)
        if not _CLIENT_ID_LEG.match(leg_s):
            raise ValueError(f"leg must match [.A-Za-z0-9:/_-]{{1,9}}, got {leg_s!r}")
        h = hashlib.sha256(f"{self.account_id}|{self.key}".encode()).hexdigest()[:24]
        return f"tv{h}-{leg_s}"


def derived_idempotency_key(alert: ParsedAlert, index: int = 0, *, account_id: int | str,
                            window_ms: int = DEFAULT_DEDUP_WINDOW_MS) -> IdempotencyKey | None:
    """The dedupe key of command ``index`` of ``alert`` (§1.6); None when the command says ``nodedup``.

    - ``id=`` given: ``id:<id>``, durable. When several commands of the alert share the id (an envelope id on a
      multi-command alert), ``#<n>`` (1-based command number) keeps them apart.
    - else ``ts=`` given: sha256 of the alert's canonical text (which includes ts) and the command number, durable.
    - else the same hash without ts, deduped only within ``window_ms`` (a retry of the same alert, not a repeat).

    Hashing the whole alert (not just the command) keeps ``buy 1 X ; buy 1 X`` as two commands while a re-sent alert
    maps to the same keys; canonical text makes ``long`` ≡ ``buy`` and ``BINANCE:BTCUSDT.P`` ≡ ``BTCUSDT``.
    """
    by_index = {c.index: c for c in alert.commands}
    cmd = by_index.get(index)
    if cmd is None:
        raise IndexError(f"alert has no parsed command {index}")
    if cmd.nodedup:
        return None
    acct = str(account_id)
    if cmd.id is not None:
        shared = sum(1 for c in alert.commands if c.id == cmd.id) > 1
        return IdempotencyKey(acct, f"id:{cmd.id}" + (f"#{index + 1}" if shared else ""), "id", None)
    material = " ; ".join(c.canonical() for c in sorted(alert.commands, key=lambda c: c.index))
    digest = hashlib.sha256(f"{material}#{index + 1}".encode()).hexdigest()
    if cmd.ts_ms is not None:
        return IdempotencyKey(acct, f"ts:{digest}", "ts", None)
    return IdempotencyKey(acct, f"h:{digest}", "content", window_ms)


__all__ = ["Action", "AlertCode", "AlertCommand", "DEFAULT_DEDUP_WINDOW_MS", "Expect", "IdempotencyKey", "Leg",
           "ParsedAlert", "PriceKind", "PriceSpec", "Size", "SizeUnit", "Trail", "check_secret",
           "derived_idempotency_key", "fmt_decimal"]
