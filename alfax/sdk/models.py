"""Response models of the alfax SDK: pydantic v2, the same names and fields as the official ``alfax`` 0.1.1 SDK.

Rules shared by every model:

* ``populate_by_name=True, extra="allow"``: unknown fields the server adds are kept (``model.model_extra``).
* Money and quantity fields are :class:`decimal.Decimal`, parsed from a JSON string or int. A JSON float is
  rejected with ``TypeError`` (as the official SDK does): a float has already lost precision on the way.
  For optional money fields ``null`` and ``""`` mean ``None``.
* Models can also be read like a mapping, ``status["currentEquity"]`` (extra fields too), which is what the
  documentation's quick start does.

Beyond the official surface: typed alfax extension fields on :class:`ChallengeStatus`, and the models
:class:`ChallengeCheck`, :class:`ChallengeCredentials`, :class:`PayoutEligibility`, :class:`ChallengeUpdate`
with :func:`parse_event`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Optional
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict


def to_decimal(v: Any) -> Decimal:
    """A wire money value as Decimal: str, int or Decimal; a float (or bool) raises TypeError."""
    if isinstance(v, Decimal):
        return v
    if isinstance(v, bool) or isinstance(v, float):
        raise TypeError(f"{type(v).__name__} received for a money field ({v!r}): the API sends amounts as strings")
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, str):
        try:
            d = Decimal(v.strip())
        except InvalidOperation:
            raise ValueError(f"not a decimal number: {v!r}") from None
        if not d.is_finite():
            raise ValueError(f"not a finite decimal number: {v!r}")
        return d
    raise TypeError(f"{type(v).__name__} received for a money field ({v!r})")


def to_optional_decimal(v: Any) -> Decimal | None:
    if v is None or v == "":
        return None
    return to_decimal(v)


Money = Annotated[Decimal, BeforeValidator(to_decimal)]
OptMoney = Annotated[Optional[Decimal], BeforeValidator(to_optional_decimal)]


class _Base(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    def __getitem__(self, key: str) -> Any:
        """``model["field"]``: a declared field or an extra field the server sent."""
        if key in type(self).model_fields:
            return getattr(self, key)
        extra = self.model_extra or {}
        if key in extra:
            return extra[key]
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (key in type(self).model_fields or key in (self.model_extra or {}))


# --------------------------------------------------------------------------------------------------- market data


class ServerTimeResponse(_Base):
    serverTime: int


class ListenKeyResponse(_Base):
    listenKey: str


class BookTicker(_Base):
    symbol: str
    bidPrice: Money
    bidQty: Money
    askPrice: Money
    askQty: Money
    time: Optional[int] = None


class SymbolFilter(_Base):
    """One entry of ``ExchangeInfo.symbols[].filters`` (every key kept as sent)."""


class SymbolInfo(_Base):
    symbol: str
    status: str
    baseAsset: str
    quoteAsset: str
    pricePrecision: int
    quantityPrecision: int
    filters: list[dict[str, Any]] = []


class ExchangeInfo(_Base):
    timezone: str
    serverTime: int
    symbols: list[SymbolInfo]


class Kline(_Base):
    """One candle, from Binance's array form
    ``[openTime, open, high, low, close, volume, closeTime, quoteVolume, trades, takerBuyBase, takerBuyQuote, _]``."""

    openTime: int
    open: Money
    high: Money
    low: Money
    close: Money
    volume: Money
    closeTime: int
    quoteVolume: Money
    trades: int
    takerBuyBase: Money
    takerBuyQuote: Money

    @classmethod
    def from_array(cls, row: list[Any]) -> "Kline":
        names = ("openTime", "open", "high", "low", "close", "volume", "closeTime", "quoteVolume", "trades",
                 "takerBuyBase", "takerBuyQuote")
        if len(row) < len(names):
            raise ValueError(f"kline array has {len(row)} items, expected at least {len(names)}")
        data = dict(zip(names, row))
        for k in ("openTime", "closeTime", "trades"):
            data[k] = int(data[k])
        return cls.model_validate(data)


# --------------------------------------------------------------------------------------------------- orders


class Order(_Base):
    orderId: Optional[int] = None
    symbol: str
    status: str
    clientOrderId: Optional[str] = None
    price: Money
    avgPrice: OptMoney = None
    origQty: Money
    executedQty: Money
    cumQuote: OptMoney = None
    timeInForce: Optional[str] = None
    type: str
    reduceOnly: bool = False
    closePosition: bool = False
    side: str
    positionSide: str = "BOTH"
    stopPrice: OptMoney = None
    workingType: Optional[str] = None
    priceProtect: bool = False
    origType: Optional[str] = None
    updateTime: Optional[int] = None


# --------------------------------------------------------------------------------------------------- account


class AssetBalance(_Base):
    asset: str
    walletBalance: Money
    unrealizedProfit: Money
    marginBalance: Money
    availableBalance: Money


class PositionRisk(_Base):
    symbol: str
    positionAmt: Money
    entryPrice: Money
    markPrice: Money
    unRealizedProfit: Money
    liquidationPrice: Money
    leverage: Money
    maxNotionalValue: OptMoney = None
    marginType: str
    isolatedMargin: Money
    positionSide: str = "BOTH"
    updateTime: Optional[int] = None


class AccountPosition(_Base):
    """One entry of ``AccountInfo.positions``.

    Binance's ``/fapi/v2/account`` positions carry ``unrealizedProfit``, ``initialMargin``, ``isolated``... but not
    ``markPrice``, ``unRealizedProfit``, ``liquidationPrice``, ``marginType``, ``isolatedMargin``; the official SDK
    types them as :class:`PositionRisk` and so fails on a Binance-shaped account. Here every field is optional:
    both shapes parse, and whatever the server sends is typed (Decimal for amounts).
    """

    symbol: str
    positionAmt: OptMoney = None
    entryPrice: OptMoney = None
    leverage: OptMoney = None
    unrealizedProfit: OptMoney = None
    initialMargin: OptMoney = None
    maintMargin: OptMoney = None
    positionInitialMargin: OptMoney = None
    openOrderInitialMargin: OptMoney = None
    isolated: Optional[bool] = None
    isolatedWallet: OptMoney = None
    notional: OptMoney = None
    maxNotional: OptMoney = None
    breakEvenPrice: OptMoney = None
    positionSide: str = "BOTH"
    updateTime: Optional[int] = None
    # the PositionRisk fields the official SDK requires here
    markPrice: OptMoney = None
    unRealizedProfit: OptMoney = None
    liquidationPrice: OptMoney = None
    marginType: Optional[str] = None
    isolatedMargin: OptMoney = None
    maxNotionalValue: OptMoney = None


class ChallengeStatus(_Base):
    """``GET /fapi/v1/challenge`` (and ``AccountInfo.challenge``). Amounts are USDT."""

    challengeId: Optional[UUID] = None
    stage: Optional[str] = None
    status: Optional[str] = None
    startBalance: OptMoney = None
    currentEquity: OptMoney = None
    peakEquity: OptMoney = None
    dayOpenEquity: OptMoney = None
    profitTarget: OptMoney = None
    profitCurrent: OptMoney = None
    maxDailyDrawdown: OptMoney = None
    currentDailyDrawdown: OptMoney = None
    maxTotalDrawdown: OptMoney = None
    currentTotalDrawdown: OptMoney = None
    tradingDays: Optional[int] = None
    minTradingDays: Optional[int] = None
    maxLeverage: Optional[int] = None
    startedAt: Optional[int] = None
    dayRolloverUtc: Optional[str] = None
    # alfax extensions (not in the official model, where they arrive as extra strings): typed here
    failReason: Optional[str] = None
    productId: Optional[str] = None
    rulesVersion: Optional[str] = None
    walletBalance: OptMoney = None
    dailyFloorEquity: OptMoney = None
    totalFloorEquity: OptMoney = None
    roomDaily: OptMoney = None
    roomTotal: OptMoney = None
    highWaterMark: OptMoney = None
    nextRolloverAt: Optional[int] = None
    bestDayProfit: OptMoney = None
    paidTotal: OptMoney = None
    payoutAvailable: OptMoney = None


class ChallengeStage(_Base):
    name: str
    profitTarget: Money
    maxDailyDrawdown: Money
    maxTotalDrawdown: Money
    minTradingDays: int
    maxDays: Optional[int] = None


class ChallengeRules(_Base):
    productId: Optional[str] = None
    accountSize: OptMoney = None
    currency: Optional[str] = None
    stages: list[ChallengeStage] = []
    maxLeverage: Optional[int] = None
    symbolsWhitelist: list[str] = []
    commissionBps: OptMoney = None
    newsTradingForbidden: bool = False
    payoutSplitBps: Optional[int] = None


class AccountInfo(_Base):
    totalWalletBalance: Money
    totalUnrealizedProfit: Money
    totalMarginBalance: Money
    availableBalance: Money
    maxWithdrawAmount: OptMoney = None
    assets: list[AssetBalance] = []
    positions: list[AccountPosition] = []
    challenge: Optional[ChallengeStatus] = None


class LeverageResponse(_Base):
    leverage: int
    maxNotionalValue: Optional[str] = None
    symbol: str


class UserTrade(_Base):
    id: int
    orderId: int
    symbol: str
    side: str
    price: Money
    qty: Money
    quoteQty: Money
    realizedPnl: Money
    marginAsset: Optional[str] = None
    commission: Money
    commissionAsset: Optional[str] = None
    time: int
    positionSide: str = "BOTH"
    buyer: bool = False
    maker: bool = False


# --------------------------------------------------------------------------------------------------- challenge saga


class ChallengePurchaseCreated(_Base):
    """``POST /fapi/v1/challenge/purchase`` (camelCase)."""

    purchaseId: UUID
    workflowId: str
    runId: str
    status: str


class ChallengeLifecycleState(_Base):
    """``GET /fapi/v1/challenge/lifecycle``: PascalCase keys, as the official SDK expects."""

    ChallengeID: UUID
    Stage: str
    Status: str
    FailReason: str = ""


class PayoutCreated(_Base):
    """``POST /fapi/v1/payout`` (camelCase)."""

    payoutId: UUID
    workflowId: str
    runId: str
    status: str


class PayoutState(_Base):
    """``GET /fapi/v1/payout``: PascalCase keys."""

    PayoutID: UUID
    Status: str
    TxRef: str = ""
    FailReason: str = ""


# --------------------------------------------------------------------------------------------------- alfax additions


class ChallengeCheck(_Base):
    """``POST /fapi/v1/challenge/check``: would this order breach? ``decision`` is allow, reduce or block."""

    decision: str
    reason: str = ""
    maxSafeQty: OptMoney = None
    requestedQty: OptMoney = None
    roomDailyAfter: OptMoney = None
    roomTotalAfter: OptMoney = None
    roomDaily: OptMoney = None
    roomTotal: OptMoney = None
    proposedRisk: OptMoney = None

    @property
    def allowed(self) -> bool:
        return self.decision.lower() == "allow"


class ChallengeCredentials(_Base):
    """``GET /fapi/v1/challenge/purchase``: a purchase's state; ``apiKey``/``apiSecret`` are returned only once."""

    purchaseId: UUID
    status: str
    challengeId: Optional[UUID] = None
    apiKey: Optional[str] = None
    apiSecret: Optional[str] = None


