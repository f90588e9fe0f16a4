"""The in-process signal hub (issue 5; signals.md §3.4, §5): durable log first, then fan-out.

``publish`` appends to the channel's durable log (the ack happens only after the COMMIT), then offers the record to
every live subscriber of that channel, in seq order (one lock per channel spans append + fan-out, so subscribers
see exactly the log's order). Each published record is wrapped once in a :class:`Published`, whose encoded frames
(SSE bytes, Phoenix text) are cached: a payload is serialised once however many subscribers it reaches.

``attach`` is the race-free resume of §3.4: it subscribes to the live channel **before** it reads history, then
reads ``seq > last_seq`` from the log. Live records that arrive meanwhile wait in the subscriber's buffer and are
dropped on delivery when their seq was already replayed (``Subscriber.last_seq`` only moves forward), so nothing
falls between history and live and nothing is delivered twice.

A subscriber whose buffer overflows (a slow consumer) is marked ``overflowed``: the transport closes it and the
client resumes from its cursor — the log still holds everything, so a slow client costs a reconnect, never a
signal.

The log is injected (``alfax.ledger.SqliteSignalLog`` in the server): this package never imports the ledger.
Blocking log calls run in a worker thread so the event loop keeps serving other connections.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

log = logging.getLogger("alfax.signals")

DEFAULT_BUFFER = 4096  # records waiting for one subscriber before it is cut off as a slow consumer
REPLAY_PAGE = 5000


class SignalLog(Protocol):
    """What the hub needs from the durable log (implemented by ``alfax.ledger.SqliteSignalLog``)."""

    def append_once(self, channel: str, payload: dict, now_ms: int, publisher: str = "", *,
                    dedupe_key: str | None = None) -> tuple[Any, bool]: ...

    def head(self, channel: str) -> tuple[str, int]: ...

    def ensure_channel(self, channel: str, now_ms: int = 0) -> tuple[str, int]: ...

    def read_after(self, channel: str, after_seq: int, limit: int = 1000) -> list[Any]: ...

    def cursor_status(self, channel: str, epoch: str | None, last_seq: int) -> str: ...


class Published:
    """One record on its way to many subscribers; ``frame(kind)`` encodes it once per kind and caches the bytes."""

    __slots__ = ("record", "_frames", "published_at")

    def __init__(self, record: Any, published_at: float = 0.0) -> None:
        self.record = record
        self._frames: dict[str, Any] = {}
        self.published_at = published_at  # loop.time() of the fan-out (benchmarks: publish → delivery)

    @property
    def seq(self) -> int:
        return self.record.seq

    def frame(self, kind: str, encode: Callable[[Any], Any]) -> Any:
        f = self._frames.get(kind)
        if f is None:
            f = self._frames[kind] = encode(self.record)
        return f


class SlowConsumer(Exception):
    """The subscriber's buffer overflowed; close the connection (the client resumes from its cursor)."""


class Subscriber:
    """One live subscription to one channel. ``last_seq`` is the last seq handed to the transport; records at or
    below it are dropped, which is what makes replay + live exactly-once."""

    __slots__ = ("channel", "last_seq", "limit", "overflowed", "closed", "_items", "_wake")

    def __init__(self, channel: str, limit: int = DEFAULT_BUFFER) -> None:
        self.channel = channel
        self.last_seq = 0
        self.limit = limit
        self.overflowed = False
        self.closed = False
        self._items: collections.deque[Published] = collections.deque()
        self._wake = asyncio.Event()

    def offer(self, item: Published) -> None:
        if self.closed or self.overflowed:
            return
        if len(self._items) >= self.limit:
            self.overflowed = True
            self._items.clear()  # free the backlog now; the client re-reads it from the log
        else:
            self._items.append(item)
        self._wake.set()

    def poll(self) -> list[Published]:
        """Everything buffered that is new (seq > last_seq), in order; advances ``last_seq``."""
        if self.overflowed:
            raise SlowConsumer(self.channel)
        out: list[Published] = []
        last = self.last_seq
        items = self._items
        while items:
            it = items.popleft()
            if it.record.seq > last:
                out.append(it)
                last = it.record.seq
        self.last_seq = last
        self._wake.clear()
        return out

    async def get(self, timeout: float | None = None) -> list[Published]:
        """Wait up to ``timeout`` seconds for new records; [] on timeout. Raises :class:`SlowConsumer`."""
        if not self._items and not self.overflowed:
            # asyncio.timeout, not wait_for: no task per wait (fan-out CPU), and a cancel() arriving together with
            # a record is never swallowed (wait_for on 3.11 can, leaving writer tasks that never die)
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                return []
        return self.poll()


@dataclass(slots=True)
class Attachment:
    """The outcome of :meth:`SignalHub.attach`: the live subscriber plus what to send first.

    ``status``: "live" (no cursor given: live only), "ok" (``backlog`` replays what the client missed) or "reset"
    (the cursor cannot be served — other epoch, expired, or ahead: ``reason`` says which; the client continues
    from ``head_seq`` of ``epoch``)."""

    subscriber: Subscriber
    status: str
    epoch: str
    head_seq: int
    backlog: list[Published] = field(default_factory=list)
    reason: str = ""


