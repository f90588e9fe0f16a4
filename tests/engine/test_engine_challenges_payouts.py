"""Payouts (§B8, debit mode), the end-of-day trailing total floor (10k-1step) and the consistency rule, through a
real Venue. Drawdown floors and the consistency gate are cross-checked against propfirm-calc (floats; the
amounts here are exact in binary), the payout cap against an independent Decimal computation."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import propfirm_calc as oracle
import pytest

from alfax.domain.challenge_state import ChallengeStatus, PayoutStatus
from alfax.domain.errors import VenueError
from test_engine_challenges_support import (BTC, C, CSim, Side, UpdateReason, day, product_source, usd)

P1, P2, P3, P4 = ("11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222",
                  "33333333-3333-4333-8333-333333333333", "44444444-4444-4444-8444-444444444444")


def _f(raw: int) -> float:
    return raw / 10**8


def _cap(equity: int, start: int, split_bps: int) -> int:
    """The SDK's formula, clamped (§B8), in Decimal: max(0, E - S) x split, rounded down to the cent."""
    d = max(Decimal(0), (Decimal(equity) - Decimal(start)) / 10**8) * split_bps / 10_000
    return int(d.quantize(Decimal("0.01"), ROUND_DOWN) * 10**8)


def _funded(pid: str = "10k-2step", **kw) -> CSim:
    s = CSim(pid=pid, stage="FUNDED", **kw)
    s.fill(Side.BUY, "1", "30000")  # fee 15
    s.fill(Side.SELL, "1", "31000")  # +1,000, fee 15.50 -> B = E = 10,969.50
    return s


def _decide(s: CSim, pid: str, approve: bool = True, **kw):
    evs = s.do(C.DecidePayout(pid, approve, **kw))
    return s.v.payouts[pid], evs


# ====================================================================== the cap
def test_payout_cap_approval_debit_and_the_shrinking_cap():
    s = _funded()
    v = s.view()
    # cap = (10,969.50 - 10,000) x 80 % = 775.60
    assert v.payout_available == usd("775.60") == _cap(v.equity, v.start_balance, 8000)
    # over the cap: accepted as requested, rejected at approval with "exceeds available"
    evs = s.do(C.RequestPayout(1, P1, usd("775.61")))
    assert [p.payout.status for p in s.payouts(evs)] == [PayoutStatus.REQUESTED]
    po, evs = _decide(s, P1)
    assert po.status is PayoutStatus.REJECTED and "exceeds available 775.6 USDT" in po.fail_reason
    assert s.wallet() == usd("10969.50") and po.debited == 0
    assert s.reject(C.DecidePayout(P1, True)).code == -4604  # decided already
    assert s.reject(C.DecidePayout("nope", True)).code == -4603
    # 400 paid: the gross profit behind it (400 / 80 % = 500) leaves the balance and every reference
    anchor0 = s.st().day_anchor
    s.do(C.RequestPayout(1, P2, usd("400")))
    po, evs = _decide(s, P2, tx_ref="0xabc")
    assert (po.status, po.debited, po.tx_ref) == (PayoutStatus.PAID, usd("500"), "0xabc")
    assert s.wallet() == usd("10469.50") and s.st().paid_total == usd("400")
    assert s.st().day_anchor == anchor0 - usd("500") and s.st().high_water == usd("10000") - usd("500")
    assert [u.reason for u in s.updates(evs)] == [UpdateReason.PAYOUT]
    v = s.view()
    # the cap shrinks with the debit: (10,469.50 - 10,000) x 80 % = 375.60
    assert v.payout_available == usd("375.60") == _cap(v.equity, v.start_balance, 8000)
    assert v.room_daily == usd("10469.50") - (usd("9500") - usd("500"))  # the day's room did not change


def test_payout_cap_is_clamped_at_zero_after_losses():
    s = CSim(stage="FUNDED")
    s.fill(Side.BUY, "1", "30000")
    s.fill(Side.SELL, "1", "29900")  # -100, fees 29.95 -> B = 9,870.05
    assert s.view().payout_available == 0 == _cap(s.view().equity, usd("10000"), 8000)
    s.do(C.RequestPayout(1, P1, usd("50")))
    po, _ = _decide(s, P1)
    assert po.status is PayoutStatus.REJECTED and "exceeds available 0 USDT" in po.fail_reason
    assert s.wallet() == usd("9870.05")


