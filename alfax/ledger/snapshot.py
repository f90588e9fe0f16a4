"""Snapshots and recovery: ``(journal position, Venue.snapshot(), state_hash)`` rows plus journal replay.

Snapshots are written through the Ledger's writer thread (``Ledger.save_snapshot``) so they are ordered with
the journal rows; this module holds the blob format, the readers and the generic ``recover`` loop.

Recovery = latest snapshot (or a fresh venue) + replay of every journaled command after it, each one with the
clock set to the command's journaled timestamp. A command that raises during replay means the journal and the
engine disagree (non-determinism, a changed engine, or a corrupt journal): ``recover`` fails loudly.
"""

from __future__ import annotations

import inspect
import sqlite3
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import orjson

from alfax.domain.commands import Command
from alfax.domain.errors import VenueError

from . import codec
from .schema import connect_reader

ZLIB_LEVEL = 6


class RecoveryError(RuntimeError):
    """The journal cannot be replayed onto the snapshot (gap, rejected command, hash mismatch)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    snapshot_id: int
    journal_seq: int  # the snapshot includes every journaled command with journal_seq <= this
    created_ms: int
    state_hash: str
    state: dict


class ReplayClock:
    """A settable clock (``now_ms``/``set``): what ``recover`` drives while replaying."""

    __slots__ = ("_now",)

    def __init__(self, now_ms: int = 0) -> None:
        self._now = now_ms

    def now_ms(self) -> int:
        return self._now

    def set(self, ts_ms: int) -> None:
        self._now = ts_ms


def encode_snapshot(state: dict) -> bytes:
    """orjson (raises on anything not JSON-able, e.g. non-str dict keys: fail at save, not at restore)."""
    return orjson.dumps(state)


def compress(raw_json: bytes) -> bytes:
    return zlib.compress(raw_json, ZLIB_LEVEL)


def decode_snapshot_blob(blob: bytes) -> dict:
    return orjson.loads(zlib.decompress(blob))


def load_latest_snapshot(conn: sqlite3.Connection) -> Snapshot | None:
    row = conn.execute(
        "SELECT snapshot_id, journal_seq, created_ms, state_hash, blob FROM snapshots "
        "ORDER BY journal_seq DESC, snapshot_id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    sid, seq, created, h, blob = row
    try:
        state = decode_snapshot_blob(blob)
    except (zlib.error, orjson.JSONDecodeError) as e:
        raise RecoveryError(f"snapshot {sid} (journal_seq {seq}) is corrupt: {e}") from e
    return Snapshot(sid, seq, created, h, state)


def iter_journal(conn: sqlite3.Connection, after_seq: int = 0, chunk: int = 5000) -> Iterator[tuple[int, int, Command]]:
    """Committed journal rows with journal_seq > after_seq, ascending, decoded into commands."""
    last = after_seq
    loads_command = codec.loads_command
    while True:
        rows = conn.execute(
            "SELECT journal_seq, ts, payload FROM journal WHERE journal_seq > ? ORDER BY journal_seq LIMIT ?",
            (last, chunk),
        ).fetchall()
        if not rows:
            return
        for seq, ts, payload in rows:
            try:
                cmd = loads_command(payload)
            except Exception as e:
                raise RecoveryError(f"journal row {seq} cannot be decoded: {e}") from e
            yield seq, ts, cmd
        last = rows[-1][0]
        if len(rows) < chunk:
            return


def first_journal_seq(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT MIN(journal_seq) FROM journal").fetchone()
    return row[0] if row else None


def _default_handle(venue: Any, cmd: Command) -> Any:
    return venue.handle(cmd)


def _positional_arity(fn: Callable) -> int | None:
    """How many positional arguments ``fn`` accepts (None = any number)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    n = 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            n += 1
    return n


def _call_flex(fn: Callable, *args: Any) -> Any:
    """Call ``fn`` with as many of ``args`` as it takes: ``venue_factory()`` or ``venue_factory(clock)``,
    ``restore_fn(snap)`` or ``restore_fn(snap, clock)``."""
    n = _positional_arity(fn)
    return fn(*(args if n is None else args[:n]))


