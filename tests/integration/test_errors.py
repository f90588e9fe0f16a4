"""Every client-provokable error of contract §2: exact code, HTTP status and message; plus a bounded fuzz."""

from __future__ import annotations

import json
import random
import re
import threading
import time
from decimal import Decimal

import httpx
import pytest

from alfax_harness import Rest, best_bid_ask, mark_price, now_ms, sign

D = Decimal


def expect(r: httpx.Response, code: int, msg: str | re.Pattern, status: int = 400) -> None:
    try:
        body = r.json()
    except ValueError:
        pytest.fail(f"non-JSON answer HTTP {r.status_code}: {r.text[:300]!r}")
    got = (r.status_code, body.get("code") if isinstance(body, dict) else None,
           body.get("msg") if isinstance(body, dict) else None)
    if isinstance(msg, re.Pattern):
        ok = got[0] == status and got[1] == code and isinstance(got[2], str) and msg.fullmatch(got[2])
    else:
        ok = got == (status, code, msg)
    assert ok, f"expected HTTP {status} {code} {msg!r}, got HTTP {r.status_code} {r.text[:400]}"


@pytest.fixture()
def acct(alfax_server, fresh_account):
    r = alfax_server.rest(fresh_account)
    yield r
    r.close()


@pytest.fixture()
def pub(alfax_server):
    r = Rest(alfax_server.base_url)
    yield r
    r.close()


def order(rest: Rest, **params) -> httpx.Response:
    return rest.signed("POST", "/fapi/v1/order", params)


def q(rules, pub, symbol="BTCUSDT", notional=20) -> str:
    """Step-aligned quantity worth ``notional`` USDT (safely above MIN_NOTIONAL at any replay price)."""
    return str(rules[symbol].qty_for_notional(mark_price(pub, symbol), notional))


def far_buy_price(rules, pub, symbol="BTCUSDT", frac="0.97") -> Decimal:
    bid, _ = best_bid_ask(pub, symbol)
    return rules[symbol].round_price(bid * D(frac))


# ------------------------------------------------------------------------------------------------ auth


def test_bad_signature(acct):
    r = acct.signed("GET", "/fapi/v3/account", secret="not-the-secret")
    expect(r, -1022, "Signature for this request is not valid.")


def test_signature_tampered_param(acct):
    p = {"symbol": "BTCUSDT", "timestamp": now_ms(), "recvWindow": 10000}
    q = sign(acct.secret, p).replace("symbol=BTCUSDT", "symbol=ETHUSDT")
    r = acct.http.get(f"/fapi/v1/openOrders?{q}", headers={"X-MBX-APIKEY": acct.api_key})
    expect(r, -1022, "Signature for this request is not valid.")


def test_missing_api_key(acct):
    p = sign(acct.secret, {"timestamp": now_ms()})
    r = acct.http.get(f"/fapi/v3/account?{p}")
    expect(r, -2014, "API-key format invalid.", 401)


def test_unknown_api_key(acct):
    r = acct.signed("GET", "/fapi/v3/account", api_key="Q" * 64)
    expect(r, -2015, "Invalid API-key, IP, or permissions for action.", 401)


