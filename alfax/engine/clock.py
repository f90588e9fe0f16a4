"""Clocks. The engine reads time only through ``Clock.now_ms()``, once per ``Venue.handle``.

The live (wall) clock belongs to the composition root; here are the deterministic ones used by tests,
backtests and replay.
"""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...


class FixedClock:
    """Always returns the same instant (replay sets ``ms`` to each journaled timestamp)."""

    __slots__ = ("ms",)

    def __init__(self, ms: int = 0) -> None:
        self.ms = ms

    def now_ms(self) -> int:
        return self.ms

    def set(self, ms: int) -> None:
        self.ms = ms


class ManualClock(FixedClock):
    """A clock tests move forward explicitly."""

    __slots__ = ()

    def advance(self, ms: int) -> int:
        self.ms += ms
        return self.ms
