"""Market-data sources: replay (bundled real data, bridged) and files (Binance public-data formats).

``make_feed("replay" | "files:PATH", instruments, speed)`` builds one; see ``base.Feed`` for the interface.
"""

from __future__ import annotations

from collections.abc import Mapping

from alfax.domain.instruments import Instrument

from .base import Feed
from .files import FilesFeed
from .replay import REAL_VS_DERIVED, ReplayFeed


def make_feed(spec: str, instruments: Mapping[str, Instrument], speed: float = 1.0, *, seed: int = 7,
              start_ms: int | None = None) -> Feed:
    """"replay" (optionally "replay:SYM1,SYM2") or "files:PATH"."""
    kind, _, arg = spec.partition(":")
    if kind == "replay":
        syms = tuple(s for s in arg.split(",") if s) if arg else tuple(s for s in ("BTCUSDT", "ETHUSDT") if s in instruments)
        return ReplayFeed(instruments, symbols=syms, speed=speed, seed=seed, start_ms=start_ms)
    if kind == "files":
        if not arg:
            raise ValueError("files feed needs a path: files:PATH")
        return FilesFeed(instruments, arg, speed=speed, seed=seed, start_ms=start_ms)
    raise ValueError(f"unknown feed spec {spec!r} (use 'replay' or 'files:PATH')")


__all__ = ["Feed", "FilesFeed", "REAL_VS_DERIVED", "ReplayFeed", "make_feed"]
