"""WebSocket payload encoders (contract §4): pure functions from domain events / market rows to Binance dicts.

No sockets and no server wiring here; the composition root will route the payloads. Like the other consumers,
this package imports only ``domain`` (and ``engine`` for types), never ``api``, ``ledger``, ``feeds`` or
``marketdata``.
"""


def __getattr__(name: str):
    """``from alfax.streams import MarketStream, UserStream`` is the official SDK's import path; this package is
    the server's WebSocket side, so the SDK's stream clients are forwarded lazily."""
    if name in ("MarketStream", "UserStream"):
        from alfax.sdk import streams as _sdk_streams

        return getattr(_sdk_streams, name)
    raise AttributeError(f"module 'alfax.streams' has no attribute {name!r}")
