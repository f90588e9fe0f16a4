"""WebSocket streams: public market data and the private user-data stream (Binance paths).

As in the official SDK, both are async context managers whose async iteration yields each message as a dict::

    async with MarketStream(["btcusdt@bookTicker"], base_url="ws://127.0.0.1:8080") as s:
        async for msg in s:           # {"stream": "btcusdt@bookTicker", "data": {...}}
            ...

    async with UserStream(listen_key=c.new_listen_key(), base_url="ws://127.0.0.1:8080") as s:
        async for evt in s.events():  # alfax addition: challengeUpdate events as ChallengeUpdate models
            ...

alfax additions: ``recv(timeout)``; ``UserStream.events()``; the same objects work synchronously as well
(``with UserStream(...) as s: for msg in s: ...``, and ``s.iter_events()``); ``base_url`` may be an
``http(s)://`` URL (turned into ``ws(s)://``) and defaults to ``$ALFAX_BASE_URL`` (as ws) or
``ws://localhost:8080``.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as _aconnect
from websockets.sync.client import ClientConnection as SyncClientConnection
from websockets.sync.client import connect as _sconnect

from .models import parse_event

MessageCallback = Callable[[dict], Coroutine[Any, Any, None]]

DEFAULT_WS_URL = "ws://localhost:8080"
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def ws_base(base_url: str | None) -> str:
    """A WebSocket base URL: http->ws, https->wss; default from ALFAX_BASE_URL, else ws://localhost:8080."""
    url = base_url if base_url is not None else (os.environ.get("ALFAX_BASE_URL") or DEFAULT_WS_URL)
    url = url.rstrip("/")
    if url.startswith("https://"):
        url = "wss://" + url[len("https://"):]
    elif url.startswith("http://"):
        url = "ws://" + url[len("http://"):]
    return url


class _Stream:
    url: str

    def __init__(self) -> None:
        self._ws: ClientConnection | None = None
        self._sws: SyncClientConnection | None = None

    # ---------------------------------------------------------------- asyncio
    async def __aenter__(self):
        self._ws = await _aconnect(self.url, max_size=MAX_MESSAGE_BYTES)
        return self

    async def __aexit__(self, *_: Any) -> None:
        if self._ws is not None:
            ws, self._ws = self._ws, None
            await ws.close()

    async def __aiter__(self) -> AsyncIterator[dict]:
        if self._ws is None:
            raise RuntimeError(f"{type(self).__name__} must be used as an async context manager")
        async for raw in self._ws:
            yield json.loads(raw)

    async def recv(self, timeout: float | None = None) -> dict:
        """The next message (alfax addition); ``asyncio.TimeoutError`` after ``timeout`` seconds."""
        if self._ws is None:
            raise RuntimeError(f"{type(self).__name__} must be used as an async context manager")
        raw = await asyncio.wait_for(self._ws.recv(), timeout) if timeout is not None else await self._ws.recv()
        return json.loads(raw)

    async def run(self, callback: MessageCallback) -> None:
        """Connect and await ``callback(msg)`` for every message until the stream closes."""
        async with self:
            async for msg in self:
                await callback(msg)

    # ---------------------------------------------------------------- synchronous (alfax addition)
    def __enter__(self):
        # entered as a context manager, as websockets >= 17.1 asks of the synchronous client
        self._sws = _sconnect(self.url, max_size=MAX_MESSAGE_BYTES).__enter__()
        return self

    def __exit__(self, *_: Any) -> None:
        if self._sws is not None:
            ws, self._sws = self._sws, None
            ws.close()

    def __iter__(self) -> Iterator[dict]:
        if self._sws is None:
            raise RuntimeError(f"{type(self).__name__} must be used as a context manager ('with') to iterate")
        for raw in self._sws:
            yield json.loads(raw)

    def recv_sync(self, timeout: float | None = None) -> dict:
        """The next message on a synchronous connection; ``TimeoutError`` after ``timeout`` seconds."""
        if self._sws is None:
            raise RuntimeError(f"{type(self).__name__} must be used as a context manager ('with')")
        return json.loads(self._sws.recv(timeout))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r})"


class MarketStream(_Stream):
    """Public market streams, combined: ``{base}/stream?streams=a/b/c``; messages are ``{"stream", "data"}``."""

    def __init__(self, streams: list[str], base_url: str | None = None) -> None:
        super().__init__()
        self.streams = list(streams)
        self.url = f"{ws_base(base_url)}/stream?streams=" + "/".join(self.streams)


class UserStream(_Stream):
    """The user-data stream of a listen key: ``{base}/ws/{listenKey}``; messages are raw Binance events."""

    def __init__(self, *, listen_key: str, base_url: str | None = None) -> None:
        super().__init__()
        self.listen_key = listen_key
        self.url = f"{ws_base(base_url)}/ws/{listen_key}"

    async def events(self) -> AsyncIterator[Any]:
        """Events through :func:`~alfax.sdk.models.parse_event`: ``challengeUpdate`` as ``ChallengeUpdate``,
        every other event as its dict (alfax addition)."""
        async for msg in self:
            yield parse_event(msg)

    def iter_events(self) -> Iterator[Any]:
        """Synchronous :meth:`events` (inside ``with``)."""
        for msg in self:
            yield parse_event(msg)


__all__ = ["MarketStream", "UserStream", "MessageCallback", "ws_base"]
