"""binance-futures-connector ``UMFuturesWebsocketClient`` (unmodified, deprecated upstream) against ``alfax serve``.

It connects to the legacy unrouted URLs ``<root>/ws`` (raw payloads) or ``<root>/stream`` (``{"stream","data"}``)
and subscribes with ``{"method":"SUBSCRIBE","params":[...],"id":<13-digit ms timestamp>}``; user data is
subscribed by sending the listenKey itself as a stream name (contract §4.1, §5). REST goes through ``UMFutures``
with ``base_url`` = the venue; both URLs are checked to be the loopback venue.
"""

from __future__ import annotations

import json
import queue
import time
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from binance.um_futures import UMFutures
from binance.websocket.um_futures.websocket_client import UMFuturesWebsocketClient

from alfax_harness import best_bid_ask

D = Decimal

pytestmark = pytest.mark.timeout(60)


class Feed:
    """A connector WebSocket client whose callback thread feeds a queue; ``wait`` reads it with a deadline."""

    def __init__(self, base_url: str, *, combined: bool = False) -> None:
        self.q: queue.Queue = queue.Queue()
        self.errors: list = []
        self.seen: list = []
        host = urlsplit(base_url).netloc
        self.client = UMFuturesWebsocketClient(
            stream_url=f"ws://{host}", is_combined=combined,
            on_message=lambda _sm, m: self.q.put(json.loads(m)),
            on_error=lambda _sm, e: self.errors.append(e),
        )
        url = self.client.socket_manager.stream_url
        assert urlsplit(url).netloc == host and url.endswith("/stream" if combined else "/ws"), url

    def wait(self, pred, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; errors={self.errors} last={self.seen[-3:]}")
            try:
                m = self.q.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            self.seen.append(m)
            if pred(m):
                return m

    def reply(self, req_id, timeout: float = 5.0) -> dict:
        """The control-frame answer carrying ``id`` (data frames arriving meanwhile are kept in ``seen``)."""
        return self.wait(lambda m: isinstance(m, dict) and "id" in m and m.get("id") == req_id
                         and ("result" in m or "error" in m), timeout, f"the reply to id {req_id}")

    def last_reply(self, t0: int, t1: int, timeout: float = 5.0) -> dict:
        """Reply to a request whose id the connector generated (a ms timestamp taken between t0 and t1)."""
        return self.wait(lambda m: isinstance(m, dict) and "result" in m and isinstance(m.get("id"), int)
                         and t0 <= m["id"] <= t1, timeout, f"a reply with an id in [{t0}, {t1}]")

    def stop(self) -> None:
        self.client.stop()


def now_ms() -> int:
    return int(time.time() * 1000)


def with_generated_id(feed: Feed, call) -> dict:
    """Run a connector method that picks its own id (``get_timestamp()``) and return the server's answer."""
    t0 = now_ms()
    call()
    t1 = now_ms()
    r = feed.last_reply(t0, t1)
    assert len(str(r["id"])) == 13  # the 13-digit millisecond id came back as sent, as an integer
    return r


@pytest.fixture()
def feed(alfax_server):
    f = Feed(alfax_server.base_url)
    yield f
    f.stop()


# ------------------------------------------------------------------------------------------------ market data


def test_legacy_ws_methods_raw_subscribe_and_list(feed):
    """agg_trade / book_ticker / partial_book_depth via the connector's methods, a raw SUBSCRIBE frame, then
    LIST_SUBSCRIPTIONS (ids echoed exactly), UNSUBSCRIBE, and bare payloads of each subscribed kind."""
    assert with_generated_id(feed, lambda: feed.client.agg_trade(symbol="btcusdt"))["result"] is None
    assert with_generated_id(feed, lambda: feed.client.book_ticker(symbol="btcusdt"))["result"] is None
    assert with_generated_id(
        feed, lambda: feed.client.partial_book_depth(symbol="btcusdt", level=5, speed=100))["result"] is None
    feed.client.send({"method": "SUBSCRIBE", "params": ["ethusdt@markPrice@1s"], "id": 4242})
    assert feed.reply(4242) == {"result": None, "id": 4242}

    explicit = now_ms()  # what the connector would send; passed explicitly to check the exact echo
    feed.client.list_subscribe(id=explicit)
    lst = feed.reply(explicit)
    assert lst["id"] == explicit and isinstance(lst["id"], int)
    assert sorted(lst["result"]) == sorted(["btcusdt@aggTrade", "btcusdt@bookTicker", "btcusdt@depth5@100ms",
                                            "ethusdt@markPrice@1s"])

    kinds = {}

    def collect(m):
        if isinstance(m, dict) and "e" in m:
            assert "stream" not in m  # /ws delivers the bare payload
            kinds.setdefault((m["e"], m.get("s")), m)
        return {("aggTrade", "BTCUSDT"), ("bookTicker", "BTCUSDT"), ("depthUpdate", "BTCUSDT"),
                ("markPriceUpdate", "ETHUSDT")} <= set(kinds)

    for m in feed.seen:
        collect(m)
    feed.wait(collect, 15, "one frame of each subscribed stream")
    agg = kinds[("aggTrade", "BTCUSDT")]
    assert D(agg["p"]) > 0 and D(agg["q"]) > 0 and agg["f"] <= agg["a"] <= agg["l"]
    bt = kinds[("bookTicker", "BTCUSDT")]
    assert D(bt["b"]) < D(bt["a"])
    dep = kinds[("depthUpdate", "BTCUSDT")]
    assert len(dep["b"]) == 5 and len(dep["a"]) == 5 and D(dep["b"][0][0]) < D(dep["a"][0][0])
    mp = kinds[("markPriceUpdate", "ETHUSDT")]
    assert D(mp["p"]) < D(bt["b"]) / 5  # ETH's mark, not BTC's

    # UNSUBSCRIBE through the method (action=UNSUBSCRIBE), then no more aggTrade frames
    r = with_generated_id(feed, lambda: feed.client.agg_trade(symbol="btcusdt",
                                                              action=UMFuturesWebsocketClient.ACTION_UNSUBSCRIBE))
    assert r["result"] is None
    lst2 = with_generated_id(feed, lambda: feed.client.list_subscribe())
    assert "btcusdt@aggTrade" not in lst2["result"] and "btcusdt@bookTicker" in lst2["result"]
    n_before = len(feed.seen)
    feed.wait(lambda m: isinstance(m, dict) and m.get("e") == "markPriceUpdate", 5, "more frames")
    time.sleep(1.5)
    while not feed.q.empty():
        feed.seen.append(feed.q.get())
    late = [m for m in feed.seen[n_before:] if isinstance(m, dict) and m.get("e") == "aggTrade"]
    assert not late, f"aggTrade frames after UNSUBSCRIBE: {late[:2]}"
    assert not feed.errors


def test_legacy_combined_stream(alfax_server):
    """``is_combined=True`` -> ``<root>/stream``: frames come wrapped as ``{"stream": name, "data": payload}``;
    an unknown method is answered with an error carrying the request id."""
    f = Feed(alfax_server.base_url, combined=True)
    try:
        assert with_generated_id(f, lambda: f.client.book_ticker(symbol="ethusdt"))["result"] is None
        assert with_generated_id(f, lambda: f.client.agg_trade(symbol="ethusdt"))["result"] is None
        names = set()

        def wrapped(m):
            if isinstance(m, dict) and "stream" in m:
                assert m["data"]["s"] == "ETHUSDT"
                assert m["data"]["e"] == {"ethusdt@bookTicker": "bookTicker", "ethusdt@aggTrade": "aggTrade"}[
                    m["stream"]]
                names.add(m["stream"])
            return names == {"ethusdt@bookTicker", "ethusdt@aggTrade"}

        f.wait(wrapped, 15, "wrapped bookTicker and aggTrade frames")
        f.client.send({"method": "NOPE", "id": 77})
        err = f.reply(77)
        assert err["id"] == 77 and isinstance(err["error"]["code"], int) and err["error"]["msg"]
        assert not f.errors
    finally:
        f.stop()


# ------------------------------------------------------------------------------------------------ user data


def test_user_data_by_subscribing_the_listen_key(feed, alfax_server, fresh_account, rules):
    """The connector's ``user_data(listenKey)`` = SUBSCRIBE [listenKey] on ``/ws``; a REST MARKET order then
    arrives as ORDER_TRADE_UPDATE (NEW, then TRADE/FILLED) for that orderId, and ACCOUNT_UPDATE."""
    um = UMFutures(key=fresh_account.api_key, secret=fresh_account.secret, base_url=alfax_server.base_url,
                   timeout=20)
    assert um.base_url == alfax_server.base_url
    lk = um.new_listen_key()["listenKey"]
    assert with_generated_id(feed, lambda: feed.client.user_data(listen_key=lk))["result"] is None
    assert lk in with_generated_id(feed, lambda: feed.client.list_subscribe())["result"]

    rest = alfax_server.rest()
    try:
        ask = best_bid_ask(rest, "BTCUSDT")[1]
    finally:
        rest.close()
    qty = str(rules["BTCUSDT"].qty_for_notional(ask, 15))
    o = um.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=qty, newClientOrderId="conn-ws-1")
    oid = o["orderId"]

    def is_mine(m, status=None):
        return (isinstance(m, dict) and m.get("e") == "ORDER_TRADE_UPDATE" and m["o"]["i"] == oid
                and (status is None or m["o"]["X"] == status))

    new = feed.wait(is_mine, 10, f"ORDER_TRADE_UPDATE for {oid}")
    assert new["o"]["X"] == "NEW" and new["o"]["c"] == "conn-ws-1" and new["o"]["q"] == qty
    done = feed.wait(lambda m: is_mine(m, "FILLED"), 10, "the FILLED update")
    assert done["o"]["x"] == "TRADE" and done["o"]["z"] == qty and done["o"]["S"] == "BUY"
    assert done["o"]["t"] > 0 and D(done["o"]["n"]) > 0 and D(done["o"]["L"]) > 0
    q = um.query_order(symbol="BTCUSDT", orderId=oid)
    assert q["status"] == "FILLED" and D(done["o"]["ap"]) == D(q["avgPrice"])
    acct = feed.wait(lambda m: isinstance(m, dict) and m.get("e") == "ACCOUNT_UPDATE", 10, "ACCOUNT_UPDATE")
    pos = [p for p in acct["a"]["P"] if p["s"] == "BTCUSDT"][0]
    assert D(pos["pa"]) == D(qty)
    wb = D([b for b in acct["a"]["B"] if b["a"] == "USDT"][0]["wb"])
    bal = [b for b in um.balance() if b["asset"] == "USDT"][0]
    assert wb == D(bal["balance"]) < D(10000)
    assert all("stream" not in m for m in feed.seen if isinstance(m, dict))

    # UNSUBSCRIBE the key: no more user events for this connection
    assert with_generated_id(
        feed, lambda: feed.client.user_data(listen_key=lk, action=UMFuturesWebsocketClient.ACTION_UNSUBSCRIBE)
    )["result"] is None
    n = len(feed.seen)  # everything after the UNSUBSCRIBE answer
    um.new_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=qty, reduceOnly="true")
    time.sleep(1.0)
    while not feed.q.empty():
        feed.seen.append(feed.q.get())
    late = [m for m in feed.seen[n:] if isinstance(m, dict) and m.get("e") in ("ORDER_TRADE_UPDATE",
                                                                                    "ACCOUNT_UPDATE")]
    assert not late, f"user events after UNSUBSCRIBE of the listenKey: {late[:2]}"
    assert not feed.errors
