"""What the order planner reads from the venue and how alert amounts and prices become engine raw ints.

Everything stays ``Decimal`` (or raw ``int``) — never float. Rounding rules, all documented in signals.md §1.7 or
chosen here on purpose:

- quantities round DOWN to the lot step (``MARKET_LOT_SIZE`` for market-type orders, ``LOT_SIZE`` otherwise);
- a LIMIT price (LIMIT, the limit of STOP / TAKE_PROFIT, the IOC limit of ``slip=``) rounds to the tick in the
  direction that is never more aggressive than what was asked: DOWN for a buy, UP for a sell;
- trigger and activation prices (stops, take-profits, TP/SL legs, trailing activation) round to the NEAREST tick
  (half up): there is no "safe" side for a trigger, nearest is what the user most likely meant.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext
from typing import TYPE_CHECKING, NamedTuple

from alfax.domain.accounts import SymbolSettings
from alfax.domain.alert_catalogue import (AlertCode, AlertError, AlertWarning, alert_error, min_size_error)
from alfax.domain.alert_model import AlertCommand, IdempotencyKey, PriceKind, PriceSpec, Size, SizeUnit, fmt_decimal
from alfax.domain.commands import Command, PlaceOrder
from alfax.domain.enums import MarginType, OrderType, PositionSide, Side, TimeInForce, WorkingType
from alfax.domain.errors import VenueError
from alfax.domain.instruments import Instrument
from alfax.domain.money import AMOUNT_DECIMALS, to_decimal

if TYPE_CHECKING:  # pragma: no cover
    from alfax.engine.venue import Venue

HUNDRED = Decimal(100)
# Binance's callbackRate is a percent with up to 6 decimals in the engine's rate scale (see api/trading.py)
_CALLBACK_DECIMALS = 6
_MARKET_TYPES = frozenset({OrderType.MARKET, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET,
                           OrderType.TRAILING_STOP_MARKET})
_LIMIT_PRICED = frozenset({OrderType.LIMIT, OrderType.STOP, OrderType.TAKE_PROFIT})


class PlanFailure(Exception):
    """Internal control flow: the planning of one command stops with this catalogue error."""

    def __init__(self, error: AlertError, warnings: tuple[AlertWarning, ...] = ()) -> None:
        super().__init__(error.message)
        self.error = error
        self.warnings = warnings


def fail(cmd: AlertCommand, kind: AlertCode, message: str, hint: str, token: str = "") -> PlanFailure:
    return PlanFailure(alert_error(kind, message, hint=hint, col=cmd.col, token=token, line=cmd.line,
                                   command=cmd.index))


class Draft(NamedTuple):
    """One planned engine command before it becomes a ``plan.Step``."""

    command: Command
    client_order_id: str
    label: str
    description: str


# ---------------------------------------------------------------- what the planner reads


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The account and market state of one (account, symbol) at planning time. Quantities are signed base
    Decimals (short < 0); money is USDT Decimal."""

    account_id: int
    inst: Instrument
    dual: bool  # hedge mode
    leverage: int
    margin_type: MarginType
    both: Decimal  # one-way net position (0 in hedge mode)
    long: Decimal  # hedge LONG side (>= 0)
    short: Decimal  # hedge SHORT side (<= 0)
    ref: Decimal | None  # last trade price, else mark, else book mid; None when the symbol has no price yet
    equity: Decimal  # margin balance = wallet + unrealized PnL
    available: Decimal

    @property
    def net(self) -> Decimal:
        return self.both + self.long + self.short

    def side_qty(self, pside: PositionSide) -> Decimal:
        return {PositionSide.BOTH: self.both, PositionSide.LONG: self.long, PositionSide.SHORT: self.short}[pside]

    def describe(self) -> str:
        """'LONG 0.003', 'SHORT 0.002', 'flat', or 'LONG 0.003 / SHORT 0.001' in hedge mode."""
        parts = []
        for q in ((self.both,) if not self.dual else (self.long, self.short)):
            if q:
                parts.append(("LONG " if q > 0 else "SHORT ") + fmt_decimal(abs(q)))
        return " / ".join(parts) or "flat"

    def need_ref(self, cmd: AlertCommand, why: str) -> Decimal:
        if self.ref is None or self.ref <= 0:
            raise fail(cmd, AlertCode.CONFLICT, f"no price for {cmd.symbol} yet: cannot {why}",
                       "the market has no trade, mark or book yet; retry when the feed is up", cmd.symbol_text)
        return self.ref


