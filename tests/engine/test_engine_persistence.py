"""Determinism, snapshot/restore, and the "no events ⇒ no hashed change" rule."""

from __future__ import annotations

import json

import pytest

from alfax.domain.errors import VenueError
from alfax.engine import ManualClock, Venue
from engine_helpers import INSTRUMENTS, T0
from engine_scenarios import stream


def replay(cmds, clock, v=None):
    v = v or Venue(INSTRUMENTS, clock)
    log = []
    for ms, cmd in cmds:
        clock.ms = ms
        try:
            log.append(repr(v.handle(cmd)))
        except VenueError as e:
            log.append(e.code)
    return v, log


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_commands_same_events_and_hash(seed):
    cmds = stream(seed, 400)
    v1, l1 = replay(cmds, ManualClock(T0))
    v2, l2 = replay(cmds, ManualClock(T0))
    assert l1 == l2 and v1.state_hash() == v2.state_hash()
    assert any(isinstance(x, str) and "Trade(" in x for x in l1)  # the stream really trades


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_snapshot_restore_continues_identically(seed):
    cmds = stream(seed, 400)
    cut = len(cmds) // 2
    clock = ManualClock(T0)
    v, _ = replay(cmds[:cut], clock)
    snap = json.loads(json.dumps(v.snapshot()))  # really JSON-able
    clock2 = ManualClock(clock.ms)
    r = Venue.restore(INSTRUMENTS, clock2, snap)
    assert r.state_hash() == v.state_hash()
    assert json.dumps(r.snapshot(), sort_keys=True) == json.dumps(v.snapshot(), sort_keys=True)
    _, la = replay(cmds[cut:], clock, v)
    _, lb = replay(cmds[cut:], clock2, r)
    assert la == lb and r.state_hash() == v.state_hash()


def test_commands_without_events_do_not_change_the_hash():
    cmds = stream(7, 500)
    clock = ManualClock(T0)
    v = Venue(INSTRUMENTS, clock)
    for ms, cmd in cmds:
        clock.ms = ms
        h = v.state_hash()
        try:
            evs = v.handle(cmd)
        except VenueError:
            assert v.state_hash() == h, cmd
            continue
        if not evs and cmd.is_market_data:
            assert v.state_hash() == h, cmd


@pytest.mark.parametrize("seed,risky", [(8, False), (9, True)])
def test_restore_at_many_points(seed, risky):
    cmds = stream(seed, 300, risky)
    clock = ManualClock(T0)
    v = Venue(INSTRUMENTS, clock)
    for start in range(0, len(cmds), 40):
        snap = json.loads(json.dumps(v.snapshot()))
        clock2 = ManualClock(clock.ms)
        r = Venue.restore(INSTRUMENTS, clock2, snap)
        assert r.state_hash() == v.state_hash()
        _, la = replay(cmds[start:start + 40], clock, v)
        _, lb = replay(cmds[start:start + 40], clock2, r)
        assert la == lb
        assert r.state_hash() == v.state_hash()


def test_snapshot_does_not_alias_live_state():
    from engine_helpers import Side, Sim
    s = Sim()
    s.limit(Side.BUY, "0.1", "29000.0")
    snap = s.v.snapshot()
    before = json.dumps(snap, sort_keys=True)
    s.market(Side.BUY, "0.5")
    s.do(s.v.open_orders(1) and __import__("alfax.domain.commands", fromlist=["x"]).CancelAllOrders(1, "BTCUSDT"))
    s.book([("1000.0", "1")], [("1000.1", "1")])
    assert json.dumps(snap, sort_keys=True) == before
    assert snap["user"]["orders"] and snap["markets"]["BTCUSDT"]["asks"]
