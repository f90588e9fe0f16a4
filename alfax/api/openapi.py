"""OpenAPI 3.1 document generated from the endpoint table, served as YAML at ``/alfax-v1.yaml``.

A tiny block-style YAML emitter is used (no PyYAML dependency); every string is double-quoted with JSON escapes,
which YAML 1.2 accepts verbatim.
"""

from __future__ import annotations

import orjson

from .auth import Security

_SIGNED_PARAMS = [
    {"name": "timestamp", "in": "query", "required": True, "schema": {"type": "integer"},
     "description": "Milliseconds since epoch; within recvWindow of the server time"},
    {"name": "recvWindow", "in": "query", "required": False, "schema": {"type": "integer", "maximum": 60000},
     "description": "Default 5000"},
    {"name": "signature", "in": "query", "required": True, "schema": {"type": "string"},
     "description": "hex HMAC-SHA256 of the raw query string concatenated with the raw body (without signature)"},
]

# Documented parameters per (method, path): "name" optional, "name!" required. Documentation only: the handlers
# (alfax.api.market/account/trading/...) are the authority and ignore unknown parameters.
_ORDER = ("symbol! side! type! quantity price timeInForce reduceOnly closePosition positionSide newClientOrderId "
          "stopPrice workingType priceProtect activationPrice callbackRate goodTillDate newOrderRespType")
_ALGO = ("symbol! side! type! algoType quantity price timeInForce reduceOnly closePosition positionSide clientAlgoId "
         "triggerPrice workingType priceProtect activatePrice callbackRate goodTillDate newOrderRespType")
