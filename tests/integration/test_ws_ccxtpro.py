"""ccxt.pro ``binanceusdm`` (unmodified) against the WebSocket streams of a live ``alfax serve`` on loopback.

Only URLs change: the REST families as in test_ccxt.py, ``urls.api.ws.linear = ws://<venue>/ws`` (ccxt rewrites it
to ``/public/ws/<n>``, ``/market/ws/<n>`` and ``/private/ws?listenKey=``; it must end in ``/ws`` and must not
contain ``/stream``, contract §5 Q12), and every other URL (REST or WS) points at a dead path on the venue, so
nothing can leave the host. No pytest-asyncio: each test runs its coroutine under ``asyncio.run`` with a bound.
"""

from __future__ import annotations

import asyncio
import copy
import time
from decimal import Decimal
from urllib.parse import urlsplit

import ccxt.pro as ccxtpro
import pytest

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
TAKER = Decimal("0.0005")

pytestmark = pytest.mark.timeout(60)


def D(x) -> Decimal:
    return Decimal(str(x))


def run(coro, timeout: float = 40.0):
    """Run one test coroutine, bounded (a stream that never delivers fails the test instead of hanging)."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


# ------------------------------------------------------------------------------------------------ the exchange


def make_pro(base: str, key: str | None = None, secret: str | None = None) -> ccxtpro.binanceusdm:
    ws_base = "ws://" + base.split("://", 1)[1]
    rest = {
        "fapiPublic": f"{base}/fapi/v1", "fapiPublicV2": f"{base}/fapi/v2", "fapiPublicV3": f"{base}/fapi/v3",
        "fapiPrivate": f"{base}/fapi/v1", "fapiPrivateV2": f"{base}/fapi/v2", "fapiPrivateV3": f"{base}/fapi/v3",
        "fapiData": f"{base}/futures/data", "sapi": f"{base}/sapi/v1",
    }
    cfg = {
        "urls": {"api": dict(rest)},
        "options": {"fetchCurrencies": False, "fetchMargins": False, "fetchMarkets": {"types": ["linear"]},
                    "fetchOpenOrders": {"warnWithoutSymbol": False}},
        "enableRateLimit": False,
        "timeout": 20000,
    }
    if key:
        cfg["apiKey"], cfg["secret"] = key, secret
    ex = ccxtpro.binanceusdm(cfg)
    api = ex.urls["api"]
    # loopback only: every REST family not overridden goes to a dead path on the venue (JSON 404, fails loudly)
    for k, v in list(api.items()):
        if isinstance(v, str) and k not in rest:
            api[k] = f"{base}/__unexpected__/{k}"
    # WebSocket: linear is the venue; every other market type and the ws-api trading endpoints are dead paths
    ws = api["ws"]
    for k, v in list(ws.items()):
        if isinstance(v, str):
            ws[k] = f"{ws_base}/__unexpected__/{k}"
        elif isinstance(v, dict):
            ws[k] = {kk: f"{ws_base}/__unexpected__/{k}/{kk}" for kk in v}
    ws["linear"] = f"{ws_base}/ws"
    assert_loopback(ex.urls["api"], base)
    return ex


def assert_loopback(node, base: str) -> None:
    host = urlsplit(base).netloc
    if isinstance(node, dict):
        for v in node.values():
            assert_loopback(v, base)
    elif isinstance(node, str):
        assert urlsplit(node).netloc == host, f"URL not on the venue: {node}"


def assert_clients_loopback(ex, base: str) -> None:
    host = urlsplit(base).netloc
    urls = [u for u in ex.clients if "://" in u]  # ccxt also keeps bookkeeping entries in ``clients``
    assert urls, "no WebSocket client was opened"
    for url in urls:
        parts = urlsplit(url)
        assert parts.scheme == "ws" and parts.netloc == host, url
        assert "/stream" not in url and "__unexpected__" not in url, url


async def open_pro(base: str, key: str | None = None, secret: str | None = None) -> ccxtpro.binanceusdm:
    ex = make_pro(base, key, secret)
    await ex.load_markets()
    return ex


async def until(cond, timeout: float, what: str, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(step)


# ------------------------------------------------------------------------------------------------ market data


def test_watch_order_book_stays_in_sync_with_rest(alfax_server):
    """36 distinct diff-depth updates (``btcusdt@depth@100ms`` on ``/public/ws/<n>``) applied by ccxt.pro's
    futures sync rule (pu == previous u) from one REST snapshot, without ChecksumError or resync; whenever the
    local nonce equals REST lastUpdateId the top 20 levels are identical, and the best quotes always agree with
    REST within a tolerance."""
    base = alfax_server.base_url

    async def main():
        ex = await open_pro(base)
        snapshots = []
        real_snapshot = ex.fetch_rest_order_book_safe

        async def counting_snapshot(*a, **kw):  # ccxt's REST snapshot for the sync; a resync would fetch again
            snapshots.append(time.monotonic())
            return await real_snapshot(*a, **kw)

        ex.fetch_rest_order_book_safe = counting_snapshot
        try:
            ob = await ex.watch_order_book(BTC)
            first = ob["nonce"]
            nonces = [first]
            while len(set(nonces)) < 36:
                ob = await ex.watch_order_book(BTC)
                n = ob["nonce"]
                assert n >= nonces[-1], "nonce went backwards"
                nonces.append(n)
                bids, asks = ob["bids"], ob["asks"]
                assert bids and asks and bids[0][0] < asks[0][0], (bids[:2], asks[:2])
                assert all(bids[i][0] > bids[i + 1][0] for i in range(len(bids) - 1))
                assert all(asks[i][0] < asks[i + 1][0] for i in range(len(asks) - 1))
                assert all(q > 0 for _, q in bids + asks), "a zero-quantity level was kept"
            # a ChecksumError (pu != previous u) would have raised out of watch_order_book above; a resync
            # would show as a second REST snapshot
            assert nonces[-1] > first
            assert len(snapshots) == 1, f"{len(snapshots)} REST snapshots: the book was resynced"

            exact = 0
            for _ in range(12):
                ob = await ex.watch_order_book(BTC)
                local_nonce = ob["nonce"]
                local_bids = [list(x) for x in ob["bids"][:20]]
                local_asks = [list(x) for x in ob["asks"][:20]]
                rest = await ex.fetch_order_book(BTC, 20)
                rb, ra = rest["bids"][0][0], rest["asks"][0][0]
                mid = (rb + ra) / 2
                assert abs(local_bids[0][0] - rb) / mid < 0.005, (local_bids[0], rb)
                assert abs(local_asks[0][0] - ra) / mid < 0.005, (local_asks[0], ra)
                if rest["nonce"] == local_nonce:
                    exact += 1
                    assert local_bids == [list(x) for x in rest["bids"][:20]]
                    assert local_asks == [list(x) for x in rest["asks"][:20]]
                if exact >= 2:
                    break
            assert exact >= 1, "never caught the local book and REST at the same update id"
            assert len(snapshots) == 1
            assert_clients_loopback(ex, base)
            assert any("/public/ws" in u for u in ex.clients)
        finally:
            await ex.close()

    run(main())


def test_watch_trades_match_rest_agg_trades(alfax_server):
    """``btcusdt@trade`` (default) and ``@aggTrade`` (option name): parsed trades whose ids, prices and amounts
    are the REST aggTrades' (one reference trade = one aggregate)."""
    base = alfax_server.base_url

    async def main():
        ex = await open_pro(base)
        try:
            got: dict[str, dict] = {}
            while len(got) < 4:
                for t in await ex.watch_trades(BTC):
                    got[t["id"]] = copy.deepcopy(t)
            # both streams feed the same trades cache: wait until an aggTrade-built trade comes back
            aggs: list[dict] = []
            while not aggs:
                batch = await ex.watch_trades(BTC, params={"name": "aggTrade"})
                aggs = [t for t in batch if t["info"]["e"] == "aggTrade"]
            assert aggs[-1]["symbol"] == BTC and aggs[-1]["id"] == str(aggs[-1]["info"]["a"])
            assert any("/market/ws" in u for u in ex.clients) and any("/public/ws" in u for u in ex.clients)
            for t in got.values():
                assert t["symbol"] == BTC and t["info"]["e"] == "trade"
                assert t["side"] in ("buy", "sell") and t["price"] > 0 and t["amount"] > 0
                assert t["side"] == ("sell" if t["info"]["m"] else "buy")
            ids = sorted(int(i) for i in got)
            assert ids == sorted(set(ids))
            rest = {t["id"]: t for t in await ex.fetch_trades(BTC, limit=500)}
            matched = [i for i in got if i in rest]
            assert matched, f"none of the streamed trade ids {sorted(got)[:4]} in REST aggTrades"
            for i in matched:
                assert rest[i]["price"] == got[i]["price"] and rest[i]["amount"] == got[i]["amount"]
                assert rest[i]["side"] == got[i]["side"]
            assert_clients_loopback(ex, base)
        finally:
            await ex.close()

    run(main())


