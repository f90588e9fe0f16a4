"""Automation endpoints (issue 5): the account's TradingView webhook, its alert log, signal subscriptions and
notifications. Signed like every Binance USER_DATA / TRADE call, so ccxt/python-binance "private" helpers and the
SDK reach them with the same key.

The webhook belongs to the key's own account (a challenge's first stage): when a stage passes, the key follows the
challenge to the next stage and so does the webhook URL (the webhook resolves the trading account per alert), so
the URL pasted into TradingView never has to change.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from alfax.domain.alert_model import TRADINGVIEW_WEBHOOK_IPS
from alfax.domain.errors import Err, VenueError

from .request import Req

TRADINGVIEW = "tradingview"
MODES = ("fixed_qty", "notional", "equity_pct")


def _hook_account(r: Req) -> int:
    """The key's own account, or — on the operator routes (/alfax/admin/…) — the ``accountId`` parameter."""
    if r.path.startswith("/alfax/admin/"):
        acc = r.p.req_int("accountId", lo=1)
        if not r.ctx.venue.has_account(acc):
            raise VenueError(Err.INVALID_PARAMETER, param="accountId")
        return acc
    r.require_account()
    assert r.key is not None
    return r.key.account_id


def _webhook_json(r: Req, hook) -> dict:
    return hook.to_dict(r.ctx.public_url)


async def get_webhook(r: Req):
    return _webhook_json(r, r.ctx.webhooks.ensure(_hook_account(r), r.now))


async def rotate_webhook(r: Req):
    return _webhook_json(r, r.ctx.webhooks.rotate(_hook_account(r), r.now))


def _allow_list(text: str) -> tuple[str, ...]:
    text = text.strip()
    if text.lower() in ("", "off", "none", "any"):
        return ()
    if text.lower() == TRADINGVIEW:
        return TRADINGVIEW_WEBHOOK_IPS
    out = []
    for part in text.split(","):
        try:
            out.append(str(ipaddress.ip_address(part.strip())))
        except ValueError:
            raise VenueError(Err.INVALID_PARAMETER, param="ipAllowlist") from None
    return tuple(out)


async def set_webhook(r: Req):
    """``secret`` ("" clears it), ``ipAllowlist`` ("tradingview", "off", or addresses separated by commas),
    ``enabled`` (true/false); any subset."""
    acc = _hook_account(r)
    hooks, p = r.ctx.webhooks, r.p
    # raw presence: an empty secret= / ipAllowlist= is meaningful here (turn the check off)
    if not any(name in p.d for name in ("secret", "ipAllowlist", "enabled")):
        raise VenueError(Err.EITHER_PARAM, a="secret", b="ipAllowlist")
    hook = hooks.ensure(acc, r.now)
    if "secret" in p.d:
        secret = p.str("secret")
        if len(secret) > 128 or any(c.isspace() or c in ";=\"" for c in secret):
            raise VenueError(Err.INVALID_PARAMETER, param="secret")  # it must survive the grammar as secret=…
        hook = hooks.set_secret(acc, secret or None, r.now)
    if "ipAllowlist" in p.d:
        hook = hooks.set_allow_ips(acc, _allow_list(p.str("ipAllowlist")), r.now)
    if "enabled" in p:
        hook = hooks.set_enabled(acc, p.bool("enabled"), r.now)
    return _webhook_json(r, hook)


# ---------------------------------------------------------------------------------------------------- alert log

def _alert_json(r: Req, row) -> dict:
    return r.ctx.alert_view(row) if r.ctx.alert_view is not None else row.to_dict()


def _own_accounts(r: Req) -> set[int]:
    """Every stage account of the key's challenge (or just its account): the alert log spans the stages."""
    root = _hook_account(r)
    venue = r.ctx.venue
    out = {root, venue.stage_account(root)}
    for accounts in venue.challenge_accounts.values():
        if root in accounts:
            out.update(accounts)
    return out


async def list_alerts(r: Req):
    limit = r.p.limit(100, 1000)
    before = r.p.int("fromId", None, lo=1)
    rows = []
    for acc in _own_accounts(r):
        rows.extend(r.ctx.alerts.list(acc, limit, before + 1 if before else None))
    rows.sort(key=lambda row: row.alert_id, reverse=True)
    return [_alert_json(r, row) for row in rows[:limit]]


