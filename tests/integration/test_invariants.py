"""Structured random trading on one account, then cross-check every read model against the others:
orders vs fills, fills vs positions, income vs wallet, fees vs rates, and live state hash vs offline replay."""

from __future__ import annotations

import json
import random
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest

from alfax_harness import PYTHON, Rest, best_bid_ask

D = Decimal
SYMS = ("BTCUSDT", "ETHUSDT")


def _rand_order(rng: random.Random, sym: str, rules, bid: Decimal, ask: Decimal) -> tuple[str, dict]:
    r = rules[sym]
    qty = r.qty_for_notional(ask, rng.choice([6, 12, 25, 60]))
    side = rng.choice(["BUY", "SELL"])
    kind = rng.random()
    p: dict = {"symbol": sym, "side": side, "quantity": str(qty)}
    if kind < 0.30:
        p["type"] = "MARKET"
    elif kind < 0.70:
        # limits from deep (rests) to through the touch (fills as taker)
        frac = D(str(rng.choice([0.97, 0.99, 0.999, 1.0, 1.001, 1.01])))
        ref = bid if side == "BUY" else ask
        px = ref * frac if side == "BUY" else ref * (2 - frac)
        p.update(type="LIMIT", price=str(r.round_price(px)), timeInForce=rng.choice(["GTC", "GTC", "IOC", "FOK", "GTX"]))
    elif kind < 0.85:
        return "/fapi/v1/algoOrder", {
            "algoType": "CONDITIONAL", "symbol": sym, "side": side, "quantity": str(qty),
            "type": rng.choice(["STOP_MARKET", "TAKE_PROFIT_MARKET"]),
            "triggerPrice": str(r.round_price(ask * D(str(rng.choice([0.97, 0.995, 1.005, 1.03]))))),
            "workingType": rng.choice(["MARK_PRICE", "CONTRACT_PRICE"]),
        }
    else:
        p["type"] = "MARKET"
    if rng.random() < 0.2:
        p["reduceOnly"] = "true"
    return "/fapi/v1/order", p


def _paged(rest: Rest, path: str, params: dict, key: str = "id") -> list[dict]:
    out: list[dict] = []
    p = dict(params, limit=1000)
    while True:
        page = rest.ok("GET", path, p)
        out += page
        if len(page) < 1000:
            return out
        p["fromId"] = page[-1][key] + 1


