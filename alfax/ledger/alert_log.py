"""TradingView webhook alerts and their two-phase idempotency (issue 5; signals.md §1.5–1.6) on the ``tv_alerts``
and ``tv_alert_keys`` tables.

The webhook calls :meth:`SqliteAlertLog.receive` for every alert, accepted or rejected, *before* it answers 202:
the row (redacted body, parsed commands, errors) is committed when ``receive`` returns, so a crash after the answer
cannot lose it (:meth:`pending` lists alerts the executor has not finished). ``alert_id`` is AUTOINCREMENT: ids are
monotonic and never reused, so "newest first" is "highest id first".

Idempotency (§1.6) is two-phase and durable: :meth:`claim` atomically inserts ``(account_id, key)`` as *in flight*
unless the key is already there ("new" / "in_flight" / "done"); :meth:`complete` marks it *done* with its result
(order ids, errors). A done key claimed with ``window_ms`` (a content-only key) expires ``window_ms`` after its
claim and can then be claimed again; a key without a window (``id=``, content + ``ts=``) never expires. A key left in
flight (by a crash, window or not) stays in flight (:meth:`in_flight`): the executor must look up whether the order
exists — by its deterministic clientOrderId — before retrying or completing it, so nothing is lost or repeated.

The webhook's fast path is :meth:`SqliteAlertLog.receive_async`: the alert row and the claims of all its keys are
written in the SAME transaction (:meth:`receive_many`), so an alert is either received with its keys held or a
duplicate, never half of it; and a writer thread group-commits whatever arrived meanwhile (as the journal does), so
many concurrent webhooks share one COMMIT and the event loop never waits on SQLite. The executor's writes
(:meth:`set_status_async`, :meth:`complete_async`) go through the same writer and share those commits.

Not venue state (not journaled, not hashed): one connection to the shared database file (WAL) with a lock, like
the API keys. JSON columns are text written with orjson (``Decimal`` → string).
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Literal

import orjson

from .schema import connect, resolve_on_loop, write_immediate

MAX_LIMIT = 1000
MAX_GROUP = 1000  # alerts per group-commit transaction (bounds one commit's latency)

log = logging.getLogger("alfax.alerts")

RECEIVED = "received"
REJECTED = "rejected"
EXECUTING = "executing"
EXECUTED = "executed"
FAILED = "failed"
DUPLICATE = "duplicate"
STATUSES = frozenset({RECEIVED, REJECTED, EXECUTING, EXECUTED, FAILED, DUPLICATE})
UNFINISHED = (RECEIVED, EXECUTING)

ClaimResult = Literal["new", "in_flight", "done"]

_DDL = """
CREATE TABLE IF NOT EXISTS tv_alerts (
    alert_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  INTEGER NOT NULL,
    token_id    TEXT    NOT NULL,
    received_ms INTEGER NOT NULL,
    source_ip   TEXT    NOT NULL DEFAULT '',
    body        TEXT    NOT NULL,
    commands    TEXT    NOT NULL,
    errors      TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    result      TEXT    NOT NULL DEFAULT '{}',
    updated_ms  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tv_alerts_acct ON tv_alerts (account_id, alert_id);
CREATE INDEX IF NOT EXISTS tv_alerts_status ON tv_alerts (status, alert_id);

CREATE TABLE IF NOT EXISTS tv_alert_keys (
    account_id INTEGER NOT NULL,
    idem_key   TEXT    NOT NULL,
    alert_id   INTEGER NOT NULL,
    state      TEXT    NOT NULL,
    claimed_ms INTEGER NOT NULL,
    expires_ms INTEGER,
    done_ms    INTEGER,
    result     TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (account_id, idem_key)
);
CREATE INDEX IF NOT EXISTS tv_alert_keys_state ON tv_alert_keys (state, claimed_ms);
"""

_ALERT_COLS = ("alert_id, account_id, token_id, received_ms, source_ip, body, commands, errors, status, result, "
               "updated_ms")
_KEY_COLS = "account_id, idem_key, alert_id, state, claimed_ms, expires_ms, done_ms, result"


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in the alert log")


def _json(value: Any) -> str:
    return orjson.dumps(value, default=_default).decode()


@dataclass(frozen=True, slots=True)
class AlertRow:
    alert_id: int
    account_id: int
    token_id: str
    received_ms: int
    source_ip: str
    body: str
    commands: list
    errors: list
    status: str
    result: dict
    updated_ms: int

    def to_dict(self) -> dict[str, Any]:
        return {"alertId": self.alert_id, "accountId": self.account_id, "tokenId": self.token_id,
                "receivedTime": self.received_ms, "sourceIp": self.source_ip, "body": self.body,
                "commands": self.commands, "errors": self.errors, "status": self.status, "result": self.result,
                "updateTime": self.updated_ms}


@dataclass(frozen=True, slots=True)
class IdemRow:
    account_id: int
    idem_key: str
    alert_id: int
    state: str  # "in_flight" | "done"
    claimed_ms: int
    expires_ms: int | None  # None: durable, never expires
    done_ms: int | None
    result: dict


def _alert(r) -> AlertRow:
    return AlertRow(r[0], r[1], r[2], r[3], r[4], r[5], orjson.loads(r[6]), orjson.loads(r[7]), r[8],
                    orjson.loads(r[9]), r[10])


def _key(r) -> IdemRow:
    return IdemRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], orjson.loads(r[7]))


class SqliteAlertLog:
    def __init__(self, path: str | os.PathLike, *, synchronous: str = "NORMAL") -> None:
        """``synchronous``: "NORMAL" (as the journal: survives a process crash) or "FULL" (also power loss)."""
        self.path = os.fspath(path)
        self._conn = connect(self.path, synchronous=synchronous, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.executescript(_DDL)
        self._group_q: queue.SimpleQueue | None = None
        self._group_thread: threading.Thread | None = None
        self._group_start = threading.Lock()

    def close(self) -> None:
        self._stop_group_writer()
        with self._lock:
            self._conn.close()

    def _write(self, fn):
        return write_immediate(self._conn, self._lock, fn)

    # ------------------------------------------------------------------ alerts

    def receive(self, account_id: int, token_id: str, body_redacted: str, received_ms: int, source_ip: str,
                commands: list[dict], errors: list[dict]) -> AlertRow:
        """Persist one alert (committed on return). Status "rejected" when ``errors`` is non-empty, else
        "received"."""
        status = REJECTED if errors else RECEIVED
        args = (int(account_id), str(token_id), int(received_ms), str(source_ip or ""), str(body_redacted),
                _json(list(commands)), _json(list(errors)), status, int(received_ms))

        def tx() -> AlertRow:
            cur = self._conn.execute(
                "INSERT INTO tv_alerts (account_id, token_id, received_ms, source_ip, body, commands, errors, status, "
                "updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", args)
            r = self._conn.execute(f"SELECT {_ALERT_COLS} FROM tv_alerts WHERE alert_id = ?",
                                   (cur.lastrowid,)).fetchone()
            return _alert(r)

        return self._write(tx)

    def set_status(self, alert_id: int, status: str, result: dict | None, now_ms: int) -> AlertRow | None:
        """Move an alert to ``status`` (executing / executed / failed / rejected / duplicate…) with its result
        (order ids, errors). None if there is no such alert."""
        if status not in STATUSES:
            raise ValueError(f"unknown alert status {status!r}; one of {sorted(STATUSES)}")
        text = _json({} if result is None else result)

        def tx() -> AlertRow | None:
            cur = self._conn.execute("UPDATE tv_alerts SET status = ?, result = ?, updated_ms = ? WHERE alert_id = ?",
                                     (status, text, int(now_ms), int(alert_id)))
            if cur.rowcount == 0:
                return None
            r = self._conn.execute(f"SELECT {_ALERT_COLS} FROM tv_alerts WHERE alert_id = ?",
                                   (int(alert_id),)).fetchone()
            return _alert(r)

        return self._write(tx)

    def get(self, alert_id: int) -> AlertRow | None:
        with self._lock:
            r = self._conn.execute(f"SELECT {_ALERT_COLS} FROM tv_alerts WHERE alert_id = ?",
                                   (int(alert_id),)).fetchone()
        return None if r is None else _alert(r)

    def list(self, account_id: int, limit: int = 100, before_id: int | None = None) -> list[AlertRow]:
        """The account's alerts, newest first, at most ``limit`` (≤ 1000); ``before_id`` pages further back."""
        limit = min(int(limit), MAX_LIMIT)
        if limit <= 0:
            return []
        where, args = "account_id = ?", [int(account_id)]
        if before_id is not None:
            where += " AND alert_id < ?"
            args.append(int(before_id))
        with self._lock:
            rows = self._conn.execute(f"SELECT {_ALERT_COLS} FROM tv_alerts WHERE {where} "
                                      f"ORDER BY alert_id DESC LIMIT ?", (*args, limit)).fetchall()
        return [_alert(r) for r in rows]

    def pending(self, account_id: int | None = None) -> list[AlertRow]:
        """Alerts received or executing but not finished (oldest first): what the executor resumes after a
        restart (a crash between the 202 and the execution)."""
        where, args = "status IN (?, ?)", list(UNFINISHED)
        if account_id is not None:
            where += " AND account_id = ?"
            args.append(int(account_id))
        with self._lock:
            rows = self._conn.execute(f"SELECT {_ALERT_COLS} FROM tv_alerts WHERE {where} ORDER BY alert_id",
                                      args).fetchall()
        return [_alert(r) for r in rows]

    # ------------------------------------------------------------------ idempotency keys

    def claim(self, account_id: int, idem_key: str, alert_id: int, now_ms: int,
              window_ms: int | None = None) -> ClaimResult:
        """Phase 1: "new" if this call inserted the key as in flight (for ``alert_id``); otherwise the state of the
        existing key, "in_flight" or "done". A *done* key claimed with ``window_ms`` expires ``window_ms`` after its
        claim (a later claim is "new" and takes it over); without a window it never expires. An in-flight key never
        expires by itself, window or not: its order may exist, so only :meth:`complete` (after the clientOrderId
        lookup) or :meth:`release` resolves it — a retry is never let through while the first attempt is unknown."""
        if window_ms is not None and window_ms < 0:
            raise ValueError("window_ms must be >= 0 or None")
        acct, now = int(account_id), int(now_ms)
        expires = None if window_ms is None else now + int(window_ms)

        def tx() -> ClaimResult:
            r = self._conn.execute("SELECT state, expires_ms FROM tv_alert_keys WHERE account_id = ? AND idem_key = ?",
                                   (acct, idem_key)).fetchone()
            if r is not None and (r[0] == "in_flight" or r[1] is None or now < r[1]):
                return r[0]
            self._conn.execute(
                "INSERT OR REPLACE INTO tv_alert_keys (account_id, idem_key, alert_id, state, claimed_ms, expires_ms, "
                "done_ms, result) VALUES (?, ?, ?, 'in_flight', ?, ?, NULL, '{}')",
                (acct, idem_key, int(alert_id), now, expires))
            return "new"

        return self._write(tx)

    def complete(self, account_id: int, idem_key: str, result: dict, now_ms: int) -> bool:
        """Phase 2: mark the key done with ``result`` (order ids, errors). False if the key is unknown."""
        text = _json(result)

        def tx() -> bool:
            cur = self._conn.execute(
                "UPDATE tv_alert_keys SET state = 'done', done_ms = ?, result = ? "
                "WHERE account_id = ? AND idem_key = ?",
                (int(now_ms), text, int(account_id), idem_key))
            return cur.rowcount > 0

        return self._write(tx)

    def release(self, account_id: int, idem_key: str, alert_id: int | None = None) -> bool:
        """Drop an *in-flight* claim (nothing was sent, so a retry may trade): only that alert's claim when
        ``alert_id`` is given. Done keys are never released. True if a claim was removed."""
        where, args = "account_id = ? AND idem_key = ? AND state = 'in_flight'", [int(account_id), idem_key]
        if alert_id is not None:
            where += " AND alert_id = ?"
            args.append(int(alert_id))
        return self._write(lambda: self._conn.execute(f"DELETE FROM tv_alert_keys WHERE {where}", args).rowcount > 0)

    def key(self, account_id: int, idem_key: str) -> IdemRow | None:
        """The key's row (its alert, state and result): a duplicate answers with the original receipt."""
        with self._lock:
            r = self._conn.execute(f"SELECT {_KEY_COLS} FROM tv_alert_keys WHERE account_id = ? AND idem_key = ?",
                                   (int(account_id), idem_key)).fetchone()
        return None if r is None else _key(r)

    def in_flight(self, account_id: int | None = None) -> list[IdemRow]:
        """Keys left in flight (oldest claim first), expired windows included: after a crash each needs a lookup
        of its order by clientOrderId before it is retried or completed."""
        where, args = "state = 'in_flight'", []
        if account_id is not None:
            where += " AND account_id = ?"
            args.append(int(account_id))
        with self._lock:
            rows = self._conn.execute(f"SELECT {_KEY_COLS} FROM tv_alert_keys WHERE {where} "
                                      f"ORDER BY claimed_ms, alert_id, idem_key", args).fetchall()
        return [_key(r) for r in rows]

    def purge_expired(self, now_ms: int) -> int:
        """Delete *done* keys whose window has passed (durable keys and in-flight keys stay). Returns the count."""
        return self._write(lambda: self._conn.execute(
            "DELETE FROM tv_alert_keys WHERE state = 'done' AND expires_ms IS NOT NULL AND expires_ms <= ?",
            (int(now_ms),)).rowcount)

    # ------------------------------------------------------------------ group-committed intake

    def receive_many(self, requests: "list[ReceiveRequest]") -> "list[Received]":
        """Persist several alerts AND claim their idempotency keys in ONE transaction (committed on return), in
        order. Per alert: with ``errors`` it is stored "rejected" and claims nothing; else if any of its keys is
        already held (in flight, or done and not expired — :meth:`claim`'s rule) it is stored "duplicate", claims
        nothing (all or nothing: a half-claimed alert could never run cleanly) and its ``on_duplicate`` callback
        gives the errors and result stored with it; else it is "received" and every key is claimed in flight for
        it. An alert later in the batch sees the claims of the earlier ones (a retry inside one commit is caught).

        Alert ids are assigned here, explicitly and consecutively, inside the write lock: the same ids
        AUTOINCREMENT would give (and ``sqlite_sequence`` follows them), so they stay monotonic across
        connections and processes."""
        reqs = list(requests)
        if not reqs:
            return []
        return self._write(lambda: self._receive_many_tx(reqs))

    def _receive_many_tx(self, reqs: "list[ReceiveRequest]") -> "list[Received]":
        conn = self._conn
        base, held = self._last_id_and_held_keys(conn, [(int(r.account_id), k.idem_key) for r in reqs
                                                        if not r.errors for k in r.keys])
        alert_rows: list[tuple] = []
        claims: list[tuple] = []
        out: list[Received] = []
        for i, r in enumerate(reqs):
            aid, acct, now = base + 1 + i, int(r.account_id), int(r.received_ms)
            status, errors, result = (REJECTED if r.errors else RECEIVED), list(r.errors), dict(r.result)
            dups: tuple[Duplicate, ...] = ()
            if not r.errors and r.keys:
                dups = tuple(Duplicate(k.command, k.idem_key, *h) for k in r.keys
                             if (h := held.get((acct, k.idem_key))) is not None and _still_held(h, now))
                if dups:
                    status = DUPLICATE
                    if r.on_duplicate is not None:
                        errors, result = r.on_duplicate(aid, dups)
                else:
                    for k in r.keys:
                        expires = None if k.window_ms is None else now + int(k.window_ms)
                        held[(acct, k.idem_key)] = (aid, "in_flight", RECEIVED, now, {}, expires)
                        claims.append((acct, k.idem_key, aid, "in_flight", now, expires, None, "{}"))
            row = (aid, acct, str(r.token_id), now, str(r.source_ip or ""), str(r.body), _json(list(r.commands)),
                   _json(errors), status, _json(result), now)
            alert_rows.append(row)
            out.append(Received(_alert(row), dups))
        for i in range(0, len(alert_rows), _ROWS_PER_INSERT):
            part = alert_rows[i:i + _ROWS_PER_INSERT]
            conn.execute(f"INSERT INTO tv_alerts ({_ALERT_COLS}) VALUES {','.join([_ALERT_ROW] * len(part))}",
                         [v for row in part for v in row])
        for i in range(0, len(claims), _ROWS_PER_INSERT):
            part = claims[i:i + _ROWS_PER_INSERT]
            conn.execute(f"INSERT OR REPLACE INTO tv_alert_keys ({_KEY_COLS}) VALUES "
                         f"{','.join([_KEY_ROW] * len(part))}", [v for row in part for v in row])
        return out

    @staticmethod
    def _last_id_and_held_keys(conn, pairs: list[tuple[int, str]]) -> tuple[int, dict[tuple[int, str], tuple]]:
        """The last alert id AUTOINCREMENT handed out (``sqlite_sequence`` never goes below the largest id ever
        used) and, for the keys asked about that exist: (account, key) -> (alert_id, state, that alert's status,
        its received_ms, key result, expires_ms). One statement for both: every SQLite call of the writer gives
        the GIL away, and getting it back from a busy event loop can take a switch interval."""
        found: dict[tuple[int, str], tuple] = {}
        pairs = list(dict.fromkeys(pairs))
        last_id = 0
        for i in range(0, max(len(pairs), 1), _ROWS_PER_INSERT):
            part = pairs[i:i + _ROWS_PER_INSERT]
            sql = _LAST_ID
            if part:
                sql += _HELD_KEYS.format(values=",".join(["(?, ?)"] * len(part)))
            for r in conn.execute(sql, [v for p in part for v in p]).fetchall():
                if r[0] is None:
                    last_id = r[2]
                else:
                    found[(r[0], r[1])] = (r[2], r[3], r[4], r[5], orjson.loads(r[6]), r[7])
        return last_id, found

    def receive_async(self, account_id: int, token_id: str, body: str, received_ms: int, source_ip: str = "",
                      commands: list | tuple = (), errors: list | tuple = (), *,
                      keys: "tuple[KeyClaim | tuple[int, str, int | None], ...] | list" = (),
                      result: dict | None = None,
                      on_duplicate: Callable[[int, tuple[Duplicate, ...]], tuple[list, dict]] | None = None,
                      ) -> "asyncio.Future[Received]":
        """:meth:`receive_many` for one alert from an asyncio loop (``keys``: ``(command, idem_key, window_ms)``),
        group-committed (see :meth:`_group_writer`). The future resolves on the caller's loop after the COMMIT
        holding the alert (or raises what the commit raised)."""
        request = ReceiveRequest(int(account_id), str(token_id), str(body), int(received_ms), str(source_ip or ""),
                                 list(commands), list(errors),
                                 tuple(k if isinstance(k, KeyClaim) else KeyClaim(*k) for k in keys),
                                 dict(result or {}), on_duplicate)
        return self._group_submit(_RECEIVE, request)

    def set_status_async(self, alert_id: int, status: str, result: dict | None, now_ms: int) -> "asyncio.Future[None]":
        """:meth:`set_status`, group-committed with everything else queued (the executor's progress writes share
        the intake's commits instead of contending with them for the connection). Resolves after the COMMIT."""
        if status not in STATUSES:
            raise ValueError(f"unknown alert status {status!r}; one of {sorted(STATUSES)}")
        return self._group_submit(_STATUS, (int(alert_id), status, _json({} if result is None else result),
                                            int(now_ms)))

    def complete_async(self, account_id: int, idem_key: str, result: dict, now_ms: int) -> "asyncio.Future[None]":
        """:meth:`complete`, group-committed. Resolves after the COMMIT."""
        return self._group_submit(_COMPLETE, (int(account_id), str(idem_key), _json(result), int(now_ms)))

    def _group_submit(self, kind: int, payload: Any) -> "asyncio.Future":
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._group_queue().put((kind, payload, fut, loop))
        return fut

    def _group_queue(self) -> queue.SimpleQueue:
        q = self._group_q
        if q is not None:
            return q
        with self._group_start:
            if self._group_q is None:
                q = queue.SimpleQueue()
                t = threading.Thread(target=self._group_writer, args=(q,), name="alfax-alert-log", daemon=True)
                t.start()
                self._group_thread, self._group_q = t, q
            return self._group_q

    def _stop_group_writer(self) -> None:
        with self._group_start:
            q, t = self._group_q, self._group_thread
            self._group_q = self._group_thread = None
        if q is not None and t is not None:
            q.put(None)
            t.join(30)

    def _group_writer(self, q: queue.SimpleQueue) -> None:
        """Group commit, as the journal's writer: block for one write, take everything queued meanwhile, apply it
        all in ONE transaction (in queue order, a few multi-row statements), then resolve every future with one
        wake-up per loop. 200 concurrent webhooks and their executions cost a handful of commits instead of
        ~1000, and the writer needs the GIL back only a few times per commit (each SQLite call releases it; a
        busy event loop can keep it for a switch interval each time)."""
        stop = False
        while not stop:
            item = q.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < MAX_GROUP:
                try:
                    nxt = q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            exc: BaseException | None = None
            try:
                results: list = self._write(lambda: self._apply_group(batch))
            except BaseException as e:  # e.g. disk full: none of these is acknowledged; later batches may be
                log.exception("alert log group commit failed (%d writes)", len(batch))
                results, exc = [None] * len(batch), e
            by_loop: dict[Any, list] = {}
            for (_kind, _payload, fut, loop), res in zip(batch, results):
                by_loop.setdefault(loop, []).append((fut, res, exc))
            for loop, items in by_loop.items():
                resolve_on_loop(loop, items)

    def _apply_group(self, batch: list) -> list:
        """Inside the transaction: runs of the same kind become one multi-row statement each, in queue order."""
        out: list = []
        i = 0
        while i < len(batch):
            kind, j = batch[i][0], i
            while j < len(batch) and batch[j][0] == kind:
                j += 1
            run = [it[1] for it in batch[i:j]]
            if kind == _RECEIVE:
                out += self._receive_many_tx(run)
            else:
                if kind == _STATUS:
                    self._update_many_tx(_UPDATE_STATUS, run, 1)  # target: alert_id
                else:
                    self._update_many_tx(_UPDATE_KEY, run, 2)  # target: (account_id, idem_key)
                out += [None] * len(run)
            i = j
        return out

    def _update_many_tx(self, sql: str, rows: list[tuple], width: int) -> None:
        # one row per target (its first ``width`` values): the last write wins, as applying them in order would
        latest = list({r[:width]: r for r in rows}.values())
        for i in range(0, len(latest), _ROWS_PER_INSERT):
            part = latest[i:i + _ROWS_PER_INSERT]
            ncols = len(part[0])
            values = ",".join(["(" + ",".join("?" * ncols) + ")"] * len(part))
            self._conn.execute(sql.format(values=values), [v for r in part for v in r])


_LAST_ID = ("SELECT NULL, NULL, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'tv_alerts'), 0), NULL, NULL, "
            "NULL, NULL, NULL")
_HELD_KEYS = (" UNION ALL SELECT k.account_id, k.idem_key, k.alert_id, k.state, COALESCE(a.status, ''), "
              "COALESCE(a.received_ms, k.claimed_ms), k.result, k.expires_ms FROM tv_alert_keys k "
              "LEFT JOIN tv_alerts a ON a.alert_id = k.alert_id WHERE (k.account_id, k.idem_key) IN (VALUES {values})")
_RECEIVE, _STATUS, _COMPLETE = 0, 1, 2
# UPDATE … FROM (VALUES …): one statement for a whole run of status / key updates
_UPDATE_STATUS = ("UPDATE tv_alerts SET status = v.column2, result = v.column3, updated_ms = v.column4 "
                  "FROM (VALUES {values}) AS v WHERE tv_alerts.alert_id = v.column1")
_UPDATE_KEY = ("UPDATE tv_alert_keys SET state = 'done', result = v.column3, done_ms = v.column4 "
               "FROM (VALUES {values}) AS v WHERE tv_alert_keys.account_id = v.column1 "
               "AND tv_alert_keys.idem_key = v.column2")
_ROWS_PER_INSERT = 200  # 11 columns x 200 rows stays far below SQLite's bound-parameter limit
_ALERT_ROW = "(" + ",".join("?" * 11) + ")"
_KEY_ROW = "(" + ",".join("?" * 8) + ")"


def _still_held(h: tuple, now: int) -> bool:
    """:meth:`SqliteAlertLog.claim`'s rule: in flight never expires; done expires only with a window."""
    _aid, state, _status, _received, _result, expires = h
    return state == "in_flight" or expires is None or now < expires


@dataclass(frozen=True, slots=True)
class KeyClaim:
    """One idempotency key an alert claims at intake: its command (0-based), the key, and the dedupe window of a
    content-only key (None: durable)."""

    command: int
    idem_key: str
    window_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A key of a new alert that another alert already holds: who holds it and how far that alert got."""

    command: int
    idem_key: str
    alert_id: int  # the alert holding the key
    state: str  # the key: "in_flight" | "done"
    status: str  # that alert's status now (received / executing / executed / failed …)
    received_ms: int  # when that alert came in
    result: dict  # the key's result (the command's receipt once done)
    expires_ms: int | None


@dataclass(frozen=True, slots=True)
class ReceiveRequest:
    """One alert for :meth:`SqliteAlertLog.receive_many` / ``receive_async``. ``result`` is stored as the alert's
    result (its receipt so far); ``on_duplicate(alert_id, duplicates) -> (errors, result)`` builds what a duplicate
    is stored with (it runs inside the transaction, on the writer thread: keep it pure)."""

    account_id: int
    token_id: str
    body: str
    received_ms: int
    source_ip: str = ""
    commands: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    keys: tuple[KeyClaim, ...] = ()
    result: dict = field(default_factory=dict)
    on_duplicate: Callable[[int, tuple[Duplicate, ...]], tuple[list, dict]] | None = None


@dataclass(frozen=True, slots=True)
class Received:
    row: AlertRow  # as committed (status received / rejected / duplicate)
    duplicates: tuple[Duplicate, ...] = ()


__all__ = ["DUPLICATE", "EXECUTED", "EXECUTING", "FAILED", "RECEIVED", "REJECTED", "STATUSES", "AlertRow",
           "ClaimResult", "Duplicate", "IdemRow", "KeyClaim", "ReceiveRequest", "Received", "SqliteAlertLog"]
