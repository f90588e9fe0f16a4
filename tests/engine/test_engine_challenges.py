"""Challenge rules enforced inside the engine (engine/challenges.py), driven through a real Venue with a manual
clock, book and mark updates. Every figure is computed by hand in the comments (10k-2step unless stated:
S = 10,000, daily 500, total 1,000 (floor 9,000), target 800, 4 trading days, min trade notional 50 USDT,
taker fee 0.05 %). See test_engine_challenges_support.py for the helpers."""

from __future__ import annotations

import propfirm_calc as oracle
import pytest

from alfax.domain.challenge_state import ChallengeStatus
from alfax.domain.enums import AlgoStatus, IncomeType, MarginType, OrderStatus, WorkingType
from alfax.domain.events import AccountCreated, AlgoUpdated, Income, OrderUpdated
from test_engine_challenges_support import (BTC, C, CID, CSim, ETH, OrderType, PositionSide, START, Side,
                                            UpdateReason, day, product_source, px, qty, usd)

DAILY, TOTAL = "DAILY_DRAWDOWN", "TOTAL_DRAWDOWN"


def _f(raw: int) -> float:
    return raw / 10**8


# ====================================================================== rollover (§B2, §B3)
def test_rollover_with_floating_profit_anchors_on_equity():
    s = CSim()
    s.fill(Side.BUY, "1", "30000")  # fee 15 -> B = 9,985
    s.mark(BTC, "30300")  # E = 9,985 + 300 = 10,285
    assert s.view().day_open_equity == usd("10000")  # day 0 anchor = S
    s.at(day(1, 0.001))
    evs = s.do(C.Tick())
    roll = s.updates(evs, UpdateReason.ROLLOVER)
    assert len(roll) == 1 and roll[0].ts == day(1)  # the rollover is stamped at R_d
    v = s.view()
    # anchor = max(B, E) = max(9,985, 10,285) = 10,285: floating profit does not widen the day
    assert v.balance == usd("9985") and v.day_open_equity == usd("10285") and v.daily_floor == usd("9785")
    assert v.next_rollover_at == day(2)
    s.mark(BTC, "29800.1")  # E = 9,785.1: one cent above the floor
    assert s.status() is ChallengeStatus.ACTIVE
    evs = s.mark(BTC, "29800")  # E = 9,785 == floor (a balance anchor would have left 300 more room)
    assert s.status() is ChallengeStatus.FAILED
    b = s.st().breach
    assert (b.rule, b.equity, b.floor, b.marks) == (DAILY, usd("9785"), usd("9785"), ((BTC, px("29800")),))
    assert [u.reason for u in s.updates(evs)] == [UpdateReason.BREACH]


def test_rollover_with_floating_loss_anchors_on_balance():
    s = CSim()
    s.fill(Side.BUY, "1", "30000")  # B = 9,985
    s.mark(BTC, "29700")  # E = 9,685 (a floating loss of 300 carried into the new day)
    s.at(day(1, 0.5))
    s.do(C.Tick())
    v = s.view()
    # anchor = max(9,985, 9,685) = 9,985: the carried loss stays inside the new day's 500
    assert v.day_open_equity == usd("9985") and v.daily_floor == usd("9485")
    assert v.current_daily_drawdown == usd("300") and v.room_daily == usd("200")
    s.mark(BTC, "29500.1")  # E = 9,485.1
    assert s.status() is ChallengeStatus.ACTIVE
    s.mark(BTC, "29500")  # E = 9,485 (an equity anchor would have put the floor at 9,185)
    assert s.status() is ChallengeStatus.FAILED and s.st().breach.floor == usd("9485")


def test_carried_floating_loss_beyond_the_daily_limit_breaches_at_rollover_before_the_command():
    s = CSim()
    s.fill(Side.BUY, "1", "30000")  # fee 15.00
    s.fill(Side.SELL, "1", "30700")  # +700, fee 15.35 -> B = 10,669.65
    s.fill(Side.BUY, "1", "30700")  # fee 15.35 -> B = 10,654.30
    s.mark(BTC, "30100")  # E = 10,054.30 (> day-0 floor 9,500: no breach today)
    assert s.status() is ChallengeStatus.ACTIVE and s.view().equity == usd("10054.30")
    # the first command after midnight is a mark that would recover the loss: the rollover runs BEFORE it,
    # on the marks as they were at R_d: anchor = max(10,654.30, 10,054.30), floor 10,154.30 >= E
    s.at(day(1, 0.25))
    evs = s.mark(BTC, "30700")
    assert s.status() is ChallengeStatus.FAILED
    b = s.st().breach
    assert (b.rule, b.time, b.equity, b.balance, b.floor, b.marks) == (
        DAILY, day(1), usd("10054.30"), usd("10654.30"), usd("10154.30"), ((BTC, px("30100")),))
    assert s.st().day_anchor == usd("10654.30")
    # flattened at the R_d mark 30,100 (loss 600, taker fee 15.05): 10,654.30 - 600 - 15.05
    assert s.pos() == 0 and s.wallet() == usd("10039.25")
    assert [u.reason for u in s.updates(evs)] == [UpdateReason.BREACH]
    assert s.v.market(BTC).mark_price == px("30700")  # the command itself still ran


