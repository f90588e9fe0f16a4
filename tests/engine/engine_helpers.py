"""Builders shared by the engine tests: a venue on the bundled instruments with a manual clock."""

from __future__ import annotations

import json
from pathlib import Path

from alfax.domain import commands as C
from alfax.domain.enums import OrderType, PositionSide, Side, TimeInForce, WorkingType
from alfax.domain.errors import VenueError
from alfax.domain.events import Income, OrderUpdated
from alfax.domain.instruments import load_instruments
from alfax.domain.money import parse_fixed
from alfax.engine import ManualClock, Venue

DATA = Path(__file__).resolve().parents[2] / "alfax" / "data" / "instruments.json"
INSTRUMENTS = load_instruments(json.loads(DATA.read_text()))
T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC (not a funding boundary)
SYM = "BTCUSDT"


def px(s: str) -> int:
    return parse_fixed(s, 2)


def qty(s: str) -> int:
    return parse_fixed(s, 3, allow_negative=True)


def usd(s: str) -> int:
    return parse_fixed(s, 8, allow_negative=True)


class Sim:
    """A venue plus terse helpers. Accounts 1 and 2 hold 100,000 USDT; book 30000.0 / 30000.1."""

    def __init__(self, fund: bool = True, book: bool = True) -> None:
        self.clock = ManualClock(T0)
        self.v = Venue(INSTRUMENTS, self.clock)
        self.events: list = []
        if fund:
            for a in (1, 2):
                self.do(C.CreateAccount(a, f"acct{a}"))
                self.do(C.Transfer(a, usd("100000")))
        if book:
            self.book([("30000.0", "5")], [("30000.1", "5")])
            self.mark("30000.0")

    def do(self, cmd):
        evs = self.v.handle(cmd)
        self.events.extend(evs)
        return evs

    def book(self, bids, asks, uid: int | None = None, symbol: str = SYM):
        self._uid = getattr(self, "_uid", 0) + 1
        return self.do(C.BookUpdate(symbol, tuple((px(p), qty(q)) for p, q in bids),
                                    tuple((px(p), qty(q)) for p, q in asks), uid if uid is not None else self._uid))

    def trade(self, price: str, q: str = "1", tid: int = 1, buyer_is_maker: bool = False, symbol: str = SYM):
        return self.do(C.TradePrint(symbol, px(price), qty(q), buyer_is_maker, tid))

    def mark(self, price: str, rate: str = "0.0001", index: str | None = None, symbol: str = SYM):
        return self.do(C.MarkPriceUpdate(symbol, px(price), px(index or price), usd(rate), 0))

    def place(self, account=1, side=Side.BUY, type=OrderType.LIMIT, q="0.1", price=None, symbol=SYM, **kw):
        return self.do(C.PlaceOrder(account, symbol, side, type, quantity=qty(q) if q else 0,
                                    price=px(price) if price else 0, **kw))

    def limit(self, side, q, price, account=1, **kw):
        return self.place(account, side, OrderType.LIMIT, q, price, **kw)

    def market(self, side, q, account=1, **kw):
        return self.place(account, side, OrderType.MARKET, q, None, **kw)

    def pos(self, account=1, side=PositionSide.BOTH, symbol=SYM):
        p = self.v.pos_map.get((account, symbol, side))
        return p.qty if p else 0

    def wallet(self, account=1) -> int:
        return self.v.account(account).wallet_balance

    def rejects(self, cmd_or_fn, code: int):
        """Assert a rejection with ``code`` and that state (hash + snapshot) is unchanged."""
        h, snap = self.v.state_hash(), json.dumps(self.v.snapshot(), sort_keys=True)
        try:
            cmd_or_fn() if callable(cmd_or_fn) else self.v.handle(cmd_or_fn)
        except VenueError as e:
            assert e.code == code, (e.code, e.msg)
            assert self.v.state_hash() == h
            assert json.dumps(self.v.snapshot(), sort_keys=True) == snap
            return e
        raise AssertionError(f"expected rejection {code}")


def trades(events):
    return [e.trade for e in events if isinstance(e, OrderUpdated) and e.trade is not None]


def orders(events):
    return [e for e in events if isinstance(e, OrderUpdated)]


def incomes(events, kind=None):
    return [e for e in events if isinstance(e, Income) and (kind is None or e.income_type is kind)]


__all__ = ["C", "INSTRUMENTS", "OrderType", "PositionSide", "Side", "Sim", "SYM", "T0", "TimeInForce",
           "WorkingType", "incomes", "orders", "px", "qty", "trades", "usd"]
