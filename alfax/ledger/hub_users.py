"""Signal-hub users (issue 5): email + password logins for AlphaHub-style clients, on their own ``hub_users`` table.

AlphaHub clients authenticate with an email and a password (``POST /api/v1/session``), not with API keys, so the hub
keeps its own small user table mapping a login to a venue account. Like the API keys this is not venue state (not
journaled, not hashed into the state hash): the store owns one connection to the shared database file (WAL) and
writes in ``BEGIN IMMEDIATE`` transactions.

Passwords are never stored: each row keeps ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`` (``hashlib.scrypt`` with a
per-user random salt), so the cost parameters can be raised later without invalidating existing rows. Emails are
unique case-insensitively: the key is the trimmed, case-folded email; the email as first given is kept for display.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
import threading
import time

from .schema import connect, write_immediate

TABLE = "hub_users"

# scrypt cost: n=2**14, r=8 → 16 MiB and a few tens of ms per hash (the interactive-login setting of RFC 7914 §2):
# slow enough to make offline guessing expensive, fast enough for a login endpoint.
SCRYPT_N = 1 << 14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
MAX_EMAIL = 254  # RFC 5321 path limit
MAX_PASSWORD = 1024  # bounds the work an attacker can make one verify() do

_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    email_key     TEXT PRIMARY KEY,
    email         TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    account_id    INTEGER NOT NULL,
    created_ms    INTEGER NOT NULL
) WITHOUT ROWID;
"""


class HubUserExists(ValueError):
    """``add`` of an email that is already registered (compared case-insensitively)."""


def _email_key(email: str) -> str:
    if not isinstance(email, str):
        raise ValueError("email must be a string")
    text = email.strip()
    if not text or len(text) > MAX_EMAIL or any(c.isspace() for c in text) or "@" not in text:
        raise ValueError(f"invalid email {email!r}")
    return text.casefold()


def _check_password(password: str) -> bytes:
    if not isinstance(password, str) or not password or len(password) > MAX_PASSWORD:
        raise ValueError(f"password must be a non-empty string of at most {MAX_PASSWORD} characters")
    return password.encode("utf-8")


def _scrypt(secret: bytes, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=256 * 1024 * 1024)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(_check_password(password), salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Constant-time comparison of ``password`` against a stored ``scrypt$…`` string."""
    try:
        algo, n, r, p, salt_hex, hash_hex = stored.split("$")
        if algo != "scrypt":
            return False
        expected = bytes.fromhex(hash_hex)
        digest = _scrypt(password.encode("utf-8"), bytes.fromhex(salt_hex), int(n), int(r), int(p), len(expected))
    except (ValueError, AttributeError):
        return False
    return hmac.compare_digest(digest, expected)


@functools.cache
def _dummy_hash() -> str:
    """verify() of an unknown email hashes against this, so "no such user" takes as long as "wrong password" (no
    user enumeration by timing). Made on first use, not at import (one scrypt)."""
    return hash_password(secrets.token_urlsafe(16))


class SqliteHubUsers:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self._conn = connect(self.path, check_same_thread=False)
        self._lock = threading.Lock()
        exists = self._conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                    (TABLE,)).fetchone()
        if exists is None:  # no write lock taken when the table is already there (the journal writer is busy)
            with self._lock:
                self._conn.executescript(_DDL)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def add(self, email: str, password: str, account_id: int, now_ms: int | None = None) -> None:
        """Register ``email`` (unique, case-insensitive) for ``account_id``. Raises :class:`HubUserExists`."""
        key = _email_key(email)
        if isinstance(account_id, bool) or not isinstance(account_id, int) or account_id < 0:
            raise ValueError(f"invalid account id {account_id!r}")
        stored = hash_password(password)  # outside the write lock: hashing is the slow part
        created = int(time.time() * 1000) if now_ms is None else int(now_ms)

        def tx() -> None:
            if self._conn.execute(f"SELECT 1 FROM {TABLE} WHERE email_key = ?", (key,)).fetchone() is not None:
                raise HubUserExists(f"hub user {email.strip()!r} already exists")
            self._conn.execute(
                f"INSERT INTO {TABLE} (email_key, email, password_hash, account_id, created_ms) VALUES (?, ?, ?, ?, ?)",
                (key, email.strip(), stored, account_id, created))

        write_immediate(self._conn, self._lock, tx)

    def verify(self, email: str, password: str) -> int | None:
        """The account id when ``password`` is right for ``email``; None otherwise (unknown email included).
        Always runs one scrypt, so both failures take the same time."""
        try:
            key = _email_key(email)
        except ValueError:
            key = None
        row = None
        if key is not None:
            with self._lock:
                row = self._conn.execute(f"SELECT password_hash, account_id FROM {TABLE} WHERE email_key = ?",
                                         (key,)).fetchone()
        if not isinstance(password, str) or len(password) > MAX_PASSWORD:
            password = ""
        ok = check_password(password, row[0] if row is not None else _dummy_hash())
        return int(row[1]) if ok and row is not None and password else None

    def set_password(self, email: str, password: str) -> bool:
        """Replace the password (a new salt too); False when the email is unknown."""
        key = _email_key(email)
        stored = hash_password(password)

        def tx() -> bool:
            cur = self._conn.execute(f"UPDATE {TABLE} SET password_hash = ? WHERE email_key = ?", (stored, key))
            return cur.rowcount > 0

        return write_immediate(self._conn, self._lock, tx)

    def remove(self, email: str) -> bool:
        """Delete the user; False when the email is unknown."""
        key = _email_key(email)
        return write_immediate(self._conn, self._lock,
                               lambda: self._conn.execute(f"DELETE FROM {TABLE} WHERE email_key = ?",
                                                          (key,)).rowcount > 0)

    def list(self) -> list[dict]:
        """Every user (never the password hash), ordered by email."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT email, account_id, created_ms FROM {TABLE} ORDER BY email_key").fetchall()
        return [{"email": r[0], "accountId": int(r[1]), "createdMs": int(r[2])} for r in rows]


__all__ = ["HubUserExists", "SqliteHubUsers", "TABLE", "check_password", "hash_password"]
