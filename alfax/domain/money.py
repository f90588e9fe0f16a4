"""Fixed-point money: every price, quantity, amount and rate is an ``int`` "raw" value with a known scale.

Why ints: the engine must be deterministic, hashable and fast, and must never pick up float error (see
NautilusTrader's fixed.rs history). Decimal is used only here, at the edge, to parse and format strings.

Scales used across alfax:
- prices: ``10**price_precision`` of the instrument (BTCUSDT 2 → raw 6500010 means 65000.10)
- quantities: ``10**quantity_precision`` of the instrument (BTCUSDT 3 → raw 1 means 0.001)
- USDT amounts (balances, margin, PnL, fees, notionals): ``AMOUNT_DECIMALS`` = 8
- rates (fee rates, maintenance margin ratios, funding rates, callback rates): ``RATE_DECIMALS`` = 8
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

AMOUNT_DECIMALS = 8
AMOUNT_SCALE = 10**AMOUNT_DECIMALS
RATE_DECIMALS = 8
RATE_SCALE = 10**RATE_DECIMALS

# Anything beyond this is a bug or an attack, never a real amount: 1e18 raw units at 8 decimals = 10 billion USDT.
MAX_RAW = 10**22


class MoneyError(ValueError):
    """Raised for malformed, float, out-of-precision or overflowing money values."""


def parse_fixed(text: str | bytes, decimals: int, *, allow_negative: bool = False) -> int:
    """Parse a decimal string into a raw int at ``decimals``; reject floats and excess precision.

    "0.0100" at 3 decimals is fine (trailing zeros); "0.0105" at 3 decimals raises (Binance -1111).
    """
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    if isinstance(text, bool) or not isinstance(text, str):
        # Floats are refused on purpose: money never passes through binary floating point.
        raise MoneyError(f"money must be given as a string, got {type(text).__name__}")
    s = text.strip()
    if not s:
        raise MoneyError("empty value")
    try:
        d = Decimal(s)
    except InvalidOperation:
        raise MoneyError(f"not a number: {text!r}") from None
    if not d.is_finite():
        raise MoneyError(f"not a finite number: {text!r}")
    if d < 0 and not allow_negative:
        raise MoneyError(f"negative value: {text!r}")
    scaled = d.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise PrecisionError(f"{text!r} has more than {decimals} decimals")
    raw = int(scaled)
    check_raw(raw)
    return raw


class PrecisionError(MoneyError):
    """More decimals than the instrument allows (Binance -1111)."""


def check_raw(raw: int) -> int:
    """Fail loudly on overflow: raw values must stay in a sane range."""
    if type(raw) is not int:
        raise MoneyError(f"raw money must be int, got {type(raw).__name__}")
    if raw >= MAX_RAW or raw <= -MAX_RAW:
        raise MoneyError(f"money overflow: {raw}")
    return raw


def format_fixed(raw: int, decimals: int) -> str:
    """Format a raw int as a fixed decimal string with exactly ``decimals`` places (Binance wire style)."""
    if type(raw) is not int:
        raise MoneyError(f"raw money must be int, got {type(raw).__name__}")
    if decimals == 0:
        return str(raw)
    sign = "-" if raw < 0 else ""
    q, r = divmod(abs(raw), 10**decimals)
    return f"{sign}{q}.{r:0{decimals}d}"


def format_trimmed(raw: int, decimals: int) -> str:
    """Like ``format_fixed`` but without trailing zeros ("0.3" for a callback rate, "21" for leverage)."""
    s = format_fixed(raw, decimals)
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def rescale(raw: int, from_decimals: int, to_decimals: int) -> int:
    """Change scale exactly upwards; downwards it truncates toward zero (callers round explicitly when needed)."""
    if to_decimals >= from_decimals:
        return raw * 10 ** (to_decimals - from_decimals)
    f = 10 ** (from_decimals - to_decimals)
    return raw // f if raw >= 0 else -((-raw) // f)


def div_round_half_up(num: int, den: int) -> int:
    """Integer division rounding half away from zero (sign-aware), the rounding Binance applies to amounts."""
    if den < 0:
        num, den = -num, -den
    if num >= 0:
        return (2 * num + den) // (2 * den)
    return -((-2 * num + den) // (2 * den))


def div_ceil(num: int, den: int) -> int:
    """Ceiling division for positive denominators (margin requirements round up, never in the user's favour)."""
    return -((-num) // den)


def to_decimal(raw: int, decimals: int) -> Decimal:
    """Exact Decimal view of a raw value, for the API edge only."""
    return Decimal(raw).scaleb(-decimals)
