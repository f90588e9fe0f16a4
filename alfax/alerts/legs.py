"""The reduce-only legs an entry carries: ``tp=`` / ``sl=`` (split by share) and ``trail=`` (signals.md §1.7).

Legs are placed after the entry executed, priced from the entry price (average fill, or the limit price of a resting
LIMIT entry) and sized from its quantity:

- TP legs are TAKE_PROFIT_MARKET, SL legs STOP_MARKET, the trail leg TRAILING_STOP_MARKET, all on the side that
  closes the entry (one-way mode: ``reduceOnly``; hedge mode: the entry's ``positionSide``, as Binance wants).
- Each of ``tp`` and ``sl`` splits the entry quantity on its own: leg i gets ``share_i`` % rounded down to the step;
  legs without a share split what the others leave equally. When the shares add up to 100 % the last leg takes the
  remainder, so rounding never leaves part of the position unprotected. A leg that rounds below the minimum
  quantity is dropped (its quantity goes to the last leg when the shares add up to 100 %).
- The trail leg covers the whole entry quantity; its activation price (if any) is relative to the entry price.
- A TP at or below the entry of a long (above, for a short), or an SL at or above it, is E013.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from alfax.domain.alert_catalogue import AlertCode
from alfax.domain.alert_model import AlertCommand, IdempotencyKey, Leg, fmt_decimal
from alfax.domain.enums import OrderType, PositionSide, Side
from alfax.domain.money import to_decimal

from .sizing import (HUNDRED, Draft, Priced, Snapshot, callback_raw, check_min_size, client_id,
                     describe, fail, floor_qty, place, qty_dec, resolve_price)


def protected_side(cmd: AlertCommand) -> Side | None:
    """The side of the position the legs protect: the verb's, or the sign of a ``pos=`` target (the target is what
    the position becomes). None: nothing to protect (``pos=0``)."""
    if cmd.target_position is not None:
        if cmd.target_position == 0:
            return None
        return Side.BUY if cmd.target_position > 0 else Side.SELL
    return cmd.side


def has_legs(cmd: AlertCommand) -> bool:
    return bool(cmd.take_profit or cmd.stop_loss or cmd.trail is not None)


def leg_drafts(cmd: AlertCommand, snap: Snapshot, key: IdempotencyKey | None, entry_price: Decimal,
               entry_qty: Decimal) -> list[Draft]:
    side = protected_side(cmd)
    if side is None or not has_legs(cmd):
        return []
    inst = snap.inst
    if entry_price <= 0:
        raise fail(cmd, AlertCode.CONFLICT, f"entry price {entry_price} is not positive: cannot price TP/SL legs",
                   "the legs are relative to the entry fill")
    exit_side = side.opposite
    pside = (PositionSide.LONG if side is Side.BUY else PositionSide.SHORT) if snap.dual else PositionSide.BOTH
    total = floor_qty(inst, entry_qty, market=True)
    check_min_size(cmd, inst, entry_qty, total, True, None, reducing=True)
    out: list[Draft] = []
    for name, legs, otype in (("tp", cmd.take_profit, OrderType.TAKE_PROFIT_MARKET),
                              ("sl", cmd.stop_loss, OrderType.STOP_MARKET)):
        for n, (leg, qty) in enumerate(_split(cmd, snap, legs, total), start=1):
            if qty <= 0:
                continue
            trigger = resolve_price(cmd, leg.price, entry_price, f"{name} price", inst, ROUND_HALF_UP)
            _check_side(cmd, snap, name, leg, side, trigger, entry_price)
            o = place(snap, cmd, Priced(otype, stop_price=trigger), side=exit_side, qty=qty, position_side=pside,
                      reduce_only=True, cid=client_id(key, f"{name}{n}", cmd.tag))
            out.append(Draft(o, o.client_order_id, f"{name}{n}", describe(inst, o)))
    if cmd.trail is not None:
        act = 0 if cmd.trail.activation is None else resolve_price(
            cmd, cmd.trail.activation, entry_price, "trail activation price", inst, ROUND_HALF_UP)
        priced = Priced(OrderType.TRAILING_STOP_MARKET, activation_price=act,
                        callback_rate=callback_raw(cmd.trail.callback_pct))
        o = place(snap, cmd, priced, side=exit_side, qty=total, position_side=pside, reduce_only=True,
                  cid=client_id(key, "trail", cmd.tag))
        out.append(Draft(o, o.client_order_id, "trail", describe(inst, o)))
    return out


def _split(cmd: AlertCommand, snap: Snapshot, legs: tuple[Leg, ...], total: int) -> list[tuple[Leg, int]]:
    if not legs:
        return []
    inst = snap.inst
    lo = inst.market_min_qty
    given = sum((x.share_pct for x in legs if x.share_pct is not None), Decimal(0))
    unshared = sum(1 for x in legs if x.share_pct is None)
    equal = (HUNDRED - given) / unshared if unshared else Decimal(0)
    full = unshared > 0 or given == HUNDRED
    total_d = qty_dec(inst, total)
    qtys = []
    for leg in legs:
        share = leg.share_pct if leg.share_pct is not None else equal
        q = floor_qty(inst, total_d * share / HUNDRED, market=True)
        qtys.append(q if q >= lo else 0)
    if full:
        # the last leg that gets anything takes the rounding remainder (or all of it if every leg rounded away)
        rest = total - sum(qtys[:-1])
        qtys[-1] = rest
    if not any(q > 0 for q in qtys):
        check_min_size(cmd, inst, total_d * max((x.share_pct or equal) for x in legs) / HUNDRED, 0, True, None,
                       reducing=True)
    return list(zip(legs, qtys))


def _check_side(cmd: AlertCommand, snap: Snapshot, name: str, leg: Leg, side: Side, trigger: int,
                entry: Decimal) -> None:
    price = to_decimal(trigger, snap.inst.price_precision)
    above = price > entry
    want_above = (name == "tp") == (side is Side.BUY)
    if price == entry or above != want_above:
        long_short = "long" if side is Side.BUY else "short"
        what = "take profit" if name == "tp" else "stop loss"
        raise fail(cmd, AlertCode.CONFLICT,
                   f"{name}={leg.price.text} ({snap.inst.fmt_price(trigger)}) is on the wrong side of the entry "
                   f"{fmt_decimal(entry)} for a {long_short}",
                   f"a {long_short}'s {what} is {'above' if want_above else 'below'} the entry: "
                   + ("tp=+2% sl=-1%" if side is Side.BUY else "tp=-2% sl=+1%"), leg.price.text)
