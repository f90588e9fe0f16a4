"""User data stream payloads (contract §4.5) encoded from a real engine run."""

from __future__ import annotations

import orjson
import pytest

from alfax.api import codec
from alfax.domain import commands as C
from alfax.domain.enums import MarginType, OrderType, PositionSide, Side
from alfax.domain.events import AccountUpdated, AlgoUpdated, Liquidated, OrderUpdated
from alfax.streams import user_payloads as U

from .helpers import INST, INSTRUMENTS, SYM, Sim, keys, plain, px, qty, usd

# ---- key sets, copied literally from contract §4.5
OTU_TOP = keys("e E T o")
OTU_O = keys("s c S o f q p ap sp x X i l z L N n T t b a m R wt ot ps cp AP cr pP si ss rp V pm gtd er")
TRADE_LITE = keys("e E T s q p m c S L l t i")
ACCOUNT_UPDATE_TOP = keys("e E T a")
ACCOUNT_UPDATE_A = keys("m B P")
ACCOUNT_UPDATE_B = keys("a wb cw bc")
ACCOUNT_UPDATE_P = keys("s pa ep bep cr up mt iw ps")
MARGIN_CALL_TOP = keys("e E cw p")
MARGIN_CALL_P = keys("s ps pa mt iw mp up mm")
CONFIG_TOP_AC = keys("e E T ac")
CONFIG_AC = keys("s l")
ALGO_TOP = keys("e T E o")
ALGO_O = keys("caid aid at o s S ps f q X ai ap aq act tp p V wt pm cp pP R tt gtd rm")
REJECT_TOP = keys("e E T or")
REJECT_OR = keys("s i r")
LISTEN_KEY_EXPIRED = keys("e E listenKey")


def by_event(pairs, name):
    return [p for _, p in pairs if p["e"] == name]


@pytest.fixture
def run():
    """One engine run touching every user event kind; returns (sim, encoded pairs)."""
    s = Sim()
    s.do(C.SetLeverage(1, SYM, 25))
    s.do(C.SetPositionMode(2, True))
    (new_ev,) = [e for e in s.place(price="29000.0") if isinstance(e, OrderUpdated)]
    s.do(C.CancelOrder(1, SYM, order_id=new_ev.order.order_id))
    s.place(side=Side.BUY, type=OrderType.MARKET, q="0.123")  # taker fill against 30000.1
    s.place(side=Side.SELL, price="30100.0", q="0.05")  # resting maker, filled by a print through it
    s.trade("30100.5", "1")
    s.place(side=Side.BUY, type=OrderType.STOP_MARKET, q="0.01", stop_price=px("30200.0"), via_algo_api=True)
    s.place(side=Side.SELL, type=OrderType.TRAILING_STOP_MARKET, q="0.01", callback_rate=1_000_000,
            activation_price=px("31000.0"))
    s.book([("30200.0", "5")], [("30200.1", "5")])
    s.trade("30200.0")  # fires the stop
    return s, U.encode_user_events(s.events, s.v)


def test_every_payload_is_json_plain(run):
    _, pairs = run
    assert pairs
    for acct, p in pairs:
        assert acct in (1, 2)
        assert plain(p), p
        orjson.dumps(p)


def test_order_trade_update_keys_and_values(run):
    s, pairs = run
    otu = by_event(pairs, "ORDER_TRADE_UPDATE")
    assert {p["o"]["x"] for p in otu} >= {"NEW", "CANCELED", "TRADE"}
    for p in otu:
        assert set(p) == OTU_TOP and set(p["o"]) == OTU_O
        assert "ps" in p["o"]  # ccxt.pro: presence of ps = contract order
    evs = [e for e in s.events if isinstance(e, OrderUpdated)]
    assert len(evs) == len(otu)
    for ev, p in zip(evs, otu):
        o, rest = p["o"], codec.order_json(ev.order, INST)
        assert p["E"] == ev.ts == p["T"]
        assert o["i"] == rest["orderId"] and o["c"] == rest["clientOrderId"] and o["s"] == SYM
        assert o["q"] == rest["origQty"] and o["p"] == rest["price"] and o["sp"] == rest["stopPrice"]
        assert o["ap"] == rest["avgPrice"] and o["z"] == rest["executedQty"]
        assert (o["X"], o["o"], o["ot"], o["f"], o["S"], o["ps"], o["wt"]) == tuple(
            str(rest[k]) for k in ("status", "type", "origType", "timeInForce", "side", "positionSide",
                                   "workingType"))
        assert o["x"] == ev.exec_type.value and o["gtd"] == rest["goodTillDate"]
        assert (o["R"], o["cp"], o["pP"]) == (rest["reduceOnly"], rest["closePosition"], rest["priceProtect"])
        if ev.trade is None:
            assert o["t"] == 0 and o["l"] == "0.000" and o["L"] == "0.00" and o["n"] == "0.00000000"
            assert o["rp"] == "0.00000000" and o["m"] is False and o["T"] == ev.ts
        else:
            t = codec.trade_json(ev.trade, INST)
            assert o["t"] == t["id"] and o["L"] == t["price"] and o["l"] == t["qty"]
            assert o["n"] == t["commission"] and o["N"] == "USDT" and o["rp"] == t["realizedPnl"]
            assert o["m"] == t["maker"] and o["T"] == t["time"]


