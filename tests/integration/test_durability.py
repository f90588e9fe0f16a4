"""ACK = durable: kill -9 the server while a client streams orders, restart on the same db, nothing acknowledged
is lost, ids never repeat, and the live state hash equals an offline full-journal replay."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from alfax_harness import PYTHON, AlfaxServer, Rest, best_bid_ask, symbol_rules, wait_for_market

D = Decimal


def operator_rest(srv: AlfaxServer) -> Rest:
    creds = json.loads(Path(f"{srv.db_path}.operator.json").read_text())
    return Rest(srv.base_url, creds["apiKey"], creds["secretKey"])


def admin_state(srv: AlfaxServer) -> dict:
    r = operator_rest(srv)
    try:
        return r.ok("GET", "/alfax/admin/state")
    finally:
        r.close()


def replay_check(db: Path) -> str:
    res = subprocess.run([PYTHON, "-m", "alfax.cli.main", "replay-check", "--db", str(db)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"replay-check failed ({res.returncode}): {res.stdout}\n{res.stderr}"
    lines = [ln.strip() for ln in res.stdout.splitlines() if ln.strip()]
    assert lines, res.stderr
    return lines[-1]


class OrderStream(threading.Thread):
    """Places LIMIT (far) and MARKET orders, records every acknowledged one, occasionally cancels a limit."""

    def __init__(self, srv: AlfaxServer, rules, stop_after: float = 60.0) -> None:
        super().__init__(daemon=True)
        self.rest = Rest(srv.base_url, srv.api_key, srv.secret, timeout=5)
        self.rules = rules
        self.acked: dict[int, dict] = {}  # orderId -> last acknowledged state
        self.cancel_acked: set[int] = set()
        self.errors: list[str] = []
        self.failed_at: float | None = None
        self.stop_flag = threading.Event()
        self.stop_after = stop_after
        self.n_sent = 0

    def run(self) -> None:
        r = self.rules["BTCUSDT"]
        i = 0
        try:
            bid, ask = best_bid_ask(self.rest, "BTCUSDT")
        except Exception as e:  # pragma: no cover
            self.errors.append(repr(e))
            return
        far = r.round_price(bid * D("0.97"))
        qty = r.qty_for_notional(ask, 12)
        deadline = time.monotonic() + self.stop_after
        while not self.stop_flag.is_set() and time.monotonic() < deadline:
            i += 1
            kind = i % 4
            params: dict
            if kind in (0, 1):
                params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                          "quantity": str(qty), "price": str(far), "newClientOrderId": f"dur-{i}"}
            else:
                side = "BUY" if kind == 2 else "SELL"
                params = {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": str(qty),
                          "newClientOrderId": f"dur-{i}", "newOrderRespType": "RESULT"}
            try:
                self.n_sent += 1
                resp = self.rest.signed("POST", "/fapi/v1/order", params)
            except httpx.HTTPError as e:
                self.failed_at = time.monotonic()
                self.errors.append(f"order {i}: {e!r}")
                return
            if resp.status_code == 200:
                body = resp.json()
                self.acked[int(body["orderId"])] = body
            else:
                self.errors.append(f"order {i}: HTTP {resp.status_code} {resp.text[:200]}")
            # cancel every 3rd resting limit we know of
            if i % 6 == 1:
                resting = [oid for oid, o in self.acked.items() if o["type"] == "LIMIT" and o["status"] == "NEW"
                           and oid not in self.cancel_acked]
                if resting:
                    oid = resting[0]
                    try:
                        c = self.rest.signed("DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": oid})
                    except httpx.HTTPError as e:
                        self.failed_at = time.monotonic()
                        self.errors.append(f"cancel {oid}: {e!r}")
                        return
                    if c.status_code == 200:
                        self.acked[oid] = c.json()
                        self.cancel_acked.add(oid)
            time.sleep(0.03)


@pytest.mark.timeout(240)
def test_kill9_restart_no_acked_loss(tmp_path):
    srv = AlfaxServer(db_path=tmp_path / "dur.db", speed=1.0)
    srv.start()
    try:
        wait_for_market(srv.base_url)
        pub = Rest(srv.base_url)
        rules = symbol_rules(pub)
        pub.close()
        stream = OrderStream(srv, rules)
        stream.start()
        t0 = time.monotonic()
        while len(stream.acked) < 40 and time.monotonic() - t0 < 30 and stream.is_alive():
            time.sleep(0.05)
        assert len(stream.acked) >= 20, f"too few acknowledged orders before the kill: {stream.errors[:5]}"
        srv.kill(signal.SIGKILL)  # mid-stream: the client thread is still sending
        stream.join(timeout=15)
        assert not stream.is_alive()
        assert stream.failed_at is not None, "the client never saw the server die: the kill was not mid-stream"
        acked_before = dict(stream.acked)
        print(f"durability: {stream.n_sent} requests sent, {len(acked_before)} orders acknowledged, "
              f"{len(stream.cancel_acked)} cancels acknowledged before kill -9")
        assert any(o["type"] == "MARKET" for o in acked_before.values())
        assert any(o["type"] == "LIMIT" for o in acked_before.values())

        srv.start()  # same db, same port; no banner on restart
        assert "API secret" not in srv.log_text()
        wait_for_market(srv.base_url)
        rest = Rest(srv.base_url, srv.api_key, srv.secret)
        try:
            missing, changed = [], []
            for oid, ack in sorted(acked_before.items()):
                r = rest.signed("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": oid})
                if r.status_code != 200:
                    missing.append(f"{oid}: HTTP {r.status_code} {r.text[:200]}")
                    continue
                o = r.json()
                if o["status"] != ack["status"] or D(o["executedQty"]) != D(ack["executedQty"]) \
                        or o["clientOrderId"] != ack["clientOrderId"]:
                    changed.append(f"{oid}: acked {ack['status']}/{ack['executedQty']} now {o['status']}/{o['executedQty']}")
            assert not missing, f"{len(missing)} acknowledged orders lost after kill -9: {missing[:10]}"
            assert not changed, f"acknowledged orders changed after restart: {changed[:10]}"

            # fills of acknowledged MARKET orders are all there
            trades = []
            from_id = 0
            while True:
                page = rest.ok("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT", "fromId": from_id, "limit": 1000})
                trades += page
                if len(page) < 1000:
                    break
                from_id = page[-1]["id"] + 1
            by_order: dict[int, Decimal] = {}
            for t in trades:
                by_order[t["orderId"]] = by_order.get(t["orderId"], D(0)) + D(t["qty"])
            for oid, ack in acked_before.items():
                if D(ack["executedQty"]) > 0:
                    assert by_order.get(oid) == D(ack["executedQty"]), (oid, ack, by_order.get(oid))
            ids = [t["id"] for t in trades]
            assert len(ids) == len(set(ids)), "duplicate trade ids after restart"

            # ids never repeat
            bid, ask = best_bid_ask(rest, "BTCUSDT")
            r = rules["BTCUSDT"]
            new = rest.ok("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                      "timeInForce": "GTC", "quantity": str(r.qty_for_notional(ask, 12)),
                                                      "price": str(r.round_price(bid * D("0.97")))})
            all_orders = rest.ok("GET", "/fapi/v1/allOrders", {"symbol": "BTCUSDT", "limit": 1000})
            assert new["orderId"] > max(acked_before), (new["orderId"], max(acked_before))
            assert new["orderId"] == max(o["orderId"] for o in all_orders)
            mk = rest.ok("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
                                                     "quantity": str(r.qty_for_notional(ask, 12)), "newOrderRespType": "RESULT"})
            tr = rest.ok("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT", "orderId": mk["orderId"]})
            assert tr and min(t["id"] for t in tr) > max(ids)
            rest.ok("DELETE", "/fapi/v1/allOpenOrders", {"symbol": "BTCUSDT"})
        finally:
            rest.close()

        # live state hash == offline replay of the whole journal
        deadline = time.monotonic() + 30
        live = replayed = None
        while time.monotonic() < deadline:
            s1 = admin_state(srv)["stateHash"]
            replayed = replay_check(srv.db_path)
            s2 = admin_state(srv)["stateHash"]
            live = s1
            if s1 == s2 == replayed:
                break
            time.sleep(1)
        assert live == replayed, f"live stateHash {live} != replay-check {replayed}"

        # and once more after a clean shutdown
        final = admin_state(srv)["stateHash"]
        srv.stop()
        assert replay_check(srv.db_path) == final
    finally:
        srv.kill()


@pytest.mark.timeout(120)
def test_algo_ids_never_collide_with_order_ids(tmp_path):
    """Freqtrade stores orderIds and algoIds (its on-exchange stop-losses) in ONE table with
    UNIQUE(ft_pair, order_id): an algoId equal to an orderId of the same symbol crashes it
    (sqlite3.IntegrityError: UNIQUE constraint failed: orders.ft_pair, orders.order_id).
    Real Binance never hands out an algoId that is also an orderId. Fresh server, so counters start at the origin."""
    srv = AlfaxServer(db_path=tmp_path / "ids.db", speed=1.0)
    srv.start()
    try:
        wait_for_market(srv.base_url)
        rest = Rest(srv.base_url, srv.api_key, srv.secret)
        try:
            rules = symbol_rules(rest)
            r = rules["ETHUSDT"]
            bid, ask = best_bid_ask(rest, "ETHUSDT")
            qty = str(r.qty_for_notional(ask, 20))
            order_ids, algo_ids = set(), set()
            for _ in range(3):
                o = rest.ok("POST", "/fapi/v1/order", {"symbol": "ETHUSDT", "side": "SELL", "type": "MARKET", "quantity": qty})
                order_ids.add(o["orderId"])
                a = rest.ok("POST", "/fapi/v1/algoOrder", {
                    "algoType": "CONDITIONAL", "symbol": "ETHUSDT", "side": "BUY", "type": "STOP_MARKET",
                    "quantity": qty, "triggerPrice": str(r.round_price(ask * D("1.04"))), "reduceOnly": "true"})
                algo_ids.add(a["algoId"])
            order_ids |= {o["orderId"] for o in rest.ok("GET", "/fapi/v1/allOrders", {"symbol": "ETHUSDT"})}
            clash = sorted(order_ids & algo_ids)
            assert not clash, (f"algoIds {sorted(algo_ids)} reuse orderIds {sorted(order_ids)} of the same symbol "
                               f"(clash {clash}): Freqtrade crashes on its next stop-loss")
        finally:
            rest.close()
    finally:
        srv.kill()
