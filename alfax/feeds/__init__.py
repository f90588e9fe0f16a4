"""Market-data sources: replay (bundled real data, bridged), files (Binance public-data formats) and binance
(live public streams).

``make_feed("replay" | "files:PATH" | "binance[:SYM1,SYM2]", instruments, speed)`` builds one; see ``base.Feed``
for the interface. The binance feed additionally has ``async start()``/``stop()`` and ``stale_symbols(now_ms)``.
"""

from __future__ import annotations

from collections.abc import Mapping

from alfax.domain.instruments import Instrument

from .base import Feed
from .files import FilesFeed
from .replay import REAL_VS_DERIVED, ReplayFeed


def make_feed(spec: str, instruments: Mapping[str, Instrument], speed: float = 1.0, *, seed: int = 7,
              start_ms: int | None = None, rest_url: str | None = None, ws_url: str | None = None,
              **binance_opts) -> Feed:
    """"replay" (optionally "replay:SYM1,SYM2"), "files:PATH" or "binance" (optionally "binance:SYM1,SYM2").

    ``rest_url``/``ws_url`` (and ``binance_opts``: depth_levels, stale_after_ms, clock, backoff_min_s,
    backoff_max_s) configure the binance feed; replay and files ignore the URLs. The live feed ignores
    ``speed``, ``seed`` and ``start_ms``.
    """
    kind, _, arg = spec.partition(":")
    default_syms = tuple(s for s in ("BTCUSDT", "ETHUSDT") if s in instruments)
    if kind == "binance":
        syms = tuple(s for s in arg.split(",") if s.strip()) if arg else default_syms
        urls = {k: v for k, v in (("rest_url", rest_url), ("ws_url", ws_url)) if v}
        from .binance import BinanceFeed  # lazy: websockets/httpx are only needed by the live feed

        return BinanceFeed(instruments, syms, **urls, **binance_opts)
    if binance_opts:
        raise TypeError(f"options {sorted(binance_opts)} apply to the binance feed only")
    if kind == "replay":
        syms = tuple(s for s in arg.split(",") if s) if arg else default_syms
        return ReplayFeed(instruments, symbols=syms, speed=speed, seed=seed, start_ms=start_ms)
    if kind == "files":
        if not arg:
            raise ValueError("files feed needs a path: files:PATH")
        return FilesFeed(instruments, arg, speed=speed, seed=seed, start_ms=start_ms)
    raise ValueError(f"unknown feed spec {spec!r} (use 'replay', 'files:PATH' or 'binance[:SYM1,SYM2]')")


def __getattr__(name: str):
    if name == "BinanceFeed":
        from .binance import BinanceFeed

        return BinanceFeed
    raise AttributeError(name)


__all__ = ["BinanceFeed", "Feed", "FilesFeed", "REAL_VS_DERIVED", "ReplayFeed", "make_feed"]