def test_order_trade_update_fill_values_literal(run):
    _, pairs = run
    taker = [p["o"] for p in by_event(pairs, "ORDER_TRADE_UPDATE") if p["o"]["o"] == "MARKET" and p["o"]["x"] == "TRADE"]
    o = taker[0]
    assert (o["q"], o["l"], o["z"], o["L"], o["X"], o["m"]) == ("0.123", "0.123", "0.123", "30000.10", "FILLED", False)
    assert o["ap"] == "30000.10000"
    fee = INST.notional(px("30000.1"), qty("0.123")) * INST.taker_fee
    assert abs(usd(o["n"]) - fee // 10**8) <= 1 and len(o["n"].split(".")[1]) == 8
    maker = [p["o"] for p in by_event(pairs, "ORDER_TRADE_UPDATE") if p["o"]["p"] == "30100.00" and p["o"]["x"] == "TRADE"]
    assert maker and maker[0]["m"] is True and maker[0]["L"] == "30100.00"


def test_trailing_fields_on_algo_and_plain_orders(run):
    _, pairs = run
    plain_orders = [p["o"] for p in by_event(pairs, "ORDER_TRADE_UPDATE") if p["o"]["ot"] == "LIMIT"]
    assert all(o["AP"] == "0.00" and o["cr"] == "0" for o in plain_orders)
    trailing = [p["o"] for p in by_event(pairs, "ALGO_UPDATE") if p["o"]["o"] == "TRAILING_STOP_MARKET"]
    assert trailing and trailing[0]["X"] == "NEW"


def test_trade_lite_one_per_fill(run):
    s, pairs = run
    lites = by_event(pairs, "TRADE_LITE")
    fills = [e for e in s.events if isinstance(e, OrderUpdated) and e.trade is not None]
    assert len(lites) == len(fills) >= 3
    for p, ev in zip(lites, fills):
        assert set(p) == TRADE_LITE
        assert (p["i"], p["t"], p["c"], p["S"]) == (ev.order.order_id, ev.trade.trade_id, ev.order.client_order_id,
                                                   ev.order.side.value)
        assert p["L"] == INST.fmt_price(ev.trade.price) and p["l"] == INST.fmt_qty(ev.trade.qty)
        assert p["q"] == INST.fmt_qty(ev.order.quantity) and p["p"] == INST.fmt_price(ev.order.price)
    # TRADE_LITE comes right before its ORDER_TRADE_UPDATE
    names = [p["e"] for _, p in pairs]
    for i, n in enumerate(names):
        if n == "TRADE_LITE":
            assert names[i + 1] == "ORDER_TRADE_UPDATE" and pairs[i + 1][1]["o"]["t"] == pairs[i][1]["t"]


def test_account_update_keys_and_values(run):
    s, pairs = run
    aus = by_event(pairs, "ACCOUNT_UPDATE")
    evs = [e for e in s.events if isinstance(e, AccountUpdated)]
    assert len(aus) == len(evs) and {p["a"]["m"] for p in aus} >= {"DEPOSIT", "ORDER"}
    for p, ev in zip(aus, evs):
        assert set(p) == ACCOUNT_UPDATE_TOP and set(p["a"]) == ACCOUNT_UPDATE_A
        assert p["E"] == p["T"] == ev.ts and p["a"]["m"] == ev.reason.value
        (b,) = p["a"]["B"]
        assert set(b) == ACCOUNT_UPDATE_B and b["a"] == "USDT"
        assert b["wb"] == codec.amt(ev.wallet_balance) and b["cw"] == codec.amt(ev.cross_wallet_balance)
        assert b["bc"] == codec.amt(ev.balance_change)
        assert len(p["a"]["P"]) == len(ev.positions)
        for row in p["a"]["P"]:
            assert set(row) == ACCOUNT_UPDATE_P and row["mt"] in ("cross", "isolated")
    deposit = [p for p in aus if p["a"]["m"] == "DEPOSIT"][0]
    assert deposit["a"]["B"][0]["wb"] == "100000.00000000" and deposit["a"]["B"][0]["bc"] == "100000.00000000"
    # the last ORDER update of account 1 matches REST positionRisk at the same mark
    last = [p for a, p in pairs if a == 1 and p["e"] == "ACCOUNT_UPDATE" and p["a"]["P"]][-1]
    (row,) = last["a"]["P"]
    (pos,) = [x for x in s.v.positions(1, SYM) if x.position_side is PositionSide.BOTH]
    rest = codec.position_v2(pos, s.v.position_metrics(1, pos), INST)
    assert row["pa"] == rest["positionAmt"] and row["ep"] == rest["entryPrice"]
    assert row["bep"] == rest["breakEvenPrice"] and row["up"] == rest["unRealizedProfit"]
    assert row["ps"] == "BOTH" and row["mt"] == "cross" and row["iw"] == "0.00000000"


def test_account_update_up_uses_given_mark():
    s = Sim()
    s.place(side=Side.BUY, type=OrderType.MARKET, q="1")
    au = [e for e in s.events if isinstance(e, AccountUpdated) and e.positions][-1]
    p = U.account_update(au, INSTRUMENTS, lambda sym: px("30100.1"))
    assert p["a"]["P"][0]["up"] == "100.00000000"  # bought 1 at 30000.1
    assert p["a"]["P"][0]["ep"] == "30000.10000000" and p["a"]["P"][0]["pa"] == "1.000"
    assert U.account_update(au, INSTRUMENTS, lambda sym: 0)["a"]["P"][0]["up"] == "0.00000000"


def test_isolated_position_row():
    s = Sim()
    s.do(C.SetMarginType(1, SYM, MarginType.ISOLATED))
    s.do(C.SetLeverage(1, SYM, 10))
    s.place(side=Side.SELL, type=OrderType.MARKET, q="0.5")
    au = [e for e in s.events if isinstance(e, AccountUpdated) and e.positions][-1]
    (row,) = U.account_update(au, INSTRUMENTS, lambda sym: px("30000.0"))["a"]["P"]
    assert row["mt"] == "isolated" and row["pa"] == "-0.500"
    assert row["iw"] == codec.amt(au.positions[0].isolated_wallet) and row["iw"] != "0.00000000"


def test_account_config_update(run):
    _, pairs = run
    cfg = [(a, p) for a, p in pairs if p["e"] == "ACCOUNT_CONFIG_UPDATE"]
    assert cfg == [(1, cfg[0][1])]  # leverage only: no event for the position-mode change of account 2
    p = cfg[0][1]
    assert set(p) == CONFIG_TOP_AC and set(p["ac"]) == CONFIG_AC and p["ac"] == {"s": SYM, "l": 25}
    ai = U.multi_assets_config_update(123, False)
    assert set(ai) == keys("e E T ai") and ai["ai"] == {"j": False}


def test_algo_update_keys_and_values(run):
    s, pairs = run
    algos = by_event(pairs, "ALGO_UPDATE")
    evs = [e for e in s.events if isinstance(e, AlgoUpdated)]
    assert len(algos) == len(evs) and len(algos) >= 4
    for p, ev in zip(algos, evs):
        assert set(p) == ALGO_TOP and set(p["o"]) == ALGO_O
        rest = codec.algo_json(ev.algo, INST)
        o = p["o"]
        assert o["aid"] == rest["algoId"] and o["caid"] == rest["clientAlgoId"] and o["at"] == "CONDITIONAL"
        assert o["X"] == rest["algoStatus"] and o["tp"] == rest["triggerPrice"] and o["q"] == rest["quantity"]
        assert o["ai"] == rest["actualOrderId"] and o["p"] == rest["price"] and o["tt"] == rest["triggerTime"]
    stop = [p["o"] for p in algos if p["o"]["o"] == "STOP_MARKET"]
    assert [o["X"] for o in stop] == ["NEW", "TRIGGERING", "TRIGGERED", "FINISHED"]
    fin = stop[-1]
    assert fin["ai"] != "" and fin["act"] == "MARKET" and fin["aq"] == "0.010" and fin["tp"] == "30200.00"
    assert stop[0]["ai"] == "" and stop[0]["act"] == "" and stop[0]["aq"] == "0.000"
    # the triggered order's ORDER_TRADE_UPDATE carries the same id as ai
    ids = {p["o"]["i"] for p in by_event(pairs, "ORDER_TRADE_UPDATE") if p["o"]["ot"] == "STOP_MARKET"}
    assert ids == {int(fin["ai"])}


def test_trigger_reject():
    s = Sim()
    s.place(side=Side.SELL, type=OrderType.STOP_MARKET, q="0.1", stop_price=px("29900.0"), reduce_only=True)
    s.trade("29800.0")
    pairs = U.encode_user_events(s.events, s.v)
    (rej,) = by_event(pairs, "CONDITIONAL_ORDER_TRIGGER_REJECT")
    assert set(rej) == REJECT_TOP and set(rej["or"]) == REJECT_OR
    assert rej["or"]["s"] == SYM and rej["or"]["r"] == "ReduceOnly Order is rejected." and type(rej["or"]["i"]) is int
    algo = by_event(pairs, "ALGO_UPDATE")[-1]["o"]
    assert algo["X"] == "REJECTED" and algo["rm"] == "ReduceOnly Order is rejected."


def test_margin_call():
    s = Sim(fund="1000")
    s.do(C.SetLeverage(1, SYM, 50))
    s.book([("30000.0", "5")], [("30000.0", "5")])
    s.place(side=Side.BUY, type=OrderType.MARKET, q="1")
    evs = s.mark("29160.0")
    pairs = U.encode_user_events(evs, s.v)
    (mc,) = by_event(pairs, "MARGIN_CALL")
    assert set(mc) == MARGIN_CALL_TOP
    (row,) = mc["p"]
    assert set(row) == MARGIN_CALL_P
    assert row["s"] == SYM and row["ps"] == "BOTH" and row["pa"] == "1.000" and row["mt"] == "CROSSED"
    assert row["mp"] == "29160.00" and row["up"] == "-840.00000000" and row["iw"] == "0.00000000"
    assert float(row["mm"]) > 0 and mc["cw"].endswith(mc["cw"][-8:]) and len(mc["cw"].split(".")[1]) == 8


def test_listen_key_expired():
    p = U.listen_key_expired("abc", 1576653824250)
    assert set(p) == LISTEN_KEY_EXPIRED and p == {"e": "listenKeyExpired", "E": 1576653824250, "listenKey": "abc"}


def test_avg_price_matches_rest_codec():
    for cum, ex in [(0, 0), (3000010000000, 1000), (123456789012, 7), (10**12 + 1, 3)]:
        assert U.avg_price(INST, cum, ex) == codec.avg_price(INST, cum, ex)


def test_liquidation_events_encode():
    s = Sim()
    s.isolated_long_at_100x()
    evs = s.mark("29819.2")
    assert [e for e in evs if isinstance(e, Liquidated)]
    pairs = U.encode_user_events(evs, s.v)
    liq = [p["o"] for p in by_event(pairs, "ORDER_TRADE_UPDATE") if p["o"]["o"] == "LIQUIDATION"]
    assert liq and liq[-1]["x"] == "CALCULATED" and liq[-1]["X"] == "FILLED" and liq[-1]["c"].startswith("autoclose-")
    for _, p in pairs:
        assert plain(p)


def test_triggered_trailing_stop_order_carries_activation_and_rate():
    s = Sim()
    s.place(side=Side.BUY, type=OrderType.MARKET, q="0.1")
    s.place(side=Side.SELL, type=OrderType.TRAILING_STOP_MARKET, q="0.1", callback_rate=1_000_000,
            activation_price=px("30100.0"), reduce_only=True)
    s.trade("30200.0")  # activates, extreme 30200
    s.book([("29890.0", "5")], [("29890.1", "5")])
    s.trade("29890.0")  # 1% below 30200 = 29898 -> fires
    pairs = U.encode_user_events(s.events, s.v)
    trl = [p["o"] for p in by_event(pairs, "ORDER_TRADE_UPDATE") if p["o"]["ot"] == "TRAILING_STOP_MARKET"]
    assert trl, [p["o"]["X"] for p in by_event(pairs, "ALGO_UPDATE")]
    evs = [e for e in s.events if isinstance(e, OrderUpdated) and e.order.orig_type is OrderType.TRAILING_STOP_MARKET]
    rest = codec.order_json(evs[-1].order, INST)
    assert trl[-1]["AP"] == rest["activatePrice"] == "30100.00" and trl[-1]["cr"] == rest["priceRate"] == "1"
    assert trl[-1]["R"] is True and trl[-1]["X"] == "FILLED"


def test_events_without_a_user_stream_counterpart_are_skipped():
    s = Sim()
    pairs = U.encode_user_events(s.events, s.v)  # AccountCreated, Income(TRANSFER), AccountUpdated(DEPOSIT)
    assert [p["e"] for _, p in pairs] == ["ACCOUNT_UPDATE", "ACCOUNT_UPDATE"]
    assert [a for a, _ in pairs] == [1, 2]
    assert U.encode_user_events([], s.v) == []
