"""Read-model dataclasses the engine computes for the edge (account, position metrics, market state)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """USDT figures of one account (raw 8 dp), the numbers behind /fapi/v2/account and /balance."""

    wallet_balance: int
    cross_wallet_balance: int
    unrealized_pnl: int
    cross_unrealized_pnl: int
    margin_balance: int
    position_initial_margin: int
    open_order_initial_margin: int
    initial_margin: int
    maint_margin: int
    available_balance: int
    max_withdraw_amount: int
    update_time: int


@dataclass(frozen=True, slots=True)
class PositionMetrics:
    mark_price: int  # price raw
    unrealized_pnl: int  # USDT raw
    notional: int  # USDT raw, signed (negative for shorts)
    initial_margin: int
    maint_margin: int
    liquidation_price: int  # 8 dp raw, 0 when none
    entry_price_8dp: int  # 8 dp raw
    break_even_price_8dp: int  # 8 dp raw
    isolated_margin: int  # isolated wallet + uPnL (0 for cross)
    max_notional: int  # maxNotionalValue at the current leverage


@dataclass(frozen=True, slots=True)
class MarketState:
    symbol: str
    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]
    book_update_id: int
    last_price: int
    last_trade_ms: int
    mark_price: int
    index_price: int
    funding_rate: int
    next_funding_time: int
    last_update_ms: int
    stale: bool = False  # FeedStatus: the reference feed is stale (orders rejected, nothing evaluated)
