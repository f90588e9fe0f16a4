"""Binance mark price / premium index / funding rate maths (alfax.domain.pricing)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alfax.domain import pricing as pr

H8 = 8 * 3_600_000


# ------------------------------------------------------------------ premium index

def test_premium_zero_when_index_inside_impact_prices():
    assert pr.premium_index(999_00, 1001_00, 1000_00) == 0


def test_premium_positive_when_impact_bid_above_index():
    # (1001 - 1000) / 1000 = 0.001 -> 100_000 at 8 dp
    assert pr.premium_index(1001_00, 1002_00, 1000_00) == 100_000


def test_premium_negative_when_impact_ask_below_index():
    assert pr.premium_index(998_00, 999_50, 1000_00) == -50_000


def test_premium_rounds_half_away_from_zero():
    # 1 / 3 of 1e-8 units ... (0.01/3000) = 3.333e-6 -> 333.33 -> 333
    assert pr.premium_index(3000_01, 3001_00, 3000_00) == 333
    assert pr.premium_index(2999_00, 2999_99, 3000_00) == -333


def test_premium_rejects_non_positive_index():
    with pytest.raises(ValueError):
        pr.premium_index(1, 2, 0)


# ------------------------------------------------------------------ funding rate and its clamps

@pytest.mark.parametrize(
    "avg_premium, expected",
    [
        (0, 10_000),  # P = 0 -> interest 0.01%
        (30_000, 10_000),  # 0.03%: I - P = -0.02% inside the +-0.05% band -> F = I
        (-40_000, 10_000),  # -0.04%: I - P = 0.05% exactly at the band edge -> F = I
        (60_000, 10_000),  # 0.06%: I - P = -0.05% at the band edge -> F = I
        (100_000, 50_000),  # 0.1%: I - P = -0.09% clamped to -0.05% -> F = 0.05%
        (-100_000, -50_000),  # -0.1%: I - P = 0.11% clamped to +0.05% -> F = -0.05%
        (-45_000, 5_000),  # -0.045% + 0.05% = 0.005%
        (2_000_000, 750_000),  # 2% - 0.05% = 1.95% capped at +0.75%
        (-2_000_000, -750_000),  # floored at -0.75%
        (800_000, 750_000),  # 0.8% - 0.05% = 0.75% exactly at the cap
    ],
)
def test_funding_rate_clamps(avg_premium, expected):
    assert pr.funding_rate(avg_premium) == expected


def test_funding_rate_custom_cap_and_floor():
    assert pr.funding_rate(1_000_000, cap=300_000) == 300_000
    assert pr.funding_rate(-1_000_000, cap=300_000) == -300_000
    assert pr.funding_rate(-1_000_000, cap=300_000, floor=-200_000) == -200_000
    assert pr.funding_rate(0, interest=0) == 0


@given(st.integers(-10**7, 10**7))
def test_funding_rate_always_within_cap(p):
    f = pr.funding_rate(p)
    assert -pr.DEFAULT_FUNDING_CAP <= f <= pr.DEFAULT_FUNDING_CAP
    if -40_000 <= p <= 60_000:
        assert f == pr.INTEREST_RATE


# ------------------------------------------------------------------ averages

def test_weighted_average_premium_weights_later_samples_more():
    # (1*10 + 2*20 + 3*60) / 6 = 230 / 6 = 38.33 -> 38
    assert pr.weighted_average_premium([10, 20, 60]) == 38
    assert pr.weighted_average_premium([]) == 0


@given(st.lists(st.integers(-10**6, 10**6), min_size=1, max_size=50))
def test_premium_averager_matches_function(samples):
    a = pr.PremiumAverager()
    for p in samples:
        a.add(p)
    assert a.average == pr.weighted_average_premium(samples)
    a.reset()
    assert a.average == 0


def test_rolling_mean_window():
    m = pr.RollingMean(3)
    assert m.mean == 0
    for x in (3, 6, 9, 12):
        m.add(x)
    assert len(m) == 3 and m.mean == 9  # (6 + 9 + 12) / 3
    m.add(-30)
    assert m.mean == -3  # (9 + 12 - 30) / 3
    with pytest.raises(ValueError):
        pr.RollingMean(0)


# ------------------------------------------------------------------ mark price

def test_median3_all_orders():
    for a, b, c in [(1, 2, 3), (1, 3, 2), (2, 1, 3), (2, 3, 1), (3, 1, 2), (3, 2, 1), (2, 2, 1), (5, 5, 5)]:
        assert pr.median3(a, b, c) == sorted((a, b, c))[1]


def test_price1_scales_with_time_to_funding():
    # index 10000.00, F = 0.01%, 4 h to funding -> 10000 * (1 + 0.0001 * 0.5) = 10000.50
    assert pr.price1(1_000_000, 10_000, 4 * 3_600_000) == 1_000_050
    assert pr.price1(1_000_000, 10_000, 0) == 1_000_000
    assert pr.price1(1_000_000, -750_000, H8) == 992_500


def test_mark_price_is_median_of_three():
    index = 1_000_000
    # price1 = 1_000_100 (F 0.01%, full interval), price2 = index + 30 = 1_000_030
    assert pr.mark_price(index, 10_000, H8, 30, last=1_000_500) == 1_000_100
    assert pr.mark_price(index, 10_000, H8, 30, last=999_000) == 1_000_030
    assert pr.mark_price(index, 10_000, H8, 30, last=1_000_060) == 1_000_060
    assert pr.mark_price(index, 10_000, H8, 30, last=None) == 1_000_030  # no last: price2


def test_funding_times():
    day = 1_763_683_200_000  # 2025-11-21 00:00 UTC
    assert day % 86_400_000 == 0
    assert pr.next_funding_time(day - 1) == day
    assert pr.next_funding_time(day) == day + H8  # strictly after
    assert pr.next_funding_time(day + 1) == day + H8
    assert pr.next_funding_time(day + 15 * 3_600_000) == day + 2 * H8  # 16:00
    assert pr.next_funding_time(day + 16 * 3_600_000 + 5) == day + 86_400_000
    assert pr.prev_funding_time(day + 9 * 3_600_000) == day + H8
    assert pr.prev_funding_time(day) == day


# ------------------------------------------------------------------ impact prices

def test_impact_notional_btc():
    assert pr.impact_notional(125) == 25_000 * 10**8


def test_impact_price_single_level_and_partial():
    f = 1000  # BTCUSDT: 8 - 2 - 3
    levels = [(10_000_00, 5_000)]  # 5 BTC at 10000 = 50k USDT
    assert pr.impact_price(levels, 25_000 * 10**8, f) == 10_000_00
    # 1 BTC at 10000 (10k) + 1.5 BTC at 10010 (15015 > 15k needed): avg = 25000 / (1 + 15000/10010)
    levels = [(10_000_00, 1_000), (10_010_00, 2_000)]
    got = pr.impact_price(levels, 25_000 * 10**8, f)
    exact = 25_000 / (1 + 15_000 / 10_010)
    assert abs(got / 100 - exact) <= 0.005
    assert pr.impact_price([(10_000_00, 1_000)], 25_000 * 10**8, f) is None
    with pytest.raises(ValueError):
        pr.impact_price(levels, 0, f)


def test_clamp():
    assert pr.clamp(5, 0, 3) == 3 and pr.clamp(-5, 0, 3) == 0 and pr.clamp(2, 0, 3) == 2
    with pytest.raises(ValueError):
        pr.clamp(1, 3, 0)
