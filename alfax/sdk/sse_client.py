"""``SignalStream``: follow a signal channel over SSE and never miss a record, across dropped connections and
process restarts.

    def handle(signal: dict) -> None:             # payload + id, channel, seq, epoch, ts
        print(signal["symbol"], signal["side"])

    SignalStream("http://127.0.0.1:8080", "alpha", api_key=KEY, on_signal=handle,
                 cursor_path="alpha.cursor").run()   # blocks; stream.stop() from another thread (or a callback)

How it keeps the promise:

- it reconnects for ever (``reconnect_delay`` after a stream ends, doubling per consecutive failed attempt up to
  ``max_reconnect_delay``, with jitter) and resumes with ``Last-Event-ID`` = the last id it handled, so the server
  replays exactly what it missed;
- the cursor advances only after ``on_signal`` returned, and with ``cursor_path`` it is written to disk atomically
  (temp file, fsync, rename) each time, so a restarted process resumes where the last one stopped: at-least-once
  delivery to your callback, exactly-once while the process lives;
- records at or below the cursor (same epoch) are dropped, so a replay overlapping what was handled is harmless;
- ``event: reset`` (the cursor cannot be served: the channel's history was reset, or the cursor expired) calls
  ``on_reset(notice)`` and continues from the head the notice names: resynchronise your state there;
- ``event: head`` whose seq is beyond the cursor (same epoch) means something was missed: it reconnects at once;
  started live (no cursor), it takes the head the server sends at connect as its cursor, so a reconnect before the
  first record still replays whatever was published while it was away;
- a silent connection is noticed by ``read_timeout`` (the server writes a keepalive every 15 s when idle).

Errors that retrying cannot fix (400, 401, 403, 404) end :meth:`run` with :class:`SignalStreamError`. An exception
raised by ``on_signal`` / ``on_reset`` ends it too (the record is not marked handled: it comes again next time).
Callbacks may be plain functions or coroutine functions.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import EventSource

__all__ = ["SignalStream", "SignalStreamError", "DEFAULT_STREAM_PATH"]

log = logging.getLogger("alfax.sdk.signals")

DEFAULT_STREAM_PATH = "/signals/stream"
PERMANENT_STATUSES = frozenset({400, 401, 403, 404})
_CONTROL_EVENTS = ("reset", "head")


class SignalStreamError(Exception):
    """The server refused the stream for a reason a retry cannot fix (bad channel, unknown key, …)."""

    def __init__(self, status: int, body: str) -> None:
        self.status = status
        self.body = body
        super().__init__(f"signal stream refused: HTTP {status}: {body[:300]}")


def _parse_id(text: str | None) -> tuple[str | None, int] | None:
    """``"<epoch>:<seq>"`` → (epoch, seq); ``"<seq>"`` → (None, seq); anything else → None."""
    if not text:
        return None
    epoch, sep, seq = text.rpartition(":")
    if not seq.isascii() or not seq.isdigit():
        return None
    return (epoch if sep else None), int(seq)


class SignalStream:
    def __init__(self, base_url: str, channel: str, *, api_key: str | None = None, secret: str | None = None,
                 last_id: str | None = None, on_signal: Callable[[dict], Any],
                 on_reset: Callable[[dict], Any] | None = None, cursor_path: str | os.PathLike | None = None,
                 reconnect_delay: float = 1.0, max_reconnect_delay: float = 30.0, read_timeout: float = 45.0,
                 path: str = DEFAULT_STREAM_PATH) -> None:
        """``last_id``: where to start when ``cursor_path`` holds no cursor yet (None or ``"$"``: only new records;
        ``"<epoch>:<seq>"`` or a bare seq: everything after it). A cursor file, when present, wins: it is where
        this program got to."""
        self.base_url = base_url.rstrip("/")
        self.channel = channel
        self.api_key = api_key
        self.secret = secret
        self.on_signal = on_signal
        self.on_reset = on_reset
        self.cursor_path = Path(cursor_path) if cursor_path is not None else None
        self.reconnect_delay = reconnect_delay
        self.max_reconnect_delay = max(max_reconnect_delay, reconnect_delay)
        self.read_timeout = read_timeout
        self.path = path
        stored = self._load_cursor()
        start = stored if stored is not None else last_id
        self.last_id: str | None = None if start in (None, "", "$") else start
        parsed = _parse_id(self.last_id)
        self._epoch: str | None = parsed[0] if parsed else None
        self._seq: int | None = parsed[1] if parsed else None
        self.connections = 0  # successful (200) connections so far: reconnects are connections - 1
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None

    # ------------------------------------------------------------------ control
    def run(self) -> None:
        """Follow the channel until :meth:`stop` (blocking; runs its own event loop)."""
        asyncio.run(self.arun())

    async def arun(self) -> None:
        """Follow the channel until :meth:`stop` (on the running event loop)."""
        self._stop_event = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if self._stopping:
            return
        main = asyncio.create_task(self._follow())
        stopper = asyncio.create_task(self._stop_event.wait())
        try:
            await asyncio.wait({main, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (main, stopper):
                t.cancel()
            await asyncio.gather(main, stopper, return_exceptions=True)
        if main.done() and not main.cancelled() and main.exception() is not None:
            raise main.exception()  # type: ignore[misc]

    def stop(self) -> None:
        """Stop following (from any thread, or from inside a callback): no callback starts after this call, and
        :meth:`run` / :meth:`arun` return."""
        self._stopping = True
        loop, event = self._loop, self._stop_event
        if loop is not None and event is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # the loop closed meanwhile: nothing left to stop
                pass

    # ------------------------------------------------------------------ the loop
    async def _follow(self) -> None:
        failures = 0
        timeout = httpx.Timeout(10.0, read=self.read_timeout)
        async with httpx.AsyncClient(timeout=timeout) as client:
            while not self._stopping:
                opened = False
                try:
                    opened = await self._stream_once(client)
                except SignalStreamError:
                    raise
                except (httpx.HTTPError, OSError, ValueError) as exc:
                    log.info("signal stream %s: %s: %s", self.channel, type(exc).__name__, exc)
                failures = 0 if opened else failures + 1
                await asyncio.sleep(self._delay(failures))

    def _delay(self, failures: int) -> float:
        base = min(self.max_reconnect_delay, self.reconnect_delay * (2 ** min(failures, 16)))
        return base * random.uniform(0.5, 1.0) if failures else self.reconnect_delay

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        if self.api_key is not None:
            headers["api-key"] = self.api_key
            if self.secret is not None:
                headers["secret-key"] = self.secret
        if self.last_id is not None:
            headers["Last-Event-ID"] = self.last_id
        return headers

    async def _stream_once(self, client: httpx.AsyncClient) -> bool:
        """One connection; returns whether it was accepted (200)."""
        url = f"{self.base_url}{self.path}"
        async with client.stream("GET", url, params={"channel": self.channel}, headers=self._headers()) as resp:
            if resp.status_code != 200:
                body = (await resp.aread()).decode("utf-8", "replace")
                if resp.status_code in PERMANENT_STATUSES:
                    raise SignalStreamError(resp.status_code, body)
                log.info("signal stream %s: HTTP %s, retrying", self.channel, resp.status_code)
                return False
            self.connections += 1
            async for sse in EventSource(resp).aiter_sse():
                if self._stopping:
                    break  # no callback starts after stop()
                if not sse.data:
                    continue  # retry-only block
                if not await self._handle(sse.event or "message", sse.id, sse.data):
                    break  # a gap was announced: reconnect with the cursor
            return True

    async def _handle(self, event: str, event_id: str | None, data: str) -> bool:
        """Apply one event; False asks for a reconnect."""
        doc = json.loads(data)
        if event == "reset":
            self._advance(str(doc["id"]))
            if self.on_reset is not None:
                await _call(self.on_reset, doc)
            return True
        if event == "head":
            epoch, seq, head_id = doc.get("epoch"), doc.get("seq"), doc.get("id")
            if self._seq is None:
                # no cursor yet (we joined live): the head sent at connect is exactly where this stream starts
                if isinstance(head_id, str):
                    self._advance(head_id)
                return True
            if self._epoch is not None and epoch != self._epoch:
                log.info("signal stream %s: epoch changed to %s: resuming (expect a reset)", self.channel, epoch)
                return False
            if isinstance(seq, int) and seq > self._seq:
                log.info("signal stream %s: head %s is past our cursor %s: resuming", self.channel, seq, self.last_id)
                return False
            return True
        rid = doc.get("id") if isinstance(doc, dict) and isinstance(doc.get("id"), str) else event_id
        parsed = _parse_id(rid)
        if parsed is not None and self._seq is not None and parsed[1] <= self._seq and (
                parsed[0] is None or self._epoch is None or parsed[0] == self._epoch):
            return True  # already handled (a replay overlapping our cursor)
        await _call(self.on_signal, doc)
        if rid:
            self._advance(rid)
        return True

    # ------------------------------------------------------------------ the cursor
    def _advance(self, event_id: str) -> None:
        parsed = _parse_id(event_id)
        if parsed is None:
            return
        self.last_id = event_id
        self._epoch, self._seq = parsed
        if self.cursor_path is not None:
            _write_atomically(self.cursor_path, event_id)

    def _load_cursor(self) -> str | None:
        if self.cursor_path is None:
            return None
        try:
            text = self.cursor_path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return text or None


async def _call(fn: Callable[[dict], Any], arg: dict) -> None:
    result = fn(arg)
    if inspect.isawaitable(result):
        await result


def _write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that a crash leaves either the old or the new cursor, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
