"""Operator API for prop challenges under /alfax/admin/ (issue 4): products, challenges with their breach evidence,
payouts and the operator audit log. OPERATOR permission, signed, camelCase like the rest of the operator API.

Every state-changing handler writes exactly one audit row (``r.ctx.audit``, ``alfax.ledger.audit.SqliteAuditLog``;
skipped when the server runs without one), also when the action fails: ``ok`` false and the Binance error code
and message in the detail. The actor is the operator key's label, or the first 8 characters of its API key.
Actions and targets: ``challenge.start`` / ``challenge.fail`` on ``account:<id>``, ``payout.approve`` /
``payout.reject`` on the payout id (as ``POST /fapi/v1/payout/approve|reject`` record them). ``ok`` says the
action was carried out; an approval the payout gates refused is carried out with ``status`` "rejected".
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Awaitable, Callable

from alfax.domain.challenge_state import ChallengeStatus, Payout, PayoutStatus
from alfax.domain.challenge_wire import breach_json, status_json, usdt
from alfax.domain.commands import DecidePayout, FailChallenge, StartChallenge
from alfax.domain.errors import Err, VenueError
from alfax.domain.money import AMOUNT_DECIMALS, format_trimmed
from alfax.domain.products import FUNDED, Product

from .request import Req

log = logging.getLogger("alfax.api.admin")

MAX_REASON = 500
MAX_TX_REF = 128
AUDIT_LIMIT_MAX = 1000

# audit action names (the ``action`` filter of GET /alfax/admin/audit)
A_START = "challenge.start"
A_FAIL = "challenge.fail"
A_APPROVE = "payout.approve"
A_REJECT = "payout.reject"


# ====================================================================== audit
def actor(r: Req) -> str:
    k = r.key
    if k is None:
        return ""
    return k.label or k.api_key[:8]


def audit(r: Req, action: str, target: str, detail: dict, ok: bool) -> None:
    """One audit row for an operator action; a failing audit store never turns a done action into an error."""
    store = r.ctx.audit
    if store is None:
        return
    try:
        store.record(actor(r), action, target[:128], detail, ok, r.now)
    except Exception:
        log.exception("audit log write failed: %s %s %s ok=%s", action, target, detail, ok)


async def audited(r: Req, action: str, target: Callable[[], str], detail: dict,
                  run: Callable[[], Awaitable[tuple[Any, bool]]]) -> Any:
    """Run ``run`` (returns (response, ok)) and record it; an exception is recorded with ok=False and re-raised.
    ``detail`` may be filled in by ``run`` as it learns things (the challenge id, the resulting status…)."""
    try:
        result, ok = await run()
    except VenueError as e:
        audit(r, action, target(), {**detail, "code": e.code, "msg": e.msg}, False)
        raise
    except Exception as e:
        audit(r, action, target(), {**detail, "error": type(e).__name__}, False)
        raise
    audit(r, action, target(), detail, ok)
    return result


def _text(r: Req, name: str, limit: int, required: bool) -> str:
    v = r.p.req(name) if required else r.p.str(name)
    v = v.strip()
    if (required and not v) or len(v) > limit:
        raise VenueError(Err.INVALID_PARAMETER, param=name)
    return v


# ====================================================================== shared helpers
def _product(r: Req, product_id: str) -> Product:
    p = r.ctx.products.get(product_id)
    if p is None:
        raise VenueError(Err.UNKNOWN_PRODUCT, product=product_id)
    return p


def _pinned(r: Req, product_id: str) -> list[Product]:
    """Rulebooks pinned by challenges of ``product_id`` (a changed product keeps its old versions running)."""
    return [p for _, p in sorted(r.ctx.venue.rulebooks.items()) if p.product_id == product_id]


def _stage_names(p: Product) -> list[str]:
    return [s.name for s in p.stages] + [FUNDED]


def _product_row(p: Product, counts: dict[str, list[int]]) -> dict:
    c = counts.get(p.product_id, [0, 0])
    return {"productId": p.product_id, "title": p.title,
            "accountSize": format_trimmed(p.account_size, AMOUNT_DECIMALS), "currency": p.currency,
            "stages": _stage_names(p), "maxLeverage": p.max_leverage, "payoutSplitBps": p.payout_split_bps,
            "rulesVersion": p.rules_version, "challenges": c[0], "activeAccounts": c[1]}


def _product_counts(r: Req) -> dict[str, list[int]]:
    """productId -> [challenges, ACTIVE stage accounts]."""
    seen: dict[str, set[str]] = {}
    out: dict[str, list[int]] = {}
    for st in r.ctx.venue.challenges.values():
        row = out.setdefault(st.product_id, [0, 0])
        ids = seen.setdefault(st.product_id, set())
        if st.challenge_id not in ids:
            ids.add(st.challenge_id)
            row[0] += 1
        if st.status is ChallengeStatus.ACTIVE:
            row[1] += 1
    return out


def _payout_json(r: Req, po: Payout) -> dict:
    out = {"payoutId": po.payout_id, "challengeId": po.challenge_id, "accountId": po.account_id,
           "amount": format_trimmed(po.amount, AMOUNT_DECIMALS), "currency": po.currency, "status": po.status.value,
           "requestedAt": po.requested_at, "decidedAt": po.decided_at or None, "txRef": po.tx_ref,
           "failReason": po.fail_reason, "debited": usdt(po.debited)}
    if po.status is PayoutStatus.REQUESTED:
        # what approval would say right now (the gates and the cap are checked again at approval, §B8)
        try:
            out["blockers"] = r.ctx.venue.payout_blockers(po.account_id, po.amount)
        except (KeyError, VenueError):
            out["blockers"] = []
    return out


def _resolve_challenge(r: Req) -> str:
    """The challenge id named by ``challengeId`` or by ``accountId`` (any of its stage accounts)."""
    venue = r.ctx.venue
    cid = r.p.get("challengeId")
    if cid is not None:
        cid = cid.strip().lower()
        if cid not in venue.challenge_accounts:
            raise VenueError(Err.INVALID_PARAMETER, param="challengeId")
        return cid
    if r.p.get("accountId") is None:
        raise VenueError(Err.EITHER_PARAM, a="challengeId", b="accountId")
    acc = r.p.req_int("accountId", lo=0)
    st = venue.challenges.get(acc)
    if st is None:
        if not venue.has_account(acc):
            raise VenueError(Err.INVALID_PARAMETER, param="accountId")
        raise VenueError(Err.NO_CHALLENGE)
    return st.challenge_id


def _status_filter(r: Req) -> ChallengeStatus | None:
    s = r.p.get("status")
    if s is None:
        return None
    try:
        return ChallengeStatus(s.upper())
    except ValueError:
        raise VenueError(Err.INVALID_PARAMETER, param="status") from None


def _payout_status_filter(r: Req) -> PayoutStatus | None:
    s = r.p.get("status")
    if s is None:
        return None
    try:
        return PayoutStatus(s.lower())
    except ValueError:
        raise VenueError(Err.INVALID_PARAMETER, param="status") from None


# ====================================================================== products
async def list_products(r: Req):
    counts = _product_counts(r)
    return [_product_row(p, counts) for _, p in sorted(r.ctx.products.items())]


async def show_product(r: Req):
    """The catalog's product (its rules, as ``GET /fapi/v1/challenge/rules`` shows them) and the rules versions
    running challenges pinned. A product no longer on sale is still shown from its newest pinned rulebook."""
    pid = r.p.req("productId")
    p = r.ctx.products.get(pid)
    pinned = _pinned(r, pid)
    on_sale = p is not None
    if p is None:
        if not pinned:
            raise VenueError(Err.UNKNOWN_PRODUCT, product=pid)
        p = pinned[-1]
    counts = _product_counts(r)
    c = counts.get(pid, [0, 0])
    by_version: dict[str, int] = {}
    for st in r.ctx.venue.challenges.values():
        if st.product_id == pid:
            by_version[st.rules_version] = by_version.get(st.rules_version, 0) + 1
    out = {"title": p.title, **p.rules_json(), "onSale": on_sale, "challenges": c[0], "activeAccounts": c[1],
           "pinnedVersions": [{"rulesVersion": q.rules_version, "stageAccounts": by_version.get(q.rules_version, 0),
                               "current": on_sale and q.rules_version == p.rules_version} for q in pinned]}
    return out


# ====================================================================== challenges
_LIST_KEYS = ("accountId", "challengeId", "productId", "rulesVersion", "stage", "status", "failReason",
              "startBalance", "walletBalance", "currentEquity", "profitCurrent", "profitTarget", "tradingDays",
              "minTradingDays", "openPositions", "startedAt", "endedAt", "previousAccountId", "nextAccountId")


async def list_challenges(r: Req):
    """Every stage account (oldest first), optionally filtered by ``status`` and ``productId``."""
    status = _status_filter(r)
    pid = r.p.get("productId")
    venue = r.ctx.venue
    dec = r.edge.instruments
    out = []
    for aid in sorted(venue.challenges):
        st = venue.challenges[aid]
        if status is not None and st.status is not status:
            continue
        if pid is not None and st.product_id != pid:
            continue
        full = status_json(venue.challenge_view(aid), dec)
        out.append({k: full[k] for k in _LIST_KEYS})
    return out


async def show_challenge(r: Req):
    """One challenge: every stage with its full view (breach evidence included), the pinned rules, its payouts."""
    cid = _resolve_challenge(r)
    venue = r.ctx.venue
    dec = r.edge.instruments
    accounts = list(venue.challenge_accounts.get(cid, ()))
    stages = [status_json(venue.challenge_view(aid), dec) for aid in accounts]
    newest = venue.challenges[accounts[-1]]
    failed = next((venue.challenges[a] for a in accounts if venue.challenges[a].breach is not None), None)
    book = venue.rulebooks.get(newest.rules_version)
    payouts = sorted((po for po in venue.payouts.values() if po.challenge_id == cid),
                     key=lambda po: po.requested_at)  # stable: request order
    return {
        "challengeId": cid, "productId": newest.product_id, "rulesVersion": newest.rules_version,
        "accountId": newest.account_id, "stage": newest.stage, "status": newest.status.value,
        "failReason": newest.fail_reason, "accounts": accounts,
        "breach": None if failed is None else {"accountId": failed.account_id, "stage": failed.stage,
                                                **breach_json(failed.breach, dec)},  # type: ignore[dict-item]
        "stages": stages,
        "rules": None if book is None else book.rules_json(),
        "payouts": [_payout_json(r, po) for po in payouts],
    }


async def start_challenge(r: Req):
    """Make a flat account (no position, no open order, no challenge) a challenge of a catalog product: the wallet
    is set to the product's account size and the rules are pinned. The account's API keys follow the challenge."""
    detail: dict[str, Any] = {}
    target = [f"account:{r.p.str('accountId')}"]

    async def run():
        acc = r.p.req_int("accountId", lo=0)
        target[0] = f"account:{acc}"
        pid = r.p.req("productId")
        detail["productId"] = pid
        stage = r.p.str("stage", "STAGE_1").upper()
        detail["stage"] = stage
        if not r.ctx.venue.has_account(acc):
            raise VenueError(Err.INVALID_PARAMETER, param="accountId")
        p = _product(r, pid)
        if stage not in _stage_names(p):
            raise VenueError(Err.INVALID_PARAMETER, param="stage")
        detail["rulesVersion"] = p.rules_version
        cid = str(uuid.uuid4())
        await r.ctx.submit(StartChallenge(acc, cid, product=p.source, stage=stage))
        detail["challengeId"] = cid
        view = r.ctx.venue.challenge_view(acc)
        detail["startBalance"] = usdt(view.start_balance)
        return status_json(view, r.edge.instruments), True

    return await audited(r, A_START, lambda: target[0], detail, run)


async def fail_challenge(r: Req):
    """Fail a challenge for a rule violation found outside the engine (FailReason RULE_VIOLATION): flattened,
    locked, evidence kept. ``accountId`` may be any stage account of the challenge: its newest stage is failed."""
    detail: dict[str, Any] = {}
    target = [f"account:{r.p.str('accountId')}"]

    async def run():
        acc = r.p.req_int("accountId", lo=0)
        target[0] = f"account:{acc}"
        reason = _text(r, "reason", MAX_REASON, True)
        detail["reason"] = reason
        venue = r.ctx.venue
        if not venue.has_account(acc):
            raise VenueError(Err.INVALID_PARAMETER, param="accountId")
        stage_acc = venue.stage_account(acc)
        st = venue.challenges.get(stage_acc)
        if st is not None:
            detail["challengeId"] = st.challenge_id
            detail["stage"] = st.stage
        if stage_acc != acc:
            detail["stageAccountId"] = stage_acc
        await r.ctx.submit(FailChallenge(stage_acc, reason))
        view = venue.challenge_view(stage_acc)
        if view.breach is not None:  # equity and balance as they were when failed (before the flatten)
            detail["equity"] = usdt(view.breach.equity)
            detail["balance"] = usdt(view.breach.balance)
        return status_json(view, r.edge.instruments), True

    return await audited(r, A_FAIL, lambda: target[0], detail, run)


# ====================================================================== payouts
async def list_payouts(r: Req):
    """Payouts, oldest request first, optionally filtered by ``status`` (and ``challengeId``); a requested one
    carries ``blockers``: what approval would refuse right now."""
    status = _payout_status_filter(r)
    cid = r.p.get("challengeId")
    cid = None if cid is None else cid.strip().lower()
    out = []
    for po in sorted(r.ctx.venue.payouts.values(), key=lambda po: po.requested_at):  # stable: request order
        if status is not None and po.status is not status:
            continue
        if cid is not None and po.challenge_id != cid:
            continue
        out.append(_payout_json(r, po))
    return out


async def _decide(r: Req, approve: bool):
    detail: dict[str, Any] = {}
    target = [r.p.str("id").strip().lower()]

    async def run():
        pid = r.p.req("id").strip().lower()
        if approve:
            tx_ref = _text(r, "txRef", MAX_TX_REF, False)
            reason = ""
            if tx_ref:
                detail["txRef"] = tx_ref
        else:
            tx_ref = ""
            reason = _text(r, "reason", MAX_REASON, True)
            detail["reason"] = reason
        po = r.ctx.venue.payouts.get(pid)
        if po is not None:
            detail.update(challengeId=po.challenge_id, accountId=po.account_id,
                          amount=format_trimmed(po.amount, AMOUNT_DECIMALS))
        await r.ctx.submit(DecidePayout(pid, approve, reason=reason, tx_ref=tx_ref))
        po = r.ctx.venue.payouts[pid]
        detail["status"] = po.status.value
        if po.fail_reason:
            detail["failReason"] = po.fail_reason
        # ok = the decision was taken; an approval the gates refused ends "rejected" (status and failReason here)
        return _payout_json(r, po), True

    return await audited(r, A_APPROVE if approve else A_REJECT, lambda: target[0], detail, run)


async def approve_payout(r: Req):
    """Approve: the gates and the cap are checked again; paid at once (``txRef`` given or generated), or rejected
    with the failed gates in ``failReason`` (e.g. "... exceeds available ...")."""
    return await _decide(r, True)


async def reject_payout(r: Req):
    return await _decide(r, False)


# ====================================================================== audit log
async def audit_log(r: Req):
    """Operator actions, newest first (``limit`` default 100, max 1000; ``action`` and ``target`` filters)."""
    limit = r.p.limit(100, AUDIT_LIMIT_MAX)
    store = r.ctx.audit
    if store is None:
        return []
    return store.list(limit=limit, action=r.p.str("action"), target=r.p.str("target"))