def read_snapshot(venue: "Venue", account_id: int, cmd: AlertCommand) -> Snapshot:
    """Read-only: instruments, account settings, positions, summary and market of ``venue``."""
    inst = venue.instruments.get(cmd.symbol)
    if inst is None:
        raise fail(cmd, AlertCode.SYMBOL, f"unknown symbol '{cmd.symbol}' on this venue",
                   "use one of the venue's symbols, e.g. BTCUSDT", cmd.symbol_text)
    try:
        acct = venue.account(account_id)
        positions = venue.positions(account_id, cmd.symbol)
        summary = venue.summary(account_id)
        market = venue.market(cmd.symbol)
    except VenueError as e:
        raise fail(cmd, AlertCode.CONFLICT, f"account {account_id}: {e.msg}", "check the webhook's account") from None
    settings = acct.settings.get(cmd.symbol) or SymbolSettings()  # never create settings: this is a read
    qty = {p.position_side: to_decimal(p.qty, inst.quantity_precision) for p in positions}
    pp = inst.price_precision
    ref_raw = market.last_price or market.mark_price
    if not ref_raw and market.bids and market.asks:
        ref_raw = (market.bids[0][0] + market.asks[0][0]) // 2
    ref_raw = ref_raw or (market.bids[0][0] if market.bids else 0) or (market.asks[0][0] if market.asks else 0)
    return Snapshot(
        account_id=account_id, inst=inst, dual=acct.dual_side, leverage=settings.leverage,
        margin_type=settings.margin_type, both=qty.get(PositionSide.BOTH, Decimal(0)),
        long=qty.get(PositionSide.LONG, Decimal(0)), short=qty.get(PositionSide.SHORT, Decimal(0)),
        ref=to_decimal(ref_raw, pp) if ref_raw else None,
        equity=to_decimal(summary.margin_balance, AMOUNT_DECIMALS),
        available=to_decimal(summary.available_balance, AMOUNT_DECIMALS),
    )


# ---------------------------------------------------------------- quantities


def is_market_type(t: OrderType) -> bool:
    return t in _MARKET_TYPES


def lot(inst: Instrument, market: bool) -> tuple[int, int]:
    """(min qty raw, step raw) of the lot filter the engine applies to this kind of order."""
    return (inst.market_min_qty, inst.market_step_size) if market else (inst.min_qty, inst.step_size)