async def get_alert(r: Req):
    row = r.ctx.alerts.get(r.p.req_int("alertId", lo=1))
    if row is None or row.account_id not in _own_accounts(r):
        raise VenueError(Err.INVALID_PARAMETER, param="alertId")
    return _alert_json(r, row)


# ---------------------------------------------------------------------------------------------------- subscriptions

def _decimal(r: Req, name: str, *, required: bool) -> str | None:
    text = r.p.req(name) if required else r.p.get(name)
    if text is None or text == "":
        return None
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise VenueError(Err.INVALID_PARAMETER, param=name) from None
    if not d.is_finite() or d <= 0:
        raise VenueError(Err.INVALID_PARAMETER, param=name)
    return str(d)


async def list_subscriptions(r: Req):
    return r.ctx.subscriptions.list(account_id=_hook_account(r))


async def add_subscription(r: Req):
    """Bind a signal channel to this account: ``channel``, ``mode`` (fixed_qty | notional | equity_pct), ``value``,
    optional ``maxNotional`` and ``leverage``. Each signal then becomes an order here, under the account's rules.
    Bound to the key's own account, like the webhook, so it follows a challenge to its next stage."""
    acc = _hook_account(r)
    channel = r.p.req("channel")
    if not (1 <= len(channel) <= 64) or not all(c.isalnum() or c in "_.-" for c in channel):
        raise VenueError(Err.INVALID_PARAMETER, param="channel")
    mode = r.p.req("mode")
    if mode not in MODES:
        raise VenueError(Err.INVALID_PARAMETER, param="mode")
    value = _decimal(r, "value", required=True)
    if mode == "equity_pct" and Decimal(value) > 100:
        raise VenueError(Err.INVALID_PARAMETER, param="value")
    lev = r.p.int("leverage", None, lo=1, hi=125)
    # follow from now on: the channel's history before the binding is not replayed as orders
    epoch, seq = await r.ctx.signal_head(channel) if r.ctx.signal_head is not None else (None, 0)
    return r.ctx.subscriptions.add(acc, channel, mode, value, max_notional=_decimal(r, "maxNotional", required=False),
                                   leverage=lev, epoch=epoch, last_seq=seq, now_ms=r.now)


async def remove_subscription(r: Req):
    acc = _hook_account(r)
    sub_id = r.p.req_int("subId", lo=1)
    if not r.ctx.subscriptions.remove(sub_id, acc):
        raise VenueError(Err.INVALID_PARAMETER, param="subId")
    return {"code": 200, "msg": "success", "subId": sub_id}


# ---------------------------------------------------------------------------------------------------- notifications

async def list_notifications(r: Req):
    """Areix's shape (seed 003): ``{"data": [{content: {en, zh}, datetime, notification_id, psid, type}], "error",
    "msg", "success"}``; ``startTime``/``endTime`` (ms) play Areix's ``sd``/``ed``."""
    acc = r.require_account()
    rows = r.ctx.notifications.list(acc, r.p.int("startTime", 0) or 0, r.p.int("endTime", 0) or 0,
                                    r.p.limit(100, 1000))
    data = [{"content": row["content"],
             "datetime": datetime.fromtimestamp(row["ts"] / 1000, tz=timezone.utc).isoformat(sep=" "),
             "notification_id": str(row["notificationId"]), "psid": str(acc), "type": row["type"],
             "ref": row["ref"]} for row in rows]
    return {"data": data, "error": False, "msg": "", "success": True}


# ---------------------------------------------------------------------------------------------------- hub users

async def add_hub_user(r: Req):
    """Operator: a signal-hub login (``POST /api/v1/session`` with user[email] / user[password]) for an account."""
    acc = r.p.req_int("accountId", lo=1)
    if not r.ctx.venue.has_account(acc):
        raise VenueError(Err.INVALID_PARAMETER, param="accountId")
    email, password = r.p.req("email").strip(), r.p.req("password")
    if "@" not in email or len(email) > 254:
        raise VenueError(Err.INVALID_PARAMETER, param="email")
    if len(password) < 8:
        raise VenueError(Err.INVALID_PARAMETER, param="password")
    try:
        r.ctx.hub_users.add(email, password, acc)
    except ValueError:
        raise VenueError(Err.INVALID_PARAMETER, param="email") from None  # already taken
    return {"email": email, "accountId": acc}


async def list_hub_users(r: Req):
    return r.ctx.hub_users.list()
