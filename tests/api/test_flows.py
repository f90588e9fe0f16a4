"""Main flows through the ASGI app against a real Venue + Ledger + LedgerReader + SqliteKeyStore."""

import asyncio
import json
from urllib.parse import quote

import pytest

from .conftest import T0, Harness

BTC = "BTCUSDT"


@pytest.fixture
def run(tmp_path):
    h = Harness(tmp_path)

    def _run(fn):
        async def go():
            await h.feed_book()
            key, acc = await h.new_account()
            await fn(h, key, acc)

        asyncio.run(go())

    yield _run
    h.close()


def limit_order(**kw):
    d = {"symbol": BTC, "side": "BUY", "type": "LIMIT", "quantity": "0.010", "price": "49000.00", "timeInForce": "GTC"}
    d.update(kw)
    return d


def test_public_market_endpoints(run):
    async def fn(h, key, acc):
        c = h.client
        info = (await c.get("/fapi/v1/exchangeInfo")).json()
        assert info["serverTime"] == T0 and {s["symbol"] for s in info["symbols"]} >= {BTC}
        assert info["rateLimits"][0] == {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                                         "limit": 2400}
        h.clock.advance(5)
        assert (await c.get("/fapi/v1/exchangeInfo")).json()["serverTime"] == T0 + 5
        assert (await c.get("/fapi/v1/ping")).json() == {}
        from alfax.domain.commands import TradePrint

        await h.submit(TradePrint(BTC, 5000000, 10, True, 7))
        d = (await c.get("/fapi/v1/depth?symbol=BTCUSDT&limit=5")).json()
        assert d["bids"][0] == ["50000.00", "5.000"] and d["asks"][0] == ["50000.10", "5.000"] and "lastUpdateId" in d
        k = (await c.get("/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=499&startTime=0")).json()
        assert k and len(k[-1]) == 12 and k[-1][4] == "50000.00"
        for path in ("/fapi/v1/markPriceKlines?symbol=BTCUSDT&interval=1h", "/fapi/v1/indexPriceKlines?pair=BTCUSDT&interval=1h",
                     "/fapi/v1/premiumIndexKlines?symbol=BTCUSDT&interval=1h",
                     "/fapi/v1/continuousKlines?pair=BTCUSDT&contractType=PERPETUAL&interval=1m"):
            r = await c.get(path)
            assert r.status_code == 200 and isinstance(r.json(), list), (path, r.text)
        r = await c.get("/fapi/v1/continuousKlines?pair=BTCUSDT&contractType=CURRENT_QUARTER&interval=1m")
        assert r.json()["code"] == -1130
        r = await c.get("/fapi/v1/klines?symbol=BTCUSDT&interval=7m")
        assert r.json() == {"code": -1120, "msg": "Invalid interval."}
        r = await c.get("/fapi/v1/klines?symbol=NOPE&interval=1m")
        assert r.json() == {"code": -1121, "msg": "Invalid symbol."}
        r = await c.get("/fapi/v1/klines?interval=1m")
        assert r.json()["code"] == -1102
        assert isinstance((await c.get("/fapi/v1/premiumIndex")).json(), list)
        pi = (await c.get("/fapi/v1/premiumIndex?symbol=BTCUSDT")).json()
        assert pi["symbol"] == BTC and pi["markPrice"] == "50000.05000000"
        assert (await c.get("/fapi/v2/ticker/price?symbol=BTCUSDT")).json()["price"] == "50000.00"
        assert (await c.get("/fapi/v1/ticker/price?symbol=BTCUSDT")).status_code == 200
        assert isinstance((await c.get("/fapi/v1/ticker/24hr")).json(), list)
        assert (await c.get("/fapi/v1/ticker/24hr?symbol=BTCUSDT")).json()["lastPrice"] == "50000.00"
        assert (await c.get("/fapi/v1/ticker/bookTicker?symbol=BTCUSDT")).json()["bidPrice"] == "50000.00"
        oi = (await c.get("/fapi/v1/openInterest?symbol=BTCUSDT")).json()
        assert oi["symbol"] == BTC and oi["openInterest"] == "0.000" and oi["time"]
        assert isinstance((await c.get("/fapi/v1/fundingRate?symbol=BTCUSDT&limit=1000")).json(), list)
        assert (await c.get("/fapi/v1/fundingInfo")).json()[0]["fundingIntervalHours"] == 8
        agg = (await c.get("/fapi/v1/aggTrades?symbol=BTCUSDT")).json()
        assert agg[-1]["p"] == "50000.00"
        assert isinstance((await c.get("/fapi/v1/trades?symbol=BTCUSDT")).json(), list)
        assert (await c.get("/futures/data/openInterestHist?symbol=BTCUSDT&period=5m")).json() == []
        # probes
        assert (await c.get("/api/v3/ping")).json() == {}
        assert (await c.get("/api/v3/time")).json() == {"serverTime": T0 + 5}
        assert (await c.get("/api/v3/exchangeInfo")).json()["symbols"] == []
        assert (await c.get("/dapi/v1/exchangeInfo")).json()["symbols"] == []
        for p in ("/sapi/v1/capital/config/getall", "/sapi/v1/margin/allPairs", "/sapi/v1/margin/isolated/allPairs"):
            r = await c.get(p + "?timestamp=1&signature=ab", headers={"X-MBX-APIKEY": key.api_key})
            assert r.json() == []
        y = await c.get("/alfax-v1.yaml")
        assert y.status_code == 200 and b"/fapi/v1/order" in y.content

    run(fn)


