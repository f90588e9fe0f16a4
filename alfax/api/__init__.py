"""The Binance USDT-M edge: ``create_app(ctx)`` builds the Starlette ASGI app.

Modules: ``context`` (ApiContext + protocols), ``endpoints`` (THE endpoint table), ``app`` (dispatcher),
``auth`` (API key, HMAC over raw bytes, recvWindow), ``params`` (fast parser, typed getters), ``ratelimit``
(weights, order counts, 429/418), ``codec`` (domain → Binance JSON), ``market``/``account``/``trading``/
``listenkeys``/``admin`` (handlers), ``openapi`` (the generated /alfax-v1.yaml).
"""
