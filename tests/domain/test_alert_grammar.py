"""The TradingView alert grammar (alfax.domain.alert_grammar): seed 000's webhook examples, the examples and the
error catalogue of shared/reference/signals.md §1.7, envelopes, multiple commands, placeholders, dedupe keys, and a
fuzz test that no input ever escapes as a Python exception."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alfax.domain.alert_catalogue import (AlertCode, AlertError, AlertWarning, alert_error, alert_warning, auth_error,
                                          duplicate_error, min_size_error, nothing_to_close_warning, rate_error,
                                          target_overrides_warning)
from alfax.domain.alert_grammar import (Action, Expect, PriceKind, SizeUnit, check_secret, derived_idempotency_key,
                                        normalise_symbol, parse_alert)
from alfax.domain.enums import MarginType, OrderType, PositionSide, Side, TimeInForce, WorkingType

NOW = 1_736_951_405_000  # 2025-01-15T14:30:05Z
SYMBOLS = {"BTCUSDT", "ETHUSDT"}
TEMPLATE = "{{strategy.order.action}} {{strategy.order.contracts}} {{ticker}} {{strategy.order.alert_message}}"


def parse(body, **kw):
    kw.setdefault("now_ms", NOW)
    kw.setdefault("symbols", SYMBOLS)
    return parse_alert(body, **kw)


def one(body, **kw):
    a = parse(body, **kw)
    assert a.ok, [e.to_dict() for e in a.errors]
    assert len(a.commands) == 1
    return a.commands[0]


def err(body, **kw) -> AlertError:
    a = parse(body, **kw)
    assert not a.commands or len(a.errors) == 1
    assert len(a.errors) == 1, [e.to_dict() for e in a.errors]
    e = a.errors[0]
    assert e.hint and e.message
    return e


def at(line: str, token: str) -> int:
    """1-based column of ``token`` in ``line``."""
    return line.index(token) + 1


# ================================================================= seed 000 (webhook section), every example


def test_seed_template_as_filled_by_a_strategy_with_alert_message():
    # strategy.entry("L", strategy.long, qty=0.01, alert_message="LIMIT 67000 reduceOnly id=long_breakout")
    body = "buy 0.01 BTCUSDT.P LIMIT 67000 reduceOnly id=long_breakout"
    c = one(body)
    assert (c.action, c.side, c.symbol, c.symbol_text) == (Action.BUY, Side.BUY, "BTCUSDT", "BTCUSDT.P")
    assert c.size.unit is SizeUnit.BASE and c.size.value == Decimal("0.01")
    assert c.order_type is OrderType.LIMIT and c.price.kind is PriceKind.ABSOLUTE and c.price.value == 67000
    assert c.reduce_only and not c.close_position and c.id == "long_breakout"
    assert c.text == body and c.span == (0, len(body)) and (c.line, c.col) == (1, 1)


def test_seed_template_with_an_empty_alert_message_leaves_a_trailing_space():
    c = one("sell 0.01 BTCUSDT ")
    assert c.action is Action.SELL and c.order_type is OrderType.MARKET and c.size.value == Decimal("0.01")


def test_seed_template_pasted_into_an_indicator_alert_is_rejected_as_placeholder():
    e = err(TEMPLATE)
    assert (e.code, e.col, e.token) == ("E002", 1, "{{strategy.order.action}}")
    assert "strategy placeholders only work in strategy (order-fill) alerts" in e.message
    assert "(and 3 more)" in e.message


def test_seed_manual_market_with_id():
    c = one("buy 0.001 BTCUSDT MARKET id=manual_test")
    assert (c.action, c.side, c.order_type, c.id) == (Action.BUY, Side.BUY, OrderType.MARKET, "manual_test")
    assert c.size.value == Decimal("0.001") and not c.reduce_only


def test_seed_reduce_only_limit_sell():
    c = one("sell 0.5 ETHUSDT LIMIT 3500 reduceOnly")
    assert (c.side, c.symbol, c.order_type, c.price.value, c.reduce_only) == (
        Side.SELL, "ETHUSDT", OrderType.LIMIT, Decimal(3500), True)
    assert c.time_in_force is None  # venue default (GTC)


def test_seed_trailing_stop():
    c = one("sell 0.1 BTCUSDT TRAILING_STOP_MARKET 0.5")
    assert c.order_type is OrderType.TRAILING_STOP_MARKET and c.callback_pct == Decimal("0.5")
    assert c.activation_price is None and c.side is Side.SELL


@pytest.mark.parametrize("body", ["buy 0 BTCUSDT MARKET close", "buy 0 BTCUSDT MARKET close   // close the position"])
def test_seed_buy_zero_close_closes_the_short(body):
    c = one(body)
    # buy … close closes a SHORT: a reduce-only buy for the position's full size (the amount is ignored)
    assert c.side is Side.BUY and c.close_position and c.reduce_only and c.size.is_zero
    assert c.order_type is OrderType.MARKET and c.text == "buy 0 BTCUSDT MARKET close"


def test_seed_manual_block_pasted_whole_is_four_commands():
    block = ("buy 0.001 BTCUSDT MARKET id=manual_test\n"
             "sell 0.5 ETHUSDT LIMIT 3500 reduceOnly\n"
             "sell 0.1 BTCUSDT TRAILING_STOP_MARKET 0.5\n"
             "buy 0 BTCUSDT MARKET close   // close the position\n")
    a = parse(block)
    assert a.ok and [c.order_type for c in a.commands] == [OrderType.MARKET, OrderType.LIMIT,
                                                           OrderType.TRAILING_STOP_MARKET, OrderType.MARKET]
    assert [c.line for c in a.commands] == [1, 2, 3, 4] and [c.index for c in a.commands] == [0, 1, 2, 3]
    assert a.commands[3].close_position


# ================================================================= §1.7 examples


def test_ref_example_notional_relative_limit_post_only_with_tp_sl_legs():
    c = one("buy 100$ BINANCE:BTCUSDT.P LIMIT -0.1% postOnly lev=5 tp=+2%:50%,+4%:50% sl=-1%")
    assert c.size.unit is SizeUnit.QUOTE and c.size.value == 100
    assert (c.symbol, c.symbol_venue) == ("BTCUSDT", "BINANCE")
    assert c.price.kind is PriceKind.PERCENT and c.price.value == Decimal("-0.1")
    assert c.post_only and c.time_in_force is TimeInForce.GTX and c.leverage == 5
    assert [(x.price.value, x.share_pct) for x in c.take_profit] == [(2, 50), (4, 50)]
    assert [(x.price.kind, x.price.value, x.share_pct) for x in c.stop_loss] == [(PriceKind.PERCENT, -1, None)]
    assert c.price.resolve(Decimal(70000)) == Decimal("69930")
    assert c.take_profit[0].price.resolve(Decimal(100)) == 102


def test_ref_example_target_position_substituted():
    c = one("sell 0.02 BTCUSDT pos=-0.02 expect=long ts=2025-01-15T14:30:00Z ttl=30s")
    assert c.target_position == Decimal("-0.02") and c.expect is Expect.LONG
    assert c.ts_ms == NOW - 5000 and c.ttl_ms == 30_000


def test_ref_example_target_position_unsubstituted_is_placeholder():
    body = ("sell 0.02 BTCUSDT pos={{strategy.position_size}} expect={{strategy.prev_market_position}} "
            "ts={{timenow}} ttl=30s")
    e = err(body)
    assert (e.code, e.col, e.token) == ("E002", at(body, "{{strategy.position_size}}"), "{{strategy.position_size}}")


def test_ref_example_close_half_then_cancel_by_tag():
    a = parse("close 50%p ETHUSDT ; cancel * ETHUSDT tag=grid")
    assert a.ok and len(a.commands) == 2
    close, cancel = a.commands
    assert close.action is Action.CLOSE and close.size.unit is SizeUnit.PCT_POSITION and close.size.value == 50
    assert close.reduce_only and not close.close_position and close.side is None
    assert cancel.action is Action.CANCEL and cancel.size.unit is SizeUnit.ALL and cancel.tag == "grid"
    assert cancel.order_type is None and cancel.col == 22


def test_ref_example_buy_id_and_close_examples_are_the_seed_ones():
    assert one("buy 0.001 BTCUSDT MARKET id=manual_test").id == "manual_test"
    assert one("sell 0.5 ETHUSDT LIMIT 3500 reduceOnly").reduce_only


# ================================================================= grammar details


@pytest.mark.parametrize("amount,unit,value", [
    ("0.01", SizeUnit.BASE, "0.01"), ("0.01c", SizeUnit.BASE, "0.01"), ("1e-3", SizeUnit.BASE, "0.001"),
    ("100$", SizeUnit.QUOTE, "100"), ("$100", SizeUnit.QUOTE, "100"), ("50$m", SizeUnit.QUOTE_MARGIN, "50"),
    ("5%", SizeUnit.PCT_EQUITY, "5"), ("5%e", SizeUnit.PCT_EQUITY, "5"), ("5%a", SizeUnit.PCT_AVAILABLE, "5"),
    ("5%m", SizeUnit.PCT_AVAILABLE_MARGIN, "5"), ("50%p", SizeUnit.PCT_POSITION, "50"),
    ("5%E", SizeUnit.PCT_EQUITY, "5"),
])
def test_size_units(amount, unit, value):
    c = one(f"buy {amount} BTCUSDT")
    assert c.size.unit is unit and c.size.value == Decimal(value) and c.size.text == amount
    assert isinstance(c.size.value, Decimal)


def test_close_verb_forms():
    for body, unit, full in [("close 0 BTCUSDT", SizeUnit.BASE, True), ("close * BTCUSDT", SizeUnit.ALL, True),
                             ("close 50%p BTCUSDT", SizeUnit.PCT_POSITION, False),
                             ("close 50% BTCUSDT", SizeUnit.PCT_POSITION, False),  # bare % on close = of position
                             ("close 0.3 BTCUSDT", SizeUnit.BASE, False)]:
        c = one(body)
        assert c.action is Action.CLOSE and c.size.unit is unit and c.close_position is full and c.reduce_only


def test_long_short_are_buy_sell_and_case_is_free():
    a, b = one("LONG 1 btcusdt market RO"), one("buy 1 BTCUSDT MARKET reduceOnly")
    assert a.side is Side.BUY and a.verb == "long" and a.canonical() == b.canonical()
    assert one("Short 1 BTCUSDT").side is Side.SELL


@pytest.mark.parametrize("ticker", ["BTCUSDT", "btcusdt", "BTCUSDT.P", "BINANCE:BTCUSDT.P", "binance:btcusdt.p",
                                    "BTC/USDT", "BTC-USDT", "BTC_USDT", "BTCUSDTPERP", "BTC-USDT-SWAP",
                                    "BTC/USDT:USDT"])
def test_symbol_normalisation(ticker):
    assert one(f"buy 1 {ticker}").symbol == "BTCUSDT"
    assert normalise_symbol(ticker)[0] == "BTCUSDT"


def test_symbols_are_checked_only_when_given():
    assert one("buy 1 SOLUSDT", symbols=None).symbol == "SOLUSDT"
    assert err("buy 1 SOLUSDT").code == "E007"


def test_order_types_and_relative_prices():
    c = one("buy 1 BTCUSDT STOP 66000 65900")
    assert (c.stop_price.value, c.price.value) == (66000, 65900)
    c = one("sell 1 BTCUSDT STOP_MARKET -1% wt=mark")
    assert c.stop_price.kind is PriceKind.PERCENT and c.working_type is WorkingType.MARK_PRICE and c.price is None
    c = one("sell 1 BTCUSDT TAKE_PROFIT +50 +49")
    assert c.stop_price.kind is PriceKind.OFFSET and c.stop_price.resolve(Decimal(100)) == 150
    assert c.price.resolve(Decimal(100)) == 149
    assert one("sell 1 BTCUSDT TAKE_PROFIT_MARKET 70000").stop_price.value == 70000
    c = one("sell 1 BTCUSDT TRAILING_STOP_MARKET 0.5% +1%")
    assert c.callback_pct == Decimal("0.5") and c.activation_price.kind is PriceKind.PERCENT


def test_options_after_and_before_the_order_type():
    c = one("buy 1 BTCUSDT id=x LIMIT 100 tif=IOC")  # order type after an option is accepted (superset)
    assert c.order_type is OrderType.LIMIT and c.id == "x" and c.time_in_force is TimeInForce.IOC


def test_all_option_keys():
    # slip= needs MARKET and nodedup excludes id=, so every key is covered by two valid commands
    c = one('buy 1 BTCUSDT LIMIT 100 id=a.b:c/d-e_f leverage=20x margin=isolated tif=fok tp=71000 sl=65000:50% '
            'trail=0.8@71000 delay=500ms ttl=2m ts=1736951400 tag="my grid" side=long wt=last secret=s3cr=t dry')
    assert (c.id, c.leverage, c.margin_type, c.time_in_force) == ("a.b:c/d-e_f", 20, MarginType.ISOLATED,
                                                                  TimeInForce.FOK)
    assert c.take_profit[0].price.value == 71000 and c.stop_loss[0].share_pct == 50
    assert c.trail.callback_pct == Decimal("0.8") and c.trail.activation.value == 71000
    assert (c.delay_ms, c.ttl_ms, c.ts_ms) == (500, 120_000, 1_736_951_400_000)
    assert (c.tag, c.position_side, c.working_type, c.secret, c.dry_run) == (
        "my grid", PositionSide.LONG, WorkingType.CONTRACT_PRICE, "s3cr=t", True)
    c = one("buy 1 BTCUSDT MARKET slip=0.2 nodedup validate_only margin=cross expect=flat side=short")
    assert c.slippage_pct == Decimal("0.2") and c.nodedup and c.dry_run and c.margin_type is MarginType.CROSSED
    assert c.expect is Expect.FLAT and c.position_side is PositionSide.SHORT


@pytest.mark.parametrize("ts,ms", [("1736951400", 1_736_951_400_000), ("1736951400123", 1_736_951_400_123),
                                   ("1736951400.5", 1_736_951_400_500), ("2025-01-15T14:30:00Z", 1_736_951_400_000),
                                   ("2025-01-15T16:30:00+02:00", 1_736_951_400_000),
                                   ("2025-01-15T14:30:00.250", 1_736_951_400_250)])
def test_ts_forms(ts, ms):
    assert one(f"buy 1 BTCUSDT ts={ts}").ts_ms == ms


def test_tp_sl_legs_without_shares_and_remainder():
    c = one("buy 1 BTCUSDT tp=+1%,+2%,+3%")
    assert [x.share_pct for x in c.take_profit] == [None, None, None]
    c = one("buy 1 BTCUSDT tp=+1%:40%,+2%")  # the second leg takes the remaining 60 %
    assert [x.share_pct for x in c.take_profit] == [40, None]
    c = one("sell 1 BTCUSDT tp=-2% sl=+1%")
    assert c.take_profit[0].price.value == -2 and c.stop_loss[0].price.value == 1


def test_cancel_filters():
    c = one("cancel * BTCUSDT LIMIT id=abc tag=grid")
    assert c.order_type is OrderType.LIMIT and c.filter_id == "abc" and c.id is None and c.tag == "grid"
    assert one("cancel 0 BTCUSDT").order_type is None


def test_quoted_values_and_escapes():
    c = one(r'buy 1 BTCUSDT tag="a \"b\"; c"')  # ';' inside quotes does not split
    assert c.tag == 'a "b"; c'


def test_separators_newlines_crlf_and_comments():
    a = parse("buy 1 BTCUSDT\r\nsell 1 ETHUSDT\rclose * BTCUSDT;;\n\n// a comment ; buy 9 X\ncancel * BTCUSDT")
    assert a.ok and [c.action for c in a.commands] == [Action.BUY, Action.SELL, Action.CLOSE, Action.CANCEL]
    assert [c.line for c in a.commands] == [1, 2, 3, 6]
    assert a.segments == ("buy 1 BTCUSDT", "sell 1 ETHUSDT", "close * BTCUSDT", "cancel * BTCUSDT")


def test_non_breaking_and_tab_whitespace():
    assert one("buy\t1\u00a0BTCUSDT  MARKET").symbol == "BTCUSDT"


def test_only_bytes_or_str_are_bodies():
    with pytest.raises(TypeError):  # a caller bug, not bad input
        parse_alert(None, now_ms=NOW)  # type: ignore[arg-type]


def test_bytes_bom_and_invalid_utf8():
    assert one("\ufeffbuy 1 BTCUSDT".encode()).symbol == "BTCUSDT"
    assert one(bytearray(b"buy 1 BTCUSDT")).symbol == "BTCUSDT"
    e = err(b"buy 1 BTC\xffUSDT")
    assert e.code == "E007" and e.col == 7


def test_canonical_is_stable_and_drops_the_secret():
    c = one("long 0.0010 binance:btcusdt.p limit +1.50% secret=x tag=t")
    assert c.canonical() == "buy 0.001 BTCUSDT LIMIT +1.5% tag=t"
    d = c.to_dict()
    assert "secret" not in d and d["size"] == {"unit": "base", "value": "0.001", "text": "0.0010"}
    json.dumps(d)


# ================================================================= the error catalogue


def test_E001_empty():
    for body in ["", "   \n\t ", b"", ";;\n ; ", "// only a comment"]:
        e = err(body)
        assert (e.code, e.name, e.col, e.token, e.command) == ("E001", "EMPTY", 1, "", None)
        assert e.message == "empty alert message" and "Message field" in e.hint
    assert err('{"cmd": "  "}').code == "E001"


def test_E002_placeholder_variants():
    e = err("buy 1 {{tickr}}")
    assert (e.code, e.col, e.token) == ("E002", 7, "{{tickr}}") and "misspelt" in e.message
    assert "{{ticker}}" in e.hint
    body = '{"cmd": "buy 1 BTCUSDT", "ts": "{{timenow}}"}'
    e = err(body)
    assert (e.code, e.col, e.token, e.command) == ("E002", at(body, "{{"), "{{timenow}}", None)
    e = err('{"cmd": "{{strategy.order.action}} 1 BTCUSDT"}')
    assert e.code == "E002" and "order-fill" in e.message


def test_E002_only_the_command_with_the_placeholder_fails():
    a = parse("buy 1 BTCUSDT; sell {{strategy.order.contracts}} ETHUSDT")
    assert not a.ok and len(a.commands) == 1 and a.errors[0].command == 1 and a.errors[0].col == 21


def test_E003_verb():
    e = err("byu 0.001 BTCUSDT")
    assert (e.code, e.col, e.token) == ("E003", 1, "byu")
    assert e.message == "expected buy/sell/long/short/close/cancel at col 1, got 'byu' (did you mean 'buy'?)"
    assert "buy, sell, long, short, close or cancel" in e.hint
    assert err("0.001 buy BTCUSDT").code == "E003"


def test_E004_number():
    e = err("buy 0,5 BTCUSDT")
    assert (e.code, e.col, e.token) == ("E004", 5, "0,5")
    assert e.message == "'0,5' at col 5 is not a number; use '.' as decimal separator"
    e = err("buy 10usdt BTCUSDT")
    assert (e.code, e.token) == ("E004", "10usdt") and "%p" in e.hint
    e = err("buy 1 BTCUSDT LIMIT 67,000")
    assert (e.code, e.col, e.token) == ("E004", 21, "67,000") and "decimal separator" in e.hint
    e = err("buy 1 BTCUSDT LIMIT 2%")
    assert (e.code, e.token) == ("E004", "2%") and "+2%" in e.hint


def test_E005_negative():
    e = err("buy -0.1 BTCUSDT")
    assert (e.code, e.col, e.token) == ("E005", 5, "-0.1")
    assert e.message == "amount must be ≥ 0 (got -0.1); use verb sell/short for the other side"
    assert "buy/long" in err("sell -1 BTCUSDT").hint


def test_E006_zero():
    e = err("buy 0 BTCUSDT MARKET")
    assert (e.code, e.col, e.token) == ("E006", 5, "0")
    assert e.message == "amount is 0 — only allowed with the 'close' flag, 'pos=' or 'cancel'"
    assert "close" in e.hint
    assert one("buy 0 BTCUSDT pos=0.5").target_position == Decimal("0.5")
    assert e.http_status == 422


def test_E007_symbol():
    body = "buy 1 BINANCE:BTCUSD.P"
    e = err(body, venue="binance-usdm")
    assert (e.code, e.col, e.token) == ("E007", 7, "BINANCE:BTCUSD.P")
    assert e.message == ("unknown symbol 'BTCUSD' on binance-usdm (normalised from 'BINANCE:BTCUSD.P'); "
                         "did you mean BTCUSDT?")
    assert "BTCUSDT" in e.hint
    e = err("buy 1 ETHUSDX")
    assert e.message == "unknown symbol 'ETHUSDX' on alfax; did you mean ETHUSDT?"
    e = err("buy 1 MARKET")  # forgot the symbol
    assert (e.code, e.token) == ("E007", "MARKET") and "third" in e.hint
    assert err("buy 1 BTC!USDT").code == "E007"


def test_E008_order_type():
    body = "buy 0.001 BTCUSDT LIMT 67000"
    e = err(body)
    assert (e.code, e.col, e.token) == ("E008", 19, "LIMT")
    assert e.message == "unknown order type or option 'LIMT' at col 19 (did you mean LIMIT?)"
    assert "LIMIT <price>" in e.hint


def test_E009_missing_arg():
    e = err("buy 1 BTCUSDT LIMIT")
    assert (e.code, e.col, e.token, e.message) == ("E009", 15, "LIMIT", "LIMIT needs a price: 'LIMIT <price>'")
    e = err("buy 1 BTCUSDT STOP 100 reduceOnly")
    assert (e.code, e.token, e.message) == ("E009", "STOP", "STOP needs '<trigger> <limit>'")
    assert "STOP 66000 65900" in e.hint
    assert err("sell 1 BTCUSDT TRAILING_STOP_MARKET").message.startswith("TRAILING_STOP_MARKET needs a callback")
    e = err("buy 0.1")
    assert (e.code, e.col, e.token) == ("E009", 8, "") and "symbol" in e.message
    e = err('{"id": "x"}')
    assert e.code == "E009" and "cmd" in e.message


def test_E010_range():
    e = err("sell 0.1 BTCUSDT TRAILING_STOP_MARKET 12")
    assert (e.code, e.col, e.token) == ("E010", 39, "12")
    assert e.message == "TRAILING_STOP_MARKET callback 12 % out of range [0.1, 10]"
    e = err("buy 1 BTCUSDT lev=126")
    assert (e.code, e.token, e.message) == ("E010", "lev=126", "leverage 126 out of range [1, 125]")
    assert err("buy 1 BTCUSDT lev=21", max_leverage=20).message == "leverage 21 out of range [1, 20]"
    assert err("buy 1 BTCUSDT LIMIT 1 tif=GTD").message.startswith("tif 'GTD' out of range")
    assert err("buy 1 BTCUSDT delay=301s").code == "E010"
    assert err("close 101%p BTCUSDT").code == "E010"
    assert err("buy 1 BTCUSDT tp=+1%:60%,+2%:60%").code == "E010"
    assert err("buy 1e99 BTCUSDT").code == "E010"
    assert err("buy 1 BTCUSDT LIMIT -100%").code == "E010"
    assert err("buy 1 BTCUSDT LIMIT 0").code == "E010"


def test_E011_option():
    body = "buy 1 BTCUSDT MARKET reduceonlyy"
    e = err(body)
    assert (e.code, e.col, e.token) == ("E011", 22, "reduceonlyy")
    assert e.message == "unknown option 'reduceonlyy' (did you mean reduceOnly?)"
    assert "reduceOnly (ro)" in e.hint
    e = err("buy 1 BTCUSDT MARKET levrage=5")
    assert (e.code, e.token) == ("E011", "levrage=5")
    assert e.message == "unknown option 'levrage' (did you mean leverage?)"
    e = err("buy 1 BTCUSDT MARKET lev:5")
    assert e.code == "E011" and "lev=5" in e.hint
    e = err('{"cmd": "buy 1 BTCUSDT", "secrett": "x"}')
    assert e.code == "E011" and "did you mean secret" in e.message and e.col == 26


def test_E012_dup_option():
    body = "buy 1 BTCUSDT lev=5 lev=10"
    e = err(body)
    assert (e.code, e.col, e.token) == ("E012", 21, "lev=10")
    assert e.message == "option 'lev' given twice (5 and 10)"
    assert err("buy 1 BTCUSDT lev=5 leverage=5").code == "E012"  # aliases are the same option
    assert err('{"cmd": "buy 1 BTCUSDT", "id": "a", "id": "b"}').code == "E012"


@pytest.mark.parametrize("body,message,token", [
    ("buy 1 BTCUSDT MARKET postOnly", "'postOnly' needs LIMIT", "postOnly"),
    ("buy 0 BTCUSDT close pos=0", "'close' and 'pos=' are exclusive", "pos=0"),
    ("buy * BTCUSDT", "'*' only valid for close/cancel", "*"),
    ("sell 1 BTCUSDT tp=+2%", "tp=+2% is on the wrong side of the entry for a short", "tp=+2%"),
    ("buy 1 BTCUSDT sl=+1%", "sl=+1% is on the wrong side of the entry for a long", "sl=+1%"),
    ("buy 1 BTCUSDT ttl=30s", "'ttl' needs 'ts'", "ttl=30s"),
    ("buy 1 BTCUSDT MARKET tif=IOC", "'tif' needs LIMIT, STOP or TAKE_PROFIT (order type is MARKET)", "tif=IOC"),
    ("buy 1 BTCUSDT LIMIT 5 slip=1", "'slip' needs MARKET (order type is LIMIT)", "slip=1"),
    ("buy 1 BTCUSDT id=a nodedup", "'nodedup' and 'id=' are exclusive", "nodedup"),
    ("buy 1 BTCUSDT LIMIT 5 postOnly tif=IOC", "'postOnly' and tif=IOC are exclusive", "tif=IOC"),
    ("cancel * BTCUSDT tp=+1%", "'tp=+1%' does not apply to cancel", "tp=+1%"),
    ("cancel 2 BTCUSDT", "cancel takes '*' (or 0) as amount, got '2'", "2"),
    ("close 1 BTCUSDT pos=0", "'pos' does not apply to close", "pos=0"),
    ("buy 1 BTCUSDT reduceOnly tp=+1%", "'reduceOnly' and 'tp=' are exclusive", "tp=+1%"),
    ("buy 1 BTCUSDT LIMIT 5 MARKET", "order type given twice (LIMIT and MARKET)", "MARKET"),
])
def test_E013_conflict(body, message, token):
    e = err(body)
    assert (e.code, e.message, e.token, e.col) == ("E013", message, token, body.rindex(token) + 1)
    assert e.hint


def test_E014_bad_value():
    body = 'buy 1 BTCUSDT id="a b"'
    e = err(body)
    assert (e.code, e.col, e.token) == ("E014", 15, 'id="a b"')
    assert e.message.startswith("id must match [A-Za-z0-9._:/-]{1,32}")
    for bad in ["id=" + "x" * 33, "ts=yesterday", "pos=abc", "expect=up", "margin=x", "wt=index", "side=both",
                "tp=+2%:half", "tp=,", "trail=0.5@x", 'tag="unterminated', "delay=1.5ms", "id=", 'tag=a"b"']:
        assert err(f"buy 1 BTCUSDT {bad}").code == "E014", bad
    e = err('{"cmd": "buy 1 BTCUSDT",}')
    assert (e.code, e.line, e.col, e.token) == ("E014", 1, 25, "}") and e.message.startswith("invalid JSON envelope")
    assert err('{"cmd": ["buy 1 BTCUSDT", 5]}').code == "E014"
    assert err('{"cmd": "buy 1 BTCUSDT", "ts": true}').code == "E014"
    assert err('{"cmd": "buy 1 BTCUSDT", "ts": NaN}').code == "E014"


def test_E015_stale_and_future():
    body = "buy 1 BTCUSDT ts=2025-01-15T14:29:20Z ttl=30s"
    e = err(body)
    assert (e.code, e.col, e.token) == ("E015", 15, "ts=2025-01-15T14:29:20Z")
    assert e.message == "alert is 45 s old (ts=2025-01-15T14:29:20Z), ttl=30s — not executed"
    assert "ttl" in e.hint and e.http_status == 422
    assert one("buy 1 BTCUSDT ts=2025-01-15T14:29:36Z ttl=30s").ts_ms == NOW - 29_000
    assert "in the future" in err("buy 1 BTCUSDT ts=1736951500 ttl=30s").message
    e = err('{"cmd": "buy 1 BTCUSDT", "ts": 1736951300, "ttl": 30}')
    assert e.code == "E015" and e.command == 0 and "ttl=30" in e.message


def test_E016_E019_E020_E021_and_warnings_have_catalogue_wording():
    e = duplicate_error(alert_ref="01J0ABC", key="id=manual_test", received="12:00:01Z", status="filled")
    assert (e.code, e.http_status) == ("E016", 409)
    assert e.message == "duplicate of alert 01J0ABC (id=manual_test) received 12:00:01Z — status filled; ignored"
    assert auth_error("secret").message == "invalid secret" and auth_error("ip").message == "source IP not allowed"
    assert auth_error("ip").code == "E019" and auth_error("ip").http_status == 401
    e = min_size_error(requested="0.0004", asset="BTC", rounded="0", step="0.001", min_notional="5")
    assert (e.code, e.message) == ("E020", "0.0004 BTC rounds to 0 at step 0.001 (min notional 5 USDT)")
    e = rate_error("60/s")
    assert (e.code, e.message, e.http_status) == ("E021", "too many alerts for this account (60/s)", 429)
    w = nothing_to_close_warning(symbol="BTCUSDT", wanted="SHORT", actual="LONG 0.1")
    assert w.code == "W101" and isinstance(w, AlertWarning)
    assert target_overrides_warning(target="0", current="0.1", delta="-0.1", verb="buy", amount="1").code == "W102"
    assert alert_error(AlertCode.RANGE, "m", hint="h").code == "E010"
    with pytest.raises(ValueError):
        alert_error(AlertCode.ENVELOPE_OVERRIDE, "m", hint="h")
    with pytest.raises(ValueError):
        alert_warning(AlertCode.RANGE, "m", hint="h")
    assert {c.code for c in AlertCode} == {f"E{n:03d}" for n in range(1, 22)} | {"W101", "W102", "W103"}
    assert AlertCode.from_code("E017") is AlertCode.TRAILING


def test_E017_trailing():
    body = "buy 0.1 BTCUSDT LIMIT 3500 3600"
    e = err(body)
    assert (e.code, e.col, e.token) == ("E017", 28, "3600")
    assert e.message == "unexpected '3600' at col 28 after complete command; separate commands with ';'"
    assert "LIMIT needs a price" in e.hint
    e = err("buy 0.1 BTCUSDT MARKET sell 0.2 ETHUSDT")
    assert (e.code, e.col, e.token) == ("E017", 24, "sell") and "';'" in e.hint
    e = err("buy 0.1 BTCUSDT 67000")
    assert e.code == "E017" and "LIMIT 67000" in e.hint


def test_E018_too_long():
    body = "buy 1 BTCUSDT tag=x " + " " * 5100
    a = parse(body)
    e = a.errors[0]
    assert (e.code, e.col, e.token) == ("E018", 1, "")
    assert e.message == f"alert body too long ({len(body)} > 4096 bytes)"
    assert len(a.redacted_body) <= 4097
    assert parse("buy 1 BTCUSDT", max_bytes=8).errors[0].code == "E018"
    assert parse("buy 1 BTCUSDT" + " " * (4096 - 13)).ok  # exactly the limit is fine


# ================================================================= multiple commands, errors per command


def test_each_failing_command_gets_its_own_error_with_line_and_col():
    body = "buy 1 BTCUSDT\nsell 0,5 ETHUSDT; byu 1 X\nclose * ETHUSDT"
    a = parse(body)
    assert not a.ok and [c.index for c in a.commands] == [0, 3]
    assert [(e.code, e.command, e.line, e.col, e.token) for e in a.errors] == [
        ("E004", 1, 2, 6, "0,5"), ("E003", 2, 2, 19, "byu")]
    assert len(a.segments) == 4


# ================================================================= JSON envelope


def test_json_envelope_and_plain_text_mean_the_same():
    body = '{"cmd": "buy 0.001 BTCUSDT MARKET", "id": "manual_test", "secret": "s3", "ts": "2025-01-15T14:30:00Z"}'
    a = parse(body.encode())
    assert a.ok and a.envelope == "json" and a.text == "buy 0.001 BTCUSDT MARKET"
    c = a.commands[0]
    assert (c.id, c.secret, c.ts_ms) == ("manual_test", "s3", NOW - 5000)
    t = one("buy 0.001 BTCUSDT MARKET id=manual_test secret=s3 ts=2025-01-15T14:30:00Z")
    assert c.canonical() == t.canonical()
    assert parse("buy 1 BTCUSDT").envelope == "text"


def test_json_envelope_overrides_inline_options_with_W103():
    a = parse('{"cmd": "buy 1 BTCUSDT id=inline ts=1736951400", "id": "env", "ts": 1736951400}')
    assert a.ok and a.commands[0].id == "env"
    assert len(a.warnings) == 1  # same ts: no warning
    w = a.warnings[0]
    assert (w.code, w.command, w.col, w.token) == ("W103", 0, 15, "id=inline")


def test_json_envelope_cmd_list_and_multi_command_ids():
    a = parse('{"cmd": ["buy 1 BTCUSDT", "cancel * BTCUSDT id=old"], "id": "A1", "TTL": "30s", "ts": 1736951400}')
    assert a.ok and [c.line for c in a.commands] == [1, 2]
    buy, cancel = a.commands
    assert (buy.id, cancel.id, cancel.filter_id, buy.ttl_ms) == ("A1", "A1", "old", 30_000)
    k0 = derived_idempotency_key(a, 0, account_id=7)
    k1 = derived_idempotency_key(a, 1, account_id=7)
    assert (k0.key, k1.key, k0.source, k0.window_ms) == ("id:A1#1", "id:A1#2", "id", None)


def test_json_envelope_errors():
    assert err('["buy 1 BTCUSDT"]').code == "E003"  # not an object: plain text, and '["buy' is no verb
    assert err('{"cmd": "buy 1 BTCUSDT", "ttl": 1.5}').code == "E014"
    e = err('{"cmd": "buy 1 BTCUSDT",\n "ts": "soon"}')
    assert (e.code, e.line, e.col, e.token) == ("E014", 2, 2, '"ts":')
    assert err('{"cmd": ' + '[' * 2000).code == "E014"  # deep nesting (RecursionError) stays an AlertError
    assert err('{' * 3000).code == "E003"  # '{{' starts a text body (a placeholder), not JSON


# ================================================================= idempotency (§1.6), secret (§1.5), redaction


def test_derived_keys():
    a = parse("buy 1 BTCUSDT id=manual_test")
    k = derived_idempotency_key(a, account_id=1)
    assert (k.key, k.source, k.window_ms, k.account_id) == ("id:manual_test", "id", None, "1")
    cid = k.client_order_id("tp1")
    assert re.fullmatch(r"^[\.A-Z\:/a-z0-9_-]{1,36}$", cid) and cid == k.client_order_id("tp1")
    assert cid != derived_idempotency_key(a, account_id=2).client_order_id("tp1")
    with pytest.raises(ValueError):
        k.client_order_id("way-too-long-leg")

    with_ts = derived_idempotency_key(parse("buy 1 BTCUSDT ts=1736951400"), account_id=1)
    assert with_ts.source == "ts" and with_ts.window_ms is None
    content = derived_idempotency_key(parse("buy 1 BTCUSDT"), account_id=1)
    assert content.source == "content" and content.window_ms == 10_000
    same = derived_idempotency_key(parse("LONG   1  binance:btcusdt.p market"), account_id=1)
    assert same.key == content.key  # a re-sent alert (however spelt) maps to the same key
    assert derived_idempotency_key(parse("buy 1 BTCUSDT nodedup"), account_id=1) is None
    two = parse("buy 1 BTCUSDT; buy 1 BTCUSDT")
    assert derived_idempotency_key(two, 0, account_id=1).key != derived_idempotency_key(two, 1, account_id=1).key
    assert derived_idempotency_key(two, 0, account_id=1).key != content.key
    with pytest.raises(IndexError):
        derived_idempotency_key(two, 5, account_id=1)


def test_check_secret():
    assert check_secret(parse("buy 1 BTCUSDT"), None) is None
    assert check_secret(parse("buy 1 BTCUSDT"), "s").code == "E019"
    assert check_secret(parse("buy 1 BTCUSDT secret=s"), "s") is None
    assert check_secret(parse("buy 1 BTCUSDT secret=t"), "s").message == "invalid secret"
    assert check_secret(parse('{"cmd": "buy 1 BTCUSDT; sell 1 ETHUSDT", "secret": "s"}'), "s") is None
    assert check_secret(parse("buy 1 BTCUSDT secret=s; sell 1 ETHUSDT secret=x"), "s").code == "E019"


def test_secrets_are_redacted_from_the_logged_body():
    a = parse('buy 1 BTCUSDT secret="my pass" tag=x; sell 1 ETHUSDT SECRET=abc')
    assert "my pass" not in a.redacted_body and "abc" not in a.redacted_body and "tag=x" in a.redacted_body
    a = parse('{"cmd": "buy 1 BTCUSDT secret=inner", "secret": "outer"}')
    assert "inner" not in a.redacted_body and "outer" not in a.redacted_body
    logged = json.dumps(a.to_dict())
    assert "inner" not in logged and "outer" not in logged and a.warnings[0].code == "W103"
    assert json.loads(a.redacted_body) == {"cmd": "buy 1 BTCUSDT secret=***", "secret": "***"}
    a = parse('{"cmd": "buy 1 BTCUSDT secret=\\"in ner\\" tag=t", "secret": "a\\\\b"}')
    assert json.loads(a.redacted_body) == {"cmd": "buy 1 BTCUSDT secret=*** tag=t", "secret": "***"}
    e = parse("buy 1 BTCUSDT secret=a secret=b").errors[0]
    assert (e.code, e.token, e.message) == ("E012", "secret=***", "option 'secret' given twice")


def test_parsed_alert_to_dict_is_json():
    a = parse("buy 100$ BTCUSDT LIMIT -1% tp=+2%:50% sl=-1% ts=1736951400; byu 1 X")
    d = json.loads(json.dumps(a.to_dict()))
    assert d["ok"] is False and d["errors"][0]["code"] == "E003" and d["commands"][0]["price"]["value"] == "-1"


# ================================================================= fuzz: nothing escapes as an exception

_WORDS = ["buy", "sell", "long", "short", "close", "cancel", "0", "0.001", "*", "$100", "100$", "5%", "50%p", "-1",
          "0,5", "1e-3", "BTCUSDT", "BINANCE:BTCUSDT.P", "ETHUSDT", "btc/usdt", "MARKET", "LIMIT", "STOP",
          "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET", "3500", "+2%", "-0.1%", "0.5",
          "12", "reduceOnly", "ro", "close", "postOnly", "dry", "nodedup", "id=x", "id=", "lev=5", "lev=500",
          "tif=IOC", "tp=+2%:50%,+4%:50%", "sl=-1%", "trail=0.8@71000", "delay=5s", "ttl=30s", "ts=1736951405",
          "ts=2025-01-15T14:30:05Z", "pos=-0.02", "expect=flat", "slip=0.2", 'tag="a b"', 'secret="x', "side=long",
          "wt=mark", "{{ticker}}", ";", "\n", "//", '"', "=", "lev:5", "\t", "\r\n", "{", "}", "\\"]


def _check(body) -> None:
    a = parse_alert(body, now_ms=NOW, symbols=SYMBOLS)
    assert a.ok == (not a.errors)
    assert a.ok is False or a.commands
    for e in a.errors:
        assert isinstance(e, AlertError) and e.col >= 1 and e.line >= 1 and e.hint and e.message
        assert re.fullmatch(r"E0(0[1-9]|1[0-9]|2[01])", e.code)
    json.dumps(a.to_dict())
    for c in a.commands:
        for v in (c.size.value, c.target_position, c.callback_pct):
            assert v is None or isinstance(v, Decimal)
        k = derived_idempotency_key(a, c.index, account_id=1)
        assert k is None or len(k.client_order_id(0)) <= 36
    if a.envelope == "text":  # the token of a command error is found at its line/col in the message
        lines = a.text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        for e in a.errors:
            if e.token and e.command is not None and "\n" not in e.token and "\r" not in e.token:
                assert lines[e.line - 1][e.col - 1:e.col - 1 + len(e.token)] == e.token


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_fuzz_random_text(body):
    _check(body)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(body):
    _check(body)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(_WORDS), st.text(max_size=6)), max_size=14),
       st.sampled_from([" ", "", "  "]), st.booleans())
def test_fuzz_token_soup(words, sep, as_json):
    body = sep.join(words) if sep else " ".join(words)
    if as_json:
        body = json.dumps({"cmd": body, "id": "a1", "ts": 1736951400, "ttl": "1m"})
    _check(body)
