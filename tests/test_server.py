"""The composition root's own decisions (the full server is exercised by tests/integration)."""

import time

from alfax.domain.commands import CreateAccount
from alfax.server import Runtime, ServeConfig


def test_snapshots_only_when_something_was_journaled(tmp_path):
    rt = Runtime(ServeConfig(db_path=str(tmp_path / "s.db"), snapshot_every_s=0))
    try:
        assert rt.maybe_snapshot(time.monotonic())  # the Restart command is new work
        rt.ledger.flush().result(10)
        first = rt.ledger.load_latest_snapshot()
        assert rt.maybe_snapshot(time.monotonic()) is False  # idle: no second snapshot
        rt.execute(CreateAccount(account_id=0))
        assert rt.maybe_snapshot(time.monotonic())
        rt.ledger.flush().result(10)
        latest = rt.ledger.load_latest_snapshot()
        assert latest.journal_seq > first.journal_seq and latest.state_hash == rt.venue.state_hash()
    finally:
        rt.ledger.close()


def test_snapshot_interval_is_respected(tmp_path):
    rt = Runtime(ServeConfig(db_path=str(tmp_path / "t.db"), snapshot_every_s=3600))
    try:
        rt.execute(CreateAccount(account_id=0))
        assert rt.maybe_snapshot(time.monotonic()) is False  # not due yet, even with new work
    finally:
        rt.ledger.close()