def test_limit_order_lifecycle(run):
    async def fn(h, key, acc):
        r = await h.signed("POST", "/fapi/v1/order", limit_order(newClientOrderId="x-cvBPrNm9abc"), key=key,
                           where="body")
        assert r.status_code == 200, r.text
        o = r.json()
        assert o["status"] == "NEW" and o["clientOrderId"] == "x-cvBPrNm9abc" and o["price"] == "49000.00"
        oid = o["orderId"]
        # query by id and by client id (Hummingbot)
        r = await h.signed("GET", "/fapi/v1/order", {"symbol": BTC, "orderId": oid}, key=key)
        assert r.json()["orderId"] == oid
        r = await h.signed("GET", "/fapi/v1/order", {"symbol": BTC, "origClientOrderId": "x-cvBPrNm9abc"}, key=key)
        assert r.json()["orderId"] == oid
        r = await h.signed("GET", "/fapi/v1/openOrder", {"symbol": BTC, "orderId": oid}, key=key)
        assert r.json()["status"] == "NEW"
        r = await h.signed("GET", "/fapi/v1/openOrders", {"symbol": BTC}, key=key)
        assert [x["orderId"] for x in r.json()] == [oid]
        # v3 positionRisk lists the symbol because of the open order, with bidNotional
        rows = (await h.signed("GET", "/fapi/v3/positionRisk", {}, key=key)).json()
        assert len(rows) == 1 and rows[0]["bidNotional"] == "490.00000000" and rows[0]["positionAmt"] == "0.000"
        # modify (PUT)
        r = await h.signed("PUT", "/fapi/v1/order", {"symbol": BTC, "orderId": oid, "side": "BUY",
                                                     "quantity": "0.020", "price": "48000"}, key=key, where="body")
        assert r.status_code == 200, r.text
        assert r.json()["origQty"] == "0.020" and r.json()["price"] == "48000.00"
        # cancel (python-binance: DELETE with a form body)
        r = await h.signed("DELETE", "/fapi/v1/order", {"symbol": BTC, "orderId": oid}, key=key, where="body")
        assert r.status_code == 200 and r.json()["status"] == "CANCELED"
        r = await h.signed("DELETE", "/fapi/v1/order", {"symbol": BTC, "orderId": oid}, key=key)
        assert r.status_code == 400 and r.json() == {"code": -2011, "msg": "Unknown order sent."}
        r = await h.signed("GET", "/fapi/v1/order", {"symbol": BTC, "orderId": oid}, key=key)
        assert r.json()["status"] == "CANCELED"  # from history
        r = await h.signed("GET", "/fapi/v1/order", {"symbol": BTC, "orderId": 999999}, key=key)
        assert r.json() == {"code": -2013, "msg": "Order does not exist."}
        r = await h.signed("GET", "/fapi/v1/openOrder", {"symbol": BTC, "orderId": oid}, key=key)
        assert r.json()["code"] == -2013
        r = await h.signed("GET", "/fapi/v1/order", {"symbol": BTC}, key=key)
        assert r.json() == {"code": -1102, "msg": "Param 'orderId' or 'origClientOrderId' must be sent, but both were empty/null!"}
        r = await h.signed("GET", "/fapi/v1/allOrders", {"symbol": BTC}, key=key)
        assert [x["orderId"] for x in r.json()] == [oid]

    run(fn)