# ====================================================================== floors: touching, fees, funding
def test_touching_the_daily_floor_exactly_breaches():
    s = CSim()
    s.fill(Side.BUY, "1", "30000")  # B = 9,985; daily floor 9,500
    s.mark(BTC, "29515.1")  # E = 9,500.1
    assert s.status() is ChallengeStatus.ACTIVE and s.view().room_daily == usd("0.1")
    s.mark(BTC, "29515")  # E = 9,500 == floor
    assert s.status() is ChallengeStatus.FAILED
    b = s.st().breach
    assert (b.rule, b.equity, b.floor) == (DAILY, usd("9500"), usd("9500"))
    assert oracle.is_blown(_f(b.equity), 10_000.0, 500.0, 10_000.0, dd_type="static")


def test_touching_the_static_total_floor_exactly_breaches():
    s = CSim()
    s.fill(Side.BUY, "1", "30000")  # fee 15.00
    s.fill(Side.SELL, "1", "29600")  # -400, fee 14.80 -> B = 9,570.20 (daily floor 9,500: safe)
    s.at(day(1, 10))  # anchor 9,570.20, daily floor 9,070.20
    s.fill(Side.BUY, "1", "30000")  # fee 15.00 -> 9,555.20
    s.fill(Side.SELL, "1", "29600")  # -400, fee 14.80 -> B = 9,140.40
    s.at(day(2, 10))  # anchor 9,140.40, daily floor 8,640.40: the static total floor 9,000 binds now
    s.fill(Side.BUY, "1", "30000")  # fee 15 -> B = 9,125.40
    v = s.view()
    assert v.daily_floor == usd("8640.40") and v.total_floor == usd("9000")
    assert v.total_floor == usd(str(oracle.drawdown_floor(10_000.0, 1_000.0, 10_000.0, dd_type="static")))
    s.mark(BTC, "29874.7")  # E = 9,000.10
    assert s.status() is ChallengeStatus.ACTIVE
    assert not oracle.is_blown(9_000.10, 10_000.0, 1_000.0, 10_000.0, dd_type="static")
    s.mark(BTC, "29874.6")  # E = 9,000.00
    assert s.status() is ChallengeStatus.FAILED
    b = s.st().breach
    assert (b.rule, b.equity, b.floor) == (TOTAL, usd("9000"), usd("9000"))
    assert oracle.is_blown(9_000.0, 10_000.0, 1_000.0, 10_000.0, dd_type="static")


def test_a_fee_pushes_equity_over_the_edge():
    s = CSim()
    s.fill(Side.BUY, "1", "30000")  # B = 9,985
    s.mark(BTC, "29515.5")  # E = 9,500.5, half a dollar above the floor
    assert s.status() is ChallengeStatus.ACTIVE
    # selling 0.1 at the mark realizes nothing beyond what E already shows; only the fee moves E:
    # 2,951.55 x 0.05 % = 1.475775 -> E = 9,499.024225 <= 9,500
    evs = s.fill(Side.SELL, "0.1", "29515.5")
    assert s.status() is ChallengeStatus.FAILED
    b = s.st().breach
    assert (b.rule, b.equity, b.floor) == (DAILY, usd("9499.024225"), usd("9500"))
    reasons = [u.reason for u in s.updates(evs)]
    assert reasons == [UpdateReason.BREACH] and s.pos() == 0


