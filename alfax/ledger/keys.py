"""API keys (KeyStore in docs/DESIGN.md) on the ``api_keys`` table, with an in-memory lookup cache.

Keys are not venue state (not journaled, not hashed): creating or revoking one is a small synchronous write on
this store's own connection. ``lookup`` is on the hot path of every signed request: a dict hit; a miss
consults the table once (keys written by another process) and caches what it finds.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import threading
import time

from alfax.domain.enums import Permission
from alfax.domain.keys import ApiKey

from .schema import connect

KEY_ALPHABET = string.ascii_letters + string.digits
KEY_LENGTH = 64


def _token(n: int = KEY_LENGTH) -> str:
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(n))


def _perm_text(perms: frozenset[Permission]) -> str:
    return ",".join(sorted(Permission(p).value for p in perms))


def _perm_parse(text: str) -> frozenset[Permission]:
    return frozenset(Permission(p) for p in text.split(",") if p)


class SqliteKeyStore:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self._conn = connect(self.path, check_same_thread=False)
        self._lock = threading.Lock()
        self._cache: dict[str, ApiKey] = {}
        for k in self._select("", ()):
            self._cache[k.api_key] = k

    def close(self) -> None:
        self._conn.close()

    def _select(self, where: str, args: tuple) -> list[ApiKey]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT api_key, secret, account_id, permissions, enabled, label, created_ms FROM api_keys "
                f"{where} ORDER BY created_ms, rowid",
                args,
            ).fetchall()
        return [ApiKey(r[0], r[1], r[2], _perm_parse(r[3]), bool(r[4]), r[5], r[6]) for r in rows]

    def lookup(self, api_key: str) -> ApiKey | None:
        k = self._cache.get(api_key)
        if k is not None:
            return k
        if not api_key or len(api_key) > 256:
            return None
        found = self._select("WHERE api_key = ?", (api_key,))
        if not found:
            return None
        self._cache[api_key] = found[0]
        return found[0]

    def create(
        self,
        account_id: int,
        permissions: frozenset[Permission],
        label: str = "",
        *,
        api_key: str | None = None,
        secret: str | None = None,
        created_ms: int | None = None,
    ) -> ApiKey:
        """New enabled key for ``account_id``. ``api_key``/``secret`` may be given (operator bootstrap)."""
        perms = frozenset(Permission(p) for p in permissions)
        key = ApiKey(
            api_key=api_key or _token(),
            secret=secret or _token(),
            account_id=int(account_id),
            permissions=perms,
            enabled=True,
            label=label,
            created_ms=int(time.time() * 1000) if created_ms is None else created_ms,
        )
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT INTO api_keys (api_key, secret, account_id, permissions, enabled, label, created_ms) "
                    "VALUES (?, ?, ?, ?, 1, ?, ?)",
                    (key.api_key, key.secret, key.account_id, _perm_text(perms), label, key.created_ms),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        self._cache[key.api_key] = key
        return key

    def revoke(self, api_key: str) -> bool:
        """Disable a key (kept for audit). True if an enabled key was disabled."""
        with self._lock:
            cur = self._conn.execute("UPDATE api_keys SET enabled = 0 WHERE api_key = ? AND enabled = 1", (api_key,))
            changed = cur.rowcount > 0
        self._cache.pop(api_key, None)
        return changed

    def list(self, account_id: int | None = None) -> list[ApiKey]:
        if account_id is None:
            return self._select("", ())
        return self._select("WHERE account_id = ?", (int(account_id),))


def operator_path(db_path: str | os.PathLike) -> str:
    return os.fspath(db_path) + ".operator.json"


def load_or_create_operator(path_json: str | os.PathLike, store: SqliteKeyStore | None = None) -> ApiKey:
    """Operator credentials (``{"apiKey","secretKey"}``, file mode 0600), created on first start.

    With ``store``, the key is also registered there (account 0, permission OPERATOR) if missing or disabled,
    so the edge authenticates it like any other key.
    """
    path = os.fspath(path_json)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        api_key, secret = data["apiKey"], data["secretKey"]
    except FileNotFoundError:
        api_key, secret = _token(), _token()
        tmp = f"{path}.tmp{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"apiKey": api_key, "secretKey": secret}, f)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            try:
                os.link(tmp, path)  # atomic create-if-absent: two starting processes cannot both win
            except FileExistsError:
                os.unlink(tmp)
                return load_or_create_operator(path, store)
            os.unlink(tmp)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    key = ApiKey(api_key, secret, 0, frozenset({Permission.OPERATOR}), True, "operator")
    if store is not None:
        existing = store.lookup(api_key)
        if existing is None:
            key = store.create(0, key.permissions, "operator", api_key=api_key, secret=secret)
        elif not existing.enabled or existing.secret != secret:
            raise RuntimeError(f"operator key in {path} is disabled or does not match the key store")
        else:
            key = existing
    return key
