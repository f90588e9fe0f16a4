"""The price-band guard (engine/guard.py) against brute force.

1. Differential: the same random command stream on the real venue and on a reference venue whose guard returns
   EVERY holder of the symbol on every mark (a test-only full scan). Liquidations, margin calls, challenge
   breaches, warnings, passes — every event — and the state hash must be identical: an account the band index
   skipped but the full scan acted on shows up as a difference.
2. Invariants after every mark on the guarded venue, computed from scratch: no active challenge (on fresh prices)
   sits at or below a floor, every warning level reached has been announced, no cross/isolated position is
   beyond liquidation, every account beyond the margin-call ratio is flagged.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alfax.domain import challenge as R
from alfax.domain import margin as M
from alfax.domain.challenge_state import ChallengeStatus
from alfax.domain.enums import IncomeType, MarginType
from alfax.domain.errors import VenueError
from alfax.domain.events import ChallengeUpdated, Income
from alfax.domain.money import RATE_SCALE
from alfax.engine import ManualClock, Venue, challenges, risk
from alfax.engine.guard import Guard
from engine_helpers import INSTRUMENTS
from test_engine_challenges_support import BTC, C, CSim, Side, UpdateReason, challenge_stream, day


class FullScan(Guard):
    """Test-only reference: every holder of the symbol is evaluated on every mark (sorted, as the guard does)."""

    def crossed(self, v, symbol, mark):
        return sorted(v.symbol_holders[symbol])


class FullScanVenue(Venue):
    def __init__(self, instruments, clock):
        super().__init__(instruments, clock)
        self.guard = FullScan(instruments)


def _run(cls, cmds, check=None):
    clock = ManualClock(cmds[0][0])
    v = cls(INSTRUMENTS, clock)
    log = []
    for ms, cmd in cmds:
        clock.ms = ms
        try:
            evs = v.handle(cmd)
        except VenueError as e:
            log.append(e.code)
            continue
        log.append(evs)
        if check is not None and isinstance(cmd, (C.MarkPriceUpdate, C.FeedStatus)):
            # funding settles after the command's own work (timers), without a liquidation check of its own
            # (the next mark does it, guarded or not): those accounts are left out of the margin invariants
            funded = {e.account_id for e in evs if isinstance(e, Income) and e.income_type is IncomeType.FUNDING_FEE}
            check(v, cmd.symbol if isinstance(cmd, C.MarkPriceUpdate) else None, funded)
    return v, log


def brute_force_invariants(v: Venue, marked: str | None, skip_margin: set[int] = frozenset()) -> None:
    """After a mark of ``marked``: its holders' margin (the liquidation check runs per marked symbol; funding
    between marks is settled without one, as before the guard). After any mark or feed change: every challenge."""
    for aid in sorted(v.symbol_holders[marked]) if marked else ():
        keys = v.acct_positions[aid]
        if aid in skip_margin or any(v.markets[k[1]].stale for k in keys):
            continue  # nothing is evaluated on stale prices
        f = risk.figures(v, aid)
        # cross: beyond liquidation is impossible after a mark; beyond the margin-call ratio is flagged
        if f.cross_maint > 0:
            bal = f.cross_wallet + f.cross_upnl
            assert not M.margin_ratio_breached(bal, f.cross_maint), ("missed liquidation", aid)
            if bal <= 0 or f.cross_maint * RATE_SCALE > bal * 80_000_000:
                assert aid in v.margin_called, ("missed margin call", aid)
        for key in keys:
            pos = v.pos_map[key]
            if pos.margin_type is MarginType.ISOLATED and pos.qty and pos.symbol == marked:
                inst = v.instruments[pos.symbol]
                mark = risk.mark_for(v, pos.symbol, pos)
                u = M.unrealized_pnl(inst, pos.qty, pos.entry_notional, mark)
                mm = M.maintenance_margin(inst, inst.notional(mark, abs(pos.qty)))
                assert not M.margin_ratio_breached(pos.isolated_wallet + u, mm), ("missed isolated liq.", aid)
    for aid, stt in sorted(v.challenges.items()):
        if stt.status is not ChallengeStatus.ACTIVE or challenges.paused(v, aid):
            continue
        p = challenges.rules(v, stt)
        bal, eq = challenges.balance_equity(v, aid)
        dfloor, tfloor, _, _ = challenges.floors(stt, p)
        assert R.breach(eq, dfloor, tfloor) is None, ("missed breach", aid, eq, dfloor, tfloor)
        for rule, lv, level in challenges._levels(stt, p):
            if lv < 100 and eq <= level:
                raise AssertionError(("missed warning", aid, rule, lv))
        if p.daily_mode is R.DailyMode.TRAILING_INTRADAY:
            assert eq <= stt.day_high, ("day high not followed", aid)


def _compare(cmds):
    va, la = _run(Venue, cmds, brute_force_invariants)
    vb, lb = _run(FullScanVenue, cmds)
    for i, (a, b) in enumerate(zip(la, lb)):
        assert a == b, (i, cmds[i], a, b)
    assert va.state_hash() == vb.state_hash()
    return va, la


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), accounts=st.integers(2, 8))
def test_guard_matches_full_scan_on_random_streams(seed, accounts):
    _compare(challenge_stream(seed, 300, accounts=accounts))


def test_guard_matches_full_scan_and_the_streams_exercise_every_action():
    """A fixed batch of long streams, with a check that they really liquidate, margin-call, breach, warn and
    pass (a differential test over streams where nothing happens would prove nothing)."""
    kinds = set()
    for seed in range(12):
        _, log = _compare(challenge_stream(seed, 600, accounts=8))
        for evs in log:
            if isinstance(evs, list):
                for e in evs:
                    kinds.add(e.reason.value if isinstance(e, ChallengeUpdated) else type(e).__name__)
    assert {"Liquidated", "BREACH", "WARNING", "PASS", "ROLLOVER", "FILL"} <= kinds, kinds
    assert "MarginCall" in kinds or "Liquidated" in kinds


def test_band_skips_accounts_far_from_every_level():
    """The point of the index: a small move evaluates nobody, a move through a level evaluates that account."""
    s = CSim()
    for a in (2, 3):
        s.do(C.CreateAccount(a, f"t{a}"))
        s.do(C.StartChallenge(a, f"00000000-0000-4000-8000-00000000000{a}", s.source))
    for a in (1, 2, 3):
        s.fill(Side.BUY, "0.1" if a != 3 else "1", "30000", account=a)
    s.set_price(BTC, "30000")  # every account re-indexed at 30,000
    calls = []
    orig = challenges.evaluate

    def spy(v, aid, *a, **k):
        calls.append(aid)
        return orig(v, aid, *a, **k)

    challenges.evaluate = spy
    try:
        s.mark(BTC, "29990")  # 0.1 BTC -> -1 USDT; 1 BTC -> -10: far from the 50 % warning (250 below)
        assert calls == []
        s.mark(BTC, "29740")  # account 3: E = 9,985 - 260 = 9,725 <= 9,750: warned
        assert 3 in calls and 1 not in calls and 2 not in calls
        assert s.updates(s.events[-3:], account=3)[-1].new_warnings == (("DAILY_DRAWDOWN", 50),)
    finally:
        challenges.evaluate = orig


def test_trailing_intraday_day_high_is_followed_exactly():
    """dailyMode trailing_intraday: the floor follows the day's equity high. Rises inside a band used to go
    unevaluated (the guard watched only levels below equity), leaving the floor lower than a full scan's."""
    from test_engine_challenges_support import product_source

    src = product_source(dailyMode="trailing_intraday", productId="10k-intraday")
    cmds = []
    s = CSim(source=src)
    s.fill(Side.BUY, "1", "30000")  # B = 9,985
    for p in ("30050", "30120", "30200", "30150", "30260", "29900", "29780", "29770", "29760"):
        s.later(1000)
        s.mark(BTC, p)
    cmds = s.cmds
    va, _ = _compare(cmds)
    st_ = va.challenges[1]
    # high: E at 30,260 = 9,985 + 260 = 10,245 -> floor 9,745 -> E at 29,760 = 9,745 breaches
    assert st_.status is ChallengeStatus.FAILED and st_.breach.floor == 974_500_000_000
    assert st_.breach.time == s.clock.ms


