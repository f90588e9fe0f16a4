"""Which accounts must a mark-price update evaluate? An index of price bands, so a tick costs O(log n + crossed)
instead of a scan of every holder (issue 4 benchmark: 10,000 challenges cost no more per tick than 100).

For each account with positions, ``slack`` is the smallest distance (USDT) to anything that must be acted on:
the margin-call level of the cross margin (stricter than liquidation), each isolated position's maintenance
margin, and the next challenge level (a warning at 50/80/95 % of a loss limit, or a floor). With ``N`` the
notional of all its positions, a move of every held mark by less than ``slack / (2 N)`` of its price cannot use
the slack up: equity moves by at most |qty| per unit of price, maintenance margin by at most the margin rate
(< 1) times that, and each symbol gets a share of the slack in proportion to its notional. So each held symbol
gets a band ``mark ± mark·slack/(2N)``; only an account whose band a new mark leaves (or whose slack is already
gone: ``always``) is evaluated exactly — then re-indexed around the current marks. Evaluating more accounts
than needed is harmless (the exact checks decide); missing one is impossible while the bands are conservative.

The index is derived state: never hashed or snapshotted, rebuilt on restore. Lazy deletion: an entry carries
the account's index version; older entries are skipped when popped and dropped when a heap is compacted.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from ..domain import margin as M
from ..domain.enums import MarginType
from ..domain.events import AccountUpdated, ChallengeUpdated
from ..domain.money import RATE_SCALE
from . import challenges, risk

if TYPE_CHECKING:  # pragma: no cover
    from .venue import Venue

MARGIN_CALL_RATIO = 80_000_000  # 80 % (liquidation.MARGIN_CALL_RATIO; kept here to avoid an import cycle)


class Guard:
    __slots__ = ("lo", "hi", "version", "always", "touched", "scan_from")

    def __init__(self, symbols) -> None:
        self.lo: dict[str, list] = {s: [] for s in symbols}  # max-heap of band bottoms: (-price, account, version)
        self.hi: dict[str, list] = {s: [] for s in symbols}  # min-heap of band tops: (price, account, version)
        self.version: dict[int, int] = {}
        self.always: set[int] = set()  # slack used up (or margin-called): evaluated on every mark of its symbols
        self.touched: set[int] = set()
        self.scan_from = 0  # events of the current command already looked at

    def crossed(self, v: "Venue", symbol: str, mark: int) -> list[int]:
        """Accounts holding ``symbol`` whose band ``mark`` leaves, or whose slack is gone; sorted."""
        out = set()
        ver = self.version
        h = self.lo[symbol]
        while h and -h[0][0] >= mark:
            _, aid, n = heapq.heappop(h)
            if ver.get(aid) == n:
                out.add(aid)
        h = self.hi[symbol]
        while h and h[0][0] <= mark:
            _, aid, n = heapq.heappop(h)
            if ver.get(aid) == n:
                out.add(aid)
        if self.always:
            holders = v.symbol_holders[symbol]
            out.update(a for a in self.always if a in holders)
        return sorted(out)

    def reindex(self, v: "Venue", account_id: int) -> None:
        n = self.version[account_id] = self.version.get(account_id, 0) + 1
        self.always.discard(account_id)
        keys = v.acct_positions.get(account_id)
        if not keys:
            return
        slack, notional, marks = _slack(v, account_id, keys)
        if slack <= 0 or notional <= 0 or account_id in v.margin_called:
            self.always.add(account_id)
            return
        for symbol, mark in marks.items():
            d = mark * slack // (2 * notional)
            if d <= 0:
                self.always.add(account_id)
                return
            lo, hi = self.lo[symbol], self.hi[symbol]
            heapq.heappush(lo, (d - mark, account_id, n))
            heapq.heappush(hi, (mark + d, account_id, n))
            if len(hi) > 4 * len(self.version) + 256:
                self._compact(symbol)

    def _compact(self, symbol: str) -> None:
        ver = self.version
        for h in (self.lo[symbol], self.hi[symbol]):
            h[:] = [e for e in h if ver.get(e[1]) == e[2]]
            heapq.heapify(h)

    def forget(self, account_id: int) -> None:
        self.version.pop(account_id, None)
        self.always.discard(account_id)


def _slack(v: "Venue", account_id: int, keys) -> tuple[int, int, dict[str, int]]:
    """(smallest slack USDT raw, total notional USDT raw, {symbol: mark}) at current marks."""
    cross_wallet = v.accounts[account_id].wallet_balance
    cross_upnl = cross_maint = upnl = notional = 0
    slack = None
    marks: dict[str, int] = {}
    for key in keys:
        pos = v.pos_map[key]
        inst = v.instruments[pos.symbol]
        mark = risk.mark_for(v, pos.symbol, pos)
        marks[pos.symbol] = mark
        u = M.unrealized_pnl(inst, pos.qty, pos.entry_notional, mark)
        n = inst.notional(mark, abs(pos.qty))
        mm = M.maintenance_margin(inst, n)
        upnl += u
        notional += n
        if pos.margin_type is MarginType.ISOLATED:
            cross_wallet -= pos.isolated_wallet
            s = pos.isolated_wallet + u - mm
            slack = s if slack is None or s < slack else slack
        else:
            cross_upnl += u
            cross_maint += mm
    if cross_maint > 0:
        # the margin-call level (maint / balance > 80 %) comes before liquidation (maint >= balance)
        s = cross_wallet + cross_upnl - (-(-cross_maint * RATE_SCALE // MARGIN_CALL_RATIO))
        slack = s if slack is None or s < slack else slack
    level, high = challenges.watch(v, account_id)
    if level is not None:
        s = v.accounts[account_id].wallet_balance + upnl - level
        slack = s if slack is None or s < slack else slack
    if high is not None:  # trailing_intraday: equity must not pass the day's high unevaluated
        s = high - (v.accounts[account_id].wallet_balance + upnl)
        slack = s if slack is None or s < slack else slack
    return (0 if slack is None else slack), notional, marks


_MOVES_SLACK = frozenset({AccountUpdated, ChallengeUpdated})  # every fill, fee, funding, transfer, payout, stage


def refresh(v: "Venue") -> None:
    """Accounts the current command touched (a balance or position change, or an explicit touch): a challenge is
    evaluated exactly at once (funding or a fee can push equity over an edge without a mark moving) and
    re-indexed; any other account is checked at the next mark of a symbol it holds."""
    g = v.guard
    challenges_on = bool(v.challenges)
    while True:
        out = v.out
        if g.scan_from < len(out):
            for ev in out[g.scan_from:]:
                # only balance or position changes move an account's slack (a new or cancelled order does not);
                # a challenge account is evaluated on any event (a cancel can be what lets a flat stage pass)
                if type(ev) in _MOVES_SLACK or (challenges_on and getattr(ev, "account_id", 0) in v.challenges):
                    g.touched.add(ev.account_id)
            g.scan_from = len(out)
        if not g.touched:
            return
        todo = sorted(g.touched)
        g.touched = set()
        for aid in todo:
            if aid in v.challenges:
                challenges.evaluate(v, aid)
                g.reindex(v, aid)
            elif aid in v.acct_positions and v.acct_positions[aid]:
                # lazily: its bands are out of date, so it is checked exactly on the next mark of any symbol it
                # holds (then re-indexed there) — an account that fills many times between marks costs one index
                g.version[aid] = g.version.get(aid, 0) + 1
                g.always.add(aid)
            else:
                g.reindex(v, aid)


def rebuild(v: "Venue") -> None:
    """After a restore: every account with positions."""
    for aid in sorted(v.acct_positions):
        v.guard.reindex(v, aid)
