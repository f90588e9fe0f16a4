"""Events: what the engine returns from ``handle``. Every event has a venue-wide ``seq`` and a ``ts`` (ms).

Consumers (ledger, API read models, user streams, challenges…) subscribe to these; they never call back into
the engine. Snapshot fields (``order``, ``algo``, ``positions``) are copies taken when the event was made.
"""

from __future__ import annotations

from dataclasses import dataclass

from .challenge_state import ChallengeView, Payout, UpdateReason
from .enums import BalanceReason, ExecutionType, IncomeType
from .orders import AlgoOrder, Order, Trade
from .positions import Position


class Event:
    __slots__ = ()
    kind: str = ""


@dataclass(frozen=True, slots=True)
class AccountCreated(Event):
    kind = "account_created"
    seq: int
    ts: int
    account_id: int
    alias: str


@dataclass(frozen=True, slots=True)
class OrderUpdated(Event):
    """ORDER_TRADE_UPDATE: new, canceled, expired, amended, or a fill (``trade`` set, exec_type TRADE)."""

    kind = "order"
    seq: int
    ts: int
    account_id: int
    order: Order
    exec_type: ExecutionType
    trade: Trade | None = None


@dataclass(frozen=True, slots=True)
class AlgoUpdated(Event):
    """ALGO_UPDATE: a conditional order changed status (NEW, CANCELED, TRIGGERED, FINISHED, EXPIRED, REJECTED)."""

    kind = "algo"
    seq: int
    ts: int
    account_id: int
    algo: AlgoOrder
    reject_reason: str = ""


@dataclass(frozen=True, slots=True)
class Income(Event):
    """One row of income history; also a wallet balance change."""

    kind = "income"
    seq: int
    ts: int
    account_id: int
    tran_id: int
    income_type: IncomeType
    amount: int  # USDT raw, signed
    symbol: str = ""
    trade_id: int = 0
    info: str = ""


@dataclass(frozen=True, slots=True)
class AccountUpdated(Event):
    """ACCOUNT_UPDATE: wallet after the change, and the positions the change touched."""

    kind = "account"
    seq: int
    ts: int
    account_id: int
    reason: BalanceReason
    wallet_balance: int  # USDT raw, total
    cross_wallet_balance: int  # USDT raw, excluding isolated wallets
    balance_change: int  # USDT raw, change not caused by PnL/commission (bc)
    positions: tuple[Position, ...] = ()


@dataclass(frozen=True, slots=True)
class AccountConfigUpdated(Event):
    """ACCOUNT_CONFIG_UPDATE: leverage (symbol set) or position mode (dual_side set) or margin type."""

    kind = "config"
    seq: int
    ts: int
    account_id: int
    symbol: str = ""
    leverage: int = 0
    margin_type: str = ""
    dual_side: bool | None = None


@dataclass(frozen=True, slots=True)
class MarginCall(Event):
    kind = "margin_call"
    seq: int
    ts: int
    account_id: int
    cross_wallet_balance: int
    positions: tuple[Position, ...]
    maint_margins: tuple[int, ...]  # USDT raw, one per position
    mark_prices: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Liquidated(Event):
    """A position was closed by the liquidation engine (also visible as a LIQUIDATION order + trade)."""

    kind = "liquidation"
    seq: int
    ts: int
    account_id: int
    symbol: str
    order_id: int
    mark_price: int
    insurance_delta: int  # USDT raw: surplus (+) to or deficit (-) from the insurance balance
    insurance_balance: int


@dataclass(frozen=True, slots=True)
class TrailingStopMoved(Event):
    """Internal: a trailing stop's extreme price moved. Not pushed to users; it marks the command as stateful."""

    kind = "trailing"
    seq: int
    ts: int
    account_id: int
    algo_id: int
    extreme_price: int
    activated: bool


@dataclass(frozen=True, slots=True)
class TriggerRejected(Event):
    """CONDITIONAL_ORDER_TRIGGER_REJECT: a triggered conditional order could not be placed."""

    kind = "trigger_reject"
    seq: int
    ts: int
    account_id: int
    symbol: str
    order_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class ChallengeUpdated(Event):
    """challengeUpdate: the challenge's full view after a fill, rollover, warning, breach, pass, payout or start.
    ``new_warnings`` lists the (rule, level %) thresholds crossed by this update."""

    kind = "challenge"
    seq: int
    ts: int
    account_id: int
    reason: UpdateReason
    view: ChallengeView
    new_warnings: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class PayoutUpdated(Event):
    kind = "payout"
    seq: int
    ts: int
    account_id: int
    payout: Payout
