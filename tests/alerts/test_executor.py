"""The background alert executor against the real components: a real Venue (ManualClock, bundled instruments), the
real journal (Ledger) with its history reader, the real SqliteAlertLog on a tmp_path database, the real planner,
and a runtime-like submit (``venue.handle`` + journal commit, as ``Runtime.submit``). Restarts rebuild the venue
from the journal (``recover``) and open new stores on the same file, as a new process would.

``Env`` is shared with test_intake.py and test_follow.py."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

from alfax.alerts.executor import AlertExecutor
from alfax.alerts.intake import AlertIntake
from alfax.alerts.receipts import alert_update_event
from alfax.domain import commands as C
from alfax.domain.enums import OrderStatus, PositionSide, Side
from alfax.domain.instruments import load_instruments
from alfax.domain.money import parse_fixed
from alfax.engine import ManualClock, Venue
from alfax.ledger import Ledger, LedgerReader, recover
from alfax.ledger.alert_log import SqliteAlertLog

ROOT = Path(__file__).resolve().parents[2]
INSTRUMENTS = load_instruments(json.loads((ROOT / "alfax" / "data" / "instruments.json").read_text()))
PRODUCTS = json.loads((ROOT / "alfax" / "data" / "products.json").read_text())
T0 = 1_763_373_600_000  # 2025-11-17 10:00 UTC (clear of funding times and challenge rollovers)
CID = "6f1c2b9e-8d3a-4c55-9a10-2f7e5b1c0d42"
WAIT = 10.0  # seconds: generous bound for conditions awaited on a loaded CI machine


def px(s: str) -> int:
    return parse_fixed(s, 2)


def qty(s: str) -> int:
    return parse_fixed(s, 3)


def usd(s: str) -> int:
    return parse_fixed(s, 8)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


class Env:
    """One "process": venue + journal + alert log + executor + intake on ``tmp_path/alfax.db``. ``restart()``
    returns the next process on the same file (venue recovered from the journal)."""

    def __init__(self, tmp_path: Path, *, venue: Venue | None = None, clock: ManualClock | None = None,
                 entry_rate_per_s: int = 60, secret_of=None, submit_hook=None) -> None:
        self.tmp_path = tmp_path
        self.db = str(tmp_path / "alfax.db")
        self.clock = clock or ManualClock(T0)
        self.venue = venue or Venue(INSTRUMENTS, self.clock)
        self.ledger = Ledger(self.db)
        self.reader = LedgerReader(self.db)
        self.log = SqliteAlertLog(self.db)
        self.receipts: list[tuple[int, dict]] = []
        self.sleeps: list[float] = []
        self.submitted: list = []
        self.submit_hook = submit_hook  # async (cmd, events) -> None, after the commit (crash simulation)
        self.sleep_gate: asyncio.Event | None = None
        self.executor = AlertExecutor(self.venue, self.submit, self.log, now_ms=self.clock.now_ms,
                                      order_exists=self.order_exists, on_receipt=self._receipt, sleep=self._sleep)
        self.intake = AlertIntake(self.log, self.executor, symbols=self.venue.instruments, now_ms=self.clock.now_ms,
                                  entry_rate_per_s=entry_rate_per_s, on_receipt=self._receipt)

    # -- the runtime's write path and the lead's order lookup
    async def submit(self, cmd):
        events = self.venue.handle(cmd)  # raises VenueError with the state unchanged
        await asyncio.wrap_future(self.ledger.append(self.clock.now_ms(), cmd, events))
        self.submitted.append(cmd)
        if self.submit_hook is not None:
            await self.submit_hook(cmd, events)
        return events

    def order_exists(self, account_id: int, symbol: str, client_order_id: str):
        return (self.venue.open_order(account_id, symbol, client_order_id=client_order_id)
                or self.venue.open_algo(account_id, client_algo_id=client_order_id)
                or self.reader.get_order(account_id, symbol, client_order_id=client_order_id)
                or self.reader.get_algo(account_id, client_algo_id=client_order_id))

    def _receipt(self, account_id: int, receipt: dict) -> None:
        self.receipts.append((account_id, receipt))

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.sleep_gate is not None:
            await asyncio.wait_for(self.sleep_gate.wait(), WAIT)

    # -- setup
    async def setup_market(self, btc: str = "30000.0", eth: str = "2000.00") -> None:
        for sym, price, tick in (("BTCUSDT", btc, "0.1"), ("ETHUSDT", eth, "0.01")):
            bid = px(str(Decimal(price) - Decimal(tick)))
            await self.submit(C.BookUpdate(sym, ((bid, qty("50")),), ((px(price), qty("50")),), 1))
            await self.submit(C.MarkPriceUpdate(sym, px(price), px(price), 0, 0))
            await self.submit(C.TradePrint(sym, px(price), qty("1"), False, 1))

    async def account(self, account_id: int, balance: str = "10000") -> None:
        await self.submit(C.CreateAccount(account_id, f"acct{account_id}"))
        await self.submit(C.Transfer(account_id, usd(balance)))

    async def challenge_account(self, account_id: int) -> None:
        source = json.dumps(next(p for p in PRODUCTS["products"] if p["productId"] == "10k-2step"),
                            sort_keys=True, separators=(",", ":"))
        await self.submit(C.CreateAccount(account_id, "challenger"))
        await self.submit(C.StartChallenge(account_id, CID, source, "STAGE_1"))

    # -- reads
    def position(self, account_id: int, symbol: str = "BTCUSDT") -> Decimal:
        net = sum(p.qty for p in self.venue.positions(account_id, symbol))
        return Decimal(net) / 1000

    async def accept(self, account_id: int, body: str, **kw):
        return await self.intake.accept(account_id, body.encode(), token_id=kw.pop("token_id", "tok"), **kw)

    async def settle(self) -> None:
        await self.executor.drain()
        await asyncio.wrap_future(self.ledger.flush())

    async def close(self) -> None:
        await self.executor.close()
        self.log.close()
        self.ledger.close()
        self.reader.close()

    async def restart(self, **kw) -> "Env":
        """Stop this process as a crash would leave it (workers cancelled, nothing completed), then start the next
        one on the same database: venue rebuilt from the journal, new stores, new executor and intake."""
        await self.close()
        clock = ManualClock(self.clock.ms)
        venue, _, _ = recover(self.db, lambda: Venue(INSTRUMENTS, clock),
                              lambda s: Venue.restore(INSTRUMENTS, clock, s), clock)
        clock.ms = max(clock.ms, self.clock.ms)
        return Env(self.tmp_path, venue=venue, clock=clock, **kw)


async def started(tmp_path: Path, accounts=(1,), **kw) -> Env:
    env = Env(tmp_path, **kw)
    await env.setup_market()
    for a in accounts:
        await env.account(a)
    return env


def alert_row(env: Env, alert_id: int):
    return env.log.get(alert_id)


async def until(cond, timeout: float = WAIT) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.002)


# ====================================================================== execution


def test_market_entry_executes_with_receipt_on_log_and_callback(tmp_path):
    async def go():
        env = await started(tmp_path)
        r = await env.accept(1, "buy 0.002 BTCUSDT id=first")
        assert r.http_status == 202 and r.body["status"] == "received"
        await env.settle()
        assert env.position(1) == Decimal("0.002")
        row = alert_row(env, r.alert_id)
        assert row.status == "executed"
        (acct, receipt), = env.receipts
        assert acct == 1 and receipt["alertId"] == r.alert_id and receipt["status"] == "executed"
        assert receipt["source"] == "webhook" and receipt["receivedMs"] == T0 and receipt["finishedMs"] == T0
        (cmd,) = receipt["commands"]
        assert cmd["status"] == "done" and cmd["error"] is None and cmd["text"] == "buy 0.002 BTCUSDT id=first"
        (order,) = cmd["orders"]
        assert order["status"] == "FILLED" and order["side"] == "BUY" and order["symbol"] == "BTCUSDT"
        assert order["executedQty"] == "0.002" and order["avgPrice"] == "30000.00000"  # strings, never floats
        assert order["clientOrderId"].startswith("tv") and order["clientOrderId"].endswith("-entry")
        # the key is done with the command's receipt: a duplicate answers with it
        assert env.log.in_flight() == [] and env.log.key(1, "id:first").result == cmd
        ev = alert_update_event(receipt, 123)
        assert ev["e"] == "alertUpdate" and ev["E"] == ev["T"] == 123 and ev["alertId"] == r.alert_id
        await env.close()

    run(go())


def test_take_profit_and_stop_legs_follow_the_filled_entry(tmp_path):
    async def go():
        env = await started(tmp_path)
        r = await env.accept(1, "buy 0.004 BTCUSDT tp=+2%:50%,+4%:50% sl=-1% id=legs")
        await env.settle()
        (_, receipt), = env.receipts
        assert receipt["status"] == "executed", receipt
        orders = receipt["commands"][0]["orders"]
        assert [o["clientOrderId"].rsplit("-", 1)[1] for o in orders] == ["entry", "tp1", "tp2", "sl1"]
        algos = {a.client_algo_id: a for a in env.venue.open_algo_orders(1, "BTCUSDT")}
        legs = sorted((a.trigger_price, a.quantity, a.side) for a in algos.values())
        # entry filled at 30000.0: TP +2 % = 30600, +4 % = 31200 (half each), SL -1 % = 29700 for all of it
        assert legs == [(px("29700"), qty("0.004"), Side.SELL), (px("30600"), qty("0.002"), Side.SELL),
                        (px("31200"), qty("0.002"), Side.SELL)]
        assert all(a.reduce_only or a.close_position for a in algos.values())
        assert alert_row(env, r.alert_id).status == "executed"
        await env.close()

    run(go())


def test_commands_run_in_order_and_a_failure_skips_the_rest(tmp_path):
    async def go():
        env = await started(tmp_path)
        # the 2nd command cannot be sized (far below the minimum): it fails, the 3rd is skipped, the 1st stands
        r = await env.accept(1, "buy 0.001 BTCUSDT id=o1; buy 0.00001 BTCUSDT id=o2; buy 0.003 BTCUSDT id=o3")
        assert r.http_status == 202
        await env.settle()
        (_, receipt), = env.receipts
        assert receipt["status"] == "failed"
        assert [c["status"] for c in receipt["commands"]] == ["done", "failed", "skipped"]
        assert receipt["commands"][1]["error"]["code"] == "E020"
        assert receipt["errors"][0]["code"] == "E020" and receipt["errors"][0]["command"] == 1
        assert env.position(1) == Decimal("0.001")
        # every key is resolved (a retry is a duplicate, never a re-run)
        assert env.log.in_flight() == []
        assert env.log.key(1, "id:o3").result["status"] == "skipped"
        await env.close()

    run(go())


def test_challenge_rule_violation_fails_the_command_with_the_2010_message(tmp_path):
    async def go():
        env = await started(tmp_path, accounts=())
        await env.challenge_account(7)
        r = await env.accept(7, "buy 0.01 BTCUSDT lev=20 id=toohigh; sell 0 BTCUSDT close id=after")
        assert r.http_status == 202
        await env.settle()
        (_, receipt), = env.receipts
        assert receipt["status"] == "failed"
        first, second = receipt["commands"]
        assert first["status"] == "failed" and second["status"] == "skipped"
        assert first["error"]["code"] == -2010
        assert "maxLeverage" in first["error"]["msg"] and "5x" in first["error"]["msg"]
        assert alert_row(env, r.alert_id).result["commands"][0]["error"]["code"] == -2010  # logged
        assert env.position(7) == 0
        # within the rules it trades
        r2 = await env.accept(7, "buy 0.01 BTCUSDT lev=5 id=ok")
        await env.settle()
        assert alert_row(env, r2.alert_id).status == "executed" and env.position(7) == Decimal("0.01")
        await env.close()

    run(go())


def test_dry_run_submits_nothing(tmp_path):
    async def go():
        env = await started(tmp_path)
        n = len(env.submitted)
        r = await env.accept(1, "buy 0.002 BTCUSDT lev=3 dry id=d")
        await env.settle()
        (_, receipt), = env.receipts
        assert receipt["status"] == "executed" and receipt["commands"][0]["status"] == "dry_run"
        assert any("0.002" in s for s in receipt["commands"][0]["plan"])
        assert len(env.submitted) == n and env.position(1) == 0
        assert alert_row(env, r.alert_id).status == "executed"
        await env.close()

    run(go())


def test_close_and_nothing_to_close_statuses(tmp_path):
    async def go():
        env = await started(tmp_path)
        await env.accept(1, "sell 0 BTCUSDT MARKET close id=c0")  # flat: nothing to close (W101)
        await env.accept(1, "buy 0.003 BTCUSDT id=c1")
        await env.accept(1, "sell 0 BTCUSDT MARKET close id=c2")
        await env.settle()
        statuses = [r["commands"][0]["status"] for _, r in env.receipts]
        assert statuses == ["nothing", "done", "done"]
        assert env.receipts[0][1]["commands"][0]["warnings"][0]["code"] == "W101"
        assert env.position(1) == 0
        await env.close()

    run(go())


def test_order_within_an_account_and_accounts_run_concurrently(tmp_path):
    async def go():
        env = await started(tmp_path, accounts=(1, 2))
        env.sleep_gate = asyncio.Event()
        a1 = await env.accept(1, "buy 0.001 BTCUSDT delay=5s id=a1")  # waits on the gate
        a2 = await env.accept(1, "buy 0.002 BTCUSDT id=a2")  # must wait behind a1 (same account)
        b1 = await env.accept(2, "buy 0.005 BTCUSDT id=b1")  # another account: not blocked
        await until(lambda: alert_row(env, b1.alert_id).status == "executed")
        assert env.position(2) == Decimal("0.005")
        assert alert_row(env, a1.alert_id).status == "executing" and alert_row(env, a2.alert_id).status == "received"
        assert env.position(1) == 0 and env.sleeps == [5.0]
        env.sleep_gate.set()
        await env.settle()
        orders = [c for c in env.submitted if isinstance(c, C.PlaceOrder) and c.account_id == 1]
        assert [o.quantity for o in orders] == [qty("0.001"), qty("0.002")]  # a1 before a2
        assert env.position(1) == Decimal("0.003")
        await env.close()

    run(go())


def test_worker_survives_an_unexpected_exception(tmp_path):
    async def go():
        boom = {"on": True}

        async def hook(cmd, events):
            if boom["on"] and isinstance(cmd, C.PlaceOrder):
                boom["on"] = False
                raise RuntimeError("disk on fire")

        env = await started(tmp_path, submit_hook=hook)
        r1 = await env.accept(1, "buy 0.001 BTCUSDT id=x1; buy 0.001 BTCUSDT id=x2")
        r2 = await env.accept(1, "buy 0.002 BTCUSDT id=x3")
        await env.settle()
        row1, row2 = alert_row(env, r1.alert_id), alert_row(env, r2.alert_id)
        assert row1.status == "failed" and row2.status == "executed"
        c1, c2 = row1.result["commands"]
        assert c1["status"] == "failed" and c2["status"] == "skipped"
        assert c1["error"]["code"] == -1000 and "disk on fire" in c1["error"]["msg"]
        assert env.log.in_flight() == []  # keys resolved: a retry answers duplicate with this receipt
        await env.close()

    run(go())


# ====================================================================== exactly once across restarts


def test_restart_between_receipt_and_execution_resumes_once(tmp_path):
    async def go():
        env = await started(tmp_path)
        env.sleep_gate = asyncio.Event()  # never set: the process "dies" before executing
        r = await env.accept(1, "buy 0.002 BTCUSDT delay=1s id=r1 secret=s3cr3t",
                             secret="s3cr3t")
        r2 = await env.accept(1, "buy 0.001 BTCUSDT id=r2")
        await until(lambda: env.sleeps == [1.0])
        assert r.http_status == 202 and env.position(1) == 0
        env2 = await env.restart()
        assert [p.alert_id for p in env2.log.pending()] == [r.alert_id, r2.alert_id]
        assert await env2.executor.resume() == 2
        assert await env2.executor.resume() == 0  # already queued: never twice
        await env2.settle()
        assert env2.position(1) == Decimal("0.003")
        assert env2.log.get(r.alert_id).status == "executed" and env2.log.get(r2.alert_id).status == "executed"
        assert [rc["alertId"] for _, rc in env2.receipts] == [r.alert_id, r2.alert_id]
        assert "s3cr3t" not in env2.log.get(r.alert_id).body  # re-parsed from the redacted body
        # a third process finds nothing to do
        env3 = await env2.restart()
        assert await env3.executor.resume() == 0 and env3.position(1) == Decimal("0.003")
        await env3.close()

    run(go())


def test_crash_after_the_order_was_placed_but_before_complete_never_repeats_it(tmp_path):
    async def go():
        stuck = asyncio.Event()

        async def hang_after_entry(cmd, events):
            if isinstance(cmd, C.PlaceOrder) and cmd.client_order_id.endswith("-entry"):
                stuck.set()
                await asyncio.Event().wait()  # the process dies here: order committed, key still in flight

        env = await started(tmp_path, submit_hook=hang_after_entry)
        r = await env.accept(1, "buy 0.003 BTCUSDT tp=+2% id=crash; buy 0.01 ETHUSDT id=after")
        await asyncio.wait_for(stuck.wait(), WAIT)
        assert env.position(1) == Decimal("0.003")
        assert sorted(k.idem_key for k in env.log.in_flight()) == ["id:after", "id:crash"]
        env2 = await env.restart()
        assert env2.position(1) == Decimal("0.003")  # the recovered venue has the fill
        assert await env2.executor.resume() == 1
        await env2.settle()
        assert env2.position(1) == Decimal("0.003")  # NOT 0.006: the entry was found by its client id
        assert env2.position(1, "ETHUSDT") == Decimal("0.01")
        placed = [c for c in env2.submitted if isinstance(c, C.PlaceOrder)]
        assert [c.client_order_id.rsplit("-", 1)[1] for c in placed] == ["tp1", "entry"]  # TP leg + ETH entry
        (_, receipt), = env2.receipts
        assert receipt["status"] == "executed"
        entry = receipt["commands"][0]["orders"][0]
        assert entry["clientOrderId"].endswith("-entry") and entry["executedQty"] == "0.003"
        (tp,) = env2.venue.open_algo_orders(1, "BTCUSDT")
        assert tp.trigger_price == px("30600") and tp.quantity == qty("0.003")
        assert env2.log.in_flight() == [] and env2.log.get(r.alert_id).status == "executed"
        await env2.close()

    run(go())


def _hang_on_eth():
    stuck = asyncio.Event()

    async def hook(cmd, events):
        if isinstance(cmd, C.PlaceOrder) and cmd.symbol == "ETHUSDT":
            stuck.set()
            await asyncio.Event().wait()  # the process dies here

    return stuck, hook


def test_recorded_progress_protects_a_nodedup_command_on_resume(tmp_path):
    async def go():
        stuck, hook = _hang_on_eth()
        env = await started(tmp_path, submit_hook=hook)
        r = await env.accept(1, "buy 0.002 BTCUSDT nodedup; buy 0.01 ETHUSDT id=e2")
        await asyncio.wait_for(stuck.wait(), WAIT)
        env2 = await env.restart()
        await env2.executor.resume()
        await env2.settle()
        # the nodedup BTC command has no key: the progress recorded on the alert keeps it from running again
        assert env2.position(1) == Decimal("0.002") and env2.position(1, "ETHUSDT") == Decimal("0.01")
        assert env2.log.get(r.alert_id).status == "executed"
        assert [c for c in env2.submitted if isinstance(c, C.PlaceOrder)] == []  # the ETH entry existed
        await env2.close()

    run(go())


def test_done_keys_are_skipped_on_resume(tmp_path):
    async def go():
        stuck, hook = _hang_on_eth()
        env = await started(tmp_path, submit_hook=hook)
        r = await env.accept(1, "buy 0.002 BTCUSDT id=k1; buy 0.01 ETHUSDT id=k2")
        intake_result = env.log.get(r.alert_id).result
        await asyncio.wait_for(stuck.wait(), WAIT)
        assert env.log.key(1, "id:k1").state == "done" and env.log.key(1, "id:k2").state == "in_flight"
        env2 = await env.restart()
        # as if the process died between complete(k1) and the progress write: only the key says k1 ran
        env2.log.set_status(r.alert_id, "executing", intake_result, T0)
        assert await env2.executor.resume() == 1
        await env2.settle()
        assert env2.position(1) == Decimal("0.002") and env2.position(1, "ETHUSDT") == Decimal("0.01")
        assert [c for c in env2.submitted if isinstance(c, C.PlaceOrder)] == []
        (_, receipt), = env2.receipts
        assert [c["status"] for c in receipt["commands"]] == ["done", "done"]
        assert receipt["commands"][0]["orders"][0]["executedQty"] == "0.002"  # the stored entry of k1
        await env2.close()

    run(go())


def test_resting_limit_entry_gets_its_legs_against_the_limit_price(tmp_path):
    async def go():
        env = await started(tmp_path)
        await env.accept(1, "buy 0.002 BTCUSDT LIMIT 29000 sl=-1% id=lim")
        await env.settle()
        (_, receipt), = env.receipts
        assert receipt["status"] == "executed", receipt
        (o,) = env.venue.open_orders(1, "BTCUSDT")
        assert o.status is OrderStatus.NEW and o.price == px("29000") and o.position_side is PositionSide.BOTH
        algos = env.venue.open_algo_orders(1, "BTCUSDT")
        assert [(a.trigger_price, a.quantity) for a in algos] == [(px("28710"), qty("0.002"))]
        await env.close()

    run(go())