def test_funding_pushes_equity_over_the_edge_at_the_settlement():
    s = CSim()
    s.fill(Side.BUY, "1", "30000")  # 10:00, B = 9,985
    s.mark(BTC, "29515.5", rate="0.0001")  # E = 9,500.5; the long pays 29,515.5 x 0.01 % = 2.95155 at 16:00
    s.at(day(0, 15.99))
    s.do(C.Tick())
    assert s.status() is ChallengeStatus.ACTIVE
    s.at(day(0, 16))
    evs = s.do(C.Tick())
    assert s.status() is ChallengeStatus.FAILED
    funding = [e for e in evs if isinstance(e, Income) and e.income_type is IncomeType.FUNDING_FEE]
    assert [f.amount for f in funding] == [-usd("2.95155")]
    b = s.st().breach
    assert (b.rule, b.time, b.equity, b.floor) == (DAILY, day(0, 16), usd("9497.54845"), usd("9500"))
    assert evs.index(funding[0]) < evs.index(s.updates(evs, UpdateReason.BREACH)[0])


def test_funding_stamped_at_the_rollover_belongs_to_the_new_day():
    s = CSim()
    s.fill(Side.BUY, "1", "30000")  # B = 9,985
    s.at(day(0, 16))
    s.do(C.Tick())  # the 16:00 settlement (rate 0: nothing)
    s.at(day(0, 17))
    s.mark(BTC, "30000", rate="0.001")  # the 00:00 settlement charges 30 to the long
    s.at(day(1))
    s.do(C.Tick())  # rollover (before the command) then funding (after it)
    v = s.view()
    assert v.day_open_equity == usd("9985")  # the snapshot is taken before the 00:00 funding
    assert v.balance == usd("9955") and v.current_daily_drawdown == usd("30")  # ... which counts today


# ====================================================================== trading days (§B6)
def test_trading_day_counting():
    s = CSim()
    s.fill(Side.BUY, "0.001", "30000")  # 30 USDT < 50: too small to count
    assert s.view().trading_days == 0
    s.fill(Side.BUY, "0.002", "30000")  # 60 USDT opens more exposure: day 0 counts
    assert s.view().trading_days == 1
    s.fill(Side.BUY, "0.002", "30000")  # a second fill the same day counts once
    assert s.view().trading_days == 1
    s.at(day(1, 12))  # the position is held through day 1: a multi-day hold counts once
    s.set_price(BTC, "30000")
    assert s.view().trading_days == 1
    s.at(day(2, 12))
    s.fill(Side.SELL, "0.002", "30000", reduce_only=True)  # a reduce-only close is not a trading day
    s.fill(Side.SELL, "0.002", "30000")  # nor a plain order that only reduces (0.005 -> 0.001 long)
    assert s.view().trading_days == 1 and s.pos() == qty("0.001")
    s.at(day(3, 12))
    s.fill(Side.SELL, "0.003", "30000")  # flips: closes 0.001, opens a 0.002 short (60 USDT): counts
    assert s.view().trading_days == 2 and s.pos() == qty("-0.002")
    s.at(day(4, 12))
    s.fill(Side.BUY, "0.024", "2000", sym=ETH)  # 48 USDT: no
    assert s.view().trading_days == 2
    s.fill(Side.BUY, "0.025", "2000", sym=ETH)  # exactly 50 USDT = 0.5 % of S: counts (>=)
    assert s.view().trading_days == 3
    assert s.st().last_trading_day == day(4)


# ====================================================================== passing (§B5) and the next stage
def _round_trip(s: CSim, k: int, sym: str = BTC, q: str = "0.002", price: str = "30000") -> None:
    """Day k: open 60 USDT and close it at the same price (a trading day costing 2 x 0.03 fees)."""
    s.at(day(k, 10))
    s.fill(Side.BUY, q, price, sym=sym)
    s.fill(Side.SELL, q, price, sym=sym)


