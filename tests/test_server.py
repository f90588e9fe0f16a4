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


def test_feed_status_is_journaled_in_place_so_replay_sees_what_was_skipped(tmp_path):
    """A mark below the liquidation price arrives while the symbol is stale: nothing happens live (no events, so
    the mark is only coalesced). Replaying the journal from genesis must skip it too, which requires the
    FeedStatus commands to keep their place around the coalesced mark."""
    from alfax.domain.commands import (BookUpdate, FeedStatus, MarkPriceUpdate, PlaceOrder, SetLeverage,
                                       SetMarginType, Transfer)
    from alfax.domain.enums import MarginType, OrderType, Side
    from alfax.server import replay_state_hash

    db = str(tmp_path / "r.db")
    rt = Runtime(ServeConfig(db_path=db, feed="replay:BTCUSDT"))
    try:
        sym = "BTCUSDT"
        rt.execute(CreateAccount(account_id=1))
        rt.execute(Transfer(account_id=1, amount=10_000 * 10**8))
        rt.execute(SetMarginType(1, sym, MarginType.ISOLATED))
        rt.execute(SetLeverage(1, sym, 100))
        rt.execute(BookUpdate(sym, ((3_000_000, 5_000),), ((3_000_000, 5_000),), 1))
        rt.execute(MarkPriceUpdate(sym, 3_000_000, 3_000_000, 10_000, 0))
        rt.execute(PlaceOrder(1, sym, Side.BUY, OrderType.MARKET, quantity=1_000))
        rt.execute(FeedStatus(sym, True))
        evs, _ = rt.execute(MarkPriceUpdate(sym, 2_900_000, 2_900_000, 10_000, 0))  # far below liquidation
        assert evs == [] and rt.venue.positions(1, sym)[0].qty == 1_000
        rt.execute(FeedStatus(sym, False))
        rt.execute(Transfer(account_id=1, amount=10**8))  # a real command after: the pending mark is written
        rt.ledger.flush().result(10)
        live = rt.venue.state_hash()
    finally:
        rt.ledger.close()
    assert replay_state_hash(db) == live


def test_a_rejected_command_that_crossed_a_rollover_journals_the_rollover(tmp_path):
    """The first command after a challenge rollover instant is rejected: the rollover it triggered is journaled at
    once (a Tick carries its events), so the live state hash equals a replay of the journal straight away."""
    import uuid

    import pytest

    from alfax.domain.commands import PlaceOrder, StartChallenge
    from alfax.domain.enums import OrderType, Side
    from alfax.domain.errors import VenueError
    from alfax.server import replay_state_hash

    db = str(tmp_path / "c.db")
    rt = Runtime(ServeConfig(db_path=db))
    try:
        rt.execute(CreateAccount(account_id=1))
        rt.execute(StartChallenge(1, str(uuid.uuid4()), rt.products["10k-2step"].source))
        due = rt.venue.challenges[1].day_start + 86_400_000
        rt._clock_origin = (rt._clock_origin[0], due - 5)  # venue time jumps to just before the rollover
        rt.config.clock_speed = 1.0001  # (any speed != 1 uses the origin)
        time.sleep(0.02)
        with pytest.raises(VenueError):
            rt.execute(PlaceOrder(1, "DOGEUSDT", Side.BUY, OrderType.MARKET, quantity=1))  # unknown symbol
        assert rt.venue.challenges[1].day_start == due and rt.venue.carry == []
        rt.ledger.flush().result(10)
        live = rt.venue.state_hash()
    finally:
        rt.ledger.close()
    assert replay_state_hash(db) == live
