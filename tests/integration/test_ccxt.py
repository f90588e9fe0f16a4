"""ccxt ``binanceusdm`` (sync) against a live alfax on loopback, with only the base URLs changed."""

from __future__ import annotations

import time
from decimal import Decimal

import ccxt
import pytest

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
TAKER = Decimal("0.0005")
MAKER = Decimal("0.0002")


def ccxt_urls(base: str) -> dict:
    return {
        "fapiPublic": f"{base}/fapi/v1",
        "fapiPublicV2": f"{base}/fapi/v2",
        "fapiPublicV3": f"{base}/fapi/v3",
        "fapiPrivate": f"{base}/fapi/v1",
        "fapiPrivateV2": f"{base}/fapi/v2",
        "fapiPrivateV3": f"{base}/fapi/v3",
        "fapiData": f"{base}/futures/data",
        "sapi": f"{base}/sapi/v1",
    }


def make_exchange(base: str, key: str | None, secret: str | None, *, default_options: bool = False,
                  extra_options: dict | None = None) -> ccxt.binanceusdm:
    options: dict = {} if default_options else {
        "fetchCurrencies": False,
        "fetchMargins": False,
        "fetchMarkets": {"types": ["linear"]},
        "fetchOpenOrders": {"warnWithoutSymbol": False},
    }
    options.update(extra_options or {})
    cfg = {"urls": {"api": ccxt_urls(base)}, "options": options, "enableRateLimit": False, "timeout": 20000}
    if key:
        cfg["apiKey"], cfg["secret"] = key, secret
    ex = ccxt.binanceusdm(cfg)
    # loopback only: anything not explicitly overridden would go to binance.com -> send it to a dead path on
    # the venue instead, so an unexpected call fails loudly (JSON 404) and never leaves this host
    for k, v in list(ex.urls["api"].items()):
        if isinstance(v, str) and k not in cfg["urls"]["api"]:
            ex.urls["api"][k] = f"{base}/__unexpected__/{k}"
    return ex


@pytest.fixture()
def ex(alfax_server, fresh_account):
    e = make_exchange(alfax_server.base_url, fresh_account.api_key, fresh_account.secret,
                      extra_options={"setMarginMode": {"throwMarginModeAlreadySet": True}})
    e.load_markets()
    e.alfax_account = fresh_account
    return e


@pytest.fixture(scope="module")
def pub(alfax_server):
    e = make_exchange(alfax_server.base_url, None, None)
    e.load_markets()
    return e


def D(x) -> Decimal:
    return Decimal(str(x))


def small_amount(ex, symbol: str, notional: float = 15.0) -> float:
    """Smallest step-aligned amount worth at least ``notional`` USDT (above MIN_NOTIONAL)."""
    px = ex.fetch_order_book(symbol, 5)["asks"][0][0]
    step = D(ex.markets[symbol]["precision"]["amount"])
    qty = (D(notional) / D(px) / step).to_integral_value(rounding="ROUND_UP") * step
    return float(max(qty, D(ex.markets[symbol]["limits"]["amount"]["min"])))


def wallet(ex) -> Decimal:
    bal = ex.fetch_balance()
    usdt = [a for a in bal["info"]["assets"] if a["asset"] == "USDT"][0]
    return D(usdt["walletBalance"])


def position(ex, symbol: str):
    rows = [p for p in ex.fetch_positions([symbol]) if p["symbol"] == symbol and (p["contracts"] or 0) > 0]
    return rows[0] if rows else None


# ---------------------------------------------------------------------------------------------------- public data


def test_load_markets_and_time(pub):
    m = pub.markets[BTC]
    assert m["id"] == "BTCUSDT" and m["swap"] and m["linear"] and m["settle"] == "USDT"
    assert m["precision"]["amount"] == 0.001 and m["precision"]["price"] == 0.1
    assert m["limits"]["cost"]["min"] == 5
    assert m["active"] is True
    assert ETH in pub.markets
    server = pub.fetch_time()
    assert abs(server - int(time.time() * 1000)) < 5000


def test_default_options_serve_sapi_probes(alfax_server, fresh_account):
    """With keys and ccxt defaults, load_markets first probes /sapi/v1/capital/config/getall and margin/allPairs."""
    e = make_exchange(alfax_server.base_url, fresh_account.api_key, fresh_account.secret, default_options=True)
    markets = e.load_markets()
    assert BTC in markets and ETH in markets
    # and the key still trades/reads normally with default options
    assert D(e.fetch_balance()["USDT"]["total"]) == Decimal("10000")