def test_market_order_result_ack_positions_account(run):
    async def fn(h, key, acc):
        r = await h.signed("POST", "/fapi/v1/order", {"symbol": BTC, "side": "BUY", "type": "MARKET",
                                                      "quantity": "0.010", "newOrderRespType": "RESULT"},
                           key=key, where="body")
        o = r.json()
        assert o["status"] == "FILLED" and o["executedQty"] == "0.010" and float(o["avgPrice"]) > 0
        r = await h.signed("POST", "/fapi/v1/order", {"symbol": BTC, "side": "BUY", "type": "MARKET",
                                                      "quantity": "0.001"}, key=key)  # connector: query, ACK
        assert r.json()["status"] == "NEW" and r.json()["updateTime"] == T0
        v3 = (await h.signed("GET", "/fapi/v3/positionRisk", {"symbol": BTC}, key=key)).json()
        assert len(v3) == 1 and v3[0]["positionAmt"] == "0.011" and float(v3[0]["entryPrice"]) > 0
        assert float(v3[0]["notional"]) > 0
        v2 = (await h.signed("GET", "/fapi/v2/positionRisk", {}, key=key)).json()
        assert {row["symbol"] for row in v2} == set(h.venue.instruments)  # v2: every symbol
        btc = next(row for row in v2 if row["symbol"] == BTC)
        assert btc["leverage"] == "20" and btc["marginType"] == "cross" and btc["positionAmt"] == "0.011"
        acct3 = (await h.signed("GET", "/fapi/v3/account", {}, key=key)).json()
        assert [p["symbol"] for p in acct3["positions"]] == [BTC]
        assert acct3["assets"][0]["updateTime"] > 0  # quirk Q5
        acct2 = (await h.signed("GET", "/fapi/v2/account", {}, key=key)).json()
        assert acct2["canTrade"] is True and len(acct2["positions"]) == len(h.venue.instruments)
        bal = (await h.signed("GET", "/fapi/v3/balance", {}, key=key)).json()
        assert bal[0]["asset"] == "USDT" and bal[0]["updateTime"] > 0
        trades = (await h.signed("GET", "/fapi/v1/userTrades", {"symbol": BTC}, key=key)).json()
        assert len(trades) == 2 and trades[0]["commissionAsset"] == "USDT"
        # every fill names the reference book level it was priced from, and the price matches that level
        ev = trades[0]["evidence"]
        assert ev["source"] == "book" and ev["refPrice"] == trades[0]["price"] and float(ev["refQty"]) > 0
        inc = (await h.signed("GET", "/fapi/v1/income", {"incomeType": "COMMISSION"}, key=key)).json()
        assert inc and all(i["incomeType"] == "COMMISSION" and isinstance(i["tranId"], int) for i in inc)
        # sell everything with reduceOnly="true" (Hummingbot string)
        r = await h.signed("POST", "/fapi/v1/order", {"symbol": BTC, "side": "SELL", "type": "MARKET",
                                                      "quantity": "0.011", "reduceOnly": "true",
                                                      "newOrderRespType": "RESULT"}, key=key, where="body")
        assert r.json()["status"] == "FILLED" and r.json()["reduceOnly"] is True
        assert (await h.signed("GET", "/fapi/v3/positionRisk", {}, key=key)).json() == []

    run(fn)


