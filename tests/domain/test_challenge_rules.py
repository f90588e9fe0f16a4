"""Challenge rule arithmetic by hand (shared/reference/challenge-rules.md §B), one case per definition."""

from __future__ import annotations

import pytest

from alfax.domain.challenge import (
    DAY_MS, FailReason, TotalMode, breach, counts_as_trading_day, daily_floor, day_anchor, next_rollover,
    pass_check, payout_cap, payout_debit, rollover_at_or_before, room, total_floor, warnings_crossed,
)
from alfax.domain.money import parse_fixed

D0 = 1_763_337_600_000  # 2025-11-17 00:00 UTC


def usd(s: str) -> int:
    return parse_fixed(s, 8, allow_negative=True)


def pct(s: str) -> int:
    return parse_fixed(s, 8)


S = usd("10000")
DAILY = pct("0.05")  # 500 USDT of room a day
TOTAL = pct("0.10")  # 1,000 USDT overall


def test_rollover_instants_at_midnight_and_at_0030():
    assert rollover_at_or_before(D0, 0) == D0
    assert rollover_at_or_before(D0 - 1, 0) == D0 - DAY_MS  # ts < R_d belongs to the old day
    assert next_rollover(D0 + 5, 0) == D0 + DAY_MS
    assert rollover_at_or_before(D0 + 29 * 60_000, 30) == D0 - DAY_MS + 30 * 60_000
    assert rollover_at_or_before(D0 + 30 * 60_000, 30) == D0 + 30 * 60_000


def test_rollover_with_floating_profit_does_not_widen_the_day():
    anchor = day_anchor(balance=S, equity=usd("10300"))  # +300 floating at rollover
    assert anchor == usd("10300")
    floor = daily_floor(anchor, S, DAILY)
    assert floor == usd("9800")
    # the floating profit evaporates and 200 more is lost: equity 9800 touches the floor
    assert breach(usd("9800.00000001"), floor, total_floor(S, TOTAL)) is None
    assert breach(usd("9800"), floor, total_floor(S, TOTAL)) is FailReason.DAILY_DRAWDOWN


def test_rollover_with_floating_loss_keeps_the_carried_loss_inside_the_budget():
    anchor = day_anchor(balance=S, equity=usd("9700"))  # -300 floating carried into the day
    floor = daily_floor(anchor, S, DAILY)
    assert anchor == S and floor == usd("9500")
    assert room(usd("9700"), floor, total_floor(S, TOTAL)) == usd("200")  # not 500: the carried loss counts


def test_fees_and_funding_can_push_equity_onto_the_floor():
    floor = daily_floor(S, S, DAILY)
    equity = usd("9500.40000000")
    assert breach(equity, floor, total_floor(S, TOTAL)) is None
    commission, funding = usd("0.30"), usd("0.10")
    assert breach(equity - commission - funding, floor, total_floor(S, TOTAL)) is FailReason.DAILY_DRAWDOWN


def test_total_floor_static_and_end_of_day_trailing_with_lock():
    assert total_floor(S, TOTAL) == usd("9000")
    assert total_floor(S, TOTAL, TotalMode.TRAILING_EOD, high_water=usd("10400")) == usd("9400")
    assert total_floor(S, TOTAL, TotalMode.TRAILING_EOD, high_water=usd("11500")) == S  # locks at S
    # an HWM below S only happens after a payout lowered it by the debit (§B4): the floor follows it down
    assert total_floor(S, TOTAL, TotalMode.TRAILING_EOD, high_water=usd("9800")) == usd("8800")


def test_which_floor_is_reported_when_equity_falls_through_both():
    # day floor above total floor: the daily limit was met first
    assert breach(usd("8900"), usd("9500"), usd("9000")) is FailReason.DAILY_DRAWDOWN
    # a day that started near the total floor: the total floor is the higher one
    assert breach(usd("9050"), usd("9000"), usd("9100")) is FailReason.TOTAL_DRAWDOWN
    assert breach(usd("9000"), usd("9000"), usd("9000")) is FailReason.DAILY_DRAWDOWN  # tie
    assert room(usd("9050"), usd("9000"), usd("9100")) == 0


def test_warnings_at_50_80_95_percent_once_each():
    limit = usd("500")
    assert warnings_crossed(usd("249.99"), limit) == []
    assert warnings_crossed(usd("250"), limit) == [50]
    assert warnings_crossed(usd("480"), limit, frozenset({50})) == [80, 95]
    assert warnings_crossed(usd("480"), limit, frozenset({50, 80, 95})) == []


def test_trading_days_count_only_fills_that_open_or_add_above_the_minimum_notional():
    min_notional = usd("50")
    assert counts_as_trading_day(True, usd("100"), min_notional)
    assert not counts_as_trading_day(False, usd("100000"), min_notional)  # a close never counts
    assert not counts_as_trading_day(True, usd("49.99"), min_notional)  # a dust trade to fill the calendar


def test_pass_requires_realized_target_flat_book_days_and_consistency():
    target = pct("0.08")
    ok = pass_check(usd("10800"), S, target, open_positions=0, trading_days=4, min_trading_days=4)
    assert ok.passed and ok.missing() == []
    holding = pass_check(usd("10800"), S, target, open_positions=1, trading_days=4, min_trading_days=4)
    assert not holding.passed and holding.missing() == ["noOpenPositions"]
    short = pass_check(usd("10799.99"), S, target, open_positions=0, trading_days=3, min_trading_days=4)
    assert short.missing() == ["profitTarget", "minTradingDays"]
    # consistency: the best day may be at most 50 % of the total profit
    lumpy = pass_check(usd("10800"), S, target, 0, 4, 4, best_day_profit=usd("500"), best_day_fraction=pct("0.5"))
    assert lumpy.missing() == ["consistency"]
    even = pass_check(usd("10800"), S, target, 0, 4, 4, best_day_profit=usd("400"), best_day_fraction=pct("0.5"))
    assert even.passed


@pytest.mark.parametrize("equity,paid,cap", [
    ("11000", "0", "800.00"),  # 1,000 profit at an 80 % split
    ("11000", "300", "500.00"),  # after an earlier payout
    ("11000", "900", "0"),  # earlier payouts above the share: clamped, never negative
    ("9500", "0", "0"),  # after losses: nothing to pay
    ("10001.23456789", "0", "0.98"),  # rounded down to the cent
])
def test_payout_cap(equity, paid, cap):
    assert payout_cap(usd(equity), S, 8000, usd(paid)) == usd(cap)


def test_payout_debit_removes_the_gross_profit_behind_the_payout():
    assert payout_debit(usd("800"), 8000) == usd("1000")
    assert payout_debit(usd("0.01"), 8000) == usd("0.0125")
    assert payout_debit(usd("100"), 7000) == usd("142.85714286")  # rounded up: never pay more than removed
