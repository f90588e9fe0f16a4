"""Accounts, settings, positions: transfers, leverage, margin type, position mode, isolated margin, PnL,
reduceOnly and hedge mode."""

from __future__ import annotations

import pytest

from alfax.domain.enums import BalanceReason, IncomeType, MarginType, OrderStatus
from alfax.domain.events import AccountConfigUpdated, AccountCreated, AccountUpdated
from engine_helpers import C, PositionSide, Side, Sim, SYM, incomes, orders, px, qty, trades, usd


@pytest.fixture
def s():
    return Sim()


def test_create_account_and_transfer():
    s = Sim(fund=False, book=False)
    (ev,) = s.do(C.CreateAccount(0, "first"))
    assert isinstance(ev, AccountCreated) and ev.account_id == 1
    assert s.do(C.CreateAccount(0))[0].account_id == 2
    s.do(C.CreateAccount(10))
    assert s.do(C.CreateAccount(0))[0].account_id == 11
    s.rejects(C.CreateAccount(10), -1130)
    evs = s.do(C.Transfer(1, usd("50")))
    assert incomes(evs, IncomeType.TRANSFER)[0].amount == usd("50")
    upd = [e for e in evs if isinstance(e, AccountUpdated)][0]
    assert upd.reason is BalanceReason.DEPOSIT and upd.wallet_balance == usd("50")
    s.rejects(C.Transfer(1, -usd("50.00000001")), -2018)
    s.do(C.Transfer(1, -usd("50")))
    assert s.wallet() == 0


def test_withdraw_limited_by_available(s):
    s.limit(Side.BUY, "30", "29000.0")  # 870k notional / 20 = 43.5k reserved
    s.rejects(C.Transfer(1, -usd("60000")), -2018)
    s.do(C.Transfer(1, -usd("50000")))


def test_leverage(s):
    e = s.rejects(C.SetLeverage(1, SYM, 126), -4028)
    assert e.msg == "Leverage 126 is not valid"
    s.rejects(C.SetLeverage(1, SYM, 0), -4028)
    (ev,) = s.do(C.SetLeverage(1, SYM, 50))
    assert isinstance(ev, AccountConfigUpdated) and ev.leverage == 50
    s.market(Side.BUY, "2")  # 60k notional
    s.rejects(C.SetLeverage(1, SYM, 125), -2027)  # max 50k at 125x
    s.do(C.SetLeverage(1, SYM, 100))
    assert s.v.positions(1, SYM)[0].leverage == 100


def test_margin_type(s):
    s.rejects(C.SetMarginType(1, SYM, MarginType.CROSSED), -4046)
    s.limit(Side.BUY, "0.1", "29000.0")
    s.rejects(C.SetMarginType(1, SYM, MarginType.ISOLATED), -4047)
    s.do(C.CancelAllOrders(1, SYM))
    s.market(Side.BUY, "0.1")
    s.rejects(C.SetMarginType(1, SYM, MarginType.ISOLATED), -4048)
    s.market(Side.SELL, "0.1")
    evs = s.do(C.SetMarginType(1, SYM, MarginType.ISOLATED))
    assert evs[0].margin_type == "ISOLATED"


def test_position_mode(s):
    s.rejects(C.SetPositionMode(1, False), -4059)
    s.limit(Side.BUY, "0.1", "29000.0")
    s.rejects(C.SetPositionMode(1, True), -4067)
    s.do(C.CancelAllOrders(1, SYM))
    s.market(Side.BUY, "0.1")
    s.rejects(C.SetPositionMode(1, True), -4068)
    s.market(Side.SELL, "0.1")
    assert s.do(C.SetPositionMode(1, True))[0].dual_side is True
    assert [p.position_side for p in s.v.positions(1, SYM)] == [PositionSide.LONG, PositionSide.SHORT]


def test_realized_pnl_and_fees(s):
    w0 = s.wallet()
    s.book([("30000.0", "5")], [("30000.0", "5")])
    s.market(Side.BUY, "1")  # fee 30000 * 0.0005 = 15
    s.book([("31000.0", "5")], [("31000.1", "5")])
    evs = s.market(Side.SELL, "0.4")  # pnl 0.4 * 1000 = 400, fee 12400*0.0005 = 6.2
    assert incomes(evs, IncomeType.REALIZED_PNL)[0].amount == usd("400")
    assert trades(evs)[0].realized_pnl == usd("400")
    assert incomes(evs, IncomeType.COMMISSION)[0].amount == -usd("6.2")
    assert s.wallet() - w0 == usd("400") - usd("15") - usd("6.2")
    p = s.v.positions(1, SYM)[0]
    assert p.qty == qty("0.6") and p.entry_notional == usd("18000")


def test_one_way_flip(s):
    s.book([("30000.0", "5")], [("30000.0", "5")])
    s.market(Side.BUY, "1")
    s.book([("29000.0", "5")], [("29000.1", "5")])
    evs = s.market(Side.SELL, "1.5")
    assert incomes(evs, IncomeType.REALIZED_PNL)[0].amount == -usd("1000")
    p = s.v.positions(1, SYM)[0]
    assert p.qty == -qty("0.5") and p.entry_notional == usd("14500")


def test_reduce_only(s):
    s.rejects(lambda: s.market(Side.SELL, "0.1", reduce_only=True), -2022)
    s.market(Side.BUY, "0.3")
    s.rejects(lambda: s.market(Side.BUY, "0.1", reduce_only=True), -2022)  # wrong direction
    evs = s.market(Side.SELL, "1", reduce_only=True)  # clipped to the position
    assert sum(t.qty for t in trades(evs)) == qty("0.3") and s.pos() == 0
    assert orders(evs)[-1].order.status is OrderStatus.EXPIRED


