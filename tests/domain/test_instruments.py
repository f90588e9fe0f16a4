"""Instruments from configuration: filters, brackets (derived cum), notional arithmetic."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from alfax.domain.instruments import load_instruments

CFG = json.loads((Path(__file__).resolve().parents[2] / "alfax" / "data" / "instruments.json").read_text())
INST = load_instruments(CFG)
BTC = INST["BTCUSDT"]
U = 10**8


def test_filters_parsed_as_raw_ints():
    assert BTC.price_precision == 2 and BTC.quantity_precision == 3
    assert BTC.tick_size == 10 and BTC.min_price == 55680 and BTC.step_size == 1
    assert BTC.min_notional == 5 * U and BTC.max_num_orders == 200
    assert BTC.multiplier_up == 105_000_000 and BTC.taker_fee == 50_000 and BTC.maker_fee == 20_000


def test_notional_is_exact_8dp():
    # 0.001 BTC at 65000.10 = 65.0001 USDT
    assert BTC.notional(6500010, 1) == 6_500_010_000
    assert BTC.notional_factor == 1000


def test_brackets_and_derived_cum():
    # cum_n = cum_{n-1} + floor_n * (mmr_n - mmr_{n-1}): bracket 2: 0 + 50,000 * 0.001 = 50; bracket 3: 50 + 600,000 * 0.0015 = 950
    assert [b.cum for b in BTC.brackets[:4]] == [0, 50 * U, 950 * U, 11450 * U]
    assert BTC.bracket_for(50_000 * U).bracket == 1  # floor < n <= cap
    assert BTC.bracket_for(50_000 * U + 1).bracket == 2
    assert BTC.bracket_for(0).bracket == 1
    assert BTC.bracket_for(10**30).bracket == len(BTC.brackets)
    assert BTC.max_leverage == 125


def test_max_notional_for_leverage():
    assert BTC.max_notional_for_leverage(125) == 50_000 * U
    assert BTC.max_notional_for_leverage(101) == 50_000 * U
    assert BTC.max_notional_for_leverage(100) == 600_000 * U
    assert BTC.max_notional_for_leverage(21) == 70_000_000 * U
    assert BTC.max_notional_for_leverage(1) == 1_800_000_000 * U


def test_bad_config_rejected():
    cfg = copy.deepcopy(CFG["symbols"]["BTCUSDT"])
    cfg["brackets"][1]["cum"] = "51"
    with pytest.raises(ValueError):
        load_instruments({"symbols": {"X": cfg}})
    cfg = copy.deepcopy(CFG["symbols"]["BTCUSDT"])
    cfg["pricePrecision"] = 6
    with pytest.raises(ValueError):
        load_instruments({"symbols": {"X": cfg}})
    cfg = copy.deepcopy(CFG["symbols"]["BTCUSDT"])
    cfg["brackets"] = []
    with pytest.raises(ValueError):
        load_instruments({"symbols": {"X": cfg}})
