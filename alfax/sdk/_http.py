"""What the sync and async clients share: building the request URL and turning a response into a result."""

from __future__ import annotations

from typing import Any, Callable

import httpx

from . import _signing as w
from .errors import AuthError, raise_for_response


class RequestBuilder:
    def __init__(self, api_key: str | None, api_secret: str | None, recv_window: int) -> None:
        self.api_key = api_key
        self._secret: bytes | None = api_secret.encode() if api_secret else None
        self.recv_window = recv_window

    def headers(self) -> dict[str, str]:
        return {"X-MBX-APIKEY": self.api_key} if self.api_key else {}

    def url(self, path: str, params: dict[str, Any] | None, signed: bool) -> str:
        if signed and not self._secret:
            raise AuthError("api_secret required for signed endpoints (pass api_secret= or set ALFAX_SECRET)")
        query = w.build_query(params or {}, secret=self._secret if signed else None, recv_window=self.recv_window)
        return f"{path}?{query}" if query else path


def finish(resp: httpx.Response, parse: Callable[[Any], Any] | None) -> Any:
    if resp.status_code >= 400 or resp.status_code in (418, 429):
        try:
            body: Any = resp.json()
        except ValueError:
            body = resp.text
        raise_for_response(resp.status_code, body)
    raw = resp.json() if resp.content else None
    return parse(raw) if parse is not None else raw
