"""The signal hub's Phoenix channels endpoint (issue 5; signals.md §3): AlphaHub's protocol, without AlphaHub's losses.

Routes (:func:`phoenix_routes`):

- ``POST /api/v1/session`` (form ``user[email]``, ``user[password]``) → ``{"data": {"renew_token", "token"}}`` — the
  Pow shape AlphaHub clients parse; ``POST /api/v1/session/renew`` (``Authorization: <renew_token>``) and
  ``DELETE /api/v1/session`` (``Authorization: <token>``). Errors carry Pow's ``error`` object *and* Binance's
  ``code``/``msg``.
- ``WS /socket/websocket?vsn=2.0.0&api_token=<token>`` (also ``token=`` / ``api_key=``, the ``x-auth-token`` header,
  or phoenix.js ≥ 1.8's ``Sec-WebSocket-Protocol: phoenix, base64url.bearer.phx.<b64>``). A bad or expired token
  refuses the upgrade (HTTP 403), which makes AlphaHub-style clients log in again.

Topics are ``algorithms:<channel>``. A join without a cursor is AlphaHub's live-only join and is answered exactly
as AlphaHub does (``{"response":{},"status":"ok"}``); a join with ``{"last_seq": n, "epoch": e}`` is the §3.4
resume: the hub subscribes first, then reads history, the reply says ``{"epoch","head_seq","replay"}`` and the
``replay`` missed records follow in order before live ones (or the reply is a ``reset`` notice when the cursor
cannot be served). Every ``new_signals`` push carries one record and its ``seq``; a ``head`` push (right after each
join, then every ``head_every_s``) lets a client notice a gap while the channel is quiet.

Pushes carry the join's ``join_ref`` (Phoenix ``push/3``): ``[null,null,…]`` for AlphaHub's null refs — byte for
byte seed 002 — and ``["3",null,…]`` for phoenix.js-style clients, which drop pushes of an outdated join (the
band-ai Python client even drops pushes whose join_ref is not its current one).

Per connection: the ASGI task reads (idle timeout, heartbeats, joins, leaves) and one writer task per joined topic
pumps its hub subscriber. A signal's payload JSON is encoded once (cached on the hub's ``Published``), and so is
its whole WebSocket frame per distinct join_ref, written straight to each socket when the server's uvicorn protocol
offers the ``alfax.frame_writer`` extension (an ASGI text send otherwise). A consumer that cannot keep up is
closed with 1013 (try again later): the hub's buffer overflowed, or the socket has not been writable for
``send_timeout_s``; the client resumes from its cursor, so a slow client costs a reconnect, never a signal.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import struct
import time
from typing import Any, Protocol
from urllib.parse import parse_qs

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette import websockets as _starlette_ws
from starlette.websockets import WebSocket, WebSocketDisconnect

from alfax.domain.errors import Err

from . import phoenix_wire as wire
from .hub import Published, SignalHub, SlowConsumer, Subscriber
from .payloads import head_notice, join_response, new_signals_payload, reset_notice

log = logging.getLogger("alfax.signals.phoenix")

SESSION_PATH = "/api/v1/session"
RENEW_PATH = "/api/v1/session/renew"
SOCKET_PATH = "/socket/websocket"
CHANNEL = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_TOPICS = 256  # per socket (Phoenix answers "too many channels joined" too)
MAX_BODY = 64 * 1024
AUTH_PROTOCOL_PREFIX = "base64url.bearer.phx."
CLOSE_TIMEOUT_S = 2.0
NEW_SIGNALS_KIND = "phoenix.new_signals"  # Published.frame cache key: the payload JSON text of one record
# The ASGI scope extension of the server's uvicorn protocol (alfax.streams.uvicorn_ws, named here, not imported):
# whole frames written straight to the socket. With it a push is framed once per record and join_ref and costs one
# transport write per socket instead of an ASGI send that re-frames the text for every connection.
FRAME_WRITER = "alfax.frame_writer"
# the peer is gone: a send failed (WebSocketDisconnect) or another task's failed send already marked the socket
# closed (Starlette's WebSocketDisconnected, a RuntimeError)
_GONE = (WebSocketDisconnect, getattr(_starlette_ws, "WebSocketDisconnected", WebSocketDisconnect))

# close codes
CLOSE_GOING_AWAY = 1001  # idle timeout (Phoenix ≥ 1.8.8 closes deliberate disconnects with 1001)
CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013  # slow consumer


class HubUsers(Protocol):
    """What the endpoint needs from the user store (``alfax.ledger.SqliteHubUsers``)."""

    def verify(self, email: str, password: str) -> int | None: ...


class Tokens(Protocol):
    """What the endpoint needs from the session store (:class:`alfax.signals.sessions.SessionTokens`)."""

    def issue(self, account_id: int) -> dict: ...

    def account_for(self, token: str | None) -> int | None: ...

    def renew(self, renew_token: str | None) -> dict | None: ...

    def revoke(self, token: str | None) -> bool: ...


# ---------------------------------------------------------------------------------------------------- REST

def _json(status: int, body: dict) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _error(status: int, message: str, code: int) -> Response:
    """Pow's ``{"error": {"status", "message"}}`` (what AlphaHub clients read) plus Binance's ``code``/``msg``."""
    return _json(status, {"error": {"status": status, "message": message}, "code": code, "msg": message})


def _unauthorized(message: str) -> Response:
    return _error(401, message, Err.UNAUTHORIZED.code)


def _mandatory(param: str) -> Response:
    return _error(400, Err.MANDATORY_PARAM.template.format(param=param), Err.MANDATORY_PARAM.code)


def _credentials(request: Request, body: bytes) -> dict[str, Any]:
    """``user[email]`` / ``user[password]`` from a form body, a JSON body (``{"user": {...}}`` or flat) or the query
    string (Phoenix merges query and body params, so ``requests.post(url, params=…)`` works on AlphaHub too)."""
    found: dict[str, Any] = {}
    for key, values in parse_qs(request.url.query, keep_blank_values=True).items():
        found[key] = values[-1]
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json" or (ctype == "" and body[:1] == b"{"):
        try:
            doc = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            doc = {}
        if isinstance(doc, dict):
            user = doc.get("user")
            if isinstance(user, dict):
                for field in ("email", "password"):
                    if field in user:
                        found[f"user[{field}]"] = user[field]
            for key in ("user[email]", "user[password]"):
                if key in doc:
                    found[key] = doc[key]
    else:
        for key, values in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items():
            found[key] = values[-1]
    return found


def _authorization(request: Request) -> str | None:
    """Pow sends the raw token in ``Authorization``; a ``Bearer `` prefix is tolerated."""
    value = request.headers.get("authorization", "").strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    return value or None


# ---------------------------------------------------------------------------------------------------- frames

def _dumps_payload(payload: dict) -> str:
    return orjson.dumps(payload, default=str).decode("utf-8")  # Decimal → string: money never becomes a float


def _new_signals_text(record: Any) -> str:
    return _dumps_payload(new_signals_payload([record]))


def _decode_v1(text: str | bytes) -> wire.Frame:
    """A V1 object frame ``{"topic","event","payload","ref"[,"join_ref"]}`` through the V2 validator."""
    try:
        doc = orjson.loads(text)
    except (orjson.JSONDecodeError, TypeError, ValueError):
        raise wire.PhoenixProtocolError("frame is not valid JSON") from None
    if not isinstance(doc, dict):
        raise wire.PhoenixProtocolError("vsn=1.0.0 frames are JSON objects {topic, event, payload, ref}")
    as_array = [doc.get("join_ref"), doc.get("ref"), doc.get("topic"), doc.get("event"), doc.get("payload")]
    return wire.decode(orjson.dumps(as_array))


def _encode_v1(frame: wire.Frame) -> str:
    # Phoenix's V1 serializer writes only these four fields
    return orjson.dumps({"event": frame.event, "payload": frame.payload, "ref": frame.ref, "topic": frame.topic},
                        default=str).decode("utf-8")


def _text_frame(payload: bytes) -> bytes:
    """One unmasked, unfragmented WebSocket text frame (RFC 6455 §5.2; server frames are never masked, so the same
    bytes are valid on every connection)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