def test_pass_needs_realized_target_flat_and_min_days_then_mints_stage_2_then_funded():
    s = CSim()
    s.fill(Side.BUY, "1", "30000")  # B = 9,985
    s.mark(BTC, "30850")  # E = 10,835: an unrealized "target" does not pass
    v = s.view()
    assert v.status == "ACTIVE" and set(v.pass_missing) == {"profitTarget", "noOpenPositions", "minTradingDays"}
    s.fill(Side.SELL, "1", "30850")  # +850, fee 15.425 -> B = 10,819.575: target met, flat, but 1 day of 4
    v = s.view()
    assert v.profit_current == usd("819.575") and v.pass_missing == ("minTradingDays",)
    assert s.status() is ChallengeStatus.ACTIVE
    _round_trip(s, 1)
    _round_trip(s, 2)  # B = 10,819.455, 3 days
    s.at(day(3, 10))
    s.fill(Side.BUY, "0.002", "30000")  # 4th day, but a position is open: no pass
    v = s.view()
    assert v.trading_days == 4 and v.pass_missing == ("noOpenPositions",)
    assert s.status() is ChallengeStatus.ACTIVE
    evs = s.fill(Side.SELL, "0.002", "30000")  # flat: passes on this reducing fill
    st1 = s.st()
    assert st1.status is ChallengeStatus.PASSED and st1.ended_at == day(3, 10) and st1.next_account == 2
    assert s.wallet() == usd("10819.395")  # the passed stage keeps its own balance
    created = [e for e in evs if isinstance(e, AccountCreated)]
    assert [e.account_id for e in created] == [2]
    assert [(u.account_id, u.reason) for u in s.updates(evs) if u.reason in (UpdateReason.PASS, UpdateReason.START)] \
        == [(1, UpdateReason.PASS), (2, UpdateReason.START)]
    st2 = s.st(2)
    assert (st2.stage, st2.challenge_id, st2.previous_account, st2.status) == ("STAGE_2", CID, 1, ChallengeStatus.ACTIVE)
    assert s.wallet(2) == usd("10000") and st2.start_balance == usd("10000") and st2.started_at == day(3, 10)
    assert s.v.stage_account(1) == 2 and s.v.challenge_accounts[CID] == [1, 2]
    assert s.view(2).profit_target == usd("500") and s.view(2).trading_days == 0
    e = s.reject(s.order_cmd(Side.BUY, "0.002"))  # the passed stage is locked
    assert e.code == -2010 and "STAGE_1" in e.msg and "passed" in e.msg

    # STAGE_2 on account 2: 5 % = 500, 4 days
    s.fill(Side.BUY, "1", "30000", account=2)  # fee 15
    s.fill(Side.SELL, "1", "30600", account=2)  # +600, fee 15.30 -> B = 10,569.70: 1 day
    assert s.status(2) is ChallengeStatus.ACTIVE and s.view(2).pass_missing == ("minTradingDays",)
    s.account = 2
    _round_trip(s, 4)
    _round_trip(s, 5)
    s.at(day(6, 10))
    s.fill(Side.BUY, "0.002", "30000")
    s.fill(Side.SELL, "0.002", "30000")
    assert s.status(2) is ChallengeStatus.PASSED and s.st(2).next_account == 3
    st3 = s.st(3)
    assert (st3.stage, st3.challenge_id, st3.previous_account) == ("FUNDED", CID, 2)
    assert s.wallet(3) == usd("10000") and s.v.stage_account(1) == 3
    s.account = 3
    _round_trip(s, 7, price="30000")
    s.fill(Side.BUY, "1", "30000")
    s.fill(Side.SELL, "1", "31000")  # FUNDED never "passes"
    assert s.status(3) is ChallengeStatus.ACTIVE and s.view(3).pass_missing == ()


def test_open_orders_block_the_pass_until_they_are_gone():
    s = CSim()
    for k in range(3):
        _round_trip(s, k)
    s.at(day(3, 10))
    s.fill(Side.BUY, "1", "30000")
    s.order(Side.BUY, "0.01", type=OrderType.LIMIT, price="29000")  # resting: could reopen a position
    s.order(Side.SELL, "0.01", type=OrderType.STOP_MARKET, stop_price=px("28000"))
    s.fill(Side.SELL, "1", "31000")  # target, flat, 4 days — but orders are open
    assert s.status() is ChallengeStatus.ACTIVE and s.view().pass_missing == ()
    oid = next(iter(s.v.acct_orders[1]))
    s.do(C.CancelOrder(1, BTC, order_id=oid))
    assert s.status() is ChallengeStatus.ACTIVE  # the stop order is still open
    algo = next(iter(s.v.acct_algos[1]))
    s.later(1000)
    evs = s.do(C.CancelAlgoOrder(1, BTC, algo_id=algo))  # nothing can open a position any more: passes
    assert s.status() is ChallengeStatus.PASSED and s.st().ended_at == day(3, 10) + 1000
    assert [u.reason for u in s.updates(evs, account=1)] == [UpdateReason.PASS]
    assert s.st(2).started_at == day(3, 10) + 1000 and s.wallet(2) == usd("10000")


