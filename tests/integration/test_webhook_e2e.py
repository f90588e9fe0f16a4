"""TradingView webhooks end to end against a real ``alfax serve`` (issue 5): every seed-000 example and every
error of the catalogue through the real endpoint, duplicates trading once, receipts in the alert log, on the
user-data stream and as notifications, a challenge rule rejecting an alert with its reason, and a restart between
the 202 and the execution that neither loses nor repeats the alert."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

import httpx
import pytest
import websockets

from alfax_harness import AlfaxServer, Rest, wait_for_market

FINAL = ("executed", "failed", "rejected", "duplicate")


def webhook_url(rest: Rest) -> str:
    return rest.ok("GET", "/alfax/v1/webhook")["url"]


def post(url: str, body: str | bytes, content_type: str = "text/plain; charset=utf-8") -> httpx.Response:
    data = body.encode() if isinstance(body, str) else body
    return httpx.post(url, content=data, headers={"Content-Type": content_type}, timeout=10, trust_env=False)


def wait_alert(rest: Rest, alert_id: int, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    row: dict = {}
    while time.monotonic() < deadline:
        row = rest.ok("GET", "/alfax/v1/alert", {"alertId": alert_id})
        if row["status"] in FINAL:
            return row
        time.sleep(0.1)
    raise AssertionError(f"alert {alert_id} not finished: {row}")


def accepted(url: str, body: str, rest: Rest) -> dict:
    r = post(url, body)
    assert r.status_code == 202, (body, r.status_code, r.text)
    d = r.json()
    assert d["alertId"] > 0 and d["status"] == "received"
    return wait_alert(rest, d["alertId"])


def position(rest: Rest, symbol: str) -> Decimal:
    rows = rest.ok("GET", "/fapi/v2/positionRisk", {"symbol": symbol})
    return sum((Decimal(p["positionAmt"]) for p in rows), Decimal(0))


def open_orders(rest: Rest, symbol: str) -> list[dict]:
    return rest.ok("GET", "/fapi/v1/openOrders", {"symbol": symbol})


def orders_of(row: dict) -> list[dict]:
    out = []
    for cmd in row.get("commands") or []:
        out.extend(cmd.get("orders") or [])
    return out


@pytest.fixture()
def trader(alfax_server):
    acc = alfax_server.create_account("10000")
    rest = alfax_server.rest(acc)
    yield acc, rest, webhook_url(rest)
    rest.close()


def test_banner_and_api_show_the_demo_webhook(alfax_server):
    rest = alfax_server.rest()
    url = webhook_url(rest)
    assert url.startswith(alfax_server.base_url + "/tv/") and len(url.rsplit("/", 1)[1]) >= 32
    assert f"TradingView webhook: {url}" in alfax_server.banner
    cli = alfax_server.cli("webhook", "show", "--account", "1", "--json")
    assert cli.returncode == 0 and json.loads(cli.stdout)["url"] == url
    rest.close()


def test_seed_examples_do_what_the_seed_says(trader):
    _, rest, url = trader
    # buy 0.001 BTCUSDT MARKET id=manual_test -> market buy 0.001
    row = accepted(url, "buy 0.001 BTCUSDT MARKET id=manual_test", rest)
    assert row["status"] == "executed", row
    assert position(rest, "BTCUSDT") == Decimal("0.001")
    o = orders_of(row)[0]
    assert o["side"] == "BUY" and o["type"] == "MARKET" and o["status"] == "FILLED"
    # the same alert again (TradingView or a bridge retrying): 409 E016, nothing traded
    r = post(url, "buy 0.001 BTCUSDT MARKET id=manual_test")
    assert r.status_code == 409 and r.json()["errors"][0]["code"] == "E016", r.text
    assert position(rest, "BTCUSDT") == Decimal("0.001")
    # sell 0.5 ETHUSDT LIMIT 3500 reduceOnly -> a reduce-only limit sell @3500 (on an ETH long). The bundled replay
    # market trades ETH far below 3500, where Binance's price cap refuses such a sell (-4016): the alert is sent
    # exactly as written and the receipt says why the venue refused it; the same order near the market rests.
    assert accepted(url, "buy 0.5 ETHUSDT", rest)["status"] == "executed"
    mark = Decimal(rest.get_public("/fapi/v1/premiumIndex", symbol="ETHUSDT")["markPrice"])
    row = accepted(url, "sell 0.5 ETHUSDT LIMIT 3500 reduceOnly", rest)
    if mark * Decimal("1.05") < 3500:
        assert row["status"] == "failed" and row["commands"][0]["error"]["code"] == -4016, row
    else:
        assert row["status"] == "executed", row
    px = (mark * Decimal("1.02")).quantize(Decimal("0.01"))
    row = accepted(url, f"sell 0.5 ETHUSDT LIMIT {px} reduceOnly", rest)
    assert row["status"] == "executed", row
    o = orders_of(row)[0]
    assert (o["type"], o["side"], o["status"]) == ("LIMIT", "SELL", "NEW"), o
    live = [x for x in open_orders(rest, "ETHUSDT") if x["clientOrderId"] == o["clientOrderId"]]
    assert live and Decimal(live[0]["price"]) == px and live[0]["reduceOnly"] is True, live
    rest.ok("DELETE", "/fapi/v1/allOpenOrders", {"symbol": "ETHUSDT"})
    # sell 0.1 BTCUSDT TRAILING_STOP_MARKET 0.5 -> trailing stop, callback 0.5 %
    row = accepted(url, "sell 0.1 BTCUSDT TRAILING_STOP_MARKET 0.5", rest)
    assert row["status"] == "executed", row
    trail = [a for a in rest.ok("GET", "/fapi/v1/openAlgoOrders", {"symbol": "BTCUSDT"})
             if a["orderType"] == "TRAILING_STOP_MARKET"]
    assert len(trail) == 1 and Decimal(trail[0]["callbackRate"]) == Decimal("0.5"), trail
    rest.ok("DELETE", "/fapi/v1/algoOpenOrders", {"symbol": "BTCUSDT"})
    # buy 0 BTCUSDT MARKET close -> closes a SHORT fully
    assert accepted(url, "sell 0.003 BTCUSDT", rest)["status"] == "executed"
    assert position(rest, "BTCUSDT") == Decimal("-0.002")
    row = accepted(url, "buy 0 BTCUSDT MARKET close", rest)
    assert row["status"] == "executed", row
    assert position(rest, "BTCUSDT") == 0
    # the Pine template as TradingView fills it: action, contracts, ticker, then alert_message
    # "LIMIT <price> reduceOnly id=long_breakout" (here a take-profit sell above the market on an ETH long)
    row = accepted(url, f"sell 0.5 ETHUSDT LIMIT {px} reduceOnly id=long_breakout", rest)
    assert row["status"] == "executed", row
    assert any(x["type"] == "LIMIT" and x["reduceOnly"] for x in open_orders(rest, "ETHUSDT"))
    assert post(url, f"sell 0.5 ETHUSDT LIMIT {px} reduceOnly id=long_breakout").status_code == 409


CATALOGUE = [  # (code, body, HTTP status at the webhook)
    ("E001", "   ", 400),
    ("E002", "{{strategy.order.action}} 1 BTCUSDT", 400),
    ("E003", "byu 0.001 BTCUSDT", 400),
    ("E004", "buy 0,5 BTCUSDT", 400),
    ("E005", "buy -0.1 BTCUSDT", 400),
    ("E006", "buy 0 BTCUSDT", 422),
    ("E007", "buy 0.001 BINANCE:BTCUSD.P", 400),
    ("E008", "buy 0.001 BTCUSDT LIMT 50000", 400),
    ("E009", "buy 0.001 BTCUSDT LIMIT", 400),
    ("E010", "sell 0.001 BTCUSDT TRAILING_STOP_MARKET 12", 400),
    ("E011", "buy 0.001 BTCUSDT MARKET reduceonlyy", 400),
    ("E012", "buy 0.001 BTCUSDT lev=5 lev=3", 400),
    ("E013", "buy 0.001 BTCUSDT MARKET postOnly", 422),
    ("E014", "buy 0.001 BTCUSDT id=bad!id", 400),
    ("E015", "buy 0.001 BTCUSDT ts=2020-01-01T00:00:00Z ttl=30s", 422),
    ("E017", "buy 0.001 BTCUSDT LIMIT 50000 60000", 400),
    ("E018", "buy 0.001 BTCUSDT " + "x" * 5000, 400),
]


def test_every_parse_error_of_the_catalogue_is_answered_and_logged(trader):
    _, rest, url = trader
    for code, body, status in CATALOGUE:
        r = post(url, body)
        assert r.status_code == status, (code, r.status_code, r.text)
        d = r.json()
        assert isinstance(d["code"], int) and d["code"] < 0 and d["msg"], d  # Binance-shaped
        err = d["errors"][0]
        assert err["code"] == code and err["message"] and err["hint"] and err["col"] >= 1, (code, d)
        row = rest.ok("GET", "/alfax/v1/alert", {"alertId": d["alertId"]})
        assert row["status"] == "rejected" and row["errors"][0]["code"] == code
    # JSON bodies work too (TradingView sends application/json when the message is JSON)
    r = post(url, json.dumps({"cmd": "byu 1 BTCUSDT"}), "application/json")
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "E003"
    assert position(rest, "BTCUSDT") == 0  # nothing rejected ever traded


def test_secret_allow_list_min_size_and_warnings(trader, alfax_server):
    acc, rest, url = trader
    rest.ok("POST", "/alfax/v1/webhook", {"secret": "s3cret"})
    r = post(url, "buy 0.001 BTCUSDT")
    assert r.status_code == 401 and r.json()["errors"][0]["code"] == "E019"
    r = post(url, "buy 0.001 BTCUSDT secret=wrong")
    assert r.status_code == 401 and r.json()["errors"][0]["message"] == "invalid secret"
    row = accepted(url, "buy 0.001 BTCUSDT secret=s3cret", rest)
    assert row["status"] == "executed" and "s3cret" not in json.dumps(row), "secrets never reach the log"
    rest.ok("POST", "/alfax/v1/webhook", {"secret": "", "ipAllowlist": "tradingview"})
    r = post(url, "buy 0.001 BTCUSDT")
    assert r.status_code == 401 and r.json()["errors"][0]["message"] == "source IP not allowed"
    rest.ok("POST", "/alfax/v1/webhook", {"ipAllowlist": "off"})
    # E020: the size rounds below the venue minimum (known only at execution: 202, then a failed receipt)
    row = accepted(url, "buy 0.00001 BTCUSDT", rest)
    assert row["status"] == "failed" and "E020" in json.dumps(row), row
    # W101: nothing to close on that side; W103: a JSON field overrides an inline option
    row = accepted(url, "buy 0 ETHUSDT MARKET close", rest)
    assert "W101" in json.dumps(row), row
    r = post(url, json.dumps({"cmd": "buy 0.001 BTCUSDT id=a1", "id": "b1"}), "application/json")
    assert r.status_code == 202 and any(w["code"] == "W103" for w in r.json()["warnings"]), r.text
    # a rotated token: the old URL is gone (404 like any unknown path), the new one works
    new = rest.ok("POST", "/alfax/v1/webhook/rotate")["url"]
    assert new != url and post(url, "buy 0.001 BTCUSDT").status_code == 404
    assert post(new, "close * BTCUSDT").status_code == 202
    # every one of them is in the log, newest first; notifications say what happened (en/zh)
    log = rest.ok("GET", "/alfax/v1/alerts", {"limit": 50})
    assert [a["alertId"] for a in log] == sorted((a["alertId"] for a in log), reverse=True) and len(log) >= 8
    notes = rest.ok("GET", "/alfax/v1/notifications")["data"]
    assert any(n["type"] == "alert_rejected" and n["content"]["zh"] for n in notes), notes


def test_entries_are_rate_limited_exits_are_not(trader):
    _, rest, url = trader

    async def burst() -> list[int]:
        async with httpx.AsyncClient(timeout=10, trust_env=False) as c:
            rs = await asyncio.gather(*(c.post(url, content=f"buy 0.001 BTCUSDT id=r{i} dry".encode())
                                        for i in range(120)))
        return [r.status_code for r in rs]

    codes = asyncio.run(burst())  # 120 entries within well under a second: over the 60/s entry limit
    assert 429 in codes and codes.count(202) >= 1, codes
    r = post(url, "buy 0.001 BTCUSDT id=again")
    assert r.status_code in (202, 429) and (r.status_code == 202 or r.json()["errors"][0]["code"] == "E021")
    r = post(url, "close * BTCUSDT")
    assert r.status_code == 202, r.text  # an exit is never rate-limited


def test_alert_receipts_are_pushed_on_the_user_stream(trader, alfax_server):
    _, rest, url = trader
    listen_key = rest.ok("POST", "/fapi/v1/listenKey")["listenKey"]
    ws_url = alfax_server.base_url.replace("http", "ws") + f"/ws/{listen_key}"

    async def go() -> list[dict]:
        got: list[dict] = []
        async with websockets.connect(ws_url) as ws:
            await asyncio.sleep(0.2)
            assert (await asyncio.to_thread(post, url, "buy 0.001 BTCUSDT id=pushed")).status_code == 202
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if msg.get("e") == "alertUpdate":
                    got.append(msg)
                    if msg["status"] in FINAL:
                        return got
        return got

    events = asyncio.run(go())
    assert events and events[-1]["status"] == "executed", events
    assert events[-1]["commands"][0]["orders"][0]["symbol"] == "BTCUSDT"


def test_a_challenge_rule_rejects_the_alert_with_its_reason(alfax_server):
    """The demo account is a STAGE_1 challenge with a 5x leverage cap: lev=10 is refused up front (-2010) and the
    receipt, the alert log and the notification all carry the rule's message."""
    rest = alfax_server.rest()
    url = webhook_url(rest)
    row = accepted(url, "buy 0.001 BTCUSDT lev=10 id=too_much_leverage", rest)
    assert row["status"] == "failed", row
    text = json.dumps(row)
    assert "-2010" in text and "leverage" in text.lower(), row
    notes = rest.ok("GET", "/alfax/v1/notifications")["data"]
    assert any(n["type"] == "alert_failed" and "leverage" in n["content"]["en"].lower() for n in notes), notes
    rest.close()


