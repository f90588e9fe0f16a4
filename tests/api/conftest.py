"""Fixtures for the edge: the real components (Venue with a ManualClock, Ledger/LedgerReader/SqliteKeyStore on a
temp db, marketdata.MarketData fed with the same commands) wired like alfax.server, and httpx over ASGITransport."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from alfax.api.app import create_app
from alfax.api.context import ApiContext
from alfax.api.ratelimit import RateLimitConfig
from alfax.domain.commands import BookUpdate, MarkPriceUpdate
from alfax.domain.enums import Permission
from alfax.domain.instruments import load_instruments

DATA = Path(__file__).resolve().parents[2] / "alfax" / "data" / "instruments.json"
T0 = 1_700_000_000_000


def instruments():
    return load_instruments(json.loads(DATA.read_text()))


class Harness:
    def __init__(self, tmp_path: Path, rate_config: RateLimitConfig | None = None, time_fn=None):
        from alfax.engine import ManualClock, Venue
        from alfax.ledger import Ledger, LedgerReader, SqliteKeyStore

        self.clock = ManualClock(T0)
        self.venue = Venue(instruments(), self.clock)
        db = tmp_path / "alfax.db"
        self.ledger = Ledger(str(db))
        self.reader = LedgerReader(str(db))
        self.keys = SqliteKeyStore(str(db))
        from alfax.marketdata.store import MarketData

        self.market = MarketData(self.venue.instruments)
        self.operator = self.keys.create(0, frozenset({Permission.OPERATOR}), "operator")
        from alfax.api.payments import default_providers
        from alfax.domain.products import load_products
        from alfax.ledger.audit import SqliteAuditLog
        from alfax.ledger.purchases import SqlitePurchaseStore

        products = load_products(json.loads((DATA.parent / "products.json").read_text()), set(self.venue.instruments))
        ctx = ApiContext(
            venue=self.venue, submit=self.submit, settled=self.settled, history=self.reader, market=self.market, keys=self.keys,
            clock=self.clock, health=lambda: {"status": "ok", "seq": self.venue.seq},
            state=lambda: {"stateHash": self.venue.state_hash(), "journalSeq": self.ledger.last_committed_seq},
            products=products, purchases=SqlitePurchaseStore(str(db)), audit=SqliteAuditLog(str(db)),
            payment_providers=default_providers("webhook-test-secret"),
        )
        from alfax.ledger import SqliteAlertLog
        from alfax.ledger.hub_users import SqliteHubUsers
        from alfax.ledger.notifications import SqliteNotifications
        from alfax.ledger.subscriptions import SqliteSubscriptions
        from alfax.ledger.webhooks import SqliteWebhooks

        ctx.webhooks, ctx.alerts, ctx.subscriptions = SqliteWebhooks(db), SqliteAlertLog(db), SqliteSubscriptions(db)
        ctx.notifications, ctx.hub_users, ctx.public_url = SqliteNotifications(db), SqliteHubUsers(db), "http://alfax"
        kw = {}
        if time_fn is not None:
            kw["time_fn"] = time_fn
        self.app = create_app(ctx, rate_config=rate_config or RateLimitConfig(), **kw)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://alfax")

    async def submit(self, cmd):
        if cmd.is_market_data:
            self.market.on_command(self.clock.now_ms(), cmd)
        events = self.venue.handle(cmd)
        if cmd.is_market_data and not events:
            self.ledger.append_market(self.clock.now_ms(), cmd)
        else:
            await asyncio.wrap_future(self.ledger.append(self.clock.now_ms(), cmd, events))
        return events

    async def settled(self):
        await asyncio.wrap_future(self.ledger.flush())

    def execute_uncommitted(self, cmd):
        """Like the live runtime's feed path: the engine moves now, the journal commits whenever the writer
        gets to it (the caller does not wait)."""
        if cmd.is_market_data:
            self.market.on_command(self.clock.now_ms(), cmd)
        events = self.venue.handle(cmd)
        self.ledger.append(self.clock.now_ms(), cmd, events)
        return events

    async def feed_book(self, symbol="BTCUSDT", bid="50000.00", ask="50000.10", qty="5.000", update_id=1):
        inst = self.venue.instruments[symbol]
        from alfax.domain.money import parse_fixed as pf

        b = pf(bid, inst.price_precision)
        a = pf(ask, inst.price_precision)
        q = pf(qty, inst.quantity_precision)
        await self.submit(BookUpdate(symbol, ((b, q), (b - 10 * inst.tick_size, q)), ((a, q), (a + 10 * inst.tick_size, q)), update_id))
        mid = (a + b) // 2
        await self.submit(MarkPriceUpdate(symbol, mid, mid, 10_000, T0 + 8 * 3600_000))

    def close(self):
        self.ledger.close()
        self.reader.close()
        self.keys.close()

    # ------------------------------------------------------------------ signed requests
    async def signed(self, method, path, params=None, key=None, where="query", headers=None):
        """Sign like ccxt: urlencoded params + timestamp, signature last; `where` = query | body."""
        key = key or self.operator
        params = dict(params or {})
        params.setdefault("timestamp", self.clock.now_ms())
        qs = urlencode(params)
        sig = hmac.new(key.secret.encode(), qs.encode(), hashlib.sha256).hexdigest()
        qs = qs + "&signature=" + sig
        h = {"X-MBX-APIKEY": key.api_key}
        if headers:
            h.update(headers)
        if where == "query":
            return await self.client.request(method, path + "?" + qs, headers=h)
        h["Content-Type"] = "application/x-www-form-urlencoded"
        return await self.client.request(method, path, content=qs.encode(), headers=h)

    async def new_account(self, balance="10000"):
        r = await self.signed("POST", "/alfax/admin/accounts", {"alias": "t", "balance": balance}, where="body")
        assert r.status_code == 200, r.text
        d = r.json()
        return self.keys.lookup(d["apiKey"]), d["accountId"]


@pytest.fixture
def harness(tmp_path):
    h = Harness(tmp_path)
    yield h
    h.close()