# ====================================================================== breach handling (§B9)
def test_breach_flattens_cancels_and_keeps_evidence():
    s = CSim()
    s.fill(Side.BUY, "1", "30000")  # fee 15
    s.fill(Side.SELL, "5", "2000", sym=ETH)  # short 5 ETH, fee 5 -> B = 9,980
    s.order(Side.BUY, "0.01", type=OrderType.LIMIT, price="29000")
    s.order(Side.SELL, "1", sym=ETH, type=OrderType.STOP_MARKET, stop_price=px("2100"), reduce_only=True)
    s.order(Side.BUY, "1", sym=ETH, type=OrderType.STOP_MARKET, stop_price=px("2050"), reduce_only=True)
    assert len(s.v.acct_orders[1]) == 1 and len(s.v.acct_algos[1]) == 2
    s.mark(ETH, "2010")  # ETH short -50 -> E = 9,930
    evs = s.mark(BTC, "29580")  # BTC long -420 -> E = 9,510
    assert s.status() is ChallengeStatus.ACTIVE
    evs = s.mark(BTC, "29570")  # E = 9,500: breach
    st = s.st()
    assert st.status is ChallengeStatus.FAILED and st.fail_reason == DAILY
    b = st.breach
    assert b.marks == ((BTC, px("29570")), (ETH, px("2010")))
    assert (b.equity, b.balance, b.floor, b.time) == (usd("9500"), usd("9980"), usd("9500"), START)
    assert not s.v.acct_positions.get(1) and not s.v.acct_orders.get(1) and not s.v.acct_algos.get(1)
    closes = [e.order for e in evs if isinstance(e, OrderUpdated) and e.order.client_order_id.startswith("challenge-breach-")]
    assert sorted((o.symbol, o.side, o.status) for o in closes if o.status is OrderStatus.FILLED) == [
        (BTC, Side.SELL, OrderStatus.FILLED), (ETH, Side.BUY, OrderStatus.FILLED)]
    cancelled = [e.order for e in evs if isinstance(e, OrderUpdated) and e.order.status is OrderStatus.CANCELED]
    assert [o.price for o in cancelled] == [px("29000")]
    algos = [e.algo for e in evs if isinstance(e, AlgoUpdated)]
    assert sorted(a.trigger_price for a in algos if a.status is AlgoStatus.CANCELED) == [px("2050"), px("2100")]
    # closing fees at the marks: 29,570 x 0.05 % = 14.785 and 10,050 x 0.05 % = 5.025
    assert s.wallet() == usd("9500") - usd("14.785") - usd("5.025")
    # the BREACH update carries the evidence and the flat account
    u = s.updates(evs, UpdateReason.BREACH)[-1]
    assert u.view.breach == b and u.view.open_positions == 0 and u.view.status == "FAILED"
    # read-only: new orders on any symbol, reduce-only ones too
    for cmd in (s.order_cmd(Side.BUY, "0.002"), s.order_cmd(Side.SELL, "0.1", sym=ETH, reduce_only=True)):
        e = s.reject(cmd)
        assert e.code == -2010 and "DAILY_DRAWDOWN" in e.msg
    # the evidence survives later marks
    s.mark(BTC, "31000")
    assert s.st().breach == b


def test_operator_fail_flattens_and_locks():
    s = CSim()
    s.fill(Side.BUY, "0.5", "30000")
    evs = s.do(C.FailChallenge(1, "copy trading"))
    st = s.st()
    assert st.status is ChallengeStatus.FAILED and st.fail_reason == "RULE_VIOLATION"
    assert st.breach.detail == "copy trading" and st.breach.marks == ((BTC, px("30000")),) and s.pos() == 0
    assert s.reject(C.FailChallenge(1, "again")).code == -2010
    assert s.updates(evs, UpdateReason.BREACH)


# ====================================================================== pre-trade rules (risk stage)
def test_whitelist_rejects_other_symbols():
    s = CSim(source=product_source(symbolsWhitelist=["BTCUSDT"], symbolLeverage={"BTCUSDT": 5}))
    e = s.reject(s.order_cmd(Side.BUY, "0.1", sym=ETH))
    assert e.code == -2010 and "symbolsWhitelist" in e.msg and "ETHUSDT" in e.msg
    s.fill(Side.BUY, "0.01", "30000")
    assert s.pos() == qty("0.01")


def test_leverage_cap_clamped_at_start_and_enforced_at_set_leverage():
    s = CSim(pid="10k-1step")  # caps: BTC 3x, ETH 2x
    acct = s.v.accounts[1]
    assert acct.symbol_settings(BTC).leverage == 3 and acct.symbol_settings(ETH).leverage == 2
    e = s.reject(C.SetLeverage(1, ETH, 3))
    assert e.code == -2010 and "maxLeverage" in e.msg and "2x" in e.msg
    e = s.reject(C.SetLeverage(1, BTC, 4))
    assert e.code == -2010 and "3x" in e.msg
    s.do(C.SetLeverage(1, BTC, 2))
    assert acct.symbol_settings(BTC).leverage == 2
    # a plain account is not capped by any product
    s.do(C.CreateAccount(9, "plain"))
    s.do(C.SetLeverage(9, BTC, 50))


