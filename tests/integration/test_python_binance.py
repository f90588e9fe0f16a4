"""python-binance ``Client`` against a live alfax: class-attribute URL overrides set BEFORE construction."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException

from alfax_harness import Rest, best_bid_ask

D = Decimal


@pytest.fixture()
def client(alfax_server, fresh_account):
    base = alfax_server.base_url
    Client.API_URL = f"{base}/api"
    Client.FUTURES_URL = f"{base}/fapi"
    Client.FUTURES_DATA_URL = f"{base}/futures/data"
    # loopback only: every other family points at a dead path on the venue, never at binance.com
    for attr in ("MARGIN_API_URL", "WEBSITE_URL", "FUTURES_COIN_URL", "FUTURES_COIN_DATA_URL", "OPTIONS_URL",
                 "PAPI_URL", "API_TESTNET_URL", "FUTURES_TESTNET_URL"):
        if hasattr(Client, attr):
            setattr(Client, attr, f"{base}/__unexpected__/{attr}")
    c = Client(fresh_account.api_key, fresh_account.secret, ping=True)  # ping hits GET /api/v3/ping
    c.alfax_account = fresh_account
    yield c
    c.close_connection()


@pytest.fixture()
def rest(alfax_server):
    r = Rest(alfax_server.base_url)
    yield r
    r.close()


def qty_for(rules, symbol: str, price: Decimal, notional: str = "15") -> str:
    return str(rules[symbol].qty_for_notional(price, float(notional)))


def test_public(client):
    assert client.futures_ping() == {}
    t = client.futures_time()["serverTime"]
    assert abs(t - int(time.time() * 1000)) < 5000
    info = client.futures_exchange_info()
    assert {s["symbol"] for s in info["symbols"]} >= {"BTCUSDT", "ETHUSDT"}
    ob = client.futures_order_book(symbol="BTCUSDT", limit=10)
    assert ob["bids"] and ob["asks"] and D(ob["bids"][0][0]) < D(ob["asks"][0][0])
    assert isinstance(ob["lastUpdateId"], int)
    kl = client.futures_klines(symbol="BTCUSDT", interval="1m", limit=5)
    assert 0 < len(kl) <= 5 and len(kl[0]) == 12
    mp = client.futures_mark_price(symbol="BTCUSDT")
    assert D(mp["markPrice"]) > 0
    assert isinstance(client.futures_funding_rate(symbol="BTCUSDT", limit=5), list)
    tk = client.futures_symbol_ticker(symbol="BTCUSDT")  # v2 ticker/price
    assert D(tk["price"]) > 0
    bt = client.futures_orderbook_ticker(symbol="BTCUSDT")
    assert D(bt["bidPrice"]) <= D(bt["askPrice"])
    assert client.futures_ticker(symbol="ETHUSDT")["symbol"] == "ETHUSDT"
    agg = client.futures_aggregate_trades(symbol="BTCUSDT", limit=10)
    assert isinstance(agg, list)
    assert client.futures_recent_trades(symbol="BTCUSDT", limit=5) is not None
    br = client.futures_leverage_bracket(symbol="BTCUSDT")
    br = br[0] if isinstance(br, list) else br
    assert br["symbol"] == "BTCUSDT" and br["brackets"][0]["initialLeverage"] == 125


def test_account_endpoints_and_settings(client):
    acc = client.futures_account()  # v2
    assert D(acc["totalWalletBalance"]) == D("10000")
    assert "positions" in acc and acc["canTrade"] is True
    bal = client.futures_account_balance()  # v3
    usdt = [b for b in bal if b["asset"] == "USDT"][0]
    assert D(usdt["balance"]) == D("10000") and D(usdt["availableBalance"]) == D("10000")
    assert usdt["updateTime"] > 0
    assert client.futures_get_position_mode()["dualSidePosition"] is False
    lev = client.futures_change_leverage(symbol="BTCUSDT", leverage=10)
    assert lev["leverage"] == 10 and lev["symbol"] == "BTCUSDT"
    res = client.futures_change_margin_type(symbol="BTCUSDT", marginType="ISOLATED")
    assert res == {"code": 200, "msg": "success"}
    with pytest.raises(BinanceAPIException) as ei:
        client.futures_change_margin_type(symbol="BTCUSDT", marginType="ISOLATED")
    assert ei.value.code == -4046 and ei.value.message == "No need to change margin type."
    assert ei.value.status_code == 400
    with pytest.raises(BinanceAPIException) as ei:
        client.futures_change_position_mode(dualSidePosition="false")
    assert ei.value.code == -4059 and ei.value.message == "No need to change position side."
    fee = client.futures_commission_rate(symbol="BTCUSDT")
    assert D(fee["makerCommissionRate"]) == D("0.0002") and D(fee["takerCommissionRate"]) == D("0.0005")
    lk = client.futures_stream_get_listen_key()
    assert isinstance(lk, str) and len(lk) >= 20
    assert client.futures_stream_get_listen_key() == lk  # same key while valid
    client.futures_stream_keepalive(lk)
    client.futures_stream_close(lk)


def test_orders_positions_income(client, rules, rest):
    ask = best_bid_ask(rest, "BTCUSDT")[1]
    qty = qty_for(rules, "BTCUSDT", ask)
    client.futures_change_leverage(symbol="BTCUSDT", leverage=5)
    o = client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=qty, newOrderRespType="RESULT")
    assert o["status"] == "FILLED" and o["executedQty"] == qty and o["clientOrderId"].startswith("x-")
    assert D(o["avgPrice"]) > 0 and abs(D(o["cumQuote"]) - D(o["avgPrice"]) * D(qty)) < D("0.01")
    got = client.futures_get_order(symbol="BTCUSDT", orderId=o["orderId"])
    assert got["status"] == "FILLED" and got["orderId"] == o["orderId"]
    got2 = client.futures_get_order(symbol="BTCUSDT", origClientOrderId=o["clientOrderId"])
    assert got2["orderId"] == o["orderId"]

    pos = [p for p in client.futures_position_information(symbol="BTCUSDT") if D(p["positionAmt"]) != 0]  # v3
    assert len(pos) == 1 and D(pos[0]["positionAmt"]) == D(qty) and pos[0]["positionSide"] == "BOTH"
    assert D(pos[0]["entryPrice"]) == D(o["avgPrice"]) and D(pos[0]["notional"]) > 0

    trades = client.futures_account_trades(symbol="BTCUSDT")
    mine = [t for t in trades if t["orderId"] == o["orderId"]]
    assert sum(D(t["qty"]) for t in mine) == D(qty)
    fee = sum(D(t["commission"]) for t in mine)
    assert fee > 0 and all(t["commissionAsset"] == "USDT" and t["buyer"] is True for t in mine)
    acc = client.futures_account()
    assert D(acc["totalWalletBalance"]) == D("10000") - fee

    # limit far away, modify, cancel
    bid = best_bid_ask(rest, "BTCUSDT")[0]
    px = rules["BTCUSDT"].round_price(bid * D("0.97"))
    lo = client.futures_create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=qty, price=str(px))
    assert lo["status"] == "NEW" and D(lo["price"]) == px
    opens = client.futures_get_open_orders(symbol="BTCUSDT")
    assert [x["orderId"] for x in opens] == [lo["orderId"]]
    px2 = rules["BTCUSDT"].round_price(bid * D("0.96"))
    mo = client.futures_modify_order(symbol="BTCUSDT", orderId=lo["orderId"], side="BUY", quantity=qty, price=str(px2))
    assert mo["orderId"] == lo["orderId"] and D(mo["price"]) == px2
    cx = client.futures_cancel_order(symbol="BTCUSDT", orderId=lo["orderId"])
    assert cx["status"] == "CANCELED"

    # batch place + batch cancel (lower-case orderidlist, percent-encoded JSON)
    batch = client.futures_place_batch_order(batchOrders=[
        {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": qty, "price": str(px)},
        {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": qty, "price": str(px2)},
    ])
    assert len(batch) == 2 and all(b.get("status") == "NEW" for b in batch), batch
    cancelled = client.futures_cancel_orders(symbol="BTCUSDT", orderidlist=[b["orderId"] for b in batch])
    assert sorted(c["orderId"] for c in cancelled) == sorted(b["orderId"] for b in batch)
    assert all(c["status"] == "CANCELED" for c in cancelled)

    # conditional -> /fapi/v1/algoOrder
    sl_px = rules["BTCUSDT"].round_price(bid * D("0.95"))
    sl = client.futures_create_order(symbol="BTCUSDT", side="SELL", type="STOP_MARKET", stopPrice=str(sl_px),
                                     quantity=qty, reduceOnly="true")
    assert sl["algoType"] == "CONDITIONAL" and sl["algoStatus"] == "NEW" and D(sl["triggerPrice"]) == sl_px
    assert sl["clientAlgoId"].startswith("x-") and sl["orderType"] == "STOP_MARKET"
    q = client.futures_get_order(symbol="BTCUSDT", algoId=sl["algoId"])
    assert q["algoId"] == sl["algoId"] and q["algoStatus"] == "NEW"
    oa = client.futures_get_open_orders(symbol="BTCUSDT", conditional=True)
    assert [x["algoId"] for x in oa] == [sl["algoId"]]
    c = client.futures_cancel_order(symbol="BTCUSDT", algoId=sl["algoId"])
    assert c["algoId"] == sl["algoId"] and str(c.get("code")) == "200"
    assert client.futures_get_order(symbol="BTCUSDT", algoId=sl["algoId"])["algoStatus"] == "CANCELED"
    allalgo = client.futures_get_all_orders(symbol="BTCUSDT", conditional=True)
    assert sl["algoId"] in [x["algoId"] for x in allalgo]

    # close the position; realized pnl and commissions show up in income
    cl = client.futures_create_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=qty, reduceOnly="true")
    assert cl["status"] in ("FILLED", "NEW")
    time.sleep(0.3)
    pos = [p for p in client.futures_position_information(symbol="BTCUSDT") if D(p["positionAmt"]) != 0]
    assert pos == []
    inc = client.futures_income_history(symbol="BTCUSDT")
    kinds = {i["incomeType"] for i in inc}
    assert "COMMISSION" in kinds
    comm = client.futures_income_history(symbol="BTCUSDT", incomeType="COMMISSION")
    assert all(i["incomeType"] == "COMMISSION" and D(i["income"]) < 0 for i in comm) and len(comm) >= 2
    allo = client.futures_get_all_orders(symbol="BTCUSDT")
    statuses = {x["orderId"]: x["status"] for x in allo}
    assert statuses[o["orderId"]] == "FILLED" and statuses[lo["orderId"]] == "CANCELED"
    assert client.futures_cancel_all_open_orders(symbol="BTCUSDT")["code"] == 200


def test_position_margin_isolated(client, rules, rest):
    ask = best_bid_ask(rest, "ETHUSDT")[1]
    qty = qty_for(rules, "ETHUSDT", ask, "30")
    client.futures_change_margin_type(symbol="ETHUSDT", marginType="ISOLATED")
    client.futures_change_leverage(symbol="ETHUSDT", leverage=4)
    client.futures_create_order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity=qty)
    p0 = [p for p in client.futures_position_information(symbol="ETHUSDT") if D(p["positionAmt"]) != 0][0]
    r = client.futures_change_position_margin(symbol="ETHUSDT", amount="3", type=1)
    assert r["code"] == 200 and float(r["amount"]) == 3.0 and r["type"] == 1
    p1 = [p for p in client.futures_position_information(symbol="ETHUSDT") if D(p["positionAmt"]) != 0][0]
    assert D(p1["isolatedWallet"]) == D(p0["isolatedWallet"]) + 3
    assert D(p1["liquidationPrice"]) < D(p0["liquidationPrice"])
    with pytest.raises(BinanceAPIException) as ei:  # margin type cannot change with a position
        client.futures_change_margin_type(symbol="ETHUSDT", marginType="CROSSED")
    assert ei.value.code == -4048
    client.futures_create_order(symbol="ETHUSDT", side="SELL", type="MARKET", quantity=qty, reduceOnly="true")


def test_errors(client, rest):
    with pytest.raises(BinanceAPIException) as ei:
        client.futures_get_order(symbol="BTCUSDT", orderId=123456789)
    assert (ei.value.code, ei.value.message, ei.value.status_code) == (-2013, "Order does not exist.", 400)
    with pytest.raises(BinanceAPIException) as ei:
        client.futures_cancel_order(symbol="BTCUSDT", orderId=123456789)
    assert (ei.value.code, ei.value.message) == (-2011, "Unknown order sent.")
    with pytest.raises(BinanceAPIException) as ei:
        client.futures_order_book(symbol="NOPEUSDT")
    assert (ei.value.code, ei.value.message) == (-1121, "Invalid symbol.")
    with pytest.raises(BinanceAPIException) as ei:
        client.futures_change_leverage(symbol="BTCUSDT", leverage=300)
    assert ei.value.code == -4028 and ei.value.message == "Leverage 300 is not valid"
    with pytest.raises(BinanceAPIException) as ei:
        client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001", reduceOnly="true")
    assert (ei.value.code, ei.value.message) == (-2022, "ReduceOnly Order is rejected.")
    bad = Client(client.API_KEY, "wrong-secret", ping=False)
    with pytest.raises(BinanceAPIException) as ei:
        bad.futures_account_balance()
    assert (ei.value.code, ei.value.message) == (-1022, "Signature for this request is not valid.")
    unknown = Client("A" * 64, "B" * 64, ping=False)
    with pytest.raises(BinanceAPIException) as ei:
        unknown.futures_account()
    assert ei.value.code == -2015 and ei.value.status_code == 401
    assert ei.value.message == "Invalid API-key, IP, or permissions for action."


def test_historical_klines_paging(client):
    """futures_historical_klines first asks for limit=1&startTime=0 (earliest candle), then pages on openTime."""
    first = client.futures_klines(symbol="BTCUSDT", interval="1m", startTime=0, limit=1)
    assert len(first) == 1
    kl = client.futures_historical_klines("BTCUSDT", "1m", "90 minutes ago UTC")
    assert 0 < len(kl) <= 91
    opens = [k[0] for k in kl]
    assert opens == sorted(set(opens)) and all(b - a == 60_000 for a, b in zip(opens, opens[1:]))
    assert first[0][0] <= opens[0]


def test_all_algo_orders_include_open_ones(client, rules, rest):
    """GET /fapi/v1/allAlgoOrders lists active, cancelled and finished algo orders (like allOrders lists NEW ones)."""
    ask = best_bid_ask(rest, "ETHUSDT")[1]
    qty = qty_for(rules, "ETHUSDT", ask, "20")
    client.futures_create_order(symbol="ETHUSDT", side="SELL", type="MARKET", quantity=qty)
    sl = client.futures_create_order(symbol="ETHUSDT", side="BUY", type="STOP_MARKET", quantity=qty, reduceOnly="true",
                                     stopPrice=str(rules["ETHUSDT"].round_price(ask * D("1.04"))))
    lim = client.futures_create_order(symbol="ETHUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=qty,
                                      price=str(rules["ETHUSDT"].round_price(ask * D("0.97"))))
    opens = client.futures_get_open_orders(symbol="ETHUSDT", conditional=True)
    assert [x["algoId"] for x in opens] == [sl["algoId"]]
    all_orders = client.futures_get_all_orders(symbol="ETHUSDT")
    assert lim["orderId"] in [x["orderId"] for x in all_orders]  # open regular orders are in allOrders
    all_algos = client.futures_get_all_orders(symbol="ETHUSDT", conditional=True)
    assert [(x["algoId"], x["algoStatus"]) for x in all_algos] == [(sl["algoId"], "NEW")], \
        f"allAlgoOrders {all_algos} misses the open algo order {sl['algoId']} (openAlgoOrders has it)"