def test_missing_signature_and_timestamp(acct):
    r = acct.http.get(f"/fapi/v3/account?timestamp={now_ms()}", headers={"X-MBX-APIKEY": acct.api_key})
    expect(r, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    q = sign(acct.secret, {"recvWindow": 5000})
    r = acct.http.get(f"/fapi/v3/account?{q}", headers={"X-MBX-APIKEY": acct.api_key})
    expect(r, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")


def test_timestamp_outside_recv_window(acct):
    r = acct.signed("GET", "/fapi/v3/account", recv_window=5000, timestamp=now_ms() - 20_000)
    expect(r, -1021, "Timestamp for this request is outside of the recvWindow.")


def test_timestamp_ahead(acct):
    r = acct.signed("GET", "/fapi/v3/account", recv_window=5000, timestamp=now_ms() + 5_000)
    expect(r, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")


def test_read_only_key_cannot_trade(alfax_server, fresh_account, rules, pub):
    res = alfax_server.cli("keys", "create", str(fresh_account.account_id), "--permissions", "read", "--json")
    assert res.returncode == 0, res.stderr
    k = json.loads(res.stdout)
    ro = Rest(alfax_server.base_url, k["apiKey"], k["secretKey"])
    try:
        assert ro.signed("GET", "/fapi/v3/account").status_code == 200
        r = order(ro, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001",
                  price=str(far_buy_price(rules, pub)))
        expect(r, -2015, "Invalid API-key, IP, or permissions for action.", 401)
    finally:
        ro.close()


# ------------------------------------------------------------------------------------------------ params


def test_bad_symbol(pub, acct):
    expect(pub.public("GET", "/fapi/v1/depth", {"symbol": "FOOUSDT"}), -1121, "Invalid symbol.")
    expect(pub.public("GET", "/fapi/v1/klines", {"symbol": "FOOUSDT", "interval": "1m"}), -1121, "Invalid symbol.")
    r = order(acct, symbol="FOOUSDT", side="BUY", type="MARKET", quantity="1")
    expect(r, -1121, "Invalid symbol.")


def test_mandatory_params(pub, acct, rules):
    expect(pub.public("GET", "/fapi/v1/depth"), -1102,
           "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
    expect(order(acct, symbol="BTCUSDT", type="MARKET", quantity="0.001"), -1102,
           "Mandatory parameter 'side' was not sent, was empty/null, or malformed.")
    expect(order(acct, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001"), -1102,
           "Mandatory parameter 'price' was not sent, was empty/null, or malformed.")
    expect(order(acct, symbol="BTCUSDT", side="BUY", type="MARKET"), -1102,
           "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
    expect(acct.signed("GET", "/fapi/v1/order", {"symbol": "BTCUSDT"}), -1102,
           "Param 'orderId' or 'origClientOrderId' must be sent, but both were empty/null!")


def test_invalid_enums(acct):
    expect(order(acct, symbol="BTCUSDT", side="UP", type="MARKET", quantity="0.001"), -1117, "Invalid side.")
    expect(order(acct, symbol="BTCUSDT", side="BUY", type="ICEBERG", quantity="0.001"), -1116, "Invalid orderType.")


def test_bad_precision(acct, rules, pub):
    px = far_buy_price(rules, pub)
    expect(order(acct, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.0025",
                 price=str(px)), -1111, "Precision is over the maximum defined for this asset.")
    pp = rules["BTCUSDT"].price_precision
    qty = q(rules, pub)
    too_fine = f"{px:.{pp}f}3"  # one decimal more than pricePrecision
    expect(order(acct, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=qty,
                 price=too_fine), -1111, "Precision is over the maximum defined for this asset.")


def test_tick_size(acct, rules, pub):
    r = rules["BTCUSDT"]
    assert r.tick * 10 ** r.price_precision > 1, "BTCUSDT tick must be coarser than its price precision"
    px = far_buy_price(rules, pub) + r.tick / 2
    expect(order(acct, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=q(rules, pub),
                 price=str(px)), -4014, "Price not increased by tick size.")


# -4023 (step size) is covered by tests/engine/test_engine_misc.py::test_step_size_filter_on_custom_instrument:
# with the bundled instruments stepSize equals 10^-quantityPrecision, so -1111 always answers first.


def test_quantity_bounds(acct, rules, pub):
    px = far_buy_price(rules, pub)
    expect(order(acct, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0", price=str(px)),
           -4003, "Quantity less than or equal to zero.")
    expect(order(acct, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="1001", price=str(px)),
           -4005, "Quantity greater than max quantity.")


def test_min_notional(acct, rules, pub):
    px = far_buy_price(rules, pub, "ETHUSDT", "0.99")
    r = rules["ETHUSDT"]
    qty = r.min_qty
    assert px * qty < r.min_notional, "ETH min qty is worth more than MIN_NOTIONAL at this price"
    expect(order(acct, symbol="ETHUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=str(qty), price=str(px)),
           -4164, re.compile(r"Order's notional must be no smaller than 5(\.0+)? \(unless you choose reduce only\)"))


def test_percent_price(acct, rules, pub):
    m = mark_price(pub, "BTCUSDT")
    r = rules["BTCUSDT"]
    qty = q(rules, pub)
    hi = r.round_price(m * D("1.2"))
    lo = r.round_price(m * D("0.8"))
    expect(order(acct, symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="GTC", quantity=qty, price=str(hi)),
           -4016, "Price is higher than mark price multiplier cap.")
    expect(order(acct, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=qty, price=str(lo)),
           -4024, "Price is lower than mark price multiplier floor.")


# ------------------------------------------------------------------------------------------------ business rules


def test_reduce_only_rejected(acct):
    expect(order(acct, symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.001", reduceOnly="true"),
           -2022, "ReduceOnly Order is rejected.")


def test_gtx_rejected_when_crossing(acct, rules, pub):
    _, ask = best_bid_ask(pub, "BTCUSDT")
    qty = rules["BTCUSDT"].qty_for_notional(ask, 15)
    expect(order(acct, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTX", quantity=str(qty),
                 price=str(rules["BTCUSDT"].round_price(ask * D("1.005"), up=True))),
           -5022, "Due to the order could not be executed as maker, the Post Only order will be rejected. "
                  "The order will not be recorded in the order history")


def test_fok_rejected(acct, rules, pub):
    bid, _ = best_bid_ask(pub, "BTCUSDT")
    qty = rules["BTCUSDT"].qty_for_notional(bid, 15)
    expect(order(acct, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="FOK", quantity=str(qty),
                 price=str(rules["BTCUSDT"].round_price(bid * D("0.99")))),
           -5021, "Due to the order could not be filled immediately, the FOK order has been rejected. "
                  "The order will not be recorded in the order history")


def test_would_immediately_trigger(acct, rules, pub):
    m = mark_price(pub, "BTCUSDT")
    r = rules["BTCUSDT"]
    qty = r.qty_for_notional(m, 15)
    res = acct.signed("POST", "/fapi/v1/algoOrder", {
        "algoType": "CONDITIONAL", "symbol": "BTCUSDT", "side": "BUY", "type": "STOP_MARKET",
        "quantity": str(qty), "triggerPrice": str(r.round_price(m * D("0.97"))), "workingType": "MARK_PRICE"})
    expect(res, -2021, "Order would immediately trigger.")


def test_duplicated_and_too_long_client_order_id(acct, rules, pub):
    px = far_buy_price(rules, pub)
    qty = q(rules, pub)
    ok = order(acct, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=qty,
               price=str(px), newClientOrderId="dup-check-1")
    assert ok.status_code == 200, ok.text
    expect(order(acct, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=qty,
                 price=str(px), newClientOrderId="dup-check-1"), -4116, "clientOrderId is duplicated")
    expect(order(acct, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=qty,
                 price=str(px), newClientOrderId="x" * 37),
           -4015, "Client order id length should not be more than 36 chars")
    ok36 = order(acct, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=qty,
                 price=str(px), newClientOrderId="y" * 36)
    assert ok36.status_code == 200, ok36.text
    acct.ok("DELETE", "/fapi/v1/allOpenOrders", {"symbol": "BTCUSDT"})


def test_margin_insufficient(alfax_server, rules, pub):
    poor = alfax_server.create_account("10")
    r = alfax_server.rest(poor)
    try:
        r.ok("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 1})
        px = far_buy_price(rules, pub, "BTCUSDT", "0.99")
        qty = rules["BTCUSDT"].qty_for_notional(px, 60)
        expect(order(r, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=str(qty),
                     price=str(px)), -2019, "Margin is insufficient.")
        expect(order(r, symbol="BTCUSDT", side="BUY", type="MARKET", quantity=str(qty)), -2019, "Margin is insufficient.")
        acc = r.ok("GET", "/fapi/v3/account")
        assert D(acc["totalWalletBalance"]) == 10 and D(acc["totalOpenOrderInitialMargin"]) == 0
    finally:
        r.close()


def test_unknown_order(acct):
    expect(acct.signed("DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": 9_999_999_999}),
           -2011, "Unknown order sent.")
    expect(acct.signed("DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "never-sent"}),
           -2011, "Unknown order sent.")
    expect(acct.signed("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": 9_999_999_999}),
           -2013, "Order does not exist.")
    expect(acct.signed("GET", "/fapi/v1/algoOrder", {"algoId": 9_999_999_999}), -2013, "Order does not exist.")


def test_no_need_to_change(acct):
    acct.ok("POST", "/fapi/v1/marginType", {"symbol": "ETHUSDT", "marginType": "ISOLATED"})
    expect(acct.signed("POST", "/fapi/v1/marginType", {"symbol": "ETHUSDT", "marginType": "ISOLATED"}),
           -4046, "No need to change margin type.")
    expect(acct.signed("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "false"}),
           -4059, "No need to change position side.")


def test_invalid_leverage(acct):
    expect(acct.signed("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 126}), -4028,
           "Leverage 126 is not valid")
    expect(acct.signed("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 0}), -4028,
           "Leverage 0 is not valid")


def test_unknown_listen_key(acct):
    r = acct.http.put("/fapi/v1/listenKey", content=b"listenKey=doesnotexist",
                      headers={"X-MBX-APIKEY": acct.api_key, "Content-Type": "application/x-www-form-urlencoded"})
    expect(r, -1125, "This listenKey does not exist.")


def test_unknown_path_is_json_404(pub):
    for path in ("/fapi/v1/doesNotExist", "/nope", "/fapi/v9/order"):
        r = pub.public("GET", path)
        assert r.status_code == 404, (path, r.status_code, r.text)
        body = r.json()
        assert isinstance(body.get("code"), int) and isinstance(body.get("msg"), str), body


# ------------------------------------------------------------------------------------------------ fuzz

ENDPOINTS = [
    ("GET", "/fapi/v1/exchangeInfo"), ("POST", "/fapi/v1/order"), ("DELETE", "/fapi/v1/order"), ("GET", "/fapi/v1/order"),
    ("PUT", "/fapi/v1/order"), ("GET", "/fapi/v1/depth"), ("GET", "/fapi/v1/ticker/24hr"), ("GET", "/fapi/v1/ticker/bookTicker"),
    ("GET", "/fapi/v1/premiumIndex"), ("POST", "/fapi/v1/leverage"), ("GET", "/fapi/v1/positionSide/dual"),
    ("POST", "/fapi/v1/positionSide/dual"), ("GET", "/fapi/v1/userTrades"), ("GET", "/fapi/v1/income"),
    ("GET", "/fapi/v1/time"), ("GET", "/fapi/v1/klines"), ("GET", "/fapi/v1/markPriceKlines"),
    ("GET", "/fapi/v1/indexPriceKlines"), ("GET", "/fapi/v1/fundingRate"), ("GET", "/fapi/v3/positionRisk"),
    ("GET", "/fapi/v2/positionRisk"), ("GET", "/fapi/v1/leverageBracket"), ("POST", "/fapi/v1/marginType"),
    ("GET", "/fapi/v1/openOrders"), ("GET", "/fapi/v1/openOrder"), ("GET", "/fapi/v1/allOrders"),
    ("DELETE", "/fapi/v1/allOpenOrders"), ("POST", "/fapi/v1/listenKey"), ("PUT", "/fapi/v1/listenKey"),
    ("DELETE", "/fapi/v1/listenKey"), ("GET", "/fapi/v1/aggTrades"), ("GET", "/fapi/v1/trades"),
    ("GET", "/fapi/v3/account"), ("GET", "/fapi/v2/account"), ("POST", "/fapi/v1/algoOrder"),
    ("GET", "/fapi/v1/algoOrder"), ("DELETE", "/fapi/v1/algoOrder"), ("GET", "/fapi/v1/openAlgoOrders"),
    ("GET", "/fapi/v1/allAlgoOrders"), ("DELETE", "/fapi/v1/algoOpenOrders"), ("GET", "/fapi/v1/multiAssetsMargin"),
    ("GET", "/fapi/v1/ping"), ("GET", "/fapi/v2/ticker/price"), ("GET", "/fapi/v1/ticker/price"),
    ("GET", "/fapi/v1/openInterest"), ("POST", "/fapi/v1/batchOrders"), ("DELETE", "/fapi/v1/batchOrders"),
    ("GET", "/fapi/v1/commissionRate"), ("POST", "/fapi/v1/positionMargin"), ("GET", "/fapi/v3/balance"),
    ("GET", "/fapi/v2/balance"), ("GET", "/sapi/v1/capital/config/getall"), ("GET", "/sapi/v1/margin/allPairs"),
    ("GET", "/api/v3/ping"), ("GET", "/api/v3/time"), ("GET", "/api/v3/exchangeInfo"), ("GET", "/dapi/v1/exchangeInfo"),
    ("GET", "/fapi/v1/symbolConfig"), ("GET", "/fapi/v1/accountConfig"), ("GET", "/fapi/v1/fundingInfo"),
    ("POST", "/fapi/v1/countdownCancelAll"), ("GET", "/fapi/v1/continuousKlines"), ("GET", "/fapi/v1/premiumIndexKlines"),
    ("GET", "/alfax/admin/accounts"), ("POST", "/alfax/admin/accounts"), ("GET", "/alfax/admin/state"),
    ("DELETE", "/alfax/admin/keys"), ("GET", "/health"),
    ("GET", "/fapi/v1/nothing"), ("GET", "/fapi/v1/order/../../etc/passwd"), ("GET", "/fapi/v1/order%00"),
    ("GET", "/" + "a" * 3000), ("POST", "/fapi/v1/exchangeInfo"), ("GET", "/fapi/v1/batchOrders"),
]
PARAM_NAMES = ["symbol", "side", "type", "quantity", "price", "timeInForce", "orderId", "origClientOrderId",
               "newClientOrderId", "stopPrice", "triggerPrice", "reduceOnly", "closePosition", "positionSide",
               "workingType", "priceProtect", "newOrderRespType", "limit", "interval", "startTime", "endTime",
               "fromId", "leverage", "marginType", "dualSidePosition", "amount", "incomeType", "listenKey",
               "algoId", "clientAlgoId", "algoType", "callbackRate", "activatePrice", "batchOrders", "orderIdList",
               "orderidlist", "origClientOrderIdList", "recvWindow", "timestamp", "signature", "page", "pair",
               "contractType", "goodTillDate", "priceMatch", "selfTradePreventionMode", "countdownTime",
               "accountId", "apiKey", "balance", "alias", "permissions", "dualSidePosition"]
VALUES = ["", "BTCUSDT", "ETHUSDT", "btcusdt", "FOOUSDT", "BUY", "SELL", "LIMIT", "MARKET", "STOP_MARKET",
          "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET", "GTC", "IOC", "FOK", "GTX", "GTD", "1m", "1h", "7x",
          "0", "1", "-1", "0.001", "0.0000000001", "1e3", "1e309", "NaN", "inf", "-0", "99999999999999999999999",
          "9223372036854775808", "0x10", "true", "false", "TRUE", "null", "None", "[]", "[1,2]", "[\"a\"]", "[1,",
          "{\"a\":1}", "[{\"symbol\":\"BTCUSDT\",\"side\":\"BUY\",\"type\":\"MARKET\",\"quantity\":\"0.001\"}]",
          "[{}]", "[" + ",".join(["{}"] * 7) + "]", "ü", "\u0000", "%", "%zz", "a" * 5000, "' OR 1=1 --",
          "BOTH", "LONG", "SHORT", "MARK_PRICE", "ISOLATED", "CROSSED", "COMMISSION", "12.3456789", "5000.05",
          "1.5", "30000", "1000000", "-2"]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]


def _fuzz_request(rng: random.Random, key: str, secret: str) -> tuple[str, str, bytes | None, dict]:
    method, path = rng.choice(ENDPOINTS)
    if rng.random() < 0.15:
        method = rng.choice(METHODS)
    params = [(n, rng.choice(VALUES)) for n in rng.sample(PARAM_NAMES, rng.randint(0, 7))]
    if rng.random() < 0.6:
        params.append(("symbol", rng.choice(["BTCUSDT", "ETHUSDT"])))
    headers: dict = {}
    mode = rng.random()
    if mode < 0.45:  # properly signed with a valid key
        params = [(k, v) for k, v in params if k not in ("timestamp", "signature")]
        params.append(("timestamp", str(now_ms())))
        qs = sign(secret, params)
        headers["X-MBX-APIKEY"] = key
    elif mode < 0.6:  # signed with the wrong secret
        params.append(("timestamp", str(now_ms())))
        qs = sign("wrong", params)
        headers["X-MBX-APIKEY"] = key
    elif mode < 0.7:  # garbage key header
        qs = sign(secret, params)
        headers["X-MBX-APIKEY"] = rng.choice(["", " ", "x" * 300, "ключ".encode(), key + "\t", "null"])
    else:
        from urllib.parse import urlencode
        qs = urlencode(params)
        if rng.random() < 0.2:
            qs += rng.choice(["&&", "&=", "&symbol", "&symbol=BTCUSDT&symbol=ETHUSDT", "%", "&%zz=1", "&a=%E0%A4%A"])
    body: bytes | None = None
    if method in ("POST", "PUT", "DELETE", "PATCH") and rng.random() < 0.6:
        choice = rng.random()
        if choice < 0.5:
            body, qs = qs.encode(), ""
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif choice < 0.7:
            body = json.dumps(dict(params)).encode()
            headers["Content-Type"] = rng.choice(["application/json", "application/json;charset=utf-8"])
        elif choice < 0.85:
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
            headers["Content-Type"] = rng.choice(["application/x-www-form-urlencoded", "application/octet-stream",
                                                  "multipart/form-data; boundary=zz"])
        else:
            body = b"a=" + b"b" * 100_000
            headers["Content-Type"] = "application/x-www-form-urlencoded"
    url = f"{path}?{qs}" if qs else path
    return method, url, body, headers


def test_fuzz_never_5xx_and_always_json(alfax_server, fresh_account):
    rng = random.Random(20261121)
    deadline = time.monotonic() + 50
    n_target = 5000
    clients = {}
    failures: list[str] = []
    counts: dict[int, int] = {}
    n = 0
    try:
        while n < n_target and time.monotonic() < deadline:
            # rotate loopback source addresses so per-IP weight limits (2400/min) are not what we measure
            src = f"127.0.{(n // 150) // 250}.{2 + (n // 150) % 250}"
            cl = clients.get(src)
            if cl is None:
                for old in clients.values():
                    old.close()
                clients.clear()
                cl = clients[src] = httpx.Client(base_url=alfax_server.base_url, timeout=10, trust_env=False,
                                                 transport=httpx.HTTPTransport(local_address=src))
            method, url, body, headers = _fuzz_request(rng, fresh_account.api_key, fresh_account.secret)
            n += 1
            try:
                r = cl.request(method, url, content=body, headers=headers)
            except httpx.LocalProtocolError:
                continue  # an illegal request the client library refuses to send
            except httpx.HTTPError as e:
                failures.append(f"{method} {url[:200]} -> connection error {e!r}")
                cl.close()
                clients.clear()
                continue
            counts[r.status_code] = counts.get(r.status_code, 0) + 1
            if r.status_code >= 500:
                failures.append(f"{method} {url[:200]} body={body[:100] if body else body!r} -> {r.status_code} {r.text[:300]}")
            elif 400 <= r.status_code < 500 and method != "HEAD":
                try:
                    j = r.json()
                    assert isinstance(j, dict) and isinstance(j.get("code"), int) and isinstance(j.get("msg"), str)
                except (ValueError, AssertionError):
                    failures.append(f"{method} {url[:200]} -> {r.status_code} non-Binance error body {r.text[:300]!r}")
    finally:
        for c in clients.values():
            c.close()
    print(f"fuzz: {n} requests, status counts {sorted(counts.items())}")
    assert n >= 1000, f"only {n} fuzz requests in the time budget"
    assert not failures, f"{len(failures)} bad answers of {n}, first ones:\n" + "\n".join(failures[:15])
    with httpx.Client(timeout=5, trust_env=False) as c:
        assert c.get(alfax_server.base_url + "/health").status_code == 200


# ------------------------------------------------------------------------------------------------ more §2 / §3 paths


def test_price_below_min_price(acct, rules):
    r = rules["BTCUSDT"]
    expect(order(acct, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.05", price="500"),
           -4013, "Price less than min price.")


def test_illegal_client_order_id_chars(acct, rules, pub):
    r = order(acct, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=q(rules, pub),
              price=str(far_buy_price(rules, pub)), newClientOrderId="bad id!")
    body = r.json()
    assert r.status_code == 400 and body["code"] == -1100, r.text
    assert body["msg"].startswith("Illegal characters found in parameter 'newClientOrderId'; legal range is "), r.text


def test_position_side_mismatch_in_one_way_mode(acct, rules, pub):
    expect(order(acct, symbol="BTCUSDT", side="BUY", type="MARKET", quantity=q(rules, pub), positionSide="LONG"),
           -4061, "Order's position side does not match user's setting.")


def test_margin_type_and_position_mode_locked_by_orders_and_positions(acct, rules, pub):
    px = far_buy_price(rules, pub, "ETHUSDT")
    acct.ok("POST", "/fapi/v1/order", {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                       "quantity": q(rules, pub, "ETHUSDT"), "price": str(px)})
    expect(acct.signed("POST", "/fapi/v1/marginType", {"symbol": "ETHUSDT", "marginType": "ISOLATED"}),
           -4047, "Margin type cannot be changed if there exists open orders.")
    expect(acct.signed("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"}),
           -4067, "Position side cannot be changed if there exists open orders.")
    acct.ok("DELETE", "/fapi/v1/allOpenOrders", {"symbol": "ETHUSDT"})
    acct.ok("POST", "/fapi/v1/order", {"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET",
                                       "quantity": q(rules, pub, "ETHUSDT")})
    expect(acct.signed("POST", "/fapi/v1/marginType", {"symbol": "ETHUSDT", "marginType": "ISOLATED"}),
           -4048, "Margin type cannot be changed if there exists position.")
    expect(acct.signed("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"}),
           -4068, "Position side cannot be changed if there exists position.")
    acct.ok("POST", "/fapi/v1/order", {"symbol": "ETHUSDT", "side": "SELL", "type": "MARKET",
                                       "quantity": q(rules, pub, "ETHUSDT"), "reduceOnly": "true"})


def test_max_position_at_leverage(acct, rules, pub):
    acct.ok("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 125})
    px = far_buy_price(rules, pub, "BTCUSDT", "0.99")
    qty = rules["BTCUSDT"].qty_for_notional(px, 60_000)  # first bracket caps 125x at 50,000 USDT
    expect(order(acct, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=str(qty), price=str(px)),
           -2027, "Exceeded the maximum allowable position at current leverage.")


def test_max_open_orders(alfax_server, rules, pub):
    a = alfax_server.create_account("100000")
    r = alfax_server.rest(a)
    try:
        px = far_buy_price(rules, pub, "ETHUSDT")
        qty = q(rules, pub, "ETHUSDT")
        limit = 200
        for i in range(limit):
            res = order(r, symbol="ETHUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=qty, price=str(px))
            assert res.status_code == 200, f"order {i}: {res.text}"
            if i % 60 == 59:
                time.sleep(2.1)  # stay under ORDERS 300/10s
        expect(order(r, symbol="ETHUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=qty, price=str(px)),
               -2025, "Reach max open order limit.")
        assert len(r.ok("GET", "/fapi/v1/openOrders", {"symbol": "ETHUSDT"})) == limit
        r.ok("DELETE", "/fapi/v1/allOpenOrders", {"symbol": "ETHUSDT"})
    finally:
        r.close()


def test_batch_too_large(acct, rules, pub):
    px = str(far_buy_price(rules, pub))
    one = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": q(rules, pub), "price": px}
    r = acct.signed("POST", "/fapi/v1/batchOrders", {"batchOrders": json.dumps([one] * 6, separators=(",", ":"))})
    expect(r, -4082, "Invalid number of batch place orders.")


def test_batch_element_errors_are_inline(acct, rules, pub):
    px = str(far_buy_price(rules, pub))
    good = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": q(rules, pub), "price": px}
    bad = dict(good, side="SELL", type="MARKET", reduceOnly="true")
    bad.pop("price"), bad.pop("timeInForce")
    r = acct.signed("POST", "/fapi/v1/batchOrders", {"batchOrders": json.dumps([good, bad], separators=(",", ":"))})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out[0]["status"] == "NEW" and out[1] == {"code": -2022, "msg": "ReduceOnly Order is rejected."}, out
    acct.ok("DELETE", "/fapi/v1/allOpenOrders", {"symbol": "BTCUSDT"})


def test_close_position_with_quantity(acct, rules, pub):
    m = mark_price(pub, "BTCUSDT")
    r = acct.signed("POST", "/fapi/v1/algoOrder", {
        "algoType": "CONDITIONAL", "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET",
        "triggerPrice": str(rules["BTCUSDT"].round_price(m * D("0.9"))), "closePosition": "true", "quantity": q(rules, pub)})
    expect(r, -4137, "Quantity must be zero with closePosition equals true")


def test_weight_headers(acct, pub, rules):
    r = pub.public("GET", "/fapi/v1/time")
    assert int(r.headers["X-MBX-USED-WEIGHT-1M"]) >= 1
    r = order(acct, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=q(rules, pub),
              price=str(far_buy_price(rules, pub)))
    assert r.status_code == 200, r.text
    assert int(r.headers["X-MBX-ORDER-COUNT-10S"]) >= 1 and int(r.headers["X-MBX-ORDER-COUNT-1M"]) >= 1
    assert "X-MBX-USED-WEIGHT-1M" in r.headers
    acct.ok("DELETE", "/fapi/v1/allOpenOrders", {"symbol": "BTCUSDT"})


def test_ip_weight_limit_429_then_418(alfax_server):
    """2400 weight/minute per IP: ticker/24hr without symbol weighs 40. Uses its own loopback source address."""
    src = "127.0.77.77"
    seen_429 = seen_418 = None
    with httpx.Client(base_url=alfax_server.base_url, timeout=10, trust_env=False,
                      transport=httpx.HTTPTransport(local_address=src)) as c:
        for i in range(400):
            r = c.get("/fapi/v1/ticker/24hr")
            if r.status_code == 429 and seen_429 is None:
                seen_429 = (i, r)
            if r.status_code == 418:
                seen_418 = (i, r)
                break
    assert seen_429, "no 429 after 400 x weight-40 requests from one IP"
    i, r = seen_429
    assert 55 <= i <= 65, f"first 429 after {i} requests (expected ~60 = 2400/40)"
    body = r.json()
    assert body["code"] == -1003 and body["msg"] == (
        "Too many requests; current limit is 2400 requests per minute. "
        "Please use the websocket for live updates to avoid polling the API."), body
    assert int(r.headers["Retry-After"]) > 0
    if seen_418:
        body = seen_418[1].json()
        assert body["code"] == -1003 and body["msg"].startswith("Way too many requests; IP banned until "), body
        assert int(seen_418[1].headers["Retry-After"]) > 0
    # other addresses are unaffected
    with httpx.Client(timeout=5, trust_env=False) as c:
        assert c.get(alfax_server.base_url + "/fapi/v1/time").status_code == 200


def test_order_rate_limit_per_account(alfax_server, rules, pub):
    """ORDERS 300 per 10 s per account -> 429 -1015. Eight client threads place resting orders on both symbols
    (400 open-order slots, so MAX_NUM_ORDERS never interferes) until the first 429, well inside one window even
    on a loaded 2-core machine."""
    a = alfax_server.create_account("100000")
    legs = {sym: (str(far_buy_price(rules, pub, sym)), q(rules, pub, sym)) for sym in ("BTCUSDT", "ETHUSDT")}
    lock = threading.Lock()
    accepted: list[float] = []
    hits: list[tuple[float, httpx.Response]] = []

    def worker(n: int) -> None:
        r = alfax_server.rest(a)
        try:
            for i in range(60):
                with lock:
                    if hits:
                        return
                sym = "BTCUSDT" if (n + i) % 2 else "ETHUSDT"
                px, qty = legs[sym]
                res = order(r, symbol=sym, side="BUY", type="LIMIT", timeInForce="GTC", quantity=qty, price=px)
                with lock:
                    if res.status_code == 429:
                        hits.append((time.time(), res))
                        return
                    assert res.status_code == 200, res.text
                    accepted.append(time.time())
        finally:
            r.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    time.sleep(10.05 - time.time() % 10)  # start just after a window boundary: the burst fits in one window
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    elapsed = time.monotonic() - t0
    r = alfax_server.rest(a)
    try:
        assert hits, f"no 429 after {len(accepted)} orders in {elapsed:.1f}s"
        t_hit, res = min(hits, key=lambda h: h[0])
        # Binance's ORDERS windows are fixed 10 s windows aligned on the clock; count this window's orders
        # (a few may straddle the boundary by the time their answer arrived)
        window_start = t_hit - t_hit % 10
        in_window = sum(1 for t in accepted if t >= window_start)
        assert 290 <= in_window <= 300, (len(accepted), in_window, elapsed)
        expect(res, -1015, "Too many new orders; current limit is 300 orders per 10 SECOND.", 429)
    finally:
        for sym in legs:
            r.signed("DELETE", "/fapi/v1/allOpenOrders", {"symbol": sym})
        r.close()
