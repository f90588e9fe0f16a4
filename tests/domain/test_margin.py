"""Binance formula reference cases (expected numbers computed by hand in the comments).

BTCUSDT: prices 2 dp, quantities 3 dp, USDT and rates 8 dp. 1 BTC = raw 1000, 10000 USDT = raw 10000 * 1e8.
"""

from __future__ import annotations

import json
from pathlib import Path

from alfax.domain import margin as M
from alfax.domain.instruments import load_instruments

CFG = json.loads((Path(__file__).resolve().parents[2] / "alfax" / "data" / "instruments.json").read_text())
BTC = load_instruments(CFG)["BTCUSDT"]
U = 10**8  # 1 USDT raw
BTC1 = 1000  # 1 BTC raw


def P(x):  # price raw from a whole number of USDT
    return int(x * 100)


def test_unrealized_pnl():
    # long 1 BTC at 10000, mark 11000: 1 * (11000 - 10000) = +1000; short: -1000
    assert M.unrealized_pnl(BTC, BTC1, 10_000 * U, P(11000)) == 1000 * U
    assert M.unrealized_pnl(BTC, -BTC1, 10_000 * U, P(11000)) == -1000 * U
    assert M.unrealized_pnl(BTC, 0, 0, P(11000)) == 0


def test_fee():
    # Binance: buy 1 BTC at 10000 with taker 0.04 % -> 4 USDT; our BTCUSDT taker 0.05 % -> 5 USDT
    assert M.fee(10_000 * U, 40_000) == 4 * U
    assert M.fee(10_000 * U, BTC.taker_fee) == 5 * U
    # 0.001 BTC at 30000.1 maker 0.02 %: 30.0001 * 0.0002 = 0.00600002
    assert M.fee(BTC.notional(3000010, 1), BTC.maker_fee) == 600_002
    # rounding half up at 8 dp: 0.00000001 * 0.5 -> 0.000000005 -> 0.00000001
    assert M.fee(1, 50_000_000) == 1


def test_funding_fee():
    # Binance: notional 10,000 (mark) * funding rate 0.01 % = 1 USDT; longs pay when positive, shorts receive
    assert M.funding_fee(BTC, BTC1, P(10000), 10_000) == -1 * U
    assert M.funding_fee(BTC, -BTC1, P(10000), 10_000) == 1 * U
    assert M.funding_fee(BTC, BTC1, P(10000), -10_000) == 1 * U
    assert M.funding_fee(BTC, 0, P(10000), 10_000) == 0


def test_initial_margin_rounds_up():
    assert M.initial_margin(10_000 * U, 20) == 500 * U
    assert M.initial_margin(10_000 * U + 1, 3) == (10_000 * U + 1 + 2) // 3


def test_maintenance_margin_tiers_with_cum():
    # bracket 1 (<= 50k): 10,000 * 0.4 % - 0 = 40
    assert M.maintenance_margin(BTC, 10_000 * U) == 40 * U
    # bracket 2 (50k-600k, mmr 0.5 %, cum 50): 600,000 * 0.005 - 50 = 2,950
    assert M.maintenance_margin(BTC, 600_000 * U) == 2_950 * U
    # continuity at the 50k boundary: 50,000 * 0.004 = 200 = 50,000 * 0.005 - 50
    assert M.maintenance_margin(BTC, 50_000 * U) == 200 * U
    # just above: 50,000.000001 * 0.005 - 50 = 200.000000005 -> rounds half up to 200.00000001
    assert M.maintenance_margin(BTC, 50_000 * U + 100) == 200 * U + 1
    # bracket 4 (3M-12M, mmr 1 %, cum 11,450): 5,000,000 * 0.01 - 11,450 = 38,550
    assert M.maintenance_margin(BTC, 5_000_000 * U) == 38_550 * U


