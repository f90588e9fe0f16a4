"""Operator API for challenges (/alfax/admin/products|challenges|payouts|audit) through the ASGI app against the
real components (Venue, Ledger, SqliteKeyStore) plus the real SqliteAuditLog and the bundled product catalog."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from alfax.domain.enums import Permission
from alfax.domain.products import load_products
from alfax.ledger import SqliteAuditLog

from .conftest import Harness

BTC = "BTCUSDT"
PRODUCTS = load_products(json.loads(
    (Path(__file__).resolve().parents[2] / "alfax" / "data" / "products.json").read_text()))


@pytest.fixture
def run(tmp_path):
    h = Harness(tmp_path)
    ctx = h.app.state.edge.ctx
    ctx.products = dict(PRODUCTS)
    h.audit = ctx.audit = SqliteAuditLog(str(tmp_path / "alfax.db"))

    def _run(fn):
        async def go():
            await h.feed_book()
            await fn(h)

        asyncio.run(go())

    yield _run
    h.audit.close()
    h.close()


async def ok(h, method, path, params=None, key=None):
    r = await h.signed(method, path, params, key=key, where="body" if method == "POST" else "query")
    assert r.status_code == 200, f"{method} {path} {params} -> {r.status_code} {r.text}"
    return r.json()


async def err(h, method, path, params=None, key=None):
    r = await h.signed(method, path, params, key=key, where="body" if method == "POST" else "query")
    assert r.status_code >= 400, f"{method} {path} {params} -> {r.status_code} {r.text}"
    return r.status_code, r.json()["code"], r.json()["msg"]


async def market(h, key, side, qty):
    return await ok(h, "POST", "/fapi/v1/order", {"symbol": BTC, "side": side, "type": "MARKET", "quantity": qty},
                    key=key)


async def start(h, acc, product="10k-2step", **extra):
    return await ok(h, "POST", "/alfax/admin/challenges/start", {"accountId": acc, "productId": product, **extra})


def audit_rows(h, **kw):
    """Audit rows of challenge and payout actions (account and key actions are audited too, by admin.py)."""
    return [row for row in h.audit.list(**kw) if not row["action"].startswith(("account.", "key."))]


# ---------------------------------------------------------------------------------------------- products


def test_products_list_and_show(run):
    async def fn(h):
        rows = await ok(h, "GET", "/alfax/admin/products")
        assert [r["productId"] for r in rows] == sorted(PRODUCTS)
        two = next(r for r in rows if r["productId"] == "10k-2step")
        assert two == {"productId": "10k-2step", "title": PRODUCTS["10k-2step"].title, "accountSize": "10000",
                       "currency": "USDT", "stages": ["STAGE_1", "STAGE_2", "FUNDED"], "maxLeverage": 5,
                       "payoutSplitBps": 8000, "rulesVersion": PRODUCTS["10k-2step"].rules_version,
                       "challenges": 0, "activeAccounts": 0}
        p = await ok(h, "GET", "/alfax/admin/products/show", {"productId": "10k-2step"})
        assert p["productId"] == "10k-2step" and p["title"] == PRODUCTS["10k-2step"].title
        assert p["rulesVersion"] == PRODUCTS["10k-2step"].rules_version and p["onSale"] is True
        assert [s["name"] for s in p["stages"]] == ["STAGE_1", "STAGE_2"] and p["stages"][0]["profitTarget"] == "0.08"
        assert p["pinnedVersions"] == [] and p["challenges"] == 0
        # a started challenge pins the rulebook and is counted
        _, acc = await h.new_account()
        await start(h, acc)
        p = await ok(h, "GET", "/alfax/admin/products/show", {"productId": "10k-2step"})
        assert p["challenges"] == 1 and p["activeAccounts"] == 1
        assert p["pinnedVersions"] == [{"rulesVersion": PRODUCTS["10k-2step"].rules_version, "stageAccounts": 1,
                                        "current": True}]
        # a product taken off sale is still shown from the rulebook its running challenges pinned
        h.app.state.edge.ctx.products.pop("10k-2step")
        p = await ok(h, "GET", "/alfax/admin/products/show", {"productId": "10k-2step"})
        assert p["onSale"] is False and p["pinnedVersions"][0]["current"] is False and p["challenges"] == 1
        assert "10k-2step" not in [r["productId"] for r in await ok(h, "GET", "/alfax/admin/products")]
        # errors
        assert await err(h, "GET", "/alfax/admin/products/show", {"productId": "nope"}) == (
            400, -4609, "Unknown productId 'nope'.")
        assert (await err(h, "GET", "/alfax/admin/products/show"))[1] == -1102

    run(fn)


def test_operator_permission_required(run):
    async def fn(h):
        key, acc = await h.new_account()
        for method, path in (("GET", "/alfax/admin/products"), ("GET", "/alfax/admin/challenges"),
                             ("POST", "/alfax/admin/challenges/start"), ("GET", "/alfax/admin/payouts"),
                             ("POST", "/alfax/admin/payouts/approve"), ("GET", "/alfax/admin/audit")):
            status, code, _ = await err(h, method, path, {"accountId": acc, "productId": "10k-2step"}, key=key)
            assert status == 401 and code == -2015, (method, path)  # Binance: key lacks the permission
        assert acc not in h.venue.challenges and audit_rows(h) == []

    run(fn)


# ---------------------------------------------------------------------------------------------- challenges


def test_start_list_show(run):
    async def fn(h):
        key, acc = await h.new_account(balance="2500")
        st = await start(h, acc)
        cid = st["challengeId"]
        assert uuid.UUID(cid).version == 4 and str(uuid.UUID(cid)) == cid
        assert st["accountId"] == acc and st["stage"] == "STAGE_1" and st["status"] == "ACTIVE"
        assert st["productId"] == "10k-2step" and st["startBalance"] == "10000.00000000"
        assert st["walletBalance"] == "10000.00000000" and st["breach"] is None
        assert h.venue.account(acc).wallet_balance == 10_000 * 10**8
        # the trader's key sees it at once
        mine = await ok(h, "GET", "/fapi/v1/challenge", key=key)
        assert mine["challengeId"] == cid
        # a second challenge, straight into FUNDED, on another product
        _, acc2 = await h.new_account()
        st2 = await start(h, acc2, "10k-1step", stage="funded")
        assert st2["stage"] == "FUNDED" and st2["productId"] == "10k-1step"

        rows = await ok(h, "GET", "/alfax/admin/challenges")
        assert [r["accountId"] for r in rows] == [acc, acc2]
        assert rows[0] == {k: st[k] for k in rows[0]} and set(rows[0]) >= {"challengeId", "status", "currentEquity"}
        assert [r["accountId"] for r in await ok(h, "GET", "/alfax/admin/challenges", {"status": "active"})] == [acc, acc2]
        assert await ok(h, "GET", "/alfax/admin/challenges", {"status": "FAILED"}) == []
        assert [r["accountId"] for r in await ok(h, "GET", "/alfax/admin/challenges",
                                                   {"productId": "10k-1step"})] == [acc2]
        assert await ok(h, "GET", "/alfax/admin/challenges", {"productId": "10k-1step", "status": "PASSED"}) == []
        assert (await err(h, "GET", "/alfax/admin/challenges", {"status": "WON"}))[1] == -1130

        show = await ok(h, "GET", "/alfax/admin/challenges/show", {"challengeId": cid})
        assert show["challengeId"] == cid and show["accountId"] == acc and show["accounts"] == [acc]
        assert show["status"] == "ACTIVE" and show["stage"] == "STAGE_1" and show["breach"] is None
        assert show["payouts"] == [] and show["rules"]["rulesVersion"] == PRODUCTS["10k-2step"].rules_version
        assert len(show["stages"]) == 1 and show["stages"][0]["accountId"] == acc
        assert show["stages"][0]["dailyFloorEquity"] == "9500.00000000"
        assert await ok(h, "GET", "/alfax/admin/challenges/show", {"accountId": acc}) == show
        assert await ok(h, "GET", "/alfax/admin/challenges/show", {"challengeId": cid.upper()}) == show
        # errors
        assert (await err(h, "GET", "/alfax/admin/challenges/show", {"challengeId": str(uuid.uuid4())}))[1] == -1130
        _, plain = await h.new_account()
        assert (await err(h, "GET", "/alfax/admin/challenges/show", {"accountId": plain}))[1] == -4601
        assert (await err(h, "GET", "/alfax/admin/challenges/show", {"accountId": 999}))[1] == -1130
        assert (await err(h, "GET", "/alfax/admin/challenges/show"))[1] == -1102

        rows = audit_rows(h, action="challenge.start")
        assert [r["target"] for r in rows] == [f"account:{acc2}", f"account:{acc}"]
        assert all(r["ok"] and r["actor"] == "operator" for r in rows)
        assert rows[1]["detail"] == {"productId": "10k-2step", "stage": "STAGE_1", "challengeId": cid,
                                     "rulesVersion": PRODUCTS["10k-2step"].rules_version,
                                     "startBalance": "10000.00000000"}

    run(fn)


def test_start_errors_are_audited(run):
    async def fn(h):
        key, acc = await h.new_account()
        S = "/alfax/admin/challenges/start"
        assert await err(h, "POST", S, {"accountId": acc, "productId": "nope"}) == (
            400, -4609, "Unknown productId 'nope'.")
        assert (await err(h, "POST", S, {"accountId": 999, "productId": "10k-2step"}))[1] == -1130
        assert (await err(h, "POST", S, {"accountId": acc, "productId": "10k-2step", "stage": "STAGE_3"}))[1] == -1130
        assert (await err(h, "POST", S, {"productId": "10k-2step"}))[1] == -1102
        # an account with an open position (or open orders) cannot become a challenge
        await market(h, key, "BUY", "0.010")
        assert h.venue.acct_positions.get(acc)
        code, msg = (await err(h, "POST", S, {"accountId": acc, "productId": "10k-2step"}))[1:]
        assert code == -4602 and "flat account" in msg
        await market(h, key, "SELL", "0.010")
        await ok(h, "POST", "/fapi/v1/order", {"symbol": BTC, "side": "BUY", "type": "LIMIT", "quantity": "0.010",
                                               "price": "49000.00", "timeInForce": "GTC"}, key=key)
        assert (await err(h, "POST", S, {"accountId": acc, "productId": "10k-2step"}))[1] == -4602
        await ok(h, "DELETE", "/fapi/v1/allOpenOrders", {"symbol": BTC}, key=key)
        await start(h, acc)
        assert (await err(h, "POST", S, {"accountId": acc, "productId": "10k-2step"}))[1] == -4602  # already one

        rows = audit_rows(h, action="challenge.start")
        assert [r["ok"] for r in rows] == [False, True, False, False, False, False, False, False]
        assert rows[-1]["target"] == f"account:{acc}" and rows[-1]["detail"] == {
            "productId": "nope", "stage": "STAGE_1", "code": -4609, "msg": "Unknown productId 'nope'."}
        assert rows[-2]["target"] == "account:999" and rows[-2]["detail"]["code"] == -1130
        assert rows[-4]["target"] == "account:" and rows[-4]["detail"]["code"] == -1102
        assert rows[-5]["detail"]["code"] == -4602 and "challengeId" not in rows[-5]["detail"]  # none was made
        assert len(h.venue.challenge_accounts) == 1

    run(fn)


def test_fail_keeps_evidence(run):
    async def fn(h):
        key, acc = await h.new_account()
        cid = (await start(h, acc))["challengeId"]
        await market(h, key, "BUY", "0.020")
        mark = h.venue.market(BTC).mark_price
        F = "/alfax/admin/challenges/fail"
        assert (await err(h, "POST", F, {"accountId": acc}))[1] == -1102
        assert (await err(h, "POST", F, {"accountId": acc, "reason": "x" * 501}))[1] == -1130
        res = await ok(h, "POST", F, {"accountId": acc, "reason": "copy trading between accounts"})
        assert res["status"] == "FAILED" and res["failReason"] == "RULE_VIOLATION" and res["accountId"] == acc
        b = res["breach"]
        assert b["rule"] == "RULE_VIOLATION" and b["detail"] == "copy trading between accounts"
        assert b["time"] == h.clock.now_ms() and b["marks"] == {BTC: f"{mark / 100:.2f}"}
        assert len(b["equity"].split(".")[1]) == 8 and b["floor"] == "0.00000000"  # no floor: an operator decision
        assert not h.venue.acct_positions.get(acc)  # flattened
        # the trader is read-only now
        code = (await err(h, "POST", "/fapi/v1/order", {"symbol": BTC, "side": "BUY", "type": "MARKET",
                                                        "quantity": "0.010"}, key=key))[1]
        assert code == -2010

        show = await ok(h, "GET", "/alfax/admin/challenges/show", {"challengeId": cid})
        assert show["status"] == "FAILED" and show["breach"] == {"accountId": acc, "stage": "STAGE_1", **b}
        assert show["stages"][0]["breach"] == b
        assert [r["accountId"] for r in await ok(h, "GET", "/alfax/admin/challenges", {"status": "FAILED"})] == [acc]

        # failing twice, a plain account, an unknown account
        code, msg = (await err(h, "POST", F, {"accountId": acc, "reason": "again"}))[1:]
        assert code == -2010 and "RULE_VIOLATION" in msg
        _, plain = await h.new_account()
        assert (await err(h, "POST", F, {"accountId": plain, "reason": "r"}))[1] == -4601
        assert (await err(h, "POST", F, {"accountId": 999, "reason": "r"}))[1] == -1130

        rows = audit_rows(h, action="challenge.fail")
        assert [(r["target"], r["ok"], r["detail"].get("code")) for r in rows] == [
            ("account:999", False, -1130), (f"account:{plain}", False, -4601), (f"account:{acc}", False, -2010),
            (f"account:{acc}", True, None), (f"account:{acc}", False, -1130), (f"account:{acc}", False, -1102)]
        done = rows[3]["detail"]
        assert done["reason"] == "copy trading between accounts" and done["challengeId"] == cid
        assert done["stage"] == "STAGE_1" and done["equity"] == b["equity"] and done["balance"] == b["balance"]

    run(fn)


# ---------------------------------------------------------------------------------------------- payouts


async def _funded_with_profit(h):
    """A FUNDED 10k-2step challenge that made ~190 USDT: 0.2 BTC bought at 50000.10, sold at 51000.00."""
    key, acc = await h.new_account()
    cid = (await start(h, acc, stage="FUNDED"))["challengeId"]
    await market(h, key, "BUY", "0.200")
    await h.feed_book(bid="51000.00", ask="51000.10", update_id=2)
    await market(h, key, "SELL", "0.200")
    assert not h.venue.acct_positions.get(acc)
    return key, acc, cid


async def _request(h, key, cid, amount):
    res = await ok(h, "POST", "/fapi/v1/payout", {"challengeId": cid, "amount": amount}, key=key)
    assert res["status"] == "requested"
    return res["payoutId"]


def test_payouts_approve_reject(run):
    async def fn(h):
        key, acc, cid = await _funded_with_profit(h)
        view = h.venue.challenge_view(acc)
        assert view.payout_available > 100 * 10**8
        p1 = await _request(h, key, cid, "60")
        rows = await ok(h, "GET", "/alfax/admin/payouts")
        assert len(rows) == 1 and rows[0]["payoutId"] == p1 and rows[0]["status"] == "requested"
        assert rows[0]["blockers"] == [] and rows[0]["amount"] == "60" and rows[0]["accountId"] == acc
        assert rows[0]["challengeId"] == cid and rows[0]["decidedAt"] is None

        A, R = "/alfax/admin/payouts/approve", "/alfax/admin/payouts/reject"
        paid = await ok(h, "POST", A, {"id": p1, "txRef": "0xabc"})
        assert paid["status"] == "paid" and paid["txRef"] == "0xabc" and paid["debited"] == "75.00000000"
        assert paid["decidedAt"] == h.clock.now_ms() and "blockers" not in paid
        # approving (or rejecting) twice
        assert await err(h, "POST", A, {"id": p1}) == (400, -4604, "Payout is already paid.")
        assert (await err(h, "POST", R, {"id": p1, "reason": "late"}))[1] == -4604
        # unknown payouts, missing parameters
        assert (await err(h, "POST", A, {"id": str(uuid.uuid4())}))[1] == -4603
        assert (await err(h, "POST", R, {"id": str(uuid.uuid4()), "reason": "x"}))[1] == -4603
        assert (await err(h, "POST", A))[1] == -1102
        assert (await err(h, "POST", R, {"id": p1}))[1] == -1102

        # the next one is inside the 14-day cadence: the list says so, approval refuses it with that reason
        p2 = await _request(h, key, cid, "50")
        req = await ok(h, "GET", "/alfax/admin/payouts", {"status": "requested"})
        assert [r["payoutId"] for r in req] == [p2] and any("cadence" in b for b in req[0]["blockers"])
        refused = await ok(h, "POST", A, {"id": p2.upper()})
        assert refused["status"] == "rejected" and "cadence" in refused["failReason"]
        # an over-cap request is accepted, then refused at approval ("exceeds available", §B8)
        p3 = await _request(h, key, cid, "5000")
        over = await ok(h, "POST", A, {"id": p3})
        assert over["status"] == "rejected" and "exceeds available" in over["failReason"]
        p4 = await _request(h, key, cid, "50")
        rej = await ok(h, "POST", R, {"id": p4, "reason": "KYC pending"})
        assert rej["status"] == "rejected" and rej["failReason"] == "KYC pending"

        assert [r["payoutId"] for r in await ok(h, "GET", "/alfax/admin/payouts", {"status": "PAID"})] == [p1]
        assert [r["payoutId"] for r in await ok(h, "GET", "/alfax/admin/payouts",
                                                   {"status": "rejected"})] == [p2, p3, p4]
        assert len(await ok(h, "GET", "/alfax/admin/payouts", {"challengeId": cid})) == 4
        assert await ok(h, "GET", "/alfax/admin/payouts", {"challengeId": str(uuid.uuid4())}) == []
        assert (await err(h, "GET", "/alfax/admin/payouts", {"status": "lost"}))[1] == -1130
        show = await ok(h, "GET", "/alfax/admin/challenges/show", {"accountId": acc})
        assert [p["payoutId"] for p in show["payouts"]] == [p1, p2, p3, p4]
        assert show["stages"][0]["paidTotal"] == "60.00000000"

        rows = audit_rows(h, action="payout.approve")
        assert [(r["target"], r["ok"], r["detail"].get("status"), r["detail"].get("code")) for r in rows] == [
            (p3, True, "rejected", None), (p2, True, "rejected", None), ("", False, None, -1102),
            (rows[3]["target"], False, None, -4603), (p1, False, None, -4604), (p1, True, "paid", None)]
        assert rows[-1]["detail"] == {"txRef": "0xabc", "challengeId": cid, "accountId": acc, "amount": "60",
                                      "status": "paid"}
        assert "exceeds available" in rows[0]["detail"]["failReason"]
        assert rows[4]["detail"]["msg"] == "Payout is already paid."
        rej_rows = audit_rows(h, action="payout.reject")
        assert [(r["target"], r["ok"]) for r in rej_rows] == [(p4, True), (p1, False), (rej_rows[2]["target"], False),
                                                              (p1, False)]
        assert rej_rows[0]["detail"]["reason"] == "KYC pending" and rej_rows[0]["detail"]["status"] == "rejected"
        assert all(r["actor"] == "operator" for r in rows + rej_rows)
        assert audit_rows(h, target=p1)[0]["action"] == "payout.reject"

    run(fn)


# ---------------------------------------------------------------------------------------------- audit


def test_audit_endpoint(run):
    async def fn(h):
        _, acc = await h.new_account()
        await start(h, acc)
        await err(h, "POST", "/alfax/admin/challenges/start", {"accountId": acc, "productId": "nope"})
        # a second operator key without a label: the actor is the first 8 characters of its API key
        anon = h.keys.create(0, frozenset({Permission.OPERATOR}), "")
        await ok(h, "POST", "/alfax/admin/challenges/fail", {"accountId": acc, "reason": "manual review"}, key=anon)

        rows = await ok(h, "GET", "/alfax/admin/audit")
        assert rows[-1]["action"] == "account.create" and rows[-1]["ok"]  # admin.py actions are audited too
        rows = [r for r in rows if r["action"].startswith("challenge.")]
        assert [(r["action"], r["ok"], r["actor"]) for r in rows] == [
            ("challenge.fail", True, anon.api_key[:8]), ("challenge.start", False, "operator"),
            ("challenge.start", True, "operator")]
        assert rows[0]["target"] == f"account:{acc}" and rows[0]["time"] == h.clock.now_ms()
        assert rows[1]["detail"]["code"] == -4609 and isinstance(rows[0]["id"], int)
        assert [r["id"] for r in await ok(h, "GET", "/alfax/admin/audit", {"limit": 1})] == [rows[0]["id"]]
        got = await ok(h, "GET", "/alfax/admin/audit", {"action": "challenge.start"})
        assert [r["id"] for r in got] == [rows[1]["id"], rows[2]["id"]]
        assert await ok(h, "GET", "/alfax/admin/audit", {"action": "nope"}) == []
        assert len(await ok(h, "GET", "/alfax/admin/audit", {"target": f"account:{acc}"})) == 3
        assert (await err(h, "GET", "/alfax/admin/audit", {"limit": 0}))[1] == -1130
        # reads are not audited
        assert len(audit_rows(h)) == 3

    run(fn)


def test_without_an_audit_store(run):
    async def fn(h):
        h.app.state.edge.ctx.audit = None
        _, acc = await h.new_account()
        await start(h, acc)
        await err(h, "POST", "/alfax/admin/challenges/start", {"accountId": acc, "productId": "nope"})
        assert await ok(h, "GET", "/alfax/admin/audit") == []
        assert audit_rows(h) == []

    run(fn)


def test_fuzz_operator_challenge_endpoints(run):
    """Garbage parameters on every endpoint of this module: a clean Binance error or 200, never -1000."""
    import random

    from alfax.api import admin_challenges
    from alfax.api.endpoints import ENDPOINTS

    names = ["accountId", "productId", "challengeId", "stage", "status", "reason", "id", "txRef", "limit", "action",
             "target"]
    rng = random.Random(99)

    async def fn(h):
        key, acc = await h.new_account()
        cid = (await start(h, acc, stage="FUNDED"))["challengeId"]
        pid = (await ok(h, "POST", "/fapi/v1/payout", {"challengeId": cid, "amount": "50"}, key=key))["payoutId"]
        values = ["", "0", "1", str(acc), "-1", "99999999999999999999999", "abc", "10k-2step", "FUNDED", "stage_2",
                  "ACTIVE", "paid", cid, cid.upper(), pid, "%ZZ", "\u00e9", "x" * 600, "1000", "1001", "challenge.start"]
        mine = [ep for ep in ENDPOINTS if getattr(admin_challenges, ep.handler.__name__, None) is ep.handler]
        assert len(mine) == 10
        for ep in mine:
            for _ in range(60):
                params = {rng.choice(names): rng.choice(values) for _ in range(rng.randint(0, 5))}
                r = await h.signed(ep.method, ep.path, params, where=rng.choice(["query", "body"]))
                assert r.status_code < 500, (ep.path, params, r.text)
                if r.status_code >= 400:
                    body = r.json()
                    assert set(body) == {"code", "msg"} and body["code"] != -1000, (ep.path, params, body)

    run(fn)


def test_a_broken_audit_store_does_not_undo_an_action(run, caplog):
    class Broken:
        def record(self, *a, **kw):
            raise OSError("disk full")

        def list(self, *a, **kw):
            return []

    async def fn(h):
        h.app.state.edge.ctx.audit = Broken()
        _, acc = await h.new_account()
        st = await start(h, acc)
        assert h.venue.challenges[acc].challenge_id == st["challengeId"]
        assert "audit log write failed: challenge.start" in caplog.text

    run(fn)