_KL = "interval! startTime endTime limit"
PARAMS: dict[tuple[str, str], str] = {
    ("GET", "/fapi/v1/depth"): "symbol! limit",
    ("GET", "/fapi/v1/trades"): "symbol! limit",
    ("GET", "/fapi/v1/aggTrades"): "symbol! fromId startTime endTime limit",
    ("GET", "/fapi/v1/klines"): "symbol! " + _KL,
    ("GET", "/fapi/v1/continuousKlines"): "pair! contractType! " + _KL,
    ("GET", "/fapi/v1/indexPriceKlines"): "pair! " + _KL,
    ("GET", "/fapi/v1/markPriceKlines"): "symbol! " + _KL,
    ("GET", "/fapi/v1/premiumIndexKlines"): "symbol! " + _KL,
    ("GET", "/fapi/v1/premiumIndex"): "symbol",
    ("GET", "/fapi/v1/fundingRate"): "symbol startTime endTime limit",
    ("GET", "/fapi/v1/ticker/24hr"): "symbol",
    ("GET", "/fapi/v1/ticker/price"): "symbol",
    ("GET", "/fapi/v2/ticker/price"): "symbol",
    ("GET", "/fapi/v1/ticker/bookTicker"): "symbol",
    ("GET", "/fapi/v1/openInterest"): "symbol!",
    ("GET", "/futures/data/openInterestHist"): "symbol! period! limit startTime endTime",
    ("GET", "/fapi/v2/positionRisk"): "symbol",
    ("GET", "/fapi/v3/positionRisk"): "symbol",
    ("GET", "/fapi/v1/leverageBracket"): "symbol",
    ("GET", "/fapi/v1/commissionRate"): "symbol!",
    ("GET", "/fapi/v1/symbolConfig"): "symbol",
    ("GET", "/fapi/v1/userTrades"): "symbol! orderId startTime endTime fromId limit",
    ("GET", "/fapi/v1/income"): "symbol incomeType startTime endTime page limit",
    ("GET", "/fapi/v1/positionMargin/history"): "symbol! type startTime endTime limit",
    ("GET", "/fapi/v1/order"): "symbol! orderId origClientOrderId",
    ("GET", "/fapi/v1/openOrder"): "symbol! orderId origClientOrderId",
    ("GET", "/fapi/v1/openOrders"): "symbol",
    ("GET", "/fapi/v1/allOrders"): "symbol orderId startTime endTime limit",
    ("GET", "/fapi/v1/algoOrder"): "algoId clientAlgoId",
    ("GET", "/fapi/v1/openAlgoOrders"): "symbol",
    ("GET", "/fapi/v1/allAlgoOrders"): "symbol startTime endTime limit",
    ("POST", "/fapi/v1/positionSide/dual"): "dualSidePosition!",
    ("POST", "/fapi/v1/multiAssetsMargin"): "multiAssetsMargin!",
    ("POST", "/fapi/v1/leverage"): "symbol! leverage!",
    ("POST", "/fapi/v1/marginType"): "symbol! marginType!",
    ("POST", "/fapi/v1/positionMargin"): "symbol! amount! type! positionSide",
    ("POST", "/fapi/v1/order"): _ORDER,
    ("PUT", "/fapi/v1/order"): "symbol! side! quantity! price! orderId origClientOrderId",
    ("DELETE", "/fapi/v1/order"): "symbol! orderId origClientOrderId",
    ("DELETE", "/fapi/v1/allOpenOrders"): "symbol!",
    ("POST", "/fapi/v1/batchOrders"): "batchOrders!",
    ("DELETE", "/fapi/v1/batchOrders"): "symbol! orderIdList origClientOrderIdList",
    ("POST", "/fapi/v1/countdownCancelAll"): "symbol! countdownTime!",
    ("POST", "/fapi/v1/algoOrder"): _ALGO,
    ("DELETE", "/fapi/v1/algoOrder"): "algoId clientAlgoId",
    ("DELETE", "/fapi/v1/algoOpenOrders"): "symbol!",
    ("PUT", "/fapi/v1/listenKey"): "listenKey",
    ("DELETE", "/fapi/v1/listenKey"): "listenKey",
    ("POST", "/alfax/admin/accounts"): "alias balance",
    ("POST", "/alfax/admin/accounts/fund"): "accountId! amount!",
    ("POST", "/alfax/admin/keys"): "accountId! permissions label",
    ("GET", "/alfax/admin/keys"): "accountId",
    ("DELETE", "/alfax/admin/keys"): "apiKey!",
    # prop challenges (issue 4)
    ("POST", "/fapi/v1/order/test"): _ORDER,
    ("POST", "/fapi/v1/challenge/check"): _ORDER,
    ("POST", "/fapi/v1/challenge/purchase"): "productId! provider",
    ("GET", "/fapi/v1/challenge/purchase"): "purchaseId!",
    ("GET", "/fapi/v1/challenge/lifecycle"): "challengeId!",
    ("POST", "/fapi/v1/payout"): "challengeId! amount! currency",
    ("GET", "/fapi/v1/payout"): "id!",
    ("GET", "/fapi/v1/payout/eligibility"): "amount",
    ("POST", "/fapi/v1/payout/approve"): "id! txRef",
    ("POST", "/fapi/v1/payout/reject"): "id! reason!",
    ("POST", "/alfax/payments/webhook"): "provider",
    ("GET", "/alfax/admin/products/show"): "productId!",
    ("GET", "/alfax/admin/challenges"): "status productId",
    ("GET", "/alfax/admin/challenges/show"): "challengeId accountId",
    ("POST", "/alfax/admin/challenges/start"): "accountId! productId! stage",
    ("POST", "/alfax/admin/challenges/fail"): "accountId! reason!",
    ("GET", "/alfax/admin/payouts"): "status challengeId",
    ("POST", "/alfax/admin/payouts/approve"): "id! txRef",
    ("POST", "/alfax/admin/payouts/reject"): "id! reason!",
    ("GET", "/alfax/admin/audit"): "limit action target",
    # automation (issue 5)
    ("POST", "/alfax/v1/webhook"): "secret ipAllowlist enabled",
    ("GET", "/alfax/v1/alerts"): "limit fromId",
    ("GET", "/alfax/v1/alert"): "alertId!",
    ("POST", "/alfax/v1/subscriptions"): "channel! mode! value! maxNotional leverage",
    ("DELETE", "/alfax/v1/subscriptions"): "subId!",
    ("GET", "/alfax/v1/notifications"): "startTime endTime limit",
    ("GET", "/alfax/admin/webhook"): "accountId!",
    ("POST", "/alfax/admin/webhook"): "accountId! secret ipAllowlist enabled",
    ("POST", "/alfax/admin/webhook/rotate"): "accountId!",
    ("GET", "/alfax/admin/alerts"): "accountId! limit fromId",
    ("GET", "/alfax/admin/alert"): "accountId! alertId!",
    ("POST", "/alfax/admin/hub-users"): "accountId! email! password!",
}


