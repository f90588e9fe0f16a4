"""Signature verification over the raw bytes, computed exactly as the clients compute it (contract §0)."""

import asyncio
import hashlib
import hmac
import json
from urllib.parse import quote, urlencode

import pytest

from alfax.api.auth import Authenticator, Security, split_signature
from alfax.api.params import parse_params
from alfax.domain.enums import Permission
from alfax.domain.errors import VenueError

from .conftest import T0, Harness


def hexsig(secret, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def test_split_signature_positions():
    assert split_signature(b"a=1&b=2&signature=abc") == (b"a=1&b=2", b"abc")
    assert split_signature(b"signature=abc") == (b"", b"abc")
    assert split_signature(b"a=1&signature=abc&b=2") == (b"a=1&b=2", b"abc")
    assert split_signature(b"a=1&b=2") == (b"a=1&b=2", None)
    assert split_signature(b"") == (b"", None)
    assert split_signature(b"x=nosignature=1&signature=ff") == (b"x=nosignature=1", b"ff")


@pytest.fixture
def auth(tmp_path):
    from alfax.ledger import SqliteKeyStore

    ks = SqliteKeyStore(str(tmp_path / "k.db"))
    trade = ks.create(7, frozenset({Permission.READ, Permission.TRADE}))
    read = ks.create(7, frozenset({Permission.READ}))
    yield Authenticator(ks), trade, read, ks
    ks.close()


def _verify(a, key, query: bytes, body: bytes, sec=Security.TRADE, now=T0):
    d = parse_params(query, body)
    return a.verify(key.api_key.encode() if key else None, sec, query, body, d, now)


def test_ccxt_style_post_body(auth):
    a, trade, _, _ = auth
    payload = f"timestamp={T0}&symbol=BTCUSDT&side=BUY&newClientOrderId=x-cvBPrNm9abc&newOrderRespType=RESULT&type=MARKET&quantity=0.009&recvWindow=10000"
    body = (payload + "&signature=" + hexsig(trade.secret, payload)).encode()
    assert _verify(a, trade, b"", body).account_id == 7


def test_ccxt_cancel_batch_percent_encoded_query(auth):
    a, trade, _, _ = auth
    payload = f"timestamp={T0}&symbol=BTCUSDT&orderidlist=%5B1%2C2%5D&recvWindow=10000"
    q = (payload + "&signature=" + hexsig(trade.secret, payload)).encode()
    assert _verify(a, trade, q, b"")
    assert parse_params(q, b"")["orderidlist"] == "[1,2]"


def test_python_binance_style_alphabetical_symbol_encoded_only(auth):
    a, trade, _, _ = auth
    params = {"newClientOrderId": "x-Cb7ytekJabc", "quantity": "0.010", "recvWindow": 10000, "side": "BUY",
              "symbol": "BTCUSDT", "timestamp": T0, "type": "MARKET"}
    signed = "&".join(f"{k}={quote(str(v)) if k == 'symbol' else v}" for k, v in sorted(params.items()))
    sig = hexsig(trade.secret, signed)
    body = urlencode(list(sorted(params.items())) + [("signature", sig)]).encode()
    assert _verify(a, trade, b"", body)


def test_python_binance_batch_orders_percent_encoded_with_spaces(auth):
    a, trade, _, _ = auth
    orders = [{"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.010", "price": "50000"}]
    enc = urlencode({"batchOrders": orders}).replace("%27", "%22")[12:]
    payload = f"batchOrders={enc}&recvWindow=10000&timestamp={T0}"
    q = (payload + "&signature=" + hexsig(trade.secret, payload)).encode()
    assert _verify(a, trade, q, b"")
    got = parse_params(q, b"")["batchOrders"]
    assert json.loads(got.replace("'", '"'))[0]["symbol"] == "BTCUSDT"


def test_connector_style_query_with_json_content_type(auth):
    a, trade, _, _ = auth
    payload = f"symbol=BTCUSDT&side=SELL&type=LIMIT&quantity=0.001&price=60000&timeInForce=GTC&timestamp={T0}"
    q = (payload + "&signature=" + hexsig(trade.secret, payload)).encode()
    assert _verify(a, trade, q, b"")


def test_query_plus_body_concatenated(auth):
    a, trade, _, _ = auth
    q = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
    b = f"quantity=1&price=0.1&recvWindow=5000&timestamp={T0}"
    sig = hexsig(trade.secret, q + b)
    assert _verify(a, trade, q.encode(), (b + "&signature=" + sig).encode())
    # signature in the query with the rest in the body works too
    sig2 = hexsig(trade.secret, q + b)
    assert _verify(a, trade, (q + "&signature=" + sig2).encode(), b.encode())


def test_signature_case_insensitive(auth):
    a, trade, _, _ = auth
    payload = f"timestamp={T0}"
    assert _verify(a, trade, (payload + "&signature=" + hexsig(trade.secret, payload).upper()).encode(), b"")


def _err(fn):
    with pytest.raises(VenueError) as e:
        fn()
    return e.value


def test_errors(auth):
    a, trade, read, ks = auth
    payload = f"timestamp={T0}"
    good = (payload + "&signature=" + hexsig(trade.secret, payload)).encode()
    e = _err(lambda: _verify(a, None, good, b""))
    assert (e.code, e.http_status, e.msg) == (-2014, 401, "API-key format invalid.")
    e = _err(lambda: a.verify(b"nope", Security.TRADE, good, b"", parse_params(good, b""), T0))
    assert (e.code, e.http_status) == (-2015, 401)
    assert e.msg == "Invalid API-key, IP, or permissions for action."
    e = _err(lambda: _verify(a, trade, (payload + "&signature=" + "0" * 64).encode(), b""))
    assert (e.code, e.msg) == (-1022, "Signature for this request is not valid.")
    e = _err(lambda: _verify(a, trade, payload.encode(), b""))
    assert e.code == -1102 and "'signature'" in e.msg
    p2 = "symbol=BTCUSDT"
    e = _err(lambda: _verify(a, trade, (p2 + "&signature=" + hexsig(trade.secret, p2)).encode(), b""))
    assert e.code == -1102 and "'timestamp'" in e.msg
    e = _err(lambda: _verify(a, trade, good, b"", now=T0 + 5001))
    assert (e.code, e.msg) == (-1021, "Timestamp for this request is outside of the recvWindow.")
    assert _verify(a, trade, good, b"", now=T0 + 5000)
    e = _err(lambda: _verify(a, trade, good, b"", now=T0 - 1001))
    assert (e.code, e.msg) == (-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    p3 = f"timestamp={T0}&recvWindow=60001"
    e = _err(lambda: _verify(a, trade, (p3 + "&signature=" + hexsig(trade.secret, p3)).encode(), b""))
    assert e.code == -1130 and "recvWindow" in e.msg
    p4 = f"timestamp={T0}&recvWindow=60000"
    assert _verify(a, trade, (p4 + "&signature=" + hexsig(trade.secret, p4)).encode(), b"", now=T0 + 59_000)
    # read-only key: fine for USER_DATA, rejected for TRADE
    rgood = (payload + "&signature=" + hexsig(read.secret, payload)).encode()
    assert _verify(a, read, rgood, b"", sec=Security.USER_DATA)
    e = _err(lambda: _verify(a, read, rgood, b"", sec=Security.TRADE))
    assert e.code == -2015
    # revoked key
    ks.revoke(trade.api_key)
    a.invalidate(trade.api_key)
    e = _err(lambda: _verify(a, trade, good, b""))
    assert e.code == -2015


def test_app_level_auth(tmp_path):
    h = Harness(tmp_path)

    async def go():
        key, acc = await h.new_account()
        # public endpoint with a bogus key header is fine
        r = await h.client.get("/fapi/v1/time", headers={"X-MBX-APIKEY": "garbage"})
        assert r.status_code == 200 and r.json() == {"serverTime": T0}
        # missing key on a signed endpoint
        r = await h.client.get("/fapi/v3/account?timestamp=1&signature=00")
        assert r.status_code == 401 and r.json() == {"code": -2014, "msg": "API-key format invalid."}
        # bad signature
        r = await h.client.get(f"/fapi/v3/account?timestamp={T0}&signature=00", headers={"X-MBX-APIKEY": key.api_key})
        assert r.status_code == 400 and r.json()["code"] == -1022
        # stale timestamp
        h.clock.advance(10_000)
        r = await h.signed("GET", "/fapi/v3/account", {"timestamp": T0}, key=key)
        assert r.json()["code"] == -1021
        # a trade key cannot use the operator API
        r = await h.signed("GET", "/alfax/admin/accounts", {}, key=key)
        assert r.status_code == 401 and r.json()["code"] == -2015
        # USER_STREAM needs only the key header (no signature), python-binance sends DELETE with a form body
        r = await h.client.post("/fapi/v1/listenKey", headers={"X-MBX-APIKEY": key.api_key,
                                                              "Content-Type": "application/json"})
        assert r.status_code == 200
        lk = r.json()["listenKey"]
        r = await h.client.request("DELETE", "/fapi/v1/listenKey", content=f"listenKey={lk}".encode(),
                                   headers={"X-MBX-APIKEY": key.api_key,
                                            "Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 200 and r.json() == {}
        r = await h.client.post("/fapi/v1/listenKey")
        assert r.status_code == 401 and r.json()["code"] == -2014

    try:
        asyncio.run(go())
    finally:
        h.close()
