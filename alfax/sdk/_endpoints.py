"""Every REST method of the SDK, written once for :class:`~alfax.sdk.client.Client` and
:class:`~alfax.sdk.async_client.AsyncClient`.

Each method only describes its request (HTTP method, path, signed or not, wire parameters, response model) and
hands it to ``self._call``; the sync client performs it and returns the parsed result, the async client returns
a coroutine of it. Names, parameters and return types follow the official ``alfax`` 0.1.1 SDK; the methods marked
"alfax addition" are beyond it.
"""

from __future__ import annotations

import os
from typing import Any, Callable
from uuid import UUID

from . import _signing as w
from ._http import RequestBuilder
from .models import (
    AccountInfo,
    BookTicker,
    ChallengeCheck,
    ChallengeCredentials,
    ChallengeLifecycleState,
    ChallengePurchaseCreated,
    ChallengeRules,
    ChallengeStatus,
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
    UserTrade,
)

DEFAULT_BASE_URL = "https://api.alfax.trade"
ENV_KEY = "ALFAX_KEY"
ENV_SECRET = "ALFAX_SECRET"
ENV_BASE_URL = "ALFAX_BASE_URL"

Parse = Callable[[Any], Any]


def resolve_config(api_key: str | None, api_secret: str | None,
                   base_url: str | None) -> tuple[str | None, str | None, str]:
    """Explicit arguments win; otherwise ALFAX_KEY, ALFAX_SECRET, ALFAX_BASE_URL; else the production URL."""
    key = api_key if api_key is not None else (os.environ.get(ENV_KEY) or None)
    secret = api_secret if api_secret is not None else (os.environ.get(ENV_SECRET) or None)
    url = base_url if base_url is not None else (os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL)
    return key, secret, url.rstrip("/")


def _list_of(model: Any) -> Parse:
    return lambda raw: [model.model_validate(r) for r in raw]


def _book_ticker(raw: Any) -> BookTicker | list[BookTicker]:
    if isinstance(raw, list):
        return [BookTicker.model_validate(r) for r in raw]
    return BookTicker.model_validate(raw)


def _klines(raw: Any) -> list[Kline]:
    return [Kline.from_array(row) for row in raw]


def _server_time(raw: Any) -> int:
    return ServerTimeResponse.model_validate(raw).serverTime


def _listen_key(raw: Any) -> str:
    return ListenKeyResponse.model_validate(raw).listenKey


def _nothing(raw: Any) -> None:
    return None


def _extra_params(extra: dict[str, Any]) -> dict[str, Any]:
    """Further Binance parameters passed through by name; floats are refused here too (money safety)."""
    out: dict[str, Any] = {}
    for k, v in extra.items():
        if isinstance(v, float):
            raise TypeError(f"{k}: float {v!r} not accepted; pass a Decimal, str or int")
        out[k] = w.flag(v) if isinstance(v, bool) else v
    return out


def _id(value: str | UUID) -> str:
    return str(value)


