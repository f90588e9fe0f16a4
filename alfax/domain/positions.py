"""Positions: one per (account, symbol, positionSide). BOTH in one-way mode; LONG/SHORT in hedge mode."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from .enums import MarginType, PositionSide


@dataclass(slots=True)
class Position:
    account_id: int
    symbol: str
    position_side: PositionSide
    qty: int = 0  # signed qty raw: >0 long, <0 short (LONG/SHORT sides keep their natural sign)
    entry_notional: int = 0  # USDT raw, cost of |qty| at entry (entryPrice = entry_notional / |qty|)
    isolated_wallet: int = 0  # USDT raw; only for ISOLATED margin
    margin_type: MarginType = MarginType.CROSSED
    leverage: int = 20
    update_time: int = 0
    break_even_fee: int = 0  # USDT raw fees paid on the open part, for breakEvenPrice

    @property
    def is_open(self) -> bool:
        return self.qty != 0

    def copy(self) -> "Position":
        return copy.copy(self)
