"""SqliteAlertLog: every alert persisted before the 202, two-phase durable idempotency, the user's alert log."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
import threading
from decimal import Decimal

import pytest

from alfax.ledger import SqliteKeyStore
from alfax.ledger.alert_log import AlertRow, SqliteAlertLog

CMD = {"action": "buy", "symbol": "BTCUSDT", "size": "0.01"}
ERR = {"code": "E007", "message": "unknown symbol 'BTCUSD'", "column": 7, "token": "BTCUSD", "hint": "BTCUSDT?"}


def test_receive_persists_accepted_and_rejected_alerts(tmp_path):
    path = tmp_path / "a.db"
    log = SqliteAlertLog(path)
    ok = log.receive(7, "tok1", "buy 0.01 BTCUSDT secret=***", 1000, "52.89.214.238", [CMD], [])
    bad = log.receive(7, "tok1", "buy 0.01 BTCUSD", 1001, "", [], [ERR])
    assert isinstance(ok, AlertRow)
    assert ok.status == "received" and bad.status == "rejected"
    assert bad.alert_id > ok.alert_id
    assert (ok.account_id, ok.token_id, ok.body, ok.received_ms, ok.source_ip) == (
        7, "tok1", "buy 0.01 BTCUSDT secret=***", 1000, "52.89.214.238")
    assert ok.commands == [CMD] and ok.errors == [] and ok.result == {} and ok.updated_ms == 1000
    assert bad.commands == [] and bad.errors == [ERR]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ok.status = "executed"  # type: ignore[misc]
    log.close()
    log2 = SqliteAlertLog(path)  # committed when receive returned
    assert log2.get(ok.alert_id) == ok and log2.get(bad.alert_id) == bad
    assert log2.get(999) is None
    nxt = log2.receive(7, "tok1", "sell 1 ETHUSDT", 1002, "", [CMD], [])
    assert nxt.alert_id > bad.alert_id  # ids continue after reopen
    assert ok.to_dict()["alertId"] == ok.alert_id and ok.to_dict()["errors"] == []
    log2.close()


def test_set_status_and_result(tmp_path):
    path = tmp_path / "a.db"
    log = SqliteAlertLog(path)
    a = log.receive(1, "t", "buy 1 BTCUSDT", 10, "", [CMD], [])
    ex = log.set_status(a.alert_id, "executing", None, 20)
    assert ex is not None and ex.status == "executing" and ex.updated_ms == 20 and ex.received_ms == 10
    done = log.set_status(a.alert_id, "executed", {"orderIds": [101, 102], "avgPrice": Decimal("65000.10")}, 30)
    assert done is not None and done.result == {"orderIds": [101, 102], "avgPrice": "65000.10"}
    with pytest.raises(ValueError):
        log.set_status(a.alert_id, "bogus", {}, 40)
    assert log.get(a.alert_id).status == "executed"  # the bad call changed nothing
    assert log.set_status(12345, "failed", {}, 40) is None
    log.close()
    again = SqliteAlertLog(path).get(a.alert_id)
    assert again is not None and again.status == "executed" and again.result["orderIds"] == [101, 102]


def test_list_newest_first_per_account_with_paging(tmp_path):
    log = SqliteAlertLog(tmp_path / "a.db")
    mine = [log.receive(1, "t", f"buy {i} BTCUSDT", 100 + i, "", [CMD], []).alert_id for i in range(7)]
    other = log.receive(2, "u", "sell 1 BTCUSDT", 200, "", [CMD], []).alert_id
    mine.append(log.receive(1, "t", "x", 300, "", [], [ERR]).alert_id)
    got = [r.alert_id for r in log.list(1)]
    assert got == sorted(mine, reverse=True) and other not in got
    page1 = [r.alert_id for r in log.list(1, limit=3)]
    page2 = [r.alert_id for r in log.list(1, limit=3, before_id=page1[-1])]
    page3 = [r.alert_id for r in log.list(1, limit=3, before_id=page2[-1])]
    assert page1 + page2 + page3 == sorted(mine, reverse=True) and len(page3) == 2
    assert log.list(1, limit=3, before_id=min(mine)) == []
    assert log.list(1, limit=0) == [] and log.list(3) == []
    assert [r.alert_id for r in log.list(2)] == [other]
    log.close()


def test_pending_lists_unfinished_alerts_oldest_first(tmp_path):
    path = tmp_path / "a.db"
    log = SqliteAlertLog(path)
    a = log.receive(1, "t", "a", 1, "", [CMD], [])
    b = log.receive(1, "t", "b", 2, "", [CMD], [])
    c = log.receive(2, "t", "c", 3, "", [CMD], [])
    log.receive(1, "t", "d", 4, "", [], [ERR])  # rejected: never pending
    log.set_status(a.alert_id, "executed", {}, 5)
    log.set_status(b.alert_id, "executing", {}, 6)
    # a restart between receipt (202) and execution: the next process finds them
    log2 = SqliteAlertLog(path)
    assert [r.alert_id for r in log2.pending()] == [b.alert_id, c.alert_id]
    assert [r.alert_id for r in log2.pending(2)] == [c.alert_id]
    log.close()
    log2.close()


def test_two_phase_claim_new_in_flight_done(tmp_path):
    log = SqliteAlertLog(tmp_path / "a.db")
    assert log.claim(1, "id:abc", 10, 1000) == "new"
    assert log.claim(1, "id:abc", 11, 1001) == "in_flight"  # a retry while the first is executing
    row = log.key(1, "id:abc")
    assert row is not None
    assert (row.alert_id, row.state, row.claimed_ms, row.expires_ms) == (10, "in_flight", 1000, None)
    assert log.claim(2, "id:abc", 12, 1001) == "new"  # keys are per account
    assert log.complete(1, "id:abc", {"orderIds": [555], "clientOrderIds": ["abc12345-0"]}, 1500) is True
    assert log.claim(1, "id:abc", 13, 1600) == "done"
    row = log.key(1, "id:abc")
    assert row.state == "done" and row.done_ms == 1500 and row.alert_id == 10
    assert row.result == {"orderIds": [555], "clientOrderIds": ["abc12345-0"]}  # the original receipt
    assert log.complete(1, "missing", {}, 1) is False and log.key(1, "missing") is None
    log.close()


def test_window_expiry_only_for_done_windowed_keys(tmp_path):
    log = SqliteAlertLog(tmp_path / "a.db")
    assert log.claim(1, "h:content", 1, 1000, window_ms=10_000) == "new"
    assert log.key(1, "h:content").expires_ms == 11_000
    log.complete(1, "h:content", {"orderIds": [1]}, 1200)
    assert log.claim(1, "h:content", 2, 10_999, window_ms=10_000) == "done"  # a retry inside the window
    assert log.claim(1, "h:content", 3, 11_000, window_ms=10_000) == "new"  # a repeat after it: trades again
    row = log.key(1, "h:content")
    assert (row.alert_id, row.state, row.claimed_ms, row.result, row.done_ms) == (3, "in_flight", 11_000, {}, None)
    # an in-flight key never expires: its order may exist, only complete/release resolves it
    assert log.claim(1, "h:content", 4, 10**9, window_ms=10_000) == "in_flight"
    # a durable key (id= or ts=) never expires
    assert log.claim(1, "id:x", 5, 0) == "new"
    log.complete(1, "id:x", {}, 1)
    assert log.claim(1, "id:x", 6, 10**12, window_ms=10_000) == "done"
    with pytest.raises(ValueError):
        log.claim(1, "k", 7, 0, window_ms=-1)
    log.close()


def test_purge_expired_keeps_durable_and_in_flight_keys(tmp_path):
    log = SqliteAlertLog(tmp_path / "a.db")
    log.claim(1, "w-done", 1, 0, window_ms=100)
    log.complete(1, "w-done", {}, 10)
    log.claim(1, "w-flight", 2, 0, window_ms=100)
    log.claim(1, "durable", 3, 0)
    log.complete(1, "durable", {}, 10)
    assert log.purge_expired(99) == 0
    assert log.purge_expired(100) == 1
    assert log.key(1, "w-done") is None and log.key(1, "w-flight") is not None and log.key(1, "durable") is not None
    log.close()


def test_in_flight_survives_reopen_and_crash_then_resolves(tmp_path):
    path = tmp_path / "a.db"
    log = SqliteAlertLog(path)
    a = log.receive(1, "t", "buy 1 BTCUSDT id=a", 1, "", [CMD], [])
    b = log.receive(2, "t", "buy 1 BTCUSDT id=b", 2, "", [CMD], [])
    assert log.claim(1, "id:a", a.alert_id, 10) == "new"
    assert log.claim(2, "id:b", b.alert_id, 11, window_ms=5) == "new"
    log.claim(1, "id:c", a.alert_id, 12)
    log.complete(1, "id:c", {}, 13)
    # simulated crash: the next "process" opens the file while the first never closed it
    after = SqliteAlertLog(path)
    flight = after.in_flight()
    assert [(k.account_id, k.idem_key, k.alert_id) for k in flight] == [
        (1, "id:a", a.alert_id), (2, "id:b", b.alert_id)]
    assert [k.idem_key for k in after.in_flight(2)] == ["id:b"]  # expired window included: still unresolved
    assert after.claim(1, "id:a", 99, 20) == "in_flight"  # TradingView's retry after the restart does not trade
    # recovery: the order of id:a exists (found by clientOrderId) → done; id:b never reached the venue → released
    assert after.complete(1, "id:a", {"orderIds": [7], "recovered": True}, 30)
    assert after.release(2, "id:b", alert_id=12345) is False  # someone else's claim is kept
    assert after.release(2, "id:b", alert_id=b.alert_id) is True
    assert after.release(1, "id:a") is False  # done keys are never released
    assert after.in_flight() == []
    assert after.claim(2, "id:b", b.alert_id, 40) == "new"
    after.close()
    log.close()
    log3 = SqliteAlertLog(path)
    assert [k.idem_key for k in log3.in_flight()] == ["id:b"]
    assert log3.key(1, "id:a").result == {"orderIds": [7], "recovered": True}
    log3.close()


_CHILD = textwrap.dedent("""
    import os, sys
    from alfax.ledger.alert_log import SqliteAlertLog
    log = SqliteAlertLog(sys.argv[1])
    a = log.receive(1, "t", "buy 1 BTCUSDT id=k", 1, "", [{"action": "buy"}], [])
    assert log.claim(1, "id:k", a.alert_id, 2) == "new"
    log.set_status(a.alert_id, "executing", {}, 3)
    print(a.alert_id, flush=True)
    os._exit(9)  # dies with the key in flight, nothing closed