def test_notional_caps_per_symbol_and_per_account():
    s = CSim()
    s.fill(Side.BUY, "1", "30000")  # E = 9,985 -> caps 5 x 9,985 = 49,925
    e = s.reject(s.order_cmd(Side.BUY, "0.7", type=OrderType.LIMIT, price="29000"))  # 30,000 + 20,300
    assert e.code == -2010 and "49925" in e.msg and "BTCUSDT" in e.msg
    s.order(Side.BUY, "0.6", type=OrderType.LIMIT, price="29000")  # 47,400: accepted (rests)
    e = s.reject(s.order_cmd(Side.BUY, "10", sym=ETH))  # ETH alone 20,000 but the account 50,000
    assert e.code == -2010 and "account" in e.msg
    # reducing exposure is never capped
    s.fill(Side.SELL, "0.5", "30000")
    assert s.pos() == qty("0.5")


def test_news_window_rejects_new_orders_inside_only():
    src = product_source(newsTradingForbidden=True,
                         newsWindows=[{"start": "2025-11-17T12:00:00+00:00", "end": "2025-11-17T12:02:00+00:00"}])
    s = CSim(source=src)
    s.at(day(0, 11.99))
    s.fill(Side.BUY, "0.01", "30000")
    s.at(day(0, 12))  # start inclusive
    e = s.reject(s.order_cmd(Side.BUY, "0.01"))
    assert e.code == -2010 and "newsTradingForbidden" in e.msg and "12:02:00" in e.msg
    s.at(day(0, 12) + 119_999)
    assert s.reject(s.order_cmd(Side.SELL, "0.01", reduce_only=True)).code == -2010  # closing too
    s.at(day(0, 12) + 120_000)  # end exclusive
    s.fill(Side.BUY, "0.01", "30000")
    assert s.pos() == qty("0.02")


def test_stale_feed_pauses_evaluation_and_rejects_new_exposure():
    s = CSim()
    s.fill(Side.BUY, "1", "30000")  # B = 9,985
    s.fill(Side.BUY, "1", "2000", sym=ETH)  # fee 1 -> B = 9,984
    s.do(C.FeedStatus(BTC, True))
    assert s.view().evaluation_paused
    e = s.reject(s.order_cmd(Side.SELL, "0.1"))
    assert e.code == -2010 and "stale" in e.msg
    # new ETH exposure on an account whose evaluation is paused is refused too; reducing ETH is allowed
    e = s.reject(s.order_cmd(Side.BUY, "0.1", sym=ETH))
    assert e.code == -2010 and "paused" in e.msg and "BTCUSDT" in e.msg
    s.fill(Side.SELL, "0.5", "2000", sym=ETH)  # fee 0.5 -> B = 9,983.5, long 0.5 ETH
    assert s.pos(ETH) == qty("0.5")
    # the (stale) BTC mark falls far below the floor: nothing is evaluated on stale prices
    evs = s.mark(BTC, "29000")  # E = 9,983.5 - 1,000 = 8,983.5
    assert s.status() is ChallengeStatus.ACTIVE and not s.updates(evs)
    evs = s.mark(ETH, "1999")  # a fresh symbol's mark does not evaluate a paused account either
    assert s.status() is ChallengeStatus.ACTIVE and not s.updates(evs)
    evs = s.do(C.FeedStatus(BTC, False))  # fresh again: evaluated at once
    assert s.status() is ChallengeStatus.FAILED and not s.view().evaluation_paused
    b = s.st().breach
    # E = 9,983.5 - 1,000 - 0.5 = 8,983: both floors are met; the daily one (9,500) is the higher
    assert (b.rule, b.equity, b.marks) == (DAILY, usd("8983"), ((BTC, px("29000")), (ETH, px("1999"))))
    assert [u.reason for u in s.updates(evs)] == [UpdateReason.BREACH]


