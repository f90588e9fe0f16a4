"""The order planner: one parsed alert command + the account's live state -> the engine commands to submit.

    plan_command(cmd, venue, account_id, key, now_ms=…) -> Plan   # settings steps, then the entry/close order(s)
    plan_legs(cmd, venue, account_id, key, entry_price=…, entry_qty=…, now_ms=…) -> Plan   # TP/SL/trail legs

Pure reads of the venue (never ``venue.handle``): the executor submits ``Plan.steps`` in order and stops at the
first rejection. The rules are signals.md §1.7; the choices it leaves open are made here and documented:

- Reference price (sizing in USDT/%, relative order prices, ``slip=``): the last trade price, else the mark, else the
  book mid, at planning time. Rounding: see ``sizing`` (quantities down; limits never more aggressive; triggers to
  the nearest tick).
- Positions: one-way mode uses the net (BOTH) position. Hedge mode sends ``positionSide`` instead of ``reduceOnly``
  (Binance refuses reduceOnly there): an entry opens the verb's side (``side=`` overrides), a reduce-only order
  reduces the other one. ``side=`` in one-way mode is E013 (the engine would refuse it with -4061).
- ``close`` (flag or verb): reduce-only order(s) of the command's type for the position read now. Flat / other side:
  outcome "nothing" + W101 and no steps. A partial ``close 0.3 SYM`` is capped at the position.
- ``pos=P``: one order for ``P - net`` (MARKET, or LIMIT if written; other types are E013) — reduce-only when it only
  reduces; in hedge mode the opposite side is reduced first and the rest opens the other side. ``|delta| < step`` is
  outcome "in_sync". A verb or base amount that disagrees with the delta gives W102 and the target wins.
- ``expect=``: when the position does not match, E013 "expected flat, position is LONG 0.003 — not executed" — unless
  ``pos=`` is also given: then the target heals the drift (the delta is traded) and W102 says so.
- ``cancel * SYM``: without filters one CancelAllOrders (regular + conditional). Filters select single open
  orders: an order type (the type the client asked for), ``side=`` (hedge positionSide), ``id=X`` (orders whose
  client id was derived from the dedupe key ``id:X`` — placed by an alert with ``id=X``), ``tag=x`` (orders whose
  client id ends in ``.<tag_code(x)>``, i.e. placed by an alert with ``tag=x`` and a dedupe key; a ``nodedup``
  alert's orders get engine ids and carry no tag). Nothing open/matching: outcome "nothing".
- ``lev=`` / ``margin=``: a SetLeverage / SetMarginType step first, skipped when already so. No order, no settings:
  outcomes "nothing" / "in_sync" / "error" never carry steps.
- ``dry`` / ``validate_only``: the same planning; an "orders" outcome becomes "dry_run" (nothing / in_sync / error
  are reported as such, so a dry run shows what a live one would do).
- Legs are never part of ``plan_command`` (even absolute ones: a reduce-only leg placed before its entry filled
  could be refused or fire against an old position); ``Plan.legs_pending`` says ``plan_legs`` has work after the
  entry executed.
- Client order ids: ``key.client_order_id(leg)`` with leg ``entry`` / ``close`` (hedge: ``closL``/``closS``) /
  ``tp1``… / ``sl1``… / ``trail``, plus ``.<tag code>`` when tagged; ``key`` None (nodedup): "" (engine ids).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from alfax.domain.alert_catalogue import (AlertCode, AlertError, AlertWarning, alert_warning, nothing_to_close_warning,
                                          target_overrides_warning)
from alfax.domain.alert_model import Action, AlertCommand, IdempotencyKey, SizeUnit, fmt_decimal
from alfax.domain.commands import (CancelAlgoOrder, CancelAllOrders, CancelOrder, Command, SetLeverage,
                                   SetMarginType)
from alfax.domain.enums import OrderType, PositionSide, Side
from alfax.domain.money import to_decimal

from .legs import has_legs, leg_drafts
from .sizing import (Draft, PlanFailure, Snapshot, check_min_size, client_id, describe, fail, floor_qty,
                     is_market_type, lot, place, price_order, qty_dec, read_snapshot, requested_qty, tag_code)

if TYPE_CHECKING:  # pragma: no cover
    from alfax.engine.venue import Venue

# An envelope id shared by the commands of one alert becomes the keys id:X#1, id:X#2, … (alert_model): a cancel
# id=X filter recognises that many commands. A 4 KiB alert cannot hold more than a few hundred commands.
MAX_SHARED_ID_COMMANDS = 512


@dataclass(frozen=True, slots=True)
class Step:
    command: Command  # an alfax.domain.commands command to submit
    client_order_id: str = ""  # deterministic for orders (IdempotencyKey.client_order_id(leg)); "" otherwise
    label: str = ""  # "leverage", "margin", "entry", "close", "tp1", "tp2", "sl1", "trail", "cancel"
    description: str = ""  # receipt text, e.g. "MARKET BUY 0.002 BTCUSDT reduceOnly"


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[Step, ...]
    warnings: tuple[AlertWarning, ...] = ()
    error: AlertError | None = None  # when set, nothing is submitted for this command
    outcome: str = "orders"  # "orders" | "in_sync" | "nothing" | "error" | "dry_run"
    # extras: the planned entry (quantity of the order that opens, its limit price or the reference price) — the
    # executor passes the real fill to plan_legs; these serve dry runs and receipts
    entry_qty: Decimal | None = None
    entry_price: Decimal | None = None
    legs_pending: bool = False  # the command has TP/SL/trail legs and an entry was planned: call plan_legs after it


class _Body(NamedTuple):
    drafts: list[Draft]
    outcome: str = "orders"
    warnings: tuple[AlertWarning, ...] = ()
    entry_qty: Decimal | None = None
    entry_price: Decimal | None = None
    legs_pending: bool = False


def plan_command(cmd: AlertCommand, venue: "Venue", account_id: int, key: IdempotencyKey | None, *,
                 now_ms: int) -> Plan:
    """Everything up to and including the entry (or close / cancel) order(s). Never raises for an alert problem:
    it comes back as ``Plan.error`` (outcome "error")."""
    try:
        snap = read_snapshot(venue, account_id, cmd)
        if cmd.action is Action.CANCEL:
            body = _cancel(cmd, venue, snap, key)
        else:
            body = _trade(cmd, snap, key)
    except PlanFailure as f:
        return Plan((), f.warnings, f.error, "error")
    plan = Plan(tuple(Step(*d) for d in body.drafts), body.warnings, None, body.outcome, body.entry_qty,
                body.entry_price, body.legs_pending)
    return _dry(cmd, plan)


def plan_legs(cmd: AlertCommand, venue: "Venue", account_id: int, key: IdempotencyKey | None, *,
              entry_price: Decimal, entry_qty: Decimal, now_ms: int) -> Plan:
    """The reduce-only TP/SL/trailing legs once the entry executed (``entry_price``: average fill, or the limit
    price of a resting LIMIT entry; ``entry_qty``: its quantity). Empty Plan when the command has no legs. With
    ``pos=`` the legs protect the target position and never cover more than it."""
    if not has_legs(cmd) or cmd.action not in (Action.BUY, Action.SELL):
        return Plan(())
    if cmd.target_position is not None:
        entry_qty = min(entry_qty, abs(cmd.target_position))
    try:
        snap = read_snapshot(venue, account_id, cmd)
        drafts = leg_drafts(cmd, snap, key, entry_price, entry_qty)
    except PlanFailure as f:
        return Plan((), f.warnings, f.error, "error")
    if not drafts:
        return Plan(())
    return _dry(cmd, Plan(tuple(Step(*d) for d in drafts), entry_qty=entry_qty, entry_price=entry_price))


def _dry(cmd: AlertCommand, plan: Plan) -> Plan:
    return replace(plan, outcome="dry_run") if cmd.dry_run and plan.outcome == "orders" else plan


# ---------------------------------------------------------------- buy / sell / close


def _trade(cmd: AlertCommand, snap: Snapshot, key: IdempotencyKey | None) -> _Body:
    warnings = _check_expect(cmd, snap)
    if not snap.dual and cmd.position_side not in (None, PositionSide.BOTH):
        raise fail(cmd, AlertCode.CONFLICT, f"side={cmd.position_side.value.lower()} needs hedge mode (the account "
                   "is in one-way mode)", "drop side=, or switch the account to hedge mode")
    if cmd.target_position is not None:
        body = _target(cmd, snap, key)
    elif cmd.close_position or cmd.action is Action.CLOSE:
        body = _close(cmd, snap, key)
    else:
        body = _entry(cmd, snap, key)
    body = body._replace(warnings=warnings + body.warnings)
    if body.outcome == "orders":
        body = body._replace(drafts=_settings(cmd, snap) + body.drafts)
    return body


def _settings(cmd: AlertCommand, snap: Snapshot) -> list[Draft]:
    out = []
    sym, acct = cmd.symbol, snap.account_id
    if cmd.leverage is not None and cmd.leverage != snap.leverage:
        out.append(Draft(SetLeverage(acct, sym, cmd.leverage), "", "leverage",
                         f"leverage {sym} {snap.leverage}x -> {cmd.leverage}x"))
    if cmd.margin_type is not None and cmd.margin_type is not snap.margin_type:
        out.append(Draft(SetMarginType(acct, sym, cmd.margin_type), "", "margin",
                         f"margin type {sym} {snap.margin_type.value} -> {cmd.margin_type.value}"))
    return out


def _check_expect(cmd: AlertCommand, snap: Snapshot) -> tuple[AlertWarning, ...]:
    if cmd.expect is None:
        return ()
    net, open_ = snap.net, bool(snap.both or snap.long or snap.short)
    state = "long" if net > 0 else "short" if net < 0 else "hedged" if open_ else "flat"
    if state == cmd.expect.value:
        return ()
    msg = f"expected {cmd.expect.value}, position is {snap.describe()}"
    if cmd.target_position is None:
        raise fail(cmd, AlertCode.CONFLICT, msg + " — not executed",
                   "the strategy and the account drifted apart (a missed or extra alert); add "
                   "pos={{strategy.position_size}} to trade the difference instead")
    return (alert_warning(AlertCode.TARGET_OVERRIDES, f"{msg} — pos={fmt_decimal(cmd.target_position)} heals the "
                          "drift", hint="with pos= the target wins; expect= only reports the drift",
                          col=cmd.col, line=cmd.line, command=cmd.index),)


def _order_side(snap: Snapshot, cmd: AlertCommand, side: Side, reduce_only: bool) -> tuple[PositionSide, bool]:
    """(positionSide, reducing) of an order on ``side``; hedge mode picks the side it opens or reduces."""
    if not snap.dual:
        return PositionSide.BOTH, reduce_only
    pside = cmd.position_side
    if pside is None or pside is PositionSide.BOTH:
        pside = PositionSide.LONG if (side is Side.BUY) != reduce_only else PositionSide.SHORT
    reducing = (side is Side.SELL) == (pside is PositionSide.LONG)
    return pside, reducing


def _entry_price(snap: Snapshot, o) -> Decimal | None:
    raw = o.price or o.stop_price or o.activation_price
    return to_decimal(raw, snap.inst.price_precision) if raw else snap.ref


def _entry(cmd: AlertCommand, snap: Snapshot, key: IdempotencyKey | None) -> _Body:
    assert cmd.side is not None
    inst, side = snap.inst, cmd.side
    pside, reducing = _order_side(snap, cmd, side, cmd.reduce_only)
    priced = price_order(cmd, snap, side)
    market = is_market_type(priced.type)
    position = snap.side_qty(pside)
    req = requested_qty(cmd, cmd.size, snap, position)
    qty = floor_qty(inst, req, market)
    check_min_size(cmd, inst, req, qty, market, priced.notional_price(inst, snap.ref), reducing)
    label = "close" if reducing else "entry"
    o = place(snap, cmd, priced, side=side, qty=qty, position_side=pside, reduce_only=reducing,
              cid=client_id(key, label, cmd.tag))
    return _Body([Draft(o, o.client_order_id, label, describe(inst, o))], entry_qty=qty_dec(inst, qty),
                 entry_price=_entry_price(snap, o), legs_pending=has_legs(cmd) and not reducing)


def _close(cmd: AlertCommand, snap: Snapshot, key: IdempotencyKey | None) -> _Body:
    inst = snap.inst
    if cmd.action is Action.CLOSE:  # either side; in hedge mode side= picks one
        sides = [PositionSide.BOTH] if not snap.dual else [
            s for s in (PositionSide.LONG, PositionSide.SHORT) if cmd.position_side in (None, s)]
        targets = [(s, snap.side_qty(s)) for s in sides if snap.side_qty(s)]
        wanted = cmd.position_side.value if snap.dual and cmd.position_side else "LONG or SHORT"
    else:  # the close flag: 'buy … close' closes a SHORT, 'sell … close' a LONG
        closing = PositionSide.SHORT if cmd.side is Side.BUY else PositionSide.LONG
        q = snap.side_qty(closing) if snap.dual else snap.both
        has = q < 0 if closing is PositionSide.SHORT else q > 0
        targets = [(closing if snap.dual else PositionSide.BOTH, q)] if has else []
        wanted = closing.value
    if not targets:
        return _Body([], "nothing", (nothing_to_close_warning(symbol=cmd.symbol, wanted=wanted,
                                                              actual=snap.describe(), command=cmd.index),))
    partial_abs = not cmd.close_position and cmd.size.unit not in (SizeUnit.PCT_POSITION, SizeUnit.ALL)
    if len(targets) > 1 and partial_abs:
        raise fail(cmd, AlertCode.CONFLICT, f"both LONG and SHORT are open on {cmd.symbol}: which one to close "
                   f"{cmd.size.text} of?", "add side=long or side=short, or close a share: 'close 50%p SYM'")
    drafts = []
    for pside, q in targets:
        side = Side.SELL if q > 0 else Side.BUY
        priced = price_order(cmd, snap, side)
        market = is_market_type(priced.type)
        req = abs(q) if cmd.close_position else min(requested_qty(cmd, cmd.size, snap, q), abs(q))
        qty = floor_qty(inst, req, market)
        check_min_size(cmd, inst, req, qty, market, None, reducing=True)
        leg = "close" if pside is PositionSide.BOTH else ("closL" if pside is PositionSide.LONG else "closS")
        o = place(snap, cmd, priced, side=side, qty=qty, position_side=pside, reduce_only=True,
                  cid=client_id(key, leg, cmd.tag))
        drafts.append(Draft(o, o.client_order_id, "close", describe(inst, o)))
    return _Body(drafts)


def _target(cmd: AlertCommand, snap: Snapshot, key: IdempotencyKey | None) -> _Body:
    assert cmd.target_position is not None
    inst, target, net = snap.inst, cmd.target_position, snap.net
    if cmd.order_type not in (None, OrderType.MARKET, OrderType.LIMIT):
        raise fail(cmd, AlertCode.CONFLICT, f"pos= trades the difference with MARKET or LIMIT, not "
                   f"{cmd.order_type.value}", "drop the order type (MARKET) or use LIMIT")
    delta = target - net
    side = Side.BUY if delta > 0 else Side.SELL
    priced = price_order(cmd, snap, side)
    market = is_market_type(priced.type)
    step = qty_dec(inst, lot(inst, market)[1])
    if abs(delta) < step:
        return _Body([], "in_sync")
    total = floor_qty(inst, abs(delta), market)
    warnings: tuple[AlertWarning, ...] = ()
    amount_off = cmd.size.unit is SizeUnit.BASE and cmd.size.value and floor_qty(inst, cmd.size.value,
                                                                                  market) != total
    if cmd.side is not side or amount_off:
        warnings = (target_overrides_warning(
            target=fmt_decimal(target), current=fmt_decimal(net),
            delta=("+" if delta > 0 else "-") + fmt_decimal(qty_dec(inst, total)), verb=cmd.verb,
            amount=cmd.size.text, command=cmd.index),)
    # (positionSide, qty raw, reducing) of each order
    if not snap.dual:
        reducing = net != 0 and (delta > 0) != (net > 0) and abs(delta) <= abs(net)
        orders = [(PositionSide.BOTH, total, reducing)]
    else:
        reduce_side = PositionSide.SHORT if side is Side.BUY else PositionSide.LONG
        held = floor_qty(inst, abs(snap.side_qty(reduce_side)), market)
        r = min(total, held)
        opened = PositionSide.LONG if side is Side.BUY else PositionSide.SHORT
        orders = [x for x in ((reduce_side, r, True), (opened, total - r, False)) if x[1] > 0]
    drafts, entry_qty, entry_price = [], None, None
    for pside, qty, reducing in orders:
        check_min_size(cmd, inst, qty_dec(inst, qty), qty, market, priced.notional_price(inst, snap.ref), reducing)
        label = "close" if reducing else "entry"
        o = place(snap, cmd, priced, side=side, qty=qty, position_side=pside, reduce_only=reducing,
                  cid=client_id(key, label, cmd.tag))
        drafts.append(Draft(o, o.client_order_id, label, describe(inst, o)))
        if not reducing:
            # what the position becomes on the opened side: never more than the target (a one-way flip trades
            # |net| + |target| but only |target| is the new position the legs protect)
            entry_qty = min(qty_dec(inst, qty), abs(target))
            entry_price = _entry_price(snap, o)
    return _Body(drafts, warnings=warnings, entry_qty=entry_qty, entry_price=entry_price,
                 legs_pending=has_legs(cmd) and entry_qty is not None and target != 0)


# ---------------------------------------------------------------- cancel


def _cancel(cmd: AlertCommand, venue: "Venue", snap: Snapshot, key: IdempotencyKey | None) -> _Body:
    sym, acct, inst = cmd.symbol, snap.account_id, snap.inst
    orders = venue.open_orders(acct, sym)
    algos = venue.open_algo_orders(acct, sym)
    filtered = cmd.order_type is not None or cmd.filter_id is not None or cmd.tag is not None or \
        cmd.position_side not in (None, PositionSide.BOTH)
    if not filtered:
        if not orders and not algos:
            return _Body([], "nothing")
        return _Body([Draft(CancelAllOrders(acct, sym), "", "cancel", f"cancel all open orders on {sym} "
                            f"({len(orders)} orders, {len(algos)} conditional)")])
    prefixes = _id_prefixes(key.account_id if key is not None else str(acct), cmd.filter_id)
    suffix = None if cmd.tag is None else "." + tag_code(cmd.tag)

    def match(otype: OrderType, cid: str, pside: PositionSide) -> bool:
        return ((cmd.order_type is None or otype is cmd.order_type)
                and (cmd.position_side in (None, PositionSide.BOTH) or pside is cmd.position_side)
                and (prefixes is None or cid.startswith(prefixes))
                and (suffix is None or (cid.startswith("tv") and cid.endswith(suffix))))

    drafts = []
    for o in orders:
        if match(o.orig_type, o.client_order_id, o.position_side):
            text = f"cancel {o.orig_type.value} {o.side.value} {inst.fmt_qty(o.quantity)} {sym}" + \
                (f" @ {inst.fmt_price(o.price)}" if o.price else "") + f" ({o.client_order_id})"
            drafts.append(Draft(CancelOrder(acct, sym, order_id=o.order_id), "", "cancel", text))
    for a in algos:
        if match(a.order_type, a.client_algo_id, a.position_side):
            text = f"cancel {a.order_type.value} {a.side.value} {inst.fmt_qty(a.quantity)} {sym}" + \
                (f" trigger {inst.fmt_price(a.trigger_price)}" if a.trigger_price else "") + f" ({a.client_algo_id})"
            drafts.append(Draft(CancelAlgoOrder(acct, sym, algo_id=a.algo_id), "", "cancel", text))
    return _Body(drafts, "orders" if drafts else "nothing")


def _id_prefixes(account: str, filter_id: str | None) -> tuple[str, ...] | None:
    """Client-id prefixes 'tv<24 hex>-' of the dedupe keys an alert with ``id=filter_id`` has (alert_model)."""
    if filter_id is None:
        return None
    keys = [f"id:{filter_id}"] + [f"id:{filter_id}#{n}" for n in range(1, MAX_SHARED_ID_COMMANDS + 1)]
    return tuple(IdempotencyKey(account, k, "id", None).client_order_id("x")[:-1] for k in keys)


__all__ = ["MAX_SHARED_ID_COMMANDS", "Plan", "Step", "plan_command", "plan_legs", "tag_code"]