def test_settings_endpoints(run):
    async def fn(h, key, acc):
        r = await h.signed("POST", "/fapi/v1/leverage", {"symbol": BTC, "leverage": "5"}, key=key, where="body")
        assert r.json() == {"leverage": 5, "maxNotionalValue": r.json()["maxNotionalValue"], "symbol": BTC}
        assert isinstance(r.json()["leverage"], int)
        r = await h.signed("POST", "/fapi/v1/leverage", {"symbol": BTC, "leverage": "500"}, key=key, where="body")
        assert r.json()["code"] == -4028
        r = await h.signed("POST", "/fapi/v1/marginType", {"symbol": BTC, "marginType": "CROSSED"}, key=key,
                           where="body")
        assert r.status_code == 400 and r.json() == {"code": -4046, "msg": "No need to change margin type."}
        r = await h.signed("POST", "/fapi/v1/marginType", {"symbol": BTC, "marginType": "ISOLATED"}, key=key,
                           where="body")
        assert r.json() == {"code": 200, "msg": "success"}
        cfg = (await h.signed("GET", "/fapi/v1/symbolConfig", {"symbol": BTC}, key=key)).json()
        assert cfg == [{"symbol": BTC, "marginType": "ISOLATED", "isAutoAddMargin": "false", "leverage": 5,
                        "maxNotionalValue": cfg[0]["maxNotionalValue"]}]
        assert (await h.signed("GET", "/fapi/v1/positionSide/dual", {}, key=key)).json() == {"dualSidePosition": False}
        r = await h.signed("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "True"}, key=key, where="body")
        assert r.json() == {"code": 200, "msg": "success"}
        assert (await h.signed("GET", "/fapi/v1/positionSide/dual", {}, key=key)).json() == {"dualSidePosition": True}
        r = await h.signed("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"}, key=key, where="body")
        assert r.json() == {"code": -4059, "msg": "No need to change position side."}
        assert (await h.signed("GET", "/fapi/v1/multiAssetsMargin", {}, key=key)).json() == {"multiAssetsMargin": False}
        r = await h.signed("POST", "/fapi/v1/multiAssetsMargin", {"multiAssetsMargin": "false"}, key=key, where="body")
        assert r.json() == {"code": 200, "msg": "success"}
        assert (await h.signed("GET", "/fapi/v1/accountConfig", {}, key=key)).json()["dualSidePosition"] is True
        lb = (await h.signed("GET", "/fapi/v1/leverageBracket", {}, key=key)).json()
        assert isinstance(lb, list) and "cum" in lb[0]["brackets"][0]
        lb1 = (await h.signed("GET", "/fapi/v1/leverageBracket", {"symbol": BTC}, key=key)).json()
        assert lb1["symbol"] == BTC
        cr = (await h.signed("GET", "/fapi/v1/commissionRate", {"symbol": BTC}, key=key)).json()
        assert cr["makerCommissionRate"] == "0.0002" and cr["takerCommissionRate"] == "0.0005"
        r = await h.signed("GET", "/fapi/v1/positionMargin/history", {"symbol": BTC}, key=key)
        assert r.json() == []

    run(fn)


def test_batch_orders_and_batch_cancel(run):
    async def fn(h, key, acc):
        # ccxt: compact JSON, raw in the form body
        orders = [limit_order(price="48000"), limit_order(price="48100"), limit_order(side="UP")]
        r = await h.signed("POST", "/fapi/v1/batchOrders",
                           {"batchOrders": json.dumps(orders, separators=(",", ":"))}, key=key, where="body")
        res = r.json()
        assert r.status_code == 200 and len(res) == 3
        assert res[0]["status"] == "NEW" and res[1]["status"] == "NEW"
        assert res[2] == {"code": -1117, "msg": "Invalid side."}
        ids = [res[0]["orderId"], res[1]["orderId"]]
        # python-binance / connector: JSON with spaces, percent-encoded in the query; numbers as JSON numbers
        enc = quote(json.dumps([{"symbol": BTC, "side": "BUY", "type": "LIMIT", "quantity": 0.01, "price": 48200,
                                 "timeInForce": "GTC"}]))
        qs = f"batchOrders={enc}&timestamp={h.clock.now_ms()}"
        import hashlib, hmac
        sig = hmac.new(key.secret.encode(), qs.encode(), hashlib.sha256).hexdigest()
        r = await h.client.post(f"/fapi/v1/batchOrders?{qs}&signature={sig}", headers={
            "X-MBX-APIKEY": key.api_key, "Content-Type": "application/json;charset=utf-8"})
        assert r.status_code == 200 and r.json()[0]["price"] == "48200.00", r.text
        ids.append(r.json()[0]["orderId"])
        # bad JSON -> clean 400
        r = await h.signed("POST", "/fapi/v1/batchOrders", {"batchOrders": "[{oops"}, key=key, where="body")
        assert r.status_code == 400 and r.json()["code"] == -1130
        r = await h.signed("POST", "/fapi/v1/batchOrders", {"batchOrders": json.dumps([limit_order()] * 6)},
                           key=key, where="body")
        assert r.json()["code"] == -4082
        # cancel: ccxt lower-case orderidlist (percent-encoded in the query), connector camelCase
        r = await h.signed("DELETE", "/fapi/v1/batchOrders", {"symbol": BTC, "orderidlist": json.dumps(ids[:1])},
                           key=key)
        assert r.json()[0]["status"] == "CANCELED"
        r = await h.signed("DELETE", "/fapi/v1/batchOrders", {"symbol": BTC, "orderIdList": json.dumps(ids[1:] + [12345])},
                           key=key)
        out = r.json()
        assert [x.get("status") for x in out[:2]] == ["CANCELED", "CANCELED"]
        assert out[2] == {"code": -2011, "msg": "Unknown order sent."}
        r = await h.signed("DELETE", "/fapi/v1/batchOrders", {"symbol": BTC}, key=key)
        assert r.json()["code"] == -1102

    run(fn)