def test_open_loss():
    # BUY 1 BTC limit 10,100 with mark 10,000: 1 * (10,100 - 10,000) = 100; a SELL there costs nothing
    assert M.open_loss(BTC, 1, P(10100), BTC1, P(10000)) == 100 * U
    assert M.open_loss(BTC, -1, P(10100), BTC1, P(10000)) == 0
    assert M.open_loss(BTC, -1, P(9900), BTC1, P(10000)) == 100 * U


def test_realized_pnl_conserves_cost():
    # long 0.003 BTC, cost 30.00000001 USDT; close 0.001 at 11000 -> closed cost = 10.00000000 (half up of 10.0000000033)
    entry = 30 * U + 1
    pnl, cost = M.realized_pnl(BTC, 3, entry, 1, P(11000))
    assert cost == 10 * U and pnl == 11 * U - 10 * U
    pnl2, cost2 = M.realized_pnl(BTC, 2, entry - cost, 2, P(11000))
    assert cost + cost2 == entry  # the remainder stays with the position, nothing is lost
    # short 1 BTC at 10,000 closed at 9,000: +1,000
    assert M.realized_pnl(BTC, -BTC1, 10_000 * U, BTC1, P(9000)) == (1000 * U, 10_000 * U)


def test_liquidation_price_isolated_long():
    # long 1 BTC at 10,000, isolated wallet 1,000, mmr 0.4 %, cum 0:
    # LP = (1000 - 10000) / (0.004 - 1) = -9000 / -0.996 = 9036.14457831325... -> 9036.14457831
    assert M.liquidation_price(BTC, BTC1, 10_000 * U, 1_000 * U) == 903_614_457_831


def test_liquidation_price_isolated_short():
    # short 1 BTC at 10,000, wallet 1,000: LP = (1000 + 10000) / (0.004 + 1) = 11000 / 1.004 = 10956.17529880478
    assert M.liquidation_price(BTC, -BTC1, 10_000 * U, 1_000 * U) == 1_095_617_529_880


def test_liquidation_price_cross_with_other_positions():
    # wallet 2,000, other positions: maint 100, uPnL -400 -> effective 1,500:
    # LP = (2000 - 100 - 400 - 10000) / (0.004 - 1) = -8500 / -0.996 = 8534.13654618473...
    assert M.liquidation_price(BTC, BTC1, 10_000 * U, 2_000 * U, 100 * U, -400 * U) == 853_413_654_618


def test_liquidation_price_uses_bracket_at_liquidation():
    # long 20 BTC at 10,000 (200k notional, bracket 2: mmr 0.5 %, cum 50), wallet 20,000:
    # LP = (20000 + 50 - 200000) / (20 * (0.005 - 1)) = -179950 / -19.9 = 9042.713567839... (notional at LP 180,854: bracket 2)
    assert M.liquidation_price(BTC, 20 * BTC1, 200_000 * U, 20_000 * U) == 904_271_356_784
    # over-collateralised long: no liquidation price
    assert M.liquidation_price(BTC, BTC1, 10_000 * U, 20_000 * U) == 0


def test_margin_ratio_breached():
    assert M.margin_ratio_breached(100, 100) and M.margin_ratio_breached(99, 100)
    assert not M.margin_ratio_breached(101, 100) and not M.margin_ratio_breached(-5, 0)


def test_entry_and_break_even_prices():
    # 0.003 BTC for 90.0004 USDT -> entry 30000.13333333 (8 dp); break-even adds 0.045 fees / 0.003 = +15
    assert M.entry_price_8dp(BTC, 3, 9_000_040_000) == 3_000_013_333_333
    assert M.break_even_price_8dp(BTC, 3, 9_000_000_000, 4_500_000) == 3_001_500_000_000
    assert M.break_even_price_8dp(BTC, -3, 9_000_000_000, 4_500_000) == 2_998_500_000_000
    assert M.entry_price_raw(BTC, 3, 9_000_040_000) == 3000013
