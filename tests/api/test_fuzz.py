"""Every endpoint of the table, fed garbage: always a clean JSON answer, never a 5xx."""

import asyncio
import random

import orjson

from alfax.api.endpoints import ENDPOINTS

from alfax.api.ratelimit import RateLimitConfig

from .conftest import Harness

NAMES = ["symbol", "side", "type", "quantity", "price", "timeInForce", "orderId", "origClientOrderId", "limit",
         "startTime", "endTime", "fromId", "interval", "pair", "contractType", "leverage", "marginType", "amount",
         "batchOrders", "orderIdList", "orderidlist", "origClientOrderIdList", "algoId", "clientAlgoId",
         "triggerPrice", "stopPrice", "callbackRate", "activatePrice", "activationPrice", "reduceOnly",
         "closePosition", "positionSide", "dualSidePosition", "multiAssetsMargin", "countdownTime", "listenKey",
         "incomeType", "page", "accountId", "permissions", "apiKey", "balance", "alias", "period", "recvWindow",
         "newClientOrderId", "newOrderRespType", "workingType", "priceProtect", "goodTillDate", "priceMatch"]
VALUES = ["", "BTCUSDT", "btcusdt", "ETHUSDT", "NOPE", "BUY", "SELL", "LIMIT", "MARKET", "STOP_MARKET",
          "TRAILING_STOP_MARKET", "GTC", "GTX", "0", "1", "-1", "0.001", "0.0001", "1e9", "NaN", "inf", "99999999999999999999999999",
          "abc", "true", "FALSE", "[1,2]", "[", "{}", '[{"symbol":"BTCUSDT"}]', "[null]", '[{"a":[[[]]]}]', "1m", "7m",
          "PERPETUAL", "ISOLATED", "CROSSED", "LONG", "%", "%ZZ", "\u00e9", "x" * 300, "50000", "-0", "1.5", "125",
          "500", "1000", "read,trade", "nope,read", "5m"]


def _garbage(rng: random.Random) -> dict:
    return {rng.choice(NAMES): rng.choice(VALUES) for _ in range(rng.randint(0, 8))}


def test_fuzz_all_endpoints(tmp_path):
    h = Harness(tmp_path, rate_config=RateLimitConfig(enabled=False))
    rng = random.Random(1234)
    codes: dict[int, int] = {}

    async def go():
        await h.feed_book()
        key, acc = await h.new_account()
        for ep in ENDPOINTS:
            k = h.operator if ep.path.startswith("/alfax/admin") else key
            for _ in range(40):
                params = _garbage(rng)
                if ep.security.value == "NONE":
                    r = await h.client.request(ep.method, ep.path, params=params)
                elif ep.security.value == "USER_STREAM":
                    r = await h.client.request(ep.method, ep.path, params=params, headers={"X-MBX-APIKEY": k.api_key})
                else:
                    params.pop("recvWindow", None)
                    r = await h.signed(ep.method, ep.path, params, key=k, where=rng.choice(["query", "body"]))
                assert r.status_code < 500, (ep.path, params, r.text)
                if ep.path == "/alfax-v1.yaml":
                    continue
                body = orjson.loads(r.content)
                codes[r.status_code] = codes.get(r.status_code, 0) + 1
                if r.status_code >= 400:
                    assert set(body) == {"code", "msg"}, (ep.path, params, body)
                    assert body["code"] != -1000 or r.status_code == 404, (ep.path, params, body)

    try:
        asyncio.run(go())
        assert codes.get(200, 0) > 100 and codes.get(400, 0) > 100, codes
    finally:
        h.close()
