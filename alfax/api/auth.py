"""Binance request authentication: API-key header, HMAC-SHA256 over the raw bytes, timestamp/recvWindow.

Contract §0: ``signature = HMAC_SHA256(secret, rawQuery_without_signature + rawBody_without_signature)``.
The bytes are never decoded and re-encoded (ccxt signs percent-encoded batch lists; python-binance encodes only
``symbol``). Keys are cached with a pre-keyed ``hmac`` object that is ``.copy()``-ed per request
(performance-anchors B2: ~2.7 µs per verification).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from enum import Enum

from alfax.domain.enums import Permission
from alfax.domain.errors import Err, VenueError
from alfax.domain.keys import ApiKey

DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000
AHEAD_TOLERANCE_MS = 1000


class Security(str, Enum):
    NONE = "NONE"
    USER_STREAM = "USER_STREAM"  # API key only, unsigned
    USER_DATA = "USER_DATA"  # signed, read permission
    TRADE = "TRADE"  # signed, trade permission
    OPERATOR = "OPERATOR"  # signed, operator permission (alfax admin API)

    @property
    def signed(self) -> bool:
        return self is Security.USER_DATA or self is Security.TRADE or self is Security.OPERATOR


_NEEDED = {
    Security.USER_DATA: Permission.READ,
    Security.TRADE: Permission.TRADE,
    Security.OPERATOR: Permission.OPERATOR,
}


@dataclass(slots=True)
class CachedKey:
    key: ApiKey
    mac: "hmac.HMAC"
    expires: float


def split_signature(raw: bytes) -> tuple[bytes, bytes | None]:
    """Split ``…&signature=<hex>`` off raw bytes: (payload without it, signature or None)."""
    if not raw:
        return raw, None
    i = raw.rfind(b"signature=")
    if i < 0:
        return raw, None
    if i > 0 and raw[i - 1] != 0x26:  # not at a parameter boundary ("xsignature=") -> look for a real one
        parts = raw.split(b"&")
        sig = None
        keep = []
        for p in parts:
            if p.startswith(b"signature="):
                sig = p[10:]
            else:
                keep.append(p)
        return b"&".join(keep), sig
    j = raw.find(b"&", i)
    if j < 0:  # last parameter (the normal case)
        sig = raw[i + 10 :]
        payload = raw[: i - 1] if i > 0 else b""
        return payload, sig
    # signature in the middle: drop "signature=…&" keeping the rest byte-exact
    sig = raw[i + 10 : j]
    return raw[:i] + raw[j + 1 :], sig


class Authenticator:
    """Resolves API keys (cached) and verifies signatures and timestamps."""

    def __init__(self, keys, cache_ttl_s: float = 5.0, time_fn=time.monotonic) -> None:
        self.keys = keys
        self.cache_ttl_s = cache_ttl_s
        self.time_fn = time_fn
        self._cache: dict[str, CachedKey] = {}

    def invalidate(self, api_key: str | None = None) -> None:
        if api_key is None:
            self._cache.clear()
        else:
            self._cache.pop(api_key, None)

    def _lookup(self, api_key: str) -> CachedKey | None:
        now = self.time_fn()
        c = self._cache.get(api_key)
        if c is not None and c.expires > now:
            return c
        k = self.keys.lookup(api_key)
        if k is None:
            self._cache.pop(api_key, None)
            return None
        mac = hmac.new(k.secret.encode("utf-8"), digestmod=hashlib.sha256)
        c = CachedKey(k, mac, now + self.cache_ttl_s)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[api_key] = c
        return c

    def key_for(self, header: bytes | None, security: Security) -> ApiKey:
        """USER_STREAM and signed endpoints: resolve the key and check its permission."""
        c = self._cached_for(header, security)
        return c.key

    def _cached_for(self, header: bytes | None, security: Security) -> CachedKey:
        if not header:
            raise VenueError(Err.BAD_API_KEY_FMT)
        try:
            api_key = header.decode("ascii").strip()
        except UnicodeDecodeError:
            raise VenueError(Err.BAD_API_KEY_FMT) from None
        if not api_key or len(api_key) > 256:
            raise VenueError(Err.BAD_API_KEY_FMT)
        c = self._lookup(api_key)
        if c is None or not c.key.enabled:
            raise VenueError(Err.REJECTED_MBX_KEY)
        needed = _NEEDED.get(security)
        if needed is not None and needed not in c.key.permissions:
            # a trade key may read as well, and so may an operator key (e.g. the SDK's payout approve/reject, which
            # are USER_DATA endpoints that then demand the operator permission themselves: 403 for traders)
            perms = c.key.permissions
            if not (needed is Permission.READ and (Permission.TRADE in perms or Permission.OPERATOR in perms)):
                raise VenueError(Err.REJECTED_MBX_KEY)
        return c

    def verify(self, header: bytes | None, security: Security, query: bytes, body: bytes, params: dict,
               now_ms: int) -> ApiKey:
        """Signed request: key + permission, signature over raw bytes, timestamp within recvWindow."""
        c = self._cached_for(header, security)
        payload_q, sig_q = split_signature(query)
        if sig_q is not None:
            payload = payload_q + body
            sig = sig_q
        else:
            payload_b, sig = split_signature(body)
            payload = query + payload_b
        if not sig:
            raise VenueError(Err.MANDATORY_PARAM, param="signature")
        ts = params.get("timestamp")
        if not ts:
            raise VenueError(Err.MANDATORY_PARAM, param="timestamp")
        try:
            ts_ms = int(ts)
        except ValueError:
            raise VenueError(Err.MANDATORY_PARAM, param="timestamp") from None
        rw = params.get("recvWindow")
        if rw:
            try:
                recv = int(rw)
            except ValueError:
                raise VenueError(Err.INVALID_PARAMETER, param="recvWindow") from None
            if recv <= 0 or recv > MAX_RECV_WINDOW:
                raise VenueError(Err.INVALID_PARAMETER, param="recvWindow")
        else:
            recv = DEFAULT_RECV_WINDOW
        m = c.mac.copy()
        m.update(payload)
        digest = m.hexdigest()
        try:
            given = sig.decode("ascii").lower()
        except UnicodeDecodeError:
            raise VenueError(Err.INVALID_SIGNATURE) from None
        if not hmac.compare_digest(digest, given):
            raise VenueError(Err.INVALID_SIGNATURE)
        if ts_ms > now_ms + AHEAD_TOLERANCE_MS:
            raise VenueError(Err.TIMESTAMP_AHEAD)
        if now_ms - ts_ms > recv:
            raise VenueError(Err.INVALID_TIMESTAMP)
        return c.key


def sign(secret: str, payload: str | bytes) -> str:
    """Reference signer (tests, CLI): hex HMAC-SHA256."""
    if isinstance(payload, str):
        payload = payload.encode()
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
