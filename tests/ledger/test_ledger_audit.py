"""SqliteAuditLog: append-only operator audit rows on their own table, next to the ledger in the same file."""

from __future__ import annotations

import sqlite3
import threading

from alfax.ledger import Ledger, SqliteAuditLog, SqliteKeyStore
from alfax.ledger.audit import TABLE


def test_record_and_list_newest_first(tmp_path):
    log = SqliteAuditLog(tmp_path / "a.db")
    try:
        assert log.list() == []
        i1 = log.record("operator", "challenge.start", "account:7", {"productId": "10k-2step"}, True, 1_000)
        i2 = log.record("abcdefgh", "payout.approve", "p-1", {"code": -4603, "msg": "Payout does not exist."}, False,
                        2_000)
        i3 = log.record("operator", "challenge.fail", "account:7", {"reason": "hedging across accounts"}, True, 3_000)
        assert i1 < i2 < i3
        rows = log.list()
        assert [r["id"] for r in rows] == [i3, i2, i1]
        assert rows[1] == {"id": i2, "time": 2_000, "actor": "abcdefgh", "action": "payout.approve", "target": "p-1",
                           "detail": {"code": -4603, "msg": "Payout does not exist."}, "ok": False}
        assert rows[0]["ok"] is True and rows[0]["detail"] == {"reason": "hedging across accounts"}
        # filters and limit
        assert [r["id"] for r in log.list(limit=2)] == [i3, i2]
        assert [r["id"] for r in log.list(action="challenge.start")] == [i1]
        assert [r["id"] for r in log.list(target="account:7")] == [i3, i1]
        assert [r["id"] for r in log.list(action="challenge.fail", target="account:7")] == [i3]
        assert log.list(action="nope") == [] and log.list(limit=0) == []
    finally:
        log.close()


def test_detail_is_json_and_survives_reopen(tmp_path):
    db = tmp_path / "a.db"
    log = SqliteAuditLog(db)
    log.record("operator", "x", "", {"n": 1, "nested": {"ü": [1, 2]}, "obj": object.__name__}, True, 5)
    log.record("operator", "y", "", None, True, 6)  # type: ignore[arg-type]
    log.close()
    log = SqliteAuditLog(db)  # the table exists: opening again keeps the rows
    try:
        rows = log.list()
        assert rows[0]["detail"] == {} and rows[1]["detail"] == {"n": 1, "nested": {"ü": [1, 2]}, "obj": "object"}
        new = log.record("operator", "z", "", {}, True)  # now_ms omitted: wall clock
        assert log.list(limit=1)[0]["id"] == new and log.list(limit=1)[0]["time"] > 1_600_000_000_000
    finally:
        log.close()
    with sqlite3.connect(db) as raw:  # the stored detail is compact canonical JSON
        text = raw.execute(f"SELECT detail FROM {TABLE} WHERE action = 'x'").fetchone()[0]
    assert text == '{"n":1,"nested":{"ü":[1,2]},"obj":"object"}'


def test_shares_the_db_file_with_ledger_and_keys(tmp_path):
    db = str(tmp_path / "alfax.db")
    ledger = Ledger(db)
    keys = SqliteKeyStore(db)
    log = SqliteAuditLog(db)
    try:
        keys.create(1, frozenset(), "k")
        log.record("operator", "challenge.start", "account:1", {}, True, 1)
        assert len(keys.list()) == 1 and len(log.list()) == 1
    finally:
        log.close()
        keys.close()
        ledger.close()


def test_ids_never_reused_and_concurrent_writers(tmp_path):
    db = tmp_path / "a.db"
    log = SqliteAuditLog(db)
    other = SqliteAuditLog(db)  # a second connection (another process would look the same)
    try:
        def write(store, n):
            for i in range(n):
                store.record("operator", "bulk", str(i), {"i": i}, i % 2 == 0, i)

        threads = [threading.Thread(target=write, args=(s, 50)) for s in (log, other, log)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rows = log.list(limit=1000)
        assert len(rows) == 150 and len({r["id"] for r in rows}) == 150
        assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
        assert log.list(limit=10**9)[0]["id"] == rows[0]["id"]  # huge limits are clamped, not an error
    finally:
        other.close()
        log.close()