def test_restart_between_receipt_and_execution_neither_loses_nor_repeats(tmp_path):
    srv = AlfaxServer(db_path=tmp_path / "alfax.db")
    srv.start()
    try:
        wait_for_market(srv.base_url, timeout=60)
        acc = srv.create_account("10000")
        rest = srv.rest(acc)
        url = webhook_url(rest)
        r = post(url, "buy 0.002 BTCUSDT MARKET id=survivor delay=3s")  # 202 now, executes in 3 s
        assert r.status_code == 202, r.text
        alert_id = r.json()["alertId"]
        srv.kill()  # SIGKILL: no shutdown hook runs
        rest.close()
        srv.start()
        wait_for_market(srv.base_url, timeout=60)
        rest = srv.rest(acc)
        row = wait_alert(rest, alert_id, timeout=30)
        assert row["status"] == "executed", row
        assert position(rest, "BTCUSDT") == Decimal("0.002")
        # the same alert after the restart is still a duplicate; and a restart after execution repeats nothing
        assert post(url, "buy 0.002 BTCUSDT MARKET id=survivor delay=3s").status_code == 409
        srv.kill()
        rest.close()
        srv.start()
        wait_for_market(srv.base_url, timeout=60)
        rest = srv.rest(acc)
        time.sleep(1.0)
        assert position(rest, "BTCUSDT") == Decimal("0.002")
        trades = rest.ok("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"})
        assert sum(Decimal(t["qty"]) for t in trades) == Decimal("0.002")
        rest.close()
    finally:
        srv.stop()
