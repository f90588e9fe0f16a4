"""Prop challenges inside the single writer (issue 4): rules are enforced where the money moves.

Why here and not in a consumer: a breach must cancel, flatten and lock atomically with the mark update that
caused it, and an order on a locked account must be refused before it can fill. Both happen in the same
deterministic command as the event that triggers them, so the journal replays them exactly.

- ``check_order`` / ``check_leverage``: the risk pre-check (status, whitelist, news windows, leverage caps).
- ``note_fill`` (from settlement) and ``after_command``: trading days, FILL updates, pass checks.
- ``evaluate``: one account at current marks: breach → ``fail``; warnings at 50/80/95 % of a limit.
- ``roll_due``: the atomic rollover snapshot per challenge (anchor = max(B, E)), max-days and inactivity.
- ``guard`` (engine/guard.py) decides WHICH accounts a mark update must evaluate, so a tick costs O(crossed).
- payouts (debit mode) are requested, then approved against the gates and the cap, or rejected.
"""

from __future__ import annotations

import heapq
from dataclasses import replace
from typing import TYPE_CHECKING

from ..domain import challenge as R
from ..domain import commands as C
from ..domain.accounts import Account
from ..domain.challenge_state import (Breach, ChallengeState, ChallengeStatus, ChallengeView, Payout, PayoutStatus,
                                      UpdateReason)
from ..domain.enums import BalanceReason, ExecutionType, IncomeType, OrderType, Side, TimeInForce
from ..domain.errors import Err, VenueError
from ..domain.events import ChallengeUpdated, PayoutUpdated
from ..domain.money import AMOUNT_DECIMALS, format_trimmed
from ..domain.orders import Evidence, Order
from ..domain.products import FUNDED, Product, load_product
from . import risk

if TYPE_CHECKING:  # pragma: no cover
    from .venue import Venue

DAILY = R.FailReason.DAILY_DRAWDOWN.value
TOTAL = R.FailReason.TOTAL_DRAWDOWN.value


# ====================================================================== rules and figures
def rules(v: "Venue", st: ChallengeState) -> Product:
    return v.rulebooks[st.rules_version]


def pin(v: "Venue", source: str) -> Product:
    """The product a challenge is bought under, kept by its version (never replaced while challenges use it)."""
    p = load_product(source)
    v.rulebooks.setdefault(p.rules_version, p)
    return v.rulebooks[p.rules_version]


def balance_equity(v: "Venue", account_id: int) -> tuple[int, int]:
    """(B, E): wallet balance, and equity = wallet + unrealized PnL on mark prices (totalMarginBalance)."""
    f = risk.figures(v, account_id)
    return f.wallet, f.wallet + f.upnl


def floors(st: ChallengeState, p: Product) -> tuple[int, int, int, int]:
    """(daily floor, total floor, daily limit L_day, total limit L_tot) in USDT raw (§B3, §B4)."""
    stage = p.stage(st.stage)
    anchor = st.day_anchor
    if p.daily_mode is R.DailyMode.TRAILING_INTRADAY:
        anchor = max(anchor, st.day_high)
    l_day = R.of_start(st.start_balance, stage.max_daily_loss)
    l_tot = R.of_start(st.start_balance, stage.max_total_loss)
    dfloor = anchor - l_day
    tfloor = R.total_floor(st.start_balance, stage.max_total_loss, p.total_mode, st.high_water)
    return dfloor, tfloor, l_day, l_tot