def test_watch_ticker_and_tickers(alfax_server):
    base = alfax_server.base_url

    async def main():
        ex = await open_pro(base)
        try:
            t = await ex.watch_ticker(BTC)
            assert t["symbol"] == BTC and t["last"] > 0 and t["low"] <= t["last"] <= t["high"]
            assert t["open"] > 0 and t["baseVolume"] > 0 and t["quoteVolume"] > 0
            assert t["info"]["s"] == "BTCUSDT"
            rest = await ex.fetch_ticker(BTC)
            assert abs(t["last"] - rest["last"]) / rest["last"] < 0.01
            assert abs(t["open"] - rest["open"]) / rest["open"] < 0.01
            seen: dict[str, dict] = {}
            while set(seen) != {BTC, ETH}:
                ts = await ex.watch_tickers([BTC, ETH])
                assert set(ts) <= {BTC, ETH}
                seen.update(copy.deepcopy(ts))
            assert seen[ETH]["last"] > 0 and seen[ETH]["last"] != seen[BTC]["last"]
            eth_rest = await ex.fetch_ticker(ETH)
            assert abs(seen[ETH]["last"] - eth_rest["last"]) / eth_rest["last"] < 0.01
            assert_clients_loopback(ex, base)
        finally:
            await ex.close()

    run(main())


