"""User notifications in Areix's shape (seed 003 "Notifications"; issue 5) on the ``notifications`` table.

One row per thing a user should hear about without watching a stream: a signal received on a followed channel,
an alert executed, an alert rejected (TradingView never shows the webhook's answer, so this is where the user
learns why). Content is bilingual: ``{"en": …, "zh": …}``. Rows are append-only; ``notification_id`` is
AUTOINCREMENT (never reused), listed by time window like Areix's ``sd``/``ed``.
"""

from __future__ import annotations

import json

from .schema import SqliteStore

MAX_LIMIT = 1000

_DDL = """
CREATE TABLE IF NOT EXISTS notifications (
    notification_id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      INTEGER NOT NULL,
    ts_ms           INTEGER NOT NULL,
    type            TEXT    NOT NULL,
    content         TEXT    NOT NULL,
    ref             TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS notifications_acct ON notifications (account_id, ts_ms);
"""


class SqliteNotifications(SqliteStore):
    DDL = _DDL

    def add(self, account_id: int, type_: str, content: dict, now_ms: int, ref: str = "") -> int:
        text = json.dumps(content, ensure_ascii=False, sort_keys=True)

        def tx() -> int:
            cur = self._conn.execute(
                "INSERT INTO notifications (account_id, ts_ms, type, content, ref) VALUES (?, ?, ?, ?, ?)",
                (account_id, now_ms, type_, text, ref))
            return int(cur.lastrowid)

        return self._write(tx)

    def list(self, account_id: int, start_ms: int = 0, end_ms: int = 0, limit: int = 100) -> list[dict]:
        """Newest first within [start_ms, end_ms] (0 = open end). Rows as plain dicts (the edge shapes them)."""
        limit = max(1, min(int(limit or 100), MAX_LIMIT))
        sql = "SELECT notification_id, account_id, ts_ms, type, content, ref FROM notifications WHERE account_id = ?"
        args: list = [account_id]
        if start_ms:
            sql += " AND ts_ms >= ?"
            args.append(start_ms)
        if end_ms:
            sql += " AND ts_ms <= ?"
            args.append(end_ms)
        sql += " ORDER BY notification_id DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return [{"notificationId": r[0], "accountId": r[1], "ts": r[2], "type": r[3], "content": json.loads(r[4]),
                 "ref": r[5]} for r in rows]
