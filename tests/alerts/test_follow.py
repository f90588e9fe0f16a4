"""Signal following against the real components: a real SignalHub over SqliteSignalLog, SqliteSubscriptions, the
real intake + executor + Venue (test_executor.Env) — a published signal becomes orders on every bound account, through
the same intake as a webhook (same dedupe, same receipts, same log)."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from decimal import Decimal
from types import SimpleNamespace

from alfax.alerts.follow import Follower, signal_commands, signal_key
from alfax.domain.alert_grammar import parse_alert
from alfax.ledger.signal_log import SqliteSignalLog
from alfax.ledger.subscriptions import SqliteSubscriptions
from alfax.signals.hub import SignalHub
from alfax.signals.payloads import validate_submit_signal

from .test_executor import INSTRUMENTS, run, started


def signal(**doc) -> dict:
    payload, errors = validate_submit_signal(doc)
    assert not errors, errors
    return payload


class Following:
    """Env + signal log + hub + subscriptions + follower on the same database file."""

    def __init__(self, env) -> None:
        self.env = env
        self.signals = SqliteSignalLog(env.db)
        self.hub = SignalHub(self.signals, env.clock.now_ms)
        self.subs = SqliteSubscriptions(env.db)
        self.follower = Follower(env.intake, self.subs, read_after=self.signals.read_after, now_ms=env.clock.now_ms,
                                 equity=self.equity)

    def equity(self, account_id: int) -> Decimal:
        return Decimal(self.env.venue.summary(account_id).margin_balance) / 10**8

    async def subscribe(self, account_id: int, channel: str, mode: str, value: str, **kw) -> dict:
        epoch, head = await self.hub.head(channel)  # a new follower starts at the head: no old signals
        return self.subs.add(account_id, channel, mode, value, epoch=epoch, last_seq=head, **kw)

    async def live(self) -> None:
        self.hub.listeners.append(self.follower.on_published)

    async def settle(self) -> None:
        await self.follower.drain()
        await self.env.settle()

    async def close(self) -> None:
        await self.follower.close()
        await self.env.close()
        self.signals.close()
        self.subs.close()


def test_a_published_signal_becomes_orders_sized_per_mode_then_closes(tmp_path):
    async def go():
        env = await started(tmp_path, accounts=(1, 2, 3, 4, 5))
        f = Following(env)
        await f.hub.publish("alpha", signal(symbol="BTCUSDT", side="buy"))  # before anyone follows: ignored
        await f.subscribe(1, "alpha", "fixed_qty", "0.002")
        await f.subscribe(2, "alpha", "notional", "100", leverage=3)  # 100 USDT at 30,000 -> 0.00333 -> 0.003
        await f.subscribe(3, "alpha", "equity_pct", "10")  # 10 % of 10,000 = 1,000 USDT -> 0.033
        await f.subscribe(4, "beta", "fixed_qty", "0.005")  # another channel
        paused = await f.subscribe(5, "alpha", "fixed_qty", "0.005")
        f.subs.set_enabled(paused["subId"], 5, False)
        await f.live()
        record, _ = await f.hub.publish("alpha", signal(symbol="BTCUSDT", side="buy", price="30000", leverage=10))
        await f.settle()
        assert [env.position(a) for a in (1, 2, 3, 4, 5)] == [Decimal("0.002"), Decimal("0.003"), Decimal("0.033"),
                                                             0, 0]
        # leverage: the follower's own choice wins over the signal's; no choice -> the signal's
        assert env.venue.positions(2, "BTCUSDT")[0].leverage == 3
        assert env.venue.positions(1, "BTCUSDT")[0].leverage == 10
        receipts = {acct: r for acct, r in env.receipts}
        assert set(receipts) == {1, 2, 3}
        assert all(r["source"] == "signal:alpha" and r["status"] == "executed" for r in receipts.values())
        key = signal_key("alpha", record.epoch, record.seq, f.subs.list(account_id=1)[0]["subId"])
        assert receipts[1]["commands"][0]["text"] == f"buy 0.002 BTCUSDT MARKET id={key} lev=10"
        assert f.subs.list(account_id=1)[0]["cursor"] == {"epoch": record.epoch, "seq": record.seq}
        assert f.subs.get(paused["subId"])["cursor"]["seq"] == record.seq - 1  # paused: not fed
        await f.hub.publish("alpha", signal(symbol="BTCUSDT", side="sell", action="close"))
        await f.settle()
        assert [env.position(a) for a in (1, 2, 3)] == [0, 0, 0]
        await f.close()

    run(go())


def test_catch_up_after_restart_executes_missed_signals_exactly_once(tmp_path):
    async def go():
        env = await started(tmp_path, accounts=(1,))
        f = Following(env)
        sub = await f.subscribe(1, "alpha", "fixed_qty", "0.001")
        # the venue is "down" for following: published and logged, nobody listening
        await f.hub.publish("alpha", signal(symbol="BTCUSDT", side="buy"))
        last, _ = await f.hub.publish("alpha", signal(symbol="BTCUSDT", side="buy"))
        assert env.position(1) == 0
        assert await f.follower.catch_up() == 2
        await f.settle()
        assert env.position(1) == Decimal("0.002")
        assert f.subs.get(sub["subId"])["cursor"] == {"epoch": last.epoch, "seq": last.seq}
        await f.follower.close()
        f.signals.close()
        f.subs.close()

        env2 = await env.restart()  # the next process on the same file
        f2 = Following(env2)
        assert await f2.follower.catch_up() == 0  # the cursor says everything was fed
        # a crash between feeding a record and moving the cursor: the next catch-up replays the records ...
        with sqlite3.connect(env2.db) as db:
            db.execute("UPDATE signal_subscriptions SET cursor_seq = 0 WHERE sub_id = ?", (sub["subId"],))
        assert await f2.follower.catch_up() == 2
        await f2.settle()
        # ... and the intake answers them as duplicates (same id= per record): nothing trades twice
        assert env2.position(1) == Decimal("0.002")
        assert [r["status"] for _, r in env2.receipts] == ["duplicate", "duplicate"]
        assert f2.subs.get(sub["subId"])["cursor"]["seq"] == last.seq
        await f2.close()

    run(go())


def test_a_live_record_after_a_gap_feeds_the_missed_ones_first(tmp_path):
    async def go():
        env = await started(tmp_path, accounts=(1,))
        f = Following(env)
        sub = await f.subscribe(1, "alpha", "fixed_qty", "0.01")
        missed, _ = await f.hub.publish("alpha", signal(symbol="BTCUSDT", side="buy"))  # nobody listening yet
        await f.live()  # (no catch_up: the next live record must not let the cursor jump over the missed one)
        live, _ = await f.hub.publish("alpha", signal(symbol="ETHUSDT", side="buy"))
        await f.settle()
        assert env.position(1) == Decimal("0.01") and env.position(1, "ETHUSDT") == Decimal("0.01")
        texts = [r["commands"][0]["text"] for _, r in env.receipts]
        assert [t.split()[2] for t in texts] == ["BTCUSDT", "ETHUSDT"]  # in seq order
        assert f.subs.get(sub["subId"])["cursor"]["seq"] == live.seq == missed.seq + 1
        await f.close()

    run(go())


def test_catch_up_racing_live_feeds_each_record_once(tmp_path):
    async def go():
        env = await started(tmp_path, accounts=(1,))
        f = Following(env)
        await f.subscribe(1, "alpha", "fixed_qty", "0.001")
        for _ in range(3):
            await f.hub.publish("alpha", signal(symbol="BTCUSDT", side="buy"))
        await f.live()
        await asyncio.gather(f.follower.catch_up(), f.hub.publish("alpha", signal(symbol="BTCUSDT", side="buy")),
                             f.hub.publish("alpha", signal(symbol="BTCUSDT", side="buy")))
        await f.settle()
        assert env.position(1) == Decimal("0.005")
        assert [r["status"] for _, r in env.receipts] == ["executed"] * 5  # no duplicate was even attempted
        await f.close()

    run(go())


def test_unfit_signals_are_logged_as_rejected_alerts(tmp_path):
    async def go():
        env = await started(tmp_path, accounts=(1, 2))
        f = Following(env)
        await f.subscribe(1, "alpha", "fixed_qty", "0.010", max_notional="150")
        await f.subscribe(2, "alpha", "notional", "100")
        await f.live()
        await f.hub.publish("alpha", signal(symbol="DOGEUSDT", side="buy", price="0.2"))  # not on this venue
        await f.hub.publish("alpha", signal(symbol="BTCUSDT", side="buy"))  # no price: the cap cannot be checked
        await f.hub.publish("alpha", signal(symbol="BTCUSDT", side="buy", price="30000"))  # 300 > 150: capped
        await f.settle()
        by_acct = {1: [], 2: []}
        for acct, r in env.receipts:
            by_acct[acct].append(r)
        doge, no_price, capped = by_acct[1]
        assert doge["status"] == "rejected" and doge["errors"][0]["code"] == "E007"
        assert "DOGEUSDT" in doge["errors"][0]["message"]
        assert no_price["status"] == "rejected" and no_price["errors"][0]["code"] == "E020"
        assert "no price" in no_price["errors"][0]["message"]
        assert env.log.get(no_price["alertId"]).status == "rejected"  # in the alert log, not dropped
        assert capped["status"] == "executed" and "150$" in capped["commands"][0]["text"]
        assert env.position(1) == Decimal("0.005")  # 150 USDT at 30,000
        assert [r["status"] for r in by_acct[2]] == ["rejected", "executed", "executed"]
        assert env.position(2) == Decimal("0.006")
        await f.close()

    run(go())


def test_signal_text_per_mode_and_shape():
    rec = SimpleNamespace(channel="alpha", epoch="e1", seq=9, payload={})
    sub = {"subId": 4, "accountId": 1, "mode": "equity_pct", "value": "2.5", "maxNotional": None, "leverage": None}
    rec.payload = {"symbol": "ETHUSDT", "side": "sell", "action": "open", "leverage": 7, "validate_only": True}
    text, why = signal_commands(sub, rec)
    key = signal_key("alpha", "e1", 9, 4)
    assert why is None and text == f"sell 2.5% ETHUSDT MARKET id={key} lev=7 dry"
    assert re.fullmatch(r"[A-Za-z0-9._:/-]{1,32}", key) and key != signal_key("alpha", "e1", 9, 5)
    # AlphaHub-shaped record: closes first, one id per signal
    rec.payload = {"open": [{"symbol": "BTCUSDT", "side": "buy"}], "close": [{"symbol": "ETHUSDT", "side": "sell"}]}
    text, why = signal_commands({**sub, "mode": "notional", "value": "50"}, rec)
    assert why is None
    assert text == f"sell 0 ETHUSDT MARKET close id={key[:25]}-0 ; buy 50$ BTCUSDT MARKET id={key[:25]}-1"
    parsed = parse_alert(text, now_ms=0, symbols=INSTRUMENTS)
    assert parsed.ok and [c.id for c in parsed.commands] == [f"{key[:25]}-0", f"{key[:25]}-1"]
    rec.payload = {"symbol": "BTCUSDT", "side": "hold"}
    text, why = signal_commands(sub, rec)
    assert why is not None and why.code == "E003" and "hold" in why.message and "BTCUSDT" in text
    rec.payload = {"symbol": "BTC USDT; buy 100 ETHUSDT", "side": "buy"}  # never spliced into the grammar
    _, why = signal_commands(sub, rec)
    assert why is not None and why.code == "E007"
