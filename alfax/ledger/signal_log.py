"""The signal hub's durable per-channel log (issue 5; signals.md §2 and §3.4) on the ``signal_log`` tables.

Every channel has an ``epoch`` (a random string created with the channel and persisted; a new one only when the
channel's history is discarded by :meth:`SqliteSignalLog.reset`) and a sequence counter: :meth:`append` gives the
next ``seq`` (1, 2, … gap-free, strictly increasing across restarts, threads and processes: the counter lives in the
``signal_channels`` row and is advanced in the same ``BEGIN IMMEDIATE`` transaction that inserts the record).
``append`` returns only after the commit, so the hub acknowledges a publish only once the signal is in the log.
A reset keeps the counter (seq never goes back) and changes the epoch, so both kinds of cursor see the break.

Retention keeps the newest ``retain_per_channel`` records of each channel (pruned inside an append every
``prune_every`` appends of that channel, so the log may briefly hold up to ``prune_every - 1`` extra records).
:meth:`cursor_status` tells the SSE / Phoenix layers whether a client's cursor can be served by replay ("ok"), must
get an explicit reset event ("reset": other epoch, or records it missed are gone) or is ahead of the log ("ahead").
:meth:`claim_channel` records which account publishes to a channel (the first one to publish owns it for good).

Not venue state (not journaled, not hashed): like the API keys, this store owns one connection to the shared
database file (WAL) guarded by a lock. Payloads are JSON objects encoded with orjson (``Decimal`` → string:
amounts are never floats here unless the caller put floats in).
"""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import orjson

from .schema import connect, write_immediate

EPOCH_BYTES = 6  # 12 hex characters: no ':' so "<epoch>:<seq>" event ids split unambiguously
MAX_READ = 10_000
DEFAULT_RETAIN = 10_000

_DDL = """
CREATE TABLE IF NOT EXISTS signal_channels (
    channel    TEXT PRIMARY KEY,
    epoch      TEXT    NOT NULL,
    last_seq   INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS signal_log (
    channel    TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    epoch      TEXT    NOT NULL,
    ts         INTEGER NOT NULL,
    publisher  TEXT    NOT NULL DEFAULT '',
    dedupe_key TEXT,
    payload    BLOB    NOT NULL,
    PRIMARY KEY (channel, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS signal_log_dedupe ON signal_log (channel, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS signal_channel_owners (
    channel       TEXT PRIMARY KEY,
    owner_account INTEGER NOT NULL,
    claimed_ms    INTEGER NOT NULL
);
"""

_COLS = "channel, seq, epoch, ts, publisher, dedupe_key, payload"

CursorStatus = Literal["ok", "reset", "ahead"]


@dataclass(frozen=True, slots=True)
class SignalRecord:
    channel: str
    seq: int
    epoch: str
    ts: int
    payload: dict
    publisher: str = ""
    dedupe_key: str | None = None
    raw: bytes = field(default=b"", repr=False, compare=False)  # the payload's stored JSON (no re-encoding on fan-out)

    @property
    def event_id(self) -> str:
        """The SSE ``id:`` of this record, ``"<epoch>:<seq>"`` (one cursor space for SSE and Phoenix)."""
        return f"{self.epoch}:{self.seq}"


def parse_event_id(text: str | None) -> tuple[str | None, int] | None:
    """``"<epoch>:<seq>"`` → ``(epoch, seq)``; a bare ``"<seq>"`` → ``(None, seq)``; anything else → None."""
    if text is None:
        return None
    text = text.strip()
    epoch: str | None = None
    if ":" in text:
        epoch, _, text = text.rpartition(":")
        if not epoch:
            return None
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    return epoch, int(text)


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in a signal payload")


def encode_payload(payload: dict) -> bytes:
    if not isinstance(payload, dict):
        raise TypeError(f"signal payload must be a dict, not {type(payload).__name__}")
    return orjson.dumps(payload, default=_default)


def new_epoch() -> str:
    return secrets.token_hex(EPOCH_BYTES)