def _params(method: str, path: str) -> list[dict]:
    out = []
    for tok in PARAMS.get((method, path), "").split():
        req = tok.endswith("!")
        out.append({"name": tok.rstrip("!"), "in": "query", "required": req, "schema": {"type": "string"},
                    "description": "query string or form body (the query string wins)"})
    return out


_ERROR = {
    "type": "object",
    "properties": {"code": {"type": "integer"}, "msg": {"type": "string"}},
    "required": ["code", "msg"],
}


def build_document(endpoints, rate_limits: list[dict] | None = None) -> dict:
    paths: dict = {}
    for e in endpoints:
        weight = e.weight if type(e.weight) is int else "variable"
        op: dict = {
            "summary": e.summary,
            "operationId": f"{e.method.lower()}_{e.path.strip('/').replace('/', '_').replace('.', '_')}",
            "tags": [e.path.strip("/").split("/")[0]],
            "x-weight": weight,
            "x-security-type": e.security.value,
            "x-counts-as-order": e.counts_as_order,
            "responses": {
                "200": {"description": "Binance-shaped JSON"},
                "4XX": {"description": "Binance error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        }
        if e.security is not Security.NONE:
            op["security"] = [{"ApiKey": []}]
        params = _params(e.method, e.path)
        if e.security.signed:
            params = params + _SIGNED_PARAMS
        if params:
            op["parameters"] = params
        paths.setdefault(e.path, {})[e.method.lower()] = op
    doc = {
        "openapi": "3.1.0",
        "info": {
            "title": "alfax: Binance USDT-M futures compatible venue",
            "version": "1",
            "description": "Generated from alfax.api.endpoints.ENDPOINTS. Parameters and shapes follow Binance USD-M Futures.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-MBX-APIKEY"}},
            "schemas": {"Error": _ERROR},
        },
    }
    if rate_limits:
        doc["x-rate-limits"] = rate_limits
    return doc


def _scalar(v) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return orjson.dumps(str(v)).decode()


def to_yaml(obj, indent: int = 0) -> str:
    lines: list[str] = []
    _emit(obj, indent, lines)
    return "\n".join(lines) + "\n"


def _emit(obj, indent: int, lines: list[str]) -> None:
    pad = " " * indent
    if isinstance(obj, dict):
        if not obj:
            lines.append(pad + "{}")
            return
        for k, v in obj.items():
            key = _scalar(str(k))
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{key}:")
                _emit(v, indent + 2, lines)
            else:
                lines.append(f"{pad}{key}: {_inline(v)}")
    elif isinstance(obj, list):
        if not obj:
            lines.append(pad + "[]")
            return
        for v in obj:
            if isinstance(v, (dict, list)) and v:
                sub: list[str] = []
                _emit(v, indent + 2, sub)
                first = sub[0]
                lines.append(pad + "- " + first[indent + 2 :])
                lines.extend(sub[1:])
            else:
                lines.append(f"{pad}- {_inline(v)}")
    else:
        lines.append(pad + _scalar(obj))


def _inline(v) -> str:
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, list):
        return "[]"
    return _scalar(v)


def render(endpoints, rate_limits: list[dict] | None = None) -> bytes:
    return to_yaml(build_document(endpoints, rate_limits)).encode()