def test_watch_ohlcv(alfax_server):
    base = alfax_server.base_url

    async def main():
        ex = await open_pro(base)
        try:
            rows = []
            for _ in range(3):
                rows += copy.deepcopy(await ex.watch_ohlcv(BTC, "1m"))
            for ts, o, h, lo, c, v in rows:
                assert ts % 60_000 == 0
                assert lo <= min(o, c) and max(o, c) <= h and v >= 0
            cur = rows[-1]
            rest = await ex.fetch_ohlcv(BTC, "1m", limit=3)
            assert cur[0] in [r[0] for r in rest] or cur[0] == rest[-1][0] + 60_000
            same = [r for r in rest if r[0] == cur[0]]
            if same:
                assert same[0][1] == cur[1]  # same open for the same minute
                assert abs(same[0][4] - cur[4]) / cur[4] < 0.01
            assert_clients_loopback(ex, base)
        finally:
            await ex.close()

    run(main())


def test_watch_bids_asks_and_mark_price(alfax_server):
    base = alfax_server.base_url

    async def main():
        ex = await open_pro(base)
        try:
            ba = await ex.watch_bids_asks([BTC])
            q = ba[BTC]
            assert 0 < q["bid"] < q["ask"] and q["bidVolume"] > 0 and q["askVolume"] > 0
            assert q["info"]["e"] == "bookTicker"
            rest = await ex.fetch_order_book(BTC, 5)
            mid = (rest["bids"][0][0] + rest["asks"][0][0]) / 2
            assert abs(q["bid"] - rest["bids"][0][0]) / mid < 0.005
            assert abs(q["ask"] - rest["asks"][0][0]) / mid < 0.005

            mp = await ex.watch_mark_price(BTC)
            assert mp["symbol"] == BTC and mp["markPrice"] > 0 and mp["indexPrice"] > 0
            assert mp["info"]["e"] == "markPriceUpdate"
            pi = await ex.fapiPublicGetPremiumIndex({"symbol": "BTCUSDT"})
            assert abs(mp["markPrice"] - float(pi["markPrice"])) / mp["markPrice"] < 0.005
            assert abs(mp["indexPrice"] - float(pi["indexPrice"])) / mp["indexPrice"] < 0.005
            t1 = mp["timestamp"]
            mp2 = await ex.watch_mark_price(BTC)
            assert mp2["timestamp"] > t1  # markPrice@1s keeps coming
            assert_clients_loopback(ex, base)
            assert any("/public/ws" in u for u in ex.clients) and any("/market/ws" in u for u in ex.clients)
        finally:
            await ex.close()

    run(main())


# ------------------------------------------------------------------------------------------------ user data


