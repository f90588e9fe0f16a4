"""``alfax webhook|alerts|hub-users``: TradingView webhooks, the alert log and signal-hub logins (issue 5).

Like the challenge commands they talk to a RUNNING server through the operator API (/alfax/admin/…), signed with
the operator credentials from ``<db>.operator.json``; ``--json`` prints the raw response.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Callable

from .challenges import _json_or, _main, _print_table, _request, _ts, command_group, command_leaf


def _print_webhook(res: dict) -> None:
    print(f"Account {res.get('accountId')} TradingView webhook:")
    print(f"  URL         {res.get('url')}")
    print(f"  secret      {'set (alerts must carry secret=…)' if res.get('secretSet') else 'none'}")
    ips = res.get("ipAllowlist") or []
    print(f"  allow-list  {', '.join(ips) if ips else 'any source address'}")
    print(f"  enabled     {'yes' if res.get('enabled') else 'NO'}")


def cmd_webhook_show(args: argparse.Namespace) -> int:
    res = _request(args, "GET", "/alfax/admin/webhook", {"accountId": args.account})
    if not _json_or(args, res):
        _print_webhook(res)
    return 0


def cmd_webhook_rotate(args: argparse.Namespace) -> int:
    res = _request(args, "POST", "/alfax/admin/webhook/rotate", {"accountId": args.account})
    if not _json_or(args, res):
        print("New token: the old URL no longer works; update the alert in TradingView.")
        _print_webhook(res)
    return 0


def cmd_webhook_set(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"accountId": args.account, "secret": args.secret, "ipAllowlist": args.allow}
    if args.enable is not None:
        params["enabled"] = "true" if args.enable else "false"
    if all(params.get(k) is None for k in ("secret", "ipAllowlist", "enabled")):
        raise _main().CliError("nothing to change: give --secret, --allow, --enable or --disable")
    res = _request(args, "POST", "/alfax/admin/webhook", params)
    if not _json_or(args, res):
        _print_webhook(res)
    return 0


def _alert_summary(row: dict) -> dict:
    errors = row.get("errors") or []
    first = errors[0] if errors else (row.get("result") or {}).get("error") or {}
    reason = f"{first.get('code', '')} {first.get('message') or first.get('msg') or ''}".strip() if first else ""
    return {"id": row.get("alertId"), "received": _ts(row.get("receivedTime")), "account": row.get("accountId"),
            "status": row.get("status"), "body": (row.get("body") or "").replace("\n", " ; ")[:60], "reason": reason}


def cmd_alerts_list(args: argparse.Namespace) -> int:
    res = _request(args, "GET", "/alfax/admin/alerts", {"accountId": args.account, "limit": args.limit})
    if not _json_or(args, res):
        _print_table([_alert_summary(r) for r in res], ["id", "received", "account", "status", "body", "reason"])
    return 0


def cmd_alerts_show(args: argparse.Namespace) -> int:
    res = _request(args, "GET", "/alfax/admin/alert", {"accountId": args.account, "alertId": args.alert_id})
    if not _json_or(args, res):
        print(json.dumps(res, indent=2, ensure_ascii=False))
    return 0


def cmd_hub_users_add(args: argparse.Namespace) -> int:
    res = _request(args, "POST", "/alfax/admin/hub-users",
                   {"accountId": args.account, "email": args.email, "password": args.password})
    if not _json_or(args, res):
        print(f"Signal-hub login {res.get('email')} created for account {res.get('accountId')}.")
    return 0


def cmd_hub_users_list(args: argparse.Namespace) -> int:
    res = _request(args, "GET", "/alfax/admin/hub-users")
    if not _json_or(args, res):
        _print_table(res, ["email", "accountId"])
    return 0


def add_commands(sub: Any, operator_opts: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register ``webhook``, ``alerts`` and ``hub-users`` on ``alfax``'s subparsers."""
    m = _main()

    def group(name: str, help_text: str) -> Any:
        return command_group(sub, name, help_text)

    def leaf(gs: Any, name: str, help_text: str, func: Callable, setup: Callable | None = None) -> None:
        def with_account(sp: argparse.ArgumentParser) -> None:  # every action here is about one account
            sp.add_argument("--account", type=m._account_id, required=True, metavar="ID")
            if setup is not None:
                setup(sp)

        command_leaf(gs, name, help_text, func, operator_opts, with_account)

    gs = group("webhook", "an account's TradingView webhook on a running server")
    leaf(gs, "show", "the webhook URL and its settings", cmd_webhook_show)
    leaf(gs, "rotate", "a new token (the old URL stops working at once)", cmd_webhook_rotate)

    def set_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--secret", default=None, help="body secret alerts must carry as secret=… ('' = none)")
        sp.add_argument("--allow", default=None, metavar="LIST",
                        help="source addresses: 'tradingview' (its 4 published IPs), 'off', or a comma list")
        en = sp.add_mutually_exclusive_group()
        en.add_argument("--enable", dest="enable", action="store_true", default=None)
        en.add_argument("--disable", dest="enable", action="store_false")

    leaf(gs, "set", "set the body secret, the source-address allow-list, enabled", cmd_webhook_set, set_opts)

    gs = group("alerts", "an account's TradingView alert log on a running server")
    leaf(gs, "list", "alerts newest first, accepted or rejected, with the reason", cmd_alerts_list,
         lambda sp: sp.add_argument("--limit", type=m.int_in(1, 1000, "limit"), default=50))
    leaf(gs, "show", "one alert: body, parsed commands, errors with column and hint, orders", cmd_alerts_show,
         lambda sp: sp.add_argument("alert_id", type=m.int_in(1, 2**62, "alert id"), metavar="ALERT_ID"))

    gs = group("hub-users", "signal-hub logins (AlphaHub-style POST /api/v1/session)")

    def user_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--email", required=True)
        sp.add_argument("--password", required=True, help="at least 8 characters")

    leaf(gs, "add", "create a login bound to an account", cmd_hub_users_add, user_opts)
    command_leaf(gs, "list", "list logins", cmd_hub_users_list, operator_opts)
