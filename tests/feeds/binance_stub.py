"""A local stand-in for fapi.binance.com + fstream.binance.com on 127.0.0.1 that plays recorded frames.

One ``websockets`` server answers both the routed combined streams (``/public/stream?streams=…``,
``/market/stream?streams=…``) and, through ``process_request``, ``GET /fapi/v1/depth``. The REST snapshot is
computed like Binance's: the recorded snapshot plus every recorded diff the "exchange" has processed so far
(sent or deliberately skipped), with ``lastUpdateId`` from the same id sequence as the stream. That makes "the
book after a resync equals a fresh snapshot at that point" checkable: ``expected_book()`` is that snapshot.

Test control (all async, called from the test's event loop):
- ``play(sym, n)``: the exchange processes the next n recorded diffs and sends them; ``skip=True`` processes
  without sending (a gap on the wire); ``resend(sym)`` sends the last sent diff again (a duplicate).
- ``send(route, frame)`` / ``send_text(route, text)``: any other recorded or malformed frame.
- ``drop()``: aborts every stream connection (no close frame: a network failure).
- ``snapshot_mode``: "last" (L = u of the last processed diff) or "ahead" (the exchange already processed the
  next, unsent diff and reports L inside its [U, u], as a REST snapshot racing ahead of the stream does).
- ``snapshot_hold``: an ``asyncio.Event`` the depth endpoint waits for (diffs sent meanwhile get buffered);
  ``snapshot_errors``: answer the next N snapshot requests with HTTP 500.
- ``id_shift``: subtracted from every id sent from now on (an upstream whose sequence went backwards).
"""

from __future__ import annotations

import asyncio
import copy
import json
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.http11 import Response

DATA = Path(__file__).parent / "data"


def load_tape(sym: str) -> tuple[dict, list[dict]]:
    snap = json.loads((DATA / f"binance_{sym}_snapshot.json").read_text())
    frames = [json.loads(line) for line in (DATA / f"binance_{sym}_depth.jsonl").read_text().splitlines() if line]
    return snap, frames


def market_frames(kind: str, sym: str) -> list[dict]:
    """Recorded /market and bookTicker frames of one stream kind ("aggTrade", "markPrice@1s", "bookTicker")."""
    want = f"{sym.lower()}@{kind}"
    lines = (DATA / "binance_market.jsonl").read_text().splitlines()
    return [f for f in map(json.loads, filter(None, lines)) if f["stream"] == want]


class _Book:
    def __init__(self, snap: dict) -> None:
        self.u = snap["lastUpdateId"]
        self.bids = {p: q for p, q in snap["bids"]}
        self.asks = {p: q for p, q in snap["asks"]}

    def apply(self, data: dict) -> None:
        for side, levels in ((self.bids, data["b"]), (self.asks, data["a"])):
            for p, q in levels:
                if Decimal(q) == 0:
                    side.pop(p, None)
                else:
                    side[p] = q
        self.u = data["u"]

    def levels(self) -> tuple[list, list]:
        return (sorted(([p, q] for p, q in self.bids.items()), key=lambda lv: -Decimal(lv[0])),
                sorted(([p, q] for p, q in self.asks.items()), key=lambda lv: Decimal(lv[0])))


