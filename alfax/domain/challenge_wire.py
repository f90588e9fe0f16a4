"""Wire shapes of challenges, shared by the REST edge and the user-data stream (both must agree byte for byte).

``status_json`` is the official SDK's ChallengeStatus (every amount a string, UUIDs canonical, ints as ints)
plus alfax extensions; ``update_json`` is the ``challengeUpdate`` user-stream event: Binance envelope
(``e``, ``E``, ``T``) plus every ChallengeStatus field at the top level, so ``ChallengeStatus.model_validate``
parses it unchanged. ``lifecycle_json`` and ``payout_state_json`` are PascalCase, as the SDK expects (§D3.2).
"""

from __future__ import annotations

from collections.abc import Mapping

from .challenge_state import Breach, ChallengeView, Payout
from .instruments import Instrument
from .money import AMOUNT_DECIMALS, format_fixed, format_trimmed


def usdt(raw: int) -> str:
    """USDT amounts in challenge payloads: 8 dp, like every other USDT amount on this API."""
    return format_fixed(raw, AMOUNT_DECIMALS)


def breach_json(b: Breach | None, instruments: Mapping[str, Instrument]) -> dict | None:
    """The evidence of a failure; marks at each symbol's price precision."""
    if b is None:
        return None
    return {"rule": b.rule, "time": b.time, "equity": usdt(b.equity), "balance": usdt(b.balance),
            "floor": usdt(b.floor), "marks": {s: format_fixed(m, instruments[s].price_precision) for s, m in b.marks},
            "detail": b.detail}


def status_json(v: ChallengeView, instruments: Mapping[str, Instrument]) -> dict:
    out = {
        # the official SDK's ChallengeStatus
        "challengeId": v.challenge_id, "stage": v.stage, "status": v.status,
        "startBalance": usdt(v.start_balance), "currentEquity": usdt(v.equity), "peakEquity": usdt(v.peak_equity),
        "dayOpenEquity": usdt(v.day_open_equity), "profitTarget": usdt(v.profit_target),
        "profitCurrent": usdt(v.profit_current), "maxDailyDrawdown": usdt(v.max_daily_drawdown),
        "currentDailyDrawdown": usdt(v.current_daily_drawdown), "maxTotalDrawdown": usdt(v.max_total_drawdown),
        "currentTotalDrawdown": usdt(v.current_total_drawdown), "tradingDays": v.trading_days,
        "minTradingDays": v.min_trading_days, "maxLeverage": v.max_leverage, "startedAt": v.started_at,
        "dayRolloverUtc": v.day_rollover_utc,
        # alfax extensions (the SDK's models allow extra fields)
        "failReason": v.fail_reason, "productId": v.product_id, "rulesVersion": v.rules_version,
        "accountId": v.account_id, "walletBalance": usdt(v.balance),
        "dailyFloorEquity": usdt(v.daily_floor), "totalFloorEquity": usdt(v.total_floor),
        "roomDaily": usdt(v.room_daily), "roomTotal": usdt(v.room_total),
        "highWaterMark": usdt(v.high_water), "nextRolloverAt": v.next_rollover_at,
        "bestDayProfit": usdt(v.best_day_profit), "maxDays": v.max_days, "openPositions": v.open_positions,
        "paidTotal": usdt(v.paid_total), "payoutAvailable": usdt(v.payout_available),
        "warnings": [{"rule": r, "usedPct": lv} for r, lv in v.warnings],
        "evaluationPaused": v.evaluation_paused, "passMissing": list(v.pass_missing),
        "breach": breach_json(v.breach, instruments), "previousAccountId": v.previous_account or None,
        "nextAccountId": v.next_account or None, "endedAt": v.ended_at or None,
        "breachRule": "equity <= floor",
    }
    return out


def update_json(reason: str, view: ChallengeView, ts: int, instruments: Mapping[str, Instrument],
                new_warnings: tuple[tuple[str, int], ...] = ()) -> dict:
    out = {"e": "challengeUpdate", "E": ts, "T": ts, "reason": reason}
    out.update(status_json(view, instruments))
    out["newWarnings"] = [{"rule": r, "usedPct": lv} for r, lv in new_warnings]
    return out


def lifecycle_json(view: ChallengeView, instruments: Mapping[str, Instrument]) -> dict:
    return {"ChallengeID": view.challenge_id, "Stage": view.stage, "Status": view.status,
            "FailReason": view.fail_reason,
            # extensions
            "AccountID": view.account_id, "Breach": breach_json(view.breach, instruments)}


def payout_state_json(p: Payout) -> dict:
    return {"PayoutID": p.payout_id, "Status": p.status.value, "TxRef": p.tx_ref, "FailReason": p.fail_reason,
            # extensions
            "ChallengeID": p.challenge_id, "Amount": format_trimmed(p.amount, AMOUNT_DECIMALS),
            "Currency": p.currency, "RequestedAt": p.requested_at, "DecidedAt": p.decided_at or None,
            "Debited": usdt(p.debited)}


__all__ = ["status_json", "update_json", "lifecycle_json", "payout_state_json", "breach_json", "usdt"]
