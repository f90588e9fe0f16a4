"""Account commands: create, transfer, leverage, margin type, position mode, isolated margin adjustments."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain import commands as C
from ..domain import margin as M
from ..domain.accounts import Account
from ..domain.enums import BalanceReason, IncomeType, MarginType
from ..domain.errors import Err, VenueError
from ..domain.events import AccountConfigUpdated, AccountCreated
from . import challenges, risk

if TYPE_CHECKING:  # pragma: no cover
    from .venue import Venue


def create_account(v: "Venue", cmd: C.CreateAccount) -> None:
    aid = cmd.account_id
    if aid < 0:
        raise VenueError(Err.INVALID_PARAMETER, param="accountId")
    if aid and aid in v.accounts:
        raise VenueError(Err.INVALID_PARAMETER, param="accountId")
    new_account(v, cmd.alias, aid)


def new_account(v: "Venue", alias: str, account_id: int = 0) -> Account:
    """Create (and announce) an account; ``account_id`` 0 = the next free id. Also how a passed challenge stage
    mints the next stage's account."""
    aid = account_id or max(v.accounts, default=0) + 1
    acct = v.accounts[aid] = Account(aid, alias=alias, update_time=v.now)
    v.emit(AccountCreated, account_id=aid, alias=alias)
    return acct


def transfer(v: "Venue", cmd: C.Transfer) -> None:
    acct = risk.account(v, cmd.account_id)
    if cmd.account_id in v.challenges:  # an operator deposit would count as profit toward target and payout
        raise VenueError(Err.CHALLENGE_TRANSFER)
    if cmd.amount == 0:
        raise VenueError(Err.INVALID_PARAMETER, param="amount")
    if cmd.amount < 0 and -cmd.amount > risk.figures(v, acct.account_id).max_withdraw:
        raise VenueError(Err.BALANCE_NOT_SUFFICIENT)
    acct.wallet_balance += cmd.amount
    v.income(acct.account_id, IncomeType.TRANSFER, cmd.amount, info=cmd.info)
    v.account_updated(acct, BalanceReason.DEPOSIT if cmd.amount > 0 else BalanceReason.WITHDRAW, cmd.amount)


def _position_notional(v: "Venue", account_id: int, symbol: str) -> int:
    inst = v.instruments[symbol]
    total = 0
    for key in v.acct_positions.get(account_id, ()):
        if key[1] == symbol:
            pos = v.pos_map[key]
            total += inst.notional(risk.mark_for(v, symbol, pos), abs(pos.qty))
    return total


def set_leverage(v: "Venue", cmd: C.SetLeverage) -> None:
    inst = risk.instrument(v, cmd.symbol)
    acct = risk.account(v, cmd.account_id)
    if not 1 <= cmd.leverage <= inst.max_leverage:
        raise VenueError(Err.INVALID_LEVERAGE, leverage=cmd.leverage)
    challenges.check_leverage(v, acct.account_id, cmd.symbol, cmd.leverage)
    if _position_notional(v, acct.account_id, cmd.symbol) > inst.max_notional_for_leverage(cmd.leverage):
        raise VenueError(Err.MAX_LEVERAGE_RATIO)
    acct.symbol_settings(cmd.symbol).leverage = cmd.leverage
    for side_key in list(v.pos_map):
        if side_key[0] == acct.account_id and side_key[1] == cmd.symbol:
            v.pos_map[side_key].leverage = cmd.leverage
    acct.update_time = v.now
    risk.reserve_all(v, acct.account_id, cmd.symbol)
    v.emit(AccountConfigUpdated, account_id=acct.account_id, symbol=cmd.symbol, leverage=cmd.leverage)


def set_margin_type(v: "Venue", cmd: C.SetMarginType) -> None:
    risk.instrument(v, cmd.symbol)
    acct = risk.account(v, cmd.account_id)
    if risk.margin_type_of(acct, cmd.symbol) is cmd.margin_type:
        raise VenueError(Err.NO_NEED_TO_CHANGE_MARGIN_TYPE)
    if v.sym_orders.get((acct.account_id, cmd.symbol)) or any(
            a.symbol == cmd.symbol for a in v.acct_algos.get(acct.account_id, {}).values()):
        raise VenueError(Err.MARGIN_TYPE_OPEN_ORDERS)
    if any(k[1] == cmd.symbol for k in v.acct_positions.get(acct.account_id, ())):
        raise VenueError(Err.MARGIN_TYPE_POSITION)
    acct.symbol_settings(cmd.symbol).margin_type = cmd.margin_type
    for key in list(v.pos_map):
        if key[0] == acct.account_id and key[1] == cmd.symbol:
            v.pos_map[key].margin_type = cmd.margin_type
    acct.update_time = v.now
    v.emit(AccountConfigUpdated, account_id=acct.account_id, symbol=cmd.symbol, margin_type=cmd.margin_type.value)


def set_position_mode(v: "Venue", cmd: C.SetPositionMode) -> None:
    acct = risk.account(v, cmd.account_id)
    if acct.dual_side == cmd.dual_side:
        raise VenueError(Err.NO_NEED_TO_CHANGE_POSITION_SIDE)
    if v.acct_orders.get(acct.account_id) or v.acct_algos.get(acct.account_id):
        raise VenueError(Err.POSITION_SIDE_CHANGE_OPEN_ORDERS)
    if v.acct_positions.get(acct.account_id):
        raise VenueError(Err.POSITION_SIDE_CHANGE_POSITION)
    acct.dual_side = cmd.dual_side
    acct.update_time = v.now
    v.emit(AccountConfigUpdated, account_id=acct.account_id, dual_side=cmd.dual_side)


def adjust_position_margin(v: "Venue", cmd: C.AdjustPositionMargin) -> None:
    inst = risk.instrument(v, cmd.symbol)
    acct = risk.account(v, cmd.account_id)
    if cmd.amount <= 0:
        raise VenueError(Err.INVALID_PARAMETER, param="amount")
    if risk.margin_type_of(acct, cmd.symbol) is not MarginType.ISOLATED:
        raise VenueError(Err.CROSS_MARGIN_NO_ISOLATED)
    pos = v.pos_map.get((acct.account_id, cmd.symbol, cmd.position_side))
    if pos is None or pos.qty == 0:
        raise VenueError(Err.ISOLATED_BALANCE_INSUFFICIENT)
    if cmd.add:
        if cmd.amount > risk.figures(v, acct.account_id).available:
            raise VenueError(Err.ADD_ISOLATED_MARGIN_REJECT)
        pos.isolated_wallet += cmd.amount
    else:
        mark = risk.mark_for(v, cmd.symbol, pos)
        upnl = M.unrealized_pnl(inst, pos.qty, pos.entry_notional, mark)
        im = M.initial_margin(inst.notional(mark, abs(pos.qty)), pos.leverage)
        if pos.isolated_wallet - cmd.amount + min(0, upnl) < im:
            raise VenueError(Err.ISOLATED_BALANCE_INSUFFICIENT)
        pos.isolated_wallet -= cmd.amount
    pos.update_time = v.now
    v.account_updated(acct, BalanceReason.MARGIN_TRANSFER, 0, (pos,))
