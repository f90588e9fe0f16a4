"""One WebSocket connection: its subscriptions, its bounded send queue and Binance's control frames.

The hub pushes frames (bytes made once by ``frames.text_frame``) into ``push``. With the server's raw frame
writer (``uvicorn_ws``), a frame goes straight to the socket while nothing is queued and the socket is below its
high-water mark; otherwise it is queued and a writer task drains the queue as the socket drains (through the ASGI
``send`` when no raw writer exists). A consumer that falls ``max_queue`` frames behind is disconnected with a
reason instead of slowing the publisher or growing memory (issue 3, connection rules).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import orjson

from .frames import frame_payload, text_frame
from .names import StreamSpec

if TYPE_CHECKING:  # pragma: no cover
    from .hub import StreamHub

log = logging.getLogger("alfax.streams")

METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008  # too many requests / too many streams / slow consumer
CLOSE_TRY_AGAIN = 1013


@dataclass(frozen=True)
class Limits:
    """Binance's connection rules (Connect page), configurable for tests and benchmarks."""

    max_streams: int = 1024
    max_incoming_per_s: int = 10
    max_lifetime_s: float = 24 * 3600.0
    max_queue: int = 4096  # messages waiting for a slow consumer before it is disconnected


class WsError(Exception):
    """A control frame Binance answers with ``{"error": {"code", "msg"}, "id"}``."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


def error_frame(code: int, msg: str, req_id: Any = None) -> bytes:
    return text_frame(orjson.dumps({"error": {"code": code, "msg": msg}, "id": req_id}))


Send = Callable[[dict], Awaitable[None]]


class Session:
    __slots__ = (
        "hub", "send", "direct", "limits", "combined", "subs", "listen_key", "account_id", "queue", "waiter",
        "closing", "done", "incoming", "__weakref__",
    )

    def __init__(self, hub: "StreamHub", send: Send, limits: Limits, combined: bool, direct: Any = None) -> None:
        self.hub = hub
        self.send = send
        self.direct = direct  # uvicorn_ws.FrameWriter, or None: frames go through the ASGI send
        self.limits = limits
        self.combined = combined
        self.subs: dict[str, StreamSpec | None] = {}  # name -> spec (None: the listen key used as a stream)
        self.listen_key: str | None = None
        self.account_id: int | None = None
        self.queue: deque[bytes] = deque()
        self.waiter: asyncio.Future | None = None
        self.closing: tuple[int, str] | None = None
        self.done: asyncio.Future = asyncio.get_running_loop().create_future()
        self.incoming: deque[float] = deque()

    # ------------------------------------------------------------------ outbound
    def push(self, frame: bytes) -> None:
        """Send or queue one frame (called by the hub; never blocks)."""
        if self.closing is not None:
            return
        q = self.queue
        d = self.direct
        if not q and d is not None and d.ready():
            d.write(frame)
            return
        q.append(frame)
        if len(q) > self.limits.max_queue:
            self.close(CLOSE_TRY_AGAIN, f"slow consumer: more than {self.limits.max_queue} messages queued")
            return
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def close(self, code: int, reason: str) -> None:
        """Stop sending data and end the connection with a close frame carrying ``reason``."""
        if self.closing is not None:
            return
        self.closing = (code, reason)
        self.queue.clear()  # frees the backlog at once: a slow consumer never holds memory
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)  # the writer task sees ``closing`` and ends
        if not self.done.done():
            self.done.set_result(None)

    async def write_loop(self) -> None:
        q = self.queue
        send = self.send
        d = self.direct
        loop = asyncio.get_running_loop()
        try:
            while self.closing is None:
                if not q:
                    self.waiter = loop.create_future()
                    await self.waiter
                    continue
                if d is None:
                    await send({"type": "websocket.send", "text": frame_payload(q.popleft()).decode()})
                    continue
                if not d.alive():
                    break
                if not d.ready():
                    await d.wait_writable()  # resume_writing (or the connection was lost: alive() says)
                    continue
                while q and d.ready():
                    d.write(q.popleft())
        except Exception:  # the client went away while we were writing
            pass
        if not self.done.done():
            self.done.set_result(None)

    # ------------------------------------------------------------------ inbound
    async def read_loop(self, receive) -> None:
        try:
            while True:
                msg = await receive()
                typ = msg["type"]
                if typ == "websocket.disconnect":
                    break
                if typ != "websocket.receive":
                    continue
                if self._over_rate():
                    self.push(error_frame(2, f"Too many requests: at most {self.limits.max_incoming_per_s} "
                                             "incoming messages per second"))
                    self._close_after_flush(CLOSE_POLICY, "Too many requests")
                    break
                data = msg.get("text")
                if data is None:
                    data = msg.get("bytes") or b""
                self.handle_text(data)
        finally:
            if self.closing is None and not self.done.done():
                self.done.set_result(None)

    def _over_rate(self) -> bool:
        now = asyncio.get_running_loop().time()
        inc = self.incoming
        inc.append(now)
        while inc and now - inc[0] > 1.0:
            inc.popleft()
        return len(inc) > self.limits.max_incoming_per_s

    def _close_after_flush(self, code: int, reason: str) -> None:
        # let the error frame already queued go out first, then close
        async def later() -> None:
            for _ in range(50):
                if not self.queue:
                    break
                await asyncio.sleep(0.01)
            self.close(code, reason)

        asyncio.get_running_loop().create_task(later())

    def handle_text(self, data: str | bytes) -> None:
        req_id: Any = None
        try:
            try:
                req = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                raise WsError(3, f"Invalid JSON: {exc}") from None
            if not isinstance(req, dict):
                raise WsError(2, "Invalid request: expected a JSON object")
            req_id = req.get("id")
            if req_id is not None and (isinstance(req_id, bool) or not isinstance(req_id, (int, str))
                                       or (isinstance(req_id, int) and req_id < 0)):
                bad, req_id = req_id, None
                raise WsError(2, f"Invalid request: request ID must be an unsigned integer, got {bad!r}")
            method = req.get("method")
            if method is None:
                raise WsError(2, "Invalid request: missing field `method`")
            if method not in METHODS:
                raise WsError(2, f"Invalid request: unknown variant `{method}`, expected one of `SUBSCRIBE`, "
                                 "`UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`")
            result = self._dispatch(method, req.get("params"))
            self.push_json({"result": result, "id": req_id})
        except WsError as e:
            self.push(error_frame(e.code, e.msg, req_id))

    def _dispatch(self, method: str, params: Any) -> Any:
        if method == "LIST_SUBSCRIPTIONS":
            return list(self.subs)
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                raise WsError(2, "Invalid request: params must be an array of stream names")
            if method == "SUBSCRIBE":
                self.subscribe(params)
            else:
                self.hub.unsubscribe(self, params)
            return None
        if not isinstance(params, list) or not params or not isinstance(params[0], str):
            raise WsError(2, "Invalid request: property name must be a string")
        if params[0] != "combined":
            raise WsError(0, "Unknown property")
        if method == "GET_PROPERTY":
            return self.combined
        if len(params) != 2 or not isinstance(params[1], bool):
            raise WsError(1, "Invalid value type: expected Boolean")
        self.combined = params[1]
        return None

    def subscribe(self, names: list[str]) -> None:
        new = [n for n in names if n not in self.subs]
        if len(self.subs) + len(new) > self.limits.max_streams:
            raise WsError(2, f"Invalid request: too many streams, at most {self.limits.max_streams} per connection")
        self.hub.subscribe(self, new)

    # ------------------------------------------------------------------ user data
    def push_json(self, obj: Any) -> None:
        self.push(text_frame(orjson.dumps(obj)))
