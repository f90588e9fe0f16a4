"""Prop-challenge rule arithmetic (shared/reference/challenge-rules.md §B), pure and stdlib only.

Groundwork for issue 4: the evaluator, the pre-trade check and the API will call these; nothing here knows about
accounts, events or time sources. Amounts are USDT raw ints at 8 dp (``money.AMOUNT_DECIMALS``); fractions of
the stage's start balance are raw ints at 8 dp (``money.RATE_DECIMALS``: 0.05 -> 5_000_000).

Notation (§B1): S = stage start balance, B = wallet balance (realized PnL, fees, funding, debited payouts),
E = equity = B + unrealized PnL on mark prices (Binance's totalMarginBalance).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .money import AMOUNT_SCALE, RATE_SCALE

DAY_MS = 86_400_000
CENT = AMOUNT_SCALE // 100  # payouts are quantized to 0.01 USDT, rounded down
WARNING_LEVELS = (50, 80, 95)  # percent of a loss limit used


class DailyMode(str, Enum):
    FIXED = "fixed"  # floor set at rollover, constant through the day (default)
    TRAILING_INTRADAY = "trailing_intraday"  # opt-in: the anchor follows the day's equity high


class TotalMode(str, Enum):
    STATIC = "static"  # floor = S - L_tot (default)
    TRAILING_EOD = "trailing_eod"  # opt-in: follows the end-of-day high-water mark, locked at S


class FailReason(str, Enum):
    DAILY_DRAWDOWN = "DAILY_DRAWDOWN"
    TOTAL_DRAWDOWN = "TOTAL_DRAWDOWN"
    MAX_DAYS = "MAX_DAYS"
    INACTIVITY = "INACTIVITY"
    RULE_VIOLATION = "RULE_VIOLATION"


def of_start(start_balance: int, fraction: int) -> int:
    """``fraction`` (rate raw) of the start balance, in USDT raw (exact for the usual whole percentages)."""
    return start_balance * fraction // RATE_SCALE


# ---------------------------------------------------------------------------------------------- day rollover


def rollover_at_or_before(ts_ms: int, rollover_minute: int = 0) -> int:
    """The rollover instant R_d of the challenge day containing ``ts_ms`` (rollover at HH:MM UTC = minute of the
    day). Events with ts < R_d belong to the previous day; an event stamped exactly R_d to the new one (§B2)."""
    offset = rollover_minute * 60_000
    return (ts_ms - offset) // DAY_MS * DAY_MS + offset


def next_rollover(ts_ms: int, rollover_minute: int = 0) -> int:
    return rollover_at_or_before(ts_ms, rollover_minute) + DAY_MS


# ---------------------------------------------------------------------------------------------- floors (§B3, §B4)


def day_anchor(balance: int, equity: int) -> int:
    """dayOpenEquity: the higher of balance and equity at rollover — neither floating profit held across the
    rollover nor a carried floating loss changes the day's room."""
    return max(balance, equity)


def daily_floor(anchor: int, start_balance: int, daily_fraction: int) -> int:
    """Fixed within the day: anchor − dailyPct × S (the dollar room is the same every day)."""
    return anchor - of_start(start_balance, daily_fraction)


def total_floor(start_balance: int, total_fraction: int, mode: TotalMode = TotalMode.STATIC,
                high_water: int | None = None) -> int:
    """Static: S − L_tot. End-of-day trailing: HWM − L_tot, never above S (locks once it reaches S). The HWM
    starts at S and only rises at rollovers, except that a payout lowers it by the debited amount (§B4), so after
    a payout the floor follows it down (as Breakout, Equity Edge and propfirm-calc do)."""
    loss = of_start(start_balance, total_fraction)
    if mode is TotalMode.STATIC or high_water is None:
        return start_balance - loss
    return min(high_water - loss, start_balance)


def breach(equity: int, day_floor: int, tot_floor: int) -> FailReason | None:
    """Touching a floor counts (E <= floor). When both are touched, the higher floor is the one equity met first
    on the way down; a tie is reported as the daily limit."""
    if equity > day_floor and equity > tot_floor:
        return None
    if equity <= day_floor and day_floor >= tot_floor:
        return FailReason.DAILY_DRAWDOWN
    return FailReason.TOTAL_DRAWDOWN


def room(equity: int, day_floor: int, tot_floor: int) -> int:
    """USDT equity can still lose before the nearer floor is touched (0 when already breached)."""
    return max(0, equity - max(day_floor, tot_floor))


def warnings_crossed(used: int, limit: int, already: frozenset[int] = frozenset()) -> list[int]:
    """Warning levels (50/80/95 % of a loss limit) reached by ``used`` and not yet announced."""
    if limit <= 0:
        return []
    return [lv for lv in WARNING_LEVELS if lv not in already and used * 100 >= limit * lv]


# ---------------------------------------------------------------------------------------------- passing (§B5, §B6)


def counts_as_trading_day(opens_or_increases: bool, notional: int, min_notional: int) -> bool:
    """A fill makes its day a trading day only if it opens or adds exposure, above the anti-gaming notional."""
    return opens_or_increases and notional >= min_notional


@dataclass(frozen=True, slots=True)
class PassCheck:
    target_met: bool
    flat: bool
    days_met: bool
    consistency_met: bool

    @property
    def passed(self) -> bool:
        return self.target_met and self.flat and self.days_met and self.consistency_met

    def missing(self) -> list[str]:
        names = (("profitTarget", self.target_met), ("noOpenPositions", self.flat),
                 ("minTradingDays", self.days_met), ("consistency", self.consistency_met))
        return [n for n, ok in names if not ok]


def best_day_share_ok(best_day_profit: int, total_profit: int, best_day_fraction: int | None) -> bool:
    """Consistency (optional, non-failing): the best positive day is at most ``best_day_fraction`` of the
    total profit. Disabled (None) always passes; no profit yet never does."""
    if best_day_fraction is None:
        return True
    if total_profit <= 0:
        return False
    return best_day_profit * RATE_SCALE <= best_day_fraction * total_profit


def pass_check(balance: int, start_balance: int, target_fraction: int, open_positions: int, trading_days: int,
               min_trading_days: int, best_day_profit: int = 0, best_day_fraction: int | None = None) -> PassCheck:
    """Realized profit net of fees (B − S) against the target, with no open position (never on an unrealized
    spike), enough trading days, and the consistency gate when the product has one."""
    profit = balance - start_balance
    return PassCheck(target_met=profit >= of_start(start_balance, target_fraction), flat=open_positions == 0,
                     days_met=trading_days >= min_trading_days,
                     consistency_met=best_day_share_ok(best_day_profit, profit, best_day_fraction))


# ---------------------------------------------------------------------------------------------- payouts (§B8)


def payout_cap(equity: int, start_balance: int, split_bps: int, already_paid: int) -> int:
    """max(0, max(0, E − S) × split − alreadyPaid), rounded down to 0.01 USDT (the SDK's formula, clamped)."""
    share = max(0, equity - start_balance) * split_bps // 10_000
    return max(0, share - already_paid) // CENT * CENT


def payout_debit(amount: int, split_bps: int) -> int:
    """Debit mode: paying ``amount`` to the trader removes the gross profit behind it (trader + firm share)
    from the balance, rounded up so the firm never pays out more than was removed."""
    return -(-amount * 10_000 // split_bps)
