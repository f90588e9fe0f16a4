"""The error catalogue of the TradingView alert grammar (shared/reference/signals.md §1.7).

Every rejection of an alert is an ``AlertError`` value — never a Python exception: ``{code, message, col, token,
hint}`` as the catalogue says, plus the 1-based ``line`` and the 0-based index of the ``command`` it belongs to
(``None`` for the alert as a whole). Warnings (W101-W103) have the same shape.

The parser (``alert_grammar``) produces the syntax and validation codes. The codes that need state the parser does
not have — E016 duplicate, E019 auth, E020 minimum size, E021 rate, W101/W102 — are built by the webhook layer with
the factories at the bottom, so their wording stays in this one table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class AlertCode(Enum):
    # name = (code, HTTP status the webhook answers with when this is the alert's first error, what it covers)
    EMPTY = ("E001", 400, "body empty or whitespace")
    PLACEHOLDER = ("E002", 400, "unsubstituted TradingView {{placeholder}}")
    VERB = ("E003", 400, "first token is not a verb")
    NUMBER = ("E004", 400, "malformed number")
    NEGATIVE = ("E005", 400, "negative amount")
    ZERO = ("E006", 422, "amount 0 without close/pos/cancel")
    SYMBOL = ("E007", 400, "malformed or unknown symbol")
    ORDER_TYPE = ("E008", 400, "token 4 is not an order type, flag or key=value")
    MISSING_ARG = ("E009", 400, "order type (or verb) without its arguments")
    RANGE = ("E010", 400, "value out of range")
    OPTION = ("E011", 400, "unknown option key or flag")
    DUP_OPTION = ("E012", 400, "option given twice")
    CONFLICT = ("E013", 422, "incompatible parts")
    BAD_VALUE = ("E014", 400, "value syntax of a key (or of the JSON envelope)")
    STALE = ("E015", 422, "older than ttl")
    DUPLICATE = ("E016", 409, "idempotency key already seen")
    TRAILING = ("E017", 400, "junk after a complete command")
    TOO_LONG = ("E018", 400, "body over the size limit")
    AUTH = ("E019", 401, "bad secret or source address")
    MIN_SIZE = ("E020", 422, "size rounds below the venue minimum")
    RATE = ("E021", 429, "rate limit")
    # warnings: the alert still executes
    NOTHING_TO_CLOSE = ("W101", 202, "nothing to close")
    TARGET_OVERRIDES = ("W102", 202, "pos= target overrides the verb/amount")
    ENVELOPE_OVERRIDE = ("W103", 202, "a JSON envelope field overrides an inline option")

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def http_status(self) -> int:
        return self.value[1]

    @property
    def is_warning(self) -> bool:
        return self.value[0].startswith("W")

    @classmethod
    def from_code(cls, code: str) -> "AlertCode":
        for c in cls:
            if c.value[0] == code:
                return c
        raise KeyError(code)


@dataclass(frozen=True, slots=True)
class _AlertNote:
    kind: AlertCode
    message: str
    col: int
    token: str
    hint: str
    line: int = 1
    command: int | None = None

    @property
    def code(self) -> str:
        return self.kind.code

    @property
    def name(self) -> str:
        return self.kind.name

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "message": self.message, "col": self.col, "line": self.line,
                "token": self.token, "hint": self.hint, "command": self.command}


@dataclass(frozen=True, slots=True)
class AlertError(_AlertNote):
    """One rejection. ``col``/``line`` are 1-based, counted in characters of the command text (for a JSON envelope:
    of its ``cmd`` string, or of the raw body for errors about the envelope itself). ``token`` is the offending text
    exactly as it appears there ('' when something is missing; ``col`` then points just past the end)."""

    @property
    def http_status(self) -> int:
        return self.kind.http_status


@dataclass(frozen=True, slots=True)
class AlertWarning(_AlertNote):
    """Same shape as ``AlertError``; a warning never stops an alert."""


# ---------------------------------------------------------------- factories for the codes the webhook layer raises


def alert_error(kind: AlertCode, message: str, *, hint: str, col: int = 1, token: str = "", line: int = 1,
                command: int | None = None) -> AlertError:
    if kind.is_warning:
        raise ValueError(f"{kind.code} is a warning; use alert_warning")
    return AlertError(kind, message, col, token, hint, line, command)


def alert_warning(kind: AlertCode, message: str, *, hint: str, col: int = 1, token: str = "", line: int = 1,
                  command: int | None = None) -> AlertWarning:
    if not kind.is_warning:
        raise ValueError(f"{kind.code} is an error; use alert_error")
    return AlertWarning(kind, message, col, token, hint, line, command)


def duplicate_error(*, alert_ref: str, key: str, received: str, status: str, command: int | None = None) -> AlertError:
    """E016: ``duplicate of alert 01J… (id=manual_test) received 12:00:01Z — status filled; ignored``."""
    return AlertError(AlertCode.DUPLICATE,
                      f"duplicate of alert {alert_ref} ({key}) received {received} — status {status}; ignored",
                      1, "", "TradingView or a bridge re-sent the alert; the first one is the one that counts. "
                      "Give each alert its own id= (e.g. id={{strategy.order.id}}-{{timenow}}) if they differ",
                      1, command)


def auth_error(reason: str) -> AlertError:
    """E019: ``reason`` is "secret" (``invalid secret``) or "ip" (``source IP not allowed``)."""
    if reason == "ip":
        return AlertError(AlertCode.AUTH, "source IP not allowed", 1, "",
                          "only TradingView's webhook addresses may post to this URL; turn the allow-list off for "
                          "manual tests")
    return AlertError(AlertCode.AUTH, "invalid secret", 1, "",
                      "put the account's current webhook secret in the alert as secret=… or in the JSON field "
                      "\"secret\"")


def min_size_error(*, requested: str, asset: str, rounded: str, step: str, min_notional: str,
                   command: int | None = None, col: int = 1, token: str = "", line: int = 1) -> AlertError:
    """E020: ``0.0004 BTC rounds to 0 at step 0.001 (min notional 5 USDT)``."""
    return AlertError(AlertCode.MIN_SIZE,
                      f"{requested} {asset} rounds to {rounded} at step {step} (min notional {min_notional} USDT)",
                      col, token, "raise the amount, or enable 'round up to minimum' for this account", line, command)


def rate_error(limit: str) -> AlertError:
    """E021: ``too many alerts for this account (60/s)``; exits are never rate-limited."""
    return AlertError(AlertCode.RATE, f"too many alerts for this account ({limit})", 1, "",
                      "entries are rate-limited per account; exits (close, reduceOnly) never are")


def nothing_to_close_warning(*, symbol: str, wanted: str, actual: str, command: int | None = None) -> AlertWarning:
    """W101: a ``close`` found no position on the side it closes."""
    return AlertWarning(AlertCode.NOTHING_TO_CLOSE,
                        f"nothing to close: no {wanted} position on {symbol} (position is {actual})", 1, "",
                        "'buy … close' closes a SHORT and 'sell … close' a LONG; 'close * SYM' closes either side",
                        1, command)


def target_overrides_warning(*, target: str, current: str, delta: str, verb: str, amount: str,
                             command: int | None = None) -> AlertWarning:
    """W102: ``pos=`` wins over a verb/amount that disagree with the delta actually traded."""
    return AlertWarning(AlertCode.TARGET_OVERRIDES,
                        f"target position {target} (current {current}) trades {delta}; '{verb} {amount}' ignored",
                        1, "", "with pos= the verb and amount are only sanity checks; the target wins", 1, command)
