"""A real signal-hub server for tests: SqliteSignalLog + SignalHub + the publish and SSE routes (plus any extra
routes, e.g. a Phoenix WebSocket endpoint) in a Starlette app, served by uvicorn on 127.0.0.1:<free port> on its
own event loop in a background thread. API keys live in a real ``SqliteKeyStore`` in the same database file.

    with SignalServer(tmp_path / "hub.db", keepalive_s=0.2) as srv:
        key = srv.new_key(account_id=7)
        httpx.post(f"{srv.base_url}/signal?user_code=alpha", json={...}, headers={"x-api-key": key.api_key})
        srv.publish("alpha", {"kind": "signal", ...})    # straight into the hub, on the server's loop
        srv.drop_streams()                               # every live stream is cut (the clients resume)

``SseReader`` is a raw-socket SSE client that shows every frame exactly as sent (comments, ``retry``, events
without ``id``) and can stop reading (with a small receive buffer) to play a slow consumer.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import uvicorn
from starlette.applications import Starlette

from alfax.domain.enums import Permission
from alfax.ledger.keys import SqliteKeyStore
from alfax.ledger.signal_log import DEFAULT_RETAIN, SqliteSignalLog
from alfax.server_automation import KeyAccess
from alfax.signals.hub import DEFAULT_BUFFER, SignalHub
from alfax.signals.publish import publish_routes
from alfax.signals.sse import sse_routes

RW = frozenset({Permission.READ, Permission.TRADE})


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def wait_until(pred: Callable[[], Any], timeout: float = 10.0, what: str = "condition", interval: float = 0.005):
    """Poll ``pred`` until it is truthy (returns its value) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class _DictTokens(dict):
    """Session tokens the tests hand out themselves: token -> account."""

    def account_for(self, token: str) -> int | None:
        return self.get(token)


class KeyStoreAccess(KeyAccess):
    """The server's own ``SignalAccess`` (API keys from the key store), with session tokens from a plain dict
    (tests add them) instead of the Phoenix login."""

    def __init__(self, keys: SqliteKeyStore, tokens: dict[str, int] | None = None) -> None:
        super().__init__(keys, _DictTokens(tokens or {}))


@dataclass(frozen=True)
class Key:
    api_key: str
    secret: str
    account_id: int

    @property
    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.api_key}


class DrainingServer(uvicorn.Server):
    """uvicorn that ends the hub's streams when it shuts down (as the composition root should): a streaming
    response never ends by itself, so uvicorn would wait for it for ever. Listening sockets close first, so the
    clients' reconnects go elsewhere (or fail) instead of opening new streams here."""

    def __init__(self, hub: SignalHub, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.hub = hub

    async def shutdown(self, sockets=None) -> None:
        for server in self.servers:
            server.close()
        self.hub.disconnect_all()
        await super().shutdown(sockets)


class SignalServer:
    def __init__(self, db_path: str | Path, *, retain_per_channel: int = DEFAULT_RETAIN, prune_every: int | None = None,
                 buffer: int = DEFAULT_BUFFER, keepalive_s: float = 15.0, head_every_s: float = 15.0,
                 retry_ms: int = 3000, send_timeout_s: float = 30.0,
                 extra_routes: Callable[[SignalHub, KeyStoreAccess], Iterable[Any]] | None = None) -> None:
        self.db_path = str(db_path)
        self.log = SqliteSignalLog(self.db_path, retain_per_channel, prune_every=prune_every)
        self.keys = SqliteKeyStore(self.db_path)
        self.access = KeyStoreAccess(self.keys)
        self.hub = SignalHub(self.log, wall_ms, buffer=buffer)
        routes = [*publish_routes(self.hub, self.access, now_ms=wall_ms),
                  *sse_routes(self.hub, self.access, keepalive_s=keepalive_s, retry_ms=retry_ms,
                              head_every_s=head_every_s, send_timeout_s=send_timeout_s)]
        if extra_routes is not None:
            routes.extend(extra_routes(self.hub, self.access))
        self.app = Starlette(routes=routes)
        self.server = DrainingServer(self.hub, uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning",
                                                    lifespan="off", access_log=False, timeout_graceful_shutdown=5))
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port = 0
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 15.0) -> "SignalServer":
        self._thread = threading.Thread(target=self._run, name="signal-server", daemon=True)
        self._thread.start()
        wait_until(lambda: self.server.started or self._error or not self._thread.is_alive(), timeout, "uvicorn")
        if not self.server.started:
            raise RuntimeError(f"signal server did not start: {self._error!r}")
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def _run(self) -> None:
        import uvloop  # the loop the real server runs on

        loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
        self.loop = loop
        try:
            loop.run_until_complete(self.server.serve())
        except BaseException as exc:  # pragma: no cover - reported by start()/stop()
            self._error = exc
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in pending:  # e.g. sse-starlette's shutdown watcher
                t.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def stop(self, timeout: float = 15.0) -> None:
        if self._thread is None:
            return
        self.server.should_exit = True  # DrainingServer.shutdown ends the open streams
        self._thread.join(timeout)
        alive = self._thread.is_alive()
        self._thread = None
        self.log.close()
        self.keys.close()
        if alive:
            raise RuntimeError("signal server did not stop")

    def __enter__(self) -> "SignalServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ helpers
    def new_key(self, account_id: int) -> Key:
        k = self.keys.create(account_id, RW, "signals-test")
        return Key(k.api_key, k.secret, account_id)

    def run(self, coro, timeout: float = 10.0) -> Any:
        """Run a coroutine on the server's loop and return its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 10.0) -> Any:
        """Call a plain function on the server's loop (the hub is not thread-safe)."""
        async def _call():
            return fn(*args)
        return self.run(_call(), timeout)

    def publish(self, channel: str, payload: dict, publisher: str = "", dedupe_key: str | None = None):
        record, _new = self.run(self.hub.publish(channel, payload, publisher, dedupe_key=dedupe_key))
        return record

    def subscribers(self, channel: str | None = None) -> int:
        return self.call(self.hub.subscriber_count, channel)

    def drop_streams(self, channel: str | None = None) -> int:
        return self.call(self.hub.disconnect_all, channel)