""")


def test_process_killed_between_claim_and_complete(tmp_path):
    path = tmp_path / "a.db"
    p = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, timeout=120,
                       cwd=os.getcwd())
    assert p.returncode == 9, p.stderr
    alert_id = int(p.stdout)
    log = SqliteAlertLog(path)
    assert [(k.idem_key, k.alert_id, k.state) for k in log.in_flight(1)] == [("id:k", alert_id, "in_flight")]
    assert [r.alert_id for r in log.pending()] == [alert_id] and log.get(alert_id).status == "executing"
    assert log.claim(1, "id:k", alert_id + 1, 10) == "in_flight"
    log.close()


def test_concurrent_claims_of_one_key_let_exactly_one_through(tmp_path):
    path = tmp_path / "a.db"
    stores = [SqliteAlertLog(path), SqliteAlertLog(path)]  # two connections, as two processes would have
    results: list[tuple[int, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def work(i: int) -> None:
        start.wait(10)
        for k in range(20):
            r = stores[i % 2].claim(1, f"id:{k}", 100 * i + k, 1000)
            with lock:
                results.append((k, r))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 160
    for k in range(20):
        got = sorted(r for kk, r in results if kk == k)
        assert got == ["in_flight"] * 7 + ["new"], (k, got)
    for s in stores:
        s.close()


def test_alert_ids_monotonic_across_two_instances_and_shared_db(tmp_path):
    path = tmp_path / "alfax.db"
    keys = SqliteKeyStore(path)  # the same database file as the venue's other stores
    a, b = SqliteAlertLog(path), SqliteAlertLog(path)
    ids = []
    for i in range(6):
        ids.append((a if i % 2 else b).receive(1, "t", str(i), i, "", [], []).alert_id)
    assert ids == sorted(ids) and len(set(ids)) == 6
    assert [r.body for r in a.list(1)] == [str(i) for i in reversed(range(6))]
    assert keys.list() == []
    keys.close()
    a.close()
    b.close()
