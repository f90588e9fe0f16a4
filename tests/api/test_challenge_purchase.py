"""Challenge purchases through the real edge (ASGI transport, real engine, real SQLite stores): the stub provider,
the signed payment webhook (verified, replay-proof, idempotent), credentials shown exactly once, and a purchase
left ``paid`` by a crash minted on resume."""

from __future__ import annotations

import asyncio
import hashlib
import hmac

import orjson
import pytest


from alfax.api import payments

from .conftest import Harness

SECRET = "webhook-test-secret"  # tests/api/conftest.py wires the "signed" provider with it


@pytest.fixture
def run(tmp_path):
    h = Harness(tmp_path)

    def _run(fn):
        async def go():
            await h.feed_book()
            await fn(h)

        asyncio.run(go())

    yield _run
    h.close()


async def ok(h, method, path, params=None, key=None):
    r = await h.signed(method, path, params, key=key, where="query")
    assert r.status_code == 200, f"{method} {path} {params} -> {r.status_code} {r.text}"
    return r.json()


def _signed_headers(body: bytes, ts: int, secret: str = SECRET) -> dict:
    sig = hmac.new(secret.encode(), str(ts).encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Alfax-Timestamp": str(ts), "X-Alfax-Signature": sig, "Content-Type": "application/json"}


async def _webhook(h, doc: dict, ts: int | None = None, secret: str = SECRET):
    body = orjson.dumps(doc)
    ts = h.clock.now_ms() if ts is None else ts
    return await h.client.post("/alfax/payments/webhook?provider=signed", content=body,
                               headers=_signed_headers(body, ts, secret))


def test_stub_purchase_mints_at_once_and_shows_credentials_once(run):
    async def fn(h):
        key, buyer = await h.new_account()
        res = await ok(h, "POST", "/fapi/v1/challenge/purchase", {"productId": "10k-1step", "provider": "stub"}, key)
        assert res["status"] == "initiated" and res["paymentStatus"] == "minted"
        assert res["workflowId"].endswith(res["purchaseId"]) and len(res["runId"]) == 36
        first = await ok(h, "GET", "/fapi/v1/challenge/purchase", {"purchaseId": res["purchaseId"]}, key)
        assert first["apiKey"] and first["apiSecret"] and first["credentialsRetrieved"] is True
        again = await ok(h, "GET", "/fapi/v1/challenge/purchase", {"purchaseId": res["purchaseId"]}, key)
        assert "apiKey" not in again and "apiSecret" not in again and again["credentialsRetrieved"] is True
        # the minted key trades its own challenge account, a STAGE_1 of the product bought
        minted = h.keys.lookup(first["apiKey"])
        assert minted.account_id == first["accountId"] != buyer
        st = await ok(h, "GET", "/fapi/v1/challenge", key=minted)
        assert (st["challengeId"], st["stage"], st["productId"], st["startBalance"]) == (
            res["challengeId"], "STAGE_1", "10k-1step", "10000.00000000")
        # nobody else sees the purchase
        other, _ = await h.new_account()
        r = await h.signed("GET", "/fapi/v1/challenge/purchase", {"purchaseId": res["purchaseId"]}, key=other)
        assert r.status_code == 400 and r.json()["code"] == -4606

    run(fn)


def test_signed_webhook_mints_only_a_verified_payment(run):
    async def fn(h):
        key, _ = await h.new_account()
        res = await ok(h, "POST", "/fapi/v1/challenge/purchase", {"productId": "10k-2step", "provider": "signed"}, key)
        pid = res["purchaseId"]
        assert res["paymentStatus"] == "initiated" and pid not in h.venue.challenge_accounts
        st = await ok(h, "GET", "/fapi/v1/challenge/purchase", {"purchaseId": pid}, key)
        assert st["status"] == "initiated" and "apiKey" not in st
        doc = {"purchaseId": pid, "status": "paid", "providerRef": "ch_123"}
        # forged (wrong secret), stale (a replay 10 minutes later), unknown provider: nothing is minted
        r = await _webhook(h, doc, secret="not-the-secret")
        assert r.status_code == 400 and r.json()["code"] == -1022
        r = await _webhook(h, doc, ts=h.clock.now_ms() - 600_000)
        assert r.status_code == 400 and r.json()["code"] == -1021
        r = await h.client.post("/alfax/payments/webhook?provider=nope", content=b"{}")
        assert r.status_code == 400 and r.json()["code"] == -4610
        assert (await ok(h, "GET", "/fapi/v1/challenge/purchase", {"purchaseId": pid}, key))["status"] == "initiated"
        # the verified callback mints; a duplicate delivery changes nothing
        r = await _webhook(h, doc)
        assert r.status_code == 200 and r.json()["status"] == "minted"
        accounts = list(h.venue.challenge_accounts[res["challengeId"]])
        r = await _webhook(h, doc)
        assert r.status_code == 200 and h.venue.challenge_accounts[res["challengeId"]] == accounts
        creds = await ok(h, "GET", "/fapi/v1/challenge/purchase", {"purchaseId": pid}, key)
        assert h.keys.lookup(creds["apiKey"]).account_id == accounts[0]

    run(fn)


def test_failed_payment_is_recorded_and_never_minted(run):
    async def fn(h):
        key, _ = await h.new_account()
        res = await ok(h, "POST", "/fapi/v1/challenge/purchase", {"productId": "10k-2step", "provider": "signed"}, key)
        r = await _webhook(h, {"purchaseId": res["purchaseId"], "status": "failed", "reason": "card declined"})
        assert r.status_code == 200 and r.json()["status"] == "failed" and r.json()["failReason"] == "card declined"
        r = await _webhook(h, {"purchaseId": res["purchaseId"], "status": "paid"})  # too late: stays failed
        assert r.json()["status"] == "failed" and res["challengeId"] not in h.venue.challenge_accounts

    run(fn)


def test_purchase_errors(run):
    async def fn(h):
        key, _ = await h.new_account()
        for params, code in (({"productId": "nope"}, -4609), ({"productId": "10k-2step", "provider": "paypal"}, -4610),
                             ({}, -1102)):
            r = await h.signed("POST", "/fapi/v1/challenge/purchase", params, key=key)
            assert r.status_code == 400 and r.json()["code"] == code, (params, r.text)

    run(fn)


def test_a_paid_purchase_is_minted_on_resume(run):
    """A crash between 'paid' and 'minted': resuming mints it exactly once (the challenge id was fixed at purchase)."""

    async def fn(h):
        key, buyer = await h.new_account()
        ctx = h.app.state.edge.ctx
        pid, cid, run_id = payments.new_ids()
        ctx.purchases.create(pid, buyer, "10k-2step", "signed", "10000", h.clock.now_ms(), challenge_id=cid,
                             run_id=run_id)
        row = ctx.purchases.set_status(pid, "paid", h.clock.now_ms())
        assert [p["purchase_id"] for p in ctx.purchases.pending_mints()] == [pid]
        minted = await payments.mint(ctx, row, h.clock.now_ms())
        assert minted["status"] == "minted" and ctx.purchases.pending_mints() == []
        # a second mint (e.g. a webhook retry racing the resume) does not create another account
        again = await payments.mint(ctx, ctx.purchases.get(pid), h.clock.now_ms())
        assert again["account_id"] == minted["account_id"] and len(h.venue.challenge_accounts[cid]) == 1

    run(fn)