def test_legacy_conditional_orders_on_order_endpoint(run):
    async def fn(h, key, acc):
        # connector: STOP_MARKET on /fapi/v1/order -> order shape with an orderId
        r = await h.signed("POST", "/fapi/v1/order", {"symbol": BTC, "side": "SELL", "type": "STOP_MARKET",
                                                      "quantity": "0.010", "stopPrice": "40000"}, key=key)
        o = r.json()
        assert r.status_code == 200, r.text
        assert o["type"] == "STOP_MARKET" and o["stopPrice"] == "40000.00" and o["status"] == "NEW"
        oid = o["orderId"]
        got = (await h.signed("GET", "/fapi/v1/order", {"symbol": BTC, "orderId": oid}, key=key)).json()
        assert got["orderId"] == oid and got["type"] == "STOP_MARKET"
        lst = (await h.signed("GET", "/fapi/v1/openOrders", {"symbol": BTC}, key=key)).json()
        assert [x["orderId"] for x in lst] == [oid]
        # trailing stop with activationPrice / callbackRate (percent)
        r = await h.signed("POST", "/fapi/v1/order", {"symbol": BTC, "side": "SELL", "type": "TRAILING_STOP_MARKET",
                                                      "quantity": "0.010", "callbackRate": "1",
                                                      "activationPrice": "61000"}, key=key)
        t = r.json()
        assert r.status_code == 200, r.text
        assert t["priceRate"] == "1" and t["activatePrice"] == "61000.00"
        r = await h.signed("DELETE", "/fapi/v1/order", {"symbol": BTC, "orderId": oid}, key=key)
        assert r.status_code == 200 and r.json()["status"] == "CANCELED", r.text
        r = await h.signed("DELETE", "/fapi/v1/allOpenOrders", {"symbol": BTC}, key=key)
        assert r.json() == {"code": 200, "msg": "The operation of cancel all open order is done."}
        assert (await h.signed("GET", "/fapi/v1/openOrders", {"symbol": BTC}, key=key)).json() == []

    run(fn)


def test_query_right_after_a_tick_waits_for_the_writer(run):
    """The engine runs ahead of the history writer: a stop that a tick has just triggered is gone from the open
    book before its rows are committed. A query in that gap must wait for the commit, not answer -2013."""
    import threading

    from alfax.domain.commands import TradePrint

    async def fn(h, key, acc):
        await h.signed("POST", "/fapi/v1/order", {"symbol": BTC, "side": "BUY", "type": "MARKET",
                                                  "quantity": "0.010"}, key=key, where="body")
        r = await h.signed("POST", "/fapi/v1/algoOrder", {"symbol": BTC, "side": "SELL", "type": "STOP_MARKET",
                                                          "quantity": "0.010", "triggerPrice": "49000",
                                                          "reduceOnly": "true", "algoType": "CONDITIONAL",
                                                          "workingType": "CONTRACT_PRICE"}, key=key, where="body")
        aid = r.json()["algoId"]
        await h.feed_book(bid="48000.00", ask="48000.10", update_id=2)
        gate = threading.Event()
        commit = h.ledger._commit
        h.ledger._commit = lambda conn, batch: (gate.wait(10), commit(conn, batch))[1]  # a slow disk
        try:
            events = h.execute_uncommitted(TradePrint(BTC, 4800000, 1, True, 1))
            assert any(getattr(getattr(e, "algo", None), "algo_id", 0) == aid for e in events)
            assert h.venue.open_algo_orders(acc) == []
            query = asyncio.ensure_future(h.signed("GET", "/fapi/v1/algoOrder", {"algoId": aid}, key=key))
            await asyncio.sleep(0.2)
            assert not query.done(), (await query).text  # it waits for the commit instead of answering -2013
            gate.set()
            g = (await query).json()
        finally:
            gate.set()
            h.ledger._commit = commit
        assert g["algoId"] == aid and g["algoStatus"] in ("TRIGGERED", "FINISHED"), g
        o = (await h.signed("GET", "/fapi/v1/order", {"symbol": BTC, "orderId": int(g["actualOrderId"])},
                            key=key)).json()
        assert o["side"] == "SELL" and o["status"] == "FILLED", o

    run(fn)


