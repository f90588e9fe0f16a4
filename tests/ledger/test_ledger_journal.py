from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading

import pytest

from alfax.domain.commands import BookUpdate, MarkPriceUpdate, Tick, TradePrint, Transfer
from alfax.ledger import Ledger, LedgerClosed, LedgerError


def _journal(path, after=0):
    with Ledger(path) as led:
        return list(led.iter_journal(after))


def test_group_commit_batches_64_asyncio_producers(tmp_path):
    path = tmp_path / "j.db"
    led = Ledger(path)
    order: list[tuple[int, int]] = []  # (producer, i) in the order append() was called
    results: dict[tuple[int, int], int] = {}

    async def producer(p: int, n: int) -> None:
        for i in range(n):
            order.append((p, i))
            fut = led.append(1_000 + p, Transfer(p, i))
            results[(p, i)] = await asyncio.wrap_future(fut)

    async def main():
        await asyncio.gather(*(producer(p, 40) for p in range(64)))

    asyncio.run(main())
    m = led.metrics()
    led.close()
    n = 64 * 40
    assert len(results) == n
    assert m["rows"] == n and m["last_committed_seq"] == n
    assert m["commits"] < n / 4, m  # really batched
    assert m["rows_per_commit"] > 4
    assert m["commit_lag_ms_p99"] >= m["commit_lag_ms_p50"] > 0
    rows = _journal(path)
    assert [s for s, _, _ in rows] == list(range(1, n + 1))
    # journal order == append() call order; each future resolved to its own journal_seq
    assert [(c.account_id, c.amount) for _, _, c in rows] == order
    assert all(results[(c.account_id, c.amount)] == s for s, _, c in rows)
    assert all(ts == 1_000 + c.account_id for _, ts, c in rows)


def test_threaded_producers_all_resolve_in_order(tmp_path):
    path = tmp_path / "t.db"
    led = Ledger(path)
    futs: dict[int, list] = {t: [] for t in range(8)}

    def work(t):
        for i in range(300):
            futs[t].append(led.append(i, Transfer(t, i)))

    ths = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    for t in range(8):
        seqs = [f.result(10) for f in futs[t]]
        assert seqs == sorted(seqs)  # per-producer order preserved
    assert led.metrics()["commits"] < 2400
    led.close()
    rows = _journal(path)
    assert len(rows) == 2400
    for t in range(8):
        assert [c.amount for _, _, c in rows if c.account_id == t] == list(range(300))


def test_durable_across_close_and_reopen(tmp_path):
    path = tmp_path / "d.db"
    led = Ledger(path, synchronous="FULL")
    for i in range(100):
        led.append(i, Transfer(1, i, info=f"t{i}"))
    led.close()
    with pytest.raises(LedgerClosed):
        led.append(1, Transfer(1, 1))
    led2 = Ledger(path)
    assert led2.last_committed_seq == 100
    assert led2.append(500, Transfer(2, 2)).result(10) == 101
    led2.close()
    rows = _journal(path)
    assert len(rows) == 101 and rows[-1] == (101, 500, Transfer(2, 2))
    assert rows[5][2] == Transfer(1, 5, info="t5")


CHILD = textwrap.dedent(
    """
    import os, sys
    from alfax.domain.commands import Transfer, BookUpdate
    from alfax.ledger import Ledger
    led = Ledger(sys.argv[1], synchronous=sys.argv[3])
    n = int(sys.argv[2])
    futs = [led.append(i, Transfer(1, i)) for i in range(n)]
    acked = 0
    for f in futs:
        f.result(30)
        acked += 1
    led.append_market(n, BookUpdate("BTCUSDT", ((1, 1),), ()))   # pending, never acknowledged
    for i in range(200):                                          # still in flight when killed
        led.append(n + i, Transfer(2, i))
    print(acked, flush=True)
    os.kill(os.getpid(), 9)
    """
)


@pytest.mark.parametrize("sync", ["NORMAL", "FULL"])
def test_sigkill_after_ack_loses_nothing_acknowledged(tmp_path, sync):
    path = tmp_path / "k.db"
    n = 3000
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), str(n), sync], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -9, proc.stderr
    acked = int(proc.stdout.strip())
    assert acked == n
    rows = _journal(path)
    assert len(rows) >= acked
    assert [c for _, _, c in rows[:n]] == [Transfer(1, i) for i in range(n)]
    assert [s for s, _, _ in rows] == list(range(1, len(rows) + 1))  # no holes, committed prefix only


def test_market_coalescing(tmp_path):
    path = tmp_path / "c.db"
    led = Ledger(path)
    b1 = BookUpdate("BTCUSDT", ((100, 1),), ((101, 1),), 1)
    m1 = MarkPriceUpdate("BTCUSDT", 100, 100, 1, 0)
    b2 = BookUpdate("BTCUSDT", ((100, 2),), ((101, 2),), 2)
    e1 = BookUpdate("ETHUSDT", ((10, 2),), ((11, 2),), 3)
    t1 = TradePrint("BTCUSDT", 100, 1, True, 9)
    led.append_market(1, b1)
    led.append_market(2, m1)
    led.append_market(3, b2)  # replaces b1 and moves to the end of the arrival order
    led.append_market(4, e1)
    led.append_market(5, Tick())
    led.append_market(6, Tick())
    assert led.flush().result(10) == 4  # flush journals the 4 pending slots
    led.append_market(7, t1)
    led.append_market(8, TradePrint("BTCUSDT", 101, 1, True, 10))
    led.append_market(9, b1)
    assert led.metrics()["pending_market"] == 2
    seq = led.append(10, Transfer(1, 5)).result(10)
    m = led.metrics()
    assert m["coalesced"] == 3 and m["pending_market"] == 0
    # market commands that produced events go through append() like anything else (never coalesced)
    led.append(11, t1, ()).result(10)
    led.append_market(12, Tick())  # pending at close: written by close()
    led.close()
    rows = _journal(path)
    assert [(ts, c) for _, ts, c in rows] == [
        (2, m1), (3, b2), (4, e1), (6, Tick()),
        (8, TradePrint("BTCUSDT", 101, 1, True, 10)), (9, b1), (10, Transfer(1, 5)),
        (11, t1), (12, Tick()),
    ]
    assert seq == 7


