"""The alfax Python SDK, inside the venue's own package: code written for the official ``alfax`` SDK (0.1.1)
runs unchanged, ``from alfax import Client, MarketStream, UserStream`` (re-exported lazily by ``alfax``).

Same names, constructor parameters, methods, environment variables (ALFAX_KEY, ALFAX_SECRET, ALFAX_BASE_URL),
errors and pydantic return models as the official SDK; additions: :class:`AsyncClient`, ``challenge_check``,
``challenge_credentials``, ``payout_eligibility``, :class:`ChallengeUpdate` / :func:`parse_event`, synchronous
stream iteration, typed alfax extension fields on :class:`ChallengeStatus`; for the signal hub an AlphaHub-style
:class:`Connection` (Phoenix channels) and :class:`SignalStream` (SSE), both resuming from their last sequence.

Money: parameters accept Decimal, str or int and are sent as plain decimal strings; floats raise TypeError.
Response money fields are Decimal; a JSON float in a money field raises TypeError.
"""

from .alphahub import Connection
from .async_client import AsyncClient
from .client import Client
from .errors import AlfaxAPIError, AlfaxError, AuthError, OrderError, RateLimitError
from .models import (
    AccountInfo,
    AccountPosition,
    AssetBalance,
    BookTicker,
    ChallengeCheck,
    ChallengeCredentials,
    ChallengeLifecycleState,
    ChallengePurchaseCreated,
    ChallengeRules,
    ChallengeStage,
    ChallengeStatus,
    ChallengeUpdate,
    ExchangeInfo,
    Kline,
    LeverageResponse,
    ListenKeyResponse,
    Order,
    PayoutCreated,
    PayoutEligibility,
    PayoutState,
    PositionRisk,
    ServerTimeResponse,
    SymbolFilter,
    SymbolInfo,
    UserTrade,
    parse_event,
)
from .sse_client import SignalStream, SignalStreamError
from .streams import MarketStream, UserStream

__all__ = [
    "Client", "AsyncClient", "MarketStream", "UserStream", "Connection", "SignalStream", "SignalStreamError",
    "AlfaxError", "AlfaxAPIError", "AuthError", "RateLimitError", "OrderError",
    "AccountInfo", "AccountPosition", "AssetBalance", "BookTicker", "ChallengeCheck", "ChallengeCredentials",
    "ChallengeLifecycleState",
    "ChallengePurchaseCreated", "ChallengeRules", "ChallengeStage", "ChallengeStatus", "ChallengeUpdate",
    "ExchangeInfo", "Kline", "LeverageResponse", "ListenKeyResponse", "Order", "PayoutCreated", "PayoutEligibility",
    "PayoutState", "PositionRisk", "ServerTimeResponse", "SymbolFilter", "SymbolInfo", "UserTrade", "parse_event",
]
