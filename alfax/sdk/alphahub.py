"""An AlphaHub-style signal client (seed 002) that never loses a signal across reconnects (signals.md §3.4).

Drop-in for ``alphahub.Connection`` (same constructor arguments and ``on_signal(id, info)`` callback, ``info``
being the ``new_signals`` payload ``{"open": […], "close": […], …}``), plus the cursor protocol of the alfax hub:

- the same finite-state machine: log in (``POST /api/v1/session``; a token is reused while it is younger than
  29 minutes) → open ``ws(s)://…/socket/websocket?vsn=2.0.0&api_token=…`` → join every ``algorithms:<id>`` →
  heartbeat → and on ANY error back to the start (an upgrade refused with 401/403 forgets the token);
- each join carries the cursor ``{"last_seq": n, "epoch": e}`` once the client has one, so the server replays
  exactly what was missed; the first join of a channel (no cursor yet) is AlphaHub's live-only ``{}`` and the
  cursor comes from the first signal or ``head`` push;
- a signal with ``seq ≤ last`` is a duplicate (dropped); ``seq > last + 1``, a ``head`` ahead of the cursor or
  another epoch is a gap: the topic is re-joined with the cursor and the replay fills it;
- with ``cursor_path`` the cursors are written atomically (temp file, fsync, rename) within 0.2 s of a delivery
  and when ``run`` returns, so a process restart resumes too (a crash re-delivers what was delivered in the last
  0.2 s: at-least-once across process crashes, exactly-once within one process).

Against a server without cursors (alphahub.us) it behaves like the original: every signal is delivered as sent.

Only the standard library, ``httpx`` and ``websockets``: it never imports the venue's internals.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

__all__ = ["AlphaHubError", "AuthenticationFailed", "Connection", "Stats"]

log = logging.getLogger("alfax.sdk.alphahub")

CURSOR_FLUSH_S = 0.2  # cursor_path lags delivery by at most this (a crash re-delivers those signals)
TOKEN_REUSE_S = 29 * 60  # AlphaHub tokens live 30 minutes; reuse one with a minute to spare
JOIN_TIMEOUT_S = 15.0  # AlphaHub's SUBSCRIPTION_TIMEOUT
HTTP_TIMEOUT_S = 15.0
OPEN_TIMEOUT_S = 10.0
SESSION_PATH = "/api/v1/session"
SOCKET_PATH = "/socket/websocket"
ALGORITHMS = "algorithms:"


class AlphaHubError(Exception):
    """Anything that sends the state machine back to the start (logged, then retried)."""


class AuthenticationFailed(AlphaHubError):
    """The server rejected the email and password (HTTP 401 on login): retrying would not help, ``run`` raises."""


@dataclass
class Stats:
    """Counters for monitoring (and tests): how often the client had to recover."""

    logins: int = 0
    connects: int = 0
    delivered: int = 0
    duplicates: int = 0
    rejoins: int = 0
    resets: int = 0


class _Topic:
    __slots__ = ("algo_id", "topic", "key", "epoch", "last_seq", "join_ref", "joined", "join_sent")

    def __init__(self, algo_id: int | str) -> None:
        self.algo_id = algo_id
        self.key = str(algo_id)
        self.topic = ALGORITHMS + self.key
        self.epoch: str | None = None
        self.last_seq: int | None = None  # None: no cursor yet (live-only join)
        self.join_ref: str | None = None
        self.joined = False
        self.join_sent = 0.0

    def join_payload(self) -> dict:
        if self.last_seq is None:
            return {}
        payload: dict[str, Any] = {"last_seq": self.last_seq}
        if self.epoch:
            payload["epoch"] = self.epoch
        return payload


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _socket_url(base_url: str, token: str) -> str:
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme.lower())
    if scheme is None:
        raise ValueError(f"base_url must be http(s):// or ws(s)://, not {base_url!r}")
    path = parts.path.rstrip("/") + SOCKET_PATH
    return urlunsplit((scheme, parts.netloc, path, f"vsn=2.0.0&api_token={quote(token, safe='')}", ""))


class Connection:
    def __init__(self, email: str, password: str, algo_ids: Iterable[int | str],
                 on_signal: Callable[[int | str, dict], Any], *, base_url: str = "http://127.0.0.1:8000",
                 cursor_path: str | os.PathLike | None = None, heartbeat_s: float = 15.0,
                 on_reset: Callable[[int | str, dict], Any] | None = None, reconnect_max_s: float = 5.0) -> None:
        """``on_reset(id, notice)`` (optional) is called when the server cannot replay what this client missed
        (its history was reset or expired): the notice says where the channel continues (``epoch``,
        ``head_seq``) and why (``reason``)."""
        if not email:
            raise ValueError("empty email")
        if not password:
            raise ValueError("empty password")
        ids = list(algo_ids)
        if not ids:
            raise ValueError("no algo_ids specified")
        if heartbeat_s <= 0:
            raise ValueError("heartbeat_s must be positive")
        self.email = email
        self.password = password
        self.base_url = base_url.rstrip("/")
        _socket_url(self.base_url, "x")  # validate early
        self.cursor_path = os.fspath(cursor_path) if cursor_path is not None else None
        self.heartbeat_s = float(heartbeat_s)
        self.reconnect_max_s = float(reconnect_max_s)
        self._on_signal = on_signal
        self._on_reset = on_reset
        self._topics: dict[str, _Topic] = {}
        for algo_id in ids:
            if isinstance(algo_id, bool) or not isinstance(algo_id, (int, str)) or not str(algo_id) \
                    or ":" in str(algo_id):
                raise ValueError(f"invalid algorithm id {algo_id!r}")
            t = _Topic(algo_id)
            self._topics[t.topic] = t
        self.stats = Stats()
        self.token: str | None = None
        self.renew_token: str | None = None
        self._token_at = 0.0
        self._ref = 0
        self._hb_ref: str | None = None
        self._ws: ClientConnection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._stopping = False
        self._failures = 0
        self._dirty = False  # cursors advanced since the last write of cursor_path
        self._saved_at = 0.0
        self._load_cursors()

    # ------------------------------------------------------------------ public
    @property
    def cursors(self) -> dict[str, dict]:
        """``{algo id: {"epoch", "last_seq"}}`` of the channels that have a cursor."""
        return {t.key: {"epoch": t.epoch, "last_seq": t.last_seq} for t in self._topics.values()
                if t.last_seq is not None}

    def stop(self) -> None:
        """Ask :meth:`run` to return (callable from any thread, also before ``run`` starts)."""
        self._stopping = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._wake)
            except RuntimeError:  # the loop closed meanwhile
                pass

    async def run(self) -> None:
        """Receive signals until :meth:`stop`. Raises :class:`AuthenticationFailed` on wrong credentials."""
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        if self._stopping:
            return
        self._failures = 0
        async with httpx.AsyncClient(base_url=self.base_url, timeout=HTTP_TIMEOUT_S) as http:
            while not self._stopping:
                try:
                    await self._session(await self._authenticate(http))
                except AuthenticationFailed:
                    raise
                except InvalidStatus as exc:
                    if exc.response.status_code in (401, 403):  # token expired or unknown (server restart)
                        log.info("websocket upgrade refused (%s): logging in again", exc.response.status_code)
                        self.token = None
                    self._failures += 1
                except Exception as exc:  # AlphaHub's FSM: any error goes back to the start
                    if not self._stopping:
                        log.info("alphahub connection error, reconnecting: %r", exc)
                    self._failures += 1
                finally:
                    await self._close_ws()
                if self._dirty:
                    self._save_cursors()
                if not self._stopping:
                    await self._backoff(self._failures)

    # ------------------------------------------------------------------ states
    async def _authenticate(self, http: httpx.AsyncClient) -> str:
        if self.token is not None and time.monotonic() - self._token_at < TOKEN_REUSE_S:
            return self.token
        resp = await http.post(SESSION_PATH, data={"user[email]": self.email, "user[password]": self.password})
        if resp.status_code == 401:
            raise AuthenticationFailed(f"login refused for {self.email}: {resp.text[:200]}")
        if resp.status_code != 200:
            raise AlphaHubError(f"login failed: HTTP {resp.status_code} {resp.text[:200]}")
        data = resp.json()["data"]
        self.token, self.renew_token = data["token"], data.get("renew_token")
        self._token_at = time.monotonic()
        self.stats.logins += 1
        return self.token

    async def _session(self, token: str) -> None:
        async with connect(_socket_url(self.base_url, token), open_timeout=OPEN_TIMEOUT_S, close_timeout=1,
                           max_size=None) as ws:
            self._ws = ws
            if self._stopping:
                return
            self.stats.connects += 1
            self._hb_ref = None
            for t in self._topics.values():
                t.joined = False
                await self._join(t)
            loop = asyncio.get_running_loop()
            next_beat = last_rx = loop.time() + self.heartbeat_s
            while not self._stopping:
                now = loop.time()
                for t in self._topics.values():
                    if not t.joined and now - t.join_sent > JOIN_TIMEOUT_S:
                        raise AlphaHubError(f"no reply to the join of {t.topic} within {JOIN_TIMEOUT_S:.0f} s")
                if now >= next_beat:
                    # dead = the last heartbeat is unanswered AND nothing at all came for a heartbeat interval
                    # (a client busy with a long replay reads its heartbeat reply late, but it does read)
                    if self._hb_ref is not None and now - last_rx > self.heartbeat_s:
                        raise AlphaHubError("heartbeat not answered")
                    self._hb_ref = self._next_ref()
                    await ws.send(json.dumps([None, self._hb_ref, "phoenix", "heartbeat", {}]))
                    next_beat = now + self.heartbeat_s
                if self._dirty and time.monotonic() - self._saved_at >= CURSOR_FLUSH_S:
                    self._save_cursors()
                try:
                    async with asyncio.timeout(max(0.0, min(next_beat - now, CURSOR_FLUSH_S if self._dirty
                                                             else 1.0))):
                        text = await ws.recv()
                except TimeoutError:
                    continue
                last_rx = loop.time()
                await self._handle(text)

    async def _join(self, t: _Topic) -> None:
        ws = self._ws
        if ws is None:
            return
        t.join_ref = self._next_ref()
        t.joined = False
        t.join_sent = asyncio.get_running_loop().time()
        await ws.send(json.dumps([t.join_ref, t.join_ref, t.topic, "phx_join", t.join_payload()]))

    async def _rejoin(self, t: _Topic, why: str, *, force: bool = False) -> None:
        if not t.joined and not force:  # a join is already on its way: its replay will cover this too
            return
        log.info("%s: %s, re-joining from seq %s", t.topic, why, t.last_seq)
        self.stats.rejoins += 1
        await self._join(t)

    # ------------------------------------------------------------------ frames
    async def _handle(self, text: str | bytes) -> None:
        try:
            join_ref, ref, topic, event, payload = json.loads(text)
        except (ValueError, TypeError):
            log.warning("ignoring a malformed frame: %.200r", text)
            return
        if not isinstance(payload, dict):
            return
        if topic == "phoenix":
            if event == "phx_reply" and ref is not None and ref == self._hb_ref:
                if payload.get("status") != "ok":
                    raise AlphaHubError(f"bad heartbeat reply: {payload}")
                self._hb_ref = None
            return
        t = self._topics.get(topic)
        if t is None:
            return
        if event == "phx_reply":
            if ref is not None and ref == t.join_ref:
                await self._on_join_reply(t, payload)
            return
        if join_ref is not None and join_ref != t.join_ref:
            return  # from an outdated join of this topic: the current join's replay covers it
        if event == "new_signals":
            await self._on_new_signals(t, payload)
        elif event == "head":
            await self._on_head(t, payload)
        elif event in ("phx_close", "phx_error"):  # the server ended this join: join again with the cursor
            await self._rejoin(t, f"channel {event}", force=True)

    async def _on_join_reply(self, t: _Topic, payload: dict) -> None:
        if payload.get("status") != "ok":
            raise AlphaHubError(f"join of {t.topic} refused: {payload.get('response')}")
        t.joined = True
        self._failures = 0  # a working session: the next failure retries at once again
        response = payload.get("response")
        if isinstance(response, dict) and response.get("reset") is True:
            epoch, head = response.get("epoch"), _int(response.get("head_seq"))
            if isinstance(epoch, str) and head is not None:
                log.warning("%s: cursor %s:%s cannot be replayed (%s); continuing from %s:%s", t.topic, t.epoch,
                            t.last_seq, response.get("reason"), epoch, head)
                self.stats.resets += 1
                t.epoch, t.last_seq = epoch, head
                self._save_cursors()
                if self._on_reset is not None:
                    await self._call(self._on_reset, t.algo_id, response)

    async def _on_new_signals(self, t: _Topic, info: dict) -> None:
        seq, epoch = _int(info.get("seq")), info.get("epoch")
        if seq is None or not isinstance(epoch, str):  # a server without cursors: deliver as sent
            await self._deliver(t, info)
            return
        if t.last_seq is None:  # first signal after a live-only join: it starts the cursor
            await self._deliver(t, info, epoch, seq)
            return
        if t.epoch is not None and epoch != t.epoch:
            await self._rejoin(t, f"epoch changed ({t.epoch} → {epoch})")
            return
        last = t.last_seq
        if seq <= last:
            self.stats.duplicates += 1
            return
        first = _int(info.get("first_seq"))
        first = seq if first is None or first > seq else first
        if first > last + 1:
            await self._rejoin(t, f"gap (got {first}, expected {last + 1})")
            return
        if first <= last:  # a multi-record push overlapping what was delivered: keep only the new items
            info = dict(info)
            for bucket in ("open", "close"):
                items = info.get(bucket)
                if isinstance(items, list):
                    info[bucket] = [i for i in items if not isinstance(i, dict) or (_int(i.get("seq")) or seq) > last]
        await self._deliver(t, info, epoch, seq)

    async def _on_head(self, t: _Topic, info: dict) -> None:
        seq, epoch = _int(info.get("seq")), info.get("epoch")
        if seq is None or not isinstance(epoch, str):
            return
        if t.last_seq is None:  # a live-only join: everything up to the head was sent before it
            t.epoch, t.last_seq = epoch, seq
            self._save_cursors()
        elif epoch != t.epoch or seq != t.last_seq:
            await self._rejoin(t, f"head {epoch}:{seq} differs from cursor {t.epoch}:{t.last_seq}")

    async def _deliver(self, t: _Topic, info: dict, epoch: str | None = None, seq: int | None = None) -> None:
        try:
            await self._call(self._on_signal, t.algo_id, info)
        except Exception:  # the application's bug must not stop the feed (nor replay the same signal forever)
            log.exception("on_signal(%r) failed", t.algo_id)
        self.stats.delivered += 1
        if seq is not None:
            t.epoch, t.last_seq = epoch, seq
            self._dirty = True  # written within CURSOR_FLUSH_S (one fsync per burst, not per signal)

    @staticmethod
    async def _call(fn: Callable[..., Any], *args: Any) -> None:
        out = fn(*args)
        if inspect.isawaitable(out):
            await out

    # ------------------------------------------------------------------ plumbing
    def _next_ref(self) -> str:
        self._ref += 1
        return str(self._ref)

    def _wake(self) -> None:
        if self._stop_event is not None:
            self._stop_event.set()
        ws = self._ws
        if ws is not None:
            asyncio.ensure_future(ws.close())

    async def _close_ws(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                await ws.close()
            except Exception:
                pass

    async def _backoff(self, failures: int) -> None:
        # first retry at once (AlphaHub's behaviour), then 0.1 s doubling up to reconnect_max_s
        delay = 0.0 if failures <= 1 else min(self.reconnect_max_s, 0.1 * 2 ** (failures - 2))
        if delay and self._stop_event is not None:
            try:
                async with asyncio.timeout(delay):
                    await self._stop_event.wait()
            except TimeoutError:
                pass

    def _load_cursors(self) -> None:
        if self.cursor_path is None or not os.path.exists(self.cursor_path):
            return
        with open(self.cursor_path, encoding="utf-8") as f:
            doc = json.load(f)
        for key, cur in (doc.get("cursors") or {}).items():
            t = self._topics.get(ALGORITHMS + key)
            if t is not None and isinstance(cur, dict) and _int(cur.get("last_seq")) is not None:
                t.epoch = cur.get("epoch") if isinstance(cur.get("epoch"), str) else None
                t.last_seq = cur["last_seq"]

    def _save_cursors(self) -> None:
        """Write-to-temp, fsync, rename: the file always holds a complete set of cursors."""
        self._dirty = False
        self._saved_at = time.monotonic()
        if self.cursor_path is None:
            return
        directory = os.path.dirname(os.path.abspath(self.cursor_path))
        fd, tmp = tempfile.mkstemp(prefix=".alphahub-cursors.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"version": 1, "cursors": self.cursors}, f, separators=(",", ":"), sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.cursor_path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
