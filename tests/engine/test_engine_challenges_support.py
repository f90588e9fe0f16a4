"""Builders for the challenge engine tests (no tests here): a venue on BTCUSDT/ETHUSDT with a manual clock, a
challenge account, and terse helpers that set the book + mark and fill market orders at an exact price.

Hand arithmetic used throughout (product 10k-2step unless a test says otherwise):
S = 10,000 USDT; daily limit 5 % = 500; total limit 10 % = 1,000 (static floor 9,000); target 8 % = 800;
min trading days 4; leverage cap 5; min trade notional 0.5 % of S = 50 USDT; taker fee 0.05 %.
A market BUY fills at the ask, a market SELL at the bid; ``fill`` puts the touch and the mark at ``price``.
"""

from __future__ import annotations

import json
from pathlib import Path

from alfax.domain import commands as C
from alfax.domain.challenge import DAY_MS
from alfax.domain.challenge_state import ChallengeStatus, UpdateReason
from alfax.domain.enums import OrderType, PositionSide, Side
from alfax.domain.errors import VenueError
from alfax.domain.events import ChallengeUpdated, PayoutUpdated
from alfax.domain.money import parse_fixed
from alfax.engine import ManualClock, Venue
from engine_helpers import INSTRUMENTS

PRODUCTS_DOC = json.loads((Path(__file__).resolve().parents[2] / "alfax" / "data" / "products.json").read_text())
D0 = 1_763_337_600_000  # 2025-11-17 00:00 UTC (a Monday; also a funding boundary)
H = 3_600_000
START = D0 + 10 * H  # challenges start at 10:00 UTC (2 h after the 08:00 funding, 6 h before 16:00)
CID = "6f1c2b9e-8d3a-4c55-9a10-2f7e5b1c0d42"
CID2 = "0b7e9f4a-1c2d-4e3f-8a9b-5c6d7e8f9012"
BTC, ETH = "BTCUSDT", "ETHUSDT"
TICK = {BTC: 10, ETH: 1}  # price raw (2 dp): 0.10 and 0.01


def usd(s: str) -> int:
    return parse_fixed(s, 8, allow_negative=True)


def px(s: str) -> int:
    return parse_fixed(s, 2)


def qty(s: str) -> int:
    return parse_fixed(s, 3, allow_negative=True)


def product_source(pid: str = "10k-2step", stage_overrides: dict | None = None, **overrides) -> str:
    """The product's JSON with some fields replaced (a custom rulebook is pinned by StartChallenge)."""
    d = json.loads(json.dumps(next(p for p in PRODUCTS_DOC["products"] if p["productId"] == pid)))
    d.update(overrides)
    if stage_overrides:
        for s in d["stages"]:
            s.update(stage_overrides)
    return json.dumps(d, sort_keys=True, separators=(",", ":"))