def floor_qty(inst: Instrument, qty: Decimal, market: bool) -> int:
    """Raw quantity rounded DOWN to the step (the engine checks ``(qty - minQty) % step``)."""
    lo, step = lot(inst, market)
    raw = int(qty.scaleb(inst.quantity_precision).to_integral_value(ROUND_FLOOR))
    if raw < lo:
        return max(0, raw // step * step)
    return lo + (raw - lo) // step * step


def qty_dec(inst: Instrument, raw: int) -> Decimal:
    return to_decimal(raw, inst.quantity_precision)


def requested_qty(cmd: AlertCommand, size: Size, snap: Snapshot, position: Decimal) -> Decimal:
    """The base quantity an amount asks for, before rounding. ``position``: the (absolute) position a ``%p`` or
    ``*`` amount is a share of. Notional units use the reference price; margin units multiply by the leverage
    (``lev=`` if given, else the account's current leverage for the symbol)."""
    unit, v = size.unit, size.value
    if unit is SizeUnit.ALL or v is None:
        return abs(position)
    if unit is SizeUnit.BASE:
        return v
    if unit is SizeUnit.PCT_POSITION:
        return abs(position) * v / HUNDRED
    lev = Decimal(cmd.leverage if cmd.leverage is not None else snap.leverage)
    quote = {SizeUnit.QUOTE: v, SizeUnit.QUOTE_MARGIN: v * lev,
             SizeUnit.PCT_EQUITY: max(snap.equity, Decimal(0)) * v / HUNDRED,
             SizeUnit.PCT_AVAILABLE: snap.available * v / HUNDRED,
             SizeUnit.PCT_AVAILABLE_MARGIN: snap.available * v / HUNDRED * lev}[unit]
    with localcontext() as ctx:
        ctx.prec = 40  # exact enough that a quotient like 90/30000 stays 0.003 before rounding down
        return quote / snap.need_ref(cmd, f"size '{size.text}' in USDT")


def check_min_size(cmd: AlertCommand, inst: Instrument, requested: Decimal, raw: int, market: bool,
                   notional_price: Decimal | None, reducing: bool) -> None:
    """E020 when the rounded quantity is below the lot minimum, or (orders that may open) below MIN_NOTIONAL."""
    lo, step = lot(inst, market)
    short = raw < lo or raw <= 0
    if not short and not reducing and notional_price is not None:
        short = notional_price * qty_dec(inst, raw) < to_decimal(inst.min_notional, AMOUNT_DECIMALS)
    if short:
        shown = requested.quantize(Decimal(1).scaleb(-(inst.quantity_precision + 6)), ROUND_FLOOR)
        raise PlanFailure(min_size_error(
            requested=fmt_decimal(shown), asset=inst.base_asset, rounded=fmt_decimal(qty_dec(inst, raw)),
            step=fmt_decimal(qty_dec(inst, step)), min_notional=fmt_decimal(to_decimal(inst.min_notional, 8)),
            command=cmd.index, col=cmd.col, token=cmd.size.text, line=cmd.line))


# ---------------------------------------------------------------- prices


def tick_price(inst: Instrument, price: Decimal, rounding: str) -> int:
    """Raw price on the tick grid ``minPrice + k * tickSize`` (the grid the engine checks)."""
    raw = price.scaleb(inst.price_precision)
    k = ((raw - inst.min_price) / inst.tick_size).to_integral_value(rounding)
    return inst.min_price + int(k) * inst.tick_size


def limit_rounding(side: Side) -> str:
    """Never more aggressive than requested: a buy limit rounds down, a sell limit up."""
    return ROUND_FLOOR if side is Side.BUY else ROUND_CEILING


def resolve_price(cmd: AlertCommand, spec: PriceSpec, ref: Decimal | None, what: str, inst: Instrument,
                  rounding: str, snap: Snapshot | None = None) -> int:
    """Absolute raw price of ``spec``: relative prices move in price direction from ``ref`` (the reference price
    for order prices, the entry price for legs)."""
    if spec.is_relative and ref is None:
        assert snap is not None
        ref = snap.need_ref(cmd, f"resolve the relative {what} '{spec.text}'")
    price = spec.resolve(ref if ref is not None else Decimal(0))
    raw = tick_price(inst, price, rounding) if price > 0 else 0
    if raw < inst.min_price or raw > inst.max_price:
        shown = fmt_decimal(price.quantize(Decimal(1).scaleb(-inst.price_precision), ROUND_HALF_UP))
        raise fail(cmd, AlertCode.RANGE, f"{what} '{spec.text}' resolves to {shown}, outside the venue's price "
                   f"range [{inst.fmt_price(inst.min_price)}, {inst.fmt_price(inst.max_price)}]",
                   "check the sign and size of the relative price", spec.text)
    return raw


# ---------------------------------------------------------------- client order ids

_B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def tag_code(tag: str) -> str:
    """3 base-62 characters of sha256(tag): what ``tag=`` leaves in the client order ids of an alert's orders
    (the 36-character Binance limit has no room for the tag itself). 62**3 = 238,328 codes, so a ``cancel
    tag=x`` matching another tag's orders by chance is a 1-in-238k event."""
    n = int.from_bytes(hashlib.sha256(tag.encode()).digest()[:8], "big")
    out = []
    for _ in range(3):
        n, r = divmod(n, 62)
        out.append(_B62[r])
    return "".join(out)


def leg_id(leg: str, tag: str | None) -> str:
    """The leg part of ``IdempotencyKey.client_order_id``: 'entry', 'tp1', … plus '.<tag code>' when tagged."""
    return leg if tag is None else f"{leg}.{tag_code(tag)}"


def client_id(key: IdempotencyKey | None, leg: str, tag: str | None) -> str:
    """Deterministic id from the dedupe key; "" (the engine generates one) for a ``nodedup`` command."""
    return "" if key is None else key.client_order_id(leg_id(leg, tag))


# ---------------------------------------------------------------- orders


def describe(inst: Instrument, o: PlaceOrder) -> str:
    """Receipt text: 'LIMIT BUY 0.002 BTCUSDT @ 29970.0 GTX', 'MARKET SELL 0.003 BTCUSDT reduceOnly'."""
    parts = [o.type.value, o.side.value, inst.fmt_qty(o.quantity), o.symbol]
    if o.stop_price:
        parts.append(f"trigger {inst.fmt_price(o.stop_price)}")
    if o.price:
        parts.append(f"@ {inst.fmt_price(o.price)}")
    if o.type in _LIMIT_PRICED and o.time_in_force is not TimeInForce.GTC:
        parts.append(o.time_in_force.value)
    if o.callback_rate:
        parts.append(f"callback {fmt_decimal(to_decimal(o.callback_rate, _CALLBACK_DECIMALS))}%")
    if o.activation_price:
        parts.append(f"activation {inst.fmt_price(o.activation_price)}")
    if o.position_side is not PositionSide.BOTH:
        parts.append(f"positionSide={o.position_side.value}")
    if o.reduce_only:
        parts.append("reduceOnly")
    if o.working_type is WorkingType.MARK_PRICE and o.type.is_conditional:
        parts.append("workingType=MARK_PRICE")
    return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Priced:
    """The order type and raw prices of a command's order, resolved against the reference price."""

    type: OrderType
    price: int = 0
    stop_price: int = 0
    time_in_force: TimeInForce = TimeInForce.GTC
    activation_price: int = 0
    callback_rate: int = 0

    def notional_price(self, inst: Instrument, ref: Decimal | None) -> Decimal | None:
        """The price the engine prices MIN_NOTIONAL at: the limit, else the trigger, else the reference."""
        raw = self.price or self.stop_price or self.activation_price
        return to_decimal(raw, inst.price_precision) if raw else ref


def price_order(cmd: AlertCommand, snap: Snapshot, side: Side) -> Priced:
    """Resolve the order clause of ``cmd`` for an order on ``side``. ``slip=`` turns MARKET into an IOC LIMIT at
    ref ± slip % (rounded away from aggressive, like every limit)."""
    inst, t = snap.inst, cmd.order_type or OrderType.MARKET
    lim = limit_rounding(side)
    tif = cmd.time_in_force or TimeInForce.GTC
    if t is OrderType.MARKET:
        if cmd.slippage_pct is None:
            return Priced(OrderType.MARKET)
        ref = snap.need_ref(cmd, "apply slip=")
        slip = PriceSpec(PriceKind.PERCENT, side.sign * cmd.slippage_pct, f"slip={fmt_decimal(cmd.slippage_pct)}")
        price = resolve_price(cmd, slip, ref, "slip limit", inst, lim)
        return Priced(OrderType.LIMIT, price=price, time_in_force=TimeInForce.IOC)
    if t is OrderType.LIMIT:
        assert cmd.price is not None
        return Priced(t, price=resolve_price(cmd, cmd.price, None, "price", inst, lim, snap), time_in_force=tif)
    if t in (OrderType.STOP, OrderType.TAKE_PROFIT):
        assert cmd.price is not None and cmd.stop_price is not None
        return Priced(t, stop_price=resolve_price(cmd, cmd.stop_price, None, "trigger price", inst, ROUND_HALF_UP,
                                                  snap),
                      price=resolve_price(cmd, cmd.price, None, "limit price", inst, lim, snap), time_in_force=tif)
    if t in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET):
        assert cmd.stop_price is not None
        return Priced(t, stop_price=resolve_price(cmd, cmd.stop_price, None, "trigger price", inst, ROUND_HALF_UP,
                                                  snap))
    if t is OrderType.TRAILING_STOP_MARKET:
        assert cmd.callback_pct is not None
        act = 0 if cmd.activation_price is None else resolve_price(
            cmd, cmd.activation_price, None, "activation price", inst, ROUND_HALF_UP, snap)
        return Priced(t, activation_price=act, callback_rate=callback_raw(cmd.callback_pct))
    raise fail(cmd, AlertCode.CONFLICT, f"order type {t.value} cannot be placed by an alert", "use MARKET or LIMIT")


def callback_raw(pct: Decimal) -> int:
    return int(pct.scaleb(_CALLBACK_DECIMALS).to_integral_value(ROUND_HALF_UP))


def place(snap: Snapshot, cmd: AlertCommand, priced: Priced, *, side: Side, qty: int, position_side: PositionSide,
          reduce_only: bool, cid: str) -> PlaceOrder:
    return PlaceOrder(
        account_id=snap.account_id, symbol=snap.inst.symbol, side=side, type=priced.type, quantity=qty,
        price=priced.price, time_in_force=priced.time_in_force, reduce_only=reduce_only and not snap.dual,
        position_side=position_side, client_order_id=cid, stop_price=priced.stop_price,
        working_type=cmd.working_type or WorkingType.CONTRACT_PRICE, activation_price=priced.activation_price,
        callback_rate=priced.callback_rate)


__all__ = ["Draft", "PlanFailure", "Priced", "Snapshot", "check_min_size", "client_id", "describe", "fail",
           "floor_qty", "is_market_type", "leg_id", "place", "price_order", "qty_dec", "read_snapshot",
           "requested_qty", "resolve_price", "tag_code", "tick_price"]
