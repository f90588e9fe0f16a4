"""The alert order planner against a real Venue (bundled instruments, ManualClock): parsed alert text in, engine
commands out — and a good share of the plans are submitted to the same venue to prove the engine accepts them."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from alfax.alerts import Plan, plan_command, plan_legs, tag_code
from alfax.domain import commands as C
from alfax.domain.alert_grammar import parse_alert
from alfax.domain.alert_model import IdempotencyKey, derived_idempotency_key
from alfax.domain.enums import MarginType, OrderType, PositionSide, Side, TimeInForce, WorkingType
from alfax.domain.instruments import load_instruments
from alfax.domain.money import parse_fixed, to_decimal
from alfax.engine import ManualClock, Venue

DATA = Path(__file__).resolve().parents[2] / "alfax" / "data" / "instruments.json"
INSTRUMENTS = load_instruments(json.loads(DATA.read_text()))
T0 = 1_700_000_000_000
ACCT = 1


def px(s: str) -> int:
    return parse_fixed(s, 2)


def q(s: str) -> int:
    return parse_fixed(s, 3)


class World:
    """A venue with account 1 (10,000 USDT) and a liquid book around ``btc`` / ``eth``; the last trade is the
    reference price of the planner."""

    def __init__(self, btc: str = "30000.0", eth: str = "2000.00", dual: bool = False) -> None:
        self.clock = ManualClock(T0)
        self.v = Venue(INSTRUMENTS, self.clock)
        self.v.handle(C.CreateAccount(ACCT, "trader"))
        self.v.handle(C.Transfer(ACCT, parse_fixed("10000", 8)))
        if dual:
            self.v.handle(C.SetPositionMode(ACCT, True))
        self.market("BTCUSDT", btc, "0.1")
        self.market("ETHUSDT", eth, "0.01")

    def market(self, sym: str, price: str, tick: str, trade: bool = True) -> None:
        p = Decimal(price)
        bid = px(str(p - Decimal(tick)))
        self.v.handle(C.BookUpdate(sym, ((bid, q("50")), (bid - px("100"), q("50"))),
                                   ((px(price), q("50")), (px(price) + px("100"), q("50"))), 1))
        self.v.handle(C.MarkPriceUpdate(sym, px(price), px(price), 0, 0))
        if trade:
            self.v.handle(C.TradePrint(sym, px(price), q("1"), False, 1))

    # -- alerts
    def commands(self, body: str):
        alert = parse_alert(body, now_ms=self.clock.now_ms(), symbols=INSTRUMENTS)
        assert alert.ok, [e.message for e in alert.errors]
        return [(c, derived_idempotency_key(alert, c.index, account_id=ACCT)) for c in alert.commands]

    def plan(self, body: str, index: int = 0) -> Plan:
        cmd, key = self.commands(body)[index]
        before = self.v.state_hash()
        plan = plan_command(cmd, self.v, ACCT, key, now_ms=self.clock.now_ms())
        assert self.v.state_hash() == before, "planning must never change the venue"
        return plan

    def legs(self, body: str, entry_price: str, entry_qty: str) -> Plan:
        cmd, key = self.commands(body)[0]
        return plan_legs(cmd, self.v, ACCT, key, entry_price=Decimal(entry_price), entry_qty=Decimal(entry_qty),
                         now_ms=self.clock.now_ms())

    def submit(self, plan: Plan) -> list:
        assert plan.error is None and plan.outcome in ("orders", "dry_run")
        events = []
        for step in plan.steps:
            events.extend(self.v.handle(step.command))
        return events

    def run(self, body: str) -> Plan:
        plan = self.plan(body)
        self.submit(plan)
        return plan

    # -- state
    def open(self, side: Side, qty: str, sym: str = "BTCUSDT", pside: PositionSide = PositionSide.BOTH) -> None:
        self.v.handle(C.PlaceOrder(ACCT, sym, side, OrderType.MARKET, quantity=q(qty), position_side=pside))

    def pos(self, sym: str = "BTCUSDT", pside: PositionSide = PositionSide.BOTH) -> Decimal:
        p = self.v.pos_map.get((ACCT, sym, pside))
        return to_decimal(p.qty, 3) if p else Decimal(0)


def order(plan: Plan, i: int = -1) -> C.PlaceOrder:
    cmd = plan.steps[i].command
    assert isinstance(cmd, C.PlaceOrder)
    return cmd


def key_id(explicit_id: str) -> IdempotencyKey:
    return IdempotencyKey(str(ACCT), f"id:{explicit_id}", "id", None)


# ================================================================== the seed's TradingView examples


@pytest.fixture
def seed() -> World:
    return World(btc="67000.0", eth="3500.00")


def test_seed_market_buy_with_id(seed: World):
    plan = seed.plan("buy 0.001 BTCUSDT MARKET id=manual_test")
    assert plan.outcome == "orders" and plan.error is None and len(plan.steps) == 1
    o = order(plan)
    assert (o.side, o.type, o.quantity, o.reduce_only) == (Side.BUY, OrderType.MARKET, q("0.001"), False)
    assert plan.steps[0].label == "entry" and plan.steps[0].description == "MARKET BUY 0.001 BTCUSDT"
    assert o.client_order_id == plan.steps[0].client_order_id == key_id("manual_test").client_order_id("entry")
    seed.submit(plan)
    assert seed.pos() == Decimal("0.001")


def test_seed_reduce_only_limit_sell(seed: World):
    seed.open(Side.BUY, "1", "ETHUSDT")
    plan = seed.plan("sell 0.5 ETHUSDT LIMIT 3500 reduceOnly")
    o = order(plan)
    assert (o.side, o.type, o.quantity, o.price, o.reduce_only) == (Side.SELL, OrderType.LIMIT, q("0.5"),
                                                                    px("3500"), True)
    assert plan.steps[0].label == "close"
    seed.submit(plan)
    resting = seed.v.open_orders(ACCT, "ETHUSDT")
    assert [(r.side, r.quantity, r.price, r.reduce_only) for r in resting] == [(Side.SELL, q("0.5"), px("3500"), True)]


def test_seed_trailing_stop(seed: World):
    plan = seed.plan("sell 0.1 BTCUSDT TRAILING_STOP_MARKET 0.5")
    o = order(plan)
    assert (o.type, o.side, o.quantity, o.callback_rate, o.activation_price) == (
        OrderType.TRAILING_STOP_MARKET, Side.SELL, q("0.1"), 500_000, 0)
    seed.submit(plan)
    [algo] = seed.v.open_algo_orders(ACCT, "BTCUSDT")
    assert algo.order_type is OrderType.TRAILING_STOP_MARKET and algo.callback_rate == 500_000


def test_seed_buy_zero_close_closes_the_short(seed: World):
    seed.open(Side.SELL, "0.003")
    plan = seed.plan("buy 0 BTCUSDT MARKET close")
    assert plan.outcome == "orders"
    o = order(plan)
    assert (o.side, o.type, o.quantity, o.reduce_only) == (Side.BUY, OrderType.MARKET, q("0.003"), True)
    assert plan.steps[0].description == "MARKET BUY 0.003 BTCUSDT reduceOnly"
    seed.submit(plan)
    assert seed.pos() == 0


def test_seed_pine_template(seed: World):
    # the Message template '{{strategy.order.action}} {{strategy.order.contracts}} {{ticker}} {{alert_message}}'
    # with alert_message="LIMIT 67000 reduceOnly id=long_breakout", as TradingView fills it
    seed.open(Side.SELL, "0.02")
    plan = seed.plan("buy 0.01 BINANCE:BTCUSDT.P LIMIT 67000 reduceOnly id=long_breakout")
    o = order(plan)
    assert (o.side, o.type, o.quantity, o.price, o.reduce_only) == (Side.BUY, OrderType.LIMIT, q("0.01"),
                                                                    px("67000"), True)
    assert o.client_order_id == key_id("long_breakout").client_order_id("close")
    seed.submit(plan)  # the ask is 67000.0: it fills at once
    assert seed.pos() == Decimal("-0.01")


def test_reference_close_half_then_cancel_tagged(seed: World):
    seed.open(Side.BUY, "1", "ETHUSDT")
    seed.run("buy 0.1 ETHUSDT LIMIT 3400 tag=grid id=g1")
    seed.run("buy 0.1 ETHUSDT LIMIT 3390 id=g2")
    body = "close 50%p ETHUSDT ; cancel * ETHUSDT tag=grid"
    close = seed.plan(body, 0)
    assert (order(close).side, order(close).quantity, order(close).reduce_only) == (Side.SELL, q("0.5"), True)
    seed.submit(close)
    assert seed.pos("ETHUSDT") == Decimal("0.5")
    cancel = seed.plan(body, 1)
    assert [type(s.command) for s in cancel.steps] == [C.CancelOrder] and cancel.steps[0].label == "cancel"
    seed.submit(cancel)
    assert [o.price for o in seed.v.open_orders(ACCT, "ETHUSDT")] == [px("3390")]


# ================================================================== sizing units


@pytest.mark.parametrize("amount, expected", [
    ("0.0123", "0.012"),  # base, rounded down to the 0.001 step
    ("0.01c", "0.01"),
    ("100$", "0.003"),  # 100 / 30000 = 0.00333…
    ("$90", "0.003"),  # exactly 0.003
    ("10$m", "0.006"),  # 10 margin x 20 (default leverage) = 200 USDT / 30000
    ("5%", "0.016"),  # 5 % of 10000 equity = 500 USDT / 30000 = 0.01666…
    ("5%e", "0.016"),
])
def test_sizing_units_flat_account(amount: str, expected: str):
    w = World()
    plan = w.plan(f"buy {amount} BTCUSDT")
    assert order(plan).quantity == q(expected)
    assert plan.entry_qty == Decimal(expected)


def test_margin_units_use_lev_when_given():
    w = World()
    assert order(w.plan("buy 10$m BTCUSDT lev=5")).quantity == q("0.001")  # 50 / 30000
    w.v.handle(C.SetLeverage(ACCT, "BTCUSDT", 50))
    assert order(w.plan("buy 10$m BTCUSDT")).quantity == q("0.016")  # 500 / 30000


def test_available_and_position_units():
    w = World()
    w.open(Side.BUY, "1", "ETHUSDT")  # 2000 notional: 100 initial margin, 1 USDT taker fee
    s = w.v.summary(ACCT)
    assert (s.margin_balance, s.available_balance) == (parse_fixed("9999", 8), parse_fixed("9899", 8))
    assert order(w.plan("buy 30% BTCUSDT")).quantity == q("0.099")  # 2999.7 / 30000
    assert order(w.plan("buy 30%a BTCUSDT")).quantity == q("0.098")  # 2969.7 / 30000
    assert order(w.plan("buy 10%m BTCUSDT")).quantity == q("0.659")  # 989.9 x 20 / 30000
    w.open(Side.BUY, "0.010")
    assert order(w.plan("sell 50%p BTCUSDT")).quantity == q("0.005")
    assert order(w.plan("buy 33%p BTCUSDT")).quantity == q("0.003")


def test_min_size_errors_carry_the_numbers():
    w = World()
    p = w.plan("buy 0.0004 BTCUSDT")
    assert p.outcome == "error" and p.steps == () and p.error.code == "E020"
    assert p.error.message == "0.0004 BTC rounds to 0 at step 0.001 (min notional 5 USDT)"
    p = w.plan("buy 4$ BTCUSDT")
    assert p.error.code == "E020" and p.error.message.startswith("0.000133333 BTC rounds to 0 at step 0.001")
    p = w.plan("buy 0.002 ETHUSDT")  # 4 USDT notional < 5
    assert p.error.code == "E020" and p.error.message == "0.002 ETH rounds to 0.002 at step 0.001 (min notional 5 USDT)"
    w.open(Side.BUY, "0.01", "ETHUSDT")
    assert w.plan("sell 0.002 ETHUSDT reduceOnly").error is None  # reducing orders have no minimum notional


# ================================================================== prices


def test_relative_limit_prices_round_to_the_safe_side():
    w = World()
    w.market("BTCUSDT", "30000.0", "0.1", trade=False)
    w.v.handle(C.MarkPriceUpdate("BTCUSDT", px("30010"), px("30010"), 0, 0))  # mark differs: last trade wins
    assert order(w.plan("buy 0.01 BTCUSDT LIMIT -0.1%")).price == px("29970.0")
    assert order(w.plan("sell 0.01 BTCUSDT LIMIT +0.05%")).price == px("30015.0")
    # 30000 x (1 - 0.0015 %) = 29999.55: a buy never pays more (down), a sell never asks less (up)
    assert order(w.plan("buy 0.01 BTCUSDT LIMIT -0.0015%")).price == px("29999.5")
    assert order(w.plan("sell 0.01 BTCUSDT LIMIT -0.0015%")).price == px("29999.6")
    assert order(w.plan("buy 0.01 BTCUSDT LIMIT -12.34")).price == px("29987.6")
    assert order(w.plan("buy 0.01 BTCUSDT LIMIT 29000.05")).price == px("29000.0")
    assert order(w.plan("sell 0.01 BTCUSDT LIMIT 31000.05")).price == px("31000.1")
    plan = w.plan("buy 0.01 BTCUSDT LIMIT -0.1% postOnly")
    assert order(plan).time_in_force is TimeInForce.GTX and plan.steps[0].description.endswith("@ 29970.00 GTX")
    w.submit(plan)
    assert [o.price for o in w.v.open_orders(ACCT, "BTCUSDT")] == [px("29970.0")]


def test_reference_falls_back_to_mark_without_trades():
    fresh = World.__new__(World)  # a venue whose markets never traded
    fresh.clock = ManualClock(T0)
    fresh.v = Venue(INSTRUMENTS, fresh.clock)
    fresh.v.handle(C.CreateAccount(ACCT, "t"))
    fresh.v.handle(C.Transfer(ACCT, parse_fixed("1000", 8)))
    fresh.v.handle(C.MarkPriceUpdate("ETHUSDT", px("2500"), px("2500"), 0, 0))
    assert order(fresh.plan("buy 0.1 ETHUSDT LIMIT -1%")).price == px("2475")
    nothing = fresh.plan("buy 100$ BTCUSDT")  # no trade, mark or book at all
    assert nothing.error.code == "E013" and "no price for BTCUSDT" in nothing.error.message


def test_stop_types_slip_and_working_type():
    w = World()
    stop = order(w.plan("buy 0.01 BTCUSDT STOP +1% +1.1%"))
    assert (stop.type, stop.stop_price, stop.price) == (OrderType.STOP, px("30300"), px("30330"))
    tp = order(w.plan("sell 0.01 BTCUSDT TAKE_PROFIT_MARKET +2% wt=mark"))
    assert (tp.stop_price, tp.working_type) == (px("30600"), WorkingType.MARK_PRICE)
    for body in ("buy 0.01 BTCUSDT STOP +1% +1.1%", "sell 0.01 BTCUSDT TAKE_PROFIT_MARKET +2% wt=mark"):
        w.run(body)
    assert len(w.v.open_algo_orders(ACCT, "BTCUSDT")) == 2
    buy = w.plan("buy 0.01 BTCUSDT slip=0.5")
    assert (order(buy).type, order(buy).time_in_force, order(buy).price) == (OrderType.LIMIT, TimeInForce.IOC,
                                                                             px("30150"))
    assert order(w.plan("sell 0.01 BTCUSDT slip=0.5")).price == px("29850")
    w.submit(buy)
    assert w.pos() == Decimal("0.01")


def test_price_out_of_range_is_e010():
    w = World()
    p = w.plan("buy 0.01 BTCUSDT LIMIT -99%")  # 300: below BTCUSDT's minPrice 556.80
    assert p.error.code == "E010" and "outside the venue's price range" in p.error.message


# ================================================================== close


def test_close_long_short_and_flat():
    w = World()
    w.open(Side.BUY, "0.004")
    plan = w.plan("close * BTCUSDT")
    assert (order(plan).side, order(plan).quantity, order(plan).reduce_only) == (Side.SELL, q("0.004"), True)
    w.submit(plan)
    assert w.pos() == 0
    w.open(Side.SELL, "0.002")
    plan = w.plan("close 0 BTCUSDT")
    assert (order(plan).side, order(plan).quantity) == (Side.BUY, q("0.002"))
    w.submit(plan)
    assert w.pos() == 0
    flat = w.plan("close * BTCUSDT")
    assert (flat.outcome, flat.steps, flat.error) == ("nothing", (), None)
    assert [x.code for x in flat.warnings] == ["W101"]
    assert flat.warnings[0].message == "nothing to close: no LONG or SHORT position on BTCUSDT (position is flat)"


def test_close_flag_only_closes_its_side():
    w = World()
    w.open(Side.SELL, "0.003")
    plan = w.plan("sell 0 BTCUSDT close")  # sell … close closes a LONG; the position is SHORT
    assert plan.outcome == "nothing" and plan.steps == ()
    assert plan.warnings[0].message == "nothing to close: no LONG position on BTCUSDT (position is SHORT 0.003)"


def test_partial_closes():
    w = World()
    w.open(Side.BUY, "0.010")
    half = w.plan("close 50%p BTCUSDT")
    assert (order(half).side, order(half).quantity, order(half).reduce_only) == (Side.SELL, q("0.005"), True)
    w.submit(half)
    assert w.pos() == Decimal("0.005")
    assert order(w.plan("close 0.3 BTCUSDT")).quantity == q("0.005")  # capped at the position
    assert order(w.plan("close 0.0037 BTCUSDT")).quantity == q("0.003")
    lim = w.plan("close 0.002 BTCUSDT LIMIT +0.1%")
    assert (order(lim).type, order(lim).price, order(lim).reduce_only) == (OrderType.LIMIT, px("30030"), True)
    w.submit(lim)
    assert len(w.v.open_orders(ACCT, "BTCUSDT")) == 1


# ================================================================== pos= / expect=


def test_target_in_sync():
    w = World()
    w.open(Side.BUY, "0.02")
    for body in ("buy 0.02 BTCUSDT pos=0.02", "buy 0.02 BTCUSDT pos=0.0205"):
        p = w.plan(body)
        assert (p.outcome, p.steps, p.warnings, p.error) == ("in_sync", (), (), None)


def test_target_trades_the_delta():
    w = World()
    opening = w.plan("sell 0.02 BTCUSDT pos=-0.02")
    assert (order(opening).side, order(opening).quantity, order(opening).reduce_only) == (Side.SELL, q("0.02"), False)
    assert opening.warnings == () and opening.steps[0].label == "entry"
    w.submit(opening)
    assert w.pos() == Decimal("-0.02")
    reducing = w.plan("buy 0.01 BTCUSDT pos=-0.01")
    assert (order(reducing).side, order(reducing).quantity, order(reducing).reduce_only) == (Side.BUY, q("0.01"),
                                                                                            True)
    assert reducing.steps[0].label == "close"
    flip = w.plan("buy 0.05 BTCUSDT pos=0.03")
    assert (order(flip).side, order(flip).quantity, order(flip).reduce_only) == (Side.BUY, q("0.05"), False)
    assert flip.warnings == () and flip.entry_qty == Decimal("0.03")
    w.submit(flip)
    assert w.pos() == Decimal("0.03")


def test_target_overrides_verb_and_amount():
    w = World()
    w.open(Side.BUY, "0.01")
    p = w.plan("buy 0.01 BTCUSDT pos=0")
    assert (order(p).side, order(p).quantity, order(p).reduce_only) == (Side.SELL, q("0.01"), True)
    assert [x.code for x in p.warnings] == ["W102"]
    assert p.warnings[0].message == "target position 0 (current 0.01) trades -0.01; 'buy 0.01' ignored"
    w.submit(p)
    assert w.pos() == 0
    p = w.plan("buy 0.05 BTCUSDT pos=0.02")
    assert order(p).quantity == q("0.02") and [x.code for x in p.warnings] == ["W102"]


def test_expect_mismatch_refuses_unless_pos_heals():
    w = World()
    w.open(Side.BUY, "0.003")
    refused = w.plan("sell 0.02 BTCUSDT expect=flat")
    assert refused.outcome == "error" and refused.steps == () and refused.error.code == "E013"
    assert refused.error.message == "expected flat, position is LONG 0.003 — not executed"
    healed = w.plan(f"sell 0.02 BTCUSDT pos=-0.02 expect=flat ts={T0} ttl=30s")
    assert (order(healed).side, order(healed).quantity) == (Side.SELL, q("0.023"))
    assert [x.code for x in healed.warnings] == ["W102", "W102"]  # the drift, then the amount 0.02 ≠ 0.023
    assert "expected flat, position is LONG 0.003" in healed.warnings[0].message
    w.submit(healed)
    assert w.pos() == Decimal("-0.02")
    ok = w.plan("buy 0.02 BTCUSDT pos=0 expect=short")
    assert ok.warnings == () and order(ok).reduce_only


# ================================================================== lev= / margin=


def test_leverage_and_margin_steps_then_skipped():
    w = World()
    plan = w.plan("buy 0.001 BTCUSDT lev=5 margin=isolated")
    assert [s.label for s in plan.steps] == ["leverage", "margin", "entry"]
    assert plan.steps[0].command == C.SetLeverage(ACCT, "BTCUSDT", 5)
    assert plan.steps[1].command == C.SetMarginType(ACCT, "BTCUSDT", MarginType.ISOLATED)
    assert plan.steps[0].client_order_id == "" and plan.steps[0].description == "leverage BTCUSDT 20x -> 5x"
    w.submit(plan)
    [p] = w.v.positions(ACCT, "BTCUSDT")
    assert (p.leverage, p.margin_type, p.qty) == (5, MarginType.ISOLATED, q("0.001"))
    again = w.plan("buy 0.001 BTCUSDT lev=5 margin=isolated")
    assert [s.label for s in again.steps] == ["entry"]
    assert [s.label for s in World().plan("buy 0.001 BTCUSDT lev=20 margin=cross").steps] == ["entry"]


# ================================================================== TP / SL / trail legs


def test_legs_for_a_long():
    w = World()
    body = "buy 0.005 BTCUSDT tp=+2%:50%,+4%:50% sl=-1%"
    entry = w.plan(body)
    assert [s.label for s in entry.steps] == ["entry"] and entry.legs_pending
    w.submit(entry)
    legs = w.legs(body, "30000.0", "0.005")
    assert [s.label for s in legs.steps] == ["tp1", "tp2", "sl1"]
    got = [(o.type, o.side, o.quantity, o.stop_price, o.reduce_only) for o in (s.command for s in legs.steps)]
    assert got == [(OrderType.TAKE_PROFIT_MARKET, Side.SELL, q("0.002"), px("30600"), True),
                   (OrderType.TAKE_PROFIT_MARKET, Side.SELL, q("0.003"), px("31200"), True),
                   (OrderType.STOP_MARKET, Side.SELL, q("0.005"), px("29700"), True)]
    assert legs.steps[0].description == "TAKE_PROFIT_MARKET SELL 0.002 BTCUSDT trigger 30600.00 reduceOnly"
    w.submit(legs)
    assert len(w.v.open_algo_orders(ACCT, "BTCUSDT")) == 3


def test_legs_for_a_short_and_unequal_shares():
    w = World()
    body = "sell 0.010 BTCUSDT tp=-2%:30%,-4% sl=+1%"
    w.submit(w.plan(body))
    legs = w.legs(body, "30000.0", "0.010")
    got = [(o.side, o.quantity, o.stop_price) for o in (s.command for s in legs.steps)]
    assert got == [(Side.BUY, q("0.003"), px("29400")), (Side.BUY, q("0.007"), px("28800")),
                   (Side.BUY, q("0.010"), px("30300"))]
    w.submit(legs)
    partial = w.legs("sell 0.010 BTCUSDT tp=-2%:30%", "30000.0", "0.010")
    assert [o.quantity for o in (s.command for s in partial.steps)] == [q("0.003")]  # shares under 100 % stay so


def test_leg_split_rounding_gives_the_remainder_to_the_last_leg():
    w = World()
    legs = w.legs("buy 0.003 BTCUSDT tp=+1%:50%,+2%:50%", "30000.0", "0.003")
    assert [o.quantity for o in (s.command for s in legs.steps)] == [q("0.001"), q("0.002")]
    tiny = w.legs("buy 0.001 BTCUSDT tp=+1%:50%,+2%:50%", "30000.0", "0.001")
    assert [s.label for s in tiny.steps] == ["tp2"]  # the first half rounds to 0: the last leg takes it all


def test_leg_on_the_wrong_side_is_e013():
    w = World()
    p = w.legs("buy 0.005 BTCUSDT tp=29000", "30000.0", "0.005")
    assert p.outcome == "error" and p.steps == () and p.error.code == "E013"
    assert "wrong side of the entry 30000 for a long" in p.error.message
    p = w.legs("sell 0.005 BTCUSDT sl=29000", "30000.0", "0.005")
    assert p.error.code == "E013" and "for a short" in p.error.message


def test_no_legs_is_an_empty_plan():
    w = World()
    assert w.legs("buy 0.005 BTCUSDT", "30000", "0.005") == Plan(())
    assert w.plan("buy 0.005 BTCUSDT").legs_pending is False


def test_trail_leg():
    w = World()
    body = "buy 0.01 BTCUSDT trail=0.8@+1%"
    w.submit(w.plan(body))
    legs = w.legs(body, "30000.0", "0.01")
    [step] = legs.steps
    o = step.command
    assert step.label == "trail"
    assert (o.type, o.side, o.quantity, o.callback_rate, o.activation_price, o.reduce_only) == (
        OrderType.TRAILING_STOP_MARKET, Side.SELL, q("0.01"), 800_000, px("30300"), True)
    w.submit(legs)
    assert w.v.open_algo_orders(ACCT, "BTCUSDT")[0].callback_rate == 800_000


def test_reference_entry_example_limit_postonly_with_legs():
    w = World()
    body = "buy 100$ BINANCE:BTCUSDT.P LIMIT -0.1% postOnly lev=5 tp=+2%:50%,+4%:50% sl=-1%"
    plan = w.plan(body)
    assert [s.label for s in plan.steps] == ["leverage", "entry"]
    o = order(plan)
    assert (o.quantity, o.price, o.time_in_force) == (q("0.003"), px("29970"), TimeInForce.GTX)
    assert (plan.entry_qty, plan.entry_price, plan.legs_pending) == (Decimal("0.003"), Decimal("29970"), True)
    w.submit(plan)
    legs = w.legs(body, str(plan.entry_price), str(plan.entry_qty))  # a resting LIMIT entry: its limit price
    assert [(s.label, s.command.quantity, s.command.stop_price) for s in legs.steps] == [
        ("tp1", q("0.001"), px("30569.4")), ("tp2", q("0.002"), px("31168.8")), ("sl1", q("0.003"), px("29670.3"))]
    w.submit(legs)
    assert len(w.v.open_algo_orders(ACCT, "BTCUSDT")) == 3


# ================================================================== hedge mode


def test_hedge_mode_position_sides():
    w = World(dual=True)
    entry = w.plan("buy 0.01 BTCUSDT")
    assert (order(entry).position_side, order(entry).reduce_only) == (PositionSide.LONG, False)
    w.submit(entry)
    w.run("sell 0.004 BTCUSDT")  # opens the SHORT side
    ro = w.plan("sell 0.005 BTCUSDT reduceOnly")  # reduceOnly is expressed through positionSide
    assert (order(ro).position_side, order(ro).reduce_only, ro.steps[0].label) == (PositionSide.LONG, False, "close")
    legs = w.legs("buy 0.01 BTCUSDT sl=-1%", "30000", "0.01")
    assert (order(legs).position_side, order(legs).reduce_only) == (PositionSide.LONG, False)
    close = w.plan("close * BTCUSDT")
    assert [(s.command.side, s.command.position_side, s.command.quantity) for s in close.steps] == [
        (Side.SELL, PositionSide.LONG, q("0.01")), (Side.BUY, PositionSide.SHORT, q("0.004"))]
    assert len({s.client_order_id for s in close.steps}) == 2
    assert w.plan("close 0.001 BTCUSDT").error.code == "E013"  # which side? ambiguous
    w.submit(close)
    assert (w.pos(pside=PositionSide.LONG), w.pos(pside=PositionSide.SHORT)) == (0, 0)


def test_hedge_mode_target_reduces_then_opens():
    w = World(dual=True)
    w.open(Side.BUY, "0.01", pside=PositionSide.LONG)
    plan = w.plan("sell 0.03 BTCUSDT pos=-0.02")
    assert [(s.label, s.command.position_side, s.command.quantity) for s in plan.steps] == [
        ("close", PositionSide.LONG, q("0.01")), ("entry", PositionSide.SHORT, q("0.02"))]
    w.submit(plan)
    assert (w.pos(pside=PositionSide.LONG), w.pos(pside=PositionSide.SHORT)) == (0, Decimal("-0.02"))


def test_side_option_needs_hedge_mode():
    p = World().plan("buy 0.01 BTCUSDT side=long")
    assert p.error.code == "E013" and "hedge mode" in p.error.message


# ================================================================== cancel


def test_cancel_filters():
    w = World()
    w.run("buy 0.001 BTCUSDT LIMIT 29000 tag=grid id=g1")
    w.run("buy 0.001 BTCUSDT LIMIT 28900 tag=other id=o1")
    w.run("sell 0.001 BTCUSDT STOP_MARKET 29500 id=s1")
    w.v.handle(C.PlaceOrder(ACCT, "BTCUSDT", Side.BUY, OrderType.LIMIT, quantity=q("0.001"), price=px("28800")))

    def targets(body: str) -> list:
        plan = w.plan(body)
        return [(type(s.command).__name__, s.label) for s in plan.steps], plan

    by_tag, plan = targets("cancel * BTCUSDT tag=grid")
    assert by_tag == [("CancelOrder", "cancel")]
    assert plan.steps[0].description == (
        f"cancel LIMIT BUY 0.001 BTCUSDT @ 29000.00 ({key_id('g1').client_order_id('entry.' + tag_code('grid'))})")
    by_id, plan = targets("cancel * BTCUSDT id=o1")
    assert by_id == [("CancelOrder", "cancel")] and "28900.00" in plan.steps[0].description
    by_type, plan = targets("cancel * BTCUSDT STOP_MARKET")
    assert by_type == [("CancelAlgoOrder", "cancel")]
    limits, _ = targets("cancel * BTCUSDT LIMIT")
    assert len(limits) == 3  # the manual order too
    assert targets("cancel * BTCUSDT tag=nope")[1].outcome == "nothing"
    _, plan = targets("cancel * BTCUSDT tag=grid")
    w.submit(plan)
    assert sorted(o.price for o in w.v.open_orders(ACCT, "BTCUSDT")) == [px("28800"), px("28900")]
    everything, plan = targets("cancel * BTCUSDT")
    assert everything == [("CancelAllOrders", "cancel")]
    w.submit(plan)
    assert w.v.open_orders(ACCT, "BTCUSDT") == [] and w.v.open_algo_orders(ACCT, "BTCUSDT") == []
    nothing = w.plan("cancel * BTCUSDT")
    assert (nothing.outcome, nothing.steps, nothing.error) == ("nothing", (), None)


def test_cancel_id_filter_covers_envelope_ids_shared_by_commands():
    w = World()
    body = json.dumps({"cmd": "buy 0.001 BTCUSDT LIMIT 29000 ; buy 0.001 BTCUSDT LIMIT 28600", "id": "batch7"})
    for cmd, key in w.commands(body):
        w.submit(plan_command(cmd, w.v, ACCT, key, now_ms=T0))
    assert len(w.plan("cancel * BTCUSDT id=batch7").steps) == 2


# ================================================================== dry run, ids, errors


def test_dry_run_plans_without_executing():
    w = World()
    for flag in ("dry", "validate_only"):
        p = w.plan(f"buy 0.001 BTCUSDT lev=5 {flag}")
        assert p.outcome == "dry_run" and [s.label for s in p.steps] == ["leverage", "entry"]
    assert w.plan("close * BTCUSDT dry").outcome == "nothing"
    legs = w.legs("buy 0.005 BTCUSDT sl=-1% dry", "30000", "0.005")
    assert legs.outcome == "dry_run" and len(legs.steps) == 1


def test_client_ids_are_deterministic():
    w = World()
    body = "buy 0.005 BTCUSDT LIMIT 29000 tp=+2% sl=-1% ts=1700000000"
    a, b = w.plan(body), w.plan(body)
    assert a.steps[0].client_order_id == b.steps[0].client_order_id != ""
    assert a.steps[0].client_order_id.endswith("-entry") and len(a.steps[0].client_order_id) <= 36
    la, lb = w.legs(body, "29000", "0.005"), w.legs(body, "29000", "0.005")
    assert [s.client_order_id for s in la.steps] == [s.client_order_id for s in lb.steps]
    assert len({s.client_order_id for s in la.steps} | {a.steps[0].client_order_id}) == 3
    other = w.plan("buy 0.005 BTCUSDT LIMIT 29000 tp=+2% sl=-1% ts=1700000001")
    assert other.steps[0].client_order_id != a.steps[0].client_order_id
    tagged = w.plan("buy 0.001 BTCUSDT id=t1 tag=grid")
    assert tagged.steps[0].client_order_id == key_id("t1").client_order_id("entry." + tag_code("grid"))
    assert w.plan("buy 0.001 BTCUSDT nodedup").steps[0].client_order_id == ""


def test_unknown_symbol_and_account_are_error_plans():
    w = World()
    alert = parse_alert("buy 1 FOOUSDT", now_ms=T0)  # parsed without the venue's symbol list
    p = plan_command(alert.commands[0], w.v, ACCT, None, now_ms=T0)
    assert p.outcome == "error" and p.error.code == "E007"
    cmd, key = w.commands("buy 0.001 BTCUSDT")[0]
    p = plan_command(cmd, w.v, 99, key, now_ms=T0)
    assert p.outcome == "error" and p.error.code == "E013" and "account 99" in p.error.message
