"""Notification texts (seed 003's ``content: {"en", "zh"}``) for alerts and followed signals.

TradingView never shows a webhook's answer, so a rejected or failed alert must reach the user some other way:
a notification names the alert, what happened and — for a failure — the first reason, in both languages.
Pure functions: the caller stores the result (``alfax.ledger.notifications``).
"""

from __future__ import annotations

# receipt status -> (notification type, English template, Chinese template)
_ALERT_TEXT = {
    "executed": ("alert_executed", "Alert #{id} executed: {what}.", "警报 #{id} 已执行：{what}。"),
    "failed": ("alert_failed", "Alert #{id} failed: {why}.", "警报 #{id} 执行失败：{why}。"),
    "rejected": ("alert_rejected", "Alert #{id} rejected: {why}.", "警报 #{id} 被拒绝：{why}。"),
    "duplicate": ("alert_duplicate", "Alert #{id} ignored as a duplicate: {why}.", "警报 #{id} 为重复警报，已忽略：{why}。"),
}
_SIGNAL_TEXT = ("signal", "You have trading signal from channel {channel}: {what}.", "你收到来自频道 {channel} 的交易信号：{what}。")


def _first_error(receipt: dict) -> str:
    for err in receipt.get("errors") or ():
        return f"{err.get('code', '')} {err.get('message') or err.get('msg') or ''}".strip()
    for cmd in receipt.get("commands") or ():
        err = cmd.get("error")
        if err:
            return f"{err.get('code', '')} {err.get('message') or err.get('msg') or ''}".strip()
    return receipt.get("status", "")


def _orders(receipt: dict) -> str:
    parts = []
    for cmd in receipt.get("commands") or ():
        orders = cmd.get("orders") or ()
        for o in orders:
            words = (o.get("side"), o.get("executedQty") or o.get("origQty"), o.get("symbol"), o.get("type"),
                     o.get("status"))
            parts.append(" ".join(str(w) for w in words if w))
        if not orders and cmd.get("status"):
            parts.append(f"{str(cmd.get('text', '')).strip()} → {cmd['status']}")
    return "; ".join(parts) or "-"


def alert_notice(receipt: dict) -> tuple[str, dict] | None:
    """(type, {"en", "zh"}) for a finished alert receipt; None for statuses nobody needs to hear about."""
    spec = _ALERT_TEXT.get(receipt.get("status", ""))
    if spec is None:
        return None
    kind, en, zh = spec
    fields = {"id": receipt.get("alertId", "?"), "why": _first_error(receipt), "what": _orders(receipt)}
    return kind, {"en": en.format(**fields), "zh": zh.format(**fields)}


def signal_notice(channel: str, payload: dict) -> tuple[str, dict]:
    what = " ".join(str(payload.get(k, "")) for k in ("action", "side", "quantity", "symbol") if payload.get(k))
    if payload.get("price"):
        what += f" @ {payload['price']}"
    fields = {"channel": channel, "what": what or payload.get("kind", "signal")}
    kind, en, zh = _SIGNAL_TEXT
    return kind, {"en": en.format(**fields), "zh": zh.format(**fields)}
