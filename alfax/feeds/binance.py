"""Live Binance USDT-M public market feed: ``make_feed("binance[:SYM1,SYM2]", instruments, rest_url=…, ws_url=…)``.

Unlike the replay and files feeds this one owns asyncio tasks: ``await start()`` opens two combined-stream
connections with Binance's routed URLs (contract §4.1) and returns at once; ``await stop()`` closes them.

- ``<ws_url>/public/stream?streams=<s>@depth@100ms/<s>@bookTicker/…``: diff depth, kept as a full local book
  synced with ``GET <rest_url>/fapi/v1/depth?limit=1000`` exactly as §4.4 says (``binance_book.DepthSync``).
  After each applied diff a ``BookUpdate`` with the top ``depth_levels`` per side and ``update_id`` = the diff's
  ``u`` is queued (bumped to last + 1 if upstream ever went backwards, so ids strictly increase per symbol).
  Buffered diffs replayed after a snapshot yield one ``BookUpdate`` (their intermediate books are history).
- ``<ws_url>/market/stream?streams=<s>@aggTrade/<s>@markPrice@1s/…``: ``TradePrint`` (trade_id = ``a``;
  an id not above the last one is a duplicate and dropped, so a resting order never fills twice on one print)
  and ``MarkPriceUpdate`` (mark, index, funding rate, next funding time).
- ``bookTicker`` is used for liveness only. It is not overlaid on the depth book: it comes from the same
  ``u`` sequence but faster than the 100 ms diffs, so mixing them would produce books that exist in neither
  stream (crossed against levels a later diff removes) and break the pu-chain invariant ``update_id`` carries.

``poll(now_ms)`` drains the queued commands in arrival order. ``stale_symbols(now_ms)`` names the symbols the
engine must not evaluate: a route down or reconnecting, depth not (re)synced, or no valid frame of the symbol on
either route for ``stale_after_ms`` (markPrice@1s guarantees one per second on /market; bookTicker and the diffs
on /public). ``history()`` returns nothing: a live feed has no past to replay, so the marketdata read model fills
as data arrives.

Reconnects back off 0.5 s → 5 s (reset once a connection delivers data); a connection silent for
``idle_reconnect_ms`` (default max(2 × stale_after_ms, 10 s)) is dropped and reopened. Snapshot requests (weight
20) back off the same way when resyncs repeat within 30 s, and honour Retry-After on 418/429. Malformed frames
and unknown symbols are logged (throttled) and skipped; a malformed diff simply breaks the pu chain and triggers
a resync.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence

import httpx
import orjson
from websockets.asyncio.client import connect

from alfax.domain.commands import BookUpdate, Command
from alfax.domain.instruments import Instrument

from .binance_history import Backfill, fetch_bars
from .binance_book import APPLIED, BUFFERED, GAP, WAIT, DepthSync
from .binance_wire import (
    DepthEvent, DepthSnapshot, WireError, agg_trade, book_ticker, depth_event, depth_snapshot, mark_price,
)

log = logging.getLogger(__name__)

PUBLIC, MARKET = "public", "market"
SNAPSHOT_LIMIT = 1000  # what ccxt.pro and Hummingbot request for the sync snapshot (§4.4)
STABLE_S = 30.0  # a book synced this long counts as healthy: the next resync starts without delay
MAX_QUEUE = 200_000  # commands held if nobody polls (runtime stalled); the oldest are dropped beyond this
WARN_EVERY_S = 10.0


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class BinanceFeed:
    """Binance USDT-M public streams -> BookUpdate / TradePrint / MarkPriceUpdate (see module docstring)."""

    def __init__(self, instruments: Mapping[str, Instrument], symbols: Sequence[str], *,
                 rest_url: str = "https://fapi.binance.com", ws_url: str = "wss://fstream.binance.com",
                 depth_levels: int = 50, stale_after_ms: int = 5_000, clock: Callable[[], int] | None = None,
                 backoff_min_s: float = 0.5, backoff_max_s: float = 5.0, idle_reconnect_ms: int | None = None) -> None:
        syms = list(dict.fromkeys(s.strip().upper() for s in symbols if s.strip()))
        if not syms:
            raise ValueError("binance feed needs at least one symbol")
        missing = [s for s in syms if s not in instruments]
        if missing:
            raise ValueError(f"binance feed: symbols not in the instrument table: {', '.join(missing)}")
        if not ws_url.startswith(("ws://", "wss://")) or not rest_url.startswith(("http://", "https://")):
            raise ValueError(f"binance feed: ws_url must be ws(s)://, rest_url http(s):// ({ws_url!r}, {rest_url!r})")
        if not 1 <= depth_levels <= SNAPSHOT_LIMIT:
            raise ValueError(f"depth_levels must be 1..{SNAPSHOT_LIMIT}")
        self.symbols: list[str] = syms
        self.rest_url = rest_url.rstrip("/")
        self.ws_url = ws_url.rstrip("/")
        self.depth_levels = depth_levels
        self.stale_after_ms = stale_after_ms
        self.stats: Counter[str] = Counter()  # reconnects, snapshots, gaps, buffered, malformed, duplicates, dropped
        self._inst = {s: instruments[s] for s in syms}
        self._clock = clock or _wall_ms
        self._backoff = (backoff_min_s, backoff_max_s)
        # A socket can stay open yet deliver nothing (an upstream stall, or a dead path the pings have not caught
        # yet): it is reopened. The 10 s floor keeps a quiet symbol's pauses from causing reconnects.
        idle_ms = idle_reconnect_ms if idle_reconnect_ms is not None else max(2 * stale_after_ms, 10_000)
        self._idle_s = idle_ms / 1000
        self._books = {s: DepthSync() for s in syms}
        self._queue: deque[Command] = deque()
        self._up = {PUBLIC: False, MARKET: False}
        self._seen: dict[str, dict[str, int]] = {PUBLIC: {}, MARKET: {}}  # route -> symbol -> clock ms
        self._last_book_id = dict.fromkeys(syms, 0)
        self._last_trade_id = dict.fromkeys(syms, -1)
        self._synced_at: dict[str, float] = {}  # loop time the book last became synced
        self._snap_delay = dict.fromkeys(syms, 0.0)
        self._snap_tasks: dict[str, asyncio.Task] = {}
        self._tasks: list[asyncio.Task] = []
        self._http: httpx.AsyncClient | None = None
        self._warned: dict[str, tuple[float, int]] = {}

    # ------------------------------------------------------------------ public interface
    def stream_url(self, route: str) -> str:
        kinds = ("depth@100ms", "bookTicker") if route == PUBLIC else ("aggTrade", "markPrice@1s")
        streams = "/".join(f"{s.lower()}@{k}" for s in self.symbols for k in kinds)
        return f"{self.ws_url}/{route}/stream?streams={streams}"

    async def start(self) -> None:
        if self._tasks:
            return
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
        self._tasks = [asyncio.create_task(self._run(route), name=f"binance-{route}") for route in (PUBLIC, MARKET)]

    async def stop(self) -> None:
        tasks = self._tasks + list(self._snap_tasks.values())
        self._tasks, self._snap_tasks = [], {}
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        self._up = {PUBLIC: False, MARKET: False}

    def poll(self, now_ms: int) -> list[Command]:
        """Everything received since the last poll, in arrival order (``now_ms`` is not needed: data is live).

        popleft one by one: atomic per item, so a runtime polling from another thread loses nothing."""
        out: list[Command] = []
        pop = self._queue.popleft
        try:
            while True:
                out.append(pop())
        except IndexError:
            return out

    def history(self, end_ms: int) -> Iterable[tuple[int, Command]]:
        """Always empty: a live feed has no past to replay as commands; see ``bars`` for the kline backfill."""
        return []

    def bars(self, end_ms: int) -> Backfill:
        """Binance REST klines (1m and 1h; trade, mark, index, premium) up to ``end_ms`` for the read model."""
        return fetch_bars(self.rest_url, self._inst, self.symbols, end_ms)

    def stale_symbols(self, now_ms: int) -> set[str]:
        return {s for s in self.symbols if self._stale(s, now_ms)}

    def status(self, now_ms: int) -> dict[str, dict]:
        """Per symbol: connected (both routes up), synced (depth), ageMs since the older route's last frame."""
        up = self._up[PUBLIC] and self._up[MARKET]
        out = {}
        for s in self.symbols:
            seen = [self._seen[r].get(s) for r in (PUBLIC, MARKET)]
            age = None if None in seen else now_ms - min(seen)
            out[s] = {"connected": up, "synced": self._books[s].synced, "ageMs": age, "stale": self._stale(s, now_ms)}
        return out

    def local_book(self, symbol: str):
        """The full local book (bids best first, asks best first) as raw ints; empty while not synced."""
        book = self._books[symbol]
        return book.full() if book.synced else ((), ())

    def _stale(self, s: str, now_ms: int) -> bool:
        if not (self._up[PUBLIC] and self._up[MARKET] and self._books[s].synced):
            return True
        for route in (PUBLIC, MARKET):
            seen = self._seen[route].get(s)
            if seen is None or now_ms - seen > self.stale_after_ms:
                return True
        return False

    # ------------------------------------------------------------------ connections
    async def _run(self, route: str) -> None:
        url = self.stream_url(route)
        lo, hi = self._backoff
        delay = lo
        while True:
            opened = False
            try:
                async with connect(url, open_timeout=10, close_timeout=1, ping_interval=20, ping_timeout=20) as ws:
                    opened = self._up[route] = True
                    log.info("binance %s stream connected (%d symbols)", route, len(self.symbols))
                    while True:
                        async with asyncio.timeout(self._idle_s):
                            raw = await ws.recv()
                        delay = lo  # data flowed: the next reconnect starts from the shortest wait again
                        self._on_message(route, raw)
            except asyncio.CancelledError:
                self._on_close(route)
                raise
            except TimeoutError:
                if opened:
                    log.warning("binance %s stream silent for %.1f s, reconnecting", route, self._idle_s)
                else:
                    log.warning("binance %s stream: connect timed out; retrying in %.1f s", route, delay)
            except Exception as e:  # any network/protocol failure: reconnect, never end the task
                log.warning("binance %s stream: %s: %s; reconnecting in %.1f s", route, type(e).__name__, e, delay)
            self._on_close(route)
            self.stats["reconnects"] += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, hi)

    def _on_close(self, route: str) -> None:
        self._up[route] = False
        self._seen[route].clear()  # stale until the new connection delivers again
        if route == PUBLIC:
            # The diff chain is per connection: every book must be rebuilt from a new snapshot.
            for t in self._snap_tasks.values():
                t.cancel()
            self._snap_tasks.clear()
            for book in self._books.values():
                book.reset()

    # ------------------------------------------------------------------ frames
    def _on_message(self, route: str, raw: str | bytes) -> None:
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return self._malformed("not JSON", raw)
        data = msg.get("data") if isinstance(msg, dict) else None
        if not isinstance(data, dict):
            if isinstance(msg, dict) and "id" in msg:
                return  # answer to a control request (none sent today); not market data
            return self._malformed("not a combined-stream frame", raw)
        sym = data.get("s")
        inst = self._inst.get(sym) if isinstance(sym, str) else None
        if inst is None:
            self._warn("unknown-symbol", "binance %s: frame for unknown symbol %.40r skipped", route, sym)
            return
        e = data.get("e")
        try:
            if e == "depthUpdate":
                self._on_depth(sym, depth_event(data, inst))
            elif e == "aggTrade":
                tp = agg_trade(data, inst)
                if tp.trade_id <= self._last_trade_id[sym]:
                    self.stats["duplicates"] += 1
                else:
                    self._last_trade_id[sym] = tp.trade_id
                    self._push(tp)
            elif e == "markPriceUpdate":
                self._push(mark_price(data, inst))
            elif e == "bookTicker":
                book_ticker(data, inst)  # liveness only (see module docstring)
            else:
                return self._malformed(f"unexpected event {e!r}", raw)
        except WireError as err:
            return self._malformed(str(err), raw)
        except Exception:  # a bug must not end the connection task; the frame is lost, the pu chain catches it
            log.exception("binance %s: frame handling failed: %.200r", route, raw)
            return
        self._seen[route][sym] = self._clock()

    def _on_depth(self, sym: str, ev: DepthEvent) -> None:
        r = self._books[sym].on_event(ev)
        if r == APPLIED:
            self._emit_book(sym)
        elif r == GAP:
            self.stats["gaps"] += 1
            log.info("binance %s depth gap (pu %d): resyncing", sym, ev.pu)
            self._want_snapshot(sym)
        elif r == BUFFERED:
            self.stats["buffered"] += 1
            self._want_snapshot(sym)

    def _emit_book(self, sym: str) -> None:
        book = self._books[sym]
        if sym not in self._synced_at:
            self._synced_at[sym] = asyncio.get_running_loop().time()
        bids, asks = book.top(self.depth_levels)
        uid = max(book.last_u, self._last_book_id[sym] + 1)
        self._last_book_id[sym] = uid
        self._push(BookUpdate(sym, bids, asks, uid))

    def _push(self, cmd: Command) -> None:
        if len(self._queue) >= MAX_QUEUE:
            self._queue.popleft()
            self.stats["dropped"] += 1
            self._warn("queue", "binance feed: nobody polls, dropping the oldest commands")
        self._queue.append(cmd)

    # ------------------------------------------------------------------ snapshots (§4.4 steps 2-4)
    def _want_snapshot(self, sym: str) -> None:
        t = self._snap_tasks.get(sym)
        if t is None or t.done():
            self._snap_tasks[sym] = asyncio.create_task(self._resync(sym), name=f"binance-snapshot-{sym}")

    async def _resync(self, sym: str) -> None:
        book = self._books[sym]
        loop = asyncio.get_running_loop()
        lo, hi = self._backoff
        synced_at = self._synced_at.pop(sym, None)
        if synced_at is not None and loop.time() - synced_at >= STABLE_S:
            self._snap_delay[sym] = 0.0  # first resync after a healthy stretch: at once
        while book.state == WAIT:
            if self._snap_delay[sym]:
                await asyncio.sleep(self._snap_delay[sym])
            self._snap_delay[sym] = min(max(self._snap_delay[sym] * 2, lo), hi)
            snap = await self._fetch_snapshot(sym)
            if snap is None or book.state != WAIT:
                continue
            self.stats["snapshots"] += 1
            r = book.apply_snapshot(snap)
            if r == APPLIED:
                self._emit_book(sym)
            elif r == GAP:
                log.info("binance %s snapshot %d older than the buffered stream; fetching another", sym,
                         snap.last_update_id)

    async def _fetch_snapshot(self, sym: str) -> DepthSnapshot | None:
        assert self._http is not None
        try:
            r = await self._http.get(f"{self.rest_url}/fapi/v1/depth", params={"symbol": sym, "limit": SNAPSHOT_LIMIT})
        except httpx.HTTPError as e:
            log.warning("binance %s depth snapshot failed: %s: %s", sym, type(e).__name__, e)
            return None
        if r.status_code in (418, 429):  # rate limited / banned: wait as long as Binance asks
            wait = r.headers.get("Retry-After", "")
            self._snap_delay[sym] = max(self._backoff[1], float(wait) if wait.isdigit() else 0.0)
            log.warning("binance %s depth snapshot: HTTP %d, waiting %.0f s", sym, r.status_code, self._snap_delay[sym])
            return None
        if r.status_code != 200:
            log.warning("binance %s depth snapshot: HTTP %d %.200s", sym, r.status_code, r.text)
            return None
        try:
            return depth_snapshot(orjson.loads(r.content), self._inst[sym])
        except (orjson.JSONDecodeError, WireError) as e:
            self._malformed(f"depth snapshot: {e}", r.content)
            return None

    # ------------------------------------------------------------------ logging
    def _malformed(self, why: str, raw) -> None:
        self.stats["malformed"] += 1
        self._warn("malformed", "binance: malformed frame skipped (%s): %.200r", why, raw)

    def _warn(self, key: str, fmt: str, *args) -> None:
        """Log a repeating problem at most once per WARN_EVERY_S per key (a bad stream would flood the log)."""
        now = time.monotonic()
        last, n = self._warned.get(key, (0.0, 0))
        if now - last >= WARN_EVERY_S:
            log.warning(fmt + (" (%d more since last report)" % n if n else ""), *args)
            self._warned[key] = (now, 0)
        else:
            self._warned[key] = (last, n + 1)
