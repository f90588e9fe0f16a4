"""WebSocket payload encoders (contract §4): pure functions from domain events / market rows to Binance dicts.

No sockets and no server wiring here; the composition root will route the payloads. Like the other consumers,
this package imports only ``domain`` (and ``engine`` for types), never ``api``, ``ledger``, ``feeds`` or
``marketdata``.
"""
