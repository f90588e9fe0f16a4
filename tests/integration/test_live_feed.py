"""``alfax serve --feed binance`` against a loopback upstream: a second alfax server (replay feed) plays Binance.

Proves the live adapter end to end through the real processes: the follower's REST depth equals the upstream's at
the same ``lastUpdateId`` (one sequence from Binance's diff stream, §4.4), orders fill at the upstream's prices,
a silent upstream makes the symbol stale (orders rejected with -2010, cancels still work), and the follower
recovers by itself when the upstream comes back — also after the upstream is killed and restarted.
"""

from __future__ import annotations

import json
import os
import signal
import time
from decimal import Decimal

import httpx
import pytest

from alfax_harness import AlfaxServer, best_bid_ask, symbol_rules, wait_for_market

SYM = "BTCUSDT"
STALE_MS = 2000


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("livefeed")
    up = AlfaxServer(db_path=tmp / "upstream.db", speed=1.0)
    up.start()
    wait_for_market(up.base_url, timeout=60)
    cfg = tmp / "follower.json"
    cfg.write_text(json.dumps({"stale_after_ms": STALE_MS}))
    follower = AlfaxServer(db_path=tmp / "follower.db", extra_args=(
        "--feed", f"binance:{SYM}", "--binance-rest-url", up.base_url,
        "--binance-ws-url", f"ws://{up.host}:{up.port}", "--config", str(cfg)))
    follower.started_ms = int(time.time() * 1000)  # type: ignore[attr-defined]
    follower.start()
    try:
        wait_for_market(follower.base_url, symbols=(SYM,), timeout=60)
        yield up, follower
    finally:
        for s in (follower, up):
            if s.proc and s.proc.poll() is None:
                try:
                    os.kill(s.proc.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            s.stop()


def health(srv: AlfaxServer) -> dict:
    return httpx.get(srv.base_url + "/health", timeout=5, trust_env=False).json()


def wait_until(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def assert_same_book_at_same_update_id(r_up, r_f) -> None:
    """Poll both servers until their REST depth has the same lastUpdateId; the books must then be identical."""
    def same_id_books():
        a = r_up.get_public("/fapi/v1/depth", symbol=SYM, limit=20)
        b = r_f.get_public("/fapi/v1/depth", symbol=SYM, limit=20)
        return (a, b) if a["lastUpdateId"] == b["lastUpdateId"] else None

    a, b = wait_until(same_id_books, 20, "equal lastUpdateId on both servers")
    assert a["bids"] == b["bids"] and a["asks"] == b["asks"]


def test_follower_book_is_the_upstream_book_at_the_same_update_id(pair):
    up, follower = pair
    r_up, r_f = up.rest(), follower.rest()
    try:
        assert_same_book_at_same_update_id(r_up, r_f)
        # the mark price and funding rate come through markPrice@1s
        pa = r_up.get_public("/fapi/v1/premiumIndex", symbol=SYM)
        pb = r_f.get_public("/fapi/v1/premiumIndex", symbol=SYM)
        assert abs(Decimal(pa["markPrice"]) - Decimal(pb["markPrice"])) / Decimal(pa["markPrice"]) < Decimal("0.01")
        assert pb["lastFundingRate"] == pa["lastFundingRate"]
        # trades arrive as aggTrades with the upstream's ids
        wait_until(lambda: r_f.get_public("/fapi/v1/aggTrades", symbol=SYM, limit=5), 20, "aggTrades")
        up_ids = {t["a"] for t in r_up.get_public("/fapi/v1/aggTrades", symbol=SYM, limit=1000)}
        f_ids = [t["a"] for t in r_f.get_public("/fapi/v1/aggTrades", symbol=SYM, limit=5)]
        assert set(f_ids) <= up_ids
        assert health(follower)["feed"]["stale"] == []
    finally:
        r_up.close()
        r_f.close()


def test_klines_are_backfilled_from_the_upstream_rest_api(pair):
    """Before any live data could fill them, the follower answers klines?limit=… with the upstream's history."""
    up, follower = pair
    started = follower.started_ms
    r_up, r_f = up.rest(), follower.rest()
    try:
        for path, key, interval, n in (("/fapi/v1/klines", "symbol", "1m", 1000), ("/fapi/v1/klines", "symbol", "1h", 24),
                                       ("/fapi/v1/markPriceKlines", "symbol", "1m", 500),
                                       ("/fapi/v1/indexPriceKlines", "pair", "1h", 24)):
            step = 60_000 if interval == "1m" else 3_600_000
            end = started - started % step - 1  # candles closed before the follower started
            q = {key: SYM, "interval": interval, "limit": n, "endTime": end}
            a, b = r_up.get_public(path, **q), r_f.get_public(path, **q)
            assert len(a) == n and a == b, (path, interval, len(a), len(b))
    finally:
        r_up.close()
        r_f.close()


def test_orders_fill_at_upstream_prices(pair):
    up, follower = pair
    rest = follower.rest()
    try:
        rules = symbol_rules(rest)[SYM]
        bid, ask = best_bid_ask(rest, SYM)
        q = rules.qty_for_notional(ask, 200)
        r = rest.ok("POST", "/fapi/v1/order", {"symbol": SYM, "side": "BUY", "type": "MARKET", "quantity": str(q),
                                               "newOrderRespType": "RESULT"})
        assert r["status"] == "FILLED"
        avg = Decimal(r["avgPrice"])
        r_up = up.rest()
        try:
            _, ua = best_bid_ask(r_up, SYM)
        finally:
            r_up.close()
        assert abs(avg - ua) / ua < Decimal("0.005"), (avg, ua)
        rest.ok("POST", "/fapi/v1/order", {"symbol": SYM, "side": "SELL", "type": "MARKET", "quantity": str(q),
                                           "reduceOnly": "true"})
    finally:
        rest.close()


def test_silent_upstream_makes_the_symbol_stale_then_it_recovers(pair):
    up, follower = pair
    rest = follower.rest()
    try:
        rules = symbol_rules(rest)[SYM]
        bid, ask = best_bid_ask(rest, SYM)
        resting = rest.ok("POST", "/fapi/v1/order", {
            "symbol": SYM, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
            "price": str(rules.round_price(bid * Decimal("0.98"))), "quantity": str(rules.qty_for_notional(bid, 150))})
        os.kill(up.proc.pid, signal.SIGSTOP)
        try:
            wait_until(lambda: health(follower)["feed"]["stale"] == [SYM], STALE_MS / 1000 + 8, "stale")
            r = rest.signed("POST", "/fapi/v1/order", {"symbol": SYM, "side": "BUY", "type": "MARKET",
                                                      "quantity": str(rules.qty_for_notional(ask, 150))})
            assert r.status_code == 400 and r.json() == {
                "code": -2010,
                "msg": "Reference market feed for BTCUSDT is stale; orders for it are rejected until the feed "
                       "recovers."}
            # cancels still work while stale
            c = rest.ok("DELETE", "/fapi/v1/order", {"symbol": SYM, "orderId": resting["orderId"]})
            assert c["status"] == "CANCELED"
        finally:
            os.kill(up.proc.pid, signal.SIGCONT)
        wait_until(lambda: health(follower)["feed"]["stale"] == [], 20, "fresh again")
        r = rest.ok("POST", "/fapi/v1/order", {"symbol": SYM, "side": "BUY", "type": "MARKET",
                                               "quantity": str(rules.qty_for_notional(ask, 150))})
        assert r["orderId"] > 0
        rest.ok("POST", "/fapi/v1/order", {"symbol": SYM, "side": "SELL", "type": "MARKET",
                                           "quantity": r["origQty"], "reduceOnly": "true"})
    finally:
        rest.close()


def test_upstream_killed_and_restarted_follower_reconnects_and_resyncs(pair):
    up, follower = pair
    up.kill(signal.SIGKILL)
    wait_until(lambda: health(follower)["feed"]["stale"] == [SYM], STALE_MS / 1000 + 10, "stale after kill")
    up.start()  # same port, same database
    wait_until(lambda: health(follower)["feed"]["stale"] == [], 40, "fresh after the upstream restarted")
    r_up, r_f = up.rest(), follower.rest()
    try:
        assert_same_book_at_same_update_id(r_up, r_f)
    finally:
        r_up.close()
        r_f.close()
