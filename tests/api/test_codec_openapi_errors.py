import asyncio

import orjson
import pytest

from alfax.api import codec, openapi
from alfax.api.endpoints import ENDPOINTS, Endpoint, route_map
from alfax.api.auth import Security
from alfax.domain.enums import AlgoStatus, OrderStatus, OrderType, PositionSide, Side, TimeInForce
from alfax.domain.errors import Err, VenueError
from alfax.domain.orders import AlgoOrder, Order

from .conftest import Harness, instruments

INST = instruments()["BTCUSDT"]


def _order(**kw):
    base = dict(order_id=7, account_id=1, symbol="BTCUSDT", side=Side.BUY, type=OrderType.LIMIT,
                orig_type=OrderType.LIMIT, quantity=15, price=5000010, time_in_force=TimeInForce.GTC,
                position_side=PositionSide.BOTH, client_order_id="abc", time=11, update_time=12)
    base.update(kw)
    return Order(**base)


ORDER_FIELDS = ["orderId", "symbol", "status", "clientOrderId", "price", "avgPrice", "origQty", "executedQty",
                "cumQty", "cumQuote", "timeInForce", "type", "reduceOnly", "closePosition", "side", "positionSide",
                "stopPrice", "workingType", "priceProtect", "origType", "priceMatch", "selfTradePreventionMode",
                "goodTillDate", "time", "updateTime"]


def test_order_json_fields_and_formatting():
    o = _order(executed_qty=10, cum_quote=INST.notional(5000010, 10), status=OrderStatus.PARTIALLY_FILLED)
    d = codec.order_json(o, INST)
    assert list(d) == ORDER_FIELDS
    assert d["price"] == "50000.10" and d["origQty"] == "0.015" and d["executedQty"] == "0.010"
    assert d["cumQty"] == "0.010" and d["avgPrice"] == "50000.10000" and d["cumQuote"] == "500.00100000"
    assert d["orderId"] == 7 and d["time"] == 11 and d["status"] == "PARTIALLY_FILLED"
    assert d["priceMatch"] == "NONE" and d["selfTradePreventionMode"] == "NONE"
    assert codec.order_json(_order(), INST)["avgPrice"] == "0.00000"


def test_trailing_order_fields():
    o = _order(type=OrderType.TRAILING_STOP_MARKET, orig_type=OrderType.TRAILING_STOP_MARKET, price=0,
               activation_price=6100000, callback_rate=1_000_000)
    d = codec.order_json(o, INST)
    assert d["activatePrice"] == "61000.00" and d["priceRate"] == "1"
    assert codec.percent_str(300_000) == "0.3"


def test_algo_json():
    a = AlgoOrder(algo_id=3, account_id=1, symbol="BTCUSDT", side=Side.SELL, order_type=OrderType.STOP_MARKET,
                  quantity=10, price=0, trigger_price=4000000, time_in_force=TimeInForce.GTC,
                  position_side=PositionSide.BOTH, client_algo_id="x-1", status=AlgoStatus.FINISHED,
                  actual_order_id=99, actual_qty=10, actual_price=3999990, create_time=5, update_time=6)
    d = codec.algo_json(a, INST)
    assert d["algoId"] == 3 and d["algoType"] == "CONDITIONAL" and d["orderType"] == "STOP_MARKET"
    assert d["triggerPrice"] == "40000.00" and d["algoStatus"] == "FINISHED" and d["actualOrderId"] == "99"
    assert d["quantity"] == "0.010" and d["actualPrice"] == "39999.90"
    legacy = codec.algo_as_order_json(a, INST)
    assert legacy["status"] == "FILLED" and legacy["stopPrice"] == "40000.00" and legacy["executedQty"] == "0.010"


def test_exchange_info_symbol():
    s = codec.symbol_json(INST)
    f = {x["filterType"]: x for x in s["filters"]}
    assert f["PRICE_FILTER"]["tickSize"] == "0.10" and f["PRICE_FILTER"]["minPrice"] == "556.80"
    assert f["LOT_SIZE"]["stepSize"] == "0.001" and f["MIN_NOTIONAL"]["notional"] == "5"
    assert f["PERCENT_PRICE"]["multiplierUp"] == "1.0500"
    assert s["contractType"] == "PERPETUAL" and s["deliveryDate"] == 4133404800000 and s["marginAsset"] == "USDT"
    assert s["triggerProtect"] == "0.0500" and s["liquidationFee"] == "0.012500"


