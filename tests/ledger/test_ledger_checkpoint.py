"""WAL checkpoints run in the ledger's checkpoint thread (the writer never auto-checkpoints inside a COMMIT), and
under continuous writes the WAL still restarts instead of growing forever."""

from __future__ import annotations

import os
import sqlite3

from alfax.domain.commands import Transfer
from alfax.ledger import Ledger
from alfax.ledger import journal as J
from alfax.ledger.snapshot import iter_journal


def test_writer_connection_does_not_autocheckpoint(tmp_path):
    led = Ledger(tmp_path / "a.db")
    try:
        assert led._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        assert led._ckpt_thread.is_alive()
    finally:
        led.close()
    assert not led._ckpt_thread.is_alive()


def test_wal_stays_bounded_under_continuous_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(J, "CHECKPOINT_EVERY_S", 0.005)
    monkeypatch.setattr(J, "WAL_RESET_FRAMES", 64)
    path = tmp_path / "b.db"
    led = Ledger(path)
    n = 0
    try:
        pad = "x" * 2000  # ~1 page per command
        max_wal = 0
        for _ in range(60):
            futs = [led.append(1_700_000_000_000 + n + i, Transfer(1 + i % 7, 10**8, info=pad)) for i in range(50)]
            n += 50
            for f in futs:
                f.result(30)
            max_wal = max(max_wal, os.path.getsize(str(path) + "-wal"))
        # ~3,000 pages written; without restarts the WAL would hold all of them (~12 MB)
        assert max_wal < 3_000 * 4096 // 2, max_wal
    finally:
        led.close()
    conn = sqlite3.connect(path)
    try:
        seqs = [seq for seq, _ts, _cmd in iter_journal(conn, 0)]
    finally:
        conn.close()
    assert seqs == list(range(1, n + 1))