def test_tickers_book_trades(pub):
    t = pub.fetch_ticker(BTC)
    assert t["symbol"] == BTC and t["last"] > 0 and t["high"] >= t["low"] > 0
    ts = pub.fetch_tickers([BTC, ETH])
    assert set(ts) >= {BTC, ETH}
    ob = pub.fetch_order_book(BTC, 20)
    assert ob["bids"] and ob["asks"]
    assert ob["bids"][0][0] < ob["asks"][0][0]
    assert all(ob["bids"][i][0] > ob["bids"][i + 1][0] for i in range(len(ob["bids"]) - 1))
    assert all(ob["asks"][i][0] < ob["asks"][i + 1][0] for i in range(len(ob["asks"]) - 1))
    assert ob["nonce"] is not None
    ba = pub.fetch_bids_asks([BTC])
    assert ba[BTC]["bid"] > 0 and ba[BTC]["ask"] >= ba[BTC]["bid"]
    trades = pub.fetch_trades(BTC, limit=50)
    assert trades, "aggTrades empty after warm-up"
    assert all(tr["price"] > 0 and tr["amount"] > 0 for tr in trades)
    assert trades == sorted(trades, key=lambda x: x["timestamp"])
    lp = pub.fetch_last_prices([BTC])
    assert lp[BTC]["price"] > 0


def test_ohlcv_including_1500_and_mark(pub):
    c = pub.fetch_ohlcv(BTC, "1m", limit=10)
    assert 0 < len(c) <= 10
    for ts, o, h, l, cl, v in c:
        assert l <= o <= h and l <= cl <= h and v >= 0
    assert [x[0] for x in c] == sorted(x[0] for x in c)
    assert all(b[0] - a[0] == 60_000 for a, b in zip(c, c[1:]))
    big = pub.fetch_ohlcv(BTC, "1m", limit=1500)
    assert 0 < len(big) <= 1500
    h1 = pub.fetch_ohlcv(BTC, "1h", limit=1500)
    assert 0 < len(h1) <= 1500
    mark = pub.fetch_ohlcv(BTC, "1m", limit=5, params={"price": "mark"})
    assert mark and all(row[1] > 0 for row in mark)
    index = pub.fetch_ohlcv(BTC, "1m", limit=5, params={"price": "index"})
    assert index and all(row[1] > 0 for row in index)


def test_funding_and_mark(pub):
    fr = pub.fetch_funding_rate(BTC)
    assert fr["markPrice"] > 0 and fr["indexPrice"] > 0
    assert fr["fundingRate"] is not None and abs(fr["fundingRate"]) < 0.01
    assert fr["fundingTimestamp"] and fr["fundingTimestamp"] > int(time.time() * 1000) - 60_000
    frs = pub.fetch_funding_rates([BTC, ETH])
    assert set(frs) >= {BTC, ETH}
    hist = pub.fetch_funding_rate_history(BTC, limit=10)
    assert isinstance(hist, list)
    for h in hist:
        assert h["symbol"] == BTC and h["timestamp"] > 0
    mp = pub.fetch_mark_price(BTC)
    assert float(mp.get("markPrice") or mp["info"]["markPrice"]) > 0
    oi = pub.fetch_open_interest(BTC)
    assert oi["symbol"] == BTC


def test_leverage_tiers_and_fee(ex):
    tiers = ex.fetch_leverage_tiers([BTC])
    t = tiers[BTC]
    assert t[0]["maxLeverage"] == 125 and t[0]["minNotional"] == 0 and t[0]["maxNotional"] == 50000
    assert t[0]["maintenanceMarginRate"] == 0.004
    assert float(t[1]["info"]["cum"]) == 50
    fee = ex.fetch_trading_fee(BTC)
    assert fee["maker"] == 0.0002 and fee["taker"] == 0.0005


# ---------------------------------------------------------------------------------------------------- account


