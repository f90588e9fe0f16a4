"""A real Venue on the bundled instruments with a manual clock, plus the key sets of contract §4."""

from __future__ import annotations

import json
from pathlib import Path

from alfax.domain import commands as C
from alfax.domain.enums import MarginType, OrderType, Side
from alfax.domain.instruments import load_instruments
from alfax.domain.money import parse_fixed
from alfax.engine import ManualClock, Venue

DATA = Path(__file__).resolve().parents[2] / "alfax" / "data" / "instruments.json"
INSTRUMENTS = load_instruments(json.loads(DATA.read_text()))
T0 = 1_700_000_000_000
SYM = "BTCUSDT"
INST = INSTRUMENTS[SYM]


def keys(text: str) -> set[str]:
    """Key set from the contract's own spelling, e.g. "s c S o" or "`s`, `c`, `S`"."""
    return set(text.replace("`", " ").replace(",", " ").split())


def px(s: str) -> int:
    return parse_fixed(s, INST.price_precision)


def qty(s: str) -> int:
    return parse_fixed(s, INST.quantity_precision, allow_negative=True)


def usd(s: str) -> int:
    return parse_fixed(s, 8, allow_negative=True)


def plain(v) -> bool:
    """JSON-plain: exact str/int/bool (no enums), lists and dicts of those."""
    if isinstance(v, dict):
        return all(type(k) is str and plain(x) for k, x in v.items())
    if isinstance(v, list):
        return all(plain(x) for x in v)
    return type(v) in (str, int, bool)


class Sim:
    def __init__(self, fund: str = "100000") -> None:
        self.clock = ManualClock(T0)
        self.v = Venue(INSTRUMENTS, self.clock)
        self.events: list = []
        self._uid = 0
        self._tid = 0
        for a in (1, 2):
            self.do(C.CreateAccount(a, f"acct{a}"))
            self.do(C.Transfer(a, usd(fund)))
        self.book([("30000.0", "5")], [("30000.1", "5")])
        self.mark("30000.0")
        self.trade("30000.0")

    def do(self, cmd):
        self.clock.advance(7)
        evs = self.v.handle(cmd)
        self.events.extend(evs)
        return evs

    def book(self, bids, asks):
        self._uid += 1
        return self.do(C.BookUpdate(SYM, tuple((px(p), qty(q)) for p, q in bids),
                                    tuple((px(p), qty(q)) for p, q in asks), self._uid))

    def trade(self, price: str, q: str = "1"):
        self._tid += 1
        return self.do(C.TradePrint(SYM, px(price), qty(q), False, self._tid))

    def mark(self, price: str, rate: str = "0.0001"):
        return self.do(C.MarkPriceUpdate(SYM, px(price), px(price), usd(rate), T0 + 3_600_000))

    def place(self, account=1, side=Side.BUY, type=OrderType.LIMIT, q="0.1", price=None, **kw):
        return self.do(C.PlaceOrder(account, SYM, side, type, quantity=qty(q) if q else 0,
                                    price=px(price) if price else 0, **kw))

    def isolated_long_at_100x(self, account=1, q="1"):
        """Isolated, 100x, long ``q`` BTC at 30000.0: liquidation at about 29819.28."""
        self.do(C.SetMarginType(account, SYM, MarginType.ISOLATED))
        self.do(C.SetLeverage(account, SYM, 100))
        self.book([("30000.0", "5")], [("30000.0", "5")])
        return self.place(account, side=Side.BUY, type=OrderType.MARKET, q=q)