def test_guard_rebuild_after_restore_matches_the_live_index_decisions():
    """Restore rebuilds the index around the current marks (different bands than the live venue had): the state
    and every later event must not depend on it."""
    for seed in (4242, 4243, 4244):
        _restore_every(challenge_stream(seed, 400, accounts=8), 29)


def _restore_every(cmds, every):
    import json

    clock = ManualClock(cmds[0][0])
    v = Venue(INSTRUMENTS, clock)
    for cut in range(0, len(cmds), every):
        part = cmds[cut:cut + every]
        snap = json.loads(json.dumps(v.snapshot()))
        clock2 = ManualClock(clock.ms)
        r = Venue.restore(INSTRUMENTS, clock2, snap)
        assert r.state_hash() == v.state_hash()
        for ms, cmd in part:
            clock.ms = clock2.ms = ms
            out = []
            for venue in (v, r):
                try:
                    out.append(venue.handle(cmd))
                except VenueError as e:
                    out.append(e.code)
            assert out[0] == out[1], (ms, cmd)
        assert r.state_hash() == v.state_hash()


def test_funding_and_fees_are_evaluated_without_a_mark_move():
    """guard.refresh: an account named by any event is evaluated exactly (funding at 16:00 moves no mark)."""
    s = CSim()
    s.fill(Side.BUY, "1", "30000")
    s.mark(BTC, "29515.5", rate="0.0001")  # E = 9,500.5; 16:00 funding 2.95155
    s.at(day(0, 16))
    evs = s.do(C.Tick())
    assert s.st().status is ChallengeStatus.FAILED and s.st().breach.time == day(0, 16)
    assert s.updates(evs, UpdateReason.BREACH)
    _compare(s.cmds)  # and the full scan agrees
