"""The automation endpoints of the edge (issue 5): webhook settings, alert log, subscriptions, notifications,
hub logins — signed like any Binance USER_DATA/TRADE call, each account seeing only its own."""

from __future__ import annotations

import asyncio

import pytest

from .conftest import Harness


@pytest.fixture
def run(tmp_path):
    h = Harness(tmp_path)

    def _run(fn):
        async def go():
            await h.feed_book()
            a = await h.new_account()
            b = await h.new_account()
            await fn(h, a, b)

        asyncio.run(go())

    yield _run
    h.close()


def test_webhook_settings_are_per_account_and_rotatable(run):
    async def fn(h, a, b):
        (ka, acc_a), (kb, _) = a, b
        wa = (await h.signed("GET", "/alfax/v1/webhook", key=ka)).json()
        wb = (await h.signed("GET", "/alfax/v1/webhook", key=kb)).json()
        assert wa["accountId"] == acc_a and wa["url"].startswith("http://alfax/tv/") and wa["url"] != wb["url"]
        assert (await h.signed("GET", "/alfax/v1/webhook", key=ka)).json()["url"] == wa["url"]  # stable
        r = (await h.signed("POST", "/alfax/v1/webhook", {"secret": "abc", "ipAllowlist": "tradingview"}, key=ka,
                            where="body")).json()
        assert r["secretSet"] is True and len(r["ipAllowlist"]) == 4 and "abc" not in str(r)
        r = (await h.signed("POST", "/alfax/v1/webhook", {"secret": "", "ipAllowlist": "off"}, key=ka,
                            where="body")).json()
        assert r["secretSet"] is False and r["ipAllowlist"] == []
        bad = await h.signed("POST", "/alfax/v1/webhook", {"ipAllowlist": "1.2.3"}, key=ka, where="body")
        assert bad.status_code == 400 and bad.json()["code"] == -1130
        bad = await h.signed("POST", "/alfax/v1/webhook", {"secret": "has space"}, key=ka, where="body")
        assert bad.status_code == 400 and bad.json()["code"] == -1130
        none = await h.signed("POST", "/alfax/v1/webhook", {}, key=ka, where="body")
        assert none.status_code == 400 and none.json()["code"] == -1102
        new = (await h.signed("POST", "/alfax/v1/webhook/rotate", key=ka, where="body")).json()
        assert new["url"] != wa["url"]
        # the operator sees and rotates any account's webhook
        op = (await h.signed("GET", "/alfax/admin/webhook", {"accountId": acc_a})).json()
        assert op["url"] == new["url"]
        denied = await h.signed("GET", "/alfax/admin/webhook", {"accountId": acc_a}, key=kb)
        assert denied.status_code in (401, 403)

    run(fn)


def test_alert_log_is_private_to_the_account(run):
    async def fn(h, a, b):
        (ka, acc_a), (kb, _) = a, b
        row = h.app.state.edge.ctx.alerts.receive(acc_a, "tok", "buy 1 BTCUSDT", 1000, "127.0.0.1", [], [])
        mine = (await h.signed("GET", "/alfax/v1/alerts", key=ka)).json()
        assert [x["alertId"] for x in mine] == [row.alert_id]
        assert (await h.signed("GET", "/alfax/v1/alerts", key=kb)).json() == []
        other = await h.signed("GET", "/alfax/v1/alert", {"alertId": row.alert_id}, key=kb)
        assert other.status_code == 400 and other.json()["code"] == -1130  # never reveals another account's alert
        got = (await h.signed("GET", "/alfax/v1/alert", {"alertId": row.alert_id}, key=ka)).json()
        assert got["alertId"] == row.alert_id and got["body"] == "buy 1 BTCUSDT"

    run(fn)


def test_subscriptions_and_notifications(run):
    async def fn(h, a, b):
        (ka, acc_a), _ = a, b
        r = await h.signed("POST", "/alfax/v1/subscriptions", {"channel": "alpha", "mode": "notional",
                                                              "value": "100", "leverage": 3}, key=ka, where="body")
        assert r.status_code == 200, r.text
        sub = r.json()
        rows = (await h.signed("GET", "/alfax/v1/subscriptions", key=ka)).json()
        assert [(x["channel"], x["mode"]) for x in rows] == [("alpha", "notional")]
        for params in ({"channel": "bad channel!", "mode": "notional", "value": "1"},
                       {"channel": "x", "mode": "martingale", "value": "1"},
                       {"channel": "x", "mode": "equity_pct", "value": "150"},
                       {"channel": "x", "mode": "fixed_qty", "value": "-1"}):
            bad = await h.signed("POST", "/alfax/v1/subscriptions", params, key=ka, where="body")
            assert bad.status_code == 400 and bad.json()["code"] == -1130, (params, bad.text)
        sid = sub["subId"]
        r = await h.signed("DELETE", "/alfax/v1/subscriptions", {"subId": sid}, key=ka)
        assert r.json()["code"] == 200
        assert (await h.signed("GET", "/alfax/v1/subscriptions", key=ka)).json() == []
        h.app.state.edge.ctx.notifications.add(acc_a, "alert_rejected", {"en": "Alert #1 rejected", "zh": "警报"}, 5)
        notes = (await h.signed("GET", "/alfax/v1/notifications", key=ka)).json()
        assert notes["success"] is True and notes["data"][0]["content"] == {"en": "Alert #1 rejected", "zh": "警报"}
        assert notes["data"][0]["psid"] == str(acc_a) and notes["data"][0]["type"] == "alert_rejected"

    run(fn)


def test_operator_creates_hub_logins(run):
    async def fn(h, a, b):
        (_, acc_a), _ = a, b
        r = await h.signed("POST", "/alfax/admin/hub-users", {"accountId": acc_a, "email": "me@x.io",
                                                             "password": "long-enough"}, where="body")
        assert r.status_code == 200 and r.json() == {"email": "me@x.io", "accountId": acc_a}, r.text
        dup = await h.signed("POST", "/alfax/admin/hub-users", {"accountId": acc_a, "email": "ME@x.io",
                                                               "password": "long-enough"}, where="body")
        assert dup.status_code == 400
        short = await h.signed("POST", "/alfax/admin/hub-users", {"accountId": acc_a, "email": "b@x.io",
                                                                 "password": "short"}, where="body")
        assert short.status_code == 400
        assert h.app.state.edge.ctx.hub_users.verify("me@x.io", "long-enough") == acc_a

    run(fn)
