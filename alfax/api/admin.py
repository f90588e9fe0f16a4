"""Operator (admin) API under /alfax/admin/ (docs/DESIGN.md "Operator API"); OPERATOR permission, signed."""

from __future__ import annotations

from alfax.domain.commands import CreateAccount, Transfer
from alfax.domain.enums import Permission
from alfax.domain.errors import Err, VenueError
from alfax.domain.events import AccountCreated
from alfax.domain.money import AMOUNT_DECIMALS

from .admin_challenges import audited
from .codec import amt
from .request import Req

DEFAULT_PERMISSIONS = frozenset({Permission.READ, Permission.TRADE})


def _permissions(text: str | None) -> frozenset[Permission]:
    if not text:
        return DEFAULT_PERMISSIONS
    out = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        try:
            out.add(Permission(part.lower()))
        except ValueError:
            raise VenueError(Err.INVALID_PARAMETER, param="permissions") from None
    if not out:
        raise VenueError(Err.INVALID_PARAMETER, param="permissions")
    return frozenset(out)


def _perm_str(perms) -> str:
    order = [Permission.READ, Permission.TRADE, Permission.OPERATOR]
    return ",".join(p.value for p in order if p in perms)


def _account_arg(r: Req) -> int:
    acc = r.p.req_int("accountId", lo=0)
    if not r.ctx.venue.has_account(acc):
        raise VenueError(Err.INVALID_PARAMETER, param="accountId")
    return acc


async def create_account(r: Req):
    return await audited(r, "account.create", lambda: "account:new", {"alias": r.p.str("alias")},
                         lambda: _ok(_create_account(r)))


async def _ok(coro):
    return await coro, True


async def _create_account(r: Req):
    p = r.p
    alias = p.str("alias")
    if len(alias) > 64:
        raise VenueError(Err.INVALID_PARAMETER, param="alias")
    bal = p.money("balance", AMOUNT_DECIMALS, 0)
    events = await r.ctx.submit(CreateAccount(0, alias))
    acc = next((e.account_id for e in events if type(e) is AccountCreated), None)
    if acc is None:
        raise VenueError(Err.UNKNOWN)
    if bal:
        await r.ctx.submit(Transfer(acc, bal, "initial deposit"))
    key = r.ctx.keys.create(acc, DEFAULT_PERMISSIONS, alias)
    return {"accountId": acc, "apiKey": key.api_key, "secretKey": key.secret}


def _account_ids(r: Req) -> list[int]:
    venue = r.ctx.venue
    fn = getattr(venue, "account_ids", None)
    if callable(fn):
        return sorted(fn())
    accounts = getattr(venue, "accounts", None)
    if isinstance(accounts, dict):
        return sorted(accounts)
    ids = {k.account_id for k in r.ctx.keys.list()}
    return sorted(i for i in ids if venue.has_account(i))


async def list_accounts(r: Req):
    out = []
    for acc in _account_ids(r):
        a = r.ctx.venue.account(acc)
        out.append({"accountId": acc, "alias": a.alias, "walletBalance": amt(a.wallet_balance)})
    return out


async def fund_account(r: Req):
    return await audited(r, "account.fund", lambda: f"account:{r.p.str('accountId')}",
                         {"amount": r.p.str("amount")}, lambda: _ok(_fund_account(r)))


async def _fund_account(r: Req):
    acc = _account_arg(r)
    amount = r.p.money("amount", AMOUNT_DECIMALS, required=True, allow_negative=True)
    if amount == 0:
        raise VenueError(Err.INVALID_PARAMETER, param="amount")
    await r.ctx.submit(Transfer(acc, amount, "operator transfer"))
    return {"accountId": acc, "walletBalance": amt(r.ctx.venue.account(acc).wallet_balance)}


async def create_key(r: Req):
    return await audited(r, "key.create", lambda: f"account:{r.p.str('accountId')}",
                         {"permissions": r.p.str("permissions"), "label": r.p.str("label")},
                         lambda: _ok(_create_key(r)))


async def _create_key(r: Req):
    acc = _account_arg(r)
    perms = _permissions(r.p.get("permissions"))
    key = r.ctx.keys.create(acc, perms, r.p.str("label"))
    return {"apiKey": key.api_key, "secretKey": key.secret, "permissions": _perm_str(key.permissions)}


async def list_keys(r: Req):
    acc = r.p.int("accountId")
    return [
        {"apiKey": k.api_key, "accountId": k.account_id, "permissions": _perm_str(k.permissions),
         "enabled": k.enabled, "label": k.label}
        for k in r.ctx.keys.list(acc)
    ]


async def revoke_key(r: Req):
    return await audited(r, "key.revoke", lambda: f"key:{r.p.str('apiKey')[:8]}", {}, lambda: _ok(_revoke_key(r)))


async def _revoke_key(r: Req):
    api_key = r.p.req("apiKey")
    if not r.ctx.keys.revoke(api_key):
        raise VenueError(Err.INVALID_PARAMETER, param="apiKey")
    r.edge.auth.invalidate(api_key)
    return {"apiKey": api_key, "enabled": False}


async def state(r: Req):
    return r.ctx.state()