def _levels(st: ChallengeState, p: Product) -> list[tuple[str, int, int]]:
    """(rule, level %, equity at which it is reached) for every warning level not yet announced, plus the two
    floors (level 100): the equity thresholds the guard watches."""
    dfloor, tfloor, l_day, l_tot = floors(st, p)
    out = []
    for rule, floor, limit, warned in ((DAILY, dfloor, l_day, st.warned_daily), (TOTAL, tfloor, l_tot, st.warned_total)):
        if limit <= 0:
            continue
        ref = floor + limit
        for lv in R.WARNING_LEVELS:
            if lv not in warned:
                out.append((rule, lv, ref - limit * lv // 100))
        out.append((rule, 100, floor))
    return out


def watch(v: "Venue", account_id: int) -> tuple[int | None, int | None]:
    """What the guard must watch for this challenge: (the highest equity at which it needs an exact evaluation —
    next warning or a floor —, and for ``trailing_intraday`` the day's equity high, which a rise must not pass
    unevaluated because the daily floor follows it). (None, None) when the account is not an active challenge
    or its evaluation is paused on a stale feed."""
    st = v.challenges.get(account_id)
    if st is None or st.status is not ChallengeStatus.ACTIVE or paused(v, account_id):
        return None, None
    p = rules(v, st)
    low = max(eq for _, _, eq in _levels(st, p))
    return low, (st.day_high if p.daily_mode is R.DailyMode.TRAILING_INTRADAY else None)


def paused(v: "Venue", account_id: int) -> bool:
    """No breach is evaluated on stale prices: a held symbol whose reference feed is stale pauses evaluation."""
    return any(v.markets[k[1]].stale for k in v.acct_positions.get(account_id, ()))


# ====================================================================== pre-trade rules (risk stage)
def locked_error(st: ChallengeState) -> VenueError:
    if st.status is ChallengeStatus.FAILED:
        return VenueError(Err.CHALLENGE_FAILED, rule=st.fail_reason)
    if st.status is ChallengeStatus.PASSED:
        return VenueError(Err.CHALLENGE_PASSED, stage=st.stage)
    return VenueError(Err.CHALLENGE_CLOSED, status=st.status.value)


def check_order(v: "Venue", cmd: C.PlaceOrder) -> None:
    """A new order on a challenge account: refused with -2010 naming the rule it would break."""
    st = v.challenges.get(cmd.account_id)
    if st is None:
        return
    if st.status is not ChallengeStatus.ACTIVE:
        raise locked_error(st)
    p = rules(v, st)
    if p.symbols_whitelist and cmd.symbol not in p.symbols_whitelist:
        raise VenueError(Err.CHALLENGE_SYMBOL, symbol=cmd.symbol, allowed=", ".join(p.symbols_whitelist))
    if p.news_trading_forbidden:
        for a, b in p.news_windows:
            if a <= v.now < b:
                raise VenueError(Err.CHALLENGE_NEWS, until=_iso(b))
    inst = v.instruments.get(cmd.symbol)
    acct = v.accounts.get(cmd.account_id)
    if inst is None or acct is None:
        return  # the order checks that follow give the usual errors
    cap = p.leverage_cap(cmd.symbol)
    lev = risk.leverage_of(acct, cmd.symbol)
    if lev > cap:
        raise VenueError(Err.CHALLENGE_LEVERAGE, leverage=lev, cap=cap, symbol=cmd.symbol)
    if cmd.reduce_only or cmd.close_position or not cmd.quantity:
        return
    # notional cap: the symbol's exposure after this order at most E x cap, the account's at most E x maxLeverage
    price = cmd.price or risk.mark_for(v, cmd.symbol)
    sym_now = symbol_exposure(v, cmd.account_id, cmd.symbol)
    after = abs(sym_now + cmd.side.sign * inst.notional(price, cmd.quantity))
    if after <= abs(sym_now):
        return  # reduces exposure: always allowed
    stale = sorted(s for s in _held_symbols(v, cmd.account_id) if v.markets[s].stale)
    if stale:
        # while a held symbol's feed is stale the account's breaches are not evaluated (§B9), so new exposure in
        # ANOTHER symbol (whose feed is fresh, so check_fresh lets it through) could land on an account that may
        # already be past its floor. Orders that add exposure are refused until the feed recovers; reducing is
        # allowed.
        raise VenueError(Err.FEED_STALE, f"Challenge evaluation is paused: the reference feed for {stale[0]} is "
                                         f"stale; orders that add exposure are rejected until it recovers.")
    _, eq = balance_equity(v, cmd.account_id)
    limit = max(0, eq) * cap
    if after > limit:
        raise VenueError(Err.CHALLENGE_NOTIONAL, symbol=cmd.symbol, notional=_usdt(after), cap=cap,
                         limit=_usdt(limit))
    total = after + sum(abs(symbol_exposure(v, cmd.account_id, s)) for s in _held_symbols(v, cmd.account_id)
                        if s != cmd.symbol)
    limit = max(0, eq) * p.max_leverage
    if total > limit:
        raise VenueError(Err.CHALLENGE_NOTIONAL, symbol="account", notional=_usdt(total), cap=p.max_leverage,
                         limit=_usdt(limit))


def check_amend(v: "Venue", account_id: int) -> None:
    st = v.challenges.get(account_id)
    if st is not None and st.status is not ChallengeStatus.ACTIVE:
        raise locked_error(st)


def check_leverage(v: "Venue", account_id: int, symbol: str, leverage: int) -> None:
    st = v.challenges.get(account_id)
    if st is None:
        return
    cap = rules(v, st).leverage_cap(symbol)
    if leverage > cap:
        raise VenueError(Err.CHALLENGE_LEVERAGE, leverage=leverage, cap=cap, symbol=symbol)


def _held_symbols(v: "Venue", account_id: int) -> set[str]:
    return {k[1] for k in v.acct_positions.get(account_id, ())}


def symbol_exposure(v: "Venue", account_id: int, symbol: str) -> int:
    """Signed notional of the account's positions in ``symbol`` at mark (long +, short −)."""
    inst = v.instruments[symbol]
    total = 0
    for key in v.acct_positions.get(account_id, ()):
        if key[1] == symbol:
            pos = v.pos_map[key]
            n = inst.notional(risk.mark_for(v, symbol, pos), abs(pos.qty))
            total += n if pos.qty > 0 else -n
    return total


def _usdt(raw: int) -> str:
    return format_trimmed(raw, AMOUNT_DECIMALS)


def _iso(ms: int) -> str:
    import datetime as _dt

    return _dt.datetime.fromtimestamp(ms / 1000, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


# ====================================================================== starting a stage
def start_challenge(v: "Venue", cmd: C.StartChallenge) -> None:
    acct = risk.account(v, cmd.account_id)
    if (cmd.account_id in v.challenges or v.acct_positions.get(cmd.account_id) or v.acct_orders.get(cmd.account_id)
            or v.acct_algos.get(cmd.account_id)):
        raise VenueError(Err.NOT_A_CHALLENGE_START)
    try:
        p = pin(v, cmd.product)
        p.stage(cmd.stage)
    except (ValueError, KeyError):
        raise VenueError(Err.INVALID_PARAMETER, param="product") from None
    _begin_stage(v, acct, cmd.challenge_id, p, cmd.stage, previous=0)


def _begin_stage(v: "Venue", acct: Account, challenge_id: str, p: Product, stage: str, previous: int) -> ChallengeState:
    s = p.account_size
    delta = s - acct.wallet_balance
    if delta:
        acct.wallet_balance = s
        v.income(acct.account_id, IncomeType.TRANSFER, delta, info=f"challenge {stage} start balance")
        v.account_updated(acct, BalanceReason.DEPOSIT if delta > 0 else BalanceReason.WITHDRAW, delta)
    for symbol in v.instruments:  # leverage starts inside the product's caps
        cap = p.leverage_cap(symbol)
        ss = acct.symbol_settings(symbol)
        if ss.leverage > cap:
            ss.leverage = cap
    day = R.rollover_at_or_before(v.now, p.rollover_minute)
    st = ChallengeState(account_id=acct.account_id, challenge_id=challenge_id, product_id=p.product_id,
                        rules_version=p.rules_version, stage=stage, start_balance=s, started_at=v.now, day_start=day,
                        day_anchor=s, day_start_balance=s, day_high=s, high_water=s, peak_equity=s,
                        previous_account=previous)
    register(v, st)
    _emit(v, st, UpdateReason.START)
    return st


def register(v: "Venue", st: ChallengeState) -> None:
    v.challenges[st.account_id] = st
    v.challenge_accounts.setdefault(st.challenge_id, []).append(st.account_id)
    v.challenge_accounts[st.challenge_id].sort()
    if st.status is ChallengeStatus.ACTIVE:
        heapq.heappush(v.rollover_heap, (st.day_start + R.DAY_MS, st.account_id))


# ====================================================================== fills, evaluation, rollovers
def note_fill(v: "Venue", account_id: int, open_notional: int, reduced: bool) -> None:
    """Called by settlement for every fill of a challenge account (before the command ends)."""
    st = v.challenges[account_id]
    if st.status is not ChallengeStatus.ACTIVE:
        return
    p = rules(v, st)
    st.last_activity = v.now
    min_notional = R.of_start(st.start_balance, p.min_trade_notional_fraction)
    if st.last_trading_day != st.day_start and R.counts_as_trading_day(open_notional > 0, open_notional, min_notional):
        st.trading_days += 1
        st.last_trading_day = st.day_start
    pending = v.challenge_fills.get(account_id)
    v.challenge_fills[account_id] = bool(pending) or reduced


def after_command(v: "Venue") -> None:
    """Accounts that filled in this command: one FILL update each (with any warning crossed), then the pass
    check when a fill reduced exposure (§B5: evaluated on every fill that reduces exposure)."""
    fills, v.challenge_fills = v.challenge_fills, {}
    for aid in sorted(fills):
        st = v.challenges[aid]
        if st.status is ChallengeStatus.ACTIVE:
            evaluate(v, aid, UpdateReason.FILL, try_pass=fills[aid])


def evaluate(v: "Venue", account_id: int, reason: UpdateReason | None = None, try_pass: bool = False) -> None:
    """Exact evaluation of one challenge at current marks. ``reason`` None (a mark or funding moved equity)
    pushes an update only for a warning or a breach."""
    st = v.challenges.get(account_id)
    if st is None or st.status is not ChallengeStatus.ACTIVE:
        return
    p = rules(v, st)
    bal, eq = balance_equity(v, account_id)
    if not paused(v, account_id):
        if p.daily_mode is R.DailyMode.TRAILING_INTRADAY and eq > st.day_high:
            # exact: the guard evaluates every mark at which equity could pass the day's high (watch)
            st.day_high = eq
        dfloor, tfloor, _, _ = floors(st, p)
        rule = R.breach(eq, dfloor, tfloor)
        if rule is not None:
            fail(v, st, rule.value, eq, bal, dfloor if rule is R.FailReason.DAILY_DRAWDOWN else tfloor)
            return
        new = _new_warnings(st, p, eq)
        if new:
            reason = reason or UpdateReason.WARNING
        # peak_equity is hashed state, but which accounts a mark update evaluates depends on the guard's bands
        # (rebuilt around the current marks on restore), so it is sampled only at the evaluations every venue
        # makes — fills, rollovers, warnings (reason set) — and the view adds the current equity
        if reason is not None and eq > st.peak_equity:
            st.peak_equity = eq
    else:
        new = ()
    # the pass check runs on fills that reduce exposure and whenever the account is flat (a bot may close first
    # and cancel its remaining orders after: the stage passes once nothing can open a position any more)
    if (try_pass or not v.acct_positions.get(account_id)) and _try_pass(v, st, p, bal):
        return
    if reason is not None:
        _emit(v, st, reason, new)


def _new_warnings(st: ChallengeState, p: Product, eq: int) -> tuple[tuple[str, int], ...]:
    new = []
    for rule, lv, level in _levels(st, p):
        if lv < 100 and eq <= level:
            new.append((rule, lv))
    if new:
        st.warned_daily = tuple(sorted(set(st.warned_daily) | {lv for r, lv in new if r == DAILY}))
        st.warned_total = tuple(sorted(set(st.warned_total) | {lv for r, lv in new if r == TOTAL}))
    return tuple(new)


def _best_day(st: ChallengeState, bal: int) -> int:
    return max(st.best_day_profit, bal - st.day_start_balance)


def _try_pass(v: "Venue", st: ChallengeState, p: Product, bal: int) -> bool:
    if st.stage == FUNDED:
        return False
    stage = p.stage(st.stage)
    chk = R.pass_check(bal, st.start_balance, stage.profit_target, len(v.acct_positions.get(st.account_id, ())),
                       st.trading_days, stage.min_trading_days, _best_day(st, bal), p.best_day_fraction)
    if not chk.passed or v.acct_orders.get(st.account_id) or v.acct_algos.get(st.account_id):
        # open orders could still open a position on a locked account: the stage passes once they are gone
        return False
    st.status = ChallengeStatus.PASSED
    st.ended_at = v.now
    nxt = p.next_stage(st.stage)
    from .accounts import new_account  # accounts imports this module (leverage caps)

    acct = new_account(v, f"challenge {st.challenge_id[:8]} {nxt}")
    st.next_account = acct.account_id
    _emit(v, st, UpdateReason.PASS)
    _begin_stage(v, acct, st.challenge_id, p, nxt, previous=st.account_id)
    return True


def fail(v: "Venue", st: ChallengeState, rule: str, eq: int, bal: int, floor: int, detail: str = "") -> None:
    """Breach (§B9), atomically: evidence, FAILED, cancel every open order, flatten every position at mark."""
    from .ordering import cancel_all
    from .settlement import apply_fill

    aid = st.account_id
    marks = tuple(sorted({(k[1], risk.mark_for(v, k[1], v.pos_map[k])) for k in v.acct_positions.get(aid, ())}))
    st.status = ChallengeStatus.FAILED  # first: the closing fills below are not challenge activity
    st.fail_reason = rule
    st.ended_at = v.now
    st.breach = Breach(rule=rule, time=v.now, equity=eq, balance=bal, floor=floor, marks=marks, detail=detail)
    symbols = sorted({o.symbol for o in v.acct_orders.get(aid, {}).values()}
                     | {a.symbol for a in v.acct_algos.get(aid, {}).values()} | {s for s, _ in marks})
    for s in symbols:
        cancel_all(v, aid, s, regular=True, algo=True)
    for key in sorted(v.acct_positions.get(aid, ()), key=lambda k: (k[1], k[2].value)):
        pos = v.pos_map[key]
        if not pos.qty:
            continue
        mark = risk.mark_for(v, pos.symbol, pos)
        qty = abs(pos.qty)
        oid = v.new_order_id()
        order = Order(order_id=oid, account_id=aid, symbol=pos.symbol, side=Side.SELL if pos.qty > 0 else Side.BUY,
                      type=OrderType.MARKET, orig_type=OrderType.MARKET, quantity=qty, price=0,
                      time_in_force=TimeInForce.IOC, position_side=pos.position_side,
                      client_order_id=f"challenge-breach-{oid}", reduce_only=True, time=v.now, update_time=v.now)
        v.register_order(order)
        apply_fill(v, order, mark, qty, False, Evidence("mark", 0, mark, qty), exec_type=ExecutionType.TRADE)
        v.order_done(order)
    _emit(v, st, UpdateReason.BREACH)


def roll_due(v: "Venue") -> None:
    """Rollovers due at ``v.now``: one atomic snapshot per challenge with the marks as they were at R_d (this
    runs before the command that crossed R_d touches anything)."""
    now = v.now
    try:
        _roll_due(v, now)
    finally:
        v.now = now


def _roll_due(v: "Venue", now: int) -> None:
    h = v.rollover_heap
    while h and h[0][0] <= now:
        due, aid = heapq.heappop(h)
        st = v.challenges.get(aid)
        if st is None or st.status is not ChallengeStatus.ACTIVE or st.day_start + R.DAY_MS != due:
            continue
        p = rules(v, st)
        bal, eq = balance_equity(v, aid)
        day = due
        while True:  # a long gap: every missed day closes (its profit counts for the best day) in turn
            st.best_day_profit = max(st.best_day_profit, bal - st.day_start_balance)
            anchor = R.day_anchor(bal, eq)
            if p.total_mode is R.TotalMode.TRAILING_EOD:
                st.high_water = max(st.high_water, anchor)
            st.day_start, st.day_anchor, st.day_start_balance, st.day_high = day, anchor, bal, eq
            st.warned_daily = ()
            if day + R.DAY_MS > now:
                break
            day += R.DAY_MS
        heapq.heappush(h, (st.day_start + R.DAY_MS, aid))
        # the rollover's work is stamped at its instant R_d, not at the command that happened to trigger it. A
        # replay rolls over at the first journaled command at or after R_d, which may be later than the live one
        # (a rejected command is not journaled; the runtime then journals a Tick): stamping at R_d keeps a breach,
        # max-days fail or pass at rollover (evidence, ended_at, flatten fills, the next stage's start) identical.
        v.now = st.day_start
        stage = p.stage(st.stage)
        if stage.max_days is not None and st.day_start >= st.started_at + stage.max_days * R.DAY_MS:
            fail(v, st, R.FailReason.MAX_DAYS.value, eq, bal, 0, f"stage not passed within {stage.max_days} days")
            continue
        if p.inactivity_days is not None and st.day_start >= max(st.last_activity, st.started_at) + p.inactivity_days * R.DAY_MS:
            fail(v, st, R.FailReason.INACTIVITY.value, eq, bal, 0, f"no trade for {p.inactivity_days} days")
            continue
        evaluate(v, aid, UpdateReason.ROLLOVER, try_pass=True)
        v.guard.touched.add(aid)


# ====================================================================== payouts (§B8, debit mode)
def request_payout(v: "Venue", cmd: C.RequestPayout) -> None:
    st = v.challenges.get(cmd.account_id)
    if st is None:
        raise VenueError(Err.NO_CHALLENGE)
    if cmd.amount <= 0 or cmd.amount % R.CENT:
        raise VenueError(Err.PAYOUT_AMOUNT)
    if cmd.payout_id in v.payouts or not cmd.payout_id:
        raise VenueError(Err.INVALID_PARAMETER, param="payoutId")
    po = Payout(payout_id=cmd.payout_id, account_id=cmd.account_id, challenge_id=st.challenge_id, amount=cmd.amount,
                currency=cmd.currency, requested_at=v.now)
    v.payouts[po.payout_id] = po
    v.emit(PayoutUpdated, account_id=po.account_id, payout=replace(po))


def payout_blockers(v: "Venue", st: ChallengeState, amount: int | None) -> list[str]:
    """Why a payout of ``amount`` cannot be paid now (empty: it can). ``None``: the eligibility view — the gates
    that do not depend on an amount, and whether anything is available at all."""
    p = rules(v, st)
    out = []
    if st.stage != FUNDED or st.status is not ChallengeStatus.ACTIVE:
        out.append(f"payouts need an ACTIVE FUNDED account (this one is {st.stage} {st.status.value})")
    if v.acct_positions.get(st.account_id):
        out.append("open positions: close every position before a payout")
    if st.last_payout_at and v.now < st.last_payout_at + p.payout_cadence_days * R.DAY_MS:
        out.append(f"payout cadence: next payout from {_iso(st.last_payout_at + p.payout_cadence_days * R.DAY_MS)} UTC")
    if amount is not None and amount < p.payout_minimum:
        out.append(f"amount {_usdt(amount)} USDT is below the minimum payout of {_usdt(p.payout_minimum)} USDT")
    bal, eq = balance_equity(v, st.account_id)
    if p.best_day_fraction is not None and not R.best_day_share_ok(_best_day(st, bal), bal - st.start_balance,
                                                                    p.best_day_fraction):
        out.append("consistency rule: the best day exceeds the allowed share of the total profit")
    cap = R.payout_cap(eq, st.start_balance, p.payout_split_bps, 0)
    if amount is None:
        if cap < p.payout_minimum:
            out.append(f"available {_usdt(cap)} USDT is below the minimum payout of {_usdt(p.payout_minimum)} USDT")
    elif amount > cap:
        out.append(f"amount {_usdt(amount)} USDT exceeds available {_usdt(cap)} USDT")
    return out


def decide_payout(v: "Venue", cmd: C.DecidePayout) -> None:
    po = v.payouts.get(cmd.payout_id)
    if po is None:
        raise VenueError(Err.PAYOUT_NOT_FOUND)
    if po.status is not PayoutStatus.REQUESTED:
        raise VenueError(Err.PAYOUT_DECIDED, status=po.status.value)
    st = v.challenges[po.account_id]
    po.decided_at = v.now
    blockers = payout_blockers(v, st, po.amount) if cmd.approve else [cmd.reason or "rejected by the operator"]
    if blockers:
        po.status = PayoutStatus.REJECTED
        po.fail_reason = "; ".join(blockers)
        v.emit(PayoutUpdated, account_id=po.account_id, payout=replace(po))
        return
    p = rules(v, st)
    debit = R.payout_debit(po.amount, p.payout_split_bps)
    acct = v.accounts[po.account_id]
    acct.wallet_balance -= debit
    v.income(acct.account_id, IncomeType.TRANSFER, -debit, info=f"payout {po.payout_id}")
    v.account_updated(acct, BalanceReason.WITHDRAW, -debit)
    # the debited profit leaves the account: every reference it was part of moves down with it (§B4 payouts)
    st.high_water -= debit
    st.day_anchor -= debit
    st.day_start_balance -= debit
    st.day_high -= debit
    st.peak_equity -= debit
    st.paid_total += po.amount
    st.last_payout_at = v.now
    # consistency is judged per payout cycle: a best day already paid out no longer weighs on the next payout
    st.best_day_profit = 0
    po.status = PayoutStatus.PAID
    po.debited = debit
    po.tx_ref = cmd.tx_ref or f"alfax-payout-{po.payout_id}"
    v.emit(PayoutUpdated, account_id=po.account_id, payout=replace(po))
    _emit(v, st, UpdateReason.PAYOUT)


def fail_challenge(v: "Venue", cmd: C.FailChallenge) -> None:
    st = v.challenges.get(cmd.account_id)
    if st is None:
        raise VenueError(Err.NO_CHALLENGE)
    if st.status is not ChallengeStatus.ACTIVE:
        raise locked_error(st)
    try:
        rule = R.FailReason(cmd.rule).value
    except ValueError:
        raise VenueError(Err.INVALID_PARAMETER, param="rule") from None
    bal, eq = balance_equity(v, st.account_id)
    fail(v, st, rule, eq, bal, 0, cmd.reason)


# ====================================================================== the view
def view(v: "Venue", account_id: int) -> ChallengeView:
    st = v.challenges.get(account_id)
    if st is None:
        raise VenueError(Err.NO_CHALLENGE)
    p = rules(v, st)
    stage = p.stage(st.stage)
    bal, eq = balance_equity(v, account_id)
    dfloor, tfloor, l_day, l_tot = floors(st, p)
    n_open = len(v.acct_positions.get(account_id, ()))
    warnings = tuple([(DAILY, lv) for lv in st.warned_daily] + [(TOTAL, lv) for lv in st.warned_total])
    missing: tuple[str, ...] = ()
    if st.stage != FUNDED:
        missing = tuple(R.pass_check(bal, st.start_balance, stage.profit_target, n_open, st.trading_days,
                                     stage.min_trading_days, _best_day(st, bal), p.best_day_fraction).missing())
    total_ref = tfloor + l_tot
    return ChallengeView(
        account_id=account_id, challenge_id=st.challenge_id, product_id=st.product_id, rules_version=st.rules_version,
        stage=st.stage, status=st.status.value, fail_reason=st.fail_reason, start_balance=st.start_balance,
        balance=bal, equity=eq, peak_equity=max(st.peak_equity, eq) if st.status is ChallengeStatus.ACTIVE else st.peak_equity,
        day_open_equity=st.day_anchor, profit_target=R.of_start(st.start_balance, stage.profit_target),
        profit_current=bal - st.start_balance, max_daily_drawdown=l_day,
        current_daily_drawdown=max(0, dfloor + l_day - eq), max_total_drawdown=l_tot,
        current_total_drawdown=max(0, total_ref - eq), daily_floor=dfloor, total_floor=tfloor,
        room_daily=max(0, eq - dfloor), room_total=max(0, eq - tfloor), trading_days=st.trading_days,
        min_trading_days=stage.min_trading_days, max_days=stage.max_days, max_leverage=p.max_leverage,
        started_at=st.started_at,
        day_rollover_utc=f"{p.rollover_minute // 60:02d}:{p.rollover_minute % 60:02d}",
        next_rollover_at=st.day_start + R.DAY_MS, best_day_profit=_best_day(st, bal), high_water=st.high_water,
        open_positions=n_open, paid_total=st.paid_total,
        payout_available=R.payout_cap(eq, st.start_balance, p.payout_split_bps, 0) if st.stage == FUNDED else 0,
        warnings=warnings, evaluation_paused=paused(v, account_id), pass_missing=missing, breach=st.breach,
        previous_account=st.previous_account, next_account=st.next_account, ended_at=st.ended_at,
    )


def _emit(v: "Venue", st: ChallengeState, reason: UpdateReason, new_warnings: tuple = ()) -> None:
    v.emit(ChallengeUpdated, account_id=st.account_id, reason=reason, view=view(v, st.account_id),
           new_warnings=tuple(new_warnings))


def stage_account(v: "Venue", account_id: int) -> int:
    """The newest stage account of the challenge ``account_id`` belongs to (API keys follow the challenge)."""
    seen = 0
    st = v.challenges.get(account_id)
    while st is not None and st.next_account and seen < 16:
        account_id = st.next_account
        st = v.challenges.get(account_id)
        seen += 1
    return account_id