class UserStreams:
    """Runs watch_orders / watch_my_trades / watch_positions / watch_balance in background tasks and keeps a
    copy of everything each one returned."""

    def __init__(self, ex) -> None:
        self.ex = ex
        self.orders: list[dict] = []
        self.trades: list[dict] = []
        self.positions: list[dict] = []
        self.balances: list[dict] = []
        self.errors: list[BaseException] = []
        self.tasks: list[asyncio.Task] = []

    async def _pump(self, fn, sink, many: bool) -> None:
        try:
            while True:
                res = await fn()
                if many:
                    sink.extend(copy.deepcopy(list(res)))
                else:
                    sink.append(copy.deepcopy(res))
        except asyncio.CancelledError:
            raise
        except BaseException as e:  # surfaced by check()
            self.errors.append(e)

    async def start(self) -> None:
        ex = self.ex
        self.tasks = [
            asyncio.create_task(self._pump(lambda: ex.watch_orders(BTC), self.orders, True)),
            asyncio.create_task(self._pump(lambda: ex.watch_my_trades(BTC), self.trades, True)),
            asyncio.create_task(self._pump(lambda: ex.watch_positions([BTC]), self.positions, True)),
            asyncio.create_task(self._pump(lambda: ex.watch_balance(), self.balances, False)),
        ]

        def connected():
            self.check()
            clients = [c for u, c in ex.clients.items() if "/private/ws?listenKey=" in u]
            return clients and all(c.connected.done() and not c.connected.exception() for c in clients)

        await until(connected, 15, "the private user-data connection")
        # the positions snapshot (REST leverageBracket + positionRisk) must be in before orders move anything
        await until(lambda: self.check() or (ex.positions or {}).get("linear") is not None, 15,
                    "the positions snapshot")
        await asyncio.sleep(0.3)  # let the server bind the listen key before the first order

    def check(self) -> None:
        if self.errors:
            raise self.errors[0]

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def wait(self, cond, what: str, timeout: float = 10.0):
        def probe():
            self.check()
            return cond()

        return await until(probe, timeout, what)


def _usdt_total(bal: dict) -> Decimal | None:
    u = bal.get("USDT") or {}
    return D(u["total"]) if u.get("total") is not None else None


def test_user_data_market_fill_then_close(alfax_server, fresh_account):
    """A MARKET buy and a reduce-only MARKET sell placed with ccxt REST on the same instance: watch_orders shows
    the REST order ids closed and fully filled, watch_my_trades the fills with their fees, watch_positions
    the long position (contracts, side, entry price as REST) then its close, watch_balance the wallet moving
    by exactly the fees and the realized PnL (= REST walletBalance)."""
    base = alfax_server.base_url

    async def main():
        ex = await open_pro(base, fresh_account.api_key, fresh_account.secret)
        us = UserStreams(ex)
        try:
            await us.start()
            ask = (await ex.fetch_order_book(BTC, 5))["asks"][0][0]
            step = D(ex.markets[BTC]["precision"]["amount"])
            amount = float((D(15) / D(ask) / step).to_integral_value(rounding="ROUND_UP") * step)

            buy = await ex.create_order(BTC, "market", "buy", amount)
            bid_ = buy["id"]

            def filled(oid):
                return [o for o in us.orders if o["id"] == oid and o["status"] == "closed"]

            done = (await us.wait(lambda: filled(bid_), f"order {bid_} closed on watch_orders"))[-1]
            assert done["symbol"] == BTC and done["side"] == "buy" and done["type"] == "market"
            assert done["filled"] == amount and done["remaining"] == 0 and done["amount"] == amount
            assert done["clientOrderId"] == buy["clientOrderId"]
            rest_order = await ex.fetch_order(bid_, BTC)
            assert abs(done["average"] - rest_order["average"]) < 1e-6
            assert done["info"]["ps"] == "BOTH"

            mine = await us.wait(lambda: [t for t in us.trades if t["order"] == bid_], "my trades of the buy")
            await asyncio.sleep(0.2)
            mine = [t for t in us.trades if t["order"] == bid_]
            assert sum(D(t["amount"]) for t in mine) == D(amount)
            rest_trades = [t for t in await ex.fetch_my_trades(BTC) if t["order"] == bid_]
            assert sorted(t["id"] for t in mine) == sorted(t["id"] for t in rest_trades)
            fee_buy = sum(D(t["fee"]["cost"]) for t in mine)
            assert fee_buy == sum(D(t["fee"]["cost"]) for t in rest_trades) and fee_buy > 0
            assert all(t["fee"]["currency"] == "USDT" and t["takerOrMaker"] == "taker" and t["side"] == "buy"
                       for t in mine)
            notional = sum(D(t["price"]) * D(t["amount"]) for t in mine)
            assert abs(fee_buy - notional * TAKER) < D("0.00000002") * len(mine)

            pos = (await us.wait(lambda: [p for p in us.positions if p["symbol"] == BTC and p["contracts"]],
                                 "the long position on watch_positions"))[-1]
            assert pos["side"] == "long" and pos["contracts"] == amount and pos["hedged"] is False
            rest_pos = [p for p in await ex.fetch_positions([BTC]) if p["contracts"]][0]
            assert abs(pos["entryPrice"] - rest_pos["entryPrice"]) < 1e-6

            def wallet_is(x):
                return lambda: [b for b in us.balances if _usdt_total(b) == x]

            after_buy = D(10000) - fee_buy
            await us.wait(wallet_is(after_buy), f"watch_balance total {after_buy}")
            rest_bal = await ex.fetch_balance()
            wb = D([a for a in rest_bal["info"]["assets"] if a["asset"] == "USDT"][0]["walletBalance"])
            assert wb == after_buy

            sell = await ex.create_order(BTC, "market", "sell", amount, params={"reduceOnly": True})
            sid = sell["id"]
            assert sid != bid_
            closed = (await us.wait(lambda: filled(sid), f"order {sid} closed"))[-1]
            assert closed["side"] == "sell" and closed["filled"] == amount and closed["reduceOnly"] is True
            await us.wait(lambda: [p for p in us.positions if p["symbol"] == BTC and p["contracts"] == 0]
                          and us.positions[-1]["contracts"] == 0, "the position closed on watch_positions")
            await us.wait(lambda: [t for t in us.trades if t["order"] == sid], "my trades of the sell")
            await asyncio.sleep(0.2)
            sells = [t for t in await ex.fetch_my_trades(BTC) if t["order"] == sid]
            fee_sell = sum(D(t["fee"]["cost"]) for t in sells)
            pnl = sum(D(t["info"]["realizedPnl"]) for t in sells)
            final = after_buy - fee_sell + pnl
            await us.wait(wallet_is(final), f"watch_balance total {final} (fees and realized PnL)")
            rest_bal = await ex.fetch_balance()
            wb = D([a for a in rest_bal["info"]["assets"] if a["asset"] == "USDT"][0]["walletBalance"])
            assert wb == final and _usdt_total(us.balances[-1]) == final
            assert_clients_loopback(ex, base)
        finally:
            await us.stop()
            await ex.close()

    run(main())


