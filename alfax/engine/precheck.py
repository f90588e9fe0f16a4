"""The pre-trade check (issue 4): would this order break the challenge's rules, and what is the largest quantity
that would not? Read-only over the engine's live state (same numbers the risk stage and the evaluator use).

Risk of ``q`` at estimated fill price ``P`` (LIMIT: its price; MARKET: the average walking the reference book):
the entry fee, plus the adverse distance from ``P`` to the reference price ``R`` times ``q`` and, with a stop,
the exit fee at the stop — where ``R`` is the stop price if one is given (the loss if it is hit) and the mark
otherwise (what the fill costs at once). The order is safe when that loss leaves equity strictly above both
floors (touching a floor is a breach) and the notional stays inside the leverage caps. ``maxSafeQty`` is the
largest multiple of the step size with both properties (binary search: the risk is monotone in the quantity).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..domain import commands as C
from ..domain import margin as M
from ..domain.challenge_state import ChallengeStatus, CheckResult
from ..domain.enums import Side
from ..domain.errors import VenueError
from . import challenges as CH
from . import risk

if TYPE_CHECKING:  # pragma: no cover
    from .venue import Venue


def _walk(levels, qty: int, inst) -> int:
    """Notional of ``qty`` filled down the reference book (the last level prices any remainder)."""
    left, total, price = qty, 0, 0
    for price, avail in levels:
        take = avail if avail < left else left
        total += inst.notional(price, take)
        left -= take
        if not left:
            return total
    return total + inst.notional(price, left) if price else 0


def check(v: "Venue", cmd: C.PlaceOrder) -> CheckResult:
    aid = cmd.account_id
    inst = risk.instrument(v, cmd.symbol)
    risk.account(v, aid)
    st = v.challenges.get(aid)
    bal, eq = CH.balance_equity(v, aid)
    if st is None:
        return CheckResult("allow", "not a challenge account: no challenge rule applies", cmd.quantity, cmd.quantity,
                           cmd.price, 0, 0, 0, 0, 0, eq, is_challenge=False)
    p = CH.rules(v, st)
    dfloor, tfloor, _, _ = CH.floors(st, p)
    room_d, room_t = eq - dfloor, eq - tfloor
    m = v.markets[cmd.symbol]
    mark = risk.mark_for(v, cmd.symbol)
    buy = cmd.side is Side.BUY
    book = m.asks if buy else m.bids

    def fill_notional(q: int) -> int:
        if cmd.price:
            return inst.notional(cmd.price, q)
        return _walk(book, q, inst)

    ref = cmd.stop_price or mark

    def loss(q: int) -> int:
        if q <= 0:
            return 0
        n = fill_notional(q)
        nref = inst.notional(ref, q)
        cost = M.fee(n, inst.taker_fee) + (n - nref if buy else nref - n)
        if cmd.stop_price:
            cost += M.fee(nref, inst.taker_fee)
        return cost

    fill_price = cmd.price or (M.entry_price_raw(inst, cmd.quantity, fill_notional(cmd.quantity))
                               if cmd.quantity and book else mark)
    risk_q = loss(cmd.quantity)

    def result(decision: str, reason: str, safe: int) -> CheckResult:
        return CheckResult(decision, reason, cmd.quantity, safe, fill_price, risk_q, max(0, room_d), max(0, room_t),
                           room_d - risk_q, room_t - risk_q, eq)

    if st.status is not ChallengeStatus.ACTIVE:
        return result("block", CH.locked_error(st).msg, 0)
    if cmd.stop_price and not cmd.reduce_only and ((buy and cmd.stop_price >= fill_price)
                                                   or (not buy and cmd.stop_price <= fill_price)):
        return result("block", f"stopPrice must be {'below' if buy else 'above'} the estimated entry price for a "
                               f"{cmd.side.value} (it is the protective stop of the position)", 0)
    probe = replace(cmd, quantity=inst.step_size)
    try:
        v.challenge_precheck(probe)  # status, whitelist, news window, leverage setting, notional of one step
    except VenueError as e:
        return result("block", e.msg, 0)
    if CH.paused(v, aid) or m.stale:
        return result("block", f"reference feed for {cmd.symbol} is stale: orders are rejected until it recovers", 0)
    exposure = CH.symbol_exposure(v, aid, cmd.symbol)
    reducing = cmd.reduce_only or (exposure > 0 and not buy) or (exposure < 0 and buy)
    if reducing:
        return result("allow", "reduces exposure", cmd.quantity)
    step = inst.step_size

    def ok(q: int) -> bool:
        if q <= 0:
            return True
        try:
            v.challenge_precheck(replace(cmd, quantity=q))
        except VenueError:
            return False
        return loss(q) < min(room_d, room_t)

    # the notional cap bounds the search: exposure can grow to at most E x cap
    cap_qty = (max(0, eq) * p.leverage_cap(cmd.symbol)) // max(1, inst.notional(max(ref, mark, cmd.price), step)) * step
    lo, hi = 0, cap_qty // step + 1
    while lo + 1 < hi:  # invariant: ok(lo*step), not ok(hi*step) (or hi beyond the cap)
        mid = (lo + hi) // 2
        if ok(mid * step):
            lo = mid
        else:
            hi = mid
    safe = lo * step
    if safe <= 0:
        return result("block", "no quantity of this order keeps equity above both floors within the leverage caps", 0)
    if cmd.quantity <= safe:
        return result("allow", "within the rules: equity stays above both floors after the order"
                      + (" and a stop-out" if cmd.stop_price else ""), safe)
    why = ("a stop-out at the stop price would touch a floor" if cmd.stop_price and loss(cmd.quantity) >= min(room_d, room_t)
           else "the order would exceed the leverage cap or touch a floor")
    return result("reduce", f"{why}; the largest safe quantity is lower", safe)
