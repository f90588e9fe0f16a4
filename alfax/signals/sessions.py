"""Login sessions of the signal hub (issue 5): AlphaHub's Pow-style access + renewal tokens.

``POST /api/v1/session`` issues a pair: a short-lived access ``token`` (30 minutes, as AlphaHub's) that opens
WebSockets, and a long-lived ``renew_token`` that trades for a fresh pair once (the old pair dies with it).

Kept in memory on purpose: a token is only checked when a socket opens, and AlphaHub-style clients re-authenticate
with their email and password on any error — so a server restart costs each client one login, never a signal
(the cursor they resume from lives in the durable log). Nothing secret touches the database.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Callable

TOKEN_BYTES = 32
SWEEP_EVERY = 256  # issues between purges of expired entries (keeps memory bounded without a timer task)


@dataclass(slots=True)
class _Session:
    account_id: int
    token: str
    renew_token: str
    token_expires_ms: int
    renew_expires_ms: int


class SessionTokens:
    def __init__(self, now_ms: Callable[[], int], *, token_ttl_ms: int = 30 * 60_000,
                 renew_ttl_ms: int = 30 * 24 * 3600_000) -> None:
        if token_ttl_ms <= 0 or renew_ttl_ms <= 0:
            raise ValueError("token TTLs must be positive")
        self.now_ms = now_ms
        self.token_ttl_ms = int(token_ttl_ms)
        self.renew_ttl_ms = int(renew_ttl_ms)
        self._by_token: dict[str, _Session] = {}
        self._by_renew: dict[str, _Session] = {}
        self._lock = threading.Lock()  # the REST handlers run on the loop, tests and the CLI may call from threads
        self._issued = 0

    def issue(self, account_id: int) -> dict:
        """A new ``{"renew_token", "token"}`` pair for ``account_id``."""
        now = int(self.now_ms())
        s = _Session(int(account_id), secrets.token_urlsafe(TOKEN_BYTES), secrets.token_urlsafe(TOKEN_BYTES),
                     now + self.token_ttl_ms, now + self.renew_ttl_ms)
        with self._lock:
            self._issued += 1
            if self._issued % SWEEP_EVERY == 0:
                self._sweep(now)
            self._by_token[s.token] = s
            self._by_renew[s.renew_token] = s
        return {"renew_token": s.renew_token, "token": s.token}

    def account_for(self, token: str | None) -> int | None:
        """The account of a live access token; None when unknown, revoked or expired."""
        if not isinstance(token, str) or not token:
            return None
        with self._lock:
            s = self._by_token.get(token)
        if s is None or int(self.now_ms()) >= s.token_expires_ms:
            return None
        return s.account_id

    def renew(self, renew_token: str | None) -> dict | None:
        """A new pair for a live renewal token, which (with its access token) stops working; None if it is not."""
        if not isinstance(renew_token, str) or not renew_token:
            return None
        now = int(self.now_ms())
        with self._lock:
            s = self._by_renew.get(renew_token)
            if s is None or now >= s.renew_expires_ms:
                return None
            self._drop(s)
        return self.issue(s.account_id)

    def revoke(self, token: str | None) -> bool:
        """Log out: the access token and its renewal token stop working. False when the token was not known."""
        if not isinstance(token, str) or not token:
            return False
        with self._lock:
            s = self._by_token.get(token)
            if s is None:
                return False
            self._drop(s)
        return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_renew)

    def _drop(self, s: _Session) -> None:
        self._by_token.pop(s.token, None)
        self._by_renew.pop(s.renew_token, None)

    def _sweep(self, now: int) -> None:
        for s in [s for s in self._by_renew.values() if now >= s.renew_expires_ms]:
            self._drop(s)
        for token in [t for t, s in self._by_token.items() if now >= s.token_expires_ms]:
            del self._by_token[token]  # the renewal token may still be used for a new pair


__all__ = ["SessionTokens"]
