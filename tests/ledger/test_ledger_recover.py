"""Snapshots + replay with a tiny deterministic fake state machine (the real Venue is wired by the lead)."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from alfax.domain.commands import BookUpdate, Tick, Transfer
from alfax.domain.errors import Err, VenueError
from alfax.domain.events import AccountCreated
from alfax.ledger import Ledger, RecoveryError, ReplayClock


class FakeVenue:
    """Balances per account; each transfer remembers (clock ts, BTC best bid at that time). A book whose best bid
    is above 1000 'triggers' (stateful, emits an event); otherwise book updates only move the reference market."""

    def __init__(self, clock):
        self.clock = clock
        self.balances: dict[str, int] = {}
        self.history: list[list] = []
        self.triggers = 0
        self.market: dict[str, int] = {}
        self.seq = 0

    def _ev(self, account_id):
        self.seq += 1
        return AccountCreated(seq=self.seq, ts=self.clock.now_ms(), account_id=account_id, alias="")

    def handle(self, cmd):
        now = self.clock.now_ms()
        if isinstance(cmd, Transfer):
            bal = self.balances.get(str(cmd.account_id), 0)
            if bal + cmd.amount < 0:
                raise VenueError(Err.BALANCE_NOT_SUFFICIENT)
            self.balances[str(cmd.account_id)] = bal + cmd.amount
            self.history.append([now, cmd.account_id, cmd.amount, self.market.get("BTCUSDT", 0)])
            return [self._ev(cmd.account_id)]
        if isinstance(cmd, BookUpdate):
            bid = cmd.bids[0][0] if cmd.bids else 0
            self.market[cmd.symbol] = bid
            if bid > 1000:
                self.triggers += 1
                return [self._ev(0)]
            return []
        if isinstance(cmd, Tick):
            return []
        raise VenueError(Err.UNKNOWN)

    def snapshot(self):
        return {"balances": self.balances, "history": self.history, "triggers": self.triggers,
                "market": self.market, "seq": self.seq}

    @classmethod
    def restore(cls, snap, clock):
        v = cls(clock)
        v.balances = dict(snap["balances"])
        v.history = [list(h) for h in snap["history"]]
        v.triggers, v.market, v.seq = snap["triggers"], dict(snap["market"]), snap["seq"]
        return v

    def state_hash(self):
        user = {"balances": self.balances, "history": self.history, "triggers": self.triggers, "seq": self.seq}
        return hashlib.sha256(orjson.dumps(user, option=orjson.OPT_SORT_KEYS)).hexdigest()


def run(led, venue, clock, ts, cmd):
    """What the runtime does: handle, then journal (coalescing event-less market commands)."""
    clock.set(ts)
    events = venue.handle(cmd)
    if cmd.is_market_data and not events:
        led.append_market(ts, cmd)
        return None
    return led.append(ts, cmd, events)


def workload(led, venue, clock, start, n):
    futs = []
    for i in range(start, start + n):
        ts = 1_000_000 + i * 10
        run(led, venue, clock, ts, BookUpdate("BTCUSDT", ((100 + i % 50, 1),), ()))
        run(led, venue, clock, ts + 1, BookUpdate("ETHUSDT", ((7 + i % 3, 1),), ()))
        if i % 7 == 0:
            run(led, venue, clock, ts + 2, BookUpdate("BTCUSDT", ((2000 + i, 1),), ()))  # triggers
        if i % 3 == 0:
            run(led, venue, clock, ts + 3, Tick())
        futs.append(run(led, venue, clock, ts + 4, Transfer(i % 4, 10 + i)))
        if i % 11 == 0:
            futs.append(run(led, venue, clock, ts + 5, Transfer(i % 4, -5)))
    return [f for f in futs if f is not None]


def _recover(path, **kw):
    clock = ReplayClock()
    with Ledger(path) as led:
        return led.recover(FakeVenue, FakeVenue.restore, clock, state_hash=FakeVenue.state_hash, **kw)


def test_replay_without_snapshot_gives_identical_state(tmp_path):
    path = tmp_path / "a.db"
    clock = ReplayClock()
    live = FakeVenue(clock)
    led = Ledger(path)
    futs = workload(led, live, clock, 0, 300)
    for f in futs:
        f.result(10)
    last_acked = max(f.result() for f in futs)
    led.close()  # also journals the trailing pending market commands
    venue, count, last = _recover(path)
    assert venue.state_hash() == live.state_hash()
    assert venue.history == live.history  # each command replayed with the clock at its journaled ts
    assert venue.market == live.market
    assert last >= last_acked and count == last


def test_snapshot_then_replay_gives_identical_state(tmp_path):
    path = tmp_path / "s.db"
    clock = ReplayClock()
    live = FakeVenue(clock)
    led = Ledger(path)
    workload(led, live, clock, 0, 200)
    run(led, live, clock, 5_000_000, BookUpdate("BTCUSDT", ((555, 1),), ()))
    run(led, live, clock, 5_000_001, Tick())
    # pending market slots exist now; the snapshot journals them first (its state already contains them)
    assert led.metrics()["pending_market"] > 0
    snap_seq = led.save_snapshot(None, live.snapshot(), live.state_hash()).result(10)
    assert snap_seq == led.last_committed_seq
    futs = workload(led, live, clock, 200, 100)
    futs[-1].result(10)
    led.close()

    with Ledger(path) as l2:
        s = l2.load_latest_snapshot()
    assert s.journal_seq == snap_seq and s.state_hash != "" and s.state["triggers"] > 0
    venue, count, last = _recover(path)
    assert venue.state_hash() == live.state_hash() and venue.market == live.market
    assert count == last - snap_seq > 0


def test_snapshot_blob_is_compressed_orjson(tmp_path):
    import sqlite3
    import zlib

    path = tmp_path / "z.db"
    with Ledger(path) as led:
        led.append(1, Transfer(1, 1)).result(10)
        led.save_snapshot(None, {"a": list(range(1000))}, "h").result(10)
    blob = sqlite3.connect(path).execute("SELECT blob FROM snapshots").fetchone()[0]
    assert orjson.loads(zlib.decompress(blob)) == {"a": list(range(1000))}
    assert len(blob) < len(orjson.dumps({"a": list(range(1000))}))
    with pytest.raises(TypeError):
        Ledger(tmp_path / "y.db").save_snapshot(None, {1: "non-str key"}, "h")


def test_replay_rejection_raises_loudly(tmp_path):
    path = tmp_path / "e.db"
    with Ledger(path) as led:
        led.append(5, Transfer(1, 10))
        led.append(6, Transfer(1, -50))  # was never executed successfully: replay must refuse it
        led.append(7, Transfer(1, 1))
    with pytest.raises(RecoveryError, match=r"journal_seq 2 \(ts 6\).*-2018"):
        _recover(path)


def test_hash_mismatch_and_gap_detected(tmp_path):
    import sqlite3

    path = tmp_path / "h.db"
    clock = ReplayClock()
    live = FakeVenue(clock)
    with Ledger(path) as led:
        workload(led, live, clock, 0, 20)
        led.save_snapshot(None, live.snapshot(), "not-the-hash").result(10)
    with pytest.raises(RecoveryError, match="state hash"):
        _recover(path)
    path2 = tmp_path / "g.db"
    with Ledger(path2) as led:
        for i in range(5):
            led.append(i, Transfer(1, 1))
    conn = sqlite3.connect(path2)
    conn.execute("DELETE FROM journal WHERE journal_seq = 3")
    conn.commit()
    with pytest.raises(RecoveryError, match="gap"):
        _recover(path2)


@pytest.mark.parametrize("prune", [False, True])
def test_pruning_is_opt_in(tmp_path, prune):
    import sqlite3

    path = tmp_path / "p.db"
    clock = ReplayClock()
    live = FakeVenue(clock)
    led = Ledger(path, prune_journal=prune)
    snaps = []
    for k in range(3):
        workload(led, live, clock, k * 50, 50)
        snaps.append(led.save_snapshot(None, live.snapshot(), live.state_hash()).result(10))
    workload(led, live, clock, 150, 20)
    led.close()
    conn = sqlite3.connect(path)
    first = conn.execute("SELECT MIN(journal_seq) FROM journal").fetchone()[0]
    nsnaps = conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0]
    if prune:
        assert first == snaps[1] + 1 and nsnaps == 2  # journal after the previous snapshot is kept
    else:
        assert first == 1 and nsnaps == 3
    venue, count, last = _recover(path)
    assert venue.state_hash() == live.state_hash()


def test_iter_journal_after_seq(tmp_path):
    path = tmp_path / "i.db"
    with Ledger(path) as led:
        for i in range(12_000):
            led.append(i, Transfer(1, i))
        led.flush().result(30)
        rows = list(led.iter_journal(11_990))
        assert [s for s, _, _ in rows] == list(range(11_991, 12_001))
        assert rows[0][1:] == (11_990, Transfer(1, 11_990))
        assert sum(1 for _ in led.iter_journal(0)) == 12_000


class AttrClock:
    """Like alfax.server.StampedClock: a ``t`` attribute, no ``set``."""

    __slots__ = ("t",)

    def __init__(self, t=0):
        self.t = t

    def now_ms(self):
        return self.t


def test_runtime_calling_style(tmp_path):
    """alfax.server: recover(ledger, venue_factory=lambda: ..., restore_fn=lambda snap: ..., clock=...) and
    save_snapshot(snapshot, state_hash); the venue's own state_hash verifies the restore."""
    from alfax.ledger.recovery import recover

    path = tmp_path / "rt.db"
    clock = AttrClock()
    led = Ledger(path)
    venue, n, last = recover(led, venue_factory=lambda: FakeVenue(clock),
                             restore_fn=lambda snap: FakeVenue.restore(snap, clock), clock=clock)
    assert (n, last) == (0, 0)
    workload(led, venue, _Setter(clock), 0, 40)
    led.save_snapshot(venue.snapshot(), venue.state_hash()).result(10)
    workload(led, venue, _Setter(clock), 40, 10)
    m = led.metrics()
    assert m["last_journal_seq"] == m["last_committed_seq"] and "commit_lag_p99_ms" in m and "queue_length" in m
    led.close()

    clock2 = AttrClock()
    with Ledger(path) as led2:
        v2, n2, last2 = recover(led2, venue_factory=lambda: FakeVenue(clock2),
                                restore_fn=lambda snap: FakeVenue.restore(snap, clock2), clock=clock2)
        assert v2.state_hash() == venue.state_hash() and n2 > 0 and last2 == led2.last_committed_seq
        assert clock2.t == venue.history[-1][0] or clock2.t >= venue.history[-1][0]
    # a snapshot whose stored hash does not match is caught by the venue's own state_hash
    with Ledger(path) as led3:
        led3.save_snapshot(venue.snapshot(), "bogus").result(10)
    with pytest.raises(RecoveryError, match="state hash"):
        recover(str(path), lambda: FakeVenue(clock2), lambda snap: FakeVenue.restore(snap, clock2), clock2)
    v4, _, _ = recover(str(path), lambda: FakeVenue(clock2), lambda snap: FakeVenue.restore(snap, clock2), clock2,
                       state_hash=False)
    assert v4.state_hash() == venue.state_hash()


class _Setter:
    """Adapter so ``workload``'s ``clock.set`` drives an AttrClock."""

    def __init__(self, c):
        self.c = c

    def set(self, ts):
        self.c.t = ts