def test_algo_order_api_and_trigger(run):
    async def fn(h, key, acc):
        await h.signed("POST", "/fapi/v1/order", {"symbol": BTC, "side": "BUY", "type": "MARKET",
                                                  "quantity": "0.010"}, key=key, where="body")
        # ccxt / Freqtrade stoploss: algoOrder with triggerPrice, newOrderRespType=RESULT, reduceOnly
        r = await h.signed("POST", "/fapi/v1/algoOrder", {"symbol": BTC, "side": "SELL", "clientAlgoId": "x-cvBPrNm9sl",
                                                          "newOrderRespType": "RESULT", "type": "STOP_MARKET",
                                                          "quantity": "0.010", "triggerPrice": "49000",
                                                          "reduceOnly": "true", "algoType": "CONDITIONAL",
                                                          "workingType": "CONTRACT_PRICE"}, key=key, where="body")
        a = r.json()
        assert r.status_code == 200, r.text
        assert a["algoType"] == "CONDITIONAL" and a["algoStatus"] == "NEW" and a["clientAlgoId"] == "x-cvBPrNm9sl"
        aid = a["algoId"]
        g = (await h.signed("GET", "/fapi/v1/algoOrder", {"symbol": BTC, "algoId": aid}, key=key)).json()
        assert g["algoId"] == aid and g["actualOrderId"] == ""
        assert [x["algoId"] for x in (await h.signed("GET", "/fapi/v1/openAlgoOrders", {}, key=key)).json()] == [aid]
        # price falls through the trigger -> the stop fires
        await h.feed_book(bid="48000.00", ask="48000.10", update_id=2)
        from alfax.domain.commands import TradePrint
        await h.submit(TradePrint(BTC, 4800000, 1, True, 1))
        g = (await h.signed("GET", "/fapi/v1/algoOrder", {"symbol": BTC, "clientAlgoId": "x-cvBPrNm9sl"}, key=key)).json()
        assert g["algoStatus"] in ("TRIGGERED", "FINISHED"), g
        actual = int(g["actualOrderId"])
        o = (await h.signed("GET", "/fapi/v1/order", {"symbol": BTC, "orderId": actual}, key=key)).json()
        assert o["orderId"] == actual and o["side"] == "SELL"
        hist = (await h.signed("GET", "/fapi/v1/allAlgoOrders", {"symbol": BTC}, key=key)).json()
        assert [x["algoId"] for x in hist] == [aid]
        # another one, cancelled
        r = await h.signed("POST", "/fapi/v1/algoOrder", {"symbol": BTC, "side": "SELL", "type": "TAKE_PROFIT_MARKET",
                                                          "quantity": "0.001", "triggerPrice": "60000",
                                                          "algoType": "CONDITIONAL"}, key=key, where="body")
        aid2 = r.json()["algoId"]
        r = await h.signed("DELETE", "/fapi/v1/algoOrder", {"symbol": BTC, "algoId": aid2}, key=key)
        assert r.json() == {"algoId": aid2, "clientAlgoId": r.json()["clientAlgoId"], "code": "200", "msg": "success"}
        r = await h.signed("DELETE", "/fapi/v1/algoOrder", {"symbol": BTC, "algoId": aid2}, key=key)
        assert r.json()["code"] == -2011
        r = await h.signed("POST", "/fapi/v1/algoOrder", {"symbol": BTC, "side": "SELL", "type": "LIMIT",
                                                          "quantity": "0.001", "price": "60000"}, key=key, where="body")
        assert r.json()["code"] == -1116
        r = await h.signed("DELETE", "/fapi/v1/algoOpenOrders", {"symbol": BTC}, key=key)
        assert r.json()["code"] == 200

    run(fn)


def test_malformed_inputs_are_clean_4xx(run):
    async def fn(h, key, acc):
        cases = [
            (limit_order(quantity="abc"), -1130),
            (limit_order(quantity="1" * 80), -1130),
            (limit_order(quantity="0.0105"), -1111),
            (limit_order(price="49000.123"), -1111),
            (limit_order(quantity="-1"), -4003),
            (limit_order(side="UP"), -1117),
            (limit_order(type="ICEBERG"), -1116),
            (limit_order(timeInForce="XYZ"), -1115),
            (limit_order(positionSide="MIDDLE"), -4060),
            (limit_order(reduceOnly="maybe"), -1130),
            (limit_order(symbol="NOPE"), -1121),
            (limit_order(newClientOrderId="x" * 40), -4015),
            (limit_order(newClientOrderId="bad id!"), -1100),
            ({"symbol": BTC, "side": "BUY", "type": "LIMIT", "price": "1"}, -1102),
            (limit_order(newOrderRespType="FULL"), -1130),
            (limit_order(goodTillDate="soon"), -1130),
        ]
        for params, code in cases:
            r = await h.signed("POST", "/fapi/v1/order", params, key=key, where="body")
            assert 400 <= r.status_code < 500, (params, r.text)
            body = r.json()
            assert body["code"] == code, (params, body)
            assert isinstance(body["msg"], str)
        r = await h.signed("GET", "/fapi/v1/userTrades", {"symbol": BTC, "limit": "x"}, key=key)
        assert r.status_code == 400 and r.json()["code"] == -1130
        r = await h.signed("GET", "/fapi/v1/userTrades", {"symbol": BTC, "fromId": str(10**40)}, key=key)
        assert r.status_code == 400
        # JSON body (some SDKs) and garbage bodies never 5xx
        r = await h.client.post("/fapi/v1/order", content=b"\xff\xfe{{{", headers={"X-MBX-APIKEY": key.api_key})
        assert 400 <= r.status_code < 500

    run(fn)


