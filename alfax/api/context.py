"""What the composition root (``alfax.server``) injects into the Binance edge.

The API never imports ``alfax.ledger``, ``alfax.marketdata`` or ``alfax.feeds``: it receives objects that satisfy
the protocols below (docs/DESIGN.md, "Edge context").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Protocol

from alfax.domain.commands import Command
from alfax.domain.enums import Permission
from alfax.domain.events import Event, Income
from alfax.domain.keys import ApiKey
from alfax.domain.orders import AlgoOrder, Order, Trade

if TYPE_CHECKING:  # types only: the edge reads the engine through the queries in docs/DESIGN.md
    from alfax.engine.venue import Venue


class Clock(Protocol):
    def now_ms(self) -> int: ...


class HistoryReader(Protocol):
    """Ledger read models (implemented by ``alfax.ledger.reader.LedgerReader``)."""

    def get_order(self, account_id: int, symbol: str, order_id: int = 0, client_order_id: str = "") -> Order | None: ...

    def all_orders(
        self, account_id: int, symbol: str, order_id: int = 0, start_ms: int = 0, end_ms: int = 0, limit: int = 500
    ) -> list[Order]: ...

    def user_trades(
        self,
        account_id: int,
        symbol: str,
        order_id: int = 0,
        from_id: int = 0,
        start_ms: int = 0,
        end_ms: int = 0,
        limit: int = 500,
    ) -> list[Trade]: ...

    def income(
        self,
        account_id: int,
        symbol: str = "",
        income_type: str = "",
        start_ms: int = 0,
        end_ms: int = 0,
        limit: int = 100,
        page: int = 1,
    ) -> list[Income]: ...

    def get_algo(self, account_id: int, algo_id: int = 0, client_algo_id: str = "") -> AlgoOrder | None: ...

    def all_algos(
        self, account_id: int, symbol: str = "", start_ms: int = 0, end_ms: int = 0, limit: int = 500
    ) -> list[AlgoOrder]: ...


class KeyStore(Protocol):
    """API keys (implemented by ``alfax.ledger.keys.SqliteKeyStore``)."""

    def lookup(self, api_key: str) -> ApiKey | None: ...

    def create(self, account_id: int, permissions: frozenset[Permission], label: str = "") -> ApiKey: ...

    def revoke(self, api_key: str) -> bool: ...

    def list(self, account_id: int | None = None) -> list[ApiKey]: ...


class MarketDataReader(Protocol):
    """Market-data read model (implemented by ``alfax.marketdata.store.MarketData``); Binance-shaped rows."""

    def klines(
        self, symbol: str, interval: str, start_ms: int | None = None, end_ms: int | None = None, limit: int = 500,
        price: str = "trade",
    ) -> list[list]: ...

    def ticker_24hr(self, symbol: str) -> dict: ...

    def book_ticker(self, symbol: str) -> dict: ...

    def price_ticker(self, symbol: str) -> dict: ...

    def agg_trades(
        self, symbol: str, from_id: int | None = None, start_ms: int | None = None, end_ms: int | None = None,
        limit: int = 500,
    ) -> list[dict]: ...

    def trades(self, symbol: str, limit: int = 500) -> list[dict]: ...

    def depth(self, symbol: str, limit: int = 500) -> dict: ...

    def premium_index(self, symbol: str) -> dict: ...

    def funding_rates(
        self, symbol: str | None = None, start_ms: int | None = None, end_ms: int | None = None, limit: int = 100
    ) -> list[dict]: ...

    def feed_age_ms(self, now_ms: int) -> dict[str, int]: ...


class PurchaseStore(Protocol):
    """Challenge purchases and their payment state (implemented by ``alfax.ledger.purchases.SqlitePurchaseStore``)."""

    def create(self, purchase_id: str, buyer_account: int, product_id: str, provider: str, amount: str,
               now_ms: int) -> dict: ...

    def get(self, purchase_id: str) -> dict | None: ...

    def set_status(self, purchase_id: str, status: str, now_ms: int, **fields: Any) -> dict: ...

    def take_credentials(self, purchase_id: str) -> dict | None: ...

    def list(self, status: str = "", limit: int = 500) -> list[dict]: ...


class AuditLog(Protocol):
    """Operator actions (implemented by ``alfax.ledger.audit.SqliteAuditLog``)."""

    def record(self, actor: str, action: str, target: str, detail: dict, ok: bool, now_ms: int) -> int: ...

    def list(self, limit: int = 100, action: str = "", target: str = "") -> list[dict]: ...


async def _nothing_pending() -> None:
    return None


@dataclass
class ApiContext:
    venue: "Venue"  # read-only queries; never call handle() directly
    submit: Callable[[Command], Awaitable[list[Event]]]  # venue.handle + journal + COMMIT; raises VenueError
    history: HistoryReader
    market: MarketDataReader
    keys: KeyStore
    clock: Clock
    # resolves once every command executed so far is committed to the history store. The engine's in-memory
    # state runs ahead of the writer thread (a tick can fill or trigger an order before its rows are committed),
    # so a query that misses both the open book and history waits for this once and looks again.
    settled: Callable[[], Awaitable[None]] = field(default=lambda: _nothing_pending())
    health: Callable[[], dict] = field(default=lambda: {"status": "ok"})
    state: Callable[[], dict] = field(default=lambda: {})
    # Edge tuning (rate limits etc.); see alfax.api.ratelimit.RateLimitConfig. None = Binance defaults.
    rate_limits: Any = None
    # prop challenges (issue 4): the product catalog (productId -> alfax.domain.products.Product), purchases,
    # the operator audit log, payment providers (name -> provider object, see alfax.api.payments)
    products: dict = field(default_factory=dict)
    purchases: Any = None  # PurchaseStore
    audit: Any = None  # AuditLog
    payment_providers: dict = field(default_factory=dict)
    # automation (issue 5): webhook settings (alfax.ledger.webhooks.SqliteWebhooks), the alert log
    # (SqliteAlertLog), signal subscriptions (SqliteSubscriptions), notifications (SqliteNotifications), and the
    # base URL users see (webhook URLs are shown in full)
    webhooks: Any = None
    alerts: Any = None
    subscriptions: Any = None
    notifications: Any = None
    hub_users: Any = None  # signal-hub logins (alfax.ledger.hub_users.SqliteHubUsers)
    public_url: str = ""
    alert_view: Callable[[Any], dict] | None = None  # stored alert row -> its receipt (alfax.alerts.receipts)
    signal_head: Callable[[str], Awaitable[tuple[str, int]]] | None = None  # channel -> (epoch, last seq)