class PayoutEligibility(_Base):
    """``GET /fapi/v1/payout/eligibility``: the amount a payout may ask for now and what blocks one."""

    available: Money
    blockers: list[str] = []

    @property
    def eligible(self) -> bool:
        return not self.blockers


class ChallengeUpdate(ChallengeStatus):
    """The ``challengeUpdate`` user-stream event: Binance envelope plus every ChallengeStatus field."""

    e: str = "challengeUpdate"
    E: Optional[int] = None
    T: Optional[int] = None
    reason: Optional[str] = None
    warnings: list[dict[str, Any]] = []
    newWarnings: list[dict[str, Any]] = []
    breach: Optional[dict[str, Any]] = None


def parse_event(event: Any) -> Any:
    """A user-stream message: a :class:`ChallengeUpdate` for ``{"e": "challengeUpdate", ...}``, else unchanged."""
    if isinstance(event, dict) and event.get("e") == "challengeUpdate":
        return ChallengeUpdate.model_validate(event)
    return event


__all__ = [
    "AccountInfo", "AccountPosition", "AssetBalance", "BookTicker", "ChallengeCheck", "ChallengeCredentials",
    "ChallengeLifecycleState",
    "ChallengePurchaseCreated", "ChallengeRules", "ChallengeStage", "ChallengeStatus", "ChallengeUpdate",
    "ExchangeInfo", "Kline", "LeverageResponse", "ListenKeyResponse", "Money", "OptMoney", "Order", "PayoutCreated",
    "PayoutEligibility", "PayoutState", "PositionRisk", "ServerTimeResponse", "SymbolFilter", "SymbolInfo",
    "UserTrade", "parse_event", "to_decimal",
]
