"""The WebSocket side of the Binance edge, as a raw ASGI app mounted by the composition root.

URL forms (contract §4.1), all served from the same hub:
- routed ``/public|/market|/private`` + ``/ws[/<stream>…]`` (raw) or ``/stream?streams=a/b`` (combined);
- ``/private/ws?listenKey=<k>`` (user data, raw);
- legacy ``/ws[/<stream>|/<listenKey>]`` and ``/stream?streams=`` (the connector, the ``alfax`` SDK).
Unknown path segments after ``/ws`` (ccxt.pro appends ``/0``, ``/5``…) are ignored, as on Binance. Any stream is
served on any route: a client that multiplexes depth over ``/market`` (python-binance) still gets it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from .hub import StreamHub
from .session import CLOSE_NORMAL, CLOSE_POLICY, Limits, Session, error_frame

FRAME_WRITER = "alfax.frame_writer"  # scope extension offered by streams.uvicorn_ws (raw frame output)

ROUTES = ("public", "market", "private")
# how long a close frame may wait behind a slow consumer's socket buffer before the connection is just dropped
CLOSE_WAIT_S = 5.0


@dataclass
class ConnectPlan:
    combined: bool
    streams: list[str] = field(default_factory=list)
    listen_key: str | None = None


def plan_connection(path: str, query: bytes) -> ConnectPlan | None:
    """What a connection URL asks for, or None when the path is not a stream endpoint."""
    segments = [s for s in path.split("/") if s]
    if segments and segments[0] in ROUTES:
        segments.pop(0)  # every route serves every stream (module docstring)
    if not segments or segments[0] not in ("ws", "stream"):
        return None
    combined = segments.pop(0) == "stream"
    qs = parse_qs(query.decode("latin-1")) if query else {}
    streams = list(segments)
    for value in qs.get("streams", ()):
        streams.extend(s for s in value.split("/") if s)
    key = (qs.get("listenKey") or [None])[0]
    return ConnectPlan(combined, streams, key)


class StreamsApp:
    """ASGI callable (a class instance, so Starlette mounts it as a raw ASGI app)."""

    def __init__(self, hub: StreamHub, limits: Limits | None = None) -> None:
        self.hub = hub
        self.limits = limits or Limits()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "websocket":
            return
        plan = plan_connection(scope["path"], scope.get("query_string", b""))
        msg = await receive()
        if msg["type"] != "websocket.connect":
            return
        if plan is None:
            await send({"type": "websocket.close", "code": CLOSE_POLICY})  # HTTP 403 before the handshake
            return
        await send({"type": "websocket.accept"})
        await self._serve(plan, receive, send, scope.get("extensions", {}).get(FRAME_WRITER))

    async def _serve(self, plan: ConnectPlan, receive, send, direct) -> None:
        hub, limits = self.hub, self.limits
        loop = asyncio.get_running_loop()
        session = Session(hub, send, limits, plan.combined, direct)
        if plan.listen_key is not None and not hub.bind_user(session, plan.listen_key):
            session.push(error_frame(-1125, "This listenKey does not exist."))
            session._close_after_flush(CLOSE_POLICY, "invalid listenKey")
        if len(plan.streams) > limits.max_streams:
            session.push(error_frame(2, f"Invalid request: too many streams, at most {limits.max_streams} "
                                        "per connection"))
            session._close_after_flush(CLOSE_POLICY, "too many streams")
        else:
            hub.subscribe(session, plan.streams)
        lifetime = loop.call_later(limits.max_lifetime_s, session.close, CLOSE_NORMAL,
                                   "connection lifetime reached (24 hours)")
        writer = loop.create_task(session.write_loop())
        reader = loop.create_task(session.read_loop(receive))
        try:
            await session.done
        finally:
            lifetime.cancel()
            hub.detach(session)
            reader.cancel()
            writer.cancel()
            if session.closing is not None:
                code, reason = session.closing
                try:  # bounded: a consumer that stopped reading cannot hold the close frame hostage
                    await asyncio.wait_for(send({"type": "websocket.close", "code": code, "reason": reason}),
                                           CLOSE_WAIT_S)
                except Exception:
                    pass
