"""Challenge purchases (issue 4) on the ``purchases`` table: the payment saga's durable state.

initiated → paid (payment verified: stub at once, real providers by signed webhook) → minted (account, challenge
and API key exist; the credentials are kept until the buyer fetches them, exactly once, then erased) or failed.
Not venue state: the engine only sees the StartChallenge that minting submits. A purchase left ``paid`` by a
crash is minted again at start (``pending_mints``), and minting is idempotent (the challenge id is fixed at
purchase time).
"""

from __future__ import annotations

import os
import threading

from .schema import connect

_COLUMNS = ("purchase_id", "buyer_account", "product_id", "provider", "amount", "status", "created_ms",
            "updated_ms", "challenge_id", "account_id", "api_key", "api_secret", "credentials_taken",
            "provider_ref", "fail_reason", "run_id")

_DDL = """
CREATE TABLE IF NOT EXISTS purchases (
    purchase_id       TEXT PRIMARY KEY,
    buyer_account     INTEGER NOT NULL,
    product_id        TEXT    NOT NULL,
    provider          TEXT    NOT NULL,
    amount            TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    created_ms        INTEGER NOT NULL,
    updated_ms        INTEGER NOT NULL,
    challenge_id      TEXT    NOT NULL,
    account_id        INTEGER NOT NULL DEFAULT 0,
    api_key           TEXT    NOT NULL DEFAULT '',
    api_secret        TEXT    NOT NULL DEFAULT '',
    credentials_taken INTEGER NOT NULL DEFAULT 0,
    provider_ref      TEXT    NOT NULL DEFAULT '',
    fail_reason       TEXT    NOT NULL DEFAULT '',
    run_id            TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS purchases_status ON purchases (status);
"""


class SqlitePurchaseStore:
    def __init__(self, path: str | os.PathLike) -> None:
        self._conn = connect(os.fspath(path), check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._conn:
            self._conn.executescript(_DDL)

    def close(self) -> None:
        self._conn.close()

    def _row(self, r) -> dict:
        return dict(zip(_COLUMNS, r))

    def create(self, purchase_id: str, buyer_account: int, product_id: str, provider: str, amount: str,
               now_ms: int, challenge_id: str = "", run_id: str = "") -> dict:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO purchases (purchase_id, buyer_account, product_id, provider, amount, status, created_ms, "
                "updated_ms, challenge_id, run_id) VALUES (?, ?, ?, ?, ?, 'initiated', ?, ?, ?, ?)",
                (purchase_id, buyer_account, product_id, provider, amount, now_ms, now_ms, challenge_id, run_id))
        return self.get(purchase_id)  # type: ignore[return-value]

    def get(self, purchase_id: str) -> dict | None:
        with self._lock:
            r = self._conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM purchases WHERE purchase_id = ?",
                                   (purchase_id,)).fetchone()
        return None if r is None else self._row(r)

    def set_status(self, purchase_id: str, status: str, now_ms: int, **fields) -> dict:
        cols = ["status = ?", "updated_ms = ?"]
        args: list = [status, now_ms]
        for k, v in fields.items():
            if k not in _COLUMNS or k == "purchase_id":
                raise ValueError(k)
            cols.append(f"{k} = ?")
            args.append(v)
        with self._lock, self._conn:
            self._conn.execute(f"UPDATE purchases SET {', '.join(cols)} WHERE purchase_id = ?", (*args, purchase_id))
        return self.get(purchase_id)  # type: ignore[return-value]

    def take_credentials(self, purchase_id: str) -> dict | None:
        """The minted key and secret, once: the secret is erased from the table in the same transaction."""
        with self._lock, self._conn:
            r = self._conn.execute(
                "SELECT api_key, api_secret FROM purchases WHERE purchase_id = ? AND status = 'minted' "
                "AND credentials_taken = 0", (purchase_id,)).fetchone()
            if r is None:
                return None
            self._conn.execute("UPDATE purchases SET credentials_taken = 1, api_secret = '' WHERE purchase_id = ?",
                               (purchase_id,))
        return {"apiKey": r[0], "apiSecret": r[1]}

    def list(self, status: str = "", limit: int = 500) -> list[dict]:
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        with self._lock:
            rows = self._conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM purchases {where} "
                                      f"ORDER BY created_ms DESC LIMIT ?", (*args, limit)).fetchall()
        return [self._row(r) for r in rows]

    def pending_mints(self) -> list[dict]:
        return self.list("paid")
