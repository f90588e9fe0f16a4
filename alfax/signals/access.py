"""Who is calling the signal hub's HTTP endpoints (issue 5): credentials from a request → an account id.

The hub never sees the key store: the composition root injects a :class:`SignalAccess` (API keys from the ledger's
key store, Phoenix session tokens from wherever sessions live).

Where credentials may come from, first match wins (a request that carries one credential and gets it wrong is
refused, even if a later source would have been valid: no silent fallback between identities):

1. ``x-api-key`` header (Areix: ``POST /signal``, ``/analysis``, ``/feeds``);
2. ``api-key`` header, with an optional ``secret-key`` header (Blave's SSE example sends both);
3. ``X-MBX-APIKEY`` header (Binance clients);
4. ``api_key`` query parameter, with an optional ``secret_key`` (a browser ``EventSource`` cannot set headers);
5. ``api_token`` query parameter: a Phoenix session token (AlphaHub clients).

A secret, when one is sent, must match the key's secret; when none is sent the key alone identifies the account
(as Binance's ``X-MBX-APIKEY`` does for user streams). Keys in a query string end up in access logs: prefer headers
wherever the client can set them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import orjson
from starlette.requests import HTTPConnection
from starlette.responses import Response

from alfax.domain.errors import Err, VenueError

__all__ = ["SignalAccess", "Credentials", "request_credentials", "authenticate", "valid_channel", "error_body",
           "error_response", "unauthorized", "channel_error"]

MAX_CREDENTIAL_LEN = 512  # longer values are not ours; refuse them before any lookup


class SignalAccess(Protocol):
    """What the signal endpoints need to know about callers (the lead wires the ledger key store and sessions)."""

    def account_for_key(self, api_key: str, secret: str | None) -> int | None:
        """The account of an enabled API key (and matching ``secret`` when one is given), else None."""
        ...

    def account_for_token(self, token: str) -> int | None:
        """The account of a live Phoenix session token, else None."""
        ...


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a request presented: an API key (with an optional secret) or a session token."""

    api_key: str | None = None
    secret: str | None = None
    token: str | None = None
    source: str = ""  # where it came from (header or query name), for logs and error messages


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def request_credentials(conn: HTTPConnection) -> Credentials | None:
    """The credentials a request carries (headers before query parameters), or None if it carries none."""
    headers = conn.headers
    secret_header = _clean(headers.get("secret-key"))
    for name, secret in (("x-api-key", None), ("api-key", secret_header), ("x-mbx-apikey", None)):
        key = _clean(headers.get(name))
        if key is not None:
            return Credentials(api_key=key, secret=secret, source=name)
    query = conn.query_params
    key = _clean(query.get("api_key"))
    if key is not None:
        return Credentials(api_key=key, secret=_clean(query.get("secret_key")), source="api_key")
    token = _clean(query.get("api_token"))
    if token is not None:
        return Credentials(token=token, source="api_token")
    return None


def authenticate(access: SignalAccess, conn: HTTPConnection) -> int | None:
    """The account behind the request's credentials; None when it has none or they are not valid."""
    creds = request_credentials(conn)
    if creds is None:
        return None
    if creds.api_key is not None:
        if len(creds.api_key) > MAX_CREDENTIAL_LEN or (creds.secret and len(creds.secret) > MAX_CREDENTIAL_LEN):
            return None
        return access.account_for_key(creds.api_key, creds.secret)
    if creds.token is not None and len(creds.token) <= MAX_CREDENTIAL_LEN:
        return access.account_for_token(creds.token)
    return None


# ---------------------------------------------------------------------------------------------------- answers
# Shared by the publish and SSE endpoints: one error shape that both Binance clients (``code``/``msg``) and Areix
# clients (``success``/``error``/``msg``/``data``) understand.

CHANNEL_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def valid_channel(value: str | None) -> bool:
    return value is not None and CHANNEL_PATTERN.fullmatch(value) is not None


def error_body(err: VenueError, errors: list[dict] | None = None) -> dict:
    body: dict = {"code": err.code, "msg": err.msg, "data": None, "error": True, "success": False}
    if errors:
        body["errors"] = errors
    return body


def error_response(err: VenueError, errors: list[dict] | None = None) -> Response:
    return Response(orjson.dumps(error_body(err, errors)), status_code=err.http_status, media_type="application/json")


def unauthorized() -> Response:
    return error_response(VenueError(Err.REJECTED_MBX_KEY))


def channel_error(name: str, value: str | None) -> Response:
    """400 for a missing or malformed channel parameter (``user_code`` / ``channel``)."""
    if not value:
        return error_response(VenueError(Err.MANDATORY_PARAM, param=name))
    return error_response(VenueError(Err.INVALID_PARAMETER, param=name),
                          [{"field": name, "message": "must match [A-Za-z0-9_.-]{1,64}"}])
