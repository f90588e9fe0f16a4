"""alfax's WebSocket server over real sockets (``websockets`` client, raw TCP for the protocol edge cases):
URL forms, diff-depth sync against REST (contract §4.4), user data consistent with REST, listen-key lifecycle,
and the connection rules (rate, ping/pong, lifetime, slow consumers)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
from decimal import Decimal

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from alfax_harness import AlfaxServer, best_bid_ask, symbol_rules, wait_for_market

LIFETIME_S = 12
PONG_S = 4.0


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ws")
    cfg = tmp / "serve.json"
    cfg.write_text(json.dumps({"ws_ping_interval_s": 1.0, "ws_ping_timeout_s": PONG_S, "ws_max_lifetime_s": LIFETIME_S,
                               "ws_max_queue": 16,
                               "ws_send_buffer_bytes": 16384}))
    s = AlfaxServer(db_path=tmp / "alfax.db", speed=1.0, extra_args=("--config", str(cfg)))
    s.start()
    try:
        wait_for_market(s.base_url, timeout=60)
        yield s
    finally:
        s.stop()


def ws_url(srv: AlfaxServer, path: str) -> str:
    return f"ws://{srv.host}:{srv.port}{path}"


async def recv_json(ws, timeout: float = 10.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_until(ws, pred, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("expected frame not received")
        m = await recv_json(ws, left)
        if pred(m):
            return m


@pytest.mark.parametrize("path,combined", [
    ("/public/ws/btcusdt@bookTicker", False),
    ("/public/stream?streams=btcusdt@bookTicker", True),
    ("/market/ws/btcusdt@bookTicker/5", False),  # ccxt.pro's trailing connection index is ignored
    ("/ws/btcusdt@bookTicker", False),
    ("/stream?streams=btcusdt@bookTicker/ethusdt@bookTicker", True),
])
def test_url_forms_raw_and_combined(srv, path, combined):
    async def go():
        async with connect(ws_url(srv, path)) as ws:
            m = await recv_json(ws)
            if combined:
                assert set(m) == {"stream", "data"} and m["stream"].endswith("@bookTicker")
                m = m["data"]
            assert m["e"] == "bookTicker" and m["s"] in ("BTCUSDT", "ETHUSDT") and Decimal(m["b"]) < Decimal(m["a"])

    asyncio.run(go())


def test_unknown_path_is_refused_at_handshake(srv):
    async def go():
        with pytest.raises(InvalidStatus):
            async with connect(ws_url(srv, "/nothing/here")):
                pass

    asyncio.run(go())


def test_subscribe_on_a_bare_route_and_list(srv):
    async def go():
        async with connect(ws_url(srv, "/market/ws/0")) as ws:
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade", "btcusdt@markPrice@1s"],
                                      "id": 1700000000001}))
            assert await recv_json(ws) == {"result": None, "id": 1700000000001}
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
            assert await recv_until(ws, lambda m: m.get("id") == 2) == {
                "result": ["btcusdt@aggTrade", "btcusdt@markPrice@1s"], "id": 2}
            mark = await recv_until(ws, lambda m: m.get("e") == "markPriceUpdate")
            assert mark["s"] == "BTCUSDT" and Decimal(mark["p"]) > 0 and mark["T"] > mark["E"]

    asyncio.run(go())


def test_diff_depth_syncs_with_rest_snapshot_and_pu_chain(srv):
    """Contract §4.4 done by hand: buffer, snapshot, drop u < L, first U <= L <= u, then pu == previous u. The
    local book rebuilt from the diffs equals a later REST snapshot with the same lastUpdateId."""
    rest = srv.rest()

    def apply(book: dict, levels):
        for p, q in levels:
            if Decimal(q) == 0:
                book.pop(p, None)
            else:
                book[p] = q

    async def go():
        async with connect(ws_url(srv, "/public/ws/btcusdt@depth@100ms")) as ws:
            buffered = [await recv_json(ws)]
            snap = rest.get_public("/fapi/v1/depth", symbol="BTCUSDT", limit=1000)
            L = snap["lastUpdateId"]
            bids = {p: q for p, q in snap["bids"]}
            asks = {p: q for p, q in snap["asks"]}
            prev_u = None
            history: dict[int, tuple[dict, dict]] = {}
            applied = 0
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline or applied < 10:
                ev = buffered.pop(0) if buffered else await recv_json(ws)
                if ev["u"] < L:
                    continue
                if prev_u is None:
                    assert ev["U"] <= L + 1 and L <= ev["u"], (ev["U"], L, ev["u"])
                else:
                    assert ev["pu"] == prev_u, "gap in the diff-depth sequence"
                assert ev["U"] == ev["pu"] + 1
                apply(bids, ev["b"])
                apply(asks, ev["a"])
                prev_u = ev["u"]
                history[prev_u] = (dict(bids), dict(asks))
                applied += 1
                # a REST snapshot now: if its id is one we applied, both books must be identical
                snap2 = rest.get_public("/fapi/v1/depth", symbol="BTCUSDT", limit=1000)
                if snap2["lastUpdateId"] in history:
                    hb, ha = history[snap2["lastUpdateId"]]
                    assert hb == {p: q for p, q in snap2["bids"]} and ha == {p: q for p, q in snap2["asks"]}
                    history["matched"] = True  # type: ignore[index]
            assert applied >= 10 and history.get("matched")  # type: ignore[call-overload]

    try:
        asyncio.run(go())
    finally:
        rest.close()


def _order_params(srv, side="BUY", type_="LIMIT", far=True):
    rest = srv.rest()
    try:
        rules = symbol_rules(rest)["BTCUSDT"]
        bid, ask = best_bid_ask(rest, "BTCUSDT")
    finally:
        rest.close()
    price = rules.round_price(bid * Decimal("0.97")) if far else None
    q = rules.qty_for_notional(ask, 150)
    p = {"symbol": "BTCUSDT", "side": side, "type": type_, "quantity": str(q)}
    if type_ == "LIMIT":
        p.update(price=str(price), timeInForce="GTC")
    return p


def test_user_data_matches_rest_and_listen_key_lifecycle(srv):
    acct = srv.create_account("10000")
    rest = srv.rest(acct)
    key = rest.ok("POST", "/fapi/v1/listenKey")["listenKey"]
    assert rest.ok("POST", "/fapi/v1/listenKey")["listenKey"] == key  # same key while valid
    assert rest.ok("PUT", "/fapi/v1/listenKey") == {"listenKey": key}  # extends the same key

    async def go():
        async with connect(ws_url(srv, f"/private/ws?listenKey={key}")) as ws:
            placed = rest.ok("POST", "/fapi/v1/order", _order_params(srv))
            new = await recv_until(ws, lambda m: m.get("e") == "ORDER_TRADE_UPDATE")
            o = new["o"]
            got = rest.ok("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": placed["orderId"]})
            assert o["i"] == placed["orderId"] == got["orderId"] and o["c"] == got["clientOrderId"]
            assert (o["x"], o["X"], o["p"], o["q"], o["S"], o["ps"]) == (
                "NEW", got["status"], got["price"], got["origQty"], got["side"], got["positionSide"])
            rest.ok("DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": placed["orderId"]})
            canc = await recv_until(ws, lambda m: m.get("e") == "ORDER_TRADE_UPDATE")
            assert canc["o"]["X"] == "CANCELED" and canc["o"]["i"] == placed["orderId"]

            rest.ok("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 7})
            cfg = await recv_until(ws, lambda m: m.get("e") == "ACCOUNT_CONFIG_UPDATE")
            assert cfg["ac"] == {"s": "BTCUSDT", "l": 7}

            filled = rest.ok("POST", "/fapi/v1/order", {**_order_params(srv, type_="MARKET", far=False),
                                                        "newOrderRespType": "RESULT"})
            lite = await recv_until(ws, lambda m: m.get("e") == "TRADE_LITE")
            assert lite["i"] == filled["orderId"] and lite["l"] == filled["executedQty"]
            fill = await recv_until(ws, lambda m: m.get("e") == "ORDER_TRADE_UPDATE" and m["o"]["x"] == "TRADE")
            assert fill["o"]["X"] == "FILLED" and fill["o"]["z"] == filled["executedQty"]
            assert fill["o"]["ap"] == filled["avgPrice"]
            upd = await recv_until(ws, lambda m: m.get("e") == "ACCOUNT_UPDATE")
            account = rest.ok("GET", "/fapi/v2/account")
            usdt = next(a for a in account["assets"] if a["asset"] == "USDT")
            assert upd["a"]["m"] == "ORDER" and upd["a"]["B"][0]["wb"] == usdt["walletBalance"]
            pos = next(p for p in upd["a"]["P"] if p["s"] == "BTCUSDT")
            assert pos["pa"] == filled["executedQty"] and pos["ps"] == "BOTH"

            rest.ok("DELETE", "/fapi/v1/listenKey")
            gone = await recv_until(ws, lambda m: m.get("e") == "listenKeyExpired", timeout=5)
            assert gone["listenKey"] == key
            rest.ok("POST", "/fapi/v1/order", _order_params(srv))  # no longer delivered
            with pytest.raises(asyncio.TimeoutError):
                await recv_until(ws, lambda m: m.get("e") == "ORDER_TRADE_UPDATE", timeout=1.5)

    try:
        asyncio.run(go())
    finally:
        rest.close()


def test_legacy_ws_listen_key_path_and_invalid_key(srv):
    acct = srv.create_account("10000")
    rest = srv.rest(acct)
    key = rest.ok("POST", "/fapi/v1/listenKey")["listenKey"]

    async def go():
        async with connect(ws_url(srv, f"/ws/{key}")) as ws:
            placed = rest.ok("POST", "/fapi/v1/order", _order_params(srv))
            m = await recv_until(ws, lambda m: m.get("e") == "ORDER_TRADE_UPDATE")
            assert m["o"]["i"] == placed["orderId"]
        async with connect(ws_url(srv, "/private/ws?listenKey=" + "0" * 64)) as ws:
            err = await recv_json(ws)
            assert err == {"error": {"code": -1125, "msg": "This listenKey does not exist."}, "id": None}
            with pytest.raises(ConnectionClosed):
                await recv_json(ws)
            assert ws.close_code == 1008

    try:
        asyncio.run(go())
    finally:
        rest.close()


def test_more_than_ten_messages_a_second_disconnects(srv):
    async def go():
        async with connect(ws_url(srv, "/ws")) as ws:
            for i in range(15):
                await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
            frames = []
            with pytest.raises(ConnectionClosed):
                while True:
                    frames.append(await recv_json(ws))
            assert [f["id"] for f in frames if "result" in f] == list(range(10))
            assert frames[-1]["error"]["msg"].startswith("Too many requests")
            assert ws.close_code == 1008 and ws.close_reason == "Too many requests"

    asyncio.run(go())


def test_a_client_that_never_answers_pings_is_disconnected(srv):
    """Raw TCP: handshake, then never read or pong. The server pings every 1 s here and drops us PONG_S later."""
    sock = socket.create_connection((srv.host, srv.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /public/ws/btcusdt@bookTicker HTTP/1.1\r\nHost: {srv.host}:{srv.port}\r\n"
                  f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 101")
    t0 = time.monotonic()
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    elapsed = time.monotonic() - t0
    sock.close()
    assert 1.0 + PONG_S - 0.5 <= elapsed < PONG_S + 6, elapsed
    assert b"\x89" in data  # a ping frame (0x89) was sent before the disconnect


def test_a_client_answering_pings_stays_connected_until_the_lifetime(srv):
    async def go():
        t0 = time.monotonic()
        async with connect(ws_url(srv, "/market/ws"), ping_interval=None) as ws:  # pongs are automatic
            with pytest.raises(ConnectionClosed):
                while True:
                    await recv_json(ws, timeout=LIFETIME_S + 10)
            elapsed = time.monotonic() - t0
            assert LIFETIME_S - 1 <= elapsed < LIFETIME_S + 5, elapsed
            assert ws.close_code == 1000 and "lifetime" in ws.close_reason

    asyncio.run(go())


def test_slow_consumer_is_disconnected_with_a_reason(srv):
    """A client that stops reading: small receive buffer, websockets' own queue of 1 frame. The server queue
    limit is 16 frames here; it disconnects us (1013) rather than buffering without bound. When we read again,
    the close frame with its reason follows what was already in the socket."""
    streams = [f"{s}@depth{lv}{sp}" for s in ("btcusdt", "ethusdt") for lv in ("", "5", "10", "20")
               for sp in ("", "@100ms", "@500ms")] + ["!bookTicker", "btcusdt@aggTrade", "btcusdt@trade"]

    async def go():
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((srv.host, srv.port))
        sock.setblocking(False)
        async with connect(ws_url(srv, "/public/stream?streams=" + "/".join(streams)), sock=sock,
                           max_queue=1, ping_interval=None) as ws:
            await asyncio.sleep(3)  # not reading (less than the pong timeout)
            with pytest.raises(ConnectionClosed):
                while True:
                    await recv_json(ws, timeout=20)
            assert ws.close_code == 1013 and ws.close_reason.startswith("slow consumer"), (ws.close_code,
                                                                                         ws.close_reason)

    asyncio.run(go())


def test_algo_orders_push_algo_update_matching_rest(srv):
    """A conditional order through /fapi/v1/algoOrder: ALGO_UPDATE NEW then CANCELED, fields as REST shows them
    (ccxt.pro routes ALGO_UPDATE to watch_orders by aid/caid/X/tp)."""
    acct = srv.create_account("10000")
    rest = srv.rest(acct)
    key = rest.ok("POST", "/fapi/v1/listenKey")["listenKey"]
    rules = symbol_rules(rest)["BTCUSDT"]
    mark = Decimal(rest.get_public("/fapi/v1/premiumIndex", symbol="BTCUSDT")["markPrice"])

    async def go():
        async with connect(ws_url(srv, f"/private/ws?listenKey={key}")) as ws:
            placed = rest.ok("POST", "/fapi/v1/algoOrder", {
                "algoType": "CONDITIONAL", "symbol": "BTCUSDT", "side": "BUY", "type": "STOP_MARKET",
                "quantity": str(rules.qty_for_notional(mark, 150)), "triggerPrice": str(rules.round_price(mark * Decimal("1.05"))),
                "workingType": "MARK_PRICE", "clientAlgoId": "ws-algo-1"})
            new = await recv_until(ws, lambda m: m.get("e") == "ALGO_UPDATE")
            o = new["o"]
            got = rest.ok("GET", "/fapi/v1/algoOrder", {"algoId": placed["algoId"]})
            assert (o["aid"], o["caid"], o["X"], o["tp"], o["q"], o["o"], o["S"], o["wt"]) == (
                got["algoId"], "ws-algo-1", "NEW", got["triggerPrice"], got["quantity"], "STOP_MARKET", "BUY",
                "MARK_PRICE")
            rest.ok("DELETE", "/fapi/v1/algoOrder", {"algoId": placed["algoId"]})
            canc = await recv_until(ws, lambda m: m.get("e") == "ALGO_UPDATE")
            assert canc["o"]["aid"] == placed["algoId"] and canc["o"]["X"] == "CANCELED"

    try:
        asyncio.run(go())
    finally:
        rest.close()