# ====================================================================== warnings (§C)
def test_warnings_at_50_80_95_once_per_day_and_total_once():
    s = CSim()
    s.fill(Side.BUY, "1", "30000")  # B = 9,985
    evs = s.mark(BTC, "29765")  # E = 9,750: 250 of 500 used today (50 %)
    assert [u.new_warnings for u in s.updates(evs)] == [((DAILY, 50),)]
    assert [u.reason for u in s.updates(evs)] == [UpdateReason.WARNING]
    evs = s.mark(BTC, "29800") + s.mark(BTC, "29765")  # back up and down again: no repeat
    assert not s.updates(evs)
    evs = s.mark(BTC, "29540")  # E = 9,525: 80 % (9,600) and 95 % (9,525) in one update
    assert [u.new_warnings for u in s.updates(evs)] == [((DAILY, 80), (DAILY, 95))]
    assert s.view().warnings == ((DAILY, 50), (DAILY, 80), (DAILY, 95))
    s.fill(Side.SELL, "1", "29700")  # -300, fee 14.85 -> B = 9,670.15 (the warnings stay)
    # day 1: anchor 9,670.15, daily levels 9,420.15 / 9,270.15 / 9,195.15; total levels 9,500 / 9,200 / 9,050
    s.at(day(1, 10))
    evs = s.fill(Side.BUY, "1", "30000")  # the rollover resets the daily warnings; fee 15 -> B = 9,655.15
    assert s.st().warned_daily == () and s.st().warned_total == ()
    evs = s.mark(BTC, "29844.85")  # E = 9,500.00: total 50 % (daily only 34 %)
    assert [u.new_warnings for u in s.updates(evs)] == [((TOTAL, 50),)]
    evs = s.mark(BTC, "29765")  # E = 9,420.15: daily 50 % again, exactly at the level
    assert [u.new_warnings for u in s.updates(evs)] == [((DAILY, 50),)]
    evs = s.mark(BTC, "29600")  # E = 9,255.15: daily 80 %; total 80 % (9,200) not yet
    assert [u.new_warnings for u in s.updates(evs)] == [((DAILY, 80),)]
    # day 2: anchor = max(9,655.15, 9,255.15): 400 of 500 are already used at the rollover -> 50 and 80 with it
    s.at(day(2, 10))
    evs = s.do(C.Tick())
    roll = s.updates(evs, UpdateReason.ROLLOVER)
    assert len(roll) == 1 and roll[0].new_warnings == ((DAILY, 50), (DAILY, 80))
    assert s.st().warned_total == (50,)  # the total limit's warnings are per stage, not per day
    evs = s.mark(BTC, "29545")  # E = 9,655.15 - 455 = 9,200.15: 5 cents above total 80 %; daily 95 % is 9,180.15
    assert not s.updates(evs)
    evs = s.mark(BTC, "29544.8")  # E = 9,199.95: total 80 %
    assert [u.new_warnings for u in s.updates(evs)] == [((TOTAL, 80),)]
    assert s.status() is ChallengeStatus.ACTIVE


# ====================================================================== max days and inactivity (§B7)
def test_max_days_fails_at_the_rollover_after_the_limit():
    s = CSim(source=product_source(stage_overrides={"maxDays": 3}))  # started day 0 10:00
    s.fill(Side.BUY, "0.1", "30000")
    s.at(day(3, 23.9))  # day 3 00:00 < start + 3 days (day 3 10:00): still running
    s.do(C.Tick())
    assert s.status() is ChallengeStatus.ACTIVE and s.view().max_days == 3
    s.at(day(4, 0.5))
    evs = s.do(C.Tick())
    st = s.st()
    assert st.status is ChallengeStatus.FAILED and st.fail_reason == "MAX_DAYS"
    assert st.breach.time == day(4) and "3 days" in st.breach.detail and s.pos() == 0
    assert s.updates(evs, UpdateReason.BREACH)


def test_inactivity_fails_30_days_after_the_last_fill():
    s = CSim()
    s.at(day(5, 10))
    s.fill(Side.BUY, "0.002", "30000")  # last activity day 5 10:00
    s.fill(Side.SELL, "0.002", "30000")
    s.at(day(35, 23))  # one Tick catches up 30 rollovers: day 35 00:00 < day 5 10:00 + 30 days
    s.do(C.Tick())
    assert s.status() is ChallengeStatus.ACTIVE and s.st().day_start == day(35)
    s.at(day(36, 0))
    s.do(C.Tick())
    st = s.st()
    assert st.status is ChallengeStatus.FAILED and st.fail_reason == "INACTIVITY" and st.breach.time == day(36)
    # and without any fill the clock runs from the start (day 0 10:00)
    s2 = CSim()
    s2.at(day(30, 12))
    s2.do(C.Tick())
    assert s2.status() is ChallengeStatus.ACTIVE
    s2.at(day(31, 0))
    s2.do(C.Tick())
    assert s2.st().fail_reason == "INACTIVITY"


