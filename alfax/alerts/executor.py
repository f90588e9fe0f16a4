"""The background executor of accepted alerts (issue 5; signals.md §1.6–§1.7): in order per account, exactly once
across retries and restarts.

    executor = AlertExecutor(venue, runtime.submit, alert_log, now_ms=…, order_exists=…, on_receipt=…)
    await executor.resume()          # at start: alerts received/executing before a crash run now (oldest first)
    executor.enqueue(alert_id, parsed, account_id=…)     # from the intake, after the 202's commit

Each account has one FIFO worker task (its alerts run strictly in arrival order; accounts run concurrently). Per
alert: status executing → per command, in order: ``delay=`` → plan (``plan_command``) → submit the steps → for a
filled (or resting) entry with TP/SL/trail, plan and submit the legs (``plan_legs``) → ``complete`` the command's
key with its receipt entry. The first failing command (a ``VenueError`` such as a challenge rule's -2010, or a
planning error such as E020) fails the alert; the rest are skipped. The receipt goes to the log and to
``on_receipt`` (user-data stream, notifications).

Exactly once: every order step carries a client order id derived from the command's idempotency key (for a
content-only key, which the same text may claim again after its window, mixed with the alert id), and when an
alert is resumed (found "executing": an earlier run started it) a step whose client id already exists
(``order_exists``: open or in history) is not submitted again. So a crash after an order was placed but before its
key was completed resumes without repeating it; keys already done are skipped with their stored receipt entry. A
fresh alert needs no lookup: nothing of it can exist before it turned "executing". (A ``nodedup`` command has no
key and no client id: only the progress recorded on the alert row protects it.)

The worker never dies of an unexpected exception: it is logged and the alert is marked failed with a clear message.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from decimal import Decimal
from typing import Any, Awaitable, Callable, Protocol

from alfax.domain.alert_grammar import parse_alert
from alfax.domain.alert_lexing import redact
from alfax.domain.alert_model import AlertCommand, IdempotencyKey, ParsedAlert, derived_idempotency_key
from alfax.domain.errors import VenueError
from alfax.domain.money import format_fixed
from alfax.domain.wire import avg_price

from .plan import Plan, Step, plan_command, plan_legs
from .receipts import (DONE, DRY_RUN, DUPLICATE, FAILED, IN_SYNC, NOTHING, PENDING, SKIPPED, command_entry,
                       order_entry, receipt_of)

log = logging.getLogger("alfax.alerts")

EXECUTING, EXECUTED, ALERT_FAILED = "executing", "executed", "failed"
UNFINISHED = frozenset({"received", "executing"})
_OUTCOME_STATUS = {"in_sync": IN_SYNC, "nothing": NOTHING, "dry_run": DRY_RUN, "orders": DONE}
INTERNAL_ERROR = -1000  # Binance's UNKNOWN: "An unknown error occured while processing the request."


class AlertStore(Protocol):
    """What the executor needs of ``alfax.ledger.alert_log.SqliteAlertLog`` (reads run in a worker thread; they
    are needed only to resume an alert after a restart)."""

    def get(self, alert_id: int) -> Any: ...
    def pending(self, account_id: int | None = None) -> list: ...
    def set_status(self, alert_id: int, status: str, result: dict | None, now_ms: int) -> Any: ...
    def key(self, account_id: int, idem_key: str) -> Any: ...
    # group-committed writes (resolve after the COMMIT), shared with the intake's commits
    def set_status_async(self, alert_id: int, status: str, result: dict | None, now_ms: int) -> Awaitable[Any]: ...
    def complete_async(self, account_id: int, idem_key: str, result: dict, now_ms: int) -> Awaitable[Any]: ...


Submit = Callable[[Any], Awaitable[list]]
# (account_id, symbol, client_order_id) -> the order (or True) when it is open or in history, else None/False.
# May be async. Returning the Order/AlgoOrder lets a resumed alert report it and place the entry's TP/SL legs.
OrderExists = Callable[[int, str, str], Any]


class AlertExecutor:
    def __init__(self, venue: Any, submit: Submit, store: AlertStore, *, now_ms: Callable[[], int],
                 order_exists: OrderExists, on_receipt: Callable[[int, dict], Any] | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep, max_leverage: int = 125) -> None:
        self.venue = venue
        self.submit = submit
        self.store = store
        self.now_ms = now_ms
        self.order_exists = order_exists
        self.on_receipt = on_receipt
        self.sleep = sleep
        self.max_leverage = max_leverage
        self._queues: dict[int, deque[tuple[int, ParsedAlert | None, Any]]] = {}
        self._workers: dict[int, asyncio.Task] = {}
        self._known: set[int] = set()  # alert ids queued or running: resume() never runs one twice
        # awaited before each alert runs (the intake's wait_idle: 202s before execution); None = run at once
        self.gate: Callable[[], Awaitable[Any]] | None = None

    # ------------------------------------------------------------------ scheduling

    def enqueue(self, alert_id: int, parsed: ParsedAlert | None = None, *, account_id: int | None = None,
                row: Any = None) -> bool:
        """Queue an accepted alert behind the account's earlier ones. ``parsed`` None: re-parsed from the log.
        ``row``: the alert row as just committed (the intake passes it: no read needed). False when it is already
        queued or running."""
        if alert_id in self._known:
            return False
        if account_id is None:  # rare (callers know the account); a short indexed read
            found = row if row is not None else self.store.get(alert_id)
            if found is None:
                return False
            account_id = found.account_id
        self._known.add(alert_id)
        self._queues.setdefault(account_id, deque()).append((alert_id, parsed, row))
        if account_id not in self._workers:
            self._workers[account_id] = asyncio.get_running_loop().create_task(
                self._work(account_id), name=f"alfax-alerts-{account_id}")
        return True

    async def resume(self) -> int:
        """After a restart: queue every alert left received or executing (oldest first, so per-account order is
        kept). Call before the intake accepts new alerts. Returns how many were queued."""
        rows = await asyncio.to_thread(self.store.pending)
        return sum(1 for r in rows if self.enqueue(r.alert_id, None, account_id=r.account_id))

    async def drain(self) -> None:
        """Wait until every queued alert has finished."""
        while self._workers:
            await asyncio.gather(*list(self._workers.values()), return_exceptions=True)

    async def close(self) -> None:
        """Stop the workers; unfinished alerts stay pending in the log and :meth:`resume` picks them up."""
        tasks = list(self._workers.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()
        self._queues.clear()
        self._known.clear()

    @property
    def busy(self) -> int:
        return len(self._known)

    async def _work(self, account_id: int) -> None:
        q = self._queues[account_id]
        try:
            while q:
                alert_id, parsed, row = q.popleft()
                try:
                    if self.gate is not None:
                        await self.gate()
                    await self._execute(alert_id, account_id, parsed, row)
                except asyncio.CancelledError:
                    raise
                except Exception:  # _execute handles its own failures; this is the last line of defence
                    log.exception("alert %s: executor failure", alert_id)
                finally:
                    self._known.discard(alert_id)
        finally:
            self._workers.pop(account_id, None)
            if not q:
                self._queues.pop(account_id, None)

    # ------------------------------------------------------------------ one alert

    async def _execute(self, alert_id: int, account_id: int, parsed: ParsedAlert | None, row: Any) -> None:
        if row is None or parsed is None:  # resumed (or queued by id): the log is the truth
            row = await asyncio.to_thread(self.store.get, alert_id)
        if row is None or row.status not in UNFINISHED:
            return  # unknown, or finished meanwhile (e.g. queued twice across a resume)
        if parsed is None:  # resumed: the stored (redacted) body, parsed as it was parsed at receipt
            parsed = parse_alert(row.body, now_ms=row.received_ms, symbols=set(self.venue.instruments),
                                 max_leverage=self.max_leverage)
        receipt = receipt_of(row)
        commands: list[dict] = receipt["commands"]
        run = _Run(self, alert_id, account_id, parsed, commands, resumed=row.status == EXECUTING)
        try:
            if not parsed.ok:  # e.g. a symbol delisted between receipt and a resume
                first = parsed.errors[0]
                run.fail_rest({"code": INTERNAL_ERROR, "msg": f"the stored alert no longer parses: {first.code} "
                               f"{first.message}"})
            else:
                await self._save(row, receipt, EXECUTING)
                await run.all_commands(lambda: self._save(row, receipt, EXECUTING))
        except asyncio.CancelledError:
            raise  # shutting down: the alert stays pending and resumes after the restart
        except Exception as e:
            log.exception("alert %s failed unexpectedly", alert_id)
            run.fail_rest({"code": INTERNAL_ERROR,
                           "msg": f"internal error while executing the alert ({type(e).__name__}: {e}); "
                                  "nothing after this point was executed"})
            await run.complete_open_keys()
        failed = any(c["status"] == FAILED for c in commands)
        # an accepted alert had no intake errors: its errors are the failed command's (one list for quick reading)
        receipt["errors"] = [{**c["error"], "command": c["index"]} for c in commands
                             if c["status"] == FAILED and c["error"]]
        receipt["finishedMs"] = self.now_ms()
        receipt["status"] = ALERT_FAILED if failed else EXECUTED
        await self._save(row, receipt, receipt["status"])
        final = receipt
        if self.on_receipt is not None:
            try:
                self.on_receipt(account_id, final)
            except Exception:
                log.exception("on_receipt failed for alert %s", alert_id)

    async def _save(self, row: Any, receipt: dict, status: str) -> None:
        stored = {k: v for k, v in receipt.items() if k not in ("alertId", "accountId", "source", "receivedMs")}
        stored["status"] = status
        await self.store.set_status_async(row.alert_id, status, stored, self.now_ms())

    # ------------------------------------------------------------------ steps

    async def submit_step(self, account_id: int, step: Step, *, lookup: bool = True) -> tuple[list[dict], Any]:
        """Submit one planned step unless (``lookup``) its client order id already exists. Returns (receipt
        orders, the step's own order object or None). A fresh alert skips the lookup: nothing of it can exist
        before its status turned "executing"."""
        coid = step.client_order_id
        symbol = getattr(step.command, "symbol", "")
        if coid and lookup:
            found = self.order_exists(account_id, symbol, coid)
            if inspect.isawaitable(found):
                found = await found
            if found:
                if _is_order(found):
                    return [order_entry(found, self.venue.instruments[found.symbol])], found
                return [{"clientOrderId": coid, "symbol": symbol, "status": "EXISTING"}], None
        events = await self.submit(step.command)
        return self._orders_of(events, account_id, coid)

    def _orders_of(self, events: list, account_id: int, coid: str) -> tuple[list[dict], Any]:
        """The orders a step created or changed (latest snapshot of each): those with the step's client id, or
        every order of the account the step touched when it has none (cancels, nodedup orders)."""
        latest: dict[tuple[str, int], Any] = {}
        for ev in events:
            kind = getattr(ev, "kind", "")
            if kind == "order":
                o, ident = ev.order, ("o", ev.order.order_id)
                if coid and o.client_order_id != coid:
                    continue
            elif kind == "algo":
                o, ident = ev.algo, ("a", ev.algo.algo_id)
                if coid and o.client_algo_id != coid:
                    continue
            else:
                continue
            if o.account_id == account_id:
                latest[ident] = o
        objs = list(latest.values())
        return [order_entry(o, self.venue.instruments[o.symbol]) for o in objs], (objs[0] if objs else None)


def _is_order(obj: Any) -> bool:
    return hasattr(obj, "symbol") and (hasattr(obj, "client_order_id") or hasattr(obj, "client_algo_id"))


def _entry_fill(obj: Any, instrument: Any) -> tuple[Decimal, Decimal] | None:
    """(entry price, entry qty) the TP/SL legs are placed against: the average fill of what executed, else the
    limit (or trigger) price and quantity of an entry still resting. None when there is nothing to protect."""
    qp = instrument.quantity_precision
    if hasattr(obj, "client_algo_id"):
        if obj.actual_qty:
            return Decimal(format_fixed(obj.actual_price, instrument.price_precision)), Decimal(
                format_fixed(obj.actual_qty, qp))
        price = obj.price or obj.trigger_price
        if not price or not obj.quantity:
            return None
        return Decimal(format_fixed(price, instrument.price_precision)), Decimal(format_fixed(obj.quantity, qp))
    if obj.executed_qty > 0:
        return (Decimal(avg_price(instrument, obj.cum_quote, obj.executed_qty)),
                Decimal(format_fixed(obj.executed_qty, qp)))
    if obj.is_open and obj.price:
        return Decimal(format_fixed(obj.price, instrument.price_precision)), Decimal(format_fixed(obj.quantity, qp))
    return None


class _Run:
    """The execution of one alert's commands (state shared by the steps below)."""

    def __init__(self, ex: AlertExecutor, alert_id: int, account_id: int, parsed: ParsedAlert,
                 commands: list[dict], resumed: bool) -> None:
        self.ex, self.alert_id, self.account_id, self.parsed = ex, alert_id, account_id, parsed
        # an alert found "executing" was started by an earlier run: some of its orders may exist already
        self.resumed = resumed
        self.commands = commands
        self.by_index = {c["index"]: c for c in commands}
        # the redacted text of each command, as the intake wrote it into the receipt (no second to_dict)
        self.texts = {c["index"]: c["text"] for c in commands}

    def key_of(self, cmd: AlertCommand) -> IdempotencyKey | None:
        return derived_idempotency_key(self.parsed, cmd.index, account_id=self.account_id)

    def order_key(self, key: IdempotencyKey | None) -> IdempotencyKey | None:
        """The key the client order ids derive from. A content-only key is re-claimed by the same text once its
        window passes (a repeat, not a retry), so its orders get ids of their own (the alert id is mixed in);
        ``id=`` and ``ts=`` keys never expire, so their ids stay the plain derivation (``cancel id=X`` finds them)."""
        if key is None or key.window_ms is None:
            return key
        return IdempotencyKey(key.account_id, f"{key.key}@{self.alert_id}", key.source, key.window_ms)

    def put(self, entry: dict) -> None:
        i = entry["index"]
        if i in self.by_index:
            self.commands[self.commands.index(self.by_index[i])] = entry
        else:
            self.commands.append(entry)
            self.commands.sort(key=lambda c: c["index"])
        self.by_index[i] = entry

    def fail_rest(self, error: dict) -> None:
        """The first unfinished command fails with ``error``; the ones after it are skipped."""
        first = True
        for c in list(self.commands):
            if c["status"] == PENDING:
                self.put({**c, "status": FAILED if first else SKIPPED, "error": error if first else None})
                first = False

    async def complete_open_keys(self) -> None:
        """Best effort after an unexpected failure: every key this alert still holds in flight gets the final
        entry of its command (failed / skipped), so a retry answers as a duplicate with this receipt instead of
        waiting forever on an in-flight key."""
        for cmd in self.parsed.commands:
            key = self.key_of(cmd)
            if key is None:
                continue
            try:
                row = await asyncio.to_thread(self.ex.store.key, self.account_id, key.key)
                if row is not None and row.state == "in_flight" and row.alert_id == self.alert_id:
                    await self.ex.store.complete_async(self.account_id, key.key,
                                                       self.by_index.get(cmd.index) or self.entry(cmd, SKIPPED),
                                                       self.ex.now_ms())
            except Exception:
                log.exception("alert %s: could not complete key %s", self.alert_id, key.key)

    async def all_commands(self, save_progress: Callable[[], Awaitable[Any]]) -> None:
        cmds = sorted(self.parsed.commands, key=lambda c: c.index)
        failed = any(c["status"] == FAILED for c in self.commands)
        for n, cmd in enumerate(cmds):
            prior = self.by_index.get(cmd.index)
            if prior is not None and prior["status"] != PENDING:
                failed = failed or prior["status"] == FAILED
                continue  # finished in an earlier run (recorded progress)
            key = self.key_of(cmd)
            entry = await self.finished_by_key(cmd, key)
            if entry is None:
                entry = (self.entry(cmd, SKIPPED) if failed else await self.one_command(cmd, key))
                if key is not None:
                    await self.ex.store.complete_async(self.account_id, key.key, entry, self.ex.now_ms())
            self.put(entry)
            failed = failed or entry["status"] == FAILED
            if n < len(cmds) - 1:
                await save_progress()  # a nodedup command has only this record of having run

    async def finished_by_key(self, cmd: AlertCommand, key: IdempotencyKey | None) -> dict | None:
        """The command's entry when its key says it already ran (resume after a crash), else None. A fresh alert
        claimed its keys in the same commit that received it: nothing to look up."""
        if key is None or not self.resumed:
            return None
        row = await asyncio.to_thread(self.ex.store.key, self.account_id, key.key)
        if row is None:  # claimed at intake, so only a purge after it was done removes it
            return self.entry(cmd, DONE, warnings=[{"message": "already executed (its dedupe key has expired)"}])
        if row.alert_id != self.alert_id:  # done long ago, then its window expired and another alert took it
            return self.entry(cmd, DUPLICATE)
        if row.state == "done":
            return dict(row.result) if row.result.get("index") == cmd.index else self.entry(cmd, DONE)
        return None  # in flight: run it; steps whose client order id exists are skipped

    def entry(self, cmd: AlertCommand, status: str, **kw: Any) -> dict:
        text = self.texts.get(cmd.index)
        return command_entry(cmd.index, redact(cmd.text) if text is None else text, status, **kw)

    async def one_command(self, cmd: AlertCommand, key: IdempotencyKey | None) -> dict:
        ex = self.ex
        if cmd.delay_ms:
            await ex.sleep(cmd.delay_ms / 1000)
        key = self.order_key(key)
        plan = plan_command(cmd, ex.venue, self.account_id, key, now_ms=ex.now_ms())
        warnings = [_note(w) for w in plan.warnings]
        if plan.error is not None:
            return self.entry(cmd, FAILED, error=_note(plan.error), warnings=warnings)
        status = _OUTCOME_STATUS.get(plan.outcome, DONE)
        if plan.outcome == "dry_run":
            return self.entry(cmd, DRY_RUN, warnings=warnings, plan=[s.description or s.label for s in plan.steps])
        orders: list[dict] = []
        try:
            entry_obj = await self.submit_plan(plan, orders)
            if entry_obj is not None:
                legs = await self.legs(cmd, key, entry_obj, warnings)
                if legs is not None:
                    if legs.error is not None:
                        return self.entry(cmd, FAILED, orders=orders, error=_note(legs.error), warnings=warnings)
                    await self.submit_plan(legs, orders)
            elif getattr(plan, "legs_pending", False):  # resumed, and order_exists said True without the order
                warnings.append({"message": "the entry existed already and its fill is unknown here: TP/SL/trailing "
                                            "legs were not placed"})
        except VenueError as e:
            return self.entry(cmd, FAILED, orders=orders, error=e.as_dict(), warnings=warnings)
        return self.entry(cmd, status, orders=orders, warnings=warnings)

    async def submit_plan(self, plan: Plan, orders: list[dict]) -> Any:
        """Submit the plan's steps in order; returns the entry order object (for the legs) if there is one."""
        entry_obj = None
        place_steps = [s for s in plan.steps if getattr(s.command, "kind", "") == "place_order"]
        entry_step = next((s for s in plan.steps if s.label == "entry"), place_steps[-1] if place_steps else None)
        for step in plan.steps:
            got, obj = await self.ex.submit_step(self.account_id, step, lookup=self.resumed)
            orders.extend(got)
            if step is entry_step:
                entry_obj = obj
        return entry_obj

    async def legs(self, cmd: AlertCommand, key: IdempotencyKey | None, entry_obj: Any,
                   warnings: list[dict]) -> Plan | None:
        if not (cmd.take_profit or cmd.stop_loss or cmd.trail is not None):
            return None
        fill = _entry_fill(entry_obj, self.ex.venue.instruments[entry_obj.symbol])
        if fill is None:
            warnings.append({"message": "the entry neither filled nor rests: no TP/SL/trailing legs placed"})
            return None
        price, qty = fill
        return plan_legs(cmd, self.ex.venue, self.account_id, key, entry_price=price, entry_qty=qty,
                         now_ms=self.ex.now_ms())


def _note(n: Any) -> dict:
    """An AlertError / AlertWarning as a dict (redacted by the parser's own rules)."""
    d = n.to_dict()
    d["message"], d["token"] = redact(d["message"]), redact(d["token"])
    return d


__all__ = ["AlertExecutor"]
