"""Binance USDT-M mark price, premium index and funding rate maths (stdlib only, raw ints).

Scales (see ``money``): prices are raw ints at the instrument's ``price_precision``; rates (premium index,
funding rate, interest rate) are raw ints at ``RATE_DECIMALS`` (8 dp, so 0.01% = 10_000).

Binance's published rules (Futures "Mark Price and Price Index", "Introduction to Binance Futures Funding Rates"):
- Premium index  P = (max(0, impactBid - index) - max(0, index - impactAsk)) / index
  where impact bid/ask = average fill price of the Impact Margin Notional (200 USDT / initial margin rate at
  max leverage, i.e. 200 * max leverage USDT) on that side of the book.
- Average premium over the funding interval is time-weighted: (1*P1 + 2*P2 + ... + n*Pn) / (1 + 2 + ... + n).
- Funding rate  F = avgP + clamp(interest - avgP, -0.05%, +0.05%), interest = 0.01% per 8 h; then F is clamped to
  the symbol's cap/floor (+-0.75% here by default, configurable).
- Mark price = median(price1, price2, last price) with
  price1 = index * (1 + F * time-to-next-funding / 8 h) and
  price2 = index + moving average of the (mid - index) basis over 5 minutes.
- Funding times: every 8 h at 00:00, 08:00 and 16:00 UTC.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from .money import AMOUNT_SCALE, RATE_SCALE, div_round_half_up

HOUR_MS = 3_600_000
FUNDING_INTERVAL_MS = 8 * HOUR_MS
INTEREST_RATE = 10_000  # 0.01% per 8 h, rate raw
FUNDING_CLAMP = 50_000  # 0.05%, rate raw
DEFAULT_FUNDING_CAP = 750_000  # 0.75%, rate raw
IMPACT_MARGIN_USDT = 200  # Binance impact margin (USDT) for USDT-M perpetuals
BASIS_WINDOW_MS = 5 * 60_000  # moving-average window of the price2 basis


def clamp(x: int, lo: int, hi: int) -> int:
    """Clamp ``x`` into [lo, hi] (lo <= hi)."""
    if lo > hi:
        raise ValueError("clamp: lo > hi")
    return lo if x < lo else hi if x > hi else x


def median3(a: int, b: int, c: int) -> int:
    """Median of three values."""
    if a > b:
        a, b = b, a
    if b > c:
        b = c
    return a if a > b else b


def premium_index(impact_bid: int, impact_ask: int, index: int) -> int:
    """Premium index P as a rate raw (8 dp); all prices raw at the same precision. Rounded half away from zero."""
    if index <= 0:
        raise ValueError("index price must be positive")
    num = max(0, impact_bid - index) - max(0, index - impact_ask)
    return div_round_half_up(num * RATE_SCALE, index)


def funding_rate(
    avg_premium: int,
    interest: int = INTEREST_RATE,
    clamp_band: int = FUNDING_CLAMP,
    cap: int = DEFAULT_FUNDING_CAP,
    floor: int | None = None,
) -> int:
    """Funding rate F = P + clamp(I - P, -band, +band), then clamped to [floor, cap] (floor defaults to -cap)."""
    f = avg_premium + clamp(interest - avg_premium, -clamp_band, clamp_band)
    return clamp(f, -cap if floor is None else floor, cap)


def weighted_average_premium(samples: Iterable[int]) -> int:
    """Binance's time-weighted average premium: sum(i * P_i) / sum(i), i = 1..n (later samples weigh more)."""
    num = 0
    n = 0
    for n, p in enumerate(samples, start=1):
        num += n * p
    if n == 0:
        return 0
    return div_round_half_up(num, n * (n + 1) // 2)


def price1(index: int, rate: int, time_to_funding_ms: int, interval_ms: int = FUNDING_INTERVAL_MS) -> int:
    """index * (1 + F * time_to_funding / interval), rounded half up to the price precision."""
    return index + div_round_half_up(index * rate * time_to_funding_ms, RATE_SCALE * interval_ms)


def mark_price(
    index: int,
    rate: int,
    time_to_funding_ms: int,
    basis_ma: int,
    last: int | None,
    interval_ms: int = FUNDING_INTERVAL_MS,
) -> int:
    """median(price1, price2, last). Without a last price (no trade yet) it is median(price1, price2, price2) = price2."""
    p1 = price1(index, rate, time_to_funding_ms, interval_ms)
    p2 = index + basis_ma
    return median3(p1, p2, p2 if last is None else last)


def next_funding_time(now_ms: int, interval_ms: int = FUNDING_INTERVAL_MS) -> int:
    """The next funding time strictly after ``now_ms`` (00/08/16 UTC for 8 h)."""
    return (now_ms // interval_ms + 1) * interval_ms


def prev_funding_time(now_ms: int, interval_ms: int = FUNDING_INTERVAL_MS) -> int:
    """The latest funding time at or before ``now_ms``."""
    return now_ms // interval_ms * interval_ms


def impact_notional(max_leverage: int, impact_margin_usdt: int = IMPACT_MARGIN_USDT) -> int:
    """Impact Margin Notional in USDT raw (8 dp): 200 USDT / (1 / max leverage)."""
    return impact_margin_usdt * max_leverage * AMOUNT_SCALE


def impact_price(levels: Sequence[tuple[int, int]], notional: int, notional_factor: int) -> int | None:
    """Average fill price (raw) of ``notional`` (USDT raw, 8 dp) walked through ``levels`` (best first).

    ``notional_factor`` lifts price_raw * qty_raw to 8 dp (``Instrument.notional_factor``). The last level may be
    taken partially (fractional quantity); the result is rounded half up. None if the book is too thin.
    """
    if notional <= 0:
        raise ValueError("impact notional must be positive")
    target = notional  # 8 dp
    q_full = 0  # qty raw taken in full
    n_full = 0  # notional 8 dp taken in full
    for price, qty in levels:
        lvl = price * qty * notional_factor
        if n_full + lvl >= target:
            rem = target - n_full  # 8 dp, taken at `price`
            # avg * factor * (q_full + rem / (price * factor)) = target  =>  avg = target * price / (q_full * price * factor + rem)
            return div_round_half_up(target * price, q_full * price * notional_factor + rem)
        q_full += qty
        n_full += lvl
    return None


class PremiumAverager:
    """Incremental time-weighted average premium for the current funding interval (reset at each funding time)."""

    __slots__ = ("n", "num")

    def __init__(self) -> None:
        self.n = 0
        self.num = 0

    def reset(self) -> None:
        self.n = 0
        self.num = 0

    def add(self, premium: int) -> None:
        self.n += 1
        self.num += self.n * premium

    @property
    def average(self) -> int:
        if self.n == 0:
            return 0
        return div_round_half_up(self.num, self.n * (self.n + 1) // 2)


class RollingMean:
    """Mean of the last ``size`` samples (raw ints), e.g. 300 one-second basis samples = 5 minutes."""

    __slots__ = ("_buf", "_sum", "size")

    def __init__(self, size: int) -> None:
        if size <= 0:
            raise ValueError("size must be positive")
        self.size = size
        self._buf: deque[int] = deque()
        self._sum = 0

    def add(self, x: int) -> None:
        self._buf.append(x)
        self._sum += x
        if len(self._buf) > self.size:
            self._sum -= self._buf.popleft()

    def __len__(self) -> int:
        return len(self._buf)

    @property
    def mean(self) -> int:
        if not self._buf:
            return 0
        return div_round_half_up(self._sum, len(self._buf))