# ====================================================================== hedge mode and isolated positions
def test_hedge_mode_isolated_challenge_breach_flattens_both_sides():
    s = CSim(account=1)
    # a challenge account can switch modes only while flat (the venue's own rule)
    s.do(C.SetPositionMode(1, True))
    s.do(C.SetMarginType(1, BTC, MarginType.ISOLATED))
    s.fill(Side.BUY, "1", "30000", position_side=PositionSide.LONG)  # fee 15
    s.fill(Side.SELL, "0.5", "30000", position_side=PositionSide.SHORT)  # fee 7.5 -> B = 9,977.5
    # net long 0.5: E = 9,977.5 + 0.5 x (mark - 30,000); floor 9,500 -> mark 29,045
    s.mark(BTC, "29045.1")
    assert s.status() is ChallengeStatus.ACTIVE
    s.mark(BTC, "29045")
    assert s.status() is ChallengeStatus.FAILED and s.st().breach.equity == usd("9500")
    assert s.pos(side=PositionSide.LONG) == 0 and s.pos(side=PositionSide.SHORT) == 0


@pytest.mark.parametrize("bad", ["nope", "{}", product_source(stage_overrides={"name": "X"})])
def test_start_challenge_rejects_bad_products_and_non_flat_accounts(bad):
    s = CSim()
    s.do(C.CreateAccount(5, "x"))
    e = s.reject(C.StartChallenge(5, CID, bad))
    assert e.code == -1130 and "product" in e.msg and 5 not in s.v.challenges
    assert s.reject(C.StartChallenge(1, CID, s.source)).code == -4602  # already a challenge
    s.do(C.CreateAccount(6, "y"))
    s.do(C.Transfer(6, usd("1000")))
    s.do(C.PlaceOrder(6, BTC, Side.BUY, OrderType.MARKET, quantity=qty("0.01")))
    assert s.reject(C.StartChallenge(6, CID, s.source)).code == -4602  # holds a position


def test_rollover_at_a_configured_minute_and_catch_up_over_a_gap():
    s = CSim(source=product_source(dayRolloverUtc="00:30"))
    assert s.st().day_start == day(0, 0.5) and s.view().next_rollover_at == day(1, 0.5)  # started day 0 10:00
    assert s.view().day_rollover_utc == "00:30"
    s.fill(Side.BUY, "0.1", "30000")
    s.at(day(1, 0.5) - 1)  # 00:29:59.999: still day 0
    evs = s.do(C.Tick())
    assert not s.updates(evs, UpdateReason.ROLLOVER) and s.st().day_start == day(0, 0.5)
    s.at(day(1, 0.5))  # exactly R_d belongs to the new day
    evs = s.do(C.Tick())
    assert [u.ts for u in s.updates(evs, UpdateReason.ROLLOVER)] == [day(1, 0.5)]
    s.at(day(4, 3))  # three days without a command: one catch-up rollover, to the last R_d
    evs = s.do(C.Tick())
    roll = s.updates(evs, UpdateReason.ROLLOVER)
    assert len(roll) == 1 and roll[0].ts == day(4, 0.5) and s.st().day_start == day(4, 0.5)
    assert s.view().trading_days == 1


def test_a_stop_entry_that_triggers_inside_a_news_window_is_rejected_but_a_protective_stop_fires():
    """The rules hold when a conditional order triggers, not only when it is placed: a stop-entry (opens exposure)
    triggering inside a news window is rejected; a reduce-only protective stop still closes the position."""
    src = product_source(newsTradingForbidden=True,
                         newsWindows=[{"start": "2025-11-17T12:00:00+00:00", "end": "2025-11-17T12:02:00+00:00"}])
    s = CSim(source=src)
    s.at(day(0, 11.9))
    s.fill(Side.BUY, "0.01", "30000")
    mark = {"working_type": WorkingType.MARK_PRICE}
    s.order(Side.BUY, "0.01", type=OrderType.STOP_MARKET, stop_price=px("30100"), **mark)  # stop-entry: adds exposure
    s.order(Side.SELL, "0.01", type=OrderType.STOP_MARKET, stop_price=px("29900"), reduce_only=True, **mark)
    s.at(day(0, 12) + 1000)  # inside the window
    evs = s.set_price(BTC, "30200")
    rejected = [e for e in evs if type(e).__name__ == "TriggerRejected"]
    assert rejected and "newsTradingForbidden" in rejected[0].reason and s.pos() == qty("0.01")
    evs = s.set_price(BTC, "29800")
    assert s.pos() == 0 and not any(type(e).__name__ == "TriggerRejected" for e in evs)
