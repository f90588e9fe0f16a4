"""StreamHub: turns reference-market commands and committed engine events into Binance stream frames, encodes
each frame once and fans it out to the subscribed sessions.

Inputs (wired by the composition root, ``alfax.server``):
- ``on_market(ts, cmd)`` for every BookUpdate / TradePrint / MarkPriceUpdate after the engine handled it;
- ``on_events(events)`` for every committed event batch (user data, liquidations), after the journal COMMIT, so
  nothing is pushed that a crash could take back;
- ``run()``, the timer task for the interval streams (depth 100/250/500 ms, markPrice 1 s/3 s, kline 250 ms,
  tickers 1 s/2 s) and listen-key expiry.

Nothing is encoded for a topic nobody subscribes to. A payload is built once, serialised once (raw text, plus
the combined ``{"stream","data"}`` text the first time a combined session needs it) and pushed to every
session's bounded queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable, Iterable, Mapping, Protocol

import orjson

from alfax.domain.commands import BookUpdate, Command, MarkPriceUpdate, TradePrint
from alfax.domain.events import ChallengeUpdated, Event, Liquidated, OrderUpdated
from alfax.domain.instruments import Instrument

from . import market_payloads as MP
from . import names as N
from .frames import text_frame
from .names import StreamSpec, parse_stream
from .session import Session
from .user_payloads import VenueLike, encode_user_events, listen_key_expired

log = logging.getLogger("alfax.streams")

DEPTH_SPEEDS_MS = (100, 250, 500)
KLINE_MS = 250
TICKER_MS = 2000
TICKER_ARR_MS = 1000
KEYS_MS = 1000
FORCE_MS = 1000


class MarketReader(Protocol):
    def klines(self, symbol: str, interval: str, start_ms: int | None = None, end_ms: int | None = None,
               limit: int = 500, price: str = "trade") -> list[list]: ...

    def ticker_24hr(self, symbol: str) -> dict: ...


class ListenKeyResolver(Protocol):
    def account_for(self, key: str, now_ms: int) -> int | None: ...


class _Topic:
    __slots__ = ("spec", "subs", "state")

    def __init__(self, spec: StreamSpec | None) -> None:
        self.spec = spec
        self.subs: dict[Session, None] = {}
        self.state: Any = None  # per-topic push state (partial depth last u, kline last row)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class StreamHub:
    def __init__(self, instruments: Mapping[str, Instrument], market: MarketReader, venue: VenueLike,
                 listen_keys: ListenKeyResolver | None = None, clock: Callable[[], int] = _wall_ms) -> None:
        self.instruments = instruments
        self.market = market
        self.venue = venue
        self.listen_keys = listen_keys
        self.clock = clock
        self.topics: dict[str, _Topic] = {}
        self.accounts: dict[int, dict[Session, None]] = {}
        self.books: dict[str, BookUpdate] = {}
        self.marks: dict[str, MarkPriceUpdate] = {}
        self.differs: dict[tuple[str, int], MP.DepthDiffer] = {
            (s, sp): MP.DepthDiffer(inst) for s, inst in instruments.items() for sp in DEPTH_SPEEDS_MS}
        self.pending_force: dict[str, dict] = {}  # symbol -> latest forceOrder payload of the current second
        self.published = 0  # frames pushed to sessions (metrics / benchmarks)

    # ================================================================== subscriptions
    def detach(self, session: Session) -> None:
        self.unsubscribe(session, list(session.subs))
        self.unbind_user(session)

    def resolve(self, name: str) -> StreamSpec | None:
        return parse_stream(name, self.instruments)

    def is_listen_key(self, name: str) -> bool:
        lk = self.listen_keys
        return lk is not None and len(name) >= 16 and lk.account_for(name, self.clock()) is not None

    def subscribe(self, session: Session, names: Iterable[str]) -> None:
        """Subscribe to known streams; a live listen key binds the user data (and is listed); anything else is
        ignored and not listed, as Binance does with the ``/0`` path index ccxt.pro appends."""
        for raw in names:
            spec = self.resolve(raw)
            if spec is None:
                if self.is_listen_key(raw):
                    self.bind_user(session, raw)
                    session.subs[raw] = None
                continue
            session.subs[spec.name] = spec
            topic = self.topics.get(spec.name)
            if topic is None:
                topic = self.topics[spec.name] = _Topic(spec)
            topic.subs[session] = None

    def unsubscribe(self, session: Session, names: Iterable[str]) -> None:
        for raw in names:
            spec = self.resolve(raw)
            name = spec.name if spec is not None else raw
            if session.subs.pop(name, 0) is None and name == session.listen_key:
                self.unbind_user(session)
            topic = self.topics.get(name)
            if topic is not None:
                topic.subs.pop(session, None)
                if not topic.subs:
                    del self.topics[name]

    def bind_user(self, session: Session, key: str) -> bool:
        lk = self.listen_keys
        acct = lk.account_for(key, self.clock()) if lk is not None else None
        if acct is None:
            return False
        self.unbind_user(session)
        session.listen_key, session.account_id = key, acct
        self.accounts.setdefault(acct, {})[session] = None
        return True

    def unbind_user(self, session: Session) -> None:
        acct = session.account_id
        if acct is None:
            return
        subs = self.accounts.get(acct)
        if subs is not None:
            subs.pop(session, None)
            if not subs:
                del self.accounts[acct]
        session.subs.pop(session.listen_key or "", None)
        session.account_id = None

    # ================================================================== publishing
    def publish(self, name: str, payload: Any) -> None:
        topic = self.topics.get(name)
        if topic is None:
            return
        self._fan_out(topic.subs, name, orjson.dumps(payload))

    def _fan_out(self, sessions: Iterable[Session], stream: str, raw: bytes) -> None:
        """Frame ``raw`` once (and its combined wrapper once, if a combined session needs it); push to all."""
        frame = combined = None
        n = 0
        for s in sessions:
            if s.combined:
                if combined is None:
                    combined = text_frame(b'{"stream":"%s","data":%s}' % (stream.encode(), raw))
                s.push(combined)
            else:
                if frame is None:
                    frame = text_frame(raw)
                s.push(frame)
            n += 1
        self.published += n

    # ================================================================== reference market
    def on_market(self, ts: int, cmd: Command) -> None:
        if type(cmd) is BookUpdate:
            self._on_book(ts, cmd)
        elif type(cmd) is TradePrint:
            self._on_trade(ts, cmd)
        elif type(cmd) is MarkPriceUpdate:
            self.marks[cmd.symbol] = cmd

    def _on_book(self, ts: int, book: BookUpdate) -> None:
        sym = book.symbol
        inst = self.instruments.get(sym)
        if inst is None:
            return
        prev = self.books.get(sym)
        if prev is not None and book.update_id <= prev.update_id:
            return  # never feed the depth sequence backwards
        self.books[sym] = book
        for sp in DEPTH_SPEEDS_MS:
            self.differs[(sym, sp)].feed(book)
        if prev is None or prev.bids[:1] != book.bids[:1] or prev.asks[:1] != book.asks[:1]:
            low = sym.lower()
            one = f"{low}@bookTicker"
            if one in self.topics or N.BOOK_TICKER_ALL in self.topics:
                payload = MP.book_ticker(book, inst, ts)
                self.publish(one, payload)
                self.publish(N.BOOK_TICKER_ALL, payload)

    def _on_trade(self, ts: int, t: TradePrint) -> None:
        inst = self.instruments.get(t.symbol)
        if inst is None:
            return
        low = t.symbol.lower()
        name = f"{low}@aggTrade"
        if name in self.topics:
            self.publish(name, MP.agg_trade(t, inst, ts))
        name = f"{low}@trade"
        if name in self.topics:
            self.publish(name, MP.trade(t, inst, ts))

    # ================================================================== engine events (after COMMIT)
    def on_events(self, events: list[Event]) -> None:
        if not events:
            return
        accounts = self.accounts
        mine = [ev for ev in events if getattr(ev, "account_id", None) in accounts] if accounts else []
        moved: dict[int, int] = {}
        for ev in mine:
            if type(ev) is ChallengeUpdated and ev.view.next_account:
                moved[ev.account_id] = ev.view.next_account
        if moved:
            mine = self._follow_challenges(events, moved)
        if mine:
            for acct, payload in encode_user_events(mine, self.venue):
                subs = accounts.get(moved.get(acct, acct))
                if not subs:
                    continue
                raw = orjson.dumps(payload)
                keys = {s.listen_key for s in subs}
                if len(keys) == 1:  # the usual case: one live key per account, framed once for all its sessions
                    self._fan_out(subs, keys.pop() or "", raw)
                else:
                    for s in subs:
                        self._fan_out((s,), s.listen_key or "", raw)
        if any(type(ev) is Liquidated for ev in events):
            self._force_orders(events)  # kept for the next 1 s snapshot; publish() skips it if nobody listens

    def push_user(self, account_id: int, payload: dict) -> None:
        """A user-data event that does not come from the engine (``alertUpdate``: the receipt of a TradingView
        alert) to every user-data session of ``account_id``."""
        subs = self.accounts.get(account_id)
        if not subs:
            return
        raw = orjson.dumps(payload)
        for s in list(subs):
            self._fan_out((s,), s.listen_key or "", raw)

    def _follow_challenges(self, events: list[Event], moved: dict[int, int]) -> list[Event]:
        """A passed stage: the user-data sessions of its account follow the challenge to the next stage's account
        (like its API key), so a bot's stream keeps working. Returns the batch's events for known accounts."""
        for old, new in moved.items():
            subs = self.accounts.pop(old, None)
            if subs:
                self.accounts.setdefault(new, {}).update(subs)
                for s in subs:
                    s.account_id = new
            follow = getattr(self.listen_keys, "follow", None)
            if follow is not None:
                follow(old, new)
        return [ev for ev in events if getattr(ev, "account_id", None) in self.accounts or
                getattr(ev, "account_id", None) in moved]

    def _force_orders(self, events: list[Event]) -> None:
        """Binance's liquidation snapshot rule: per symbol, only the latest liquidation order of each 1000 ms
        window is pushed (``_push_force_orders``); nothing when no liquidation happened."""
        orders = {ev.order.order_id: ev.order for ev in events if isinstance(ev, OrderUpdated)}
        for ev in events:
            if isinstance(ev, Liquidated):
                order = orders.get(ev.order_id)
                inst = self.instruments.get(ev.symbol)
                if order is not None and inst is not None:
                    self.pending_force[ev.symbol] = MP.force_order(ev, order, inst)

    def _push_force_orders(self, now: int, _period: int) -> None:
        if not self.pending_force:
            return
        pending, self.pending_force = self.pending_force, {}
        for sym, payload in pending.items():
            self.publish(f"{sym.lower()}@forceOrder", payload)
            self.publish(N.FORCE_ALL, payload)

    # ================================================================== timers
    async def run(self, step_s: float = 0.02) -> None:
        """The interval streams. One loop; each job runs when its period elapsed (wall clock)."""
        jobs: list[list] = [[sp, 0, self._flush_depth] for sp in DEPTH_SPEEDS_MS]
        jobs += [[1000, 0, self._push_marks], [3000, 0, self._push_marks], [KLINE_MS, 0, self._push_klines],
                 [TICKER_MS, 0, self._push_tickers], [TICKER_ARR_MS, 0, self._push_ticker_arrays],
                 [KEYS_MS, 0, self._check_listen_keys], [FORCE_MS, 0, self._push_force_orders]]
        while True:
            now = self.clock()
            for job in jobs:
                if now >= job[1]:
                    period = job[0]
                    job[1] = now - now % period + period
                    try:
                        job[2](now, period)
                    except Exception:  # a bad row must not stop the streams
                        log.exception("stream job failed")
            await asyncio.sleep(step_s)

    def _flush_depth(self, now: int, speed: int) -> None:
        suffix = "" if speed == 250 else f"@{speed}ms"
        topics = self.topics
        for (sym, sp), differ in self.differs.items():
            if sp != speed:
                continue
            low = sym.lower()
            name = f"{low}@depth{suffix}"
            if name in topics:
                ev = differ.flush(now)
                if ev is not None:
                    self.publish(name, ev)
            else:
                differ.flush(now)  # keep the sequence moving; cheap when nobody listens
            book = self.books.get(sym)
            if book is None:
                continue
            for lv in N.PARTIAL_LEVELS:
                topic = topics.get(f"{low}@depth{lv}{suffix}")
                if topic is None or topic.state == book.update_id:
                    continue
                prev_u = topic.state
                topic.state = book.update_id
                self.publish(topic.spec.name, MP.partial_depth(book, self.instruments[sym], lv, now, prev_u))

    def _push_marks(self, now: int, period: int) -> None:
        suffix = "@1s" if period == 1000 else ""
        arr_name = N.MARK_ALL + suffix
        want_all = arr_name in self.topics
        arr = []
        for sym, m in self.marks.items():
            name = f"{sym.lower()}@markPrice{suffix}"
            if name in self.topics or want_all:
                payload = MP.mark_price_update(m, self.instruments[sym], now)
                self.publish(name, payload)
                arr.append(payload)
        if want_all and arr:
            self.publish(arr_name, arr)

    def _push_klines(self, now: int, _period: int) -> None:
        for topic in list(self.topics.values()):
            spec = topic.spec
            if spec is None or spec.kind not in (N.KLINE, N.CONT_KLINE):
                continue
            rows = self.market.klines(spec.symbol, spec.interval, limit=2)
            if not rows:
                continue
            last = topic.state  # the last row pushed
            cur = rows[-1]
            if last is not None and last[0] != cur[0] and len(rows) == 2 and rows[0][0] == last[0]:
                self._publish_kline(spec, rows[0], now, closed=True)
            if last is None or last != cur:
                self._publish_kline(spec, cur, now, closed=False)
                topic.state = cur

    def _publish_kline(self, spec: StreamSpec, row: list, now: int, closed: bool) -> None:
        payload = MP.kline(spec.symbol, spec.interval, row, now, closed=closed or now > row[6])
        if spec.kind == N.CONT_KLINE:
            k = payload["k"]
            k.pop("s", None)
            payload = {"e": "continuous_kline", "E": now, "ps": spec.symbol, "ct": "PERPETUAL", "k": k}
        self.publish(spec.name, payload)

    def _ticker_rows(self) -> dict[str, dict]:
        return {sym: self.market.ticker_24hr(sym) for sym in self.instruments if sym in self.books or sym in self.marks}

    def _push_tickers(self, now: int, _period: int) -> None:
        for sym in self.instruments:
            low = sym.lower()
            tn, mn = f"{low}@ticker", f"{low}@miniTicker"
            if tn not in self.topics and mn not in self.topics:
                continue
            row = self.market.ticker_24hr(sym)
            if not row.get("closeTime"):
                continue
            self.publish(tn, MP.ticker_24hr(row, now))
            self.publish(mn, MP.mini_ticker_24hr(row, now))

    def _push_ticker_arrays(self, now: int, _period: int) -> None:
        if N.TICKER_ALL not in self.topics and N.MINI_ALL not in self.topics:
            return
        rows = [r for r in self._ticker_rows().values() if r.get("closeTime")]
        if not rows:
            return
        if N.TICKER_ALL in self.topics:
            self.publish(N.TICKER_ALL, [MP.ticker_24hr(r, now) for r in rows])
        if N.MINI_ALL in self.topics:
            self.publish(N.MINI_ALL, [MP.mini_ticker_24hr(r, now) for r in rows])

    def _check_listen_keys(self, now: int, _period: int) -> None:
        """An expired (or deleted) listen key: push ``listenKeyExpired`` once and stop the user data."""
        lk = self.listen_keys
        if lk is None or not self.accounts:
            return
        for subs in list(self.accounts.values()):
            for s in list(subs):
                key = s.listen_key
                if key and lk.account_for(key, now) is None:
                    self._fan_out((s,), key, orjson.dumps(listen_key_expired(key, now)))
                    self.unbind_user(s)
