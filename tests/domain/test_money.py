"""Fixed-point money: parsing (floats, precision, overflow rejected), formatting, rounding helpers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alfax.domain.money import (MAX_RAW, MoneyError, PrecisionError, check_raw, div_ceil, div_round_half_up,
                                format_fixed, format_trimmed, parse_fixed, rescale)


def test_parse_basic():
    assert parse_fixed("65000.10", 2) == 6500010
    assert parse_fixed("0.0100", 3) == 10  # trailing zeros are fine
    assert parse_fixed(" 5 ", 8) == 500_000_000
    assert parse_fixed(b"1.5", 1) == 15
    assert parse_fixed("-1.5", 1, allow_negative=True) == -15


@pytest.mark.parametrize("bad", [1.5, 1, True, None])
def test_floats_and_non_strings_rejected(bad):
    with pytest.raises(MoneyError):
        parse_fixed(bad, 2)


@pytest.mark.parametrize("bad", ["", "abc", "NaN", "inf", "1e", "--1"])
def test_garbage_rejected(bad):
    with pytest.raises(MoneyError):
        parse_fixed(bad, 2)


def test_precision_over_max_rejected():
    with pytest.raises(PrecisionError):
        parse_fixed("0.0105", 3)
    with pytest.raises(PrecisionError):
        parse_fixed("1.001", 2)


def test_negative_rejected_unless_allowed():
    with pytest.raises(MoneyError):
        parse_fixed("-1", 2)


def test_overflow_rejected():
    with pytest.raises(MoneyError):
        parse_fixed("1" + "0" * 14, 8)  # 1e14 * 1e8 = 1e22 = MAX_RAW
    assert parse_fixed("9" * 13, 8) < MAX_RAW
    with pytest.raises(MoneyError):
        check_raw(-MAX_RAW)
    with pytest.raises(MoneyError):
        check_raw(1.0)


def test_format():
    assert format_fixed(6500010, 2) == "65000.10"
    assert format_fixed(-5, 3) == "-0.005"
    assert format_fixed(7, 0) == "7"
    assert format_trimmed(500_000_000, 8) == "5"
    assert format_trimmed(30_000_000, 8) == "0.3"
    assert format_trimmed(0, 8) == "0"
    with pytest.raises(MoneyError):
        format_fixed(1.5, 2)


def test_rounding_helpers():
    assert div_round_half_up(5, 2) == 3 and div_round_half_up(-5, 2) == -3  # half away from zero
    assert div_round_half_up(4, 3) == 1 and div_round_half_up(-4, 3) == -1
    assert div_round_half_up(5, -2) == -3
    assert div_ceil(10, 3) == 4 and div_ceil(9, 3) == 3 and div_ceil(-10, 3) == -3
    assert rescale(12345, 3, 5) == 1234500 and rescale(12345, 3, 1) == 123 and rescale(-12345, 3, 1) == -123


@given(st.integers(min_value=-(10**20), max_value=10**20), st.integers(min_value=0, max_value=8))
def test_format_parse_roundtrip(raw, d):
    assert parse_fixed(format_fixed(raw, d), d, allow_negative=True) == raw
