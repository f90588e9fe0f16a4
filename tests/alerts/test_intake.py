"""The alert intake against the real components (see test_executor.Env): parse → secret → entry rate → persist +
claim keys in one group-committed step → 202 / error answer; every alert is logged, duplicates trade once."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from alfax.alerts.intake import NUMERIC_CODE, AlertIntake
from alfax.alerts.receipts import receipt_of
from alfax.domain.alert_catalogue import AlertCode
from alfax.ledger.alert_log import KeyClaim, ReceiveRequest, SqliteAlertLog

from .test_executor import T0, run, started


def test_accepted_alert_is_committed_before_the_202_and_answers_binance_shaped(tmp_path):
    async def go():
        env = await started(tmp_path)
        r = await env.accept(1, "long 0.002 BINANCE:BTCUSDT.P tp=+2% id=abc", source_ip="52.89.214.238")
        assert r.http_status == 202
        assert r.body == {"code": 0, "msg": "accepted", "alertId": r.alert_id, "status": "received",
                          "commands": ["buy 0.002 BTCUSDT MARKET id=abc tp=+2%"], "warnings": [],
                          "receipt": f"/alfax/v1/alert?alertId={r.alert_id}"}
        # committed when accept returned: another connection (another process) sees it with its key held
        other = SqliteAlertLog(env.db)
        row = other.get(r.alert_id)
        assert row is not None and row.status in ("received", "executing", "executed")
        assert (row.account_id, row.token_id, row.source_ip, row.received_ms) == (1, "tok", "52.89.214.238", T0)
        assert other.key(1, "id:abc") is not None and other.key(1, "id:abc").alert_id == r.alert_id
        other.close()
        await env.settle()
        receipt = receipt_of(env.log.get(r.alert_id))
        assert receipt["status"] == "executed" and receipt["commands"][0]["status"] == "done"
        assert env.position(1) == Decimal("0.002")
        await env.close()

    run(go())


def test_rejected_alert_is_logged_answered_and_reported_at_once(tmp_path):
    async def go():
        env = await started(tmp_path)
        r = await env.accept(1, "buy 0.01 BTCUSDT; byu 0.01 BTCUSDT")
        assert r.http_status == 400
        assert r.body["code"] == NUMERIC_CODE["E003"] == -1117
        assert r.body["msg"] == "expected buy/sell/long/short/close/cancel at col 19, got 'byu' (did you mean 'buy'?)"
        assert r.body["status"] == "rejected" and r.body["alertId"] == r.alert_id
        (err,) = r.body["errors"]
        assert err["code"] == "E003" and err["command"] == 1 and err["col"] == 19 and err["token"] == "byu"
        row = env.log.get(r.alert_id)
        assert row.status == "rejected" and row.errors == r.body["errors"]
        (acct, receipt), = env.receipts  # reported before anything could execute
        assert acct == 1 and receipt["status"] == "rejected" and receipt["finishedMs"] == T0
        assert [c["status"] for c in receipt["commands"]] == ["skipped", "rejected"]
        assert receipt["commands"][1]["error"]["code"] == "E003"
        await env.settle()
        assert env.position(1) == 0 and env.executor.busy == 0
        empty = await env.accept(1, "   ")
        assert empty.http_status == 400 and empty.body["code"] == -1102 and empty.body["errors"][0]["code"] == "E001"
        await env.close()

    run(go())


def test_body_secret_and_source_allow_list(tmp_path):
    async def go():
        env = await started(tmp_path)
        missing = await env.accept(1, "buy 0.001 BTCUSDT id=s1", secret="hunter2")
        wrong = await env.accept(1, "buy 0.001 BTCUSDT id=s2 secret=nope", secret="hunter2")
        for r in (missing, wrong):
            assert r.http_status == 401 and r.body["code"] == -1002 and r.body["msg"] == "invalid secret"
            assert env.log.get(r.alert_id).status == "rejected"
        ok = await env.accept(1, '{"cmd": "buy 0.001 BTCUSDT id=s3", "secret": "hunter2"}', secret="hunter2")
        assert ok.http_status == 202
        assert "hunter2" not in env.log.get(ok.alert_id).body and "nope" not in env.log.get(wrong.alert_id).body
        # a refused key is not claimed: the same id with the right secret still trades
        retry = await env.accept(1, "buy 0.001 BTCUSDT id=s2 secret=hunter2", secret="hunter2")
        assert retry.http_status == 202
        ip = await env.intake.refuse_source(1, b"buy 0.001 BTCUSDT id=s4", token_id="tok", source_ip="6.6.6.6")
        assert ip.http_status == 401 and ip.body["msg"] == "source IP not allowed"
        assert env.log.get(ip.alert_id).source_ip == "6.6.6.6" and env.log.get(ip.alert_id).status == "rejected"
        await env.settle()
        assert env.position(1) == Decimal("0.002")  # s3 and the s2 retry only
        assert [r["status"] for _, r in env.receipts].count("rejected") == 3
        await env.close()

    run(go())


def test_same_body_twice_trades_once_and_points_at_the_original(tmp_path):
    async def go():
        env = await started(tmp_path)
        first = await env.accept(1, "buy 0.002 BTCUSDT id=manual_test")
        await env.settle()
        again = await env.accept(1, "buy 0.002 BTCUSDT id=manual_test")
        other_text = await env.accept(1, "sell 0.5 ETHUSDT LIMIT 2500 id=manual_test")  # same id, other command
        for r in (again, other_text):
            assert r.http_status == 409 and r.body["code"] == -4116 and r.body["status"] == "duplicate"
            assert r.body["msg"].startswith(f"duplicate of alert {first.alert_id} (id=manual_test) received ")
            assert "status executed; ignored" in r.body["msg"]
            (orig,) = r.body["duplicateOf"]
            assert orig == {"command": 0, "alertId": first.alert_id, "status": "executed", "keyState": "done",
                            "receipt": f"/alfax/v1/alert?alertId={first.alert_id}"}
            assert env.log.get(r.alert_id).status == "duplicate"  # logged too
        await env.settle()
        assert env.position(1) == Decimal("0.002") and env.position(1, "ETHUSDT") == 0
        dup_receipts = [rc for _, rc in env.receipts if rc["status"] == "duplicate"]
        assert len(dup_receipts) == 2 and dup_receipts[0]["commands"][0]["status"] == "duplicate"
        await env.close()

    run(go())


def test_content_key_dedupes_inside_its_window_only(tmp_path):
    async def go():
        env = await started(tmp_path)
        a = await env.accept(1, "buy 0.001 BTCUSDT")
        b = await env.accept(1, "buy 0.001 BTCUSDT")  # a retry of the same alert: same content key
        assert (a.http_status, b.http_status) == (202, 409)
        await env.settle()
        env.clock.ms += 10_000  # after the 10 s window the same text is a new alert (a repeat, not a retry)
        c = await env.accept(1, "buy 0.001 BTCUSDT")
        assert c.http_status == 202
        await env.settle()
        assert env.position(1) == Decimal("0.002")
        await env.close()

    run(go())


def test_duplicate_while_the_original_is_still_executing(tmp_path):
    async def go():
        env = await started(tmp_path)
        env.sleep_gate = asyncio.Event()
        first = await env.accept(1, "buy 0.001 BTCUSDT delay=1s id=slow")
        again = await env.accept(1, "buy 0.001 BTCUSDT delay=1s id=slow")
        assert again.http_status == 409 and again.body["duplicateOf"][0]["keyState"] == "in_flight"
        assert again.body["duplicateOf"][0]["alertId"] == first.alert_id
        env.sleep_gate.set()
        await env.settle()
        assert env.position(1) == Decimal("0.001")
        await env.close()

    run(go())


def test_200_concurrent_alerts_group_committed_each_key_once(tmp_path):
    async def go():
        env = await started(tmp_path, accounts=(1, 2, 3, 4), entry_rate_per_s=1000)
        bodies = [(1 + i % 4, f"buy 0.001 BTCUSDT id=c{i}") for i in range(180)]
        bodies += [(2, "buy 0.001 BTCUSDT id=same")] * 20  # TradingView retrying one alert 20 times at once
        got = await asyncio.gather(*(env.accept(a, b) for a, b in bodies))
        statuses = [r.http_status for r in got]
        assert statuses[:180] == [202] * 180
        assert sorted(statuses[180:]) == [202] + [409] * 19
        ids = [r.alert_id for r in got]
        assert len(set(ids)) == 200 and sorted(ids) == list(range(min(ids), min(ids) + 200))
        winner = next(r for r in got[180:] if r.http_status == 202)
        assert all(r.body["duplicateOf"][0]["alertId"] == winner.alert_id for r in got[180:] if r is not winner)
        await env.settle()
        assert [env.position(a) for a in (1, 2, 3, 4)] == [Decimal("0.045"), Decimal("0.046"), Decimal("0.045"),
                                                          Decimal("0.045")]
        assert len(env.log.pending()) == 0 and env.log.in_flight() == []
        await env.close()

    run(go())


def test_receive_many_is_one_transaction_with_in_batch_dedupe(tmp_path):
    log = SqliteAlertLog(tmp_path / "a.db")
    pre = log.receive(1, "t", "old", 1, "", [], [])
    reqs = [ReceiveRequest(1, "t", "a", 10, keys=(KeyClaim(0, "id:x"),)),
            ReceiveRequest(1, "t", "b", 11, keys=(KeyClaim(0, "id:x"),),
                           on_duplicate=lambda aid, d: ([{"code": "E016", "dup": d[0].alert_id}], {"seen": aid})),
            ReceiveRequest(2, "t", "c", 12, keys=(KeyClaim(0, "id:x"), KeyClaim(1, "h:1", 5))),
            ReceiveRequest(1, "t", "d", 13, errors=[{"code": "E003"}], keys=(KeyClaim(0, "id:y"),))]
    out = log.receive_many(reqs)
    ids = [o.row.alert_id for o in out]
    assert ids == [pre.alert_id + 1 + i for i in range(4)]
    assert [o.row.status for o in out] == ["received", "duplicate", "received", "rejected"]
    assert out[1].duplicates[0].alert_id == ids[0] and out[1].duplicates[0].state == "in_flight"
    assert out[1].row.errors == [{"code": "E016", "dup": ids[0]}] and out[1].row.result == {"seen": ids[1]}
    assert log.key(2, "h:1").expires_ms == 17 and log.key(1, "id:y") is None  # rejected alerts claim nothing
    assert log.get(ids[1]) == out[1].row  # what it returned is what it committed
    assert log.receive(1, "t", "next", 20, "", [], []).alert_id == ids[-1] + 1  # AUTOINCREMENT follows
    log.close()


def test_entries_are_rate_limited_exits_never(tmp_path):
    async def go():
        env = await started(tmp_path, entry_rate_per_s=3)
        for i in range(3):
            assert (await env.accept(1, f"buy 0.001 BTCUSDT id=e{i}")).http_status == 202
        limited = await env.accept(1, "buy 0.001 BTCUSDT id=e3")
        assert limited.http_status == 429 and limited.body["code"] == -1015
        assert limited.body["msg"] == "too many alerts for this account (3/s)"
        assert env.log.get(limited.alert_id).status == "rejected"  # logged, not dropped
        for exit_body in ("sell 0.001 BTCUSDT reduceOnly id=x1", "sell 0 BTCUSDT close id=x2",
                          "close 0.001 BTCUSDT id=x3", "cancel * BTCUSDT id=x4"):
            assert (await env.accept(1, exit_body)).http_status == 202, exit_body
        assert (await env.accept(2, "buy 0.001 BTCUSDT id=other")).http_status == 202  # per account
        env.clock.ms += 1000
        assert (await env.accept(1, "buy 0.001 BTCUSDT id=e4")).http_status == 202
        await env.settle()
        await env.close()

    run(go())


def test_store_failure_answers_503_without_accepting(tmp_path):
    async def go():
        env = await started(tmp_path)
        broken = SqliteAlertLog(tmp_path / "other.db")
        broken.close()  # its connection is gone: every commit fails
        intake = AlertIntake(broken, env.executor, symbols=env.venue.instruments, now_ms=env.clock.now_ms)
        r = await intake.accept(1, b"buy 0.001 BTCUSDT id=z", token_id="tok")
        assert r.http_status == 503 and r.body["code"] == -1001 and r.alert_id is None
        assert env.executor.busy == 0
        broken._stop_group_writer()
        await env.close()

    run(go())


def test_catalogue_codes_all_have_a_numeric_code():
    errors = [c.code for c in AlertCode if not c.is_warning]
    assert sorted(NUMERIC_CODE) == sorted(errors)
    assert all(isinstance(v, int) and v < 0 for v in NUMERIC_CODE.values())



def test_group_writer_keeps_the_order_of_mixed_writes(tmp_path):
    async def go():
        log = SqliteAlertLog(tmp_path / "a.db")
        got = await log.receive_async(1, "t", "buy 1 BTCUSDT id=k", 10, "", [], [], keys=[(0, "id:k", None)],
                                      result={"status": "received"})
        aid = got.row.alert_id
        # queued back to back (whatever batches the writer makes of them, the last write per target wins)
        await asyncio.gather(log.set_status_async(aid, "executing", {"n": 1}, 11),
                             log.complete_async(1, "id:k", {"first": True}, 12),
                             log.set_status_async(aid, "executed", {"n": 2}, 13),
                             log.complete_async(1, "id:k", {"first": False}, 14))
        row = log.get(aid)
        assert (row.status, row.result, row.updated_ms) == ("executed", {"n": 2}, 13)
        key = log.key(1, "id:k")
        assert (key.state, key.result, key.done_ms) == ("done", {"first": False}, 14)
        again = await log.receive_async(1, "t", "buy 1 BTCUSDT id=k", 20, "", [], [], keys=[(0, "id:k", None)])
        assert again.row.status == "duplicate" and again.duplicates[0].status == "executed"
        with pytest.raises(ValueError):
            log.set_status_async(aid, "bogus", {}, 1)
        log.close()
        reopened = SqliteAlertLog(tmp_path / "a.db")
        assert reopened.get(aid).status == "executed"  # committed
        reopened.close()

    run(go())
