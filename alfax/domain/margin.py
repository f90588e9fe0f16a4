"""Binance USDT-M margin, PnL, fee, funding and liquidation-price formulas on raw ints.

Every function is pure and exact: inputs and outputs are raw ints (USDT and rates at 8 dp, prices and quantities
at the instrument's precision). Rounding is explicit and named. The reference cases in
``tests/domain/test_margin.py`` reproduce Binance's published worked examples.

Formulas (Binance "Leverage and Margin of USDⓈ-M Futures", "How to calculate liquidation price", "Funding"):
- notional = |qty| × price
- unrealized PnL = qty × (mark − entry) (qty signed)
- initial margin = notional(mark) / leverage
- maintenance margin = notional(mark) × maintMarginRatio − cum  (bracket by notional)
- fee = notional(fill) × commission rate
- funding fee = −qty × mark × funding rate (longs pay when the rate is positive)
- liquidation price (one position):
  LP = (WB − TMM1 + UPNL1 + cum − side × |qty| × EP) / (|qty| × MMR − side × |qty|)
  with WB the cross wallet (or the isolated wallet), TMM1/UPNL1 the maintenance margin / uPnL of all *other*
  cross positions (0 for isolated), side +1 long / −1 short.
"""

from __future__ import annotations

from .instruments import Instrument
from .money import AMOUNT_DECIMALS, RATE_SCALE, div_ceil, div_round_half_up

LIQ_PRICE_DECIMALS = 8  # liquidation / break-even prices are reported with 8 decimals


def notional(inst: Instrument, price: int, qty: int) -> int:
    """USDT raw notional of |qty| at price (exact)."""
    return inst.notional(price, abs(qty))


def fee(notional_raw: int, rate: int) -> int:
    """Commission on a fill, rounded half up at 8 dp (USDT raw; positive = paid)."""
    return div_round_half_up(abs(notional_raw) * rate, RATE_SCALE)


def unrealized_pnl(inst: Instrument, qty: int, entry_notional: int, mark: int) -> int:
    """qty signed; entry_notional is the cost of |qty| at the entry price."""
    if qty == 0:
        return 0
    mark_notional = inst.notional(mark, abs(qty))
    return mark_notional - entry_notional if qty > 0 else entry_notional - mark_notional


def initial_margin(notional_raw: int, leverage: int) -> int:
    """Initial margin = notional / leverage, rounded up (never in the user's favour)."""
    return div_ceil(abs(notional_raw), leverage)


def maintenance_margin(inst: Instrument, notional_raw: int) -> int:
    """notional × mmr − cum, using the bracket the notional falls in."""
    n = abs(notional_raw)
    if n == 0:
        return 0
    b = inst.bracket_for(n)
    return max(0, div_round_half_up(n * b.maint_margin_ratio, RATE_SCALE) - b.cum)


def open_loss(inst: Instrument, side_sign: int, price: int, qty: int, mark: int) -> int:
    """Binance's open loss for an order: |qty| × max(0, side × (price − mark)) — buying above mark costs margin."""
    diff = side_sign * (price - mark)
    if diff <= 0:
        return 0
    return inst.notional(diff, abs(qty))


def funding_fee(inst: Instrument, qty: int, mark: int, rate: int) -> int:
    """Signed funding income of a position: negative = paid. Rounded half up at 8 dp."""
    if qty == 0:
        return 0
    n = inst.notional(mark, abs(qty))
    paid = div_round_half_up(n * rate, RATE_SCALE)  # what a long pays when rate > 0
    return -paid if qty > 0 else paid


def realized_pnl(inst: Instrument, qty: int, entry_notional: int, close_qty: int, price: int) -> tuple[int, int]:
    """Close ``close_qty`` (>0) of a position of signed ``qty`` at ``price``.

    Returns (realized PnL, entry cost of the closed part). The closed cost is the proportional share of the
    entry notional, rounded half up; the remainder stays with the position so costs are conserved exactly.
    """
    q = abs(qty)
    closed_cost = entry_notional if close_qty == q else div_round_half_up(entry_notional * close_qty, q)
    exit_notional = inst.notional(price, close_qty)
    pnl = exit_notional - closed_cost if qty > 0 else closed_cost - exit_notional
    return pnl, closed_cost


def entry_price_decimal_str(inst: Instrument, qty: int, entry_notional: int) -> str:
    """entryPrice as Binance prints it (average, more decimals than the tick): 8 dp here."""
    if qty == 0:
        return "0.0"
    from .money import format_fixed

    # entry_notional (8dp USDT) / |qty| (qp) -> price at 8 dp: entry * 10^qp / q
    raw = div_round_half_up(entry_notional * 10**inst.quantity_precision, abs(qty))
    return format_fixed(raw, 8)


def liquidation_price(
    inst: Instrument,
    qty: int,
    entry_notional: int,
    wallet: int,
    other_maint: int = 0,
    other_upnl: int = 0,
) -> int:
    """Liquidation price at 8 dp (0 if none), Binance's one-position formula; the bracket is the one the
    position's notional falls in at the liquidation price (iterated, as the bracket depends on the price)."""
    if qty == 0:
        return 0
    q = abs(qty)
    side = 1 if qty > 0 else -1
    scale = 10 ** (inst.quantity_precision + LIQ_PRICE_DECIMALS)
    # start from the bracket at the entry notional and move until the price lands in the bracket used
    bracket = inst.bracket_for(entry_notional)
    lp = 0
    for _ in range(len(inst.brackets) + 1):
        num = wallet - other_maint + other_upnl + bracket.cum - side * entry_notional
        den = q * (bracket.maint_margin_ratio - side * RATE_SCALE)
        lp = div_round_half_up(num * scale, den)
        if lp <= 0:
            return 0
        # notional at lp, 8 dp: lp(8dp) * q / 10^qp
        n_at_lp = div_round_half_up(lp * q, 10 ** (inst.quantity_precision + LIQ_PRICE_DECIMALS - AMOUNT_DECIMALS))
        nb = inst.bracket_for(n_at_lp)
        if nb is bracket:
            break
        bracket = nb
    return lp


def margin_ratio_breached(margin_balance: int, maint: int) -> bool:
    """Liquidation condition: margin balance has fallen to (or below) the maintenance margin."""
    return maint > 0 and margin_balance <= maint


# ---------------------------------------------------------------- additive helpers used by the engine


def entry_price_raw(inst: Instrument, qty: int, entry_notional: int) -> int:
    """Average entry price at the instrument's price precision (rounded half up; 0 when flat)."""
    if qty == 0:
        return 0
    return div_round_half_up(entry_notional, abs(qty) * inst.notional_factor)


def entry_price_8dp(inst: Instrument, qty: int, entry_notional: int) -> int:
    """Average entry price at 8 dp (entry_notional 8dp USDT / |qty|)."""
    if qty == 0:
        return 0
    return div_round_half_up(entry_notional * 10**inst.quantity_precision, abs(qty))


def break_even_price_8dp(inst: Instrument, qty: int, entry_notional: int, fees_paid: int) -> int:
    """Price at which closing the position returns the fees paid on the open part: long (cost + fees) / qty,
    short (proceeds − fees) / qty, at 8 dp."""
    if qty == 0:
        return 0
    n = entry_notional + fees_paid if qty > 0 else entry_notional - fees_paid
    return div_round_half_up(n * 10**inst.quantity_precision, abs(qty))