def test_user_data_limit_rests_then_cancelled(alfax_server, fresh_account):
    """A LIMIT buy 3 % under the bid: watch_orders shows it open (unfilled, REST id, price), then canceled after
    ccxt's cancel_order; no trade and no balance change reaches the streams."""
    base = alfax_server.base_url

    async def main():
        ex = await open_pro(base, fresh_account.api_key, fresh_account.secret)
        us = UserStreams(ex)
        try:
            await us.start()
            bid = (await ex.fetch_order_book(BTC, 5))["bids"][0][0]
            price = float(ex.price_to_precision(BTC, bid * 0.97))
            step = D(ex.markets[BTC]["precision"]["amount"])
            amount = float((D(15) / D(price) / step).to_integral_value(rounding="ROUND_UP") * step)
            o = await ex.create_order(BTC, "limit", "buy", amount, price, params={"clientOrderId": "ws-limit-1"})
            oid = o["id"]
            assert o["status"] == "open"

            opened = (await us.wait(lambda: [x for x in us.orders if x["id"] == oid and x["status"] == "open"],
                                    "the resting LIMIT on watch_orders"))[-1]
            assert opened["price"] == price and opened["amount"] == amount and opened["filled"] == 0
            assert opened["type"] == "limit" and opened["timeInForce"] == "GTC"
            assert opened["clientOrderId"] == "ws-limit-1" and opened["info"]["x"] == "NEW"

            c = await ex.cancel_order(oid, BTC)
            assert c["status"] == "canceled"
            gone = (await us.wait(lambda: [x for x in us.orders if x["id"] == oid and x["status"] == "canceled"],
                                  "the cancel on watch_orders"))[-1]
            assert gone["filled"] == 0 and gone["remaining"] == amount and gone["info"]["x"] == "CANCELED"
            await asyncio.sleep(0.5)
            assert not [t for t in us.trades if t["order"] == oid]
            assert all(_usdt_total(b) in (None, D(10000)) for b in us.balances)
            assert not [p for p in us.positions if p["contracts"]]
            statuses = [x["status"] for x in us.orders if x["id"] == oid]
            assert statuses.index("open") < statuses.index("canceled")
            assert_clients_loopback(ex, base)
        finally:
            await us.stop()
            await ex.close()

    run(main())