def test_balance_leverage_margin_mode(ex):
    bal = ex.fetch_balance()
    assert D(bal["USDT"]["total"]) == Decimal("10000")
    assert D(bal["USDT"]["free"]) == Decimal("10000")
    assert D(bal["USDT"]["used"]) == 0
    lev = ex.set_leverage(7, BTC)
    assert int(lev["leverage"]) == 7 and lev["symbol"] == "BTCUSDT"
    ex.set_margin_mode("isolated", BTC)
    with pytest.raises(ccxt.MarginModeAlreadySet):
        ex.set_margin_mode("isolated", BTC)
    # default ccxt behaviour tolerates it (what Freqtrade relies on)
    ex.options["setMarginMode"]["throwMarginModeAlreadySet"] = False
    res = ex.set_margin_mode("isolated", BTC)
    assert res["code"] == -4046
    ex.set_margin_mode("cross", BTC)
    assert ex.fetch_position_mode(BTC)["hedged"] is False


def test_market_order_position_fees_and_close(ex):
    amt = small_amount(ex, BTC)
    ex.set_leverage(5, BTC)
    o = ex.create_order(BTC, "market", "buy", amt)
    assert o["status"] == "closed", o
    assert o["filled"] == amt and o["amount"] == amt and o["side"] == "buy"
    assert o["average"] > 0 and o["cost"] == pytest.approx(o["average"] * amt, rel=1e-6)

    fetched = ex.fetch_order(o["id"], BTC)
    assert fetched["status"] == "closed" and fetched["filled"] == amt

    trades = ex.fetch_my_trades(BTC)
    mine = [t for t in trades if t["order"] == o["id"]]
    assert mine and sum(D(t["amount"]) for t in mine) == D(amt)
    fee_total = sum(D(t["fee"]["cost"]) for t in mine)
    notional = sum(D(t["price"]) * D(t["amount"]) for t in mine)
    assert fee_total == (notional * TAKER).quantize(Decimal("1e-8")) or abs(fee_total - notional * TAKER) < Decimal("1e-7")
    assert all(t["fee"]["currency"] == "USDT" and not t["takerOrMaker"] == "maker" for t in mine)
    assert wallet(ex) == Decimal("10000") - fee_total

    p = position(ex, BTC)
    assert p is not None, "long position missing from positionRisk"
    assert p["side"] == "long" and p["contracts"] == amt
    assert p["entryPrice"] == pytest.approx(o["average"], rel=1e-6)
    assert p["marginMode"] == "cross"
    assert p["notional"] > 0

    # close with reduceOnly
    c = ex.create_order(BTC, "market", "sell", amt, params={"reduceOnly": True})
    assert c["status"] == "closed" and c["filled"] == amt and c["reduceOnly"] is True
    assert position(ex, BTC) is None
    # a second reduceOnly has nothing to reduce
    with pytest.raises(ccxt.ExchangeError) as ei:
        ex.create_order(BTC, "market", "sell", amt, params={"reduceOnly": True})
    assert "-2022" in str(ei.value)

    trades = ex.fetch_my_trades(BTC)
    close_trades = [t for t in trades if t["order"] == c["id"]]
    assert close_trades
    realized = sum(D(t["info"]["realizedPnl"]) for t in close_trades)
    expected = sum((D(t["price"]) - D(o["average"])) * D(t["amount"]) for t in close_trades)
    assert abs(realized - expected) < Decimal("0.0001")
    fees = sum(D(t["fee"]["cost"]) for t in trades)
    assert abs(wallet(ex) - (Decimal("10000") - fees + realized)) < Decimal("1e-7")

    ledger = ex.fetch_ledger("USDT")
    types = {e["info"]["incomeType"] for e in ledger}
    assert "COMMISSION" in types
    comm = sum(D(e["info"]["income"]) for e in ledger if e["info"]["incomeType"] == "COMMISSION")
    assert comm == -fees
    if realized != 0:
        assert "REALIZED_PNL" in types
    assert isinstance(ex.fetch_funding_history(BTC), list)


