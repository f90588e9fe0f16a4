"""R2: apply a fill to the order, the position and the wallet; fees, realized PnL, income, events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain import margin as M
from ..domain.enums import BalanceReason, ExecutionType, IncomeType, MarginType, OrderStatus, OrderType, Side
from ..domain.events import OrderUpdated
from ..domain.money import div_round_half_up
from ..domain.orders import Evidence, Order, Trade
from .copying import copy_order
from .challenges import note_fill
from .risk import reserve_all

if TYPE_CHECKING:  # pragma: no cover
    from .venue import Venue


def apply_fill(v: "Venue", order: Order, price: int, qty: int, maker: bool, evidence: Evidence | None,
               exec_type: ExecutionType = ExecutionType.TRADE, fee_override: int | None = None) -> Trade:
    """Fill ``qty`` of ``order`` at ``price``. Emits OrderUpdated(TRADE), Income rows and AccountUpdated."""
    inst = v.instruments[order.symbol]
    acct = v.accounts[order.account_id]
    pos = v.position(order.account_id, order.symbol, order.position_side)
    sign = order.side.sign
    notional = inst.notional(price, qty)
    if fee_override is None:
        fee = M.fee(notional, inst.maker_fee if maker else inst.taker_fee)
    else:
        fee = fee_override
    old = pos.qty
    if old == 0 or (old > 0) == (sign > 0):
        close_qty = 0
    else:
        close_qty = qty if qty < abs(old) else abs(old)
    open_qty = qty - close_qty
    pnl = 0
    isolated = pos.margin_type is MarginType.ISOLATED
    if close_qty:
        pnl, cost = M.realized_pnl(inst, old, pos.entry_notional, close_qty, price)
        full = close_qty == abs(old)
        pos.entry_notional -= cost
        if full:
            pos.break_even_fee = 0
            released = pos.isolated_wallet
        else:
            pos.break_even_fee -= div_round_half_up(pos.break_even_fee * close_qty, abs(old))
            released = div_round_half_up(pos.isolated_wallet * close_qty, abs(old)) if isolated else 0
        pos.isolated_wallet -= released
        pos.qty += sign * close_qty
    if open_qty:
        n_open = inst.notional(price, open_qty)
        pos.entry_notional += n_open
        pos.qty += sign * open_qty
        if isolated:
            pos.isolated_wallet += M.initial_margin(n_open, pos.leverage)
        pos.break_even_fee += fee if not close_qty else div_round_half_up(fee * open_qty, qty)
    pos.update_time = v.now
    acct.wallet_balance += pnl - fee
    if order.account_id in v.challenges:  # trading days and the pass check (engine/challenges.py)
        note_fill(v, order.account_id, inst.notional(price, open_qty) if open_qty else 0, close_qty > 0)

    # order
    prev_remaining = order.quantity - order.executed_qty
    order.executed_qty += qty
    order.cum_quote += notional
    remaining = order.quantity - order.executed_qty
    if order.reserved_margin:
        v.set_reserved(order, (order.reserved_margin * remaining // prev_remaining) if remaining > 0 else 0)
    order.status = OrderStatus.FILLED if remaining <= 0 else OrderStatus.PARTIALLY_FILLED
    order.update_time = v.now

    trade = Trade(
        trade_id=v.new_trade_id(), order_id=order.order_id, account_id=order.account_id, symbol=order.symbol,
        side=order.side, position_side=order.position_side, price=price, qty=qty, quote_qty=notional,
        commission=fee, realized_pnl=pnl, maker=maker, time=v.now, evidence=evidence,
    )
    v.emit(OrderUpdated, account_id=order.account_id, order=copy_order(order), exec_type=exec_type, trade=trade)
    if pnl:
        v.income(order.account_id, IncomeType.REALIZED_PNL, pnl, order.symbol, trade.trade_id)
    if fee:
        v.income(order.account_id, IncomeType.COMMISSION, -fee, order.symbol, trade.trade_id,
                 "LIQUIDATION_FEE" if fee_override is not None else "")
    v.track_position(pos)
    v.account_updated(acct, BalanceReason.ORDER, 0, (pos,))
    if pos.qty == 0 and old != 0:
        expire_reducing(v, order)
    if remaining <= 0:
        v.order_done(order)
    # the position changed, so did the reducible capacity of the account's orders that would reduce it
    new = pos.qty
    if old > 0 or new > 0:
        reserve_all(v, order.account_id, order.symbol, (Side.SELL, order.position_side))
    if old < 0 or new < 0:
        reserve_all(v, order.account_id, order.symbol, (Side.BUY, order.position_side))
    return trade


def expire_reducing(v: "Venue", filled: Order) -> None:
    """The position is flat: reduce-only (and hedge-mode closing) orders on it can no longer work."""
    from .risk import is_reducing

    acct = v.accounts[filled.account_id]
    doomed = [
        o for o in v.sym_orders.get((filled.account_id, filled.symbol), {}).values()
        if o is not filled and o.position_side is filled.position_side
        and is_reducing(acct.dual_side, o.side, o.position_side, o.reduce_only, o.close_position)
    ]
    doomed.sort(key=lambda o: o.order_id)  # deterministic whatever the insertion order (restore, legacy ids)
    for o in doomed:
        if o.is_open:
            finish(v, o, OrderStatus.EXPIRED, ExecutionType.EXPIRED)


def finish(v: "Venue", order: Order, status: OrderStatus, exec_type: ExecutionType) -> None:
    """Terminal non-fill transition (CANCELED / EXPIRED) of an open regular order."""
    order.status = status
    order.update_time = v.now
    v.set_reserved(order, 0)
    v.emit(OrderUpdated, account_id=order.account_id, order=copy_order(order), exec_type=exec_type)
    v.order_done(order)
    if order.type is OrderType.LIMIT and not order.reduce_only:
        pos = v.pos_map.get((order.account_id, order.symbol, order.position_side))
        if pos is not None and pos.qty:  # freed reducible capacity moves to later orders
            reserve_all(v, order.account_id, order.symbol)