class CSim:
    """A venue with a challenge on account 1 (plus helpers). Every handled command's events are kept."""

    def __init__(self, pid: str = "10k-2step", stage: str = "STAGE_1", source: str | None = None,
                 start: int = START, account: int = 1, venue_cls=Venue) -> None:
        self.clock = ManualClock(start)
        self.v = venue_cls(INSTRUMENTS, self.clock)
        self.events: list = []
        self.cmds: list = []  # (ms, command) of every handled command, rejected ones included (journal-style)
        self.set_price(BTC, "30000")
        self.set_price(ETH, "2000")
        self.source = source or product_source(pid)
        self.account = account
        self.do(C.CreateAccount(account, "trader"))
        self.do(C.StartChallenge(account, CID, self.source, stage))

    # ------------------------------------------------------------------ commands
    def do(self, cmd):
        self.cmds.append((self.clock.ms, cmd))
        evs = self.v.handle(cmd)
        self.events.extend(evs)
        return evs

    def reject(self, cmd, unchanged: bool = True) -> VenueError:
        """The command must be rejected; state (hash) unchanged unless a rollover ran before it."""
        h = self.v.state_hash()
        self.cmds.append((self.clock.ms, cmd))
        try:
            self.v.handle(cmd)
        except VenueError as e:
            if unchanged:
                assert self.v.state_hash() == h
            return e
        raise AssertionError(f"expected a rejection of {cmd}")

    def at(self, ms: int) -> None:
        assert ms >= self.clock.ms
        self.clock.ms = ms

    def later(self, ms: int) -> None:
        self.clock.ms += ms

    def mark(self, sym: str, price: str, rate: str = "0"):
        p = px(price)
        return self.do(C.MarkPriceUpdate(sym, p, p, usd(rate), 0))

    def book(self, sym: str, bid: str, ask: str, depth: str = "100"):
        return self.do(C.BookUpdate(sym, ((px(bid), qty(depth)),), ((px(ask), qty(depth)),)))

    def set_price(self, sym: str, price: str, rate: str = "0"):
        """Touch at ``price`` on both sides (bid = price - tick) and the mark at ``price``."""
        p = px(price)
        evs = self.do(C.BookUpdate(sym, ((p - TICK[sym], qty("100")),), ((p, qty("100")),)))
        return evs + self.do(C.MarkPriceUpdate(sym, p, p, usd(rate), 0))

    def fill(self, side: Side, q: str, price: str, sym: str = BTC, account: int | None = None, **kw):
        """Market order filling all of ``q`` at exactly ``price`` (the touch and the mark are moved there first)."""
        p = px(price)
        if side is Side.BUY:
            self.do(C.BookUpdate(sym, ((p - TICK[sym], qty("100")),), ((p, qty("100")),)))
        else:
            self.do(C.BookUpdate(sym, ((p, qty("100")),), ((p + TICK[sym], qty("100")),)))
        self.do(C.MarkPriceUpdate(sym, p, p, 0, 0))
        return self.order(side, q, sym=sym, account=account, **kw)

    def order(self, side: Side, q: str, sym: str = BTC, account: int | None = None, type=OrderType.MARKET,
              price: str | None = None, **kw):
        return self.do(C.PlaceOrder(account or self.account, sym, side, type, quantity=qty(q),
                                    price=px(price) if price else 0, **kw))

    def order_cmd(self, side: Side, q: str, sym: str = BTC, account: int | None = None, type=OrderType.MARKET,
                  price: str | None = None, **kw) -> C.PlaceOrder:
        return C.PlaceOrder(account or self.account, sym, side, type, quantity=qty(q),
                            price=px(price) if price else 0, **kw)

    # ------------------------------------------------------------------ reads
    def view(self, account: int | None = None):
        return self.v.challenge_view(account or self.account)

    def st(self, account: int | None = None):
        return self.v.challenges[account or self.account]

    def wallet(self, account: int | None = None) -> int:
        return self.v.accounts[account or self.account].wallet_balance

    def pos(self, sym: str = BTC, account: int | None = None, side: PositionSide = PositionSide.BOTH) -> int:
        p = self.v.pos_map.get((account or self.account, sym, side))
        return p.qty if p else 0

    def updates(self, evs=None, reason: UpdateReason | None = None, account: int | None = None):
        evs = self.events if evs is None else evs
        return [e for e in evs if isinstance(e, ChallengeUpdated) and (reason is None or e.reason is reason)
                and (account is None or e.account_id == account)]

    def payouts(self, evs=None):
        return [e for e in (self.events if evs is None else evs) if isinstance(e, PayoutUpdated)]

    def status(self, account: int | None = None) -> ChallengeStatus:
        return self.st(account).status


def day(k: int, hours: float = 0) -> int:
    """D0 + k days + hours."""
    return D0 + k * DAY_MS + int(hours * H)


__all__ = ["BTC", "C", "CID", "CID2", "CSim", "D0", "DAY_MS", "ETH", "H", "OrderType", "PositionSide", "START",
           "Side", "UpdateReason", "challenge_stream", "day", "product_source", "px", "qty", "usd"]


# ====================================================================== random challenge streams
# (used by the guard differential test and the persistence tests)
from alfax.domain.enums import MarginType, TimeInForce  # noqa: E402