def test_short_isolated_liquidation_price_and_margin(ex):
    amt = small_amount(ex, ETH, 30)
    ex.set_margin_mode("isolated", ETH)
    ex.set_leverage(5, ETH)
    o = ex.create_order(ETH, "market", "sell", amt)
    assert o["status"] == "closed" and o["filled"] == amt
    p = position(ex, ETH)
    assert p["side"] == "short" and p["contracts"] == amt and p["marginMode"] == "isolated"
    assert p["liquidationPrice"] > p["entryPrice"], p
    assert p["liquidationPrice"] < p["entryPrice"] * 1.25
    assert p["leverage"] in (None, 5, 5.0) or int(p["leverage"]) == 5
    m0 = D(p["info"]["isolatedWallet"])
    assert m0 > 0
    r = ex.add_margin(ETH, 10)
    assert r["type"] == "add" and r["amount"] == 10
    p2 = position(ex, ETH)
    assert D(p2["info"]["isolatedWallet"]) == m0 + 10
    assert p2["liquidationPrice"] > p["liquidationPrice"]  # more margin pushes a short's liquidation up
    r = ex.reduce_margin(ETH, 5)
    assert r["type"] == "reduce" and r["amount"] == 5
    p3 = position(ex, ETH)
    assert D(p3["info"]["isolatedWallet"]) == m0 + 5
    # closing via reduceOnly buy
    c = ex.create_order(ETH, "market", "buy", amt, params={"reduceOnly": True})
    assert c["status"] == "closed"
    assert position(ex, ETH) is None


def test_limit_orders_edit_cancel_batch(ex):
    ob = ex.fetch_order_book(BTC, 5)
    bid = ob["bids"][0][0]
    px = float(ex.price_to_precision(BTC, bid * 0.97))
    amt = small_amount(ex, BTC)
    o = ex.create_order(BTC, "limit", "buy", amt, px)
    assert o["status"] == "open" and o["price"] == px and o["filled"] == 0 and o["timeInForce"] == "GTC"
    assert ex.fetch_order(o["id"], BTC)["status"] == "open"
    opens = ex.fetch_open_orders(BTC)
    assert [x["id"] for x in opens] == [o["id"]]
    assert [x["id"] for x in ex.fetch_open_orders()] == [o["id"]]  # no symbol (warnWithoutSymbol False)
    bal = ex.fetch_balance()
    assert D(bal["USDT"]["used"]) > 0, "open order initial margin must be reserved"

    px2 = float(ex.price_to_precision(BTC, bid * 0.96))
    e = ex.edit_order(o["id"], BTC, "limit", "buy", amt, px2)
    assert e["id"] == o["id"] and e["price"] == px2 and e["status"] == "open"
    assert ex.fetch_order(o["id"], BTC)["price"] == px2

    c = ex.cancel_order(o["id"], BTC)
    assert c["status"] == "canceled"
    assert ex.fetch_order(o["id"], BTC)["status"] == "canceled"
    assert ex.fetch_open_orders(BTC) == []
    assert D(ex.fetch_balance()["USDT"]["used"]) == 0

    # batch create (2 orders) then batch cancel
    ask = ob["asks"][0][0]
    batch = ex.create_orders([
        {"symbol": BTC, "type": "limit", "side": "buy", "amount": amt, "price": px},
        {"symbol": BTC, "type": "limit", "side": "sell", "amount": amt,
         "price": float(ex.price_to_precision(BTC, ask * 1.03))},
    ])
    assert len(batch) == 2 and all(b["status"] == "open" for b in batch), batch
    assert {b["side"] for b in batch} == {"buy", "sell"}
    ids = [b["id"] for b in batch]
    cancelled = ex.cancel_orders(ids, BTC)
    assert sorted(x["id"] for x in cancelled) == sorted(ids)
    assert all(x["status"] == "canceled" for x in cancelled)

    # cancel_all
    for _ in range(2):
        ex.create_order(BTC, "limit", "buy", amt, px)
    assert len(ex.fetch_open_orders(BTC)) == 2
    ex.cancel_all_orders(BTC)
    assert ex.fetch_open_orders(BTC) == []
    closed = ex.fetch_orders(BTC)
    assert sum(1 for x in closed if x["status"] == "canceled") >= 5

    # a marketable limit fills immediately (taker) and reaches 'closed'
    lim = ex.create_order(BTC, "limit", "buy", amt, float(ex.price_to_precision(BTC, ask * 1.01)))
    deadline = time.time() + 5
    while lim["status"] != "closed" and time.time() < deadline:
        time.sleep(0.2)
        lim = ex.fetch_order(lim["id"], BTC)
    assert lim["status"] == "closed" and lim["filled"] == amt
    assert lim["average"] <= float(ex.price_to_precision(BTC, ask * 1.01))
    ex.create_order(BTC, "market", "sell", amt, params={"reduceOnly": True})


