"""alfax: a Binance USDT-M compatible simulated futures venue, and its Python SDK.

The SDK (``alfax.sdk``) is re-exported here lazily, so code written for the official ``alfax`` SDK runs
unchanged (``from alfax import Client, MarketStream, UserStream, OrderError``), while ``import alfax`` alone
(as the server does) stays cheap and never imports pydantic or httpx.
"""

__version__ = "0.1.0"

_SDK_NAMES = frozenset({
    "Client", "AsyncClient", "MarketStream", "UserStream",
    "AlfaxError", "AlfaxAPIError", "AuthError", "RateLimitError", "OrderError",
    "AccountInfo", "AccountPosition", "AssetBalance", "BookTicker", "ChallengeCheck", "ChallengeCredentials",
    "ChallengeLifecycleState",
    "ChallengePurchaseCreated", "ChallengeRules", "ChallengeStage", "ChallengeStatus", "ChallengeUpdate",
    "ExchangeInfo", "Kline", "LeverageResponse", "ListenKeyResponse", "Order", "PayoutCreated", "PayoutEligibility",
    "PayoutState", "PositionRisk", "ServerTimeResponse", "SymbolFilter", "SymbolInfo", "UserTrade", "parse_event",
})


def __getattr__(name: str):
    if name in _SDK_NAMES:
        from . import sdk

        value = getattr(sdk, name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'alfax' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SDK_NAMES)
