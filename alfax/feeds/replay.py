"""ReplayFeed: the offline default feed, bridged from the bundled real BTC and ETH bars (see ``synth``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from alfax.domain.commands import Command
from alfax.domain.instruments import Instrument
from alfax.domain.pricing import DEFAULT_FUNDING_CAP, prev_funding_time

from .bars import Bar, bundled_series
from .base import HISTORY_MS, MAX_CATCHUP_MS, STEP_MS
from .synth import PathSource

REAL_VS_DERIVED = (
    "Real: the hourly BTC/USD bars (Coinbase, 2017-07..2019-10) and daily ETH/USD bars (Bitfinex, same window) "
    "bundled in alfax/data: every replayed bar opens, touches its high and low and closes at the real prices, "
    "rounded to the tick, with trade volume proportional to the real bar volume. "
    "Derived (synthetic, seeded): everything inside a bar: the intrabar price path (a Brownian bridge through "
    "open, high, low and close), individual trades and their sizes and sides, best quotes and the spread, "
    "the 20-level order book, the index price (mid plus small noise standing in for other exchanges), and the "
    "mark price and funding rates computed from them with Binance's formulas. The data is shifted to the present "
    "and played forwards then backwards in a loop, so dates and the long-run direction are not real."
)


DEFAULT_START_MS = 1_767_225_600_000  # 2026-01-01 00:00 UTC: data day 0 (2017-07-02) is replayed on that day


def _grid_ceil(t: int) -> int:
    return -((-t) // STEP_MS) * STEP_MS


class GridFeed:
    """Common driver: a set of per-symbol sources stepped on the STEP_MS grid (live poll + history + warm-up)."""

    symbols: list[str]

    history_ms: int = HISTORY_MS  # how far back history() starts (then rounded down to a funding time)

    def __init__(self, start_ms: int | None) -> None:
        # Default: a fixed anchor, so the path is a pure function of wall time and a restarted server continues
        # exactly where it left off (no price jump under open positions). Pass start_ms=now for a fresh start.
        self.start_ms = DEFAULT_START_MS if start_ms is None else int(start_ms)
        self._live: list | None = None
        self._next_t = _grid_ceil(self.start_ms)

    def _make_sources(self) -> list:  # pragma: no cover - abstract
        raise NotImplementedError

    def _warm(self, sources: list, until_t: int) -> None:
        """Rebuild the mark state (funding accumulator, 5-min basis, last price) without emitting anything."""
        t = _grid_ceil(min(prev_funding_time(until_t), until_t - 6 * 60_000))
        sink: list = []
        while t < until_t:
            for src in sources:
                src.produce(t, sink, 0)
            t += STEP_MS

    def poll(self, now_ms: int) -> list[Command]:
        if self._live is None and self._next_t > now_ms:  # start_ms in the future: output starts now
            self._next_t = _grid_ceil(now_ms)
        if now_ms - self._next_t > MAX_CATCHUP_MS:  # long pause (or first poll long after start): skip ahead
            self._next_t = _grid_ceil(now_ms - MAX_CATCHUP_MS)
        if self._live is None:
            self._live = self._make_sources()
            self._warm(self._live, self._next_t)
        out: list[Command] = []
        srcs = self._live
        t = self._next_t
        while t <= now_ms:
            for src in srcs:
                src.produce(t, out, 2)
            t += STEP_MS
        self._next_t = t
        return out

    def history(self, end_ms: int) -> Iterator[tuple[int, Command]]:
        sources = self._make_sources()
        emit_from = _grid_ceil(end_ms - self.history_ms)
        # state (funding average) starts at a funding time; output starts history_ms before end_ms
        t = _grid_ceil(prev_funding_time(emit_from))
        sink: list[Command] = []
        while t < emit_from:
            for src in sources:
                src.produce(t, sink, 0)
            t += STEP_MS
        buf: list[Command] = []
        while t < end_ms:
            force = t + STEP_MS >= end_ms
            for src in sources:
                src.produce(t, buf, 1, force)
            for cmd in buf:
                yield t, cmd
            buf.clear()
            t += STEP_MS
        # If live output has not started yet, it continues exactly where history ended (same sources and state),
        # so the read model never sees a step twice even when end_ms is later than start_ms.
        if self._live is None:
            self._live = sources
            self._next_t = t


class ReplayFeed(GridFeed):
    """Offline replay of the bundled real bars; see ``synth`` for the model and ``REAL_VS_DERIVED``.

    Deterministic given (seed, start_ms, speed). ``speed`` N plays the data N times faster than wall time; all
    timestamps stay wall-time based. ``start_ms`` is the feed time at which the data's first day starts (at its
    time of day); the default is a fixed anchor (``DEFAULT_START_MS``) so restarts continue the same path.
    ``series`` replaces the bundled bars (tests, or custom OHLCV).
    """

    def __init__(self, instruments: Mapping[str, Instrument], symbols: Sequence[str] = ("BTCUSDT", "ETHUSDT"),
                 speed: float = 1.0, seed: int = 7, start_ms: int | None = None,
                 series: Mapping[str, Sequence[Bar]] | None = None, trade_rate: float = 3.0,
                 funding_cap: int = DEFAULT_FUNDING_CAP, mirror: bool = True) -> None:
        super().__init__(start_ms)
        self.instruments = instruments
        self.symbols = list(symbols)
        for s in self.symbols:
            if s not in instruments:
                raise KeyError(f"unknown instrument {s}")
        self.speed = float(speed)
        self.seed = seed
        self.trade_rate = trade_rate
        self.funding_cap = funding_cap
        self.mirror = mirror
        self.series = {s: tuple(series[s]) if series is not None else bundled_series(s) for s in self.symbols}

    def _make_sources(self) -> list[PathSource]:
        return [PathSource(self.instruments[s], self.series[s], seed=self.seed, start_ms=self.start_ms,
                           speed=self.speed, mirror=self.mirror, trade_rate=self.trade_rate,
                           funding_cap=self.funding_cap) for s in self.symbols]