# ---------------------------------------------------------------------------------------------------- SSE reader

@dataclass
class Frame:
    """One SSE block as sent: ``fields`` in order (name, value) and the comment lines."""

    fields: list[tuple[str, str]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        values = [v for n, v in self.fields if n == name]
        return values[-1] if values else None

    @property
    def id(self) -> str | None:  # noqa: A003
        return self.get("id")

    @property
    def event(self) -> str | None:
        return self.get("event")

    @property
    def data(self) -> str | None:
        lines = [v for n, v in self.fields if n == "data"]
        return "\n".join(lines) if lines else None

    @property
    def json(self) -> Any:
        return orjson.loads(self.data or "null")

    @property
    def retry(self) -> int | None:
        r = self.get("retry")
        return int(r) if r is not None else None

    @property
    def seq(self) -> int:
        return int(self.id.rpartition(":")[2])


class SseReader:
    """A raw HTTP/1.1 SSE client: ``status``, ``headers``, then :meth:`next_frame` block by block."""

    def __init__(self, base_url: str, path: str = "/signals/stream", params: dict | None = None,
                 headers: dict | None = None, *, rcvbuf: int | None = None, timeout: float = 10.0,
                 method: str = "GET") -> None:
        hostport = base_url.split("://", 1)[1]
        host, _, port = hostport.partition(":")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:  # before connect, so the advertised window stays small
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, int(port)))
        target = path + ("?" + urlencode(params) if params else "")
        lines = [f"{method} {target} HTTP/1.1", f"Host: {hostport}", "Accept: text/event-stream"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self._raw = bytearray()
        self._body = bytearray()
        self._chunk_left = 0  # data bytes left in the current chunk
        self._need_crlf = False  # the CRLF that ends a chunk's data
        self.closed = False  # the server closed the socket
        self.done = False  # the last (zero-size) chunk arrived
        head = self._read_until(b"\r\n\r\n", timeout)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1])
        self.headers = {}
        for line in header_lines:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        self.method = method

    def _recv(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("SSE read timed out")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("SSE read timed out") from None
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return False
        self._raw += data
        return True

    def _read_until(self, marker: bytes, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while marker not in self._raw:
            if not self._recv(deadline):
                raise ConnectionError("closed before the response head")
        head, _, rest = bytes(self._raw).partition(marker)
        self._raw = bytearray(rest)
        return head

    def _decode(self) -> None:
        """Move complete chunk data from ``_raw`` to ``_body`` (chunked transfer coding, RFC 9112 §7.1)."""
        if not self.chunked:
            self._body += self._raw
            self._raw.clear()
            return
        while not self.done:
            if self._need_crlf:
                if len(self._raw) < 2:
                    return
                del self._raw[:2]
                self._need_crlf = False
            if self._chunk_left == 0:
                i = self._raw.find(b"\r\n")
                if i < 0:
                    return
                size = int(bytes(self._raw[:i]).split(b";")[0], 16)
                del self._raw[:i + 2]
                if size == 0:
                    self.done = True
                    return
                self._chunk_left = size
            take = min(self._chunk_left, len(self._raw))
            if take == 0:
                return
            self._body += self._raw[:take]
            del self._raw[:take]
            self._chunk_left -= take
            self._need_crlf = self._chunk_left == 0

    def next_frame(self, timeout: float = 10.0) -> Frame | None:
        """The next SSE block, or None at the end of the stream."""
        deadline = time.monotonic() + timeout
        while True:
            self._decode()
            i = self._body.find(b"\n\n")
            if i >= 0:
                block = bytes(self._body[:i]).decode("utf-8")
                del self._body[:i + 2]
                return _parse_block(block)
            if self.done or self.closed:
                return None
            if not self._recv(deadline):
                self._decode()
                if self._body.find(b"\n\n") < 0:
                    return None

    def frames(self, n: int, timeout: float = 10.0, *, skip_comments: bool = True,
               skip: tuple[str, ...] = ("head",)) -> list[Frame]:
        """The next ``n`` frames that are events (not retry-only, keepalive comments or ``skip`` event types)."""
        out: list[Frame] = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            f = self.next_frame(max(0.001, deadline - time.monotonic()))
            if f is None:
                raise ConnectionError(f"stream ended after {len(out)} of {n} frames")
            if skip_comments and not f.fields:
                continue
            if f.retry is not None and f.data is None:
                continue
            if f.event in skip:
                continue
            out.append(f)
        return out

    def read_body(self, timeout: float = 10.0) -> bytes:
        """The whole (non-streaming) body, e.g. a JSON error."""
        deadline = time.monotonic() + timeout
        length = int(self.headers.get("content-length", "-1"))
        while True:
            self._decode()
            if (length >= 0 and len(self._body) >= length) or self.done or self.closed:
                return bytes(self._body)
            if not self._recv(deadline):
                self._decode()
                return bytes(self._body)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "SseReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _parse_block(block: str) -> Frame:
    f = Frame()
    for line in block.split("\n"):
        if line.startswith(":"):
            f.comments.append(line[1:].lstrip(" "))
            continue
        name, _, value = line.partition(":")
        f.fields.append((name, value[1:] if value.startswith(" ") else value))
    return f