def test_conditional_orders_via_algo(ex):
    amt = small_amount(ex, BTC)
    o = ex.create_order(BTC, "market", "buy", amt)
    assert o["status"] == "closed"
    last = ex.fetch_order_book(BTC, 5)["bids"][0][0]

    sl = ex.create_order(BTC, "STOP_MARKET", "sell", amt, None,
                         {"triggerPrice": float(ex.price_to_precision(BTC, last * 0.95)), "reduceOnly": True})
    assert sl["status"] == "open" and sl["id"], sl
    assert sl["info"].get("algoId") and sl["info"].get("algoType") == "CONDITIONAL"
    assert sl["triggerPrice"] == float(ex.price_to_precision(BTC, last * 0.95))
    assert sl["reduceOnly"] is True and sl["info"]["orderType"] == "STOP_MARKET"
    assert sl["type"] == "market"  # ccxt unifies STOP_MARKET to market + triggerPrice

    tp = ex.create_order(BTC, "TAKE_PROFIT_MARKET", "sell", amt, None,
                         {"triggerPrice": float(ex.price_to_precision(BTC, last * 1.05)), "reduceOnly": True})
    assert tp["status"] == "open"

    got = ex.fetch_order(sl["id"], BTC, {"trigger": True})
    assert got["id"] == sl["id"] and got["status"] == "open"
    assert got["info"]["algoStatus"] == "NEW"
    opens = ex.fetch_open_orders(BTC, params={"trigger": True})
    assert {x["id"] for x in opens} == {sl["id"], tp["id"]}
    assert ex.fetch_open_orders(BTC) == []  # regular open orders are unaffected

    cx = ex.cancel_order(sl["id"], BTC, {"trigger": True})
    assert cx["id"] == sl["id"]
    got = ex.fetch_order(sl["id"], BTC, {"trigger": True})
    assert got["status"] == "canceled" and got["info"]["algoStatus"] == "CANCELED"

    trail = ex.create_order(BTC, "market", "sell", amt, None, {"trailingPercent": 1.0, "reduceOnly": True})
    assert trail["status"] == "open", trail
    assert trail["info"].get("orderType") == "TRAILING_STOP_MARKET"
    assert D(trail["info"].get("callbackRate")) == 1

    ex.cancel_all_orders(BTC, {"trigger": True})
    assert ex.fetch_open_orders(BTC, params={"trigger": True}) == []
    for oid in (tp["id"], trail["id"]):
        assert ex.fetch_order(oid, BTC, {"trigger": True})["status"] == "canceled"

    # a stop that has already been crossed would trigger immediately -> rejected
    with pytest.raises(ccxt.ExchangeError) as ei:
        ex.create_order(BTC, "STOP_MARKET", "sell", amt, None,
                        {"triggerPrice": float(ex.price_to_precision(BTC, last * 1.04)), "reduceOnly": True})
    assert "-2021" in str(ei.value)
    ex.create_order(BTC, "market", "sell", amt, params={"reduceOnly": True})
    assert position(ex, BTC) is None


def test_stop_triggers_and_reports_actual_order(ex):
    """A stop placed close to the market: once triggered, algoStatus leaves NEW and actualOrderId points at a
    real order (Freqtrade follows it). Skipped when the replay market does not move enough within 40 s."""
    amt = small_amount(ex, BTC)
    ex.create_order(BTC, "market", "buy", amt)
    tick = ex.markets[BTC]["precision"]["price"]
    sl = None
    for k in range(1, 8):  # one tick under the last price; step down if the market got there first (-2021)
        last = float(ex.fapiPublicV2GetTickerPrice({"symbol": "BTCUSDT"})["price"])
        trig = float(ex.price_to_precision(BTC, last - k * tick))
        try:
            sl = ex.create_order(BTC, "STOP_MARKET", "sell", amt, None,
                                 {"triggerPrice": trig, "reduceOnly": True, "workingType": "CONTRACT_PRICE"})
            break
        except ccxt.ExchangeError as e:
            assert "-2021" in str(e), e
    if sl is None:
        pytest.skip("market kept moving through the trigger before placement")
    deadline = time.time() + 40
    info = None
    while time.time() < deadline:
        info = ex.fetch_order(sl["id"], BTC, {"trigger": True})["info"]
        if info["algoStatus"] not in ("NEW",):
            break
        time.sleep(1)
    if info["algoStatus"] == "NEW":
        ex.cancel_order(sl["id"], BTC, {"trigger": True})
        ex.create_order(BTC, "market", "sell", amt, params={"reduceOnly": True})
        pytest.skip("last price did not trade down one tick within 40 s")
    assert info["algoStatus"] in ("TRIGGERED", "FINISHED", "TRIGGERING"), info
    assert str(info.get("actualOrderId", "")) not in ("", "0", "None")
    actual = ex.fetch_order(str(info["actualOrderId"]), BTC)
    assert actual["side"] == "sell" and actual["reduceOnly"] is True
    deadline = time.time() + 10
    while position(ex, BTC) is not None and time.time() < deadline:
        time.sleep(0.5)
    assert position(ex, BTC) is None


