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

Not venue state (not journaled, not hashed): one connection to the shared database file (WAL) with a lock, like
the API keys. JSON columns are text written with orjson (``Decimal`` → string).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import orjson

from .schema import connect, write_immediate

MAX_LIMIT = 1000

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

    def close(self) -> None:
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


__all__ = ["DUPLICATE", "EXECUTED", "EXECUTING", "FAILED", "RECEIVED", "REJECTED", "STATUSES", "AlertRow",
           "ClaimResult", "IdemRow", "SqliteAlertLog"]