def _subprotocol_token(offered: list[str]) -> str | None:
    for proto in offered:
        if proto.startswith(AUTH_PROTOCOL_PREFIX):
            text = proto[len(AUTH_PROTOCOL_PREFIX):]
            # phoenix.js encodes with btoa (standard alphabet, '=' stripped); accept base64url as well
            text = text.replace("-", "+").replace("_", "/")
            try:
                return base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                return None
    return None


# ---------------------------------------------------------------------------------------------------- sockets

class _Join:
    """One joined topic on one socket: its hub subscriber, writer task and the push framing for its join_ref."""

    __slots__ = ("topic", "channel", "join_ref", "sub", "task", "stopped", "prefix", "suffix", "frame_kind")

    def __init__(self, topic: str, channel: str, join_ref: str | None, sub: Subscriber, v1: bool) -> None:
        self.topic = topic
        self.channel = channel
        self.join_ref = join_ref
        self.sub = sub
        self.task: asyncio.Task | None = None
        self.stopped = False
        topic_json = orjson.dumps(topic).decode()
        # one cached frame per record for every socket joined with the same ref (AlphaHub: null for all)
        self.frame_kind = f"phoenix.frame.{'v1' if v1 else 'v2'}.{orjson.dumps(join_ref).decode()}"
        if v1:
            self.prefix = '{"event":"new_signals","payload":'
            self.suffix = ',"ref":null,"topic":' + topic_json + "}"
        else:
            self.prefix = "[" + orjson.dumps(join_ref).decode() + ",null," + topic_json + ',"new_signals",'
            self.suffix = "]"

    def push_text(self, item: Published) -> str:
        return self.prefix + item.frame(NEW_SIGNALS_KIND, _new_signals_text) + self.suffix

    def push_frame(self, item: Published) -> bytes:
        return item.frame(self.frame_kind, lambda _record: _text_frame(self.push_text(item).encode("utf-8")))


