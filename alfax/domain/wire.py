"""Binance wire spellings of raw values, shared by the REST codec and the stream encoders."""

from __future__ import annotations

from .instruments import Instrument
from .money import AMOUNT_DECIMALS, div_round_half_up, format_fixed, format_trimmed


def amt(raw: int) -> str:
    """USDT amount, 8 dp."""
    return format_fixed(raw, AMOUNT_DECIMALS)


def percent_str(rate_raw: int) -> str:
    """Callback rate raw (8 dp fraction; 1% = 1_000_000) as Binance's percent string ("1", "0.3")."""
    return format_trimmed(rate_raw, 6)


def avg_price(inst: Instrument, cum_quote: int, executed: int) -> str:
    """avgPrice at price precision + 3 decimals (capped at 8), "0.00000"-style when unfilled."""
    d = min(8, inst.price_precision + 3)
    if executed <= 0:
        return format_fixed(0, d)
    # cum_quote (8 dp) / executed (qp) -> price at d decimals
    raw = div_round_half_up(cum_quote * 10 ** (inst.quantity_precision + d), executed * 10**AMOUNT_DECIMALS)
    return format_fixed(raw, d)
