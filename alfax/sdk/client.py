"""Synchronous client (httpx): the official ``alfax`` SDK's ``Client``, plus the alfax additions."""

from __future__ import annotations

from typing import Any

import httpx

from ._endpoints import DEFAULT_BASE_URL, Endpoints, Parse
from ._http import finish


class Client(Endpoints):
    """Binance-USDT-M-compatible client of the alfax API.

    Parameters
    ----------
    api_key:     API key, sent as ``X-MBX-APIKEY`` on every request. Default: ``$ALFAX_KEY``.
    api_secret:  API secret for signed endpoints. Default: ``$ALFAX_SECRET``.
    base_url:    REST base URL. Default: ``$ALFAX_BASE_URL``, else ``https://api.alfax.trade``.
    timeout:     HTTP timeout in seconds (default 10).
    recv_window: ``recvWindow`` of signed requests in ms (default 5000).

    Money parameters accept ``Decimal``, ``str`` or ``int`` and are sent as plain decimal strings; a ``float``
    raises ``TypeError``. Returned money fields are ``Decimal``.
    """

    _http_class = httpx.Client

    def _call(self, method: str, path: str, *, signed: bool = False, parse: Parse | None = None,
              params: dict[str, Any] | None = None) -> Any:
        resp = self._http.request(method, self._req.url(path, params, signed))
        return finish(resp, parse)

    def close(self) -> None:
        """Close the underlying HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r}, api_key={'set' if self.api_key else None})"


__all__ = ["Client", "DEFAULT_BASE_URL"]
