"""binance-futures-connector ``UMFutures`` against a live alfax (params in the query string on every method)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from binance.error import ClientError
from binance.um_futures import UMFutures

from alfax_harness import Rest, best_bid_ask

D = Decimal


@pytest.fixture()
def um(alfax_server, fresh_account):
    return UMFutures(key=fresh_account.api_key, secret=fresh_account.secret, base_url=alfax_server.base_url,
                     timeout=20, show_limit_usage=False)


@pytest.fixture()
def rest(alfax_server):
    r = Rest(alfax_server.base_url)
    yield r
    r.close()


def test_public(um):
    assert um.ping() == {}
    assert abs(um.time()["serverTime"] - int(time.time() * 1000)) < 5000
    info = um.exchange_info()
    btc = [s for s in info["symbols"] if s["symbol"] == "BTCUSDT"][0]
    assert btc["contractType"] == "PERPETUAL" and btc["marginAsset"] == "USDT" and btc["status"] == "TRADING"
    filters = {f["filterType"] for f in btc["filters"]}
    assert {"PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE", "MIN_NOTIONAL", "PERCENT_PRICE"} <= filters
    d = um.depth("BTCUSDT", limit=5)
    assert len(d["bids"]) <= 5 and d["bids"] and d["asks"]
    assert um.ticker_price("BTCUSDT")["symbol"] == "BTCUSDT"  # v2
    assert D(um.mark_price("ETHUSDT")["markPrice"]) > 0
    assert isinstance(um.mark_price(), list)
    assert len(um.klines("ETHUSDT", "1m", limit=3)) <= 3
    assert um.mark_price_klines("BTCUSDT", "1m", limit=3)
    assert isinstance(um.funding_rate("BTCUSDT", limit=3), list)
    assert um.book_ticker("BTCUSDT")["symbol"] == "BTCUSDT"
    assert um.ticker_24hr_price_change("BTCUSDT")["symbol"] == "BTCUSDT"
    assert isinstance(um.agg_trades("BTCUSDT", limit=5), list)
    assert isinstance(um.trades("BTCUSDT", limit=5), list)
    assert um.open_interest("BTCUSDT")["symbol"] == "BTCUSDT"


def test_account_v3_and_settings(um):
    acc = um.account()  # v3
    assert D(acc["totalWalletBalance"]) == 10000 and D(acc["availableBalance"]) == 10000
    assert [a for a in acc["assets"] if a["asset"] == "USDT"][0]["updateTime"] > 0
    bal = um.balance()  # v3
    assert D([b for b in bal if b["asset"] == "USDT"][0]["balance"]) == 10000
    assert um.get_position_risk() == [] or all(D(p["positionAmt"]) == 0 for p in um.get_position_risk())
    assert um.get_position_mode()["dualSidePosition"] is False
    assert um.get_multi_asset_mode()["multiAssetsMargin"] is False
    r = um.change_leverage("ETHUSDT", 20)
    assert r["leverage"] == 20 and "maxNotionalValue" in r
    assert um.change_margin_type("ETHUSDT", "ISOLATED") == {"code": 200, "msg": "success"}
    with pytest.raises(ClientError) as ei:
        um.change_margin_type("ETHUSDT", "ISOLATED")
    assert ei.value.error_code == -4046 and ei.value.error_message == "No need to change margin type."
    assert ei.value.status_code == 400
    br = um.leverage_brackets(symbol="BTCUSDT")
    br = br[0] if isinstance(br, list) else br
    assert br["brackets"][1]["cum"] == 50
    lk = um.new_listen_key()["listenKey"]
    um.renew_listen_key(lk)
    um.close_listen_key(lk)


def test_orders(um, rules, rest):
    bid, ask = best_bid_ask(rest, "BTCUSDT")
    r = rules["BTCUSDT"]
    qty = str(r.qty_for_notional(ask, 15))
    o = um.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=qty)
    assert o["orderId"] > 0 and o["type"] == "MARKET"
    q = um.query_order(symbol="BTCUSDT", orderId=o["orderId"])
    assert q["status"] == "FILLED" and q["executedQty"] == qty

    px = str(r.round_price(bid * D("0.97")))
    lo = um.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=qty, price=px,
                      newClientOrderId="conn-limit-1")
    assert lo["status"] == "NEW" and lo["clientOrderId"] == "conn-limit-1"
    one = um.get_open_orders("BTCUSDT", orderId=lo["orderId"])  # GET /fapi/v1/openOrder
    assert one["orderId"] == lo["orderId"] and one["status"] == "NEW"
    one = um.get_open_orders("BTCUSDT", origClientOrderId="conn-limit-1")
    assert one["orderId"] == lo["orderId"]
    assert [x["orderId"] for x in um.get_orders(symbol="BTCUSDT")] == [lo["orderId"]]
    px2 = str(r.round_price(bid * D("0.965")))
    m = um.modify_order(symbol="BTCUSDT", side="BUY", quantity=qty, price=px2, orderId=lo["orderId"])
    assert D(m["price"]) == D(px2)
    c = um.cancel_order("BTCUSDT", orderId=lo["orderId"])
    assert c["status"] == "CANCELED"
    with pytest.raises(ClientError) as ei:  # no longer open
        um.get_open_orders("BTCUSDT", orderId=lo["orderId"])
    assert ei.value.error_code == -2013 and ei.value.error_message == "Order does not exist."

    batch = um.new_batch_order([
        {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": qty, "price": px},
        {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": qty, "price": px2},
    ])
    assert len(batch) == 2 and all(b.get("status") == "NEW" for b in batch), batch
    ids = [b["orderId"] for b in batch]
    cx = um.cancel_batch_order("BTCUSDT", orderIdList=ids, origClientOrderIdList=None)  # camelCase orderIdList
    assert sorted(x["orderId"] for x in cx) == sorted(ids) and all(x["status"] == "CANCELED" for x in cx)

    # conditional order on /fapi/v1/order (connector has no algo support): -4120 or accepted
    stop_px = str(r.round_price(bid * D("0.95")))
    try:
        s = um.new_order(symbol="BTCUSDT", side="SELL", type="STOP_MARKET", stopPrice=stop_px, quantity=qty,
                         reduceOnly="true")
    except ClientError as e:
        assert e.error_code == -4120
        assert e.error_message == "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead."
    else:
        assert s.get("status") in ("NEW",) or s.get("algoStatus") == "NEW", s
        um.cancel_open_orders("BTCUSDT")

    trades = um.get_account_trades("BTCUSDT")
    assert sum(D(t["qty"]) for t in trades if t["orderId"] == o["orderId"]) == D(qty)
    pos = [p for p in um.get_position_risk(symbol="BTCUSDT") if D(p["positionAmt"]) != 0]
    assert len(pos) == 1 and D(pos[0]["positionAmt"]) == D(qty)
    close = um.new_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=qty, reduceOnly="true")
    assert close["orderId"] > o["orderId"]
    assert [p for p in um.get_position_risk(symbol="BTCUSDT") if D(p["positionAmt"]) != 0] == []
    inc = um.get_income_history(symbol="BTCUSDT", incomeType="COMMISSION")
    assert len(inc) >= 2 and all(D(i["income"]) < 0 for i in inc)
    assert um.cancel_open_orders("BTCUSDT")["code"] == 200
    allo = um.get_all_orders("BTCUSDT")
    assert {x["orderId"] for x in allo} >= {o["orderId"], lo["orderId"], *ids, close["orderId"]}


def test_errors(um, alfax_server):
    with pytest.raises(ClientError) as ei:
        um.query_order("BTCUSDT", orderId=99999999)
    assert (ei.value.status_code, ei.value.error_code, ei.value.error_message) == (400, -2013, "Order does not exist.")
    with pytest.raises(ClientError) as ei:
        um.cancel_order("BTCUSDT", orderId=99999999)
    assert (ei.value.error_code, ei.value.error_message) == (-2011, "Unknown order sent.")
    with pytest.raises(ClientError) as ei:
        um.depth("XXXUSDT")
    assert (ei.value.error_code, ei.value.error_message) == (-1121, "Invalid symbol.")
    with pytest.raises(ClientError) as ei:
        um.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.001", price="1000", timeInForce="GTC")
    assert ei.value.error_code in (-4024, -4013)  # far below mark: percent-price floor
    bad = UMFutures(key="K" * 64, secret="S" * 64, base_url=alfax_server.base_url)
    with pytest.raises(ClientError) as ei:
        bad.account()
    assert (ei.value.status_code, ei.value.error_code) == (401, -2015)


def test_exchange_info_and_positions_shape(um, rest):
    info = um.exchange_info()
    assert info["timezone"] == "UTC" and isinstance(info["serverTime"], int)
    assert {r["rateLimitType"] for r in info["rateLimits"]} == {"REQUEST_WEIGHT", "ORDERS"}
    for s in info["symbols"]:
        for k in ("symbol", "pair", "contractType", "deliveryDate", "onboardDate", "status", "baseAsset",
                  "quoteAsset", "marginAsset", "pricePrecision", "quantityPrecision", "filters", "orderTypes",
                  "timeInForce"):
            assert k in s, (s["symbol"], k)
        f = {x["filterType"]: x for x in s["filters"]}
        assert "notional" in f["MIN_NOTIONAL"]
    # v2 positionRisk (Hummingbot) lists every symbol with leverage and marginType
    v2 = um.sign_request("GET", "/fapi/v2/positionRisk", {})
    assert {p["symbol"] for p in v2} >= {"BTCUSDT", "ETHUSDT"}
    assert all("leverage" in p and "marginType" in p for p in v2)
    # earliest klines for startTime=0 (Freqtrade's "fast new pair" probe)
    early = um.klines("BTCUSDT", "1h", startTime=0, limit=2)
    late = um.klines("BTCUSDT", "1h", limit=2)
    assert early and late and early[0][0] <= late[0][0]