STREAM_PRODUCTS = (
    product_source("10k-2step"),
    product_source("10k-1step"),
    product_source("100k-2step"),
    product_source("10k-2step", dailyMode="trailing_intraday", productId="10k-intraday"),
    product_source("10k-2step", stage_overrides={"maxDailyDrawdown": "0.02", "minTradingDays": 1,
                                                 "profitTarget": "0.005"}, productId="10k-tight"),
)
STAGES = ("STAGE_1", "STAGE_1", "FUNDED")


def challenge_stream(seed: int, n: int = 200, accounts: int = 6, start: int = START) -> list[tuple[int, object]]:
    """(ms, command) pairs: ``accounts`` accounts (plain ones at high leverage, challenges of every product;
    cross and isolated, one-way and hedge mode), random-walk marks on BTCUSDT and ETHUSDT with books around
    them, market/limit/stop orders, ticks across funding times and rollovers, stale feeds, payouts."""
    import random

    r = random.Random(seed)
    ms = start
    out: list[tuple[int, object]] = []
    mark = {BTC: 3_000_000, ETH: 200_000}  # price raw
    scale = {}
    funded = []
    dual = {}
    iso: list[tuple[int, str]] = []
    for a in range(1, accounts + 1):
        out.append((ms, C.CreateAccount(a, f"a{a}")))
        if r.random() < 0.5:
            out.append((ms, C.SetPositionMode(a, True)))
            dual[a] = True
        for sym in (BTC, ETH):
            if r.random() < 0.35:
                out.append((ms, C.SetMarginType(a, sym, MarginType.ISOLATED)))
                iso.append((a, sym))
        if a % 3 == 0:  # a plain account: small wallet, high leverage -> margin calls and liquidations
            out.append((ms, C.Transfer(a, r.randint(500, 5_000) * 10**8)))
            for sym in (BTC, ETH):
                out.append((ms, C.SetLeverage(a, sym, r.choice([10, 20, 50, 100]))))
            scale[a] = r.choice([0.5, 1, 2])
        else:
            src = r.choice(STREAM_PRODUCTS)
            stage = r.choice(STAGES)
            out.append((ms, C.StartChallenge(a, f"00000000-0000-4000-8000-{seed % 10**6:06d}{a:06d}", src, stage)))
            scale[a] = 10 if "100k" in src else 1
            if stage == "FUNDED":
                funded.append(a)
    for sym in (BTC, ETH):
        p = mark[sym]
        out.append((ms, C.BookUpdate(sym, ((p - TICK[sym], 10**6),), ((p, 10**6),))))
        out.append((ms, C.MarkPriceUpdate(sym, p, p, 0, 0)))
    stale = {BTC: False, ETH: False}
    pay = 0
    for i in range(n):
        ms += r.choice([1_000, 10_000, 60_000, 600_000, 3_600_000]) if r.random() < 0.95 else 3_600_000 * r.randint(2, 30)
        for s_ in (BTC, ETH):
            if stale[s_] and r.random() < 0.3:
                stale[s_] = False
                out.append((ms, C.FeedStatus(s_, False)))
        k = r.random()
        sym = BTC if r.random() < 0.6 else ETH
        if k < 0.40:  # a mark (sometimes a jump) and the book around it
            step = r.choice([0.001, 0.002, 0.004, 0.008, 0.015]) if r.random() < 0.97 else 0.05
            p = max(TICK[sym] * 1000, int(mark[sym] * (1 + r.uniform(-step, step))))
            p -= p % TICK[sym]
            mark[sym] = p
            rate = r.choice([0, 0, 10_000, -10_000, 50_000])  # 0.01 % / 0.05 %
            if r.random() < 0.5:
                out.append((ms, C.BookUpdate(sym, ((p - TICK[sym], 10**6),), ((p, 10**6),))))
            out.append((ms, C.MarkPriceUpdate(sym, p, p, rate, 0)))
        elif k < 0.75:  # orders
            a = r.randint(1, accounts)
            side = r.choice([Side.BUY, Side.SELL])
            ps = r.choice([PositionSide.LONG, PositionSide.SHORT]) if dual.get(a) else PositionSide.BOTH
            base = r.choice([0.02, 0.05, 0.1, 0.2, 0.3]) if sym == BTC else r.choice([0.3, 0.8, 1.5, 3, 4])
            q = max(1, int(base * scale[a] * 1000))
            kind = r.random()
            if kind < 0.6:
                out.append((ms, C.PlaceOrder(a, sym, side, OrderType.MARKET, quantity=q, position_side=ps)))
            elif kind < 0.85:
                off = r.uniform(0.002, 0.03)
                p = int(mark[sym] * (1 - off if side is Side.BUY else 1 + off))
                p -= p % TICK[sym]
                out.append((ms, C.PlaceOrder(a, sym, side, OrderType.LIMIT, quantity=q, price=p,
                                             time_in_force=TimeInForce.GTC, position_side=ps)))
            else:
                off = r.uniform(0.005, 0.03)
                sp = int(mark[sym] * (1 + off if side is Side.BUY else 1 - off))
                sp -= sp % TICK[sym]
                out.append((ms, C.PlaceOrder(a, sym, side, OrderType.STOP_MARKET, quantity=q, stop_price=sp,
                                             position_side=ps)))
        elif k < 0.82:
            out.append((ms, C.Tick()))
        elif k < 0.85:
            out.append((ms, C.CancelAllOrders(r.randint(1, accounts), sym)))
        elif k < 0.87:
            stale[sym] = True
            out.append((ms, C.FeedStatus(sym, True)))
        elif k < 0.90:
            if not funded:
                continue
            a = r.choice(funded)
            pay += 1
            pid = f"00000000-0000-4000-9000-{seed % 10**6:06d}{pay:06d}"
            out.append((ms, C.RequestPayout(a, pid, r.choice([50, 100, 300, 800]) * 10**8)))
            out.append((ms, C.DecidePayout(pid, r.random() < 0.8)))
        elif k < 0.901:
            out.append((ms, C.FailChallenge(r.randint(1, accounts), "random operator fail")))
        elif k < 0.925:  # move isolated margin in or out (closer to / further from liquidation)
            if not iso:
                continue
            a, sym = r.choice(iso)
            ps = r.choice([PositionSide.LONG, PositionSide.SHORT]) if dual.get(a) else PositionSide.BOTH
            out.append((ms, C.AdjustPositionMargin(a, sym, ps, r.choice([1, 5, 20, 100]) * 10**8, r.random() < 0.4)))
        elif k < 0.95:  # flatten one account: cancel everything, close every position
            a = r.randint(1, accounts)
            for s_ in (BTC, ETH):
                out.append((ms, C.CancelAllOrders(a, s_)))
                if dual.get(a):
                    out.append((ms, C.PlaceOrder(a, s_, Side.SELL, OrderType.MARKET, quantity=50_000,
                                                 position_side=PositionSide.LONG)))
                    out.append((ms, C.PlaceOrder(a, s_, Side.BUY, OrderType.MARKET, quantity=50_000,
                                                 position_side=PositionSide.SHORT)))
                else:
                    for sd in (Side.BUY, Side.SELL):
                        out.append((ms, C.PlaceOrder(a, s_, sd, OrderType.MARKET, quantity=50_000, reduce_only=True)))
        else:  # a reducing market order, to realize PnL
            a = r.randint(1, accounts)
            ps = r.choice([PositionSide.LONG, PositionSide.SHORT]) if dual.get(a) else PositionSide.BOTH
            side = r.choice([Side.BUY, Side.SELL]) if ps is PositionSide.BOTH else (
                Side.SELL if ps is PositionSide.LONG else Side.BUY)
            out.append((ms, C.PlaceOrder(a, sym, side, OrderType.MARKET, quantity=max(1, int(0.1 * scale[a] * 1000)),
                                         reduce_only=ps is PositionSide.BOTH, position_side=ps)))
    for sym in (BTC, ETH):
        if stale[sym]:
            out.append((ms, C.FeedStatus(sym, False)))
    return out
