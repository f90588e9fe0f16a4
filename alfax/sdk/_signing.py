"""Request parameters and HMAC-SHA256 signing, exactly as Binance USDT-M (and the official alfax SDK) do it.

* ``None`` parameters are dropped; the rest keep the caller's order.
* A signed request appends ``timestamp`` (ms) and ``recvWindow``, then ``signature`` =
  HMAC-SHA256(secret, urlencode(params)) hex, last.
* Every parameter travels in the query string, for POST/PUT/DELETE too; the body is empty.

Money (price, quantity, stopPrice, amount) is sent as a plain decimal string. Accepted inputs are ``Decimal``,
``str`` (parsed and re-emitted without exponent, trailing zeros kept) and ``int``; a ``float`` (or a bool) raises
``TypeError``, because a float like ``0.1 + 0.2`` has already lost the value the caller meant.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode


def money(value: Any, name: str = "amount") -> str | None:
    """A money/quantity parameter as a plain decimal string (``None`` stays ``None``)."""
    if value is None:
        return None
    if isinstance(value, (bool, float)):
        raise TypeError(f"{name}: {type(value).__name__} {value!r} not accepted for a money/quantity parameter; "
                        f"pass a Decimal, str or int (e.g. Decimal(str(x)))")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{name}: not a decimal number: {value!r}") from None
    else:
        raise TypeError(f"{name}: {type(value).__name__} not accepted for a money/quantity parameter")
    if not d.is_finite():
        raise ValueError(f"{name}: not a finite number: {value!r}")
    return format(d, "f")


def integer(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected int, got {type(value).__name__} {value!r}")
    return value


def flag(value: bool | None) -> str | None:
    """Binance booleans: ``"true"`` / ``"false"``."""
    if value is None:
        return None
    return "true" if value else "false"


def text(value: Any) -> str | None:
    """Any other parameter (symbols, enums, ids): its ``str``; UUIDs become canonical strings."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def now_ms() -> int:
    return int(time.time() * 1000)


def signature(secret: bytes, query: str) -> str:
    return hmac.new(secret, query.encode(), hashlib.sha256).hexdigest()


def build_query(params: dict[str, Any], *, secret: bytes | None = None, recv_window: int | None = None,
                timestamp: int | None = None) -> str:
    """The query string for a request; signed when ``secret`` is given."""
    items = [(k, text(v)) for k, v in params.items() if v is not None]
    if secret is None:
        return urlencode(items)
    items.append(("timestamp", str(timestamp if timestamp is not None else now_ms())))
    if recv_window is not None and all(k != "recvWindow" for k, _ in items):
        items.append(("recvWindow", str(recv_window)))
    query = urlencode(items)
    return f"{query}&signature={signature(secret, query)}"