class RecordedBinance:
    def __init__(self, symbols=("BTCUSDT",)) -> None:
        self.tapes = {s: load_tape(s) for s in symbols}
        self.books = {s: _Book(self.tapes[s][0]) for s in symbols}
        self.pos = dict.fromkeys(symbols, 0)  # next recorded diff to process
        self.last_sent: dict[str, dict] = {}
        self.conns: dict[str, set] = {"public": set(), "market": set()}
        self.paths: list[str] = []
        self.snapshot_requests: list[dict] = []
        self.snapshot_mode = "last"
        self.snapshot_hold: asyncio.Event | None = None
        self.snapshot_errors = 0
        self.id_shift = 0
        self._server = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> "RecordedBinance":
        self._server = await serve(self._ws, "127.0.0.1", 0, process_request=self._rest)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        await self._server.wait_closed()

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ streams
    async def _ws(self, conn) -> None:
        route = urlsplit(conn.request.path).path.strip("/").split("/")[0]
        self.paths.append(conn.request.path)
        self.conns.setdefault(route, set()).add(conn)
        try:
            await conn.wait_closed()
        finally:
            self.conns[route].discard(conn)

    async def wait_connected(self, route: str, n: int = 1, timeout: float = 3.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.conns.get(route, ())) < n:
                await asyncio.sleep(0.005)

    async def send_text(self, route: str, text: str) -> None:
        for c in list(self.conns.get(route, ())):
            try:
                await c.send(text)
            except Exception:
                pass  # a connection that just died: the client reconnects

    async def send(self, route: str, frame: dict) -> None:
        await self.send_text(route, json.dumps(frame, separators=(",", ":")))

    def _shifted(self, frame: dict) -> dict:
        if not self.id_shift:
            return frame
        f = copy.deepcopy(frame)
        for k in ("U", "u", "pu"):
            f["data"][k] -= self.id_shift
        return f

    async def play(self, sym: str, n: int = 1, *, skip: bool = False) -> None:
        _, frames = self.tapes[sym]
        for _ in range(n):
            frame = frames[self.pos[sym]]
            self.pos[sym] += 1
            self.books[sym].apply(frame["data"])
            if not skip:
                self.last_sent[sym] = frame
                await self.send("public", self._shifted(frame))

    async def play_swapped(self, sym: str) -> None:
        """Process the next two diffs but deliver them in reverse order (out-of-order pu)."""
        _, frames = self.tapes[sym]
        a, b = frames[self.pos[sym]], frames[self.pos[sym] + 1]
        self.pos[sym] += 2
        self.books[sym].apply(a["data"])
        self.books[sym].apply(b["data"])
        self.last_sent[sym] = a
        await self.send("public", self._shifted(b))
        await self.send("public", self._shifted(a))

    async def resend(self, sym: str) -> None:
        await self.send("public", self._shifted(self.last_sent[sym]))

    async def drop(self) -> None:
        for cs in self.conns.values():
            for c in list(cs):
                c.transport.abort()

    # ------------------------------------------------------------------ REST
    def snapshot(self, sym: str) -> dict:
        book = copy.deepcopy(self.books[sym])
        last_id = book.u
        if self.snapshot_mode == "ahead":
            nxt = self.tapes[sym][1][self.pos[sym]]["data"]
            book.apply(nxt)
            last_id = (nxt["U"] + nxt["u"]) // 2
        bids, asks = book.levels()
        return {"lastUpdateId": last_id - self.id_shift, "E": 1_764_000_000_000, "T": 1_764_000_000_000,
                "bids": bids, "asks": asks}

    def expected_book(self, sym: str) -> dict:
        """The snapshot a fresh client would get now (mode "last")."""
        bids, asks = self.books[sym].levels()
        return {"lastUpdateId": self.books[sym].u - self.id_shift, "bids": bids, "asks": asks}

    async def _rest(self, conn, request):
        if "Upgrade" in request.headers:
            return None  # a WebSocket handshake: carry on
        url = urlsplit(request.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path != "/fapi/v1/depth" or q.get("symbol") not in self.books:
            return _json(400, {"code": -1121, "msg": "Invalid symbol."})
        self.snapshot_requests.append(q)
        if self.snapshot_errors:
            self.snapshot_errors -= 1
            return _json(500, {"code": -1001, "msg": "Internal error; unable to process your request."})
        body = self.snapshot(q["symbol"])  # taken now; a held answer arrives after newer diffs (buffered)
        if self.snapshot_hold is not None:
            await self.snapshot_hold.wait()
        return _json(200, body)


def _json(status: int, obj) -> Response:
    body = json.dumps(obj, separators=(",", ":")).encode()
    headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                       ("Connection", "close")])
    return Response(status, "OK" if status == 200 else "Error", headers, body)