def clock_setter(clock: Any) -> Callable[[int], None]:
    """``clock.set(ts)`` (engine FixedClock/ManualClock, ReplayClock), else a ``t`` or ``ms`` attribute."""
    setter = getattr(clock, "set", None)
    if callable(setter):
        return setter
    for attr in ("t", "ms"):
        if hasattr(clock, attr):
            return lambda ts, _c=clock, _a=attr: setattr(_c, _a, ts)
    raise TypeError(f"cannot set the time of {type(clock).__name__}: pass set_time=")


def recover(
    ledger_or_path: Any,
    venue_factory: Callable[[Any], Any],
    restore_fn: Callable[[dict, Any], Any],
    clock: Any,
    *,
    handle: Callable[[Any, Command], Any] | None = None,
    state_hash: Callable[[Any], str] | None | bool = None,
    set_time: Callable[[int], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Any, int, int]:
    """Rebuild the venue from a Ledger (or the path of its db). Call before appending anything new.

    - ``venue_factory()`` or ``venue_factory(clock)`` -> venue, when there is no snapshot;
    - ``restore_fn(snapshot_dict)`` or ``restore_fn(snapshot_dict, clock)`` -> venue, otherwise;
    - ``handle(venue, cmd)`` replays one command (default ``venue.handle(cmd)``);
    - ``state_hash(venue) -> str``: verify the restored snapshot against its stored hash (default: the venue's
      own ``state_hash`` method if it has one; pass ``state_hash=False`` to skip);
    - ``set_time(ts)`` sets the clock (default ``clock.set``, else its ``t``/``ms`` attribute).

    Returns ``(venue, replayed_count, last_journal_seq)``.
    """
    handle = handle or _default_handle
    if set_time is None:
        set_time = clock_setter(clock)
    path = getattr(ledger_or_path, "path", ledger_or_path)
    conn = connect_reader(path)
    try:
        snap = load_latest_snapshot(conn)
        if snap is None:
            first = first_journal_seq(conn)
            if first is not None and first != 1:
                raise RecoveryError(f"journal starts at {first} but there is no snapshot: rows were pruned or lost")
            venue = _call_flex(venue_factory, clock)
            last = 0
        else:
            # Restore with the clock at the last command the snapshot covers (if still journaled).
            row = conn.execute("SELECT ts FROM journal WHERE journal_seq = ?", (snap.journal_seq,)).fetchone()
            set_time(row[0] if row else snap.created_ms)
            venue = _call_flex(restore_fn, snap.state, clock)
            if state_hash is None and callable(getattr(venue, "state_hash", None)):
                state_hash = type(venue).state_hash
            if state_hash:
                got = state_hash(venue)
                if got != snap.state_hash:
                    raise RecoveryError(
                        f"snapshot {snap.snapshot_id} (journal_seq {snap.journal_seq}) restores to state hash "
                        f"{got}, stored {snap.state_hash}"
                    )
            last = snap.journal_seq
        count = 0
        for seq, ts, cmd in iter_journal(conn, last):
            if seq != last + 1:
                raise RecoveryError(f"journal gap: expected journal_seq {last + 1}, found {seq}")
            set_time(ts)
            try:
                handle(venue, cmd)
            except VenueError as e:
                raise RecoveryError(
                    f"replay of journal_seq {seq} (ts {ts}) {cmd!r} raised VenueError {e.code} {e.msg!r}; "
                    f"the journal only holds commands that succeeded, so the engine is not deterministic "
                    f"or the journal/snapshot do not match"
                ) from e
            except Exception as e:
                raise RecoveryError(f"replay of journal_seq {seq} (ts {ts}) {cmd!r} crashed: {e!r}") from e
            count += 1
            last = seq
            if progress is not None and count % 100_000 == 0:
                progress(count, seq)
        return venue, count, last
    finally:
        conn.close()