def test_listen_keys(run):
    async def fn(h, key, acc):
        hdr = {"X-MBX-APIKEY": key.api_key}
        k1 = (await h.client.post("/fapi/v1/listenKey", headers=hdr)).json()["listenKey"]
        assert len(k1) == 64
        edge = h.app.state.edge
        exp1 = edge.listen_keys.expires_at(k1)
        h.clock.advance(300_000)
        k2 = (await h.client.post("/fapi/v1/listenKey", headers=hdr)).json()["listenKey"]
        assert k2 == k1 and edge.listen_keys.expires_at(k1) == exp1 + 300_000
        assert h.app.state.listen_keys.account_for(k1, h.clock.now_ms()) == acc
        r = await h.client.put(f"/fapi/v1/listenKey?listenKey={k1}", headers=hdr)
        assert r.status_code == 200 and r.json() == {"listenKey": k1}
        r = await h.client.put("/fapi/v1/listenKey", content=b"listenKey=nope", headers={
            **hdr, "Content-Type": "application/x-www-form-urlencoded"})
        assert r.json() == {"code": -1125, "msg": "This listenKey does not exist."}
        h.clock.advance(3_700_000)  # expired -> POST gives a new key
        k3 = (await h.client.post("/fapi/v1/listenKey", headers=hdr)).json()["listenKey"]
        assert k3 != k1
        r = await h.client.delete(f"/fapi/v1/listenKey?listenKey={k3}", headers=hdr)
        assert r.json() == {}

    run(fn)


def test_operator_api(run):
    async def fn(h, key, acc):
        r = await h.signed("GET", "/alfax/admin/accounts", {})
        rows = r.json()
        assert r.status_code == 200 and rows[0]["accountId"] == acc and rows[0]["walletBalance"] == "10000.00000000"
        r = await h.signed("POST", "/alfax/admin/accounts/fund", {"accountId": acc, "amount": "-100.5"}, where="body")
        assert r.json() == {"accountId": acc, "walletBalance": "9899.50000000"}
        r = await h.signed("POST", "/alfax/admin/keys", {"accountId": acc, "permissions": "read"}, where="body")
        k = r.json()
        assert k["permissions"] == "read" and k["apiKey"] and k["secretKey"]
        r = await h.signed("GET", "/alfax/admin/keys", {"accountId": acc})
        assert {x["apiKey"] for x in r.json()} == {key.api_key, k["apiKey"]}
        assert all("secretKey" not in x for x in r.json())
        # the read key reads but cannot trade
        rk = h.keys.lookup(k["apiKey"])
        assert (await h.signed("GET", "/fapi/v3/balance", {}, key=rk)).status_code == 200
        r = await h.signed("POST", "/fapi/v1/order", limit_order(), key=rk, where="body")
        assert r.status_code == 401 and r.json()["code"] == -2015
        r = await h.signed("DELETE", "/alfax/admin/keys", {"apiKey": k["apiKey"]})
        assert r.json() == {"apiKey": k["apiKey"], "enabled": False}
        assert (await h.signed("GET", "/fapi/v3/balance", {}, key=rk)).json()["code"] == -2015
        st = (await h.signed("GET", "/alfax/admin/state", {})).json()
        assert "stateHash" in st
        r = await h.signed("POST", "/alfax/admin/keys", {"accountId": 999}, where="body")
        assert r.json()["code"] == -1130

    run(fn)


