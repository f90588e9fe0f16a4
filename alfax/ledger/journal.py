"""The command journal: one SQLite (WAL) writer thread, group commit, read models upserted in the same txn.

Usage from the runtime (event loop thread)::

    ledger = Ledger("alfax.db")                      # opens/creates the db, starts the writer thread
    events = venue.handle(cmd)                       # succeeded
    if cmd.is_market_data and not events:
        ledger.append_market(ts, cmd)                # coalesced: latest per (kind, symbol), not written yet
    else:
        await asyncio.wrap_future(ledger.append(ts, cmd, events))   # resolved after the COMMIT holding it
        # or, cheaper on an asyncio loop:  await ledger.append_async(ts, cmd, events)
    ...
    ledger.save_snapshot(venue.snapshot(), venue.state_hash())     # covers everything appended so far
    ledger.close()

Group commit (Disruptor ``endOfBatch`` style): the writer blocks for one item, then takes everything queued and
commits it in ONE transaction: journal rows, read-model upserts (orders, algo_orders, trades, income) and
snapshots, in arrival order. Journal sequence numbers are assigned at enqueue time (under a lock), so the
queue order, the seq order and the commit order are the same. Payloads and read-model rows are encoded in the
caller's thread (an unencodable command raises there, before taking a seq); the writer thread only runs SQL,
a few multi-row statements per commit, so it needs the GIL back from a busy event loop only a few times.

A market command that produced no events is held in a pending slot keyed by (kind, symbol) (the latest one
wins); the next ``append``/``save_snapshot``/``flush`` first journals the pending slots, in the arrival order
of the commands they hold, then its own item. Replay therefore sees the same latest market state at every
point where a journaled command was applied.

WAL checkpoints run in a separate checkpoint thread (PASSIVE, on its own connection) instead of inside the
writer's COMMITs; past WAL_RESET_FRAMES the writer checkpoints the small remainder once, after acknowledging a
commit, so the WAL restarts under continuous load.

Failure is fail-stop: if a commit raises, every future in that batch and later gets the exception and
``append`` raises ``LedgerError`` from then on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sqlite3
import threading
import time
import zlib
from collections import deque
from concurrent.futures import Future, InvalidStateError
from typing import Any, Iterable, Iterator

from alfax.domain.commands import Command
from alfax.domain.events import Event

from . import codec
from . import snapshot as _snap
from .schema import connect, connect_reader, resolve_on_loop

DEFAULT_PATH = "./alfax.db"
CHECKPOINT_EVERY_S = 0.2  # WAL checkpoint period of the checkpoint thread
# Under continuous writes a PASSIVE checkpoint never catches up with the writer, so the WAL would never restart
# (grow forever). Past this many frames the writer itself checkpoints once, right after resolving a commit's
# futures: the checkpoint thread has already copied nearly everything, so it is short, and the next write
# transaction then restarts the WAL from its beginning.
WAL_RESET_FRAMES = 4096  # 16 MiB of 4 KiB pages

log = logging.getLogger("alfax.ledger")

_CMD = 0
_SNAP = 1
_BARRIER = 2
_STOP = 3


class LedgerError(RuntimeError):
    pass


class LedgerClosed(LedgerError):
    pass


class _MultiInsert:
    """``INSERT ... VALUES (..),(..),...`` with up to CHUNK rows per statement.

    Why not ``executemany``: the sqlite3 module releases the GIL around every ``sqlite3_step``, i.e. once per
    row, and each time the writer must win the GIL back from the busy event loop thread (up to the 5 ms switch
    interval: a convoy). One statement per CHUNK rows releases it once per chunk instead.
    """

    CHUNK = 200

    def __init__(self, head: str, ncols: int, tail: str = "", multi: bool = True) -> None:
        self.head, self.ncols, self.tail, self.multi = head, ncols, tail, multi
        self._sql: dict[int, str] = {}

    def sql(self, n: int) -> str:
        q = self._sql.get(n)
        if q is None:
            row = "(" + ",".join("?" * self.ncols) + ")"
            q = self._sql[n] = f"{self.head} VALUES {','.join([row] * n)}{self.tail}"
        return q

    def run(self, conn, rows) -> None:
        rows = rows if isinstance(rows, list) else list(rows)
        if not self.multi:  # executemany: a little less CPU per row, but one GIL hand-off per row
            conn.executemany(self.sql(1), rows)
            return
        chunk = self.CHUNK
        for i in range(0, len(rows), chunk):
            part = rows[i:i + chunk]
            conn.execute(self.sql(len(part)), [v for r in part for v in r])


_INSERT_JOURNAL = _MultiInsert("INSERT INTO journal (journal_seq, ts, kind, payload)", 4)
_UPSERT_ORDER = _MultiInsert(
    "INSERT INTO orders (order_id, account_id, symbol, client_order_id, time, update_time, status, payload)", 8,
    " ON CONFLICT(order_id) DO UPDATE SET "
    "account_id=excluded.account_id, symbol=excluded.symbol, client_order_id=excluded.client_order_id, "
    "time=excluded.time, update_time=excluded.update_time, status=excluded.status, payload=excluded.payload",
)
_UPSERT_ALGO = _MultiInsert(
    "INSERT INTO algo_orders (algo_id, account_id, symbol, client_algo_id, create_time, update_time, status, payload)",
    8,
    " ON CONFLICT(algo_id) DO UPDATE SET "
    "account_id=excluded.account_id, symbol=excluded.symbol, client_algo_id=excluded.client_algo_id, "
    "create_time=excluded.create_time, update_time=excluded.update_time, status=excluded.status, "
    "payload=excluded.payload",
)
_INSERT_TRADE = _MultiInsert("INSERT OR REPLACE INTO trades (trade_id, account_id, symbol, order_id, time, payload)", 6)
_INSERT_INCOME = _MultiInsert(
    "INSERT OR REPLACE INTO income (seq, account_id, symbol, income_type, time, tran_id, payload)", 7
)
_INSERT_SNAPSHOT = "INSERT INTO snapshots (journal_seq, created_ms, state_hash, blob) VALUES (?, ?, ?, ?)"


def _encode_item(cmd: Command, events: Iterable[Event]) -> tuple:
    """Journal payload + read-model rows of one command, built on the producer's thread (the event loop): the
    writer thread then needs the GIL only between its few SQLite calls (fewer hand-offs with a busy loop)."""
    encode = codec.encode
    dumps = codec.dumps
    orders: list[tuple] = []
    algos: list[tuple] = []
    trades: list[tuple] = []
    income: list[tuple] = []
    for ev in events:
        k = ev.kind
        if k == "order":
            o = ev.order
            t = ev.trade
            if t is not None:
                trades.append((t.trade_id, t.account_id, t.symbol, t.order_id, t.time, dumps(encode(t))))
            # Open orders live in the engine (and are rebuilt by replay); the history table only needs their
            # final state, which halves the rows written on the order path.
            if o.status.is_open:
                continue
            orders.append((o.order_id, o.account_id, o.symbol, o.client_order_id, o.time, o.update_time,
                           o.status.value, dumps(encode(o))))
        elif k == "algo":
            a = ev.algo
            if a.is_open:  # same reasoning as for orders: open algo orders are served from the engine
                continue
            algos.append((a.algo_id, a.account_id, a.symbol, a.client_algo_id, a.create_time, a.update_time,
                          a.status.value, dumps(encode(a))))
        elif k == "income":
            income.append((ev.seq, ev.account_id, ev.symbol, ev.income_type.value, ev.ts, ev.tran_id,
                           dumps(encode(ev))))
    return cmd.kind, dumps(encode(cmd)), orders, algos, trades, income


def _percentile(sorted_vals: list[float], q: float) -> float:
    if not sorted_vals:
        return 0.0
    i = min(len(sorted_vals) - 1, max(0, int(round(q * (len(sorted_vals) - 1)))))
    return sorted_vals[i]


class Ledger:
    """Durable journal + read models + snapshots over one SQLite file in WAL mode."""

    def __init__(
        self,
        path: str | os.PathLike = DEFAULT_PATH,
        synchronous: str = "NORMAL",
        *,
        prune_journal: bool = False,
        metrics_window: int = 1024,
        max_batch: int = 20_000,
    ) -> None:
        self.path = os.fspath(path)
        self.synchronous = synchronous.upper()
        self.prune_journal = prune_journal
        self.max_batch = max(1, max_batch)  # items per transaction (bounds one commit's size and latency)
        self._lock = threading.Lock()
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._pending: dict[tuple[str, str], tuple[int, Command]] = {}
        self._closed = False
        self._failed: BaseException | None = None

        # metrics (written by the writer thread; read racily, which is fine for monitoring)
        self._commits = 0
        self._rows = 0
        self._coalesced = 0
        self._enqueued = 0
        self._lags: deque[float] = deque(maxlen=metrics_window)
        self._batch_rows: deque[int] = deque(maxlen=metrics_window)

        conn = connect(self.path, synchronous=self.synchronous, check_same_thread=False)
        row = conn.execute("SELECT MAX(journal_seq) FROM journal").fetchone()
        seq_row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'journal'").fetchone()
        last = max(row[0] or 0, seq_row[0] if seq_row else 0)
        self._next_seq = last + 1
        self._last_committed_seq = last
        # WAL checkpoints (copying committed pages back into the db file, with its fsync) run in their own thread
        # instead of inside every ~1000th COMMIT of the writer, where they stalled a whole group commit (and every
        # order waiting on it) for several ms: the tail of the ACK latency.
        conn.execute("PRAGMA wal_autocheckpoint=0")
        self._conn = conn
        self._ckpt_stop = threading.Event()
        self._wal_reset = False  # set by the checkpoint thread, cleared by the writer
        self._ckpt_thread = threading.Thread(target=self._checkpointer, name="alfax-ledger-checkpoint", daemon=True)
        self._ckpt_thread.start()
        self._thread = threading.Thread(target=self._run, name="alfax-ledger-writer", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ producer side (any thread)

    def append(self, ts_ms: int, cmd: Command, events: Iterable[Event] = ()) -> Future:
        """Journal ``cmd`` (executed at ``ts_ms``) and its events. The future resolves to the command's
        journal_seq after the COMMIT that contains it (or raises if that commit failed)."""
        fut: Future = Future()
        self._enqueue(ts_ms, _encode_item(cmd, events), fut, None)
        return fut

    def append_async(self, ts_ms: int, cmd: Command, events: Iterable[Event] = ()) -> "asyncio.Future[int]":
        """Same as ``append`` for a caller on a running asyncio loop, without the concurrent-future hop: the
        returned asyncio future resolves (to the journal_seq) on that loop, and the writer resolves a whole
        commit's futures with ONE ``call_soon_threadsafe`` (cheaper than ``asyncio.wrap_future(append(...))``)."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._enqueue(ts_ms, _encode_item(cmd, events), fut, loop)
        return fut

    def _enqueue(self, ts_ms: int, enc: tuple, fut: Any, loop: Any) -> None:
        # the payload was encoded by the caller (a CodecError raises there) before a seq is taken
        t0 = time.perf_counter()
        with self._lock:
            self._check_open()
            if self._pending:
                self._flush_pending_locked()
            seq = self._next_seq
            self._next_seq = seq + 1
            self._enqueued += 1
            self._q.put((_CMD, seq, ts_ms, enc, fut, t0, loop))

    def append_market(self, ts_ms: int, cmd: Command) -> None:
        """A market command that produced NO events: keep only the latest per (kind, symbol), unwritten."""
        key = (cmd.kind, getattr(cmd, "symbol", ""))
        with self._lock:
            self._check_open()
            if self._pending.pop(key, None) is not None:
                self._coalesced += 1
            self._pending[key] = (ts_ms, cmd)

    def save_snapshot(self, *args: Any, journal_seq: int | None = None, created_ms: int | None = None) -> Future:
        """``save_snapshot(snapshot_dict, state_hash)`` or ``save_snapshot(journal_seq, snapshot_dict, state_hash)``.

        ``snapshot_dict`` may also be the snapshot's JSON as bytes (``Venue.snapshot_json()``: one pass for both).

        Stored through the writer, ordered after everything appended before this call. ``journal_seq=None``
        (recommended) = every command appended so far, pending market slots included (they are journaled first,
        since the snapshot state already contains them). Resolves to the snapshot's journal_seq after COMMIT.
        """
        if len(args) == 2:
            snapshot_dict, state_hash = args
        elif len(args) == 3:
            journal_seq, snapshot_dict, state_hash = args
        else:
            raise TypeError("save_snapshot([journal_seq,] snapshot_dict, state_hash)")
        if isinstance(snapshot_dict, (bytes, bytearray, memoryview)):
            raw = bytes(snapshot_dict)  # already the snapshot's JSON (Venue.snapshot_json)
        else:
            raw = _snap.encode_snapshot(snapshot_dict)  # in the caller: the dict may be live engine state
        fut: Future = Future()
        t0 = time.perf_counter()
        if created_ms is None:
            created_ms = int(time.time() * 1000)
        with self._lock:
            self._check_open()
            if self._pending:
                self._flush_pending_locked()
            seq = self._next_seq - 1 if journal_seq is None else int(journal_seq)
            self._q.put((_SNAP, seq, raw, state_hash, created_ms, fut, t0))
        return fut

    def flush(self) -> Future:
        """Journal the pending market slots and resolve after everything enqueued so far is committed."""
        fut: Future = Future()
        with self._lock:
            self._check_open()
            if self._pending:
                self._flush_pending_locked()
            self._q.put((_BARRIER, fut, time.perf_counter()))
        return fut

    def close(self, timeout: float | None = 30.0) -> None:
        """Journal the pending market slots, commit everything queued and stop the writer thread."""
        with self._lock:
            if self._closed:
                return
            if self._pending and self._failed is None:
                self._flush_pending_locked()
            self._closed = True
            self._q.put((_STOP,))
        self._thread.join(timeout)
        self._ckpt_stop.set()
        self._ckpt_thread.join(timeout)
        if self._thread.is_alive():
            raise LedgerError("ledger writer did not stop in time")

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._failed is not None:
            raise LedgerError(f"ledger failed: {self._failed!r}") from self._failed
        if self._closed:
            raise LedgerClosed("ledger is closed")

    def _flush_pending_locked(self) -> None:
        # insertion order of the dict == arrival order of the commands held (a replaced slot moves to the end)
        for ts, cmd in self._pending.values():
            seq = self._next_seq
            self._next_seq = seq + 1
            self._enqueued += 1
            self._q.put((_CMD, seq, ts, _encode_item(cmd, ()), None, 0.0, None))
        self._pending.clear()

    # ------------------------------------------------------------------ properties / metrics

    @property
    def last_committed_seq(self) -> int:
        return self._last_committed_seq

    @property
    def last_enqueued_seq(self) -> int:
        return self._next_seq - 1

    @property
    def failed(self) -> BaseException | None:
        return self._failed

    def metrics(self) -> dict:
        lags = sorted(self._lags)
        recent = list(self._batch_rows)
        commits = self._commits
        p50, p99 = _percentile(lags, 0.50), _percentile(lags, 0.99)
        qlen = self._q.qsize()
        return {
            "commits": commits,
            "rows": self._rows,
            "enqueued": self._enqueued,
            "rows_per_commit": (self._rows / commits) if commits else 0.0,
            "rows_per_commit_recent": (sum(recent) / len(recent)) if recent else 0.0,
            "commit_lag_ms_p50": p50,
            "commit_lag_ms_p99": p99,
            "commit_lag_ms_max": lags[-1] if lags else 0.0,
            "last_committed_seq": self._last_committed_seq,
            "last_enqueued_seq": self._next_seq - 1,
            "queue_len": qlen,
            # aliases used by alfax.server (health/state)
            "commit_lag_p50_ms": p50,
            "commit_lag_p99_ms": p99,
            "last_journal_seq": self._last_committed_seq,
            "queue_length": qlen,
            "pending_market": len(self._pending),
            "coalesced": self._coalesced,
            "synchronous": self.synchronous,
            "failed": self._failed is not None,
        }

    # ------------------------------------------------------------------ reads (separate connection)

    def load_latest_snapshot(self) -> _snap.Snapshot | None:
        conn = connect_reader(self.path)
        try:
            return _snap.load_latest_snapshot(conn)
        finally:
            conn.close()

    def iter_journal(self, after_seq: int = 0) -> Iterator[tuple[int, int, Command]]:
        conn = connect_reader(self.path)
        try:
            yield from _snap.iter_journal(conn, after_seq)
        finally:
            conn.close()

    def recover(self, venue_factory, restore_fn, clock, **kw: Any) -> tuple[Any, int, int]:
        """See ``alfax.ledger.recovery.recover``. Call before appending anything new."""
        return _snap.recover(self, venue_factory, restore_fn, clock, **kw)

    # ------------------------------------------------------------------ checkpoint thread

    def _checkpointer(self) -> None:
        """PASSIVE checkpoints every CHECKPOINT_EVERY_S on a connection of its own: they never take the write
        lock, so the writer keeps committing while pages are copied back (the sqlite3 module releases the GIL)."""
        conn = None
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            while not self._ckpt_stop.wait(CHECKPOINT_EVERY_S):
                try:
                    _busy, frames, _done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:  # e.g. busy with another checkpointer: try again next round
                    log.debug("wal checkpoint failed", exc_info=True)
                    continue
                if frames >= WAL_RESET_FRAMES:
                    self._wal_reset = True
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except Exception:  # never take the process down; SQLite still checkpoints when the last connection closes
            log.exception("ledger checkpoint thread stopped")
        finally:
            if conn is not None:
                conn.close()

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        q = self._q
        conn = self._conn
        stop = False
        while not stop:
            batch = [q.get()]
            limit = self.max_batch
            while len(batch) < limit:
                try:
                    batch.append(q.get_nowait())
                except queue.Empty:
                    break
            stop = any(it[0] == _STOP for it in batch)
            if self._failed is not None:
                self._fail_batch(batch, self._failed)
                continue
            try:
                self._commit(conn, batch)
            except BaseException as e:  # fail-stop: nothing after a failed commit may be acknowledged
                self._failed = e
                try:
                    conn.execute("ROLLBACK")
                except Exception:
                    pass
                self._fail_batch(batch, e)
        try:
            conn.close()
        except Exception:
            pass

    @staticmethod
    def _fail_batch(batch: list, exc: BaseException) -> None:
        by_loop: dict = {}
        for it in batch:
            tag = it[0]
            fut = it[4] if tag == _CMD else it[5] if tag == _SNAP else it[1] if tag == _BARRIER else None
            if fut is None:
                continue
            err = LedgerError(f"commit failed: {exc!r}")
            if tag == _CMD and it[6] is not None:
                by_loop.setdefault(it[6], []).append((fut, None, err))
                continue
            try:
                fut.set_exception(err)
            except InvalidStateError:
                pass
        for loop, items in by_loop.items():
            resolve_on_loop(loop, items)

    def _commit(self, conn, batch: list) -> None:
        journal: list[tuple] = []
        orders: dict[int, tuple] = {}  # latest state per order id wins
        algos: dict[int, tuple] = {}
        trades: list[tuple] = []
        income: list[tuple] = []
        snaps: list[tuple] = []
        done: list[tuple[Future, Any, float]] = []
        async_done: dict[Any, list] = {}
        lags_t0: list[float] = []
        for it in batch:
            tag = it[0]
            if tag == _CMD:
                _, seq, ts, enc, fut, t0, loop = it
                kind, payload, o_rows, a_rows, t_rows, i_rows = enc
                journal.append((seq, ts, kind, payload))
                for r in o_rows:
                    orders[r[0]] = r
                for r in a_rows:
                    algos[r[0]] = r
                if t_rows:
                    trades += t_rows
                if i_rows:
                    income += i_rows
                if loop is not None:
                    async_done.setdefault(loop, []).append((fut, seq, None))
                    lags_t0.append(t0)
                elif fut is not None:
                    done.append((fut, seq, t0))
            elif tag == _SNAP:
                _, seq, raw, state_hash, created_ms, fut, t0 = it
                snaps.append((seq, created_ms, state_hash, zlib.compress(raw, _snap.ZLIB_LEVEL)))
                done.append((fut, seq, t0))
            elif tag == _BARRIER:
                done.append((it[1], None, it[2]))

        if journal or snaps or orders or algos or trades or income:
            conn.execute("BEGIN IMMEDIATE")
            if journal:
                _INSERT_JOURNAL.run(conn, journal)
            if orders:
                _UPSERT_ORDER.run(conn, orders.values())
            if algos:
                _UPSERT_ALGO.run(conn, algos.values())
            if trades:
                _INSERT_TRADE.run(conn, trades)
            if income:
                _INSERT_INCOME.run(conn, income)
            if snaps:
                conn.executemany(_INSERT_SNAPSHOT, snaps)
                if self.prune_journal:
                    self._prune(conn, snaps[-1][0])
            conn.execute("COMMIT")
            self._commits += 1
            self._rows += len(journal)
            self._batch_rows.append(len(journal))
            if journal:
                self._last_committed_seq = journal[-1][0]
        for loop, items in async_done.items():
            resolve_on_loop(loop, items)
        now = time.perf_counter()
        lags = self._lags
        for t0 in lags_t0:
            lags.append((now - t0) * 1000.0)
        for fut, result, t0 in done:
            lags.append((now - t0) * 1000.0)
            try:
                fut.set_result(result if result is not None else self._last_committed_seq)
            except InvalidStateError:  # cancelled by the waiter; the row is committed anyway
                pass
        if self._wal_reset:  # after the ACKs: see WAL_RESET_FRAMES
            self._wal_reset = False
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except Exception:
                log.debug("writer wal checkpoint failed", exc_info=True)

    @staticmethod
    def _prune(conn, new_snapshot_seq: int) -> int:
        """Keep the newest two snapshots and the journal after the older of them (fallback if the newest is bad)."""
        row = conn.execute(
            "SELECT journal_seq, snapshot_id FROM snapshots WHERE journal_seq <= ? "
            "ORDER BY journal_seq DESC, snapshot_id DESC LIMIT 1 OFFSET 1",
            (new_snapshot_seq,),
        ).fetchone()
        if row is None:
            return 0
        prev_seq, prev_id = row
        conn.execute("DELETE FROM journal WHERE journal_seq <= ?", (prev_seq,))
        conn.execute("DELETE FROM snapshots WHERE journal_seq < ? OR (journal_seq = ? AND snapshot_id < ?)",
                     (prev_seq, prev_seq, prev_id))
        return prev_seq