class _Connection:
    def __init__(self, endpoint: PhoenixEndpoint, ws: WebSocket, account_id: int, v1: bool) -> None:
        self.ep = endpoint
        self.ws = ws
        self.account_id = account_id
        self.v1 = v1
        self.encode = _encode_v1 if v1 else wire.encode
        self.decode = _decode_v1 if v1 else wire.decode
        self.joins: dict[str, _Join] = {}
        # the ASGI task serving this socket, known from the start: abort() may come before serve() runs
        self.task: asyncio.Task | None = asyncio.current_task()
        self.closed = False
        self.aborted = False
        self.close_code: int | None = None
        self.close_reason = ""
        self.sending = 0  # sends in flight; with send_since, how the endpoint's monitor finds stuck consumers
        self.send_since = 0.0
        self.writer = ws.scope.get("extensions", {}).get(FRAME_WRITER)  # None under another ASGI server

    # -------------------------------------------------------------- lifecycle
    async def serve(self) -> None:
        try:
            await self._read_loop()
        except asyncio.CancelledError:
            if not self.aborted:
                raise
            asyncio.current_task().uncancel()  # our own abort(): end the connection normally
        except _GONE:  # the client went away while we were answering it
            pass
        except Exception:  # never a traceback for one socket's problem; the client reconnects
            log.exception("phoenix socket failed")
            self._close_with(1011, "internal error")
        finally:
            self.closed = True
            await self._leave_all()
            if self.close_code is not None:
                try:
                    async with asyncio.timeout(CLOSE_TIMEOUT_S):  # a stuck transport must not hold the task
                        await self.ws.close(self.close_code, self.close_reason)
                except (Exception, asyncio.TimeoutError):
                    pass

    def _close_with(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason

    def abort(self, code: int, reason: str) -> None:
        """End this connection from another task (drop, slow consumer): the reader is cancelled, then closes."""
        if self.closed or self.aborted:
            return
        self.aborted = True
        self._close_with(code, reason)
        if self.task is not None:
            self.task.cancel()

    async def _leave_all(self) -> None:
        joins, self.joins = list(self.joins.values()), {}
        for j in joins:
            await self._stop(j)

    async def _stop(self, j: _Join) -> None:
        j.stopped = True
        task, j.task = j.task, None
        try:
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                # wait() (not ``await task``) so that only a cancellation of *this* task propagates from here
                await asyncio.wait({task})
                if not task.cancelled():
                    task.exception()  # retrieved (the writer logs its own failures)
        finally:
            self.ep.hub.unsubscribe(j.sub)

    async def send(self, text: str) -> None:
        if self.sending == 0:
            self.send_since = time.monotonic()
        self.sending += 1
        try:
            await self.ws.send_text(text)
        finally:
            self.sending -= 1
            if self.sending:  # one send went through: the transport is moving
                self.send_since = time.monotonic()

    async def push(self, j: _Join, item: Published) -> None:
        """One ``new_signals`` push: raw frame bytes when the server offers them, else an ASGI text send."""
        w = self.writer
        if w is None:
            await self.send(j.push_text(item))
            return
        if not w.ready():
            if self.sending == 0:
                self.send_since = time.monotonic()
            self.sending += 1
            try:
                while w.alive() and not w.ready():
                    await w.wait_writable()  # (set again when the connection is lost: alive() tells)
            finally:
                self.sending -= 1
        if not w.alive():
            raise WebSocketDisconnect(1006)
        w.write(j.push_frame(item))

    async def reply(self, frame: wire.Frame, status: str, response: dict | None = None) -> None:
        await self.send(self.encode(wire.reply(frame, status, response)))

    # -------------------------------------------------------------- reading
    async def _read_loop(self) -> None:
        idle = self.ep.idle_timeout_s
        while True:
            try:
                async with asyncio.timeout(idle):
                    message = await self.ws.receive()
            except TimeoutError:
                self._close_with(CLOSE_GOING_AWAY, "idle timeout")
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:  # V2 binary frames are not used by any signal client
                log.debug("ignoring a binary frame")
                continue
            try:
                frame = self.decode(text)
            except wire.PhoenixProtocolError as exc:
                log.debug("ignoring a malformed frame: %s", exc)
                continue
            await self._handle(frame)

    async def _handle(self, frame: wire.Frame) -> None:
        if frame.topic == wire.PHOENIX_TOPIC:
            if frame.event == wire.HEARTBEAT:
                await self.send(self.encode(wire.heartbeat_reply(frame)))
            return
        if frame.event == wire.PHX_JOIN:
            await self._join(frame)
            return
        j = self.joins.get(frame.topic)
        if j is None:
            if frame.event == wire.PHX_LEAVE:  # Phoenix answers a leave of a topic it does not have with ok
                await self.reply(frame, "ok")
            else:
                await self.reply(frame, "error", {"reason": "unmatched topic"})
            return
        if frame.join_ref is not None and j.join_ref is not None and frame.join_ref != j.join_ref:
            log.debug("ignoring %s for an outdated join of %s", frame.event, frame.topic)
            return
        if frame.event == wire.PHX_LEAVE:
            del self.joins[frame.topic]
            await self._stop(j)
            await self.reply(frame, "ok")
            await self.send(self.encode(wire.close_frame(j.topic, j.join_ref)))
            return
        await self.reply(frame, "error", {"reason": "unsupported event"})

    async def _join(self, frame: wire.Frame) -> None:
        channel = wire.parse_algorithm_topic(frame.topic)
        if channel is None or not CHANNEL.fullmatch(channel):
            log.debug("ignoring unmatched topic %r", frame.topic)
            await self.reply(frame, "error", {"reason": "unmatched topic"})
            return
        old = self.joins.pop(frame.topic, None)
        if old is not None:  # a duplicate join replaces the old one (Phoenix closes the old channel first)
            await self._stop(old)
            if old.join_ref is not None:
                await self.send(self.encode(wire.close_frame(old.topic, old.join_ref)))
        if len(self.joins) >= MAX_TOPICS:
            await self.reply(frame, "error", {"reason": "too many channels joined"})
            return
        last_seq, epoch = wire.join_params(frame.payload)
        hub = self.ep.hub
        try:
            att = await hub.attach(channel, epoch, last_seq)
        except Exception:
            log.exception("join of %s failed", frame.topic)
            await self.reply(frame, "error", {"reason": "join crashed"})
            return
        if att.status == "live":
            response: dict = {}
        elif att.status == "ok":
            response = join_response(att.epoch, att.head_seq, len(att.backlog))
        else:
            response = reset_notice(channel, att.epoch, att.head_seq, att.reason)
        j = _Join(frame.topic, channel, frame.join_ref, att.subscriber, self.v1)
        self.joins[frame.topic] = j  # before the first await: cleanup unsubscribes it whatever happens next
        await self.reply(frame, "ok", response)
        j.task = asyncio.create_task(self._pump(j, att.backlog))

    # -------------------------------------------------------------- writing
    async def _pump(self, j: _Join, backlog: list[Published]) -> None:
        """Replay, then live records of one topic, with a ``head`` right away and every ``head_every_s``."""
        loop = asyncio.get_running_loop()
        hub, sub, every = self.ep.hub, j.sub, self.ep.head_every_s
        try:
            for item in backlog:
                await self.push(j, item)
            del backlog[:]
            deadline = loop.time()
            while True:
                wait = deadline - loop.time()
                items = await sub.get(wait if wait > 0 else 0)
                if j.stopped:
                    # Subscriber.get's asyncio.wait_for can swallow our cancel() when a record arrives in the same
                    # loop iteration (Python < 3.12): the flag ends the writer anyway
                    return
                for item in items:
                    await self.push(j, item)
                if loop.time() >= deadline:
                    epoch, seq = await hub.head(j.channel)
                    # whatever was published up to that head goes out before it, so a head never shows a
                    # false gap
                    for item in sub.poll():
                        await self.push(j, item)
                    notice = head_notice(j.channel, epoch, max(seq, sub.last_seq))
                    await self.send(self.encode(wire.push(j.topic, wire.HEAD, notice, j.join_ref)))
                    deadline = loop.time() + every
        except SlowConsumer:
            log.info("slow consumer on %s (account %s): closing 1013", j.topic, self.account_id)
            self.abort(CLOSE_TRY_AGAIN_LATER, "slow consumer")
        except asyncio.CancelledError:
            raise
        except _GONE:  # the client went away under a send: the reader sees the disconnect
            pass
        except Exception:
            log.exception("writer of %s failed", j.topic)
            self.abort(1011, "internal error")


class PhoenixEndpoint:
    """The routes plus the registry of live sockets (:meth:`drop_all` for operators and tests)."""

    def __init__(self, hub: SignalHub, users: HubUsers, tokens: Tokens, *, idle_timeout_s: float = 60.0,
                 head_every_s: float = 15.0, send_timeout_s: float = 30.0) -> None:
        if idle_timeout_s <= 0 or head_every_s <= 0 or send_timeout_s <= 0:
            raise ValueError("timeouts and intervals must be positive")
        self.hub = hub
        self.users = users
        self.tokens = tokens
        self.idle_timeout_s = float(idle_timeout_s)
        self.head_every_s = float(head_every_s)
        self.send_timeout_s = float(send_timeout_s)
        self.connections: set[_Connection] = set()
        self._monitor: asyncio.Task | None = None

    def routes(self) -> list:
        return [
            Route(SESSION_PATH, self.session, methods=["POST", "DELETE"]),
            Route(RENEW_PATH, self.renew, methods=["POST"]),
            WebSocketRoute(SOCKET_PATH, self.socket),
        ]

    # -------------------------------------------------------------- REST
    async def session(self, request: Request) -> Response:
        if request.method == "DELETE":
            token = _authorization(request)
            if token is None:
                return _unauthorized("Invalid token")
            self.tokens.revoke(token)  # logging out twice is fine (Pow answers {"data": {}} either way)
            return _json(200, {"data": {}})
        body = await request.body()
        if len(body) > MAX_BODY:
            return _error(413, "Request body too large", Err.UNKNOWN.code)
        params = _credentials(request, body)
        email, password = params.get("user[email]"), params.get("user[password]")
        for name, value in (("user[email]", email), ("user[password]", password)):
            if not isinstance(value, str) or not value:
                return _mandatory(name)
        account = await asyncio.to_thread(self.users.verify, email, password)  # scrypt: off the event loop
        if account is None:
            return _unauthorized("Invalid email or password")
        return _json(200, {"data": self.tokens.issue(account)})

    async def renew(self, request: Request) -> Response:
        pair = self.tokens.renew(_authorization(request))
        if pair is None:
            return _unauthorized("Invalid token")
        return _json(200, {"data": pair})

    # -------------------------------------------------------------- WebSocket
    async def socket(self, ws: WebSocket) -> None:
        params = ws.query_params
        vsn = params.get("vsn") or wire.VSN
        offered = list(ws.scope.get("subprotocols") or ())
        token = (params.get("api_token") or params.get("token") or params.get("api_key")
                 or ws.headers.get("x-auth-token") or _subprotocol_token(offered))
        account = self.tokens.account_for(token)
        if vsn not in (wire.VSN, "1.0.0") or account is None:
            await ws.close(1008)  # before accept: uvicorn answers the upgrade with HTTP 403
            return
        await ws.accept(subprotocol="phoenix" if "phoenix" in offered else None)
        conn = _Connection(self, ws, account, v1=vsn == "1.0.0")
        self.connections.add(conn)
        if self._monitor is None:
            self._monitor = asyncio.create_task(self._watch_sends())
        try:
            await conn.serve()
        finally:
            self.connections.discard(conn)

    async def _watch_sends(self) -> None:
        """One task for all sockets: a socket whose send has been stuck for ``send_timeout_s`` is cut (1013).
        (A timeout around every send would cost a timer per frame per subscriber.)"""
        every = min(1.0, self.send_timeout_s / 4)
        try:
            while self.connections:
                await asyncio.sleep(every)
                limit = time.monotonic() - self.send_timeout_s
                for conn in list(self.connections):
                    if conn.sending and conn.send_since < limit:
                        log.info("socket of account %s not writable for %.0f s: closing 1013", conn.account_id,
                                 self.send_timeout_s)
                        conn.abort(CLOSE_TRY_AGAIN_LATER, "slow consumer")
        finally:
            self._monitor = None

    async def drop_all(self, code: int = CLOSE_SERVICE_RESTART, reason: str = "dropped") -> int:
        """Close every socket (clients reconnect and resume from their cursors); returns how many."""
        conns = list(self.connections)
        for conn in conns:
            conn.abort(code, reason)
        return len(conns)


def phoenix_routes(hub: SignalHub, users: HubUsers, tokens: Tokens, *, idle_timeout_s: float = 60.0,
                   head_every_s: float = 15.0, send_timeout_s: float = 30.0) -> list:
    """Starlette routes of the session API and the Phoenix socket (see the module docstring)."""
    return PhoenixEndpoint(hub, users, tokens, idle_timeout_s=idle_timeout_s, head_every_s=head_every_s,
                           send_timeout_s=send_timeout_s).routes()


__all__ = ["PhoenixEndpoint", "phoenix_routes", "HubUsers", "Tokens", "SESSION_PATH", "RENEW_PATH", "SOCKET_PATH"]