def test_resting_reduce_only_expires_when_position_closes(s):
    s.market(Side.BUY, "0.3")
    s.limit(Side.SELL, "0.3", "31000.0", reduce_only=True)
    (ro,) = s.v.open_orders(1)
    assert ro.reserved_margin == 0  # reduce-only orders need no margin
    evs = s.market(Side.SELL, "0.3")
    assert any(e.order.order_id == ro.order_id and e.order.status is OrderStatus.EXPIRED for e in orders(evs))
    assert s.v.open_orders(1) == []


def test_reduce_only_maker_fill_clipped(s):
    s.market(Side.BUY, "0.2")
    s.limit(Side.SELL, "0.5", "30100.0", reduce_only=True)
    evs = s.trade("30100.1", "5")
    assert sum(t.qty for t in trades(evs)) == qty("0.2") and s.pos() == 0
    assert s.v.open_orders(1) == []


def test_hedge_mode_positions(s):
    s.do(C.SetPositionMode(1, True))
    s.market(Side.BUY, "0.5", position_side=PositionSide.LONG)
    s.market(Side.SELL, "0.2", position_side=PositionSide.SHORT)
    assert s.pos(side=PositionSide.LONG) == qty("0.5") and s.pos(side=PositionSide.SHORT) == -qty("0.2")
    # SELL + LONG closes the long; it cannot exceed it
    evs = s.market(Side.SELL, "1", position_side=PositionSide.LONG)
    assert sum(t.qty for t in trades(evs)) == qty("0.5")
    assert s.pos(side=PositionSide.LONG) == 0 and s.pos(side=PositionSide.SHORT) == -qty("0.2")
    s.rejects(lambda: s.market(Side.SELL, "0.1", position_side=PositionSide.LONG), -2022)
    s.market(Side.BUY, "0.2", position_side=PositionSide.SHORT)
    assert s.pos(side=PositionSide.SHORT) == 0


def test_isolated_margin_moves_from_cross_wallet(s):
    s.do(C.SetMarginType(1, SYM, MarginType.ISOLATED))
    s.do(C.SetLeverage(1, SYM, 10))
    s.book([("30000.0", "5")], [("30000.0", "5")])
    w = s.wallet()
    s.market(Side.BUY, "1")  # IM 3000 to the isolated wallet, fee 15
    p = s.v.positions(1, SYM)[0]
    assert p.isolated_wallet == usd("3000")
    summ = s.v.summary(1)
    assert summ.wallet_balance == w - usd("15")
    assert summ.cross_wallet_balance == w - usd("15") - usd("3000")
    s.rejects(C.AdjustPositionMargin(1, SYM, PositionSide.BOTH, usd("1"), False), -4051)  # at IM already
    evs = s.do(C.AdjustPositionMargin(1, SYM, PositionSide.BOTH, usd("500"), True))
    assert evs[0].reason is BalanceReason.MARGIN_TRANSFER
    assert s.v.positions(1, SYM)[0].isolated_wallet == usd("3500")
    s.do(C.AdjustPositionMargin(1, SYM, PositionSide.BOTH, usd("400"), False))
    s.rejects(C.AdjustPositionMargin(1, SYM, PositionSide.BOTH, usd("10000000"), True), -4050)
    m = s.v.position_metrics(1, s.v.positions(1, SYM)[0])
    assert m.isolated_margin == usd("3100")
    s.market(Side.SELL, "1")
    assert s.v.positions(1, SYM)[0].isolated_wallet == 0
    assert s.v.summary(1).cross_wallet_balance == s.wallet()


def test_adjust_margin_on_cross_rejected(s):
    s.market(Side.BUY, "0.1")
    s.rejects(C.AdjustPositionMargin(1, SYM, PositionSide.BOTH, usd("10"), True), -4053)


def test_summary_and_metrics(s):
    s.book([("30000.0", "5")], [("30000.0", "5")])
    s.market(Side.BUY, "1")
    s.mark("31000.0")
    summ = s.v.summary(1)
    assert summ.unrealized_pnl == usd("1000")
    assert summ.position_initial_margin == usd("1550")  # 31000 / 20
    assert summ.maint_margin == usd("124")  # 31000 * 0.004
    assert summ.margin_balance == summ.wallet_balance + usd("1000")
    m = s.v.position_metrics(1, s.v.positions(1, SYM)[0])
    assert m.notional == usd("31000") and m.entry_price_8dp == usd("30000")
    assert m.break_even_price_8dp == usd("30015")  # entry + 15 USDT fee per 1 BTC
    assert m.max_notional == usd("100000000")  # 20x is allowed up to bracket 6 (cap 100M)
    ms = s.v.market(SYM)
    assert ms.mark_price == px("31000.0") and ms.bids[0][0] == px("30000.0")


def test_account_update_reports_cross_wallet_excluding_isolated(s):
    from alfax.domain.events import AccountUpdated
    s.do(C.SetMarginType(1, SYM, MarginType.ISOLATED))
    s.do(C.SetLeverage(1, SYM, 10))
    s.book([("30000.0", "5")], [("30000.0", "5")])
    evs = s.market(Side.BUY, "1")
    upd = [e for e in evs if isinstance(e, AccountUpdated)][-1]
    assert upd.cross_wallet_balance == upd.wallet_balance - usd("3000")
    assert upd.positions[0].isolated_wallet == usd("3000")