def test_open_interest_and_closed_legacy_lookup(run):
    async def fn(h, key, acc):
        await h.signed("POST", "/fapi/v1/order", {"symbol": BTC, "side": "BUY", "type": "MARKET",
                                                  "quantity": "0.010"}, key=key, where="body")
        oi = (await h.client.get("/fapi/v1/openInterest?symbol=BTCUSDT")).json()
        assert oi["openInterest"] == "0.010"
        r = await h.signed("POST", "/fapi/v1/order", {"symbol": BTC, "side": "SELL", "type": "STOP_MARKET",
                                                      "quantity": "0.010", "stopPrice": "40000"}, key=key)
        oid = r.json()["orderId"]
        await h.signed("DELETE", "/fapi/v1/order", {"symbol": BTC, "orderId": oid}, key=key)
        got = (await h.signed("GET", "/fapi/v1/order", {"symbol": BTC, "orderId": oid}, key=key)).json()
        assert got["orderId"] == oid and got["status"] == "CANCELED" and got["type"] == "STOP_MARKET"
        cid = got["clientOrderId"]
        got = (await h.signed("GET", "/fapi/v1/order", {"symbol": BTC, "origClientOrderId": cid}, key=key)).json()
        assert got["orderId"] == oid

    run(fn)


def test_batch_python_repr_literals_and_yaml_content_type(run):
    async def fn(h, key, acc):
        raw = str([{"symbol": BTC, "side": "BUY", "type": "LIMIT", "quantity": "0.010", "price": "48300",
                    "timeInForce": "GTC", "reduceOnly": False}]).replace("'", '"')
        r = await h.signed("POST", "/fapi/v1/batchOrders", {"batchOrders": raw}, key=key, where="body")
        assert r.status_code == 200 and r.json()[0]["status"] == "NEW", r.text
        y = await h.client.get("/alfax-v1.yaml")
        assert y.headers["content-type"] == "application/yaml"

    run(fn)


def test_query_wins_over_body_and_rate_limits_in_exchange_info(tmp_path):
    import hashlib
    import hmac

    from alfax.api.ratelimit import RateLimitConfig

    h = Harness(tmp_path, rate_config=RateLimitConfig(weight_per_minute=123456, orders_per_10s=77))

    async def go():
        await h.feed_book()
        key, acc = await h.new_account()
        info = (await h.client.get("/fapi/v1/exchangeInfo")).json()
        limits = {(x["rateLimitType"], x["interval"]): x["limit"] for x in info["rateLimits"]}
        assert limits[("REQUEST_WEIGHT", "MINUTE")] == 123456 and limits[("ORDERS", "SECOND")] == 77
        q = "symbol=BTCUSDT"
        b = f"symbol=NOPE&timestamp={h.clock.now_ms()}"
        sig = hmac.new(key.secret.encode(), (q + b).encode(), hashlib.sha256).hexdigest()
        r = await h.client.request("GET", f"/fapi/v1/commissionRate?{q}", content=(b + "&signature=" + sig).encode(),
                                   headers={"X-MBX-APIKEY": key.api_key})
        assert r.status_code == 200 and r.json()["symbol"] == BTC, r.text

    try:
        asyncio.run(go())
    finally:
        h.close()


def test_hedge_mode_and_all_orders_without_symbol(run):
    async def fn(h, key, acc):
        r = await h.signed("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"}, key=key, where="body")
        assert r.json() == {"code": 200, "msg": "success"}
        r = await h.signed("POST", "/fapi/v1/order", {"symbol": BTC, "side": "BUY", "type": "MARKET",
                                                      "quantity": "0.010", "positionSide": "LONG"}, key=key,
                           where="body")
        assert r.status_code == 200 and r.json()["positionSide"] == "LONG", r.text
        v2 = (await h.signed("GET", "/fapi/v2/positionRisk", {"symbol": BTC}, key=key)).json()
        assert [x["positionSide"] for x in v2] == ["LONG", "SHORT"]
        v3 = (await h.signed("GET", "/fapi/v3/positionRisk", {}, key=key)).json()
        assert [(x["positionSide"], x["positionAmt"]) for x in v3] == [("LONG", "0.010")]
        acct2 = (await h.signed("GET", "/fapi/v2/account", {}, key=key)).json()
        assert len(acct2["positions"]) == 2 * len(h.venue.instruments)
        r = await h.signed("POST", "/fapi/v1/order", limit_order(positionSide="LONG"), key=key, where="body")
        assert r.status_code == 200
        allo = (await h.signed("GET", "/fapi/v1/allOrders", {}, key=key)).json()
        assert [x["status"] for x in allo] == ["FILLED", "NEW"]
        assert len((await h.signed("GET", "/fapi/v1/allOrders", {"limit": 1}, key=key)).json()) == 1

    run(fn)