@pytest.mark.timeout(180)
def test_random_trading_keeps_read_models_consistent(alfax_server, fresh_account, rules):
    rng = random.Random(7)
    rest = alfax_server.rest(fresh_account)
    try:
        for sym in SYMS:
            rest.ok("POST", "/fapi/v1/leverage", {"symbol": sym, "leverage": rng.choice([3, 5, 10, 20])})
        rest.ok("POST", "/fapi/v1/marginType", {"symbol": "ETHUSDT", "marginType": "ISOLATED"})
        statuses: dict[int, int] = {}
        t_end = time.monotonic() + 25
        n = 0
        books = {s: best_bid_ask(rest, s) for s in SYMS}
        while time.monotonic() < t_end and n < 400:
            n += 1
            sym = rng.choice(SYMS)
            if n % 20 == 0:
                books = {s: best_bid_ask(rest, s) for s in SYMS}
            path, params = _rand_order(rng, sym, rules, *books[sym])
            resp = rest.signed("POST", path, params)
            statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
            assert resp.status_code < 500, f"{path} {params} -> {resp.status_code} {resp.text}"
            if resp.status_code >= 400:
                assert isinstance(resp.json().get("code"), int)
            if n % 15 == 0:  # occasional cancels and margin moves
                opens = rest.ok("GET", "/fapi/v1/openOrders", {"symbol": sym})
                if opens:
                    rest.ok("DELETE", "/fapi/v1/order", {"symbol": sym, "orderId": rng.choice(opens)["orderId"]})
            if n % 40 == 0:
                rest.signed("POST", "/fapi/v1/positionMargin", {"symbol": "ETHUSDT", "amount": "1", "type": 1})
            time.sleep(0.045)  # stay under ORDERS 300 / 10 s
        assert statuses.get(200, 0) >= 50 and not statuses.get(429), statuses
        print(f"random trading: {n} requests, statuses {statuses}")
        for sym in SYMS:
            rest.ok("DELETE", "/fapi/v1/allOpenOrders", {"symbol": sym})
            rest.ok("DELETE", "/fapi/v1/algoOpenOrders", {"symbol": sym})
        time.sleep(0.5)

        fees = {s: (D(rest.ok("GET", "/fapi/v1/commissionRate", {"symbol": s})["makerCommissionRate"]),
                    D(rest.ok("GET", "/fapi/v1/commissionRate", {"symbol": s})["takerCommissionRate"])) for s in SYMS}
        positions = {p["symbol"]: p for p in rest.ok("GET", "/fapi/v3/positionRisk")}
        problems: list[str] = []
        for sym in SYMS:
            trades = _paged(rest, "/fapi/v1/userTrades", {"symbol": sym})
            orders = rest.ok("GET", "/fapi/v1/allOrders", {"symbol": sym, "limit": 1000})
            by_order: dict[int, list[dict]] = {}
            for t in trades:
                by_order.setdefault(t["orderId"], []).append(t)
                maker_rate, taker_rate = fees[sym]
                rate = maker_rate if t["maker"] else taker_rate
                if abs(D(t["commission"]) - D(t["quoteQty"]) * rate) > D("0.00000002"):
                    problems.append(f"{sym} trade {t['id']}: commission {t['commission']} != {t['quoteQty']} x {rate}")
                if abs(D(t["quoteQty"]) - D(t["price"]) * D(t["qty"])) > D("0.00000001"):
                    problems.append(f"{sym} trade {t['id']}: quoteQty {t['quoteQty']} != price x qty")
                if (t["side"] == "BUY") != t["buyer"]:
                    problems.append(f"{sym} trade {t['id']}: side {t['side']} vs buyer {t['buyer']}")
            for o in orders:
                fills = by_order.get(o["orderId"], [])
                filled = sum((D(t["qty"]) for t in fills), D(0))
                if filled != D(o["executedQty"]):
                    problems.append(f"{sym} order {o['orderId']} {o['type']}/{o['status']}: executedQty "
                                    f"{o['executedQty']} but fills sum to {filled}")
                if fills and abs(sum(D(t["quoteQty"]) for t in fills) - D(o["cumQuote"])) > D("0.00000001"):
                    problems.append(f"{sym} order {o['orderId']}: cumQuote {o['cumQuote']} != sum(quoteQty)")
                if o["status"] == "FILLED" and D(o["executedQty"]) != D(o["origQty"]):
                    problems.append(f"{sym} order {o['orderId']}: FILLED with executedQty {o['executedQty']} < {o['origQty']}")
                if o["status"] in ("NEW", "PARTIALLY_FILLED"):
                    problems.append(f"{sym} order {o['orderId']} still {o['status']} after cancel-all")
            net = sum((D(t["qty"]) * (1 if t["side"] == "BUY" else -1) for t in trades), D(0))
            amt = D(positions[sym]["positionAmt"]) if sym in positions else D(0)
            if net != amt:
                problems.append(f"{sym}: fills net {net} but positionRisk positionAmt {amt}")
        income = []
        page = 1
        while True:
            rows = rest.ok("GET", "/fapi/v1/income", {"limit": 1000, "page": page, "startTime": 0})
            income += rows
            if len(rows) < 1000:
                break
            page += 1
        tran_ids = [i["tranId"] for i in income]
        if len(tran_ids) != len(set(tran_ids)):
            problems.append("duplicate tranIds in income")
        acct = rest.ok("GET", "/fapi/v3/account")
        wallet = D(acct["totalWalletBalance"])
        income_sum = sum((D(i["income"]) for i in income), D(0))
        if wallet != income_sum:
            kinds = {}
            for i in income:
                kinds[i["incomeType"]] = kinds.get(i["incomeType"], D(0)) + D(i["income"])
            problems.append(f"wallet {wallet} != sum(income) {income_sum} by type {kinds}")
        if D(acct["availableBalance"]) < 0:
            problems.append(f"availableBalance negative: {acct['availableBalance']}")
        assert not problems, f"{len(problems)} inconsistencies:\n" + "\n".join(problems[:20])

        # the journal replays to the live state
        creds = json.loads(Path(f"{alfax_server.db_path}.operator.json").read_text())
        op = Rest(alfax_server.base_url, creds["apiKey"], creds["secretKey"])
        try:
            for _ in range(10):
                live = op.ok("GET", "/alfax/admin/state")["stateHash"]
                res = subprocess.run([PYTHON, "-m", "alfax.cli.main", "replay-check", "--db", str(alfax_server.db_path)],
                                     capture_output=True, text=True, timeout=120)
                assert res.returncode == 0, res.stderr
                replayed = res.stdout.strip().splitlines()[-1]
                if replayed == live == op.ok("GET", "/alfax/admin/state")["stateHash"]:
                    break
                time.sleep(1)
            assert replayed == live, f"replay-check {replayed} != live {live}"
        finally:
            op.close()
    finally:
        rest.close()
