"""A PRICE-CONTROLLED Binance USDT-M upstream on 127.0.0.1 for ``alfax serve --feed binance:SYM``.

Unlike ``tests/feeds/binance_stub.py`` (recorded frames, driven step by step from an async test) this one is a
live market whose prices the test sets from plain synchronous code: ``set_book(bid)`` moves the whole book,
``set_mark(mark)`` the mark price. It runs its own asyncio loop in a daemon thread and, every ``interval_s``,
sends on every open connection:

- ``/public/stream``: a ``depthUpdate`` diff (absolute quantities for every level of the current book, 0 for the
  levels that left it) with one consistent id chain (``pu`` = the previous ``u``), then a ``bookTicker``;
- ``/market/stream``: a ``markPriceUpdate`` (funding rate 0, so funding never moves a balance) and, every
  ``trade_every`` ticks, an ``aggTrade`` at the best bid (increasing ``a``).

REST (``process_request`` on the same port): ``GET /fapi/v1/depth`` answers the book exactly as of the last diff
sent, with ``lastUpdateId`` = that diff's ``u`` (so the follower's snapshot bridges on ``pu == L``, Binance's
§4.4 rules); the kline backfill endpoints answer ``[]`` (the follower starts with empty history).

The book is ``levels`` price levels per side, one tick apart: bids ``bid, bid - tick, …`` and asks
``ask, ask + tick, …`` (``ask`` defaults to ``bid + tick``), each with ``level_qty`` — deep enough that the
test's own fills never walk past the best level.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.http11 import Response

KLINE_PATHS = ("/fapi/v1/klines", "/fapi/v1/markPriceKlines", "/fapi/v1/indexPriceKlines",
               "/fapi/v1/premiumIndexKlines")


def _ms() -> int:
    return time.time_ns() // 1_000_000


class PriceUpstream:
    def __init__(self, symbol: str = "BTCUSDT", bid: str = "50000.00", *, tick: str = "0.10",
                 price_decimals: int = 2, qty_decimals: int = 3, levels: int = 20, level_qty: str = "100",
                 interval_s: float = 0.1, trade_every: int = 5) -> None:
        self.symbol = symbol.upper()
        self.tick = Decimal(tick)
        self.pq = Decimal(1).scaleb(-price_decimals)
        self.qq = Decimal(1).scaleb(-qty_decimals)
        self.levels = levels
        self.level_qty = Decimal(level_qty)
        self.interval_s = interval_s
        self.trade_every = trade_every
        self._lock = threading.Lock()
        b = Decimal(bid)
        self._bid, self._ask, self._mark = b, b + self.tick, b
        # what the last diff sent made the book (the REST snapshot answers exactly this, at _u)
        self._sent: tuple[dict[str, str], dict[str, str]] = ({}, {})
        self._u = 1_000_000
        self._trade_id = 5_000_000
        self._ticks = 0
        self.conns: dict[str, set] = {"public": set(), "market": set()}
        self.paths: list[str] = []
        self.snapshot_requests = 0
        self.paused = False  # True: send nothing (the follower goes stale)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server = None
        self._stop: asyncio.Event | None = None
        self.port = 0
        self.errors: list[str] = []

    # ------------------------------------------------------------------ test control (any thread)
    def set_book(self, bid, ask=None) -> None:
        """Best bid ``bid`` and best ask ``ask`` (default bid + one tick); sent with the next diff."""
        b = Decimal(str(bid)).quantize(self.pq)
        a = Decimal(str(ask)).quantize(self.pq) if ask is not None else b + self.tick
        if not a > b > 0:
            raise ValueError(f"crossed or empty book: bid {b} ask {a}")
        with self._lock:
            self._bid, self._ask = b, a

    def set_mark(self, mark) -> None:
        with self._lock:
            self._mark = Decimal(str(mark))

    def set_prices(self, bid, mark=None) -> None:
        """The book at ``bid`` / bid + tick and the mark at ``mark`` (default: the bid)."""
        self.set_book(bid)
        self.set_mark(bid if mark is None else mark)

    @property
    def bid(self) -> Decimal:
        return self._bid

    @property
    def ask(self) -> Decimal:
        return self._ask

    @property
    def mark(self) -> Decimal:
        return self._mark

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> "PriceUpstream":
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._main(ready))
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name=f"price-upstream-{self.symbol}", daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or not self.port:
            raise RuntimeError(f"price upstream did not start: {self.errors}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> "PriceUpstream":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ the loop
    async def _main(self, ready: threading.Event) -> None:
        self._stop = asyncio.Event()
        self._server = await serve(self._ws, "127.0.0.1", 0, process_request=self._rest, ping_interval=None)
        self.port = self._server.sockets[0].getsockname()[1]
        ready.set()
        pump = asyncio.create_task(self._pump())
        try:
            await self._stop.wait()
        finally:
            pump.cancel()
            self._server.close()
            await self._server.wait_closed()

    async def _pump(self) -> None:
        while True:
            started = time.monotonic()
            if not self.paused:
                try:
                    await self._tick()
                except Exception as e:  # never let the market die silently: keep the reason for the test
                    self.errors.append(repr(e))
            await asyncio.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))

    def _book(self) -> tuple[dict[str, str], dict[str, str]]:
        q = str(self.level_qty.quantize(self.qq))
        bids = {str((self._bid - i * self.tick).quantize(self.pq)): q for i in range(self.levels)
                if self._bid - i * self.tick > 0}
        asks = {str((self._ask + i * self.tick).quantize(self.pq)): q for i in range(self.levels)}
        return bids, asks

    async def _tick(self) -> None:
        now = _ms()
        with self._lock:
            bids, asks = self._book()
            old_b, old_a = self._sent
            diff_b = [[p, q] for p, q in bids.items()] + [[p, "0.000"] for p in old_b if p not in bids]
            diff_a = [[p, q] for p, q in asks.items()] + [[p, "0.000"] for p in old_a if p not in asks]
            pu = self._u
            self._u += 3  # a diff spans several ids, like Binance's
            self._sent = (bids, asks)
            u = self._u
            bid, ask, mark = self._bid, self._ask, self._mark
            self._ticks += 1
            trade = self.trade_every and self._ticks % self.trade_every == 0
            if trade:
                self._trade_id += 1
            tid = self._trade_id
        low = self.symbol.lower()
        q = str(self.level_qty.quantize(self.qq))
        public = [
            {"stream": f"{low}@depth@100ms", "data": {"e": "depthUpdate", "E": now, "T": now, "s": self.symbol,
                                                      "U": pu + 1, "u": u, "pu": pu, "b": diff_b, "a": diff_a}},
            {"stream": f"{low}@bookTicker", "data": {"e": "bookTicker", "u": u, "s": self.symbol, "b": str(bid),
                                                     "B": q, "a": str(ask), "A": q, "T": now, "E": now}},
        ]
        mark_s = str(mark.quantize(Decimal("0.00000001")))
        market = [{"stream": f"{low}@markPrice@1s", "data": {
            "e": "markPriceUpdate", "E": now, "s": self.symbol, "p": mark_s, "i": mark_s, "P": mark_s,
            "r": "0.00000000", "T": (now // 28_800_000 + 1) * 28_800_000}}]
        if trade:
            market.append({"stream": f"{low}@aggTrade", "data": {
                "e": "aggTrade", "E": now, "s": self.symbol, "a": tid, "p": str(bid), "q": "0.001",
                "f": tid, "l": tid, "T": now, "m": True}})
        for route, frames in (("public", public), ("market", market)):
            for c in list(self.conns[route]):
                for f in frames:
                    try:
                        await c.send(json.dumps(f, separators=(",", ":")))
                    except Exception:
                        break  # a connection that just died: the follower reconnects and resyncs

    # ------------------------------------------------------------------ WebSocket and REST
    async def _ws(self, conn) -> None:
        path = conn.request.path
        route = urlsplit(path).path.strip("/").split("/")[0]
        self.paths.append(path)
        if route not in self.conns:
            await conn.close(1008, "unknown route")
            return
        self.conns[route].add(conn)
        try:
            await conn.wait_closed()
        finally:
            self.conns[route].discard(conn)

    async def _rest(self, conn, request):
        if "Upgrade" in request.headers:
            return None  # a WebSocket handshake: carry on
        url = urlsplit(request.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path in KLINE_PATHS:
            return _json(200, [])
        if url.path != "/fapi/v1/depth" or q.get("symbol") != self.symbol:
            return _json(400, {"code": -1121, "msg": "Invalid symbol."})
        self.snapshot_requests += 1
        with self._lock:
            bids, asks = self._sent
            last = self._u
        now = _ms()
        return _json(200, {
            "lastUpdateId": last, "E": now, "T": now,
            "bids": sorted(([p, q] for p, q in bids.items()), key=lambda lv: -Decimal(lv[0])),
            "asks": sorted(([p, q] for p, q in asks.items()), key=lambda lv: Decimal(lv[0]))})


def _json(status: int, obj) -> Response:
    body = json.dumps(obj, separators=(",", ":")).encode()
    headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                       ("Connection", "close")])
    return Response(status, "OK" if status == 200 else "Error", headers, body)