class SqliteSignalLog:
    def __init__(self, path: str | os.PathLike, retain_per_channel: int = DEFAULT_RETAIN, *,
                 prune_every: int | None = None, synchronous: str = "NORMAL") -> None:
        """``synchronous``: "NORMAL" (as the journal: a returned append survives a process crash) or "FULL" (also
        an OS crash or power loss, at one fsync per append)."""
        if retain_per_channel < 1:
            raise ValueError("retain_per_channel must be >= 1")
        self.path = os.fspath(path)
        self.retain = int(retain_per_channel)
        self.prune_every = max(1, int(prune_every) if prune_every is not None else min(256, self.retain // 16))
        self._conn = connect(self.path, synchronous=synchronous, check_same_thread=False)
        self._lock = threading.Lock()
        self._since_prune: dict[str, int] = {}
        with self._lock:
            self._conn.executescript(_DDL)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ------------------------------------------------------------------ writes

    def _channel_row(self, channel: str, now_ms: int) -> tuple[str, int]:
        """(epoch, last_seq) of ``channel``, created if absent. Inside a write transaction."""
        row = self._conn.execute("SELECT epoch, last_seq FROM signal_channels WHERE channel = ?",
                                 (channel,)).fetchone()
        if row is not None:
            return row[0], row[1]
        epoch = new_epoch()
        self._conn.execute("INSERT INTO signal_channels (channel, epoch, last_seq, created_ms) VALUES (?, ?, 0, ?)",
                           (channel, epoch, int(now_ms)))
        return epoch, 0

    def _write(self, fn):
        return write_immediate(self._conn, self._lock, fn)

    def append(self, channel: str, payload: dict, now_ms: int, publisher: str = "", *,
               dedupe_key: str | None = None) -> SignalRecord:
        """Append ``payload`` to ``channel`` with the next seq; committed when this returns.

        With ``dedupe_key``, a key already appended to this channel (and still retained) returns that record
        instead (a provider's retry); see :meth:`append_once` to tell the two apart."""
        return self.append_once(channel, payload, now_ms, publisher, dedupe_key=dedupe_key)[0]

    def append_once(self, channel: str, payload: dict, now_ms: int, publisher: str = "", *,
                    dedupe_key: str | None = None) -> tuple[SignalRecord, bool]:
        """Like :meth:`append`; also says whether the record is new (False: the dedupe key was already there)."""
        if not isinstance(channel, str) or not channel:
            raise ValueError("channel must be a non-empty string")
        raw = encode_payload(payload)
        now_ms = int(now_ms)
        publisher = str(publisher)

        def tx() -> tuple[SignalRecord, bool]:
            if dedupe_key is not None:
                r = self._conn.execute(f"SELECT {_COLS} FROM signal_log WHERE channel = ? AND dedupe_key = ?",
                                       (channel, dedupe_key)).fetchone()
                if r is not None:
                    return _record(r), False
            epoch, last = self._channel_row(channel, now_ms)
            seq = last + 1
            self._conn.execute(f"INSERT INTO signal_log ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                               (channel, seq, epoch, now_ms, publisher, dedupe_key, raw))
            self._conn.execute("UPDATE signal_channels SET last_seq = ? WHERE channel = ?", (seq, channel))
            n = self._since_prune.get(channel, 0) + 1
            if n >= self.prune_every:
                self._prune_locked(channel, seq)
                n = 0
            self._since_prune[channel] = n
            return SignalRecord(channel, seq, epoch, now_ms, orjson.loads(raw), publisher, dedupe_key, raw), True

        return self._write(tx)

    def _prune_locked(self, channel: str, last_seq: int) -> int:
        cur = self._conn.execute("DELETE FROM signal_log WHERE channel = ? AND seq <= ?",
                                 (channel, last_seq - self.retain))
        return cur.rowcount

    def prune(self, channel: str | None = None) -> int:
        """Apply retention now (to one channel or all); returns the number of records removed."""
        def tx() -> int:
            if channel is None:
                rows = self._conn.execute("SELECT channel, last_seq FROM signal_channels").fetchall()
            else:
                rows = self._conn.execute("SELECT channel, last_seq FROM signal_channels WHERE channel = ?",
                                          (channel,)).fetchall()
            removed = 0
            for ch, last in rows:
                removed += self._prune_locked(ch, last)
                self._since_prune[ch] = 0
            return removed

        return self._write(tx)

    def ensure_channel(self, channel: str, now_ms: int = 0) -> tuple[str, int]:
        """(epoch, last_seq), creating the channel (and its epoch) if absent: lets a subscriber join a channel
        before its first signal and keep the same epoch when the first one comes."""
        if not isinstance(channel, str) or not channel:
            raise ValueError("channel must be a non-empty string")
        return self._write(lambda: self._channel_row(channel, now_ms))

    def reset(self, channel: str, now_ms: int = 0) -> tuple[str, int]:
        """Discard ``channel``'s history and give it a new epoch; seq keeps counting from the old head.
        Returns the new (epoch, last_seq). Every cursor of the old epoch becomes "reset"."""
        def tx() -> tuple[str, int]:
            old_epoch, last = self._channel_row(channel, now_ms)
            epoch = new_epoch()
            while epoch == old_epoch:  # pragma: no cover - 48 random bits
                epoch = new_epoch()
            self._conn.execute("DELETE FROM signal_log WHERE channel = ?", (channel,))
            self._conn.execute("UPDATE signal_channels SET epoch = ? WHERE channel = ?", (epoch, channel))
            self._since_prune[channel] = 0
            return epoch, last

        return self._write(tx)

    def claim_channel(self, channel: str, owner_account: int, now_ms: int = 0) -> int:
        """Make ``owner_account`` the publisher who owns ``channel`` unless someone already does; returns the
        owner (the first claimant wins, for ever: a channel's subscribers must be able to trust who writes to it)."""
        if not isinstance(channel, str) or not channel:
            raise ValueError("channel must be a non-empty string")

        def tx() -> int:
            self._conn.execute("INSERT OR IGNORE INTO signal_channel_owners (channel, owner_account, claimed_ms) "
                               "VALUES (?, ?, ?)", (channel, int(owner_account), int(now_ms)))
            return self._conn.execute("SELECT owner_account FROM signal_channel_owners WHERE channel = ?",
                                      (channel,)).fetchone()[0]

        return self._write(tx)

    def channel_owner(self, channel: str) -> int | None:
        """The account that owns ``channel`` (its first publisher), or None while nobody has claimed it."""
        with self._lock:
            row = self._conn.execute("SELECT owner_account FROM signal_channel_owners WHERE channel = ?",
                                     (channel,)).fetchone()
        return None if row is None else row[0]

    # ------------------------------------------------------------------ reads

    def read_after(self, channel: str, after_seq: int, limit: int = 1000) -> list[SignalRecord]:
        """Records of ``channel`` with ``seq > after_seq``, in seq order, at most ``limit`` (≤ 10,000)."""
        limit = min(int(limit), MAX_READ)
        if limit <= 0:
            return []
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLS} FROM signal_log WHERE channel = ? AND seq > ? ORDER BY seq LIMIT ?",
                (channel, int(after_seq), limit)).fetchall()
        return [_record(r) for r in rows]

    def head(self, channel: str) -> tuple[str, int]:
        """(epoch, last_seq) of ``channel``; ("", 0) for a channel that does not exist (nothing written)."""
        with self._lock:
            row = self._conn.execute("SELECT epoch, last_seq FROM signal_channels WHERE channel = ?",
                                     (channel,)).fetchone()
        return ("", 0) if row is None else (row[0], row[1])

    def oldest_retained(self, channel: str) -> int:
        """The lowest seq still in the log; ``last_seq + 1`` when none is retained (1 for an unknown channel)."""
        with self._lock:
            row = self._conn.execute("SELECT MIN(seq) FROM signal_log WHERE channel = ?", (channel,)).fetchone()
            if row[0] is not None:
                return row[0]
            head = self._conn.execute("SELECT last_seq FROM signal_channels WHERE channel = ?", (channel,)).fetchone()
        return 1 if head is None else head[0] + 1

    def channels(self) -> list[str]:
        with self._lock:
            rows = self._conn.execute("SELECT channel FROM signal_channels ORDER BY channel").fetchall()
        return [r[0] for r in rows]

    def cursor_status(self, channel: str, epoch: str | None, last_seq: int) -> CursorStatus:
        """Can a client that has seen ``channel`` up to ``last_seq`` in ``epoch`` be served by replay?

        "reset": the epoch differs (history was reset or comes from another log), or ``last_seq < oldest − 1``
        (records it missed are gone); "ahead": ``last_seq > head`` (a cursor from another / a future log);
        "ok": replay ``read_after(channel, last_seq)``. ``epoch`` None or "" means unknown (a bare-seq cursor):
        only the sequence is checked."""
        last_seq = int(last_seq)
        with self._lock:
            head = self._conn.execute("SELECT epoch, last_seq FROM signal_channels WHERE channel = ?",
                                      (channel,)).fetchone()
            oldest = self._conn.execute("SELECT MIN(seq) FROM signal_log WHERE channel = ?", (channel,)).fetchone()[0]
        cur_epoch, head_seq = ("", 0) if head is None else head
        if epoch and epoch != cur_epoch:
            return "reset"
        if last_seq > head_seq:
            return "ahead"
        if oldest is None:
            oldest = head_seq + 1
        if last_seq < oldest - 1:
            return "reset"
        return "ok"


def _record(r) -> SignalRecord:
    raw = bytes(r[6])
    return SignalRecord(r[0], r[1], r[2], r[3], orjson.loads(raw), r[4], r[5], raw)


__all__ = ["CursorStatus", "SignalRecord", "SqliteSignalLog", "encode_payload", "new_epoch", "parse_event_id"]