def test_payout_gates_minimum_open_positions_non_funded_and_cadence():
    s = _funded()
    s.do(C.RequestPayout(1, P1, usd("49.99")))
    po, _ = _decide(s, P1)
    assert po.status is PayoutStatus.REJECTED and "below the minimum payout of 50 USDT" in po.fail_reason
    assert "exceeds" not in po.fail_reason
    # sub-cent and non-positive amounts are refused at the request
    for bad in (usd("100.001"), 0, -usd("1")):
        with_err = s.reject(C.RequestPayout(1, P4, bad))
        assert with_err.code == -4605
    # an open position blocks
    s.fill(Side.BUY, "0.01", "31000")  # fee 0.155
    s.do(C.RequestPayout(1, P2, usd("100")))
    po, _ = _decide(s, P2)
    assert po.status is PayoutStatus.REJECTED and "open positions" in po.fail_reason
    s.fill(Side.SELL, "0.01", "31000")  # fee 0.155 -> B = 10,969.19, cap 775.35
    assert s.view().payout_available == usd("775.35")
    s.do(C.RequestPayout(1, P3, usd("100")))
    po, _ = _decide(s, P3)
    assert po.status is PayoutStatus.PAID and s.st().last_payout_at == s.clock.ms
    paid_at = s.clock.ms
    # cadence: 14 days from the last paid payout (day 0 10:00 -> day 14 10:00)
    s.at(day(13, 23))
    s.do(C.RequestPayout(1, P4, usd("100")))
    po, _ = _decide(s, P4)
    assert po.status is PayoutStatus.REJECTED and "payout cadence" in po.fail_reason
    assert "2025-12-01 10:00:00" in po.fail_reason and paid_at == day(0, 10)
    s.at(day(14, 10))
    s.do(C.RequestPayout(1, "55555555-5555-4555-8555-555555555555", usd("100")))
    po, _ = _decide(s, "55555555-5555-4555-8555-555555555555")
    assert po.status is PayoutStatus.PAID and s.st().paid_total == usd("200")
    # the operator can reject with a reason
    s.do(C.RequestPayout(1, "66666666-6666-4666-8666-666666666666", usd("60")))
    po, _ = _decide(s, "66666666-6666-4666-8666-666666666666", approve=False, reason="KYC pending")
    assert po.status is PayoutStatus.REJECTED and po.fail_reason == "KYC pending"


def test_payout_on_a_non_funded_stage_is_rejected_at_approval():
    s = CSim()  # STAGE_1
    s.fill(Side.BUY, "1", "30000")
    s.fill(Side.SELL, "1", "31000")
    assert s.view().payout_available == 0
    s.do(C.RequestPayout(1, P1, usd("100")))
    po, _ = _decide(s, P1)
    assert po.status is PayoutStatus.REJECTED and "ACTIVE FUNDED account" in po.fail_reason
    assert "STAGE_1" in po.fail_reason
    e = s.reject(C.RequestPayout(1, P1, usd("100")))  # the id is taken
    assert e.code == -1130
    s.do(C.CreateAccount(7, "plain"))
    assert s.reject(C.RequestPayout(7, P2, usd("100"))).code == -4601


def test_payout_on_a_failed_funded_account_is_rejected():
    s = _funded()
    s.do(C.RequestPayout(1, P1, usd("100")))
    s.do(C.FailChallenge(1, "abuse"))
    po, _ = _decide(s, P1)
    assert po.status is PayoutStatus.REJECTED and "FUNDED FAILED" in po.fail_reason


