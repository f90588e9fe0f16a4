"""Asynchronous client (httpx.AsyncClient): every ``Client`` method, as a coroutine (alfax addition)."""

from __future__ import annotations

from typing import Any

import httpx

from ._endpoints import Endpoints, Parse
from ._http import finish


class AsyncClient(Endpoints):
    """Same constructor, methods and return types as :class:`~alfax.sdk.client.Client`; each method is awaited::

        async with AsyncClient(api_key=..., api_secret=..., base_url=...) as c:
            acc = await c.account()
    """

    _http_class = httpx.AsyncClient

    async def _call(self, method: str, path: str, *, signed: bool = False, parse: Parse | None = None,
                    params: dict[str, Any] | None = None) -> Any:
        url = self._req.url(path, params, signed)
        resp = await self._http.request(method, url)
        return finish(resp, parse)

    async def aclose(self) -> None:
        """Close the underlying HTTP connection pool."""
        await self._http.aclose()

    close = aclose

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *_: Any) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncClient(base_url={self.base_url!r}, api_key={'set' if self.api_key else None})"


__all__ = ["AsyncClient"]
