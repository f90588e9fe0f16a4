"""``alfax products|challenges|payouts|audit``: the prop-challenge operator commands (issue 4).

Like ``accounts`` and ``keys`` they talk to a RUNNING server through the operator API (/alfax/admin/…), signed with
the operator credentials from ``<db>.operator.json``; human tables by default, ``--json`` for the raw response.
Every state-changing command (challenges start|fail, payouts approve|reject) is written to the server's operator
audit log, which ``alfax audit`` shows.

Exit codes as in ``alfax.cli.main``: 0 ok, 1 runtime failure (server unreachable, API error), 2 bad arguments.
``payouts approve`` also exits 1 when the payout was not paid (the server's gates refused it: see the reason).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import uuid
from types import ModuleType
from typing import Any, Callable

CHALLENGE_STATUSES = ("ACTIVE", "PASSED", "FAILED", "ARCHIVED")
PAYOUT_STATUSES = ("requested", "approved", "paid", "rejected", "failed")
STAGES = ("STAGE_1", "STAGE_2", "STAGE_3", "FUNDED")


def _main() -> ModuleType:
    """The running ``alfax.cli.main``. Under ``python -m alfax.cli.main`` it is ``__main__``, and importing the
    module by name would load a second copy whose ``CliError`` the running ``main()`` does not catch."""
    mod = sys.modules.get("__main__")
    spec = getattr(mod, "__spec__", None)
    if mod is not None and spec is not None and spec.name == "alfax.cli.main":
        return mod
    from . import main

    return main


# --------------------------------------------------------------------------------------------------------------
# argument types


def _challenge_ref(text: str) -> tuple[str, str]:
    """``show`` target: an account id (digits) or a challenge UUID."""
    t = text.strip()
    if t.isdigit() and int(t) > 0:
        return "accountId", str(int(t))
    try:
        return "challengeId", str(uuid.UUID(t))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid challenge {text!r}: expected a challenge id (UUID) or an account id") from None


def _challenge_id(text: str) -> str:
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid challenge id {text!r}: expected a UUID") from None


def _product_id(text: str) -> str:
    t = text.strip()
    if not t or any(c.isspace() for c in t) or len(t) > 64:
        raise argparse.ArgumentTypeError(f"invalid product id {text!r}")
    return t


def _payout_id(text: str) -> str:
    t = text.strip()
    if not t or any(c.isspace() for c in t) or len(t) > 64:
        raise argparse.ArgumentTypeError(f"invalid payout id {text!r}")
    return t


def _text(limit: int) -> Callable[[str], str]:
    def parse(text: str) -> str:
        t = text.strip()
        if not t:
            raise argparse.ArgumentTypeError("must not be empty")
        if len(t) > limit:
            raise argparse.ArgumentTypeError(f"too long ({len(t)} characters, at most {limit})")
        return t

    return parse




def _choice(values: tuple[str, ...], upper: bool) -> Callable[[str], str]:
    def parse(text: str) -> str:
        t = text.strip().upper() if upper else text.strip().lower()
        if t not in values:
            raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected one of {', '.join(values)}")
        return t

    return parse


# --------------------------------------------------------------------------------------------------------------
# output helpers


def _ts(ms: Any) -> str:
    if not isinstance(ms, int) or ms <= 0:
        return ""
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _print_table(rows: list[dict], columns: list[str]) -> None:
    if not rows:
        print("(none)")
        return
    print(_main()._table(rows, columns))


def _request(args: argparse.Namespace, method: str, path: str, params: dict | None = None) -> Any:
    return _main()._client(args).request(method, path, {k: v for k, v in (params or {}).items() if v is not None})


def _json_or(args: argparse.Namespace, res: Any) -> bool:
    if args.json:
        _main()._emit_json(res)
        return True
    return False


def _breach_lines(b: dict | None, indent: str = "  ") -> list[str]:
    if not b:
        return []
    head = f"{indent}rule {b.get('rule')} at {_ts(b.get('time'))} UTC"
    if b.get("accountId") is not None:
        head += f" on account {b['accountId']} ({b.get('stage')})"
    out = [head, f"{indent}equity {b.get('equity')}  balance {b.get('balance')}  floor {b.get('floor')} USDT"]
    marks = b.get("marks") or {}
    out.append(f"{indent}marks: " + (", ".join(f"{s} {p}" for s, p in marks.items()) if marks else "(no position)"))
    if b.get("detail"):
        out.append(f"{indent}detail: {b['detail']}")
    return out


def _payout_rows(rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        r = dict(r)
        r["requested"] = _ts(r.get("requestedAt"))
        r["decided"] = _ts(r.get("decidedAt"))
        notes = r.get("failReason") or "; ".join(r.get("blockers") or [])
        if r.get("status") == "requested" and not notes:
            notes = "eligible now"
        r["notes"] = notes
        out.append(r)
    return out


# --------------------------------------------------------------------------------------------------------------
# products


def cmd_products_list(args: argparse.Namespace) -> int:
    res = _request(args, "GET", "/alfax/admin/products")
    if _json_or(args, res):
        return 0
    rows = [dict(r, stages=">".join(r.get("stages") or [])) for r in res]
    _print_table(rows, ["productId", "title", "accountSize", "stages", "maxLeverage", "payoutSplitBps",
                        "rulesVersion", "challenges", "activeAccounts"])
    return 0


def cmd_products_show(args: argparse.Namespace) -> int:
    p = _request(args, "GET", "/alfax/admin/products/show", {"productId": args.product_id})
    if _json_or(args, p):
        return 0
    print(f"Product {p.get('productId')}: {p.get('title')}")
    print(f"  account size {p.get('accountSize')} {p.get('currency')}, rules version {p.get('rulesVersion')}"
          f"{'' if p.get('onSale') else ' (no longer on sale)'}")
    print(f"  max leverage {p.get('maxLeverage')}x {p.get('symbolLeverage') or ''}".rstrip())
    print(f"  symbols {', '.join(p.get('symbolsWhitelist') or []) or 'all'}; commission {p.get('commissionBps')} bps;"
          f" news trading {'forbidden' if p.get('newsTradingForbidden') else 'allowed'}")
    print(f"  day rollover {p.get('dayRolloverUtc')} UTC; daily mode {p.get('dailyMode')}; total mode "
          f"{p.get('totalMode')}; best day {p.get('bestDayPct') or '-'}; inactivity {p.get('inactivityDays') or '-'} d")
    print(f"  payouts: split {p.get('payoutSplitBps')} bps, every {p.get('payoutCadenceDays')} d, minimum "
          f"{p.get('payoutMinimum')} {p.get('currency')}, mode {p.get('payoutMode')}")
    stages = [dict(s) for s in p.get("stages") or []]
    funded = p.get("funded") or {}
    stages.append({"name": "FUNDED", "profitTarget": "-", **funded, "minTradingDays": "-", "maxDays": None})
    for s in stages:
        s["maxDays"] = "-" if s.get("maxDays") is None else s["maxDays"]
    print("Stages (fractions of the start balance):")
    _print_table(stages, ["name", "profitTarget", "maxDailyDrawdown", "maxTotalDrawdown", "minTradingDays", "maxDays"])
    print(f"Challenges: {p.get('challenges', 0)} ({p.get('activeAccounts', 0)} active stage accounts)")
    pinned = p.get("pinnedVersions") or []
    if pinned:
        print("Pinned rules versions:")
        _print_table([dict(v, current="yes" if v.get("current") else "") for v in pinned],
                     ["rulesVersion", "stageAccounts", "current"])
    return 0


# --------------------------------------------------------------------------------------------------------------
# challenges


def cmd_challenges_list(args: argparse.Namespace) -> int:
    res = _request(args, "GET", "/alfax/admin/challenges", {"status": args.status, "productId": args.product})
    if _json_or(args, res):
        return 0
    rows = [dict(r, days=f"{r.get('tradingDays')}/{r.get('minTradingDays')}") for r in res]
    _print_table(rows, ["accountId", "challengeId", "productId", "stage", "status", "currentEquity", "profitCurrent",
                        "days", "failReason"])
    return 0


def cmd_challenges_show(args: argparse.Namespace) -> int:
    name, value = args.ref
    c = _request(args, "GET", "/alfax/admin/challenges/show", {name: value})
    if _json_or(args, c):
        return 0
    print(f"Challenge {c.get('challengeId')}: product {c.get('productId')} (rules {c.get('rulesVersion')})")
    line = f"  {c.get('status')} in {c.get('stage')} on account {c.get('accountId')}"
    if c.get("failReason"):
        line += f", fail reason {c['failReason']}"
    print(line + f"; stage accounts {', '.join(str(a) for a in c.get('accounts') or [])}")
    rows = []
    for s in c.get("stages") or []:
        rows.append(dict(s, profit=f"{s.get('profitCurrent')}/{s.get('profitTarget')}",
                         days=f"{s.get('tradingDays')}/{s.get('minTradingDays')}", started=_ts(s.get("startedAt")),
                         ended=_ts(s.get("endedAt"))))
    print("Stages:")
    _print_table(rows, ["accountId", "stage", "status", "currentEquity", "profit", "days", "dailyFloorEquity",
                        "totalFloorEquity", "openPositions", "started", "ended"])
    active = next((s for s in reversed(c.get("stages") or []) if s.get("status") == "ACTIVE"), None)
    if active is not None:
        extra = f"  room: daily {active.get('roomDaily')}, total {active.get('roomTotal')} USDT"
        if active.get("stage") == "FUNDED":
            extra += f"; payout available {active.get('payoutAvailable')}, paid {active.get('paidTotal')} USDT"
        elif active.get("passMissing"):
            extra += f"; to pass: {', '.join(active['passMissing'])}"
        print(extra)
    if c.get("breach"):
        print("Breach evidence:")
        for ln in _breach_lines(c["breach"]):
            print(ln)
    payouts = c.get("payouts") or []
    if payouts:
        print("Payouts:")
        _print_table(_payout_rows(payouts), ["payoutId", "amount", "status", "requested", "txRef", "notes"])
    return 0


def cmd_challenges_start(args: argparse.Namespace) -> int:
    params = {"accountId": args.account, "productId": args.product, "stage": args.stage}
    res = _request(args, "POST", "/alfax/admin/challenges/start", params)
    if _json_or(args, res):
        return 0
    print(f"Challenge {res.get('challengeId')} started on account {res.get('accountId')}: product "
          f"{res.get('productId')}, {res.get('stage')}, start balance {res.get('startBalance')} USDT")
    print(f"  rules version {res.get('rulesVersion')}; the account's API keys follow the challenge")
    return 0


def cmd_challenges_fail(args: argparse.Namespace) -> int:
    res = _request(args, "POST", "/alfax/admin/challenges/fail", {"accountId": args.account, "reason": args.reason})
    if _json_or(args, res):
        return 0
    print(f"Challenge {res.get('challengeId')} failed on account {res.get('accountId')} ({res.get('stage')}): "
          f"{res.get('failReason')}")
    for ln in _breach_lines(res.get("breach")):
        print(ln)
    return 0


# --------------------------------------------------------------------------------------------------------------
# payouts


def cmd_payouts_list(args: argparse.Namespace) -> int:
    res = _request(args, "GET", "/alfax/admin/payouts", {"status": args.status, "challengeId": args.challenge})
    if _json_or(args, res):
        return 0
    _print_table(_payout_rows(res), ["payoutId", "challengeId", "accountId", "amount", "status", "requested",
                                     "decided", "txRef", "notes"])
    return 0


def cmd_payouts_approve(args: argparse.Namespace) -> int:
    res = _request(args, "POST", "/alfax/admin/payouts/approve", {"id": args.payout_id, "txRef": args.tx_ref})
    paid = res.get("status") == "paid"
    if not _json_or(args, res):
        if paid:
            print(f"Payout {res.get('payoutId')} paid: {res.get('amount')} {res.get('currency')} to account "
                  f"{res.get('accountId')} (txRef {res.get('txRef')})")
        else:
            print(f"Payout {res.get('payoutId')} was not paid: {res.get('status')}: {res.get('failReason')}",
                  file=sys.stderr)
    return 0 if paid else 1


def cmd_payouts_reject(args: argparse.Namespace) -> int:
    res = _request(args, "POST", "/alfax/admin/payouts/reject", {"id": args.payout_id, "reason": args.reason})
    if _json_or(args, res):
        return 0
    print(f"Payout {res.get('payoutId')} rejected: {res.get('failReason')}")
    return 0


# --------------------------------------------------------------------------------------------------------------
# audit


def cmd_audit(args: argparse.Namespace) -> int:
    res = _request(args, "GET", "/alfax/admin/audit", {"limit": args.limit, "action": args.action,
                                                       "target": args.target})
    if _json_or(args, res):
        return 0
    rows = [dict(r, time=_ts(r.get("time")), ok="yes" if r.get("ok") else "NO",
                 detail=json.dumps(r.get("detail") or {}, separators=(",", ":"), ensure_ascii=False)) for r in res]
    _print_table(rows, ["id", "time", "actor", "action", "target", "ok", "detail"])
    return 0


# --------------------------------------------------------------------------------------------------------------
# parser


def command_group(sub: Any, name: str, help_text: str) -> Any:
    """``alfax <name> ACTION``: a command whose actions are required subcommands."""
    g = sub.add_parser(name, help=help_text)
    gs = g.add_subparsers(dest=f"{name}_command", metavar="ACTION")
    gs.required = True
    return gs


def command_leaf(gs: Any, name: str, help_text: str, func: Callable,
                 operator_opts: Callable[[argparse.ArgumentParser], None], setup: Callable | None = None) -> None:
    """One action of a group: its own arguments (``setup``), then the operator connection options."""
    sp = gs.add_parser(name, help=help_text)
    if setup is not None:
        setup(sp)
    operator_opts(sp)
    sp.set_defaults(func=func, _parser=sp)


def add_commands(sub: Any, operator_opts: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register ``products``, ``challenges``, ``payouts`` and ``audit`` on ``alfax``'s subparsers."""
    m = _main()

    def group(name: str, help_text: str) -> Any:
        return command_group(sub, name, help_text)

    def leaf(gs: Any, name: str, help_text: str, func: Callable, setup: Callable | None = None) -> None:
        command_leaf(gs, name, help_text, func, operator_opts, setup)

    gs = group("products", "challenge products on a running server")
    leaf(gs, "list", "list the products on sale", cmd_products_list)
    leaf(gs, "show", "one product's rules and the rules versions running challenges pinned", cmd_products_show,
         lambda sp: sp.add_argument("product_id", type=_product_id, metavar="PRODUCT_ID"))

    gs = group("challenges", "prop challenges on a running server")

    def list_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--status", type=_choice(CHALLENGE_STATUSES, True), default=None,
                        help=f"only stage accounts in this status ({', '.join(CHALLENGE_STATUSES)})")
        sp.add_argument("--product", type=_product_id, default=None, metavar="PRODUCT_ID")

    leaf(gs, "list", "list challenge stage accounts", cmd_challenges_list, list_opts)
    leaf(gs, "show", "one challenge: stages, figures, breach evidence, payouts", cmd_challenges_show,
         lambda sp: sp.add_argument("ref", type=_challenge_ref, metavar="CHALLENGE_ID_OR_ACCOUNT"))

    def start_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--account", type=m._account_id, required=True, metavar="ID",
                        help="a flat account (no position, no open order, no challenge)")
        sp.add_argument("--product", type=_product_id, required=True, metavar="PRODUCT_ID")
        sp.add_argument("--stage", type=_choice(STAGES, True), default=None, help="first stage (default STAGE_1)")

    leaf(gs, "start", "make a flat account a challenge of a product (wallet set to the account size)",
         cmd_challenges_start, start_opts)

    def fail_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("account", type=m._account_id, metavar="ACCOUNT_ID")
        sp.add_argument("--reason", type=_text(500), required=True, help="why (kept with the breach evidence)")

    leaf(gs, "fail", "fail a challenge for a rule violation (RULE_VIOLATION): flatten, lock, keep evidence",
         cmd_challenges_fail, fail_opts)

    gs = group("payouts", "payouts of funded challenges on a running server")

    def payouts_list_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--status", type=_choice(PAYOUT_STATUSES, False), default=None,
                        help=f"only payouts in this status ({', '.join(PAYOUT_STATUSES)})")
        sp.add_argument("--challenge", type=_challenge_id, default=None, metavar="CHALLENGE_ID")

    leaf(gs, "list", "list payouts (a requested one shows what approval would refuse now)", cmd_payouts_list,
         payouts_list_opts)

    def approve_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("payout_id", type=_payout_id, metavar="PAYOUT_ID")
        sp.add_argument("--tx-ref", type=_text(128), default=None, help="payment reference (default: generated)")

    leaf(gs, "approve", "approve a payout: gates and cap re-checked, paid at once (exit 1 if not paid)",
         cmd_payouts_approve, approve_opts)

    def reject_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("payout_id", type=_payout_id, metavar="PAYOUT_ID")
        sp.add_argument("--reason", type=_text(500), required=True)

    leaf(gs, "reject", "reject a payout with a reason", cmd_payouts_reject, reject_opts)

    sp = sub.add_parser("audit", help="the operator audit log of a running server (newest first)")
    sp.add_argument("--limit", type=_main().int_in(1, 1000, "limit"), default=50, help="rows (1..1000, default 50)")
    sp.add_argument("--action", default=None, help="only this action, e.g. challenge.start, payout.approve")
    sp.add_argument("--target", default=None, help="only this target, e.g. account:7 or a payout id")
    operator_opts(sp)
    sp.set_defaults(func=cmd_audit, _parser=sp)