# ====================================================================== trailing_eod total floor (10k-1step)
def test_trailing_eod_high_water_mark_moves_only_at_rollover_and_locks_at_start():
    s = CSim(pid="10k-1step")  # total 6 % = 600 trailing at end of day, locked at S; daily 3 % = 300
    assert s.view().total_floor == usd("9400")
    s.fill(Side.BUY, "0.9", "30000")  # fee 13.50
    s.mark(BTC, "31000")  # +900 unrealized intraday: the HWM does not follow open profit
    assert s.view().total_floor == usd("9400") and s.st().high_water == usd("10000")
    s.fill(Side.SELL, "0.9", "30250")  # +225, fee 13.6125 -> B = 10,197.8875
    assert s.view().total_floor == usd("9400")  # nor realized profit before the day ends
    s.at(day(1, 10))
    s.do(C.Tick())
    hwm = usd("10197.8875")
    assert s.st().high_water == hwm
    v = s.view()
    assert v.total_floor == usd("9597.8875") and v.high_water == hwm
    assert v.total_floor == usd(repr(oracle.drawdown_floor(10_000.0, 600.0, _f(hwm), dd_type="eod_trailing")))
    s.fill(Side.BUY, "0.9", "30000")  # fee 13.50
    s.fill(Side.SELL, "0.9", "30600")  # +540, fee 13.77 -> B = 10,710.6175
    s.at(day(2, 10))
    s.do(C.Tick())
    assert s.st().high_water == usd("10710.6175")
    v = s.view()
    # 10,710.6175 - 600 = 10,110.6175 > S: locked at 10,000
    assert v.total_floor == usd("10000")
    assert v.total_floor == usd(repr(oracle.drawdown_floor(10_000.0, 600.0, 10_710.6175, dd_type="eod_trailing")))
    # a losing day never lowers it
    s.fill(Side.BUY, "0.9", "30000")
    s.fill(Side.SELL, "0.9", "29800")  # -180, fees 26.91
    s.at(day(3, 10))
    s.do(C.Tick())
    assert s.st().high_water == usd("10710.6175") and s.view().total_floor == usd("10000")


def test_trailing_eod_floor_breaches_when_touched():
    # daily limit widened to 10 % so that the trailing total floor is the binding one
    s = CSim(source=product_source("10k-1step", stage_overrides={"maxDailyDrawdown": "0.10"}))
    s.fill(Side.BUY, "0.9", "30000")
    s.fill(Side.SELL, "0.9", "30250")  # B = 10,197.8875
    s.at(day(1, 10))
    s.fill(Side.BUY, "0.9", "30000")  # fee 13.50 -> B = 10,184.3875; total floor 9,597.8875
    v = s.view()
    assert v.total_floor == usd("9597.8875") and v.daily_floor < v.total_floor
    # E = 10,184.3875 + 0.9 x (m - 30,000) = 9,597.8875  <=>  m = 29,348.333..
    s.mark(BTC, "29348.4")  # E = 10,184.3875 - 586.44 = 9,597.9475: 6 cents above
    assert s.status() is ChallengeStatus.ACTIVE and s.view().room_total == usd("0.06")
    assert not oracle.is_blown(9_597.9475, 10_000.0, 600.0, 10_197.8875, dd_type="eod_trailing")
    s.mark(BTC, "29348.3")  # E = 10,184.3875 - 586.53 = 9,597.8575
    assert s.status() is ChallengeStatus.FAILED
    b = s.st().breach
    assert (b.rule, b.floor, b.equity) == ("TOTAL_DRAWDOWN", usd("9597.8875"), usd("9597.8575"))
    assert oracle.is_blown(_f(b.equity), 10_000.0, 600.0, 10_197.8875, dd_type="eod_trailing")


def _funded_1step_two_equal_days() -> CSim:
    s = CSim(pid="10k-1step", stage="FUNDED")  # split 90 %
    s.fill(Side.BUY, "0.9", "30000")  # fee 13.50
    s.fill(Side.SELL, "0.9", "31000")  # +900, fee 13.95 -> B = 10,872.55
    s.at(day(1, 10))
    s.do(C.Tick())
    assert s.st().high_water == usd("10872.55") and s.view().total_floor == usd("10000")
    # consistency on a funded 1-step account: the whole profit is one day -> blocked (not a failure)
    s.do(C.RequestPayout(1, P1, usd("90")))
    po, _ = _decide(s, P1)
    assert po.status is PayoutStatus.REJECTED and "consistency" in po.fail_reason
    res = oracle.payout_eligibility(872.55, best_day_profit=872.55, consistency_pct=50.0)
    assert not res.eligible and res.consistency_met is False
    # a second, equal day makes the best day exactly 50 % of the total
    s.fill(Side.BUY, "0.9", "30000")
    s.fill(Side.SELL, "0.9", "31000")  # +872.55 again (same fees) -> B = 11,745.10
    v = s.view()
    assert v.best_day_profit == usd("872.55") and v.profit_current == usd("1745.10")
    assert oracle.payout_eligibility(1745.10, best_day_profit=872.55, consistency_pct=50.0).eligible
    # cap = 1,745.10 x 90 % = 1,570.59; debit = 900 / 90 % = 1,000
    assert v.payout_available == usd("1570.59") == _cap(v.equity, v.start_balance, 9000)
    s.do(C.RequestPayout(1, P2, usd("900")))
    po, _ = _decide(s, P2)
    assert po.status is PayoutStatus.PAID and po.debited == usd("1000")
    return s