def test_leverage_bracket_numbers():
    d = codec.leverage_bracket_json(INST)
    b = d["brackets"]
    assert b[0]["initialLeverage"] == 125 and b[0]["notionalFloor"] == 0 and b[0]["maintMarginRatio"] == 0.004
    assert b[1]["cum"] == 50.0 and isinstance(b[1]["notionalCap"], int)


def test_amounts():
    assert codec.amt(123) == "0.00000123" and codec.amt(-5 * 10**8) == "-5.00000000"


# ------------------------------------------------------------------------------------------ OpenAPI


def test_openapi_is_yaml_and_lists_every_row():
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load(openapi.render(ENDPOINTS))
    assert doc["openapi"].startswith("3.1")
    for e in ENDPOINTS:
        op = doc["paths"][e.path][e.method.lower()]
        assert op["summary"] == e.summary
        assert op["x-security-type"] == e.security.value
    # round-trips to the same structure as the dict it was generated from
    assert doc == orjson.loads(orjson.dumps(openapi.build_document(ENDPOINTS)))


def test_yaml_emitter_edge_cases():
    yaml = pytest.importorskip("yaml")
    obj = {"a": [], "b": {}, "c": [{"x": 1, "y": [1, 2]}, "s: with colon", None, True], "d": "quote\"and\nnewline",
           "e": [[1, 2], []], "yes": "no"}
    assert yaml.safe_load(openapi.to_yaml(obj)) == obj


def test_route_table_unique():
    assert len(route_map()) == len(ENDPOINTS)
    with pytest.raises(ValueError):
        route_map(ENDPOINTS + (ENDPOINTS[0],))


# ------------------------------------------------------------------------------------------ error table


@pytest.mark.parametrize("err", list(Err))
def test_every_err_renders(err):
    fields = {"param": "symbol", "a": "orderId", "b": "origClientOrderId", "limit": 2400, "until": 1, "interval": "MINUTE",
              "leverage": 200, "notional": "5", "reason": "rejected", "legal": "x", "hours": 24, "symbol": "BTCUSDT",
              # challenge rules and purchases (issue 4)
              "rule": "DAILY_DRAWDOWN", "stage": "STAGE_1", "status": "FAILED", "allowed": "BTCUSDT", "cap": 5,
              "product": "x", "provider": "stub"}
    e = VenueError(err, **fields)
    d = e.as_dict()
    assert d["code"] == err.code and isinstance(d["msg"], str) and d["msg"]
    assert "{" not in d["msg"]
    assert 400 <= e.http_status < 600
    assert orjson.loads(orjson.dumps(d)) == d


def test_app_renders_errors_and_never_5xx(tmp_path):
    async def boom(r):
        raise RuntimeError("secret stack detail")

    async def venue_err(r):
        raise VenueError(Err.MARGIN_NOT_SUFFICIENT)

    extra = ENDPOINTS + (
        Endpoint("GET", "/test/boom", 1, Security.NONE, False, boom, "raises"),
        Endpoint("GET", "/test/err", 1, Security.NONE, False, venue_err, "venue error"),
    )
    h = Harness(tmp_path)
    from alfax.api.app import create_app

    app = create_app(h.app.state.edge.ctx, endpoints=extra)
    import httpx

    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x")

    async def go():
        r = await client.get("/test/boom")
        assert r.status_code == 400
        assert r.json() == {"code": -1000, "msg": "An unknown error occured while processing the request."}
        assert "secret" not in r.text
        r = await client.get("/test/err")
        assert r.status_code == 400 and r.json() == {"code": -2019, "msg": "Margin is insufficient."}
        r = await client.get("/no/such/path")
        assert r.status_code == 404 and r.json() == {"code": -1000, "msg": "Not found."}
        r = await client.post("/fapi/v1/time")
        assert r.status_code == 404 and r.json()["code"] == -1000
        assert r.headers["content-type"] == "application/json"

    try:
        asyncio.run(go())
    finally:
        h.close()


def test_openapi_param_docs_match_table():
    keys = {(e.method, e.path) for e in ENDPOINTS}
    assert set(openapi.PARAMS) <= keys
    doc = openapi.build_document(ENDPOINTS)
    names = {p["name"]: p["required"] for p in doc["paths"]["/fapi/v1/order"]["post"]["parameters"]}
    assert names["symbol"] is True and names["price"] is False and names["signature"] is True
