"""Funding at 00/08/16 UTC; liquidation (cross and isolated), insurance balance, margin calls."""

from __future__ import annotations

from alfax.domain.enums import BalanceReason, IncomeType, MarginType, OrderType
from alfax.domain.events import AccountUpdated, Liquidated, MarginCall
from alfax.domain.enums import ExecutionType
from engine_helpers import C, Side, Sim, SYM, incomes, orders, px, qty, trades, usd

H8 = 8 * 3600 * 1000


def test_funding_charged_at_boundary():
    s = Sim()
    s.book([("30000.0", "5")], [("30000.0", "5")])
    s.market(Side.BUY, "1")
    s.market(Side.SELL, "2", account=2)
    s.mark("30000.0", rate="0.0001")
    boundary = (s.clock.ms // H8 + 1) * H8
    s.clock.ms = boundary - 1
    assert s.do(C.Tick()) == []
    s.clock.ms = boundary
    evs = s.do(C.Tick())
    f = {e.account_id: e.amount for e in incomes(evs, IncomeType.FUNDING_FEE)}
    assert f == {1: -usd("3"), 2: usd("6")}  # 30000 * 0.0001 per BTC; longs pay, shorts receive
    assert {e.reason for e in evs if isinstance(e, AccountUpdated)} == {BalanceReason.FUNDING_FEE}
    s.clock.ms = boundary + 1000
    assert s.do(C.Tick()) == []  # once per boundary


def test_isolated_liquidation_with_insurance():
    s = Sim()
    s.do(C.SetMarginType(1, SYM, MarginType.ISOLATED))
    s.do(C.SetLeverage(1, SYM, 100))
    s.book([("30000.0", "5")], [("30000.0", "5")])
    s.market(Side.BUY, "1")  # isolated wallet 300
    w_after_open = s.wallet()
    # LP = (300 - 30000) / (0.005? no: notional 30000 in bracket 1, mmr 0.004) -> (300-30000)/(0.004-1) = 29819.28
    lp = s.v.position_metrics(1, s.v.positions(1, SYM)[0]).liquidation_price
    assert lp == usd("29819.27710843")
    assert not [e for e in s.mark("29820.0") if isinstance(e, Liquidated)]
    evs = s.mark("29819.2")
    liq = [e for e in evs if isinstance(e, Liquidated)]
    assert len(liq) == 1 and liq[0].mark_price == px("29819.2")
    t = trades(evs)[0]
    assert t.price == px("29819.2") and t.evidence.source == "mark" and t.qty == qty("1")
    o = orders(evs)[0]
    assert o.order.type is OrderType.LIQUIDATION and o.exec_type is ExecutionType.CALCULATED
    assert o.order.client_order_id.startswith("autoclose-")
    # pnl -180.8, margin left 300 - 180.8 = 119.2, fee min(29819.2 * 0.0125, 119.2) = 119.2
    assert t.realized_pnl == -usd("180.8") and t.commission == usd("119.2")
    assert liq[0].insurance_delta == usd("119.2") and s.v.insurance_balance == usd("119.2")
    assert s.wallet() == w_after_open - usd("300")
    assert s.pos() == 0


def test_isolated_liquidation_deficit_is_cleared_by_insurance():
    s = Sim()
    s.do(C.SetMarginType(1, SYM, MarginType.ISOLATED))
    s.do(C.SetLeverage(1, SYM, 100))
    s.book([("30000.0", "5")], [("30000.0", "5")])
    s.market(Side.BUY, "1")
    w = s.wallet()
    evs = s.mark("29000.0")  # gap far through the liquidation price: loss 1000 > isolated 300
    clear = incomes(evs, IncomeType.INSURANCE_CLEAR)
    assert clear and clear[0].amount == usd("700")
    assert s.wallet() == w - usd("300")  # the loss is capped at the isolated wallet
    assert s.v.insurance_balance == -usd("700")


def test_cross_liquidation_sets_wallet_to_zero():
    s = Sim(fund=False)
    s.do(C.CreateAccount(1))
    s.do(C.Transfer(1, usd("1000")))
    s.do(C.SetLeverage(1, SYM, 50))
    s.book([("30000.0", "5")], [("30000.0", "5")])
    s.market(Side.BUY, "1")  # 30k notional, IM 600, fee 15 -> wallet 985
    s.limit(Side.BUY, "0.001", "29000.0")
    evs = s.mark("29000.0")  # uPnL -1000 > wallet: liquidated, wallet negative, cleared by insurance
    assert [e for e in evs if isinstance(e, Liquidated)]
    assert s.wallet() == 0 and s.pos() == 0
    assert s.v.open_orders(1) == []  # open orders of the symbol were cancelled first
    assert incomes(evs, IncomeType.INSURANCE_CLEAR)[0].amount == usd("15")


def test_margin_call_once_per_crossing():
    s = Sim(fund=False)
    s.do(C.CreateAccount(1))
    s.do(C.Transfer(1, usd("1000")))
    s.do(C.SetLeverage(1, SYM, 50))
    s.book([("30000.0", "5")], [("30000.0", "5")])
    s.market(Side.BUY, "1")  # wallet 985, maint ~120
    # margin ratio > 80%: balance < maint / 0.8 -> 985 + upnl < ~150 -> mark ~ 29165
    evs = s.mark("29160.0")
    assert [e for e in evs if isinstance(e, MarginCall)]
    assert not [e for e in s.mark("29150.0") if isinstance(e, MarginCall)]
    s.mark("30000.0")  # back to safety resets the flag
    assert [e for e in s.mark("29160.0") if isinstance(e, MarginCall)]


def test_funding_on_isolated_position_moves_its_wallet():
    s = Sim()
    s.do(C.SetMarginType(1, SYM, MarginType.ISOLATED))
    s.do(C.SetLeverage(1, SYM, 10))
    s.book([("30000.0", "5")], [("30000.0", "5")])
    s.market(Side.SELL, "1")  # isolated wallet 3000
    s.mark("30000.0", rate="-0.0002")  # negative rate: shorts pay 6
    s.clock.ms = (s.clock.ms // H8 + 1) * H8
    evs = s.do(C.Tick())
    assert incomes(evs, IncomeType.FUNDING_FEE)[0].amount == -usd("6")
    assert s.v.positions(1, SYM)[0].isolated_wallet == usd("2994")


def test_no_funding_without_mark_or_positions():
    s = Sim(book=False)
    s.clock.ms = (s.clock.ms // H8 + 1) * H8
    assert s.do(C.Tick()) == []
