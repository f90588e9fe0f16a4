"""One symbol's local order book, kept in step with Binance's diff-depth stream (contract §4.4). Pure, no I/O.

States:
- ``WAIT``: no usable book. Diff events are buffered (only an unbroken ``pu`` chain is kept: events before a
  break can never be applied) until a REST snapshot arrives.
- ``BRIDGE``: the snapshot (``lastUpdateId`` L) is loaded; events with ``u < L`` are dropped and the first applied
  one must satisfy ``U <= L <= u`` (or ``pu == L``, which ccxt also accepts).
- ``SYNCED``: every event must satisfy ``pu == previous u``. An event with ``u <= previous u`` is a duplicate or
  a late replay of something already applied (quantities are absolute), so it is ignored, the way ccxt drops
  ``u < nonce``; any other break is a gap: back to ``WAIT`` with that event as the start of the new buffer.

The book is kept in full (every level the snapshot and the diffs ever named, minus removed ones); callers take
the top N for the engine.
"""

from __future__ import annotations

import heapq
from collections import deque

from .binance_wire import DepthEvent, DepthSnapshot, Level

WAIT, BRIDGE, SYNCED = "wait", "bridge", "synced"

# on_event / apply_snapshot outcomes
APPLIED = "applied"  # the book changed and is synced: emit it
BUFFERED = "buffered"  # waiting for a snapshot
IGNORED = "ignored"  # older than the book (dropped by the §4.4 rules)
GAP = "gap"  # sequence broken: a new snapshot is needed (state is WAIT)
BRIDGING = "bridging"  # snapshot loaded, no bridging event yet


class DepthSync:
    __slots__ = ("state", "bids", "asks", "last_u", "buffer")

    def __init__(self, max_buffer: int = 2_000) -> None:
        # 2,000 events = 200 s of @100ms diffs: enough to cover any snapshot round trip; older ones are useless.
        self.buffer: deque[DepthEvent] = deque(maxlen=max_buffer)
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.state = WAIT
        self.last_u = 0

    def reset(self) -> None:
        """Forget everything (connection lost): the next events are buffered for a fresh snapshot."""
        self.state = WAIT
        self.buffer.clear()
        self.bids.clear()
        self.asks.clear()
        self.last_u = 0

    @property
    def synced(self) -> bool:
        return self.state == SYNCED

    def on_event(self, ev: DepthEvent) -> str:
        if self.state == WAIT:
            if self.buffer and ev.u <= self.buffer[-1].u:
                return IGNORED  # duplicate of a buffered event
            if self.buffer and ev.pu != self.buffer[-1].u:
                self.buffer.clear()  # the chain broke while waiting: only what follows can bridge a snapshot
            self.buffer.append(ev)
            return BUFFERED
        if self.state == BRIDGE:
            if ev.u < self.last_u:
                return IGNORED
            if ev.U <= self.last_u <= ev.u or ev.pu == self.last_u:
                self._apply(ev)
                self.state = SYNCED
                return APPLIED
            return self._gap(ev)
        if ev.pu == self.last_u:
            self._apply(ev)
            return APPLIED
        if ev.u <= self.last_u:
            return IGNORED
        return self._gap(ev)

    def apply_snapshot(self, snap: DepthSnapshot) -> str:
        """Load a snapshot and replay the buffer: APPLIED (synced), BRIDGING (wait for live events) or GAP
        (the snapshot is older than the buffered stream: fetch a newer one; the buffer is kept)."""
        pending = list(self.buffer)
        self.buffer.clear()
        self.bids = {p: q for p, q in snap.bids if q}
        self.asks = {p: q for p, q in snap.asks if q}
        self.last_u = snap.last_update_id
        self.state = BRIDGE
        for i, ev in enumerate(pending):
            if self.on_event(ev) == GAP:
                self.buffer.extend(pending[i + 1:])
                return GAP
        return APPLIED if self.state == SYNCED else BRIDGING

    def _apply(self, ev: DepthEvent) -> None:
        _apply_side(self.bids, ev.bids)
        _apply_side(self.asks, ev.asks)
        self.last_u = ev.u

    def _gap(self, ev: DepthEvent) -> str:
        self.reset()
        self.buffer.append(ev)
        return GAP

    def top(self, n: int) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """Best ``n`` levels each side, best first."""
        return tuple(heapq.nlargest(n, self.bids.items())), tuple(heapq.nsmallest(n, self.asks.items()))

    def full(self) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        return tuple(sorted(self.bids.items(), reverse=True)), tuple(sorted(self.asks.items()))


def _apply_side(side: dict[int, int], levels: tuple[Level, ...]) -> None:
    for p, q in levels:
        if q:
            side[p] = q
        else:
            side.pop(p, None)
