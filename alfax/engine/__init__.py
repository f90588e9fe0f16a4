"""Deterministic single-writer engine: ``Venue.handle(command) -> list[Event]`` (see docs/DESIGN.md).

Modules, in stage order:
- ``venue``       facade: state, command dispatch, event/id counters, bookkeeping, queries, snapshot/hash
- ``risk``        R1: symbol filters, margin figures, margin pre-check, open-order reservations (pure reads)
- ``ordering``    place (regular / conditional), cancel, cancel-all, amend, countdown; trigger -> child order
- ``book``        reference L2 book + last/mark/index/funding + own-consumption memory (``RefMarket``)
- ``resting``     price-time heaps of our users' resting LIMIT orders (lazy deletion, O(1) peek)
- ``triggers``    per working type ">= X" / "<= X" trigger heaps + trailing-stop set
- ``matching``    taker walk execution; maker fills on trade-through and quote-cross
- ``settlement``  R2: positions, wallet, fees, realized PnL, income and account events
- ``market``      reference market-data commands (book, trade, mark) -> fills, triggers, liquidation
- ``funding``, ``liquidation``, ``timers`` (GTD expiry, countdown cancel-all, funding schedule)
- ``accounts``    account commands (create, transfer, leverage, margin type, position mode, isolated margin)
- ``queries``, ``summary``  read models for the edge; ``persist`` snapshot/restore/state hash
- ``clock``       Clock protocol, FixedClock, ManualClock; ``copying`` fast event snapshots
"""

from .clock import Clock, FixedClock, ManualClock
from .summary import AccountSummary, MarketState, PositionMetrics
from .venue import Venue

__all__ = ["AccountSummary", "Clock", "FixedClock", "ManualClock", "MarketState", "PositionMetrics", "Venue"]
