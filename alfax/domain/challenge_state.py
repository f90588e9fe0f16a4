"""Challenge state the engine keeps per challenge account, the read-only view it computes for the edge and the
streams, and payouts (issue 4). Stdlib only. Amounts are USDT raw ints (8 dp), times epoch ms.

One challenge (``challenge_id``, a canonical UUID) runs through stages; each stage is its own account at the
stage's start balance (§B1: no carried positions). ``previous_account`` / ``next_account`` link the stage
accounts; the API key of the challenge follows the newest stage (``Venue.stage_account``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ChallengeStatus(str, Enum):
    ACTIVE = "ACTIVE"
    PASSED = "PASSED"  # stage passed: this stage's account is locked, the next stage runs on a new account
    FAILED = "FAILED"  # breached: flattened, locked, read-only, evidence kept
    ARCHIVED = "ARCHIVED"


class UpdateReason(str, Enum):
    """Why a ``challengeUpdate`` was pushed (START is an alfax extension: a stage account was minted)."""

    START = "START"
    FILL = "FILL"
    ROLLOVER = "ROLLOVER"
    WARNING = "WARNING"
    BREACH = "BREACH"
    PASS = "PASS"
    PAYOUT = "PAYOUT"


class PayoutStatus(str, Enum):
    REQUESTED = "requested"
    APPROVED = "approved"
    PAID = "paid"
    REJECTED = "rejected"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Breach:
    """The evidence stored with a failure: when, which rule, the equity and the floor it met, the marks used."""

    rule: str  # FailReason value
    time: int
    equity: int
    balance: int
    floor: int
    marks: tuple[tuple[str, int], ...] = ()  # (symbol, mark price raw) of every open position
    detail: str = ""


@dataclass(slots=True)
class ChallengeState:
    account_id: int
    challenge_id: str
    product_id: str
    rules_version: str
    stage: str
    start_balance: int
    started_at: int
    status: ChallengeStatus = ChallengeStatus.ACTIVE
    fail_reason: str = ""
    day_start: int = 0  # R_d of the current challenge day
    day_anchor: int = 0  # max(B, E) at R_d (dayOpenEquity)
    day_start_balance: int = 0  # B at R_d (the day's realized profit is B - this)
    day_high: int = 0  # highest equity seen today (trailing_intraday daily mode)
    high_water: int = 0  # end-of-day high-water mark (trailing_eod total mode), lowered by payout debits
    peak_equity: int = 0  # highest equity seen at an evaluation (informational)
    trading_days: int = 0
    last_trading_day: int = -1  # R_d of the last day counted
    best_day_profit: int = 0  # highest realized profit of a finished day
    last_activity: int = 0  # last fill (inactivity rule)
    warned_daily: tuple[int, ...] = ()  # warning levels announced today (reset at rollover)
    warned_total: tuple[int, ...] = ()
    paid_total: int = 0  # paid to the trader (sum of paid payouts)
    last_payout_at: int = 0
    previous_account: int = 0
    next_account: int = 0
    ended_at: int = 0
    breach: Breach | None = None


@dataclass(frozen=True, slots=True)
class ChallengeView:
    """Every figure of ``GET /fapi/v1/challenge`` (and of ``challengeUpdate``), computed at one instant."""

    account_id: int
    challenge_id: str
    product_id: str
    rules_version: str
    stage: str
    status: str
    fail_reason: str
    start_balance: int
    balance: int
    equity: int
    peak_equity: int
    day_open_equity: int
    profit_target: int
    profit_current: int
    max_daily_drawdown: int
    current_daily_drawdown: int
    max_total_drawdown: int
    current_total_drawdown: int
    daily_floor: int
    total_floor: int
    room_daily: int
    room_total: int
    trading_days: int
    min_trading_days: int
    max_days: int | None
    max_leverage: int
    started_at: int
    day_rollover_utc: str
    next_rollover_at: int
    best_day_profit: int
    high_water: int
    open_positions: int
    paid_total: int
    payout_available: int
    warnings: tuple[tuple[str, int], ...] = ()  # (DAILY_DRAWDOWN | TOTAL_DRAWDOWN, level %) reached, active
    evaluation_paused: bool = False  # a held symbol's feed is stale: no breach is evaluated on stale prices
    pass_missing: tuple[str, ...] = ()  # gates still open (profitTarget, noOpenPositions, minTradingDays…)
    breach: Breach | None = None
    previous_account: int = 0
    next_account: int = 0
    ended_at: int = 0


@dataclass(slots=True)
class Payout:
    payout_id: str
    account_id: int
    challenge_id: str
    amount: int
    currency: str = "USDT"
    status: PayoutStatus = PayoutStatus.REQUESTED
    requested_at: int = 0
    decided_at: int = 0
    tx_ref: str = ""
    fail_reason: str = ""
    debited: int = 0  # gross profit removed from the balance (debit mode)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """``POST /fapi/v1/challenge/check``: would this order break a rule? Amounts USDT raw, quantities qty raw."""

    decision: str  # allow | reduce | block
    reason: str
    requested_qty: int
    max_safe_qty: int
    fill_price: int  # estimated average fill price (price raw)
    proposed_risk: int  # loss if the order fills and (with a stop) is stopped out, fees included
    room_daily: int
    room_total: int
    room_daily_after: int
    room_total_after: int
    equity: int
    is_challenge: bool = True
