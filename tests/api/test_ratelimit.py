import asyncio

import pytest

from alfax.api.ratelimit import BAN_MAX_S, BAN_MIN_S, RateLimitConfig, RateLimited, RateLimiter

from .conftest import Harness


class FakeTime:
    def __init__(self, t=1_000_040.0):  # 20 s into a minute
        self.t = t

    def __call__(self):
        return self.t


def test_weight_429_then_418_escalation():
    ft = FakeTime()
    rl = RateLimiter(RateLimitConfig(weight_per_minute=10, violations_before_ban=2), ft)
    assert rl.add_weight("1.2.3.4", 10) == 10
    with pytest.raises(RateLimited) as e:
        rl.add_weight("1.2.3.4", 1)
    assert e.value.http_status == 429 and e.value.code == -1003
    assert e.value.retry_after == 41  # until the minute boundary (+1)
    assert "current limit is 10 requests per minute" in e.value.msg
    with pytest.raises(RateLimited) as e:
        rl.add_weight("1.2.3.4", 1)
    assert e.value.http_status == 429
    with pytest.raises(RateLimited) as e:  # third violation in the window -> banned
        rl.add_weight("1.2.3.4", 1)
    assert e.value.http_status == 418 and e.value.code == -1003 and e.value.retry_after == BAN_MIN_S
    assert "IP banned until" in e.value.msg
    # banned even in the next minute
    ft.t += 60
    with pytest.raises(RateLimited) as e:
        rl.add_weight("1.2.3.4", 1)
    assert e.value.http_status == 418
    # other IPs unaffected
    assert rl.add_weight("5.6.7.8", 1) == 1
    # after the ban: fresh window; offend again -> ban doubles
    ft.t += BAN_MIN_S
    rl.add_weight("1.2.3.4", 10)
    for _ in range(2):
        with pytest.raises(RateLimited):
            rl.add_weight("1.2.3.4", 1)
    with pytest.raises(RateLimited) as e:
        rl.add_weight("1.2.3.4", 1)
    assert e.value.http_status == 418 and e.value.retry_after == 2 * BAN_MIN_S


def test_ban_caps_at_three_days():
    ft = FakeTime()
    rl = RateLimiter(RateLimitConfig(weight_per_minute=1, violations_before_ban=0), ft)
    last = 0
    for _ in range(15):
        rl.add_weight("ip", 1)
        with pytest.raises(RateLimited) as e:
            rl.add_weight("ip", 1)
        assert e.value.http_status == 418
        last = e.value.retry_after
        ft.t += last + 61
    assert last == BAN_MAX_S


def test_window_resets_each_minute():
    ft = FakeTime(600.0)
    rl = RateLimiter(RateLimitConfig(weight_per_minute=5), ft)
    rl.add_weight("ip", 5)
    assert rl.used_weight("ip") == 5
    ft.t = 660.0
    assert rl.used_weight("ip") == 0
    assert rl.add_weight("ip", 5) == 5


def test_order_counters():
    ft = FakeTime(1000.0)
    rl = RateLimiter(RateLimitConfig(orders_per_10s=3, orders_per_minute=5), ft)
    assert rl.add_order(1) == (1, 1)
    rl.add_order(1)
    rl.add_order(1)
    with pytest.raises(RateLimited) as e:
        rl.add_order(1)
    assert e.value.code == -1015 and e.value.http_status == 429
    assert rl.add_order(2) == (1, 1)  # per account
    ft.t += 10
    rl.add_order(1)
    rl.add_order(1)
    with pytest.raises(RateLimited) as e:  # minute limit
        rl.add_order(1)
    assert "5 orders per MINUTE" in e.value.msg


def test_disabled_limits():
    rl = RateLimiter(RateLimitConfig(weight_per_minute=1, enabled=False), FakeTime())
    for _ in range(10):
        rl.add_weight("ip", 100)


def test_headers_429_418_and_health_exempt(tmp_path):
    ft = FakeTime()
    h = Harness(tmp_path, rate_config=RateLimitConfig(weight_per_minute=6, violations_before_ban=2), time_fn=ft)

    async def go():
        key, acc = await h.new_account()
        r = await h.client.get("/fapi/v1/time")
        assert r.headers["x-mbx-used-weight-1m"] == "2"  # admin call (1) + time (1)
        assert "x-mbx-order-count-10s" not in r.headers
        await h.feed_book()
        r = await h.signed("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                      "quantity": "0.010", "price": "49000", "timeInForce": "GTC"},
                           key=key, where="body")
        assert r.status_code == 200, r.text
        assert r.headers["x-mbx-order-count-10s"] == "1" and r.headers["x-mbx-order-count-1m"] == "1"
        assert r.headers["x-mbx-used-weight-1m"] == "2"  # order POST weighs 0
        r = await h.client.get("/fapi/v1/depth?symbol=BTCUSDT&limit=1000")  # weight 20 > 6
        assert r.status_code == 429 and r.json()["code"] == -1003 and "retry-after" in r.headers
        r = await h.client.get("/fapi/v1/time")
        assert r.status_code == 429
        r = await h.client.get("/fapi/v1/time")
        assert r.status_code == 418 and int(r.headers["retry-after"]) == BAN_MIN_S
        r = await h.client.get("/health")
        assert r.status_code == 200 and r.json()["status"] == "ok"

    try:
        asyncio.run(go())
    finally:
        h.close()


def test_config_from_dict():
    assert RateLimitConfig.from_any(None) == RateLimitConfig()
    c = RateLimitConfig.from_any({"weight_per_minute": 10**9, "enabled": False})
    assert c.weight_per_minute == 10**9 and c.enabled is False
    assert RateLimitConfig.from_any({}) == RateLimitConfig()
    with pytest.raises(ValueError):
        RateLimitConfig.from_any({"weight": 1})
