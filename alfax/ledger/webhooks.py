"""Per-account TradingView webhook settings (issue 5; signals.md §1.5) on the ``tv_webhooks`` table.

Each trading account (each challenge stage is an account) has one webhook: an unguessable token that is the URL
path (``/tv/<token>``, 192 random bits), an optional body secret, and an optional source-address allow-list
(TradingView's published webhook addresses, or any list). Rotating the token invalidates the old URL at once.

The token is kept in recoverable form, like an API secret (HMAC needs those too): the user must be able to see
their URL again in the API and the CLI. Lookups go through a unique index on the token, so an unknown token costs
one index probe and answers 404 — tokens cannot be enumerated.

Not venue state (not journaled, not hashed): one connection to the shared database file with a lock.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from .schema import SqliteStore

TOKEN_BYTES = 24

_DDL = """
CREATE TABLE IF NOT EXISTS tv_webhooks (
    account_id   INTEGER PRIMARY KEY,
    token        TEXT    NOT NULL UNIQUE,
    secret       TEXT,
    allow_ips    TEXT    NOT NULL DEFAULT '',
    enabled      INTEGER NOT NULL DEFAULT 1,
    created_ms   INTEGER NOT NULL,
    rotated_ms   INTEGER NOT NULL
);
"""
_COLS = "account_id, token, secret, allow_ips, enabled, created_ms, rotated_ms"


@dataclass(frozen=True, slots=True)
class Webhook:
    account_id: int
    token: str
    secret: str | None
    allow_ips: tuple[str, ...]  # empty: any source
    enabled: bool
    created_ms: int
    rotated_ms: int

    @property
    def token_id(self) -> str:
        """A short public handle of the token (for logs and receipts): never enough to rebuild the URL."""
        return self.token[:6]

    def allows(self, ip: str) -> bool:
        return not self.allow_ips or ip in self.allow_ips

    def to_dict(self, base_url: str = "") -> dict:
        return {"accountId": self.account_id, "url": f"{base_url}/tv/{self.token}", "token": self.token,
                "secretSet": self.secret is not None, "ipAllowlist": list(self.allow_ips), "enabled": self.enabled,
                "createdTime": self.created_ms, "rotatedTime": self.rotated_ms}


def _row(r) -> Webhook:
    ips = tuple(x for x in r[3].split(",") if x)
    return Webhook(int(r[0]), r[1], r[2], ips, bool(r[4]), int(r[5]), int(r[6]))


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


class SqliteWebhooks(SqliteStore):
    DDL = _DDL

    def __init__(self, path: str | os.PathLike) -> None:
        # token -> Webhook: every alert looks its token up, settings change rarely (and only through this object,
        # which drops the cache on each write)
        self._by_token: dict[str, Webhook | None] = {}
        super().__init__(path)

    def _write(self, fn):
        self._by_token.clear()
        try:
            return super()._write(fn)
        finally:
            self._by_token.clear()

    def _get_locked(self, account_id: int) -> Webhook | None:
        r = self._conn.execute(f"SELECT {_COLS} FROM tv_webhooks WHERE account_id = ?", (account_id,)).fetchone()
        return None if r is None else _row(r)

    def ensure(self, account_id: int, now_ms: int) -> Webhook:
        """The account's webhook, created (with a fresh token) on first use."""
        def tx() -> Webhook:
            w = self._get_locked(account_id)
            if w is not None:
                return w
            self._conn.execute(f"INSERT INTO tv_webhooks ({_COLS}) VALUES (?, ?, NULL, '', 1, ?, ?)",
                               (account_id, new_token(), now_ms, now_ms))
            return self._get_locked(account_id)  # type: ignore[return-value]

        return self._write(tx)

    def get(self, account_id: int) -> Webhook | None:
        with self._lock:
            return self._get_locked(account_id)

    def lookup(self, token: str) -> Webhook | None:
        """The webhook owning ``token`` (None: unknown or rotated away)."""
        if not token or len(token) > 128:
            return None
        try:
            return self._by_token[token]
        except KeyError:
            pass
        with self._lock:
            r = self._conn.execute(f"SELECT {_COLS} FROM tv_webhooks WHERE token = ?", (token,)).fetchone()
        hook = None if r is None else _row(r)
        if hook is not None and len(self._by_token) < 100_000:  # unknown tokens are not cached (probing)
            self._by_token[token] = hook
        return hook

    def rotate(self, account_id: int, now_ms: int) -> Webhook:
        """A new token; the old URL stops working at once."""
        self.ensure(account_id, now_ms)
        return self._write(lambda: self._update_locked(account_id, "token = ?, rotated_ms = ?", (new_token(), now_ms)))

    def set_secret(self, account_id: int, secret: str | None, now_ms: int) -> Webhook:
        """``None`` or "" turns the body-secret check off."""
        self.ensure(account_id, now_ms)
        return self._write(lambda: self._update_locked(account_id, "secret = ?", (secret or None,)))

    def set_allow_ips(self, account_id: int, ips: tuple[str, ...] | list[str], now_ms: int) -> Webhook:
        """Empty: any source address may post."""
        self.ensure(account_id, now_ms)
        text = ",".join(dict.fromkeys(i.strip() for i in ips if i.strip()))
        return self._write(lambda: self._update_locked(account_id, "allow_ips = ?", (text,)))

    def set_enabled(self, account_id: int, enabled: bool, now_ms: int) -> Webhook:
        self.ensure(account_id, now_ms)
        return self._write(lambda: self._update_locked(account_id, "enabled = ?", (1 if enabled else 0,)))

    def _update_locked(self, account_id: int, assignments: str, args: tuple) -> Webhook:
        self._conn.execute(f"UPDATE tv_webhooks SET {assignments} WHERE account_id = ?", (*args, account_id))
        return self._get_locked(account_id)  # type: ignore[return-value]