def test_payout_debit_lowers_the_trailing_high_water_mark():
    s = _funded_1step_two_equal_days()
    assert s.st().high_water == usd("9872.55")  # 10,872.55 lowered by the 1,000 debit
    assert s.wallet() == usd("10745.10")
    assert s.view().total_floor <= usd("9400")  # the lock at S no longer holds once the HWM is below S
    assert s.st().best_day_profit == 0  # consistency restarts with the payout cycle


def test_trailing_floor_after_a_payout_follows_the_lowered_high_water_mark():
    s = _funded_1step_two_equal_days()
    v = s.view()
    # §B4: totalFloor = min(HWM - L_tot, S) with the HWM lowered by the debit: 9,872.55 - 600 = 9,272.55
    assert v.total_floor == usd(repr(oracle.drawdown_floor(10_000.0, 600.0, 9_872.55, dd_type="eod_trailing")))
    assert v.total_floor == usd("9272.55")


# ====================================================================== consistency (bestDayPct) blocks the pass
def _tiny_day(s: CSim, k: int) -> None:
    s.at(day(k, 10))
    s.fill(Side.BUY, "0.002", "30000")
    s.fill(Side.SELL, "0.002", "30000")  # fees 0.06


def test_consistency_rule_blocks_the_pass_until_the_best_day_is_at_most_half():
    s = CSim(pid="10k-1step")  # target 10 % = 1,000, 5 days, best day <= 50 % of the total profit
    for k in range(4):
        _tiny_day(s, k)  # B = 9,999.76, 4 days
    s.at(day(4, 10))
    s.fill(Side.BUY, "0.9", "30000")  # fee 13.50
    s.fill(Side.SELL, "0.9", "31200")  # +1,080, fee 14.04 -> B = 11,052.22 (day +1,052.46)
    v = s.view()
    assert (v.trading_days, v.profit_current, v.open_positions) == (5, usd("1052.22"), 0)
    assert v.best_day_profit == usd("1052.46") and v.pass_missing == ("consistency",)
    assert s.status() is ChallengeStatus.ACTIVE  # blocked, not failed
    assert not oracle.consistency_ok(1052.46, 1052.22, 50.0)
    s.at(day(5, 10))
    s.fill(Side.BUY, "0.9", "30000")  # fee 13.50
    s.fill(Side.SELL, "0.9", "30700")  # +630, fee 13.815 -> day +602.685, B = 11,654.905
    v = s.view()
    assert v.best_day_profit == usd("1052.46") and v.pass_missing == ("consistency",)
    assert not oracle.consistency_ok(1052.46, 1654.905, 50.0)
    assert oracle.required_profit(1052.46, 50.0) == 2104.92
    s.at(day(6, 10))
    s.fill(Side.BUY, "0.9", "30000")
    s.fill(Side.SELL, "0.9", "30700")  # B = 12,257.59: 1,052.46 <= 50 % of 2,257.59
    assert oracle.consistency_ok(1052.46, 2257.59, 50.0)
    assert s.status() is ChallengeStatus.PASSED and s.st(2).stage == "FUNDED"


def test_consistency_view_matches_propfirm_calc_at_every_step():
    s = CSim(pid="10k-1step")
    steps = [("30000", "30300"), ("30000", "30100"), ("30000", "30500"), ("30000", "29950"), ("30000", "30200"),
             ("30000", "30300"), ("30000", "30300"), ("30000", "30300")]
    seen = set()
    for k, (a, b) in enumerate(steps):
        s.at(day(k, 10))
        s.fill(Side.BUY, "0.5", a)
        s.fill(Side.SELL, "0.5", b)
        v = s.view()
        assert v.status == "ACTIVE" and v.profit_current < v.profit_target
        ok = oracle.consistency_ok(_f(v.best_day_profit), _f(v.profit_current), 50.0)
        assert ("consistency" not in v.pass_missing) == ok, (k, v.best_day_profit, v.profit_current)
        seen.add(ok)
    assert seen == {True, False}


def test_request_payout_unknown_account_and_amount_errors_leave_state_unchanged():
    s = _funded()
    h = s.v.state_hash()
    try:
        s.v.handle(C.RequestPayout(1, "", usd("100")))
    except VenueError as e:
        assert e.code == -1130
    else:
        raise AssertionError("an empty payout id must be refused")
    assert s.v.state_hash() == h
