"""Liquidation on mark price updates, margin calls, and the insurance balance.

Cross: when cross margin balance (cross wallet + cross uPnL) <= cross maintenance margin, every cross position
is closed at the mark with a LIQUIDATION order. Isolated: the same per position with its isolated wallet.
The clearance fee (notional × liquidation_fee, capped at the margin left) goes to the insurance balance; a
negative wallet afterwards is covered by the insurance balance (INSURANCE_CLEAR income).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain import margin as M
from ..domain.enums import BalanceReason, ExecutionType, IncomeType, MarginType, OrderType, Side, TimeInForce
from ..domain.events import Liquidated, MarginCall
from ..domain.money import RATE_SCALE
from ..domain.orders import Evidence, Order
from ..domain.positions import Position
from . import risk
from .copying import copy_position
from .settlement import apply_fill

if TYPE_CHECKING:  # pragma: no cover
    from .venue import Venue

MARGIN_CALL_RATIO = 80_000_000  # 80 %


def check_symbol(v: "Venue", symbol: str) -> None:
    """A new mark for ``symbol``: liquidation, margin calls and challenge rules for the accounts whose guard band
    it leaves (engine/guard.py); the others provably have nothing to do."""
    if not v.symbol_holders[symbol]:
        return
    from . import challenges, guard

    guard.refresh(v)  # accounts changed earlier in this command are re-indexed at the new mark first
    g = v.guard
    for account_id in g.crossed(v, symbol, risk.mark_for(v, symbol)):
        if symbol in _held(v, account_id):
            check_account(v, account_id, symbol)
            if account_id in v.challenges:
                challenges.evaluate(v, account_id)
        g.reindex(v, account_id)  # around the marks it was just checked at
    guard.refresh(v)  # accounts a liquidation or breach changed in this loop


def _held(v: "Venue", account_id: int) -> set[str]:
    return {k[1] for k in v.acct_positions.get(account_id, ())}


def check_account(v: "Venue", account_id: int, symbol: str) -> None:
    # isolated position of this symbol first
    for key in sorted(v.acct_positions.get(account_id, ()), key=lambda k: (k[1], k[2].value)):
        if key[1] != symbol:
            continue
        pos = v.pos_map.get(key)
        if pos is None or not pos.qty or pos.margin_type is not MarginType.ISOLATED:
            continue
        inst = v.instruments[pos.symbol]
        mark = risk.mark_for(v, pos.symbol, pos)
        upnl = M.unrealized_pnl(inst, pos.qty, pos.entry_notional, mark)
        mm = M.maintenance_margin(inst, inst.notional(mark, abs(pos.qty)))
        if M.margin_ratio_breached(pos.isolated_wallet + upnl, mm):
            _liquidate(v, account_id, [pos])
    f = risk.figures(v, account_id)
    if f.cross_maint <= 0:
        v.margin_called.discard(account_id)
        return
    balance = f.cross_wallet + f.cross_upnl
    if M.margin_ratio_breached(balance, f.cross_maint):
        cross = [v.pos_map[k] for k in sorted(v.acct_positions.get(account_id, ()), key=lambda k: (k[1], k[2].value))
                 if v.pos_map[k].margin_type is MarginType.CROSSED]
        _liquidate(v, account_id, cross)
        v.margin_called.discard(account_id)
        return
    called = balance <= 0 or f.cross_maint * RATE_SCALE > balance * MARGIN_CALL_RATIO
    if called and account_id not in v.margin_called:
        v.margin_called.add(account_id)
        cross = [v.pos_map[k] for k in sorted(v.acct_positions.get(account_id, ()), key=lambda k: (k[1], k[2].value))
                 if v.pos_map[k].margin_type is MarginType.CROSSED]
        marks = tuple(risk.mark_for(v, p.symbol, p) for p in cross)
        mms = tuple(M.maintenance_margin(v.instruments[p.symbol], v.instruments[p.symbol].notional(m, abs(p.qty)))
                    for p, m in zip(cross, marks))
        v.emit(MarginCall, account_id=account_id, cross_wallet_balance=f.cross_wallet,
               positions=tuple(copy_position(p) for p in cross), maint_margins=mms, mark_prices=marks)
    elif not called:
        v.margin_called.discard(account_id)


def _liquidate(v: "Venue", account_id: int, positions: list[Position]) -> None:
    from .ordering import cancel_all

    acct = v.accounts[account_id]
    symbols = sorted({p.symbol for p in positions})
    for s in symbols:  # open orders of the liquidated symbols are cancelled first (frees their margin)
        cancel_all(v, account_id, s, regular=True, algo=False)
    for pos in positions:
        if not pos.qty:
            continue
        inst = v.instruments[pos.symbol]
        mark = risk.mark_for(v, pos.symbol, pos)
        qty = abs(pos.qty)
        isolated = pos.margin_type is MarginType.ISOLATED
        iso_before = pos.isolated_wallet
        upnl = M.unrealized_pnl(inst, pos.qty, pos.entry_notional, mark)
        f = risk.figures(v, account_id)
        left = (iso_before + upnl) if isolated else (f.cross_wallet + f.cross_upnl)
        liq_fee = min(M.fee(inst.notional(mark, qty), inst.liquidation_fee), max(0, left))
        oid = v.new_order_id()
        side = Side.SELL if pos.qty > 0 else Side.BUY
        order = Order(order_id=oid, account_id=account_id, symbol=pos.symbol, side=side, type=OrderType.LIQUIDATION,
                      orig_type=OrderType.LIQUIDATION, quantity=qty, price=mark, time_in_force=TimeInForce.IOC,
                      position_side=pos.position_side, client_order_id=f"autoclose-{oid}", reduce_only=True,
                      time=v.now, update_time=v.now)
        v.register_order(order)
        wallet_before = acct.wallet_balance
        apply_fill(v, order, mark, qty, False, Evidence("mark", 0, mark, qty), exec_type=ExecutionType.CALCULATED,
                   fee_override=liq_fee)
        v.order_done(order)
        v.insurance_balance += liq_fee
        delta = liq_fee
        # deficit: isolated loss is capped at its wallet; cross wallet cannot stay negative
        if isolated:
            lost = wallet_before - acct.wallet_balance
            deficit = lost - iso_before if lost > iso_before else 0
        else:
            fc = risk.figures(v, account_id)
            deficit = -fc.cross_wallet if fc.cross_wallet < 0 else 0
        if deficit > 0:
            acct.wallet_balance += deficit
            v.insurance_balance -= deficit
            delta -= deficit
            v.income(account_id, IncomeType.INSURANCE_CLEAR, deficit, pos.symbol)
            v.account_updated(acct, BalanceReason.INSURANCE_CLEAR, deficit)
        v.emit(Liquidated, account_id=account_id, symbol=pos.symbol, order_id=oid, mark_price=mark,
               insurance_delta=delta, insurance_balance=v.insurance_balance)
