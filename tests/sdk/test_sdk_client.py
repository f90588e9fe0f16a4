"""The alfax SDK (``alfax.sdk``, re-exported by ``alfax``) against a real ``alfax serve`` on loopback.

Every ``Client`` and ``AsyncClient`` method, both streams with real events, error mapping, Decimal models,
environment configuration, and the challenge methods (purchase, credentials, status, rules, lifecycle, check,
eligibility, payouts approved/rejected by the operator key).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest

from alfax import (
    AccountInfo,
    AlfaxAPIError,
    AsyncClient,
    AuthError,
    BookTicker,
    ChallengeCheck,
    ChallengeCredentials,
    ChallengeLifecycleState,
    ChallengePurchaseCreated,
    ChallengeRules,
    ChallengeStatus,
    ChallengeUpdate,
    Client,
    ExchangeInfo,
    Kline,
    LeverageResponse,
    MarketStream,
    Order,
    OrderError,
    PayoutCreated,
    PayoutEligibility,
    PayoutState,
    PositionRisk,
    UserStream,
    UserTrade,
    parse_event,
)
from alfax_harness import best_bid_ask
from sdk_helpers import PRODUCT, Creds, min_qty

D = Decimal
SYM = "BTCUSDT"

STATUS_MONEY = ("startBalance", "currentEquity", "peakEquity", "dayOpenEquity", "profitTarget", "profitCurrent",
                "maxDailyDrawdown", "currentDailyDrawdown", "maxTotalDrawdown", "currentTotalDrawdown")


def _mk(server, creds: Creds, cls=Client):
    return cls(api_key=creds.api_key, api_secret=creds.secret, base_url=server.base_url)


def _limit_price_below(rules, public_rest, symbol: str = SYM) -> Decimal:
    bid, _ = best_bid_ask(public_rest, symbol)
    return rules[symbol].round_price(bid * D("0.97"))


async def _next_event(stream, pred, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no matching event within {timeout}s; saw {[m.get('e') for m in seen]}")
        msg = await stream.recv(left)
        seen.append(msg)
        if pred(msg):
            return msg


def _flatten(c: Client, symbol: str = SYM) -> None:
    for p in c.position_risk(symbol):
        if p.positionAmt != 0:
            c.new_order(symbol=symbol, side="SELL" if p.positionAmt > 0 else "BUY", type="MARKET",
                        quantity=abs(p.positionAmt), reduce_only=True)


# ------------------------------------------------------------------------------------------------ packaging


def test_import_alfax_does_not_load_the_sdk():
    server = ("import sys, alfax.server, alfax.cli.main; heavy = [m for m in ('pydantic', 'alfax.sdk') "
              "if m in sys.modules]; assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", server], check=True, timeout=60)
    code = ("import sys, alfax; heavy = [m for m in ('pydantic', 'httpx', 'websockets', 'alfax.sdk') "
            "if m in sys.modules]; assert not heavy, heavy; from alfax import Client, MarketStream, UserStream, "
            "AlfaxAPIError, OrderError, RateLimitError, AuthError, AlfaxError; import alfax.sdk; "
            "assert alfax.Client is alfax.sdk.Client")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# ------------------------------------------------------------------------------------------------ market data


def test_public_market_data(client):
    assert client.ping() == {}
    t = client.server_time()
    assert isinstance(t, int) and t > 1_500_000_000_000
    info = client.exchange_info()
    assert isinstance(info, ExchangeInfo) and info.timezone == "UTC" and abs(info.serverTime - t) < 60_000
    btc = next(s for s in info.symbols if s.symbol == SYM)
    assert (btc.baseAsset, btc.quoteAsset, btc.status) == ("BTC", "USDT", "TRADING")
    assert {f["filterType"] for f in btc.filters} >= {"PRICE_FILTER", "LOT_SIZE"}
    bt = client.book_ticker(SYM)
    assert isinstance(bt, BookTicker) and bt.symbol == SYM
    assert all(isinstance(v, Decimal) for v in (bt.bidPrice, bt.bidQty, bt.askPrice, bt.askQty))
    assert 0 < bt.bidPrice < bt.askPrice
    every = client.book_ticker()
    assert isinstance(every, list) and {b.symbol for b in every} >= {"BTCUSDT", "ETHUSDT"}
    kl = client.klines(SYM, "1m", limit=3)
    assert 1 <= len(kl) <= 3 and all(isinstance(k, Kline) for k in kl)
    k0 = kl[0]
    assert isinstance(k0.open, Decimal) and k0.low <= k0.open <= k0.high and k0.closeTime > k0.openTime
    assert isinstance(k0.trades, int) and isinstance(k0.quoteVolume, Decimal)
    window = client.klines(SYM, "1m", start_time=kl[0].openTime, end_time=kl[-1].closeTime, limit=10)
    assert [k.openTime for k in window] == [k.openTime for k in kl]


# ------------------------------------------------------------------------------------------------ account


def test_account_and_position_risk(client):
    acc = client.account()
    assert isinstance(acc, AccountInfo) and acc.challenge is None
    assert acc.totalWalletBalance == D("10000") and isinstance(acc.availableBalance, Decimal)
    usdt = next(a for a in acc.assets if a.asset == "USDT")
    assert usdt.walletBalance == D("10000") and isinstance(usdt.marginBalance, Decimal)
    assert {p.symbol for p in acc.positions} >= {"BTCUSDT", "ETHUSDT"}
    assert all(isinstance(p.positionAmt, Decimal) for p in acc.positions)
    assert acc["totalWalletBalance"] == acc.totalWalletBalance  # mapping access, as the docs' quick start uses
    pr = client.position_risk()
    assert pr and all(isinstance(p, PositionRisk) for p in pr)
    one = client.position_risk(SYM)
    assert [p.symbol for p in one] == [SYM] and isinstance(one[0].leverage, Decimal)


# ------------------------------------------------------------------------------------------------ orders


def test_order_round_trip_and_trades(client, rules, public_rest):
    lev = client.change_leverage(symbol=SYM, leverage=5)
    assert isinstance(lev, LeverageResponse) and lev.leverage == 5 and lev.symbol == SYM
    price = _limit_price_below(rules, public_rest)
    qty = rules[SYM].qty_for_notional(price, 20)
    o = client.new_order(symbol=SYM, side="BUY", type="LIMIT", quantity=qty, price=price, time_in_force="GTC",
                         new_client_order_id="sdk-limit-1")
    assert isinstance(o, Order) and o.status == "NEW" and o.clientOrderId == "sdk-limit-1"
    assert (o.price, o.origQty, o.executedQty) == (price, qty, 0) and isinstance(o.price, Decimal)
    assert client.get_order(symbol=SYM, order_id=o.orderId).status == "NEW"
    assert client.get_order(symbol=SYM, orig_client_order_id="sdk-limit-1").orderId == o.orderId
    assert o.orderId in [x.orderId for x in client.open_orders(SYM)]
    assert o.orderId in [x.orderId for x in client.open_orders()]
    cx = client.cancel_order(symbol=SYM, order_id=o.orderId)
    assert cx.status == "CANCELED" and cx.orderId == o.orderId
    hist = client.all_orders(symbol=SYM)
    assert {x.orderId: x.status for x in hist}[o.orderId] == "CANCELED"
    assert [x.orderId for x in client.all_orders(symbol=SYM, order_id=o.orderId, limit=1)] == [o.orderId]

    m = client.new_order(symbol=SYM, side="BUY", type="MARKET", quantity=str(qty))
    deadline = time.monotonic() + 10
    while (got := client.get_order(symbol=SYM, order_id=m.orderId)).status != "FILLED":
        assert time.monotonic() < deadline, got
        time.sleep(0.1)
    assert got.executedQty == qty and isinstance(got.avgPrice, Decimal) and got.avgPrice > 0
    trades = [t for t in client.user_trades(SYM) if t.orderId == m.orderId]
    assert trades and all(isinstance(t, UserTrade) for t in trades)
    t0 = trades[0]
    assert isinstance(t0.price, Decimal) and isinstance(t0.commission, Decimal) and t0.buyer is True
    assert sum(t.qty for t in trades) == qty
    assert [t.id for t in client.user_trades(SYM, from_id=t0.id, limit=1)] == [t0.id]
    assert t0.id in [t.id for t in client.user_trades(SYM, start_time=t0.time - 1000, end_time=t0.time + 1000)]
    pos = client.position_risk(SYM)[0]
    assert pos.positionAmt == qty and pos.entryPrice > 0 and pos.markPrice > 0
    c = client.new_order(symbol=SYM, side="SELL", type="MARKET", quantity=qty, reduce_only=True)
    assert c.reduceOnly is True
    deadline = time.monotonic() + 10
    while client.position_risk(SYM)[0].positionAmt != 0:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_money_parameters_are_plain_decimal_strings(client, rules, public_rest):
    price = _limit_price_below(rules, public_rest)
    with pytest.raises(TypeError):
        client.new_order(symbol=SYM, side="BUY", type="LIMIT", quantity=0.01, price=str(price), time_in_force="GTC")
    with pytest.raises(TypeError):
        client.new_order(symbol=SYM, side="BUY", type="LIMIT", quantity="0.01", price=float(price),
                         time_in_force="GTC")
    assert client.open_orders(SYM) == []  # nothing was sent
    sent: list = []
    client._http.event_hooks["request"].append(sent.append)
    try:
        # exponent notation and an int price still travel as plain decimals
        o = client.new_order(symbol=SYM, side="BUY", type="LIMIT", quantity=D("5E-3"), price=int(price),
                             time_in_force="GTC")
    finally:
        client._http.event_hooks["request"].remove(sent.append)
    assert o.origQty == D("0.005") and o.price == D(int(price))
    req = sent[-1]
    assert req.method == "POST" and req.content == b"" and req.headers["X-MBX-APIKEY"] == client.api_key
    query = urlsplit(str(req.url)).query
    pairs = parse_qsl(query)
    assert [k for k, _ in pairs][:3] == ["symbol", "side", "type"] and pairs[-1][0] == "signature"
    wire = dict(pairs)
    assert wire["quantity"] == "0.005" and wire["price"] == str(int(price)) and wire["recvWindow"] == "5000"
    payload = query.rsplit("&signature=", 1)[0]
    plain_secret = client._req._secret
    assert wire["signature"] == hmac.new(plain_secret, payload.encode(), hashlib.sha256).hexdigest()
    client.cancel_order(symbol=SYM, order_id=o.orderId)


def test_models_reject_json_floats():
    ok = {"symbol": SYM, "bidPrice": "1.5", "bidQty": 2, "askPrice": "1.6", "askQty": "3"}
    assert BookTicker.model_validate(ok).bidQty == D(2)
    with pytest.raises(TypeError):
        BookTicker.model_validate(ok | {"bidPrice": 1.5})
    st = ChallengeStatus.model_validate({"currentEquity": "", "startBalance": None, "extraField": "x"})
    assert st.currentEquity is None and st["extraField"] == "x"
    with pytest.raises(TypeError):
        ChallengeStatus.model_validate({"currentEquity": 10000.5})


# ------------------------------------------------------------------------------------------------ errors


def test_error_mapping(alfax_server, client, demo, rules, public_rest):
    with pytest.raises(OrderError) as e:
        client.cancel_order(symbol=SYM, order_id=987654321)
    assert (e.value.status, e.value.code) == (400, -2011) and isinstance(e.value, AlfaxAPIError)
    assert e.value.msg and isinstance(e.value.body, dict)
    with pytest.raises(AlfaxAPIError) as e:
        client.get_order(symbol=SYM, order_id=987654321)
    assert e.value.code == -2013 and not isinstance(e.value, OrderError)
    with pytest.raises(AlfaxAPIError) as e:
        client.new_order(symbol=SYM, side="BUY", type="MARKET", quantity="0.0001")  # finer than the step
    assert e.value.status == 400 and e.value.code == -1111
    with Client(api_key="not-a-key", api_secret="x", base_url=alfax_server.base_url) as bad:
        with pytest.raises(AlfaxAPIError) as e:
            bad.account()
    assert (e.value.status, e.value.code) == (401, -2015)
    with Client(api_key=client.api_key, api_secret="wrong", base_url=alfax_server.base_url) as bad:
        with pytest.raises(AlfaxAPIError) as e:
            bad.position_risk()
    assert e.value.code == -1022
    with Client(api_key=client.api_key, api_secret="", base_url=alfax_server.base_url) as nosecret:
        with pytest.raises(AuthError):
            nosecret.account()
        assert nosecret.ping() == {}  # public calls need no secret
    # a challenge rule rejection is -2010 -> OrderError (the demo account is a 10k-2step challenge, 5x cap)
    _, ask = best_bid_ask(public_rest, SYM)
    too_big = rules[SYM].qty_for_notional(ask, 60_000)
    with _mk(alfax_server, demo) as c:
        with pytest.raises(OrderError) as e:
            c.new_order(symbol=SYM, side="BUY", type="MARKET", quantity=too_big)
    assert (e.value.status, e.value.code) == (400, -2010)


# ------------------------------------------------------------------------------------------------ configuration


def test_environment_variables(alfax_server, plain, monkeypatch):
    monkeypatch.setenv("ALFAX_KEY", plain.api_key)
    monkeypatch.setenv("ALFAX_SECRET", plain.secret)
    monkeypatch.setenv("ALFAX_BASE_URL", alfax_server.base_url)
    with Client() as c:
        assert c.base_url == alfax_server.base_url and c.api_key == plain.api_key
        assert c.account().totalWalletBalance > 0

    async def go():
        async with AsyncClient() as ac:
            return await ac.account()

    assert isinstance(asyncio.run(go()), AccountInfo)
    assert UserStream(listen_key="k").url == "ws" + alfax_server.base_url[4:] + "/ws/k"
    # explicit arguments win over the environment
    monkeypatch.setenv("ALFAX_BASE_URL", "http://127.0.0.1:1")
    with Client(base_url=alfax_server.base_url) as c:
        assert c.ping() == {}
    for var in ("ALFAX_KEY", "ALFAX_SECRET", "ALFAX_BASE_URL"):
        monkeypatch.delenv(var)
    with Client() as c:
        assert c.base_url == "https://api.alfax.trade" and c.api_key is None
    assert MarketStream(["btcusdt@bookTicker"]).url == "ws://localhost:8080/stream?streams=btcusdt@bookTicker"


# ------------------------------------------------------------------------------------------------ streams


def test_market_stream_async_sync_and_callback(alfax_server):
    names = ["btcusdt@bookTicker", "ethusdt@bookTicker"]

    async def go():
        async with MarketStream(names, base_url=alfax_server.base_url) as s:
            msg = await s.recv(15)
            assert msg["stream"] in names and msg["data"]["e"] == "bookTicker"
            async for msg in s:
                assert msg["stream"] in names
                break
        got: list = []
        done = asyncio.Event()

        async def on_msg(m):
            got.append(m)
            done.set()

        ws_url = "ws" + alfax_server.base_url[4:]
        task = asyncio.create_task(MarketStream(names[:1], base_url=ws_url).run(on_msg))
        await asyncio.wait_for(done.wait(), 15)
        task.cancel()
        assert got[0]["stream"] == names[0]

    asyncio.run(go())
    with MarketStream(names, base_url=alfax_server.base_url) as s:
        assert s.recv_sync(15)["stream"] in names
        for msg in s:
            assert msg["data"]["s"] in ("BTCUSDT", "ETHUSDT")
            break


def test_listen_key_and_user_stream_order_fill(alfax_server, client, rules, public_rest):
    lk = client.new_listen_key()
    assert isinstance(lk, str) and len(lk) >= 32
    assert client.keepalive_listen_key() is None
    qty = min_qty(rules, public_rest, SYM, 20)

    async def go():
        async with UserStream(listen_key=lk, base_url=alfax_server.base_url) as s:
            client.new_order(symbol=SYM, side="BUY", type="MARKET", quantity=qty)
            fill = await _next_event(s, lambda m: m.get("e") == "ORDER_TRADE_UPDATE" and m["o"]["X"] == "FILLED")
            assert D(fill["o"]["z"]) == qty and fill["o"]["s"] == SYM
            client.new_order(symbol=SYM, side="SELL", type="MARKET", quantity=qty, reduce_only=True)
            async for evt in s.events():
                assert isinstance(evt, dict)  # no challengeUpdate on a plain account: raw dicts
                if evt.get("e") == "ORDER_TRADE_UPDATE" and evt["o"]["X"] == "FILLED":
                    return evt

    closing = asyncio.run(asyncio.wait_for(go(), 30))
    assert closing["o"]["S"] == "SELL" and closing["o"]["R"] is True
    with UserStream(listen_key=lk, base_url=alfax_server.base_url) as s:  # synchronous use
        client.new_order(symbol=SYM, side="BUY", type="MARKET", quantity=qty)
        for evt in s.iter_events():
            if evt.get("e") == "ORDER_TRADE_UPDATE" and evt["o"]["X"] == "FILLED":
                break
    _flatten(client)
    assert client.close_listen_key() is None
    with pytest.raises(AlfaxAPIError) as e:
        client.keepalive_listen_key()
    assert e.value.code == -1125


# ------------------------------------------------------------------------------------------------ AsyncClient


def test_async_client_every_method(alfax_server, plain, rules, public_rest):
    price = _limit_price_below(rules, public_rest)
    qty = rules[SYM].qty_for_notional(price, 20)

    async def go():
        async with _mk(alfax_server, plain, AsyncClient) as c:
            assert await c.ping() == {}
            assert isinstance(await c.server_time(), int)
            assert isinstance(await c.exchange_info(), ExchangeInfo)
            assert isinstance(await c.book_ticker(SYM), BookTicker)
            assert isinstance(await c.book_ticker(), list)
            assert all(isinstance(k, Kline) for k in await c.klines(SYM, "1m", limit=2))
            acc = await c.account()
            assert isinstance(acc, AccountInfo) and isinstance(acc.totalWalletBalance, Decimal)
            assert all(isinstance(p, PositionRisk) for p in await c.position_risk(SYM))
            assert (await c.change_leverage(symbol=SYM, leverage=4)).leverage == 4
            o = await c.new_order(symbol=SYM, side="BUY", type="LIMIT", quantity=qty, price=price,
                                  time_in_force="GTC", new_client_order_id="sdk-async-1")
            assert o.status == "NEW" and o.price == price
            assert (await c.get_order(symbol=SYM, orig_client_order_id="sdk-async-1")).orderId == o.orderId
            assert o.orderId in [x.orderId for x in await c.open_orders(SYM)]
            assert (await c.cancel_order(symbol=SYM, order_id=o.orderId)).status == "CANCELED"
            assert o.orderId in [x.orderId for x in await c.all_orders(symbol=SYM, limit=50)]
            m = await c.new_order(symbol=SYM, side="BUY", type="MARKET", quantity=qty)
            for _ in range(100):
                if (await c.get_order(symbol=SYM, order_id=m.orderId)).status == "FILLED":
                    break
                await asyncio.sleep(0.1)
            trades = await c.user_trades(SYM, limit=100)
            assert any(t.orderId == m.orderId and isinstance(t.qty, Decimal) for t in trades)
            await c.new_order(symbol=SYM, side="SELL", type="MARKET", quantity=qty, reduce_only=True)
            lk = await c.new_listen_key()
            assert await c.keepalive_listen_key() is None
            assert await c.close_listen_key() is None
            with pytest.raises(OrderError):
                await c.cancel_order(symbol=SYM, order_id=987654321)
            return lk

    assert isinstance(asyncio.run(go()), str)


# ------------------------------------------------------------------------------------------------ challenges


@pytest.fixture(scope="module")
def bought(alfax_server, plain):
    """A 10k-2step challenge bought with the stub provider; credentials fetched twice (only the first has them)."""
    with _mk(alfax_server, plain) as c:
        created = c.create_challenge_purchase(product_id=PRODUCT, provider="stub")
        first = c.challenge_credentials(created.purchaseId)
        second = c.challenge_credentials(str(created.purchaseId))
    return {"created": created, "first": first, "second": second,
            "creds": Creds(first.apiKey or "", first.apiSecret or "")}


@pytest.fixture(scope="module")
def operator_client(alfax_server, operator):
    with _mk(alfax_server, operator) as c:
        yield c


def test_purchase_with_stub_and_credentials_once(bought):
    created, first, second = bought["created"], bought["first"], bought["second"]
    assert isinstance(created, ChallengePurchaseCreated) and created.status == "initiated"
    assert isinstance(created.purchaseId, uuid.UUID) and created.workflowId and created.runId
    assert isinstance(first, ChallengeCredentials) and first.purchaseId == created.purchaseId
    assert first.status == "minted" and isinstance(first.challengeId, uuid.UUID)
    assert first.apiKey and first.apiSecret
    assert second.challengeId == first.challengeId
    assert second.apiKey is None and second.apiSecret is None  # handed out once only


def test_challenge_status_rules_and_lifecycle(alfax_server, bought):
    with _mk(alfax_server, bought["creds"]) as c:
        st = c.challenge_status()
        assert isinstance(st, ChallengeStatus) and st.challengeId == bought["first"].challengeId
        assert (st.stage, st.status) == ("STAGE_1", "ACTIVE")
        for name in STATUS_MONEY:
            assert isinstance(getattr(st, name), Decimal), name
        assert st.startBalance == D("10000") and st.currentEquity == D("10000") and st.maxLeverage == 5
        assert st.maxDailyDrawdown > 0 and st.maxTotalDrawdown >= st.maxDailyDrawdown
        assert isinstance(st.dailyFloorEquity, Decimal) and isinstance(st.roomTotal, Decimal)
        assert isinstance(st.tradingDays, int) and isinstance(st.startedAt, int) and st.dayRolloverUtc
        assert c.challenge().challengeId == st.challengeId
        quick = c.get_challenge_status()
        assert isinstance(quick["currentEquity"], Decimal) and quick["profitCurrent"] == st.profitCurrent
        acc = c.account()
        assert acc.challenge is not None and acc.challenge.challengeId == st.challengeId
        assert isinstance(acc.challenge.currentEquity, Decimal)
        rules_ = c.challenge_rules()
        assert isinstance(rules_, ChallengeRules) and rules_.productId == PRODUCT
        assert rules_.accountSize == D("10000") and rules_.currency == "USDT" and rules_.maxLeverage == 5
        assert [s.name for s in rules_.stages][:2] == ["STAGE_1", "STAGE_2"]
        assert all(isinstance(s.profitTarget, Decimal) and 0 < s.profitTarget < 1 for s in rules_.stages)
        assert set(rules_.symbolsWhitelist) >= {"BTCUSDT", "ETHUSDT"} and isinstance(rules_.payoutSplitBps, int)
        life = c.challenge_lifecycle(st.challengeId)
        assert isinstance(life, ChallengeLifecycleState)
        assert (life.ChallengeID, life.Stage, life.Status, life.FailReason) == (st.challengeId, "STAGE_1",
                                                                               "ACTIVE", "")
        assert c.challenge_lifecycle(str(st.challengeId)).ChallengeID == st.challengeId
        with pytest.raises(AlfaxAPIError):
            c.challenge_lifecycle(uuid.uuid4())


def test_challenge_check(alfax_server, bought, rules, public_rest):
    _, ask = best_bid_ask(public_rest, SYM)
    with _mk(alfax_server, bought["creds"]) as c:
        small = c.challenge_check(SYM, "BUY", "MARKET", rules[SYM].qty_for_notional(ask, 100))
        assert isinstance(small, ChallengeCheck) and small.decision == "allow" and small.allowed
        assert isinstance(small.maxSafeQty, Decimal) and small.maxSafeQty > small.requestedQty
        assert small.roomDaily > 0 and small.roomTotal >= small.roomDaily and isinstance(small.proposedRisk, Decimal)
        big = rules[SYM].qty_for_notional(ask, 40_000)
        stop = rules[SYM].round_price(ask * D("0.97"))
        risky = c.challenge_check(SYM, "BUY", "LIMIT", big, price=rules[SYM].round_price(ask), stop_price=stop,
                                  timeInForce="GTC")
        assert risky.decision in ("reduce", "block") and not risky.allowed
        assert risky.requestedQty == big and risky.maxSafeQty < big
        assert risky.roomDailyAfter < 0 or risky.roomTotalAfter < 0
        with pytest.raises(TypeError):
            c.challenge_check(SYM, "BUY", "MARKET", 0.01)


def test_payout_eligibility_and_payouts_on_a_stage_1_account(alfax_server, bought, operator_client):
    with _mk(alfax_server, bought["creds"]) as c:
        el = c.payout_eligibility()
        assert isinstance(el, PayoutEligibility) and el.available == 0 and el.blockers and not el.eligible
        cid = c.challenge_status().challengeId
        p = c.request_payout(challenge_id=cid, amount=D("100"))
        assert isinstance(p, PayoutCreated) and p.status == "requested" and isinstance(p.payoutId, uuid.UUID)
        state = c.get_payout(p.payoutId)
        assert isinstance(state, PayoutState) and state.Status == "requested" and state.PayoutID == p.payoutId
        with pytest.raises(AlfaxAPIError) as e:
            c.approve_payout(p.payoutId)  # a trader key is not an operator key
        assert e.value.status == 403
        assert isinstance(operator_client.approve_payout(p.payoutId), dict)
        state = c.get_payout(p.payoutId)
        assert state.Status == "rejected" and "exceeds available" in state.FailReason and state.TxRef == ""
        p2 = c.request_payout(challenge_id=cid, amount="60")
        assert isinstance(operator_client.reject_payout(p2.payoutId, "sdk test: not eligible"), dict)
        state = c.get_payout(str(p2.payoutId))
        assert state.Status == "rejected" and "sdk test: not eligible" in state.FailReason
        with pytest.raises(TypeError):
            c.request_payout(challenge_id=cid, amount=100.0)


def test_payout_on_a_funded_account_without_profit(alfax_server, operator_rest, operator_client):
    """A FUNDED account's balance moves only by trading (operator transfers are refused: they would count as
    profit), so with no profit yet every payout is rejected at approval. The paid path (profit from real price
    moves) is covered end to end in tests/integration/test_challenge_e2e.py."""
    acc = operator_rest.ok("POST", "/alfax/admin/accounts", {"balance": "0", "alias": "sdk-funded"})
    operator_rest.ok("POST", "/alfax/admin/challenges/start",
                     {"accountId": acc["accountId"], "productId": PRODUCT, "stage": "FUNDED"})
    r = operator_rest.signed("POST", "/alfax/admin/accounts/fund", {"accountId": acc["accountId"], "amount": "1000"})
    assert r.status_code == 400 and r.json()["code"] == -4611
    with Client(api_key=acc["apiKey"], api_secret=acc["secretKey"], base_url=alfax_server.base_url) as c:
        st = c.challenge_status()
        assert st.stage == "FUNDED" and st.startBalance == st.currentEquity
        el = c.payout_eligibility()
        assert not el.eligible and el.available == D("0") and any("below the minimum" in b for b in el.blockers)
        over = c.request_payout(challenge_id=st.challengeId, amount="100")
        assert over.status == "requested"  # accepted at request, rejected at approval
        operator_client.approve_payout(over.payoutId)
        state = c.get_payout(over.payoutId)
        assert state.Status == "rejected" and "amount 100 USDT exceeds available 0 USDT" in state.FailReason
        assert state.TxRef == ""


def test_challenge_update_event_and_rule_rejection(alfax_server, bought, rules, public_rest):
    qty = min_qty(rules, public_rest, SYM, 100)
    with _mk(alfax_server, bought["creds"]) as c:
        lk = c.new_listen_key()

        async def go():
            async with UserStream(listen_key=lk, base_url=alfax_server.base_url) as s:
                c.new_order(symbol=SYM, side="BUY", type="MARKET", quantity=qty)
                async for evt in s.events():
                    if isinstance(evt, ChallengeUpdate):
                        return evt

        upd = asyncio.run(asyncio.wait_for(go(), 30))
        assert isinstance(upd, ChallengeStatus) and upd.e == "challengeUpdate" and isinstance(upd.E, int)
        assert upd.challengeId == bought["first"].challengeId and upd.reason
        assert isinstance(upd.currentEquity, Decimal) and isinstance(upd.maxDailyDrawdown, Decimal)
        assert parse_event({"e": "ACCOUNT_UPDATE", "a": {}}) == {"e": "ACCOUNT_UPDATE", "a": {}}
        with pytest.raises(OrderError) as e:
            c.change_leverage(symbol=SYM, leverage=20)  # above the product's 5x cap
        assert e.value.code == -2010
        _flatten(c)
        c.close_listen_key()


def test_async_client_challenge_methods(alfax_server, plain, operator, rules, public_rest):
    _, ask = best_bid_ask(public_rest, SYM)
    qty = rules[SYM].qty_for_notional(ask, 100)

    async def go():
        async with _mk(alfax_server, plain, AsyncClient) as buyer, _mk(alfax_server, operator, AsyncClient) as op:
            created = await buyer.create_challenge_purchase(product_id=PRODUCT)
            creds = await buyer.challenge_credentials(created.purchaseId)
            assert creds.apiKey and (await buyer.challenge_credentials(created.purchaseId)).apiKey is None
            async with AsyncClient(api_key=creds.apiKey, api_secret=creds.apiSecret,
                                   base_url=alfax_server.base_url) as c:
                st = await c.challenge_status()
                assert st.challengeId == creds.challengeId and isinstance(st.currentEquity, Decimal)
                assert (await c.challenge()).stage == (await c.get_challenge_status()).stage == "STAGE_1"
                assert (await c.challenge_rules()).productId == PRODUCT
                assert (await c.challenge_lifecycle(st.challengeId)).Status == "ACTIVE"
                assert (await c.challenge_check(SYM, "BUY", "MARKET", qty)).decision == "allow"
                assert (await c.payout_eligibility()).blockers
                p = await c.request_payout(challenge_id=st.challengeId, amount="100")
                assert (await c.get_payout(p.payoutId)).Status == "requested"
                await op.approve_payout(p.payoutId)
                assert (await c.get_payout(p.payoutId)).Status == "rejected"
                p2 = await c.request_payout(challenge_id=st.challengeId, amount="100")
                await op.reject_payout(p2.payoutId, "async reject")
                assert (await c.get_payout(p2.payoutId)).FailReason == "async reject"

    asyncio.run(go())
