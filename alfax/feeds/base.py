"""Feed interface and small helpers shared by the feeds.

A feed is a market-data *source*: it turns time into domain commands (BookUpdate, TradePrint, MarkPriceUpdate).
Feeds hold no asyncio; the runtime calls ``poll(now_ms)`` (typically every 50-250 ms) and hands each command to
the engine with the clock at ``now_ms``. ``history(end_ms)`` replays what the feed would have produced before
``end_ms`` (>= 26 h) so the marketdata read model can be prefilled at start; it is never sent to the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from alfax.domain.commands import Command
from alfax.domain.instruments import Instrument

STEP_MS = 250  # feed grid: one book update per symbol per step
MARK_MS = 1_000  # one MarkPriceUpdate per symbol per second
HISTORY_MS = 26 * 3_600_000 + 5 * 60_000  # history() covers at least this much (1500 one-minute klines = 25 h)
MAX_CATCHUP_MS = 10_000  # poll() after a long pause produces at most this much backlog, then skips ahead
DAY_MS = 86_400_000


@runtime_checkable
class Feed(Protocol):
    symbols: list[str]

    def poll(self, now_ms: int) -> list[Command]:
        """All commands due up to ``now_ms`` (inclusive), in time order."""
        ...

    def history(self, end_ms: int) -> Iterable[tuple[int, Command]]:
        """(ts, command) of what the feed produced before ``end_ms``, in time order (marketdata prefill only)."""
        ...


def tick_floor(price_raw: int, tick: int) -> int:
    return price_raw // tick * tick


def tick_ceil(price_raw: int, tick: int) -> int:
    return -((-price_raw) // tick) * tick


def price_to_tick(value: float, inst: Instrument) -> int:
    """Nearest valid price raw (on tick, inside PRICE_FILTER) for a float price in quote units."""
    tick = inst.tick_size
    raw = int(round(value * 10**inst.price_precision / tick)) * tick
    return clamp_price(raw, inst)


def clamp_price(raw: int, inst: Instrument) -> int:
    lo = tick_ceil(inst.min_price, inst.tick_size)
    hi = tick_floor(inst.max_price, inst.tick_size)
    return lo if raw < lo else hi if raw > hi else raw


def qty_to_step(value: float, inst: Instrument, max_raw: int | None = None) -> int:
    """Quantity raw rounded to stepSize, at least minQty (and at most ``max_raw`` or maxQty)."""
    step = inst.step_size
    raw = int(round(value * 10**inst.quantity_precision / step)) * step
    lo = max(inst.min_qty, step)
    hi = inst.max_qty if max_raw is None else min(max_raw, inst.max_qty)
    return lo if raw < lo else hi if raw > hi else raw
