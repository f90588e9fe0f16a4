"""Signal-following subscriptions (issue 5; signals.md §4.2/§4.4) on the ``signal_subscriptions`` table: an account
bound to a signal-hub channel, with how to size each signal it copies and a delivery cursor.

Sizing ``mode`` and its ``value`` (a Decimal string > 0):

- ``fixed_qty``  — every open trades ``value`` in base quantity;
- ``notional``   — every open trades ``value`` USDT of notional;
- ``equity_pct`` — every open trades ``value`` % of the account's equity, as notional.

``max_notional`` (USDT) caps one open; ``leverage`` (1–125) is set before each open (the follower's choice wins over
the signal's). The cursor ``(epoch, seq)`` is the last channel record fed to the account: the follower catches up
from it after a restart. It only moves forward (a late writer cannot rewind it), and a new subscription starts at
the position the caller gives (normally the channel's head: a new follower does not replay old signals).

Not venue state (not journaled, not hashed): one connection to the shared database file (WAL) with a lock, like the
other stores. Invalid input raises ``VenueError(Err.INVALID_PARAMETER)``, which the edge answers Binance-shaped.
"""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from typing import Any

from alfax.domain.errors import Err, VenueError

from .schema import SqliteStore

MODES = ("fixed_qty", "notional", "equity_pct")
MAX_LEVERAGE = 125
MAX_CHANNEL = 128

_DDL = """
CREATE TABLE IF NOT EXISTS signal_subscriptions (
    sub_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   INTEGER NOT NULL,
    channel      TEXT    NOT NULL,
    mode         TEXT    NOT NULL,
    value        TEXT    NOT NULL,
    max_notional TEXT,
    leverage     INTEGER,
    enabled      INTEGER NOT NULL DEFAULT 1,
    cursor_epoch TEXT,
    cursor_seq   INTEGER NOT NULL DEFAULT 0,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS signal_subscriptions_acct ON signal_subscriptions (account_id, sub_id);
CREATE INDEX IF NOT EXISTS signal_subscriptions_chan ON signal_subscriptions (channel, sub_id);
"""

_COLS = ("sub_id, account_id, channel, mode, value, max_notional, leverage, enabled, cursor_epoch, cursor_seq, "
         "created_ms, updated_ms")


def _bad(param: str, why: str) -> VenueError:
    return VenueError(Err.INVALID_PARAMETER, f"Data sent for parameter '{param}' is not valid: {why}.", param=param)


def _positive(param: str, value: Any) -> str:
    """A Decimal string > 0 in canonical form; floats are refused (money never passes through binary floats)."""
    if isinstance(value, (bool, float)) or not isinstance(value, (str, int, Decimal)):
        raise _bad(param, "give a decimal string such as \"0.01\"")
    try:
        d = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise _bad(param, f"not a number: {str(value)[:40]!r}") from None
    if not d.is_finite() or d <= 0:
        raise _bad(param, "must be greater than 0")
    if len(d.as_tuple().digits) > 30 or abs(d.adjusted()) > 20:
        raise _bad(param, "too many digits")
    return format(d.normalize(), "f")


def _row(r) -> dict:
    return {"subId": r[0], "accountId": r[1], "channel": r[2], "mode": r[3], "value": r[4], "maxNotional": r[5],
            "leverage": r[6], "enabled": bool(r[7]), "cursor": {"epoch": r[8], "seq": r[9]}, "createdMs": r[10],
            "updatedMs": r[11]}


class SqliteSubscriptions(SqliteStore):
    DDL = _DDL

    def add(self, account_id: int, channel: str, mode: str, value: str | Decimal, *,
            max_notional: str | Decimal | None = None, leverage: int | None = None, enabled: bool = True,
            epoch: str | None = None, last_seq: int = 0, now_ms: int | None = None) -> dict:
        """Bind ``account_id`` to ``channel``. ``epoch``/``last_seq``: where the cursor starts (pass the channel's
        head so only signals published from now on are followed)."""
        if not isinstance(channel, str) or not channel.strip() or len(channel) > MAX_CHANNEL:
            raise _bad("channel", f"a non-empty name of at most {MAX_CHANNEL} characters")
        if mode not in MODES:
            raise _bad("mode", f"one of {', '.join(MODES)}")
        val = _positive("value", value)
        cap = None if max_notional is None else _positive("maxNotional", max_notional)
        if leverage is not None and (isinstance(leverage, bool) or not isinstance(leverage, int)
                                     or not 1 <= leverage <= MAX_LEVERAGE):
            raise _bad("leverage", f"an integer from 1 to {MAX_LEVERAGE}")
        if isinstance(last_seq, bool) or not isinstance(last_seq, int) or last_seq < 0:
            raise _bad("lastSeq", "an integer >= 0")
        now = int(time.time() * 1000) if now_ms is None else int(now_ms)
        args = (int(account_id), channel.strip(), mode, val, cap, leverage, 1 if enabled else 0, epoch, last_seq,
                now, now)

        def tx() -> dict:
            cur = self._conn.execute(
                "INSERT INTO signal_subscriptions (account_id, channel, mode, value, max_notional, leverage, enabled, "
                "cursor_epoch, cursor_seq, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", args)
            return _row(self._conn.execute(f"SELECT {_COLS} FROM signal_subscriptions WHERE sub_id = ?",
                                           (cur.lastrowid,)).fetchone())

        return self._write(tx)

    def get(self, sub_id: int) -> dict | None:
        with self._lock:
            r = self._conn.execute(f"SELECT {_COLS} FROM signal_subscriptions WHERE sub_id = ?",
                                   (int(sub_id),)).fetchone()
        return None if r is None else _row(r)

    def list(self, account_id: int | None = None, channel: str | None = None) -> list[dict]:
        """Subscriptions (oldest first), of one account and/or one channel."""
        where, args = [], []
        if account_id is not None:
            where.append("account_id = ?")
            args.append(int(account_id))
        if channel is not None:
            where.append("channel = ?")
            args.append(channel)
        sql = f"SELECT {_COLS} FROM signal_subscriptions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY sub_id", args).fetchall()
        return [_row(r) for r in rows]

    def remove(self, sub_id: int, account_id: int) -> bool:
        """Delete the account's subscription; False if it is not there (or belongs to another account)."""
        return self._write(lambda: self._conn.execute(
            "DELETE FROM signal_subscriptions WHERE sub_id = ? AND account_id = ?",
            (int(sub_id), int(account_id))).rowcount > 0)

    def set_enabled(self, sub_id: int, account_id: int, enabled: bool, now_ms: int | None = None) -> bool:
        now = int(time.time() * 1000) if now_ms is None else int(now_ms)
        return self._write(lambda: self._conn.execute(
            "UPDATE signal_subscriptions SET enabled = ?, updated_ms = ? WHERE sub_id = ? AND account_id = ?",
            (1 if enabled else 0, now, int(sub_id), int(account_id))).rowcount > 0)

    def set_cursor(self, sub_id: int, epoch: str, seq: int) -> bool:
        """Advance the cursor to ``(epoch, seq)``. Seqs never go back in a channel (a reset changes the epoch but
        keeps counting), so an older seq is ignored: False when nothing moved."""
        return self._write(lambda: self._conn.execute(
            "UPDATE signal_subscriptions SET cursor_epoch = ?, cursor_seq = ? WHERE sub_id = ? AND cursor_seq < ?",
            (epoch, int(seq), int(sub_id), int(seq))).rowcount > 0)


__all__ = ["MODES", "SqliteSubscriptions"]
