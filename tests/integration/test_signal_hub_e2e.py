"""The signal hub end to end against a real ``alfax serve`` (issue 5).

1. A provider publishes continuously while the server is killed with SIGKILL and restarted on the same database
   and port: the SDK's SSE client (``SignalStream``) and its AlphaHub-style Phoenix client (``Connection``) both
   end with every signal exactly once and in order (the provider retries with a dedupe key, so a publish that was
   committed but whose ack was lost is not published twice).
2. A channel bound to an account turns a signal into the expected order (notional sizing), and on a challenge
   account a signal that breaks a rule is refused with the rule's reason in the alert log and the notifications.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from decimal import Decimal
from pathlib import Path

import httpx

from alfax.sdk.alphahub import Connection
from alfax.sdk.sse_client import SignalStream
from alfax_harness import AlfaxServer, Rest, wait_for_market

N = 60


def publish(base: str, key: str, i: int, channel: str = "kill9") -> int:
    """Publish signal ``i`` until acknowledged (the server may be down); returns its seq."""
    body = {"symbol": "BTCUSDT", "side": "buy" if i % 2 else "sell", "quantity": "0.001", "price": str(20000 + i),
            "dedupe_key": f"{channel}-{i}"}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            r = httpx.post(f"{base}/signal?user_code={channel}", json=body, headers={"x-api-key": key}, timeout=5,
                           trust_env=False)
            if r.status_code == 200:
                return int(r.json()["data"]["seq"])
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"signal {i} never acknowledged")


def test_kill_the_server_while_publishing_every_subscriber_gets_everything_once_in_order(tmp_path):
    srv = AlfaxServer(db_path=tmp_path / "alfax.db")
    srv.start()
    sse_seen: list[int] = []
    ws_seen: list[int] = []
    stream = conn = None
    threads: list[threading.Thread] = []
    loop = asyncio.new_event_loop()
    try:
        wait_for_market(srv.base_url, timeout=60)
        op = json.loads(Path(f"{srv.db_path}.operator.json").read_text())
        operator = Rest(srv.base_url, op["apiKey"], op["secretKey"])
        provider = operator.ok("POST", "/alfax/admin/accounts", {"balance": "1000", "alias": "provider"})
        follower = operator.ok("POST", "/alfax/admin/accounts", {"balance": "1000", "alias": "follower"})
        operator.ok("POST", "/alfax/admin/hub-users", {"accountId": follower["accountId"], "email": "f@alfax.local",
                                                      "password": "follower-pass"})
        operator.close()
        first = publish(srv.base_url, provider["apiKey"], 0)  # the channel exists; subscribers start after it

        stream = SignalStream(srv.base_url, "kill9", api_key=follower["apiKey"], last_id=f"{first}",
                              on_signal=lambda s: sse_seen.append(int(s["seq"])), reconnect_delay=0.2,
                              max_reconnect_delay=1.0)
        threads.append(threading.Thread(target=stream.run, daemon=True))

        def on_signal(algo_id, info):
            ws_seen.extend(item["seq"] for item in info["open"] + info["close"])

        conn = Connection("f@alfax.local", "follower-pass", ["kill9"], on_signal, base_url=srv.base_url,
                          heartbeat_s=2.0)
        threads.append(threading.Thread(target=lambda: loop.run_until_complete(conn.run()), daemon=True))
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while not ws_seen and time.monotonic() < deadline:  # the Phoenix client joined and got a live signal
            publish(srv.base_url, provider["apiKey"], 1)
            time.sleep(0.2)
        seqs = [first]
        for i in range(1, N + 1):
            seqs.append(publish(srv.base_url, provider["apiKey"], i))
            if i == N // 3:
                srv.kill()  # SIGKILL mid-stream
                srv.start()
        expected = list(range(first + 1, seqs[-1] + 1))
        assert seqs == sorted(set(seqs)) and seqs[-1] - first == N, seqs  # no publish repeated, none lost
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (sse_seen[-1:] != expected[-1:] or ws_seen[-1:] != expected[-1:]):
            time.sleep(0.2)
        assert sse_seen == expected, f"SSE: {sse_seen}"
        # the Phoenix client joined live (AlphaHub-style, after the first signal), then resumed by last_seq
        start = ws_seen[0]
        assert ws_seen == list(range(start, expected[-1] + 1)), f"WS: {ws_seen}"
    finally:
        if stream is not None:
            stream.stop()
        if conn is not None:
            loop.call_soon_threadsafe(conn.stop)
        for t in threads:
            t.join(timeout=10)
        srv.stop()


def test_a_bound_signal_becomes_an_order_and_a_rule_violation_is_refused_with_its_reason(alfax_server):
    base = alfax_server.base_url
    provider = alfax_server.create_account("1000")
    follower = alfax_server.create_account("10000")
    rest = alfax_server.rest(follower)
    demo = alfax_server.rest()  # account 1: a STAGE_1 challenge with a 5x leverage cap
    try:
        sub = rest.ok("POST", "/alfax/v1/subscriptions", {"channel": "bound", "mode": "notional", "value": "200"})
        demo.ok("POST", "/alfax/v1/subscriptions", {"channel": "bound", "mode": "fixed_qty", "value": "0.001"})
        assert sub["channel"] == "bound"
        mark = Decimal(httpx.get(f"{base}/fapi/v1/premiumIndex?symbol=BTCUSDT").json()["markPrice"])
        r = httpx.post(f"{base}/signal?user_code=bound", headers={"x-api-key": provider.api_key},
                       json={"symbol": "BTCUSDT", "side": "buy", "quantity": "1", "price": str(mark), "leverage": 20})
        assert r.status_code == 200, r.text

        def alerts_of(client: Rest) -> list[dict]:
            deadline = time.monotonic() + 20
            rows: list[dict] = []
            while time.monotonic() < deadline:
                rows = [a for a in client.ok("GET", "/alfax/v1/alerts") if a["source"] == "signal:bound"]
                if rows and rows[0]["status"] in ("executed", "failed", "rejected"):
                    return rows
                time.sleep(0.1)
            raise AssertionError(rows)

        mine = alerts_of(rest)[0]
        # the follower's own account has no cap: 200 USDT of notional at 20x leverage became a market buy
        assert mine["status"] == "executed", mine
        pos = [p for p in rest.ok("GET", "/fapi/v2/positionRisk", {"symbol": "BTCUSDT"}) if Decimal(p["positionAmt"])]
        qty = Decimal(pos[0]["positionAmt"])
        assert qty > 0 and abs(qty * mark - 200) <= mark * Decimal("0.001") + 5, (qty, mark)
        # the challenge account: leverage 20 is above its 5x cap -> refused up front (-2010), reason kept
        theirs = alerts_of(demo)[0]
        assert theirs["status"] == "failed" and "-2010" in json.dumps(theirs), theirs
        notes = demo.ok("GET", "/alfax/v1/notifications")["data"]
        assert any(n["type"] == "signal" for n in notes) and any(n["type"] == "alert_failed" for n in notes), notes
    finally:
        rest.close()
        demo.close()
