"""Fixtures for the edge: a real Venue (ManualClock) + real Ledger/LedgerReader/SqliteKeyStore on a temp db,
an in-memory MarketDataReader (the marketdata package has no store yet), and httpx over ASGITransport."""

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


class FakeMarketData:
    """Tiny in-memory MarketDataReader: Binance-shaped rows derived from what tests feed."""

    def __init__(self, clock):
        self.clock = clock
        self.calls: list[tuple] = []

    def klines(self, symbol, interval, start_ms=None, end_ms=None, limit=500, price="trade"):
        self.calls.append(("klines", symbol, interval, start_ms, end_ms, limit, price))
        return [[T0, "100.0", "101.0", "99.0", "100.5", "10", T0 + 59_999, "1005", 3, "5", "502", "0"]]

    def ticker_24hr(self, symbol):
        return {"symbol": symbol, "lastPrice": "100.00", "closeTime": self.clock.now_ms()}

    def book_ticker(self, symbol):
        return {"symbol": symbol, "bidPrice": "99.90", "bidQty": "1.000", "askPrice": "100.10", "askQty": "1.000",
                "time": self.clock.now_ms()}

    def price_ticker(self, symbol):
        return {"symbol": symbol, "price": "100.00", "time": self.clock.now_ms()}

    def agg_trades(self, symbol, from_id=None, start_ms=None, end_ms=None, limit=500):
        self.calls.append(("aggTrades", symbol, from_id, start_ms, end_ms, limit))
        return []

    def trades(self, symbol, limit=500):
        return []

    def depth(self, symbol, limit=500):
        self.calls.append(("depth", symbol, limit))
        return {"lastUpdateId": 1, "E": self.clock.now_ms(), "T": self.clock.now_ms(), "bids": [], "asks": []}

    def premium_index(self, symbol):
        return {"symbol": symbol, "markPrice": "100.00000000", "indexPrice": "100.00000000",
                "estimatedSettlePrice": "100.00000000", "lastFundingRate": "0.00010000",
                "interestRate": "0.00010000", "nextFundingTime": T0 + 3600_000, "time": self.clock.now_ms()}

    def funding_rates(self, symbol=None, start_ms=None, end_ms=None, limit=100):
        return []

    def feed_age_ms(self, now_ms):
        return {}


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
        self.market = FakeMarketData(self.clock)
        self.operator = self.keys.create(0, frozenset({Permission.OPERATOR}), "operator")
        ctx = ApiContext(
            venue=self.venue, submit=self.submit, history=self.reader, market=self.market, keys=self.keys,
            clock=self.clock, health=lambda: {"status": "ok", "seq": self.venue.seq},
            state=lambda: {"stateHash": self.venue.state_hash(), "journalSeq": self.ledger.last_committed_seq},
        )
        kw = {}
        if time_fn is not None:
            kw["time_fn"] = time_fn
        self.app = create_app(ctx, rate_config=rate_config or RateLimitConfig(), **kw)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://alfax")

    async def submit(self, cmd):
        events = self.venue.handle(cmd)
        if cmd.is_market_data and not events:
            self.ledger.append_market(self.clock.now_ms(), cmd)
        else:
            await asyncio.wrap_future(self.ledger.append(self.clock.now_ms(), cmd, events))
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
