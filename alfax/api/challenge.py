"""Challenge endpoints (issue 4) in the exact shapes of the official ``alfax`` SDK 0.1.1 (challenge-rules.md §D).

Status and rules are camelCase with every amount a string; lifecycle and payout state are PascalCase (the SDK's
Go-worker models). Writes go through engine commands (StartChallenge, RequestPayout, DecidePayout); purchases
and their payment state live in the purchase store (``alfax/api/payments.py``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from alfax.domain.challenge_wire import lifecycle_json, payout_state_json, status_json, usdt
from alfax.domain.commands import DecidePayout, RequestPayout
from alfax.domain.enums import Permission
from alfax.domain.errors import Err, VenueError
from alfax.domain.money import AMOUNT_DECIMALS, format_fixed, parse_fixed

from . import payments
from .admin_challenges import audited
from .request import Req
from .trading import build_place


def _is_operator(r: Req) -> bool:
    return r.key is not None and Permission.OPERATOR in r.key.permissions


def _require_operator(r: Req) -> None:
    if not _is_operator(r):
        raise VenueError(Err.OPERATOR_ONLY)


def _challenge_accounts(r: Req, challenge_id: str) -> list[int]:
    """Stage accounts of a challenge the caller may see (its own, or any for an operator key)."""
    accounts = r.ctx.venue.challenge_accounts.get(challenge_id.strip().lower())
    if not accounts:
        raise VenueError(Err.NO_CHALLENGE)
    if not _is_operator(r) and r.account_id not in accounts:
        raise VenueError(Err.NO_CHALLENGE)  # never reveal other traders' challenges
    return accounts


# ------------------------------------------------------------------------------------------ status and rules
async def status(r: Req):
    acc = r.require_account()
    return status_json(r.ctx.venue.challenge_view(acc), r.edge.instruments)


def embedded_status(r: Req, account_id: int) -> dict | None:
    """``challenge`` inside ``GET /fapi/v2/account`` (None for a plain account)."""
    if account_id not in r.ctx.venue.challenges:
        return None
    return status_json(r.ctx.venue.challenge_view(account_id), r.edge.instruments)


async def rules(r: Req):
    acc = r.require_account()
    st = r.ctx.venue.challenges.get(acc)
    if st is None:
        raise VenueError(Err.NO_CHALLENGE)
    doc = r.ctx.venue.rulebooks[st.rules_version].rules_json()
    doc["currentStage"] = st.stage
    doc["challengeId"] = st.challenge_id
    return doc


async def products(r: Req):
    return [p.rules_json() | {"title": p.title} for p in r.ctx.products.values()]


async def lifecycle(r: Req):
    accounts = _challenge_accounts(r, r.p.req("challengeId"))
    return lifecycle_json(r.ctx.venue.challenge_view(accounts[-1]), r.edge.instruments)


# ------------------------------------------------------------------------------------------ purchases
async def purchase(r: Req):
    r.require_account()
    pid = r.p.req("productId")
    product = r.ctx.products.get(pid)
    if product is None:
        raise VenueError(Err.UNKNOWN_PRODUCT, product=pid[:64])
    name = r.p.str("provider", "stub")
    provider = r.ctx.payment_providers.get(name)
    if provider is None:
        raise VenueError(Err.UNKNOWN_PROVIDER, provider=name[:64])
    purchase_id, challenge_id, run_id = payments.new_ids()
    # durable before anything else: an acknowledged purchase survives a crash (minting is then resumed)
    row = r.ctx.purchases.create(purchase_id, r.key.account_id, pid, name, usdt(product.account_size), r.now,
                                 challenge_id=challenge_id, run_id=run_id)
    started = provider.start(row)
    if started.settled:
        row = r.ctx.purchases.set_status(purchase_id, "paid", r.now, provider_ref=started.provider_ref)
        row = await payments.mint(r.ctx, row, r.now)
    return {"purchaseId": purchase_id, "workflowId": f"challenge-purchase-{purchase_id}", "runId": run_id,
            "status": "initiated",
            # extensions
            "paymentStatus": row["status"], "challengeId": challenge_id, "provider": name,
            "checkoutUrl": started.checkout_url or None}


def _purchase_json(row: dict) -> dict:
    return {"purchaseId": row["purchase_id"], "status": row["status"], "productId": row["product_id"],
            "provider": row["provider"], "challengeId": row["challenge_id"],
            "accountId": row["account_id"] or None, "credentialsRetrieved": bool(row["credentials_taken"]),
            "failReason": row["fail_reason"], "createdAt": row["created_ms"], "updatedAt": row["updated_ms"]}


async def purchase_status(r: Req):
    """The purchase; once minted, the first call also returns the new account's API key and secret (never again)."""
    row = r.ctx.purchases.get(r.p.req("purchaseId").strip().lower())
    if row is None or (row["buyer_account"] != r.key.account_id and not _is_operator(r)):
        raise VenueError(Err.PURCHASE_NOT_FOUND)
    out = _purchase_json(row)
    if row["status"] == "minted" and not row["credentials_taken"] and row["buyer_account"] == r.key.account_id:
        creds = r.ctx.purchases.take_credentials(row["purchase_id"])
        if creds is not None:
            out.update(creds)
            out["credentialsRetrieved"] = True
    return out


