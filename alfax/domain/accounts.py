"""Accounts: USDT wallet, per-symbol settings (leverage, margin type), position mode."""

from __future__ import annotations

from dataclasses import dataclass, field

from .enums import MarginType


@dataclass(slots=True)
class SymbolSettings:
    leverage: int = 20
    margin_type: MarginType = MarginType.CROSSED


@dataclass(slots=True)
class Account:
    account_id: int
    alias: str = ""
    wallet_balance: int = 0  # USDT raw: deposits + realized PnL - fees +/- funding (incl. isolated wallets)
    dual_side: bool = False  # hedge mode
    settings: dict[str, SymbolSettings] = field(default_factory=dict)
    update_time: int = 0

    def symbol_settings(self, symbol: str) -> SymbolSettings:
        s = self.settings.get(symbol)
        if s is None:
            s = self.settings[symbol] = SymbolSettings()
        return s
