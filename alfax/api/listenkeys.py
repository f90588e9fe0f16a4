"""User-data-stream listen keys, kept in memory by the edge (contract §1.6).

POST returns the account's active key (extending it 60 minutes) or a new one; PUT extends; DELETE removes.
The WebSocket user-data server resolves keys with ``account_for`` (reachable as ``app.state.listen_keys``).
"""

from __future__ import annotations

import secrets

from alfax.domain.errors import Err, VenueError

from .request import Req

VALIDITY_MS = 60 * 60 * 1000


class ListenKeys:
    def __init__(self, validity_ms: int = VALIDITY_MS) -> None:
        self.validity_ms = validity_ms
        self._by_key: dict[str, list[int]] = {}  # key -> [account_id, expires_ms]
        self._by_account: dict[int, str] = {}

    def create_or_extend(self, account_id: int, now_ms: int) -> str:
        key = self._by_account.get(account_id)
        if key is not None:
            row = self._by_key.get(key)
            if row is not None and row[1] > now_ms:
                row[1] = now_ms + self.validity_ms
                return key
            self._by_key.pop(key, None)
        key = secrets.token_hex(32)
        self._by_key[key] = [account_id, now_ms + self.validity_ms]
        self._by_account[account_id] = key
        return key

    def keepalive(self, key: str, now_ms: int, account_id: int | None = None) -> None:
        row = self._by_key.get(key)
        if row is None or row[1] <= now_ms or (account_id is not None and row[0] != account_id):
            raise VenueError(Err.INVALID_LISTEN_KEY)
        row[1] = now_ms + self.validity_ms

    def delete(self, key: str, account_id: int | None = None) -> None:
        row = self._by_key.get(key)
        if row is None or (account_id is not None and row[0] != account_id):
            raise VenueError(Err.INVALID_LISTEN_KEY)
        del self._by_key[key]
        if self._by_account.get(row[0]) == key:
            del self._by_account[row[0]]

    def follow(self, old_account: int, new_account: int) -> None:
        """A challenge stage passed: the listen key of its account now serves the next stage's account."""
        key = self._by_account.pop(old_account, None)
        if key is not None and key in self._by_key:
            self._by_key[key][0] = new_account
            self._by_account[new_account] = key

    def account_for(self, key: str, now_ms: int) -> int | None:
        row = self._by_key.get(key)
        if row is None or row[1] <= now_ms:
            return None
        return row[0]

    def expires_at(self, key: str) -> int:
        row = self._by_key.get(key)
        return row[1] if row else 0


async def post_listen_key(r: Req):
    return {"listenKey": r.edge.listen_keys.create_or_extend(r.account_id, r.now)}


async def put_listen_key(r: Req):
    key = r.p.get("listenKey") or r.edge.listen_keys._by_account.get(r.account_id)
    if not key:
        raise VenueError(Err.INVALID_LISTEN_KEY)
    r.edge.listen_keys.keepalive(key, r.now, r.account_id)
    return {"listenKey": key}


async def delete_listen_key(r: Req):
    key = r.p.get("listenKey") or r.edge.listen_keys._by_account.get(r.account_id)
    if not key:
        raise VenueError(Err.INVALID_LISTEN_KEY)
    r.edge.listen_keys.delete(key, r.account_id)
    return {}