async def payment_webhook(r: Req):
    """A provider's signed callback: ``paid`` mints the challenge, ``failed`` records why. Idempotent."""
    name = r.p.str("provider", "signed")
    provider = r.ctx.payment_providers.get(name)
    if provider is None or not hasattr(provider, "verify"):
        raise VenueError(Err.UNKNOWN_PROVIDER, provider=name[:64])
    doc = provider.verify(r.header(b"x-alfax-timestamp"), r.header(b"x-alfax-signature"), r.body, r.now)
    row = r.ctx.purchases.get(str(doc.get("purchaseId", "")).lower())
    if row is None or row["provider"] != name:
        raise VenueError(Err.PURCHASE_NOT_FOUND)
    if row["status"] in ("initiated",):
        if doc["status"] == "paid":
            row = r.ctx.purchases.set_status(row["purchase_id"], "paid", r.now,
                                             provider_ref=str(doc.get("providerRef", ""))[:128])
        else:
            row = r.ctx.purchases.set_status(row["purchase_id"], "failed", r.now,
                                             fail_reason=str(doc.get("reason", "payment failed"))[:256])
    if row["status"] == "paid":
        row = await payments.mint(r.ctx, row, r.now)
    return _purchase_json(row)


# ------------------------------------------------------------------------------------------ payouts
def _amount(text: str) -> int:
    try:
        d = Decimal(text)
    except (InvalidOperation, ValueError):
        raise VenueError(Err.PAYOUT_AMOUNT) from None
    if not d.is_finite() or d <= 0 or d != d.quantize(Decimal("0.01")):
        raise VenueError(Err.PAYOUT_AMOUNT)
    return parse_fixed(format(d, "f"), AMOUNT_DECIMALS)


async def request_payout(r: Req):
    r.require_account()
    accounts = _challenge_accounts(r, r.p.req("challengeId"))
    currency = r.p.str("currency", "USDT").upper()
    if currency != "USDT":
        raise VenueError(Err.INVALID_PARAMETER, param="currency")
    amount = _amount(r.p.req("amount"))
    payout_id, _, run_id = payments.new_ids()
    await r.ctx.submit(RequestPayout(account_id=accounts[-1], payout_id=payout_id, amount=amount, currency=currency))
    return {"payoutId": payout_id, "workflowId": f"payout-{payout_id}", "runId": run_id, "status": "requested"}


def _payout(r: Req):
    po = r.ctx.venue.payouts.get(r.p.req("id").strip().lower())
    if po is None:
        raise VenueError(Err.PAYOUT_NOT_FOUND)
    if not _is_operator(r) and r.account_id not in r.ctx.venue.challenge_accounts.get(po.challenge_id, ()):
        raise VenueError(Err.PAYOUT_NOT_FOUND)
    return po


async def get_payout(r: Req):
    return payout_state_json(_payout(r))


async def payout_eligibility(r: Req):
    acc = r.require_account()
    view = r.ctx.venue.challenge_view(acc)
    amount = r.p.get("amount")
    probe = _amount(amount) if amount else None
    return {"challengeId": view.challenge_id, "stage": view.stage, "available": usdt(view.payout_available),
            "paidTotal": usdt(view.paid_total), "blockers": r.ctx.venue.payout_blockers(acc, probe)}


async def _decide(r: Req, approve: bool) -> dict:
    _require_operator(r)
    po = _payout(r)
    reason = "" if approve else r.p.req("reason")[:256]
    detail: dict = {"payoutId": po.payout_id, "amount": format_fixed(po.amount, 2), "reason": reason}

    async def run():
        await r.ctx.submit(DecidePayout(payout_id=po.payout_id, approve=approve, reason=reason,
                                        tx_ref=r.p.str("txRef")[:128]))
        after = r.ctx.venue.payouts[po.payout_id]
        detail.update(status=after.status.value, failReason=after.fail_reason)
        return after, True

    after = await audited(r, "payout.approve" if approve else "payout.reject", lambda: po.payout_id, detail, run)
    state = payout_state_json(after)
    return state | {"payoutId": after.payout_id, "status": after.status.value, "txRef": after.tx_ref,
                    "failReason": after.fail_reason}


async def approve_payout(r: Req):
    return await _decide(r, True)


async def reject_payout(r: Req):
    return await _decide(r, False)


# ------------------------------------------------------------------------------------------ pre-trade check
def _check_json(res, inst) -> dict:
    qty = lambda raw: format_fixed(raw, inst.quantity_precision)  # noqa: E731
    return {"decision": res.decision, "reason": res.reason, "requestedQty": qty(res.requested_qty),
            "maxSafeQty": qty(res.max_safe_qty), "estimatedFillPrice": format_fixed(res.fill_price, inst.price_precision),
            "proposedRisk": usdt(res.proposed_risk), "roomDaily": usdt(res.room_daily), "roomTotal": usdt(res.room_total),
            "roomDailyAfter": usdt(res.room_daily_after), "roomTotalAfter": usdt(res.room_total_after),
            "distanceToBreachAfter": usdt(min(res.room_daily_after, res.room_total_after)),
            "equity": usdt(res.equity), "challenge": res.is_challenge}


async def check(r: Req):
    """``POST /fapi/v1/challenge/check``: the parameters of an order (+ optional ``stopPrice`` for the stop you
    would attach) → allow / reduce / block, the largest safe quantity and the room left after the order."""
    r.require_account()
    inst = r.instrument()
    cmd, _ = build_place(r, r.p, inst, False)
    return _check_json(r.ctx.venue.challenge_check(cmd), inst)


async def order_test(r: Req):
    """``POST /fapi/v1/order/test``: the order is validated like a real one, challenge rules included; nothing
    is placed. Answers ``{}`` as Binance does (rejections are the usual errors, -2010 naming the rule)."""
    r.require_account()
    inst = r.instrument()
    cmd, _ = build_place(r, r.p, inst, False)
    r.ctx.venue.challenge_precheck(cmd)
    return {}


__all__ = ["status", "rules", "products", "lifecycle", "purchase", "purchase_status", "payment_webhook",
           "request_payout", "get_payout", "payout_eligibility", "approve_payout", "reject_payout", "check",
           "order_test", "embedded_status"]