_RESET_REASON = {"ahead": "cursor_ahead"}


class SignalHub:
    def __init__(self, log_store: SignalLog, now_ms: Callable[[], int], *, buffer: int = DEFAULT_BUFFER) -> None:
        self.log = log_store
        self.now_ms = now_ms
        self.buffer = buffer
        self._subs: dict[str, set[Subscriber]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._heads: dict[str, tuple[str, int]] = {}
        # called with each new Published after its fan-out (copy trading, notifications); never raise into publish
        self.listeners: list[Callable[[Published], None]] = []

    # ------------------------------------------------------------------ publish
    def _lock(self, channel: str) -> asyncio.Lock:
        lk = self._locks.get(channel)
        if lk is None:
            lk = self._locks[channel] = asyncio.Lock()
        return lk

    async def publish(self, channel: str, payload: dict, publisher: str = "", *,
                      dedupe_key: str | None = None) -> tuple[Any, bool]:
        """Append (committed) then fan out. Returns ``(record, new)``; ``new`` is False when ``dedupe_key`` was
        already in the channel (a provider's retry): nothing is sent again."""
        async with self._lock(channel):
            record, new = await asyncio.to_thread(self.log.append_once, channel, payload, self.now_ms(), publisher,
                                                  dedupe_key=dedupe_key)
            if not new:
                return record, False
            self._heads[channel] = (record.epoch, record.seq)
            item = Published(record, asyncio.get_running_loop().time())
            for sub in self._subs.get(channel, ()):
                sub.offer(item)
        for fn in self.listeners:
            try:
                fn(item)
            except Exception:
                log.exception("signal listener %r failed", fn)
        return record, True

    # ------------------------------------------------------------------ subscribe
    def subscribe(self, channel: str) -> Subscriber:
        """A live-only subscriber (nothing replayed); see :meth:`attach` for resume."""
        sub = Subscriber(channel, self.buffer)
        self._subs.setdefault(channel, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        sub.closed = True
        subs = self._subs.get(sub.channel)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.channel]

    def disconnect_all(self, channel: str | None = None) -> int:
        """Cut live subscribers off (all, or one channel's) exactly as if they were slow consumers: each transport
        sees :class:`SlowConsumer` and closes its connection, and the client resumes from its cursor. For server
        shutdown (streaming responses never end by themselves) and for tests that drop connections. Returns how
        many were cut. Call it on the event loop."""
        n = 0
        for ch in ([channel] if channel is not None else list(self._subs)):
            for sub in list(self._subs.get(ch, ())):
                if not sub.overflowed and not sub.closed:
                    sub.overflowed = True
                    sub._items.clear()
                    sub._wake.set()
                    n += 1
        return n

    def subscriber_count(self, channel: str | None = None) -> int:
        if channel is not None:
            return len(self._subs.get(channel, ()))
        return sum(len(s) for s in self._subs.values())

    async def head(self, channel: str) -> tuple[str, int]:
        """(epoch, last_seq) of the channel, creating it (and its epoch) on first use."""
        h = self._heads.get(channel)
        if h is None:
            h = await asyncio.to_thread(self.log.ensure_channel, channel, self.now_ms())
            self._heads.setdefault(channel, h)
            h = self._heads[channel]
        return h

    async def attach(self, channel: str, epoch: str | None, last_seq: int | None) -> Attachment:
        """Subscribe first, then read history (§3.4 step 2). ``last_seq`` None = live only."""
        sub = self.subscribe(channel)
        try:
            # no lock: a record fanned out after subscribe() is in the buffer; one fanned out before it was
            # committed before it, so read_after (which runs later) sees it; one in both is dropped by seq
            # from the log, not the cache: the epoch must be the log's current one (a reset may have changed it);
            # a read, and a write only for a channel that does not exist yet
            head_epoch, head_seq = await asyncio.to_thread(self.log.head, channel)
            if not head_epoch:
                head_epoch, head_seq = await asyncio.to_thread(self.log.ensure_channel, channel, self.now_ms())
            self._heads.setdefault(channel, (head_epoch, head_seq))
            if last_seq is None:
                sub.last_seq = head_seq
                return Attachment(sub, "live", head_epoch, head_seq)
            status = await asyncio.to_thread(self.log.cursor_status, channel, epoch, last_seq)
            if status != "ok":
                sub.last_seq = head_seq
                reason = _RESET_REASON.get(status) or ("epoch_changed" if epoch and epoch != head_epoch
                                                       else "cursor_expired")
                return Attachment(sub, "reset", head_epoch, head_seq, reason=reason)
            backlog: list[Published] = []
            after = last_seq
            while after < head_seq:
                page = await asyncio.to_thread(self.log.read_after, channel, after, REPLAY_PAGE)
                if not page:
                    break
                backlog.extend(Published(r) for r in page)
                after = page[-1].seq
            sub.last_seq = after
            return Attachment(sub, "ok", head_epoch, head_seq, backlog)
        except BaseException:
            self.unsubscribe(sub)
            raise
