"""Exceptions of the alfax SDK (same names, hierarchy and attributes as the official ``alfax`` 0.1.1 SDK).

Mapping of an HTTP error response (``raise_for_response``):

* HTTP 429 or 418                               -> :class:`RateLimitError`
* HTTP >= 400 whose JSON body has code -2010/-2011 -> :class:`OrderError` (new order / cancel rejected)
* any other HTTP >= 400                          -> :class:`AlfaxAPIError`

Every API error carries ``status`` (HTTP status), ``code`` (the Binance error code from the body, or ``None``),
``msg`` (the body's message) and ``body`` (the parsed JSON body, or the raw text if it was not JSON).
"""

from __future__ import annotations

from typing import Any

ORDER_REJECTED = -2010
CANCEL_REJECTED = -2011


class AlfaxError(Exception):
    """Base class of every error the SDK raises on purpose."""


class AlfaxAPIError(AlfaxError):
    """The API answered with an HTTP error status."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        code = body.get("code") if isinstance(body, dict) else None
        self.code: int | None = code if isinstance(code, int) and not isinstance(code, bool) else None
        if isinstance(body, dict):
            self.msg: str = str(body.get("msg", body))
        else:
            self.msg = str(body)
        super().__init__(f"HTTP {status} code={self.code}: {self.msg}")


class AuthError(AlfaxError):
    """Credentials are missing on the client side (e.g. a signed call without an api_secret)."""


class RateLimitError(AlfaxAPIError):
    """HTTP 429 (too many requests) or HTTP 418 (IP banned after ignoring 429s)."""


class OrderError(AlfaxAPIError):
    """An order was rejected (-2010) or a cancel was rejected (-2011)."""


_BY_CODE: dict[int, type[AlfaxAPIError]] = {ORDER_REJECTED: OrderError, CANCEL_REJECTED: OrderError}


def error_for(status: int, body: Any) -> AlfaxAPIError:
    """The exception (not raised) for an HTTP error response."""
    if status in (418, 429):
        return RateLimitError(status, body)
    code = body.get("code") if isinstance(body, dict) else None
    return _BY_CODE.get(code, AlfaxAPIError)(status, body) if isinstance(code, int) else AlfaxAPIError(status, body)


def raise_for_response(status: int, body: Any) -> None:
    """Raise the most specific error for an HTTP response; nothing for a status below 400 (except 418/429)."""
    if status in (418, 429) or status >= 400:
        raise error_for(status, body)


__all__ = ["AlfaxError", "AlfaxAPIError", "AuthError", "RateLimitError", "OrderError", "raise_for_response",
           "error_for"]
