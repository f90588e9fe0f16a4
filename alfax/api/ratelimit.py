"""Binance-style rate limits with cheap fixed-window counters (contract §3).

- REQUEST_WEIGHT per client IP per minute (default 2400).
- ORDERS per account: 300 per 10 s and 1200 per minute.
- Breaking the weight limit answers 429 ``-1003`` with ``Retry-After``; an IP that keeps sending after its 429s
  is banned with 418, for 2 minutes doubling on every new ban up to 3 days.

Windows are aligned like Binance's (a minute counter resets at the minute boundary). Each counter is a
``[window_index, count]`` pair, so the hot path is two dict lookups and an integer compare.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from alfax.domain.errors import Err, VenueError

BAN_MIN_S = 120
BAN_MAX_S = 3 * 24 * 3600


@dataclass
class RateLimitConfig:
    weight_per_minute: int = 2400
    orders_per_10s: int = 300
    orders_per_minute: int = 1200
    # requests an IP may still send in the same window after its first 429 before it is banned (418)
    violations_before_ban: int = 5
    enabled: bool = True

    @classmethod
    def from_any(cls, value: "RateLimitConfig | dict | None") -> "RateLimitConfig":
        """None -> Binance defaults; a dict of field overrides (``ServeConfig.rate_limits``); or an instance."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            names = set(cls.__dataclass_fields__)
            unknown = set(value) - names
            if unknown:
                raise ValueError(f"unknown rate limit setting(s) {sorted(unknown)}; known: {sorted(names)}")
            return cls(**value)
        raise TypeError(f"rate limits must be a RateLimitConfig or a dict, not {type(value).__name__}")

    def rate_limits_json(self) -> list[dict]:
        return [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": self.weight_per_minute},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": self.orders_per_minute},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": self.orders_per_10s},
        ]


class RateLimited(VenueError):
    """A 429/418 rejection that also carries the ``Retry-After`` seconds."""

    __slots__ = ("retry_after",)

    def __init__(self, err: Err, retry_after: int, **fields: object) -> None:
        super().__init__(err, **fields)
        self.retry_after = retry_after


class _IpState:
    __slots__ = ("win", "weight", "violations", "banned_until", "ban_level", "last_ban_end")

    def __init__(self) -> None:
        self.win = -1
        self.weight = 0
        self.violations = 0
        self.banned_until = 0.0
        self.ban_level = 0
        self.last_ban_end = 0.0


class _OrderState:
    __slots__ = ("win10", "n10", "win60", "n60")

    def __init__(self) -> None:
        self.win10 = -1
        self.n10 = 0
        self.win60 = -1
        self.n60 = 0


class RateLimiter:
    def __init__(self, config: RateLimitConfig | None = None, time_fn: Callable[[], float] = time.time) -> None:
        self.config = config or RateLimitConfig()
        self.time_fn = time_fn
        self._ips: dict[str, _IpState] = {}
        self._accounts: dict[int, _OrderState] = {}

    # ------------------------------------------------------------------ request weight (per IP)
    def add_weight(self, ip: str, weight: int) -> int:
        """Count ``weight`` for ``ip``; return the used weight of the current minute. Raises RateLimited."""
        cfg = self.config
        now = self.time_fn()
        st = self._ips.get(ip)
        if st is None:
            if len(self._ips) > 200_000:
                self._ips.clear()
            st = self._ips[ip] = _IpState()
        if st.banned_until > now:
            raise RateLimited(Err.IP_BANNED, int(st.banned_until - now) + 1, until=int(st.banned_until * 1000))
        win = int(now // 60)
        if win != st.win:
            st.win = win
            st.weight = 0
            st.violations = 0
        st.weight += weight
        if cfg.enabled and st.weight > cfg.weight_per_minute:
            retry = int((win + 1) * 60 - now) + 1
            st.violations += 1
            if st.violations > cfg.violations_before_ban:
                # keep going after 429s -> ban with escalating duration
                if st.last_ban_end and now - st.last_ban_end > 24 * 3600:
                    st.ban_level = 0
                dur = min(BAN_MIN_S * (2**st.ban_level), BAN_MAX_S)
                st.ban_level += 1
                st.banned_until = now + dur
                st.last_ban_end = st.banned_until
                st.violations = 0
                raise RateLimited(Err.IP_BANNED, dur, until=int(st.banned_until * 1000))
            raise RateLimited(Err.TOO_MANY_REQUESTS, retry, limit=cfg.weight_per_minute)
        return st.weight

    def used_weight(self, ip: str) -> int:
        st = self._ips.get(ip)
        if st is None or st.win != int(self.time_fn() // 60):
            return 0
        return st.weight

    def ban_remaining(self, ip: str) -> float:
        st = self._ips.get(ip)
        if st is None:
            return 0.0
        return max(0.0, st.banned_until - self.time_fn())

    # ------------------------------------------------------------------ orders (per account)
    def add_order(self, account_id: int, n: int = 1) -> tuple[int, int]:
        """Count ``n`` orders; return (count in 10 s window, count in 1 min window). Raises RateLimited (-1015)."""
        cfg = self.config
        now = self.time_fn()
        st = self._accounts.get(account_id)
        if st is None:
            st = self._accounts[account_id] = _OrderState()
        w10 = int(now // 10)
        if w10 != st.win10:
            st.win10 = w10
            st.n10 = 0
        w60 = int(now // 60)
        if w60 != st.win60:
            st.win60 = w60
            st.n60 = 0
        if cfg.enabled:
            if st.n10 + n > cfg.orders_per_10s:
                raise RateLimited(Err.TOO_MANY_ORDERS, int((w10 + 1) * 10 - now) + 1,
                                  limit=cfg.orders_per_10s, interval="10 SECOND")
            if st.n60 + n > cfg.orders_per_minute:
                raise RateLimited(Err.TOO_MANY_ORDERS, int((w60 + 1) * 60 - now) + 1,
                                  limit=cfg.orders_per_minute, interval="MINUTE")
        st.n10 += n
        st.n60 += n
        return st.n10, st.n60

    def order_counts(self, account_id: int) -> tuple[int, int]:
        st = self._accounts.get(account_id)
        if st is None:
            return 0, 0
        now = self.time_fn()
        return (st.n10 if st.win10 == int(now // 10) else 0, st.n60 if st.win60 == int(now // 60) else 0)