def test_pending_market_not_written_without_a_following_append(tmp_path):
    path = tmp_path / "p.db"
    led = Ledger(path)
    led.append(1, Transfer(1, 1)).result(10)
    led.append_market(2, Tick())
    assert led.last_committed_seq == 1 and led.metrics()["rows"] == 1


def _sabotage(path, seq):
    """Another connection takes the next journal_seq: the writer's INSERT fails with a UNIQUE violation."""
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO journal (journal_seq, ts, kind, payload) VALUES (?, 0, 'x', x'7b7d')", (seq,))
    conn.commit()
    conn.close()


def test_unencodable_command_rejected_in_the_caller(tmp_path):
    from alfax.ledger.codec import CodecError

    class Bogus:
        kind = "bogus"

    with Ledger(tmp_path / "u.db") as led:
        with pytest.raises(CodecError):
            led.append(1, Bogus())
        assert led.append(2, Transfer(1, 1)).result(10) == 1  # no seq consumed, ledger still healthy


def test_commit_failure_is_fail_stop(tmp_path):
    path = tmp_path / "f.db"
    led = Ledger(path)
    assert led.append(1, Transfer(1, 1)).result(10) == 1
    _sabotage(path, 2)
    bad = led.append(2, Transfer(1, 2))
    with pytest.raises(LedgerError):
        bad.result(10)
    with pytest.raises(LedgerError):
        led.append(3, Transfer(1, 3))
    assert led.metrics()["failed"]
    led.close()
    import sqlite3

    rows = sqlite3.connect(path).execute("SELECT journal_seq, kind FROM journal").fetchall()
    assert rows == [(1, "transfer"), (2, "x")]  # nothing of the failed batch
    from alfax.ledger import RecoveryError

    with pytest.raises(RecoveryError, match="journal row 2 cannot be decoded"):
        _journal(path)


def test_metrics_shape(tmp_path):
    with Ledger(tmp_path / "m.db") as led:
        for i in range(10):
            led.append(i, Transfer(1, i))
        led.flush().result(10)
        m = led.metrics()
    for k in ("commits", "rows", "rows_per_commit", "commit_lag_ms_p50", "commit_lag_ms_p99", "last_committed_seq",
              "queue_len", "pending_market", "coalesced"):
        assert k in m
    assert m["rows"] == 10 and m["last_committed_seq"] == 10 and m["queue_len"] == 0


def test_wal_mode_and_sync(tmp_path):
    import sqlite3

    path = tmp_path / "w.db"
    Ledger(path, synchronous="FULL").close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(ValueError):
        Ledger(path, synchronous="SOMETIMES")
    assert os.path.exists(path)


def test_append_async_batches_and_resolves_on_the_loop(tmp_path):
    path = tmp_path / "aa.db"
    led = Ledger(path)
    order: list[tuple[int, int]] = []
    results: dict[tuple[int, int], int] = {}

    async def producer(p: int, n: int) -> None:
        for i in range(n):
            order.append((p, i))
            results[(p, i)] = await led.append_async(5, Transfer(p, i))

    async def main():
        await asyncio.gather(*(producer(p, 30) for p in range(64)))
        # a cancelled waiter does not stop the write nor break the writer
        fut = led.append_async(6, Transfer(99, 99))
        fut.cancel()
        assert await led.append_async(7, Transfer(99, 100)) == 64 * 30 + 2

    asyncio.run(main())
    m = led.metrics()
    led.close()
    assert m["commits"] < 64 * 30 / 4 and m["rows"] == 64 * 30 + 2
    rows = _journal(path)
    assert [(c.account_id, c.amount) for _, _, c in rows[:-2]] == order
    assert all(results[(c.account_id, c.amount)] == s for s, _, c in rows[:-2])
    assert rows[-2][2] == Transfer(99, 99)


def test_append_async_failure_propagates(tmp_path):
    path = tmp_path / "af.db"
    led = Ledger(path)

    async def main():
        ok = await led.append_async(1, Transfer(1, 1))
        _sabotage(path, 2)
        with pytest.raises(LedgerError):
            await led.append_async(2, Transfer(1, 2))
        with pytest.raises(LedgerError):
            led.append_async(3, Transfer(1, 1))
        return ok

    assert asyncio.run(main()) == 1
    led.close()


def test_max_batch_bounds_a_transaction(tmp_path):
    led = Ledger(tmp_path / "mb.db", max_batch=10)
    futs = [led.append(i, Transfer(1, i)) for i in range(100)]
    assert [f.result(10) for f in futs] == list(range(1, 101))
    m = led.metrics()
    led.close()
    assert m["commits"] >= 10 and m["rows_per_commit"] <= 10 and m["enqueued"] == 100