# ---------------------------------------------------------------------------------------------------- errors


def test_error_mapping(alfax_server, ex):
    poor = alfax_server.create_account("20")
    e = make_exchange(alfax_server.base_url, poor.api_key, poor.secret)
    e.load_markets()
    e.set_leverage(1, BTC)
    amt = small_amount(e, BTC, 200)
    with pytest.raises(ccxt.ExchangeError) as ei:  # -2019 maps to InsufficientFunds only at real binance URLs
        e.create_order(BTC, "market", "buy", amt)
    assert '"code":-2019' in str(ei.value).replace(" ", "") and "Margin is insufficient." in str(ei.value)
    assert D(e.fetch_balance()["USDT"]["total"]) == 20

    with pytest.raises(ccxt.OrderNotFound):
        ex.fetch_order("987654321", BTC)
    with pytest.raises(ccxt.OrderNotFound):
        ex.cancel_order("987654321", BTC)
    with pytest.raises(ccxt.BadSymbol):
        ex.fetch_ticker("DOGE/USDT:USDT")  # client-side: unknown market
    with pytest.raises(ccxt.BadSymbol):
        ex.fapiPublicGetTickerPrice({"symbol": "DOGEUSDT"})  # server-side -1121
    with pytest.raises(ccxt.BadRequest):
        ex.fapiPrivatePostOrder({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"})  # -1102 quantity
    bad = make_exchange(alfax_server.base_url, ex.apiKey, "not-the-secret")
    with pytest.raises(ccxt.AuthenticationError):
        bad.fapiPrivateV3GetAccount()


def test_ccxt_binance_freqtrade_style_without_options(alfax_server, fresh_account):
    """Freqtrade drives ccxt.binance (defaultType swap). Without the recommended options, load_markets also
    probes /api/v3/exchangeInfo, /dapi/v1/exchangeInfo and the sapi currency/margin endpoints: all must be served."""
    base = alfax_server.base_url
    urls = dict(ccxt_urls(base))
    urls.update({"public": f"{base}/api/v3", "private": f"{base}/api/v3", "dapiPublic": f"{base}/dapi/v1",
                 "dapiPrivate": f"{base}/dapi/v1", "dapiPrivateV2": f"{base}/dapi/v2", "dapiData": f"{base}/futures/data"})
    ex = ccxt.binance({"apiKey": fresh_account.api_key, "secret": fresh_account.secret, "enableRateLimit": False,
                       "urls": {"api": urls}, "options": {"defaultType": "swap", "fetchMargins": True}})
    for k, v in list(ex.urls["api"].items()):
        if isinstance(v, str) and k not in urls:
            ex.urls["api"][k] = f"{base}/__unexpected__/{k}"
    markets = ex.load_markets()
    assert markets[BTC]["swap"] and markets[BTC]["id"] == "BTCUSDT"
    assert markets[BTC]["info"]["deliveryDate"] == markets[ETH]["info"]["deliveryDate"]  # Freqtrade delisting check
    bal = ex.fetch_balance()
    assert D(bal["USDT"]["total"]) == 10000
    assert ex.fetch_position_mode(BTC)["hedged"] is False
    assert ex.fapiPrivateGetMultiAssetsMargin()["multiAssetsMargin"] is False
    tiers = ex.fetch_leverage_tiers([BTC])[BTC]
    assert all("cum" in t["info"] for t in tiers)