class Endpoints:
    """The REST surface. Subclasses provide ``_call(method, path, *, signed, parse, params)`` and the httpx client
    class (``_http_class``, sync or async); the configuration is resolved once, here."""

    _http_class: Any = None

    def __init__(self, api_key: str | None = None, api_secret: str | None = None, base_url: str | None = None,
                 timeout: float = 10.0, recv_window: int = 5000) -> None:
        key, secret, url = resolve_config(api_key, api_secret, base_url)
        self.api_key = key
        self.base_url = url
        self.recv_window = recv_window
        self._req = RequestBuilder(key, secret, recv_window)
        self._http = self._http_class(base_url=url, timeout=timeout, headers=self._req.headers())

    def _call(self, method: str, path: str, *, signed: bool = False, parse: Parse | None = None,
              params: dict[str, Any] | None = None) -> Any:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    # ------------------------------------------------------------------ market data (public)

    def ping(self) -> dict:
        """GET /fapi/v1/ping -> ``{}``."""
        return self._call("GET", "/fapi/v1/ping")

    def server_time(self) -> int:
        """GET /fapi/v1/time -> server time in ms."""
        return self._call("GET", "/fapi/v1/time", parse=_server_time)

    def exchange_info(self) -> ExchangeInfo:
        """GET /fapi/v1/exchangeInfo."""
        return self._call("GET", "/fapi/v1/exchangeInfo", parse=ExchangeInfo.model_validate)

    def book_ticker(self, symbol: str | None = None) -> BookTicker | list[BookTicker]:
        """GET /fapi/v1/ticker/bookTicker: one symbol's model, or a list of all."""
        return self._call("GET", "/fapi/v1/ticker/bookTicker", parse=_book_ticker, params={"symbol": symbol})

    def klines(self, symbol: str, interval: str, *, start_time: int | None = None, end_time: int | None = None,
               limit: int | None = None) -> list[Kline]:
        """GET /fapi/v1/klines."""
        return self._call("GET", "/fapi/v1/klines", parse=_klines, params={
            "symbol": symbol, "interval": interval, "startTime": w.integer(start_time, "start_time"),
            "endTime": w.integer(end_time, "end_time"), "limit": w.integer(limit, "limit")})

    # ------------------------------------------------------------------ account (signed)

    def account(self) -> AccountInfo:
        """GET /fapi/v2/account (with ``challenge`` when the account is a challenge)."""
        return self._call("GET", "/fapi/v2/account", signed=True, parse=AccountInfo.model_validate)

    def position_risk(self, symbol: str | None = None) -> list[PositionRisk]:
        """GET /fapi/v2/positionRisk."""
        return self._call("GET", "/fapi/v2/positionRisk", signed=True, parse=_list_of(PositionRisk),
                          params={"symbol": symbol})

    def user_trades(self, symbol: str, *, start_time: int | None = None, end_time: int | None = None,
                    from_id: int | None = None, limit: int | None = None) -> list[UserTrade]:
        """GET /fapi/v1/userTrades."""
        return self._call("GET", "/fapi/v1/userTrades", signed=True, parse=_list_of(UserTrade), params={
            "symbol": symbol, "startTime": w.integer(start_time, "start_time"),
            "endTime": w.integer(end_time, "end_time"), "fromId": w.integer(from_id, "from_id"),
            "limit": w.integer(limit, "limit")})

    # ------------------------------------------------------------------ orders (signed)

    def new_order(self, *, symbol: str, side: str, type: str, quantity: Any = None, price: Any = None,
                  time_in_force: str | None = None, stop_price: Any = None, reduce_only: bool | None = None,
                  close_position: bool | None = None, new_client_order_id: str | None = None,
                  position_side: str | None = None, **extra: Any) -> Order:
        """POST /fapi/v1/order. ``quantity``, ``price``, ``stop_price``: Decimal, str or int (never float).

        ``extra``: further Binance parameters by their wire name (``workingType="MARK_PRICE"``,
        ``callbackRate="1"``, ``newOrderRespType="RESULT"``...), an alfax addition."""
        params = {
            "symbol": symbol, "side": side, "type": type, "quantity": w.money(quantity, "quantity"),
            "price": w.money(price, "price"), "timeInForce": time_in_force,
            "stopPrice": w.money(stop_price, "stop_price"), "reduceOnly": w.flag(reduce_only),
            "closePosition": w.flag(close_position), "newClientOrderId": new_client_order_id,
            "positionSide": position_side}
        params.update(_extra_params(extra))
        return self._call("POST", "/fapi/v1/order", signed=True, parse=Order.model_validate, params=params)

    def cancel_order(self, *, symbol: str, order_id: int | None = None,
                     orig_client_order_id: str | None = None) -> Order:
        """DELETE /fapi/v1/order."""
        return self._call("DELETE", "/fapi/v1/order", signed=True, parse=Order.model_validate, params={
            "symbol": symbol, "orderId": w.integer(order_id, "order_id"), "origClientOrderId": orig_client_order_id})

    def get_order(self, *, symbol: str, order_id: int | None = None,
                  orig_client_order_id: str | None = None) -> Order:
        """GET /fapi/v1/order."""
        return self._call("GET", "/fapi/v1/order", signed=True, parse=Order.model_validate, params={
            "symbol": symbol, "orderId": w.integer(order_id, "order_id"), "origClientOrderId": orig_client_order_id})

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """GET /fapi/v1/openOrders."""
        return self._call("GET", "/fapi/v1/openOrders", signed=True, parse=_list_of(Order),
                          params={"symbol": symbol})

    def all_orders(self, *, symbol: str, order_id: int | None = None, start_time: int | None = None,
                   end_time: int | None = None, limit: int | None = None) -> list[Order]:
        """GET /fapi/v1/allOrders."""
        return self._call("GET", "/fapi/v1/allOrders", signed=True, parse=_list_of(Order), params={
            "symbol": symbol, "orderId": w.integer(order_id, "order_id"),
            "startTime": w.integer(start_time, "start_time"), "endTime": w.integer(end_time, "end_time"),
            "limit": w.integer(limit, "limit")})

    def change_leverage(self, *, symbol: str, leverage: int) -> LeverageResponse:
        """POST /fapi/v1/leverage."""
        return self._call("POST", "/fapi/v1/leverage", signed=True, parse=LeverageResponse.model_validate,
                          params={"symbol": symbol, "leverage": w.integer(leverage, "leverage")})

    # ------------------------------------------------------------------ listen keys (API key only, unsigned)

    def new_listen_key(self) -> str:
        """POST /fapi/v1/listenKey -> the key."""
        return self._call("POST", "/fapi/v1/listenKey", parse=_listen_key)

    def keepalive_listen_key(self) -> None:
        """PUT /fapi/v1/listenKey."""
        return self._call("PUT", "/fapi/v1/listenKey", parse=_nothing)

    def close_listen_key(self) -> None:
        """DELETE /fapi/v1/listenKey."""
        return self._call("DELETE", "/fapi/v1/listenKey", parse=_nothing)

    # ------------------------------------------------------------------ challenges (alfax extensions, signed)

    def challenge_status(self) -> ChallengeStatus:
        """GET /fapi/v1/challenge."""
        return self._call("GET", "/fapi/v1/challenge", signed=True, parse=ChallengeStatus.model_validate)

    def challenge(self) -> ChallengeStatus:
        """Alias of :meth:`challenge_status` (as in the official SDK)."""
        return self.challenge_status()

    def get_challenge_status(self) -> ChallengeStatus:
        """Alias of :meth:`challenge_status`, the name the alfax documentation's quick start uses."""
        return self.challenge_status()

    def challenge_rules(self) -> ChallengeRules:
        """GET /fapi/v1/challenge/rules."""
        return self._call("GET", "/fapi/v1/challenge/rules", signed=True, parse=ChallengeRules.model_validate)

    def create_challenge_purchase(self, *, product_id: str, provider: str = "stub") -> ChallengePurchaseCreated:
        """POST /fapi/v1/challenge/purchase."""
        return self._call("POST", "/fapi/v1/challenge/purchase", signed=True,
                          parse=ChallengePurchaseCreated.model_validate,
                          params={"productId": product_id, "provider": provider})

    def challenge_lifecycle(self, challenge_id: str | UUID) -> ChallengeLifecycleState:
        """GET /fapi/v1/challenge/lifecycle (PascalCase answer)."""
        return self._call("GET", "/fapi/v1/challenge/lifecycle", signed=True,
                          parse=ChallengeLifecycleState.model_validate, params={"challengeId": _id(challenge_id)})

    def request_payout(self, *, challenge_id: str | UUID, amount: Any, currency: str = "USDT") -> PayoutCreated:
        """POST /fapi/v1/payout. ``amount``: Decimal, str or int (never float)."""
        return self._call("POST", "/fapi/v1/payout", signed=True, parse=PayoutCreated.model_validate, params={
            "challengeId": _id(challenge_id), "amount": w.money(amount, "amount"), "currency": currency})

    def approve_payout(self, payout_id: str | UUID) -> dict:
        """POST /fapi/v1/payout/approve (operator key; otherwise HTTP 403)."""
        return self._call("POST", "/fapi/v1/payout/approve", signed=True, params={"id": _id(payout_id)})

    def reject_payout(self, payout_id: str | UUID, reason: str) -> dict:
        """POST /fapi/v1/payout/reject (operator key)."""
        return self._call("POST", "/fapi/v1/payout/reject", signed=True,
                          params={"id": _id(payout_id), "reason": reason})

    def get_payout(self, payout_id: str | UUID) -> PayoutState:
        """GET /fapi/v1/payout (PascalCase answer)."""
        return self._call("GET", "/fapi/v1/payout", signed=True, parse=PayoutState.model_validate,
                          params={"id": _id(payout_id)})

    # ------------------------------------------------------------------ alfax additions

    def challenge_check(self, symbol: str, side: str, type: str, quantity: Any, price: Any = None,
                        stop_price: Any = None, *, reduce_only: bool | None = None, **extra: Any) -> ChallengeCheck:
        """POST /fapi/v1/challenge/check: would this order breach a limit? (alfax addition)

        ``decision`` is ``allow``, ``reduce`` (``maxSafeQty`` is the largest safe quantity) or ``block``."""
        params = {"symbol": symbol, "side": side, "type": type, "quantity": w.money(quantity, "quantity"),
                  "price": w.money(price, "price"), "stopPrice": w.money(stop_price, "stop_price"),
                  "reduceOnly": w.flag(reduce_only)}
        params.update(_extra_params(extra))
        return self._call("POST", "/fapi/v1/challenge/check", signed=True, parse=ChallengeCheck.model_validate,
                          params=params)

    def challenge_credentials(self, purchase_id: str | UUID) -> ChallengeCredentials:
        """GET /fapi/v1/challenge/purchase: a purchase's state and, once only, its API key and secret
        (alfax addition)."""
        return self._call("GET", "/fapi/v1/challenge/purchase", signed=True,
                          parse=ChallengeCredentials.model_validate, params={"purchaseId": _id(purchase_id)})

    def payout_eligibility(self) -> PayoutEligibility:
        """GET /fapi/v1/payout/eligibility: ``available`` amount and the ``blockers`` (alfax addition)."""
        return self._call("GET", "/fapi/v1/payout/eligibility", signed=True,
                          parse=PayoutEligibility.model_validate)
