"""The alert receipt: ONE shape for the REST API (``GET /alfax/v1/alert?alertId=<id>``), the user-data stream event
(``alertUpdate``), the notifications and the alert log's ``result`` column.

    {"alertId", "accountId", "source": "webhook" | "signal:<channel>", "status", "receivedMs", "finishedMs",
     "commands": [{"index", "text", "status", "orders": [{"clientOrderId", "orderId", "symbol", "side", "type",
                   "status", "executedQty", "avgPrice"}], "error": {...} | null, "warnings": [...]}],
     "errors": [...]}

Alert ``status``: received → executing → executed | failed, or rejected / duplicate at once. Command ``status``:
pending (not run yet), done, failed, skipped (an earlier command failed, or the alert was refused), in_sync (``pos=``
already there), nothing (nothing to close / cancel), dry_run, duplicate, rejected. Money is always a string at the
instrument's precision (never a float).

The receipt is stored as the alert's ``result`` without the identity fields; :func:`receipt_of` puts them back from
the row, so the row stays the single source of truth.
"""

from __future__ import annotations

from typing import Any, Iterable, Protocol

from alfax.domain.alert_model import ParsedAlert
from alfax.domain.money import format_fixed
from alfax.domain.wire import avg_price

PENDING = "pending"
DONE = "done"
FAILED = "failed"
SKIPPED = "skipped"
IN_SYNC = "in_sync"
NOTHING = "nothing"
DRY_RUN = "dry_run"
DUPLICATE = "duplicate"
REJECTED = "rejected"
COMMAND_STATUSES = frozenset({PENDING, DONE, FAILED, SKIPPED, IN_SYNC, NOTHING, DRY_RUN, DUPLICATE, REJECTED})
FINISHED_ALERT = frozenset({"executed", "failed", "rejected", "duplicate"})


class AlertRowLike(Protocol):
    """What :func:`receipt_of` reads of a stored alert (``alfax.ledger.alert_log.AlertRow``)."""

    alert_id: int
    account_id: int
    token_id: str
    received_ms: int
    status: str
    commands: list
    errors: list
    result: dict
    updated_ms: int


def source_of(token_id: str) -> str:
    """"signal:<channel>" for an alert fed by a followed signal channel, else "webhook"."""
    return token_id if token_id.startswith("signal:") else "webhook"


def command_entry(index: int, text: str, status: str, *, orders: Iterable[dict] = (), error: dict | None = None,
                  warnings: Iterable[dict] = (), **extra: Any) -> dict:
    if status not in COMMAND_STATUSES:
        raise ValueError(f"unknown command status {status!r}")
    out = {"index": index, "text": text, "status": status, "orders": list(orders), "error": error,
           "warnings": list(warnings)}
    out.update(extra)
    return out


def order_entry(order: Any, instrument: Any) -> dict:
    """An engine ``Order`` or ``AlgoOrder`` (duck-typed: a conditional order is reported by its algo id until it
    triggers) as the receipt's order shape."""
    qp = instrument.quantity_precision
    if hasattr(order, "algo_id") and hasattr(order, "client_algo_id"):
        executed = order.actual_qty
        cum_quote = instrument.notional(order.actual_price, executed) if executed else 0
        return {"clientOrderId": order.client_algo_id, "orderId": order.order_id or order.algo_id,
                "algoId": order.algo_id, "symbol": order.symbol, "side": order.side.value,
                "type": order.order_type.value, "status": order.status.value,
                "executedQty": format_fixed(executed, qp), "avgPrice": avg_price(instrument, cum_quote, executed)}
    return {"clientOrderId": order.client_order_id, "orderId": order.order_id, "symbol": order.symbol,
            "side": order.side.value, "type": order.orig_type.value, "status": order.status.value,
            "executedQty": format_fixed(order.executed_qty, qp),
            "avgPrice": avg_price(instrument, order.cum_quote, order.executed_qty)}


def intake_receipt(parsed: ParsedAlert, *, status: str, alert_errors: Iterable[dict] = (),
                   duplicate_of: Iterable[dict] = (), doc: dict | None = None) -> dict:
    """The receipt written with the alert at intake (identity fields come from the row, see :func:`receipt_of`).

    ``status`` "received": every command pending. "rejected": a command with its own error is rejected with it, the
    others are skipped (an alert with any error runs nothing). "duplicate": the commands whose key was seen are
    duplicate (error = the E016), the others skipped."""
    if doc is None:
        doc = parsed.to_dict()  # redacted: no secret reaches the log, the stream or a notification
    # doc: "segments", "errors", "warnings" as ParsedAlert.to_dict() gives them (redacted)
    errors = list(doc["errors"]) + list(alert_errors)
    by_cmd: dict[int, dict] = {}
    for e in errors:
        if e.get("command") is not None:
            by_cmd.setdefault(e["command"], e)
    warnings_by_cmd: dict[int | None, list] = {}
    for w in doc["warnings"]:
        warnings_by_cmd.setdefault(w.get("command"), []).append(w)
    duplicate_of = list(duplicate_of)
    dup_cmds = {d["command"] for d in duplicate_of}
    commands = []
    for i, text in enumerate(doc["segments"]):
        if status == "received":
            st, err = PENDING, None
        elif status == "duplicate":
            st, err = (DUPLICATE, by_cmd.get(i)) if i in dup_cmds else (SKIPPED, None)
        else:
            st, err = (REJECTED, by_cmd[i]) if i in by_cmd else (SKIPPED, None)
        commands.append(command_entry(i, text, st, error=err, warnings=warnings_by_cmd.get(i, ())))
    out = {"status": status, "finishedMs": None if status == "received" else parsed.received_ms,
           "commands": commands, "errors": errors, "warnings": warnings_by_cmd.get(None, [])}
    if duplicate_of:
        out["duplicateOf"] = duplicate_of
    return out


def receipt_of(row: AlertRowLike) -> dict:
    """The full receipt of a stored alert: its stored result plus the identity fields and current status."""
    result = dict(row.result or {})
    commands = result.pop("commands", None)
    if commands is None:  # a row written without a receipt (older rows, or by hand): list its parsed commands
        commands = [command_entry(c.get("index", i), c.get("text") or c.get("canonical", ""), PENDING)
                    for i, c in enumerate(row.commands)]
    errors = result.pop("errors", None)
    finished = result.pop("finishedMs", None)
    if finished is None and row.status in FINISHED_ALERT:
        finished = row.updated_ms
    result.pop("status", None)
    return {"alertId": row.alert_id, "accountId": row.account_id, "source": source_of(row.token_id),
            "status": row.status, "receivedMs": row.received_ms, "finishedMs": finished, "commands": commands,
            "errors": list(row.errors) if errors is None else errors, **result}


def alert_update_event(receipt: dict, now_ms: int) -> dict:
    """The user-data stream payload: ``{"e": "alertUpdate", "E": now, "T": now, ...receipt}``."""
    return {"e": "alertUpdate", "E": int(now_ms), "T": int(now_ms), **receipt}


__all__ = ["COMMAND_STATUSES", "DONE", "DRY_RUN", "DUPLICATE", "FAILED", "IN_SYNC", "NOTHING", "PENDING", "REJECTED",
           "SKIPPED", "alert_update_event", "command_entry", "intake_receipt", "order_entry", "receipt_of",
           "source_of"]
