"""Deterministic single-writer engine: ``Venue.handle(command) -> list[Event]``."""

from .clock import Clock, FixedClock, ManualClock
from .summary import AccountSummary, MarketState, PositionMetrics
from .venue import Venue

__all__ = ["AccountSummary", "Clock", "FixedClock", "ManualClock", "MarketState", "PositionMetrics", "Venue"]
