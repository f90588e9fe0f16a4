"""Operator audit log (AuditLog in alfax/api/context.py) on its own ``operator_audit`` table.

Like the API keys, audit rows are not venue state (not journaled, not hashed): each operator action that changes
something (start or fail a challenge, approve or reject a payout…) appends one row here, also when it fails.
Rows are append-only: there is no update or delete. ``id`` is AUTOINCREMENT, so ids are never reused and
"newest first" is "highest id first".
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from .schema import connect

TABLE = "operator_audit"
MAX_LIMIT = 10_000

_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms   INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    target  TEXT    NOT NULL DEFAULT '',
    detail  TEXT    NOT NULL DEFAULT '{{}}',
    ok      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS {TABLE}_action ON {TABLE} (action, id);
CREATE INDEX IF NOT EXISTS {TABLE}_target ON {TABLE} (target, id);
"""


def _detail_text(detail: Any) -> str:
    if detail is None:
        detail = {}
    if not isinstance(detail, dict):
        detail = {"value": detail}
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


class SqliteAuditLog:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self._conn = connect(self.path, check_same_thread=False)
        self._lock = threading.Lock()
        exists = self._conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                    (TABLE,)).fetchone()
        if exists is None:  # no write lock taken when the table is already there (the journal writer is busy)
            self._conn.executescript(_DDL)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def record(self, actor: str, action: str, target: str, detail: dict, ok: bool, now_ms: int | None = None) -> int:
        """Append one row; returns its id."""
        ts = int(time.time() * 1000) if now_ms is None else int(now_ms)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                cur = self._conn.execute(
                    f"INSERT INTO {TABLE} (ts_ms, actor, action, target, detail, ok) VALUES (?, ?, ?, ?, ?, ?)",
                    (ts, str(actor), str(action), str(target or ""), _detail_text(detail), 1 if ok else 0),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return int(cur.lastrowid)

    def list(self, limit: int = 100, action: str = "", target: str = "") -> list[dict]:
        """Newest first; ``action`` / ``target`` filter on exact values when given."""
        limit = max(0, min(int(limit), MAX_LIMIT))
        if not limit:
            return []
        where, args = [], []
        if action:
            where.append("action = ?")
            args.append(action)
        if target:
            where.append("target = ?")
            args.append(target)
        sql = f"SELECT id, ts_ms, actor, action, target, detail, ok FROM {TABLE}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return [_row(r) for r in rows]


def _row(r: tuple) -> dict:
    try:
        detail = json.loads(r[5]) if r[5] else {}
    except ValueError:
        detail = {"raw": r[5]}
    return {"id": r[0], "time": r[1], "actor": r[2], "action": r[3], "target": r[4], "detail": detail,
            "ok": bool(r[6])}


__all__ = ["SqliteAuditLog", "TABLE"]
