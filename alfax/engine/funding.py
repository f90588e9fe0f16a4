"""Funding at 00:00 / 08:00 / 16:00 UTC with the latest mark price and funding rate of each symbol."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain import margin as M
from ..domain.enums import BalanceReason, IncomeType, MarginType

if TYPE_CHECKING:  # pragma: no cover
    from .venue import Venue

FUNDING_INTERVAL_MS = 8 * 3600 * 1000


def next_boundary(now: int) -> int:
    return (now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS


def maybe_settle(v: "Venue") -> None:
    """Cheap check on every handle: settle once when the clock passed the next funding time."""
    now = v.now
    if now < v.next_funding_ms:
        return
    if v.next_funding_ms:
        settle(v)
    v.next_funding_ms = next_boundary(now)


def settle(v: "Venue") -> None:
    for symbol in sorted(v.symbol_holders):
        holders = v.symbol_holders[symbol]
        m = v.markets[symbol]
        if not holders or not m.mark_price or not m.funding_rate or m.stale:
            continue  # stale feed: no settlement on an old mark price (documented in the README)
        inst = v.instruments[symbol]
        for account_id in sorted(holders):
            acct = v.accounts[account_id]
            touched = []
            total = 0
            for key in sorted(k for k in v.acct_positions.get(account_id, ()) if k[1] == symbol):
                pos = v.pos_map[key]
                amount = M.funding_fee(inst, pos.qty, m.mark_price, m.funding_rate)
                if not amount:
                    continue
                acct.wallet_balance += amount
                if pos.margin_type is MarginType.ISOLATED:
                    pos.isolated_wallet += amount
                total += amount
                touched.append(pos)
                v.income(account_id, IncomeType.FUNDING_FEE, amount, symbol)
            if touched:
                v.account_updated(acct, BalanceReason.FUNDING_FEE, total, tuple(touched))
