"""python-binance ``AsyncClient`` + ``BinanceSocketManager`` (unmodified) against a live ``alfax serve``.

URLs are class attributes set before construction (contract §0/§5): ``AsyncClient.API_URL/FUTURES_URL/
FUTURES_DATA_URL`` and ``BinanceSocketManager.FSTREAM_URL = "ws://<venue>/"`` (must end in ``/``; the manager adds
``public/``, ``market/`` or ``private/`` and ``stream?streams=`` or ``ws/``). Every other URL family (spot
streams, coin-M, options, margin, the ws-api endpoints) points at a dead path on the venue, so nothing can leave
the host. The overrides are restored when the module ends.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from binance.async_client import AsyncClient
from binance.ws.streams import BinanceSocketManager

D = Decimal

pytestmark = pytest.mark.timeout(60)

REST_OK = ("API_URL", "FUTURES_URL", "FUTURES_DATA_URL")
REST_DEAD = ("API_TESTNET_URL", "API_DEMO_URL", "MARGIN_API_URL", "WEBSITE_URL", "FUTURES_TESTNET_URL",
             "FUTURES_DEMO_URL", "FUTURES_DATA_TESTNET_URL", "FUTURES_COIN_URL", "FUTURES_COIN_TESTNET_URL",
             "FUTURES_COIN_DEMO_URL", "FUTURES_COIN_DATA_URL", "FUTURES_COIN_DATA_TESTNET_URL", "OPTIONS_URL",
             "OPTIONS_TESTNET_URL", "PAPI_URL")
WS_DEAD = ("WS_API_URL", "WS_API_TESTNET_URL", "WS_API_DEMO_URL", "WS_FUTURES_URL", "WS_FUTURES_TESTNET_URL",
           "WS_FUTURES_DEMO_URL")
BSM_DEAD = ("STREAM_URL", "STREAM_TESTNET_URL", "STREAM_DEMO_URL", "FSTREAM_TESTNET_URL", "FSTREAM_DEMO_URL",
            "DSTREAM_URL", "DSTREAM_TESTNET_URL", "DSTREAM_DEMO_URL")


@pytest.fixture(scope="module")
def venue(alfax_server):
    """The session's alfax server with python-binance's class-level URLs pointed at it (restored afterwards)."""
    base = alfax_server.base_url
    ws_base = "ws://" + base.split("://", 1)[1]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(AsyncClient, "API_URL", f"{base}/api")
        mp.setattr(AsyncClient, "FUTURES_URL", f"{base}/fapi")
        mp.setattr(AsyncClient, "FUTURES_DATA_URL", f"{base}/futures/data")
        for attr in REST_DEAD:
            if hasattr(AsyncClient, attr):
                mp.setattr(AsyncClient, attr, f"{base}/__unexpected__/{attr}")
        for attr in WS_DEAD:
            if hasattr(AsyncClient, attr):
                mp.setattr(AsyncClient, attr, f"{ws_base}/__unexpected__/{attr}")
        mp.setattr(BinanceSocketManager, "FSTREAM_URL", f"{ws_base}/")
        for attr in BSM_DEAD:
            if hasattr(BinanceSocketManager, attr):
                mp.setattr(BinanceSocketManager, attr, f"{ws_base}/__unexpected__/{attr}/")
        yield alfax_server


def run(coro, timeout: float = 40.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def _assert_loopback(obj, names, host: str) -> None:
    for n in names:
        v = getattr(obj, n, None)
        if isinstance(v, str):
            assert urlsplit(v).netloc == host, f"{type(obj).__name__}.{n} = {v} is not the venue"


async def open_client(srv, key: str | None = None, secret: str | None = None):
    client = await AsyncClient.create(key, secret)  # pings GET /api/v3/ping and /api/v3/time on the venue
    bsm = BinanceSocketManager(client)
    host = urlsplit(srv.base_url).netloc
    _assert_loopback(client, REST_OK + REST_DEAD + WS_DEAD, host)
    _assert_loopback(bsm, ("FSTREAM_URL",) + BSM_DEAD, host)
    assert urlsplit(client.ws_api._url).netloc == host and urlsplit(client.ws_future._url).netloc == host
    return client, bsm


async def recv(sock, timeout: float = 8.0):
    msg = await asyncio.wait_for(sock.recv(), timeout)
    if isinstance(msg, dict) and msg.get("e") == "error":
        raise AssertionError(f"python-binance socket error: {msg}")
    return msg


async def recv_until(sock, pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {what}; got {seen[-5:]}")
        try:
            msg = await recv(sock, left)
        except asyncio.TimeoutError:
            continue
        seen.append(msg)
        if pred(msg):
            return msg, seen


def socket_url(sock) -> str:
    return f"{sock._url}{sock._prefix}{sock._path}"


def _levels_ok(levels, descending: bool) -> None:
    px = [D(p) for p, _ in levels]
    assert px == sorted(px, reverse=descending) and len(set(px)) == len(px)
    assert all(D(q) > 0 for _, q in levels)


# ------------------------------------------------------------------------------------------------ market data


def test_futures_depth_socket_partial_book(venue):
    """``btcusdt@depth10`` on ``/public/stream``: 10 sorted levels a side, ``pu`` = previous ``u``, and the very
    book REST ``depth`` returns whenever both are at the same update id."""

    async def main():
        client, bsm = await open_client(venue)
        try:
            sock = bsm.futures_depth_socket("BTCUSDT", depth=BinanceSocketManager.WEBSOCKET_DEPTH_10)
            async with sock:
                assert "/public/stream?streams=btcusdt@depth10" in socket_url(sock)
                prev_u = None
                exact = 0
                for i in range(14):
                    msg = await recv(sock)
                    assert msg["stream"] == "btcusdt@depth10"
                    d = msg["data"]
                    assert d["e"] == "depthUpdate" and d["s"] == "BTCUSDT"
                    assert len(d["b"]) == 10 and len(d["a"]) == 10
                    _levels_ok(d["b"], True)
                    _levels_ok(d["a"], False)
                    assert D(d["b"][0][0]) < D(d["a"][0][0])
                    if prev_u is not None:
                        assert d["pu"] == prev_u and d["u"] > prev_u
                    prev_u = d["u"]
                    if exact < 2 and i % 2 == 0:
                        ob = await client.futures_order_book(symbol="BTCUSDT", limit=10)
                        if ob["lastUpdateId"] == d["u"]:
                            exact += 1
                            assert ob["bids"] == d["b"] and ob["asks"] == d["a"]
                        else:
                            assert ob["lastUpdateId"] > d["u"]
                assert exact >= 1, "REST depth never at the streamed update id"
        finally:
            await client.close_connection()

    run(main())


def test_aggtrade_futures_socket(venue):

    async def main():
        client, bsm = await open_client(venue)
        try:
            sock = bsm.aggtrade_futures_socket("BTCUSDT")
            async with sock:
                assert "/market/stream?streams=btcusdt@aggTrade" in socket_url(sock)
                trades = []
                while len(trades) < 3:
                    msg = await recv(sock)
                    assert msg["stream"] == "btcusdt@aggTrade"
                    trades.append(msg["data"])
            ids = [t["a"] for t in trades]
            assert ids == sorted(ids) and len(set(ids)) == 3
            for t in trades:
                assert t["e"] == "aggTrade" and t["s"] == "BTCUSDT" and isinstance(t["m"], bool)
                assert t["f"] <= t["a"] <= t["l"] and D(t["p"]) > 0 and D(t["q"]) > 0 and t["T"] > 0
            rest = await client.futures_aggregate_trades(symbol="BTCUSDT", limit=500)
            by_id = {r["a"]: r for r in rest}
            for t in trades:
                r = by_id.get(t["a"])
                assert r is not None, f"aggTrade {t['a']} not in REST aggTrades"
                assert (r["p"], r["q"], r["m"]) == (t["p"], t["q"], t["m"])
        finally:
            await client.close_connection()

    run(main())


def test_symbol_mark_price_socket(venue):

    async def main():
        client, bsm = await open_client(venue)
        try:
            sock = bsm.symbol_mark_price_socket("BTCUSDT")  # fast=True: @markPrice@1s
            async with sock:
                assert "/market/stream?streams=btcusdt@markPrice@1s" in socket_url(sock)
                a = await recv(sock)
                b = await recv(sock)
            for m in (a, b):
                assert m["stream"] == "btcusdt@markPrice@1s"
                d = m["data"]
                assert d["e"] == "markPriceUpdate" and d["s"] == "BTCUSDT"
                assert D(d["p"]) > 0 and D(d["i"]) > 0 and d["T"] > d["E"]
            assert 500 <= b["data"]["E"] - a["data"]["E"] <= 2500, "not a 1 s stream"
            rest = await client.futures_mark_price(symbol="BTCUSDT")
            d = b["data"]
            assert abs(D(d["p"]) - D(rest["markPrice"])) / D(rest["markPrice"]) < D("0.005")
            assert abs(D(d["i"]) - D(rest["indexPrice"])) / D(rest["indexPrice"]) < D("0.005")
            assert d["T"] == rest["nextFundingTime"]
            assert D(d["r"]) == D(rest["lastFundingRate"])
        finally:
            await client.close_connection()

    run(main())


def test_kline_futures_socket_continuous_kline(venue):
    """``kline_futures_socket`` = ``btcusdt_perpetual@continuousKline_1m`` on raw ``/market/ws/``."""

    async def main():
        client, bsm = await open_client(venue)
        try:
            sock = bsm.kline_futures_socket("BTCUSDT")
            async with sock:
                assert socket_url(sock).endswith("/market/ws/btcusdt_perpetual@continuousKline_1m")
                m1 = await recv(sock)
                m2 = await recv(sock)
            for m in (m1, m2):
                assert "stream" not in m  # raw /ws: the bare payload
                assert m["e"] == "continuous_kline" and m["ps"] == "BTCUSDT" and m["ct"] == "PERPETUAL"
                k = m["k"]
                assert k["i"] == "1m" and k["t"] % 60_000 == 0 and k["T"] == k["t"] + 59_999
                assert D(k["l"]) <= min(D(k["o"]), D(k["c"])) and max(D(k["o"]), D(k["c"])) <= D(k["h"])
                assert isinstance(k["x"], bool) and D(k["v"]) >= 0 and k["n"] >= 0
            rest = await client.futures_continuous_klines(pair="BTCUSDT", contractType="PERPETUAL",
                                                         interval="1m", limit=3)
            k = m2["k"]
            row = [r for r in rest if r[0] == k["t"]]
            if row:  # same minute: same open, close near
                assert row[0][1] == k["o"]
                assert abs(D(row[0][4]) - D(k["c"])) / D(k["c"]) < D("0.01")
            else:
                assert rest[-1][0] == k["t"] + 60_000  # the minute rolled between the two reads
        finally:
            await client.close_connection()

    run(main())


def test_futures_multiplex_socket(venue):
    """Several streams over one combined ``/market/stream`` connection (depth included, as python-binance does),
    each frame wrapped as ``{"stream", "data"}`` with the right symbol and kind."""
    streams = ["btcusdt@aggTrade", "ethusdt@markPrice@1s", "btcusdt@depth5@100ms", "ethusdt@bookTicker",
               "ethusdt@miniTicker"]

    async def main():
        client, bsm = await open_client(venue)
        try:
            sock = bsm.futures_multiplex_socket(streams)
            async with sock:
                assert "/market/stream?streams=" + "/".join(streams) in socket_url(sock)
                got: dict[str, dict] = {}
                deadline = time.monotonic() + 15
                while set(got) != set(streams) and time.monotonic() < deadline:
                    msg = await recv(sock)
                    assert msg["stream"] in streams, msg
                    got.setdefault(msg["stream"], msg["data"])
            assert set(got) == set(streams), f"missing {set(streams) - set(got)}"
            assert got["btcusdt@aggTrade"]["e"] == "aggTrade" and got["btcusdt@aggTrade"]["s"] == "BTCUSDT"
            assert got["ethusdt@markPrice@1s"]["e"] == "markPriceUpdate"
            assert got["ethusdt@markPrice@1s"]["s"] == "ETHUSDT"
            dep = got["btcusdt@depth5@100ms"]
            assert dep["e"] == "depthUpdate" and dep["s"] == "BTCUSDT" and len(dep["b"]) == len(dep["a"]) == 5
            bt = got["ethusdt@bookTicker"]
            assert bt["e"] == "bookTicker" and bt["s"] == "ETHUSDT" and D(bt["b"]) < D(bt["a"])
            mt = got["ethusdt@miniTicker"]
            assert mt["e"] == "24hrMiniTicker" and mt["s"] == "ETHUSDT" and D(mt["c"]) > 0
            # ETH is not BTC: the streams were routed by name, not just "some data"
            assert D(bt["b"]) < D(dep["b"][0][0]) / 5
        finally:
            await client.close_connection()

    run(main())


def test_futures_ticker_socket_all_tickers(venue):

    async def main():
        client, bsm = await open_client(venue)
        try:
            sock = bsm.futures_ticker_socket()
            async with sock:
                assert "/market/stream?streams=!ticker@arr" in socket_url(sock)
                msg = await recv(sock)
            assert msg["stream"] == "!ticker@arr"
            arr = msg["data"]
            assert isinstance(arr, list)
            rows = {r["s"]: r for r in arr}
            assert set(rows) >= {"BTCUSDT", "ETHUSDT"}
            for sym, r in rows.items():
                assert r["e"] == "24hrTicker"
                assert D(r["l"]) <= D(r["c"]) <= D(r["h"]) and r["C"] > r["O"] and r["n"] > 0
                rest = await client.futures_ticker(symbol=sym)
                assert abs(D(r["c"]) - D(rest["lastPrice"])) / D(rest["lastPrice"]) < D("0.01")
                assert abs(D(r["o"]) - D(rest["openPrice"])) / D(rest["openPrice"]) < D("0.01")
                assert abs(D(r["v"]) - D(rest["volume"])) / D(rest["volume"]) < D("0.05")
        finally:
            await client.close_connection()

    run(main())


def test_symbol_ticker_futures_socket_book_ticker(venue):

    async def main():
        client, bsm = await open_client(venue)
        try:
            sock = bsm.symbol_ticker_futures_socket("BTCUSDT")
            async with sock:
                assert "/public/stream?streams=btcusdt@bookTicker" in socket_url(sock)
                msgs = [await recv(sock) for _ in range(4)]
                ob = await client.futures_orderbook_ticker(symbol="BTCUSDT")
            us = []
            for m in msgs:
                assert m["stream"] == "btcusdt@bookTicker"
                d = m["data"]
                assert d["e"] == "bookTicker" and d["s"] == "BTCUSDT"
                assert D(d["b"]) < D(d["a"]) and D(d["B"]) > 0 and D(d["A"]) > 0
                us.append(d["u"])
            assert us == sorted(us) and len(set(us)) == len(us)
            last = msgs[-1]["data"]
            mid = (D(ob["bidPrice"]) + D(ob["askPrice"])) / 2
            assert abs(D(last["b"]) - D(ob["bidPrice"])) / mid < D("0.005")
            assert abs(D(last["a"]) - D(ob["askPrice"])) / mid < D("0.005")
        finally:
            await client.close_connection()

    run(main())


# ------------------------------------------------------------------------------------------------ user data


def test_futures_user_socket_order_and_account_updates(venue, fresh_account, rules):
    """``futures_user_socket`` (POST listenKey, ``/private/ws?listenKey=``): a REST MARKET buy gives
    ORDER_TRADE_UPDATE NEW then TRADE/FILLED for that orderId and ACCOUNT_UPDATE (reason ORDER) with the
    wallet down by the commission and the position; a resting LIMIT then its cancel give NEW and CANCELED."""

    async def main():
        client, bsm = await open_client(venue, fresh_account.api_key, fresh_account.secret)
        try:
            r = rules["BTCUSDT"]
            sock = bsm.futures_user_socket()
            # python-binance's read loop notices a close only after its next recv or its TIMEOUT (10 s); a quiet
            # user stream would make leaving ``async with`` take 10 s. Timing knob only, no behaviour change.
            sock.TIMEOUT = 1
            async with sock:
                url = socket_url(sock)
                assert "/private/ws?listenKey=" in url
                lk = url.rsplit("listenKey=", 1)[1]
                assert lk == await client.futures_stream_get_listen_key()  # same key while valid
                await asyncio.sleep(0.3)

                book = await client.futures_order_book(symbol="BTCUSDT", limit=5)
                qty = str(r.qty_for_notional(D(book["asks"][0][0]), 15))
                o = await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=qty,
                                                      newOrderRespType="RESULT")
                oid = o["orderId"]
                assert o["status"] == "FILLED"

                def filled(m):
                    return (m.get("e") == "ORDER_TRADE_UPDATE" and m["o"]["i"] == oid
                            and m["o"]["X"] == "FILLED")

                _, seen = await recv_until(sock, filled, 10, f"ORDER_TRADE_UPDATE FILLED for {oid}")
                acct, more = await recv_until(sock, lambda m: m.get("e") == "ACCOUNT_UPDATE", 10, "ACCOUNT_UPDATE")
                seen += more
                assert all("stream" not in m for m in seen)  # raw /ws: bare payloads
                otu = [m for m in seen if m.get("e") == "ORDER_TRADE_UPDATE" and m["o"]["i"] == oid]
                assert otu[0]["o"]["x"] == "NEW" and otu[0]["o"]["X"] == "NEW"
                fills = [m["o"] for m in otu if m["o"]["x"] == "TRADE"]
                assert fills and sum(D(x["l"]) for x in fills) == D(qty) and fills[-1]["z"] == qty
                assert all(x["s"] == "BTCUSDT" and x["S"] == "BUY" and x["o"] == "MARKET" and x["ps"] == "BOTH"
                           and x["N"] == "USDT" and x["m"] is False and x["c"] == o["clientOrderId"]
                           for x in fills)
                assert D(fills[-1]["ap"]) == D(o["avgPrice"])
                commission = sum(D(x["n"]) for x in fills)
                trades = await client.futures_account_trades(symbol="BTCUSDT")
                mine = [t for t in trades if t["orderId"] == oid]
                assert sorted(t["id"] for t in mine) == sorted(x["t"] for x in fills)
                assert commission == sum(D(t["commission"]) for t in mine) and commission > 0

                a = acct["a"]
                assert a["m"] == "ORDER"
                usdt = [b for b in a["B"] if b["a"] == "USDT"][0]
                assert D(usdt["wb"]) == D(10000) - commission
                pos = [p for p in a["P"] if p["s"] == "BTCUSDT" and p["ps"] == "BOTH"][0]
                assert D(pos["pa"]) == D(qty) and D(pos["ep"]) == D(o["avgPrice"])

                # a resting LIMIT, then its cancel
                px = str(r.round_price(D(book["bids"][0][0]) * D("0.97")))
                lo = await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=qty,
                                                       price=px, timeInForce="GTC")
                new, _ = await recv_until(sock, lambda m: m.get("e") == "ORDER_TRADE_UPDATE"
                                          and m["o"]["i"] == lo["orderId"], 10, "the LIMIT's NEW")
                assert new["o"]["X"] == "NEW" and new["o"]["o"] == "LIMIT" and D(new["o"]["p"]) == D(px)
                assert new["o"]["z"] == "0.000" and new["o"]["f"] == "GTC"
                await client.futures_cancel_order(symbol="BTCUSDT", orderId=lo["orderId"])
                gone, _ = await recv_until(sock, lambda m: m.get("e") == "ORDER_TRADE_UPDATE"
                                           and m["o"]["i"] == lo["orderId"], 10, "the LIMIT's CANCELED")
                assert gone["o"]["x"] == "CANCELED" and gone["o"]["X"] == "CANCELED"
                t_exit = time.monotonic()
            assert time.monotonic() - t_exit < 3
        finally:
            await client.close_connection()

    run(main())
