"""Composition root: builds the engine, ledger, market-data read model, feed and Binance edge, and runs them.

This is the only module (with ``cli``) that knows every package. The flow it wires is one way:

    feed ──► Venue.handle ──► events ──► ledger (journal + read models)
      └──► market-data read model, stream hub (market streams)
    api  ──► Venue.handle ──► events ──► ledger … then, after COMMIT, the HTTP answer and the user-data streams

Everything runs on one asyncio event loop: the engine is called synchronously (it never awaits), so it is a
single writer without locks. The ledger's writer thread is the only other thread.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from alfax.api.app import create_app
from alfax.api.context import ApiContext
from alfax.api.payments import default_providers, mint
from alfax.domain.commands import Command, CreateAccount, FeedStatus, Restart, StartChallenge, Tick, Transfer
from alfax.domain.enums import Permission
from alfax.domain.errors import VenueError
from alfax.domain.events import Event
from alfax.domain.instruments import Instrument, load_instruments
from alfax.domain.money import AMOUNT_DECIMALS, parse_fixed
from alfax.domain.products import Product, load_products
from alfax.engine.venue import Venue
from alfax.feeds import make_feed
from alfax.ledger.journal import Ledger
from alfax.ledger.audit import SqliteAuditLog
from alfax.ledger.keys import SqliteKeyStore, load_or_create_operator
from alfax.ledger.purchases import SqlitePurchaseStore
from alfax.ledger.reader import LedgerReader
from alfax.ledger.recovery import recover
from alfax.marketdata.store import MarketData
from alfax.streams.hub import StreamHub
from alfax.streams.session import Limits
from alfax.streams.ws_app import StreamsApp

log = logging.getLogger("alfax")

DEMO_BALANCE = "10000"
GC_PACE_S = 0.25  # see Runtime.tick_loop
GC_THAW_S = 600.0


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    db_path: str = "./alfax.db"
    feed: str = "replay"
    speed: float = 1.0
    instruments_path: str | None = None
    snapshot_every_s: float = 60.0
    synchronous: str = "NORMAL"
    # Binance's limits by default; benchmarks raise them to measure the engine rather than the limiter.
    rate_limits: dict = field(default_factory=dict)
    print_banner: bool = True
    # live Binance feed (``feed="binance"``): base URLs, configurable (a loopback upstream in tests)
    binance_rest_url: str = "https://fapi.binance.com"
    binance_ws_url: str = "wss://fstream.binance.com"
    # a symbol whose feed produced nothing for this long is stale: orders rejected, nothing evaluated
    stale_after_ms: int = 5_000
    # WebSocket connection rules (Binance's Connect page): ping every 3 min, drop after 10 min without pong
    ws_ping_interval_s: float = 180.0
    ws_ping_timeout_s: float = 600.0
    ws_max_streams: int = 1024
    ws_max_incoming_per_s: int = 10
    ws_max_lifetime_s: float = 24 * 3600.0
    ws_max_queue: int = 4096
    ws_send_buffer_bytes: int = 256 * 1024  # per connection, kernel and transport each (slow-consumer detection)
    # prop challenges (issue 4)
    products_path: str | None = None  # None = the bundled alfax/data/products.json
    demo_product: str = "10k-2step"  # the demo account is a STAGE_1 challenge of this product ("" = plain account)
    payment_webhook_secret: str = ""  # enables the "signed" payment provider (POST /alfax/payments/webhook)
    # venue time runs this many times faster than wall time (rehearsals: rollovers, trading days and funding in
    # seconds). Signed-request timestamps are still checked against wall time; market-data stamps keep feed time.
    clock_speed: float = 1.0
    # signals (issue 5): the base URL users paste into TradingView (TradingView only posts to ports 80/443, so
    # usually a reverse proxy or tunnel in front of us; default: the bind address), and the proxies whose
    # X-Forwarded-For is trusted for the webhook's source-address allow-list
    public_url: str = ""
    trusted_proxies: tuple[str, ...] = ()

    def ws_limits(self) -> Limits:
        return Limits(max_streams=self.ws_max_streams, max_incoming_per_s=self.ws_max_incoming_per_s,
                      max_lifetime_s=self.ws_max_lifetime_s, max_queue=self.ws_max_queue)


class StampedClock:
    """The engine's clock. The runtime stamps the time before each ``handle`` and journals the same stamp,
    so a replay with the journaled stamps reproduces every decision exactly."""

    __slots__ = ("t",)

    def __init__(self, t: int = 0) -> None:
        self.t = t

    def now_ms(self) -> int:
        return self.t


class WallClock:
    """Real time for the edge (request timestamps, listen-key expiry); the engine never sees it directly."""

    __slots__ = ()

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


def load_product_catalog(path: str | None, symbols: set[str]) -> dict[str, Product]:
    if path:
        doc = json.loads(Path(path).read_text())
    else:
        doc = json.loads(resources.files("alfax.data").joinpath("products.json").read_text())
    return load_products(doc, symbols)


def load_instrument_config(path: str | None) -> dict[str, Instrument]:
    if path:
        doc = json.loads(Path(path).read_text())
    else:
        doc = json.loads(resources.files("alfax.data").joinpath("instruments.json").read_text())
    return load_instruments(doc)


class Runtime:
    """Owns the single-writer loop: every command goes through ``execute`` (stamp → handle → journal)."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.instruments = load_instrument_config(config.instruments_path)
        self.products = load_product_catalog(config.products_path, set(self.instruments))
        self.clock = StampedClock(_wall_ms())
        self._clock_origin = (_wall_ms(), _wall_ms())  # (wall, venue) at start; venue time runs at clock_speed
        self.ledger = Ledger(config.db_path, synchronous=config.synchronous)
        self.venue, replayed, _ = recover(
            self.ledger,
            venue_factory=lambda: Venue(self.instruments, self.clock),
            restore_fn=lambda snap: Venue.restore(self.instruments, self.clock, snap),
            clock=self.clock,
        )
        self.replayed = replayed
        self.reader = LedgerReader(config.db_path)
        self.keys = SqliteKeyStore(config.db_path)
        self.purchases = SqlitePurchaseStore(config.db_path)
        self.audit = SqliteAuditLog(config.db_path)
        self.payment_providers = default_providers(config.payment_webhook_secret)
        self.market = MarketData(self.instruments)
        self.feed = make_feed(config.feed, self.instruments, config.speed, **_feed_options(config))
        # committed event batches go to these consumers (user streams, challenges…), in journal order
        self.subscribers: list = []
        # (ts, command) of every reference-market command after the engine handled it (market streams)
        self.market_listeners: list = []
        self.on_loop = False  # set once the asyncio loop runs: journal futures are then asyncio futures
        self._last_snapshot = time.monotonic()
        self._snapshot_seq = -1  # journal seq covered by the last snapshot this process took
        self._metrics: dict = {}
        self._metrics_ms = 0
        self.started_ms = _wall_ms()
        # accelerated time continues from the last journaled venue time (never backwards across a restart)
        self._clock_origin = (_wall_ms(), max(_wall_ms(), self.clock.t))
        # ids never repeat across restarts, even for work lost before its commit
        self.execute(Restart())

    # ------------------------------------------------------------------ the single write path
    def venue_ms(self) -> int:
        """Venue time: wall time, or — with ``clock_speed`` — accelerated from the moment the server started."""
        wall = _wall_ms()
        if self.config.clock_speed == 1.0:
            return wall
        w0, v0 = self._clock_origin
        return v0 + int((wall - w0) * self.config.clock_speed)

    def stamp(self) -> int:
        now = self.venue_ms()
        if now < self.clock.t:  # never let engine time run backwards (NTP steps)
            now = self.clock.t
        self.clock.t = now
        return now

    def execute(self, cmd: Command, *, awaitable: bool = False):
        """Run one command; returns (events, commit future or None). Raises VenueError with state unchanged.

        ``awaitable`` asks for an asyncio future (resolved on this loop after COMMIT) instead of a thread future.
        """
        ts = self.stamp()
        try:
            events = self.venue.handle(cmd)
        except VenueError:
            if self.venue.carry:
                # the rejected command crossed a challenge rollover: journal that work now (a Tick carries its
                # events), so snapshots and replays never see an unjournaled rollover
                self.execute(Tick())
            raise
        if cmd.is_market_data and not events:
            self.ledger.append_market(ts, cmd)
            return events, None
        if awaitable or self.on_loop:
            fut = self.ledger.append_async(ts, cmd, events)
            if events and self.subscribers:
                # published after COMMIT: a pushed event is never taken back by a crash. Futures resolve in
                # journal order and their callbacks run in that order, so consumers see the journal's order.
                fut.add_done_callback(lambda f, evs=events: f.cancelled() or f.exception() or self.publish(evs))
        else:  # no loop yet (start-up): publish at once, nobody is connected
            fut = self.ledger.append(ts, cmd, events)
            if events and self.subscribers:
                self.publish(events)
        return events, fut

    def publish(self, events: list[Event]) -> None:
        for sub in self.subscribers:
            try:
                sub(events)
            except Exception:  # one consumer's bug must not stop the others or the engine
                log.exception("event consumer %r failed", sub)

    async def submit(self, cmd: Command) -> list[Event]:
        """The edge's write path: the answer is sent only after the command and its events are durable."""
        events, fut = self.execute(cmd, awaitable=True)
        if fut is not None:
            # shielded: a client that hangs up must not cancel the commit future (its done-callback publishes)
            await asyncio.shield(fut)
        return events

    async def settled(self) -> None:
        """Every command executed so far is committed (what the history reader sees has caught up)."""
        await asyncio.wrap_future(self.ledger.flush())

    def market_command(self, now: int, cmd: Command) -> None:
        """A reference-market command from the feed: read model, engine, then the market streams."""
        self.market.on_command(now, cmd)
        try:
            self.execute(cmd)
        except Exception:  # a malformed reference update must not stop the venue's market data
            log.exception("feed command failed: %r", cmd)
            return
        for listener in self.market_listeners:
            listener(now, cmd)

    def update_staleness(self, now: int) -> None:
        """FeedStatus on every change: a symbol is stale when the feed says so (disconnected, resyncing) or
        when nothing arrived for ``stale_after_ms``."""
        ages = self.market.feed_age_ms(now)
        feed_stale = self.feed.stale_symbols(now) if hasattr(self.feed, "stale_symbols") else ()
        limit = self.config.stale_after_ms
        for sym in self.feed.symbols:
            want = sym in feed_stale or ages.get(sym, now) > limit
            if want != self.venue.market(sym).stale:  # the engine's flag is the only copy
                self.execute(FeedStatus(symbol=sym, stale=want))
                (log.warning if want else log.info)("reference feed for %s is %s", sym, "STALE" if want else "fresh")

    # ------------------------------------------------------------------ background loops
    def prefill_market_history(self) -> None:
        now = _wall_ms()
        for ts, cmd in self.feed.history(now):
            self.market.on_command(ts, cmd)
        if hasattr(self.feed, "bars"):  # live feeds: klines from the source's REST API
            for symbol, kind, resolution_ms, bars in self.feed.bars(now):
                self.market.load_bars(symbol, kind, resolution_ms, bars)

    async def feed_loop(self) -> None:
        while True:
            now = _wall_ms()
            for cmd in self.feed.poll(now):
                self.market_command(now, cmd)
            self.update_staleness(_wall_ms())
            await asyncio.sleep(0.05)

    async def tick_loop(self) -> None:
        # Garbage-collector pacing (p99): a full collection walks every tracked object, i.e. the whole engine
        # state (one Order per resting order) plus the startup heap: 50-80 ms stalls at a few 10k resting orders.
        # Instead, every GC_PACE_S the surviving objects are frozen (moved to the permanent generation, which no
        # automatic collection walks; O(1)), so automatic collections only ever see the last fraction of a second
        # of allocations. Frozen objects are still freed by reference counting; only cyclic garbage that was not
        # yet collected when it was frozen escapes (rare: young cycles are collected within milliseconds), so
        # every GC_THAW_S the permanent generation is thawed and collected once (one full-length pause).
        gc.collect()
        gc.freeze()
        last_thaw = last_tick = time.monotonic()
        while True:
            await asyncio.sleep(GC_PACE_S)
            now = time.monotonic()
            if now - last_thaw >= GC_THAW_S:
                last_thaw = now
                gc.unfreeze()
                gc.collect()
            gc.freeze()
            if now - last_tick < 1.0 - GC_PACE_S / 2:  # the Tick stays once a second
                continue
            last_tick = now
            self.execute(Tick())
            self.maybe_snapshot(now)

    def maybe_snapshot(self, now: float) -> bool:
        """Snapshot every ``snapshot_every_s`` — unless nothing was journaled since the last one (idle venue)."""
        if now - self._last_snapshot < self.config.snapshot_every_s:
            return False
        if self.ledger.last_enqueued_seq == self._snapshot_seq:
            self._last_snapshot = now
            return False
        self.save_snapshot()
        return True

    def save_snapshot(self) -> None:
        self._last_snapshot = time.monotonic()
        # one pass: the user state is serialised once, hashed, and spliced into the snapshot JSON; the collector
        # is paused meanwhile (tens of thousands of fresh row tuples would only trigger useless young collections)
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            blob, state_hash = self.venue.snapshot_json()
        finally:
            if was_enabled:
                gc.enable()
        self.ledger.save_snapshot(blob, state_hash)
        self._snapshot_seq = self.ledger.last_enqueued_seq  # after it: pending market slots were journaled first

    # ------------------------------------------------------------------ edge helpers
    def health(self) -> dict:
        now = _wall_ms()
        # ledger metrics sort recent commit lags; refresh them at most every 500 ms so /health stays trivial
        if now - self._metrics_ms >= 500:
            self._metrics, self._metrics_ms = self.ledger.metrics(), now
        m = self._metrics
        ages = self.market.feed_age_ms(now)
        return {
            "status": "ok",
            "serverTime": now,
            "feed": {"source": self.config.feed, "ageMs": ages,
                     "stale": sorted(sym for sym in self.instruments if self.venue.market(sym).stale),
                     # live feeds: per symbol connected / synced / age (why a symbol is stale)
                     **({"status": self.feed.status(now)} if hasattr(self.feed, "status") else {})},
            "ledgerLagMs": m.get("commit_lag_p99_ms", 0),
            "journalQueue": m.get("queue_length", 0),
        }

    def state(self) -> dict:
        return {"stateHash": self.venue.state_hash(), "journalSeq": self.ledger.metrics().get("last_journal_seq", 0)}

    def api_context(self) -> ApiContext:
        return ApiContext(
            venue=self.venue,
            submit=self.submit,
            settled=self.settled,
            history=self.reader,
            market=self.market,
            keys=self.keys,
            clock=WallClock(),  # the edge checks timestamps/recvWindow against real time, not the engine stamp
            health=self.health,
            state=self.state,
            rate_limits=self.config.rate_limits,
            products=self.products,
            purchases=self.purchases,
            audit=self.audit,
            payment_providers=self.payment_providers,
        )

    async def ensure_demo_account(self) -> tuple[str, str] | None:
        """First start only: the demo account and a read+trade key, printed once. Out of the box it is a STAGE_1
        challenge of ``demo_product`` (a newcomer's first bot is already inside a challenge); with
        ``demo_product=""`` a plain account with 10,000 USDT."""
        if self.venue.has_account(1):
            return None
        await self.submit(CreateAccount(account_id=1, alias="demo"))
        product = self.products.get(self.config.demo_product) if self.config.demo_product else None
        if self.config.demo_product and product is None:
            raise SystemExit(f"demo_product {self.config.demo_product!r} is not in the product catalog")
        if product is not None:
            await self.submit(StartChallenge(account_id=1, challenge_id=str(uuid.uuid4()), product=product.source))
        else:
            await self.submit(Transfer(account_id=1, amount=parse_fixed(DEMO_BALANCE, AMOUNT_DECIMALS), info="demo"))
        key = self.keys.create(1, frozenset({Permission.READ, Permission.TRADE}), label="demo")
        return key.api_key, key.secret

    async def resume_purchases(self) -> int:
        """Purchases paid but not minted when the process stopped: mint them now (idempotent)."""
        ctx = self.api_context()
        n = 0
        for row in self.purchases.pending_mints():
            await mint(ctx, row, _wall_ms())
            n += 1
        return n

    def close(self) -> None:
        try:
            self.save_snapshot()
        finally:
            self.ledger.close()
            self.purchases.close()


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def _demo_challenge_line(rt: Runtime) -> str:
    if 1 not in rt.venue.challenges:
        return ""
    v = rt.venue.challenge_view(1)
    p = rt.products.get(v.product_id)
    title = p.title if p is not None else v.product_id
    return (f"{v.stage} of {v.product_id} ({title}): max leverage {v.max_leverage}x, daily loss limit "
            f"{v.max_daily_drawdown // 10**8} USDT, total {v.max_total_drawdown // 10**8} USDT, "
            f"target {v.profit_target // 10**8} USDT")


def _feed_options(config: ServeConfig) -> dict:
    if config.feed.partition(":")[0] == "binance":
        return {"rest_url": config.binance_rest_url, "ws_url": config.binance_ws_url,
                "stale_after_ms": config.stale_after_ms}
    return {}


async def _serve(config: ServeConfig) -> None:
    import uvicorn
    from starlette.routing import WebSocketRoute

    from alfax.streams.uvicorn_ws import protocol_class

    from alfax.cli.banner import render_banner
    from alfax.server_automation import alert_view, build_automation

    rt = Runtime(config)
    rt.on_loop = True
    load_or_create_operator(config.db_path + ".operator.json", rt.keys)
    rt.prefill_market_history()
    hub = StreamHub(rt.instruments, rt.market, rt.venue)
    rt.subscribers.append(hub.on_events)
    rt.market_listeners.append(hub.on_market)
    if hasattr(rt.feed, "start"):  # live feeds own connections (started here, on the loop)
        await rt.feed.start()
    # warm the engine with the first reference data before accepting orders
    for cmd in rt.feed.poll(_wall_ms()):
        rt.market_command(_wall_ms(), cmd)
    rt.update_staleness(_wall_ms())
    demo = await rt.ensure_demo_account()
    await rt.resume_purchases()
    base_url = f"http://{config.host}:{config.port}"
    public_url = (config.public_url or base_url).rstrip("/")
    auto = build_automation(rt, hub, trusted_proxies=frozenset(config.trusted_proxies))
    if config.print_banner:
        if demo:
            webhook = auto.webhooks.ensure(1, _wall_ms()).to_dict(public_url)["url"]
            print(render_banner(base_url, demo[0], demo[1], _demo_challenge_line(rt), webhook_url=webhook), flush=True)
        else:
            print(f"alfax serving on {base_url}\n(demo credentials were printed at first start)", flush=True)
    ctx = rt.api_context()
    ctx.webhooks, ctx.alerts, ctx.subscriptions = auto.webhooks, auto.alerts, auto.subscriptions
    ctx.notifications, ctx.hub_users, ctx.public_url = auto.notifications, auto.hub_users, public_url
    ctx.alert_view, ctx.signal_head = alert_view, auto.hub.head
    app = create_app(ctx, routes=[*auto.routes, WebSocketRoute("/{path:path}", StreamsApp(hub, config.ws_limits()))])
    hub.listen_keys = app.state.listen_keys
    asgi = auto.wrap(app)  # the TradingView webhook in front of the edge (alfax.alerts.webhook)
    class Server(uvicorn.Server):
        async def shutdown(self, sockets=None) -> None:
            # SSE streams never end by themselves: close the listeners (reconnects go nowhere), then end every
            # hub stream and Phoenix socket, or uvicorn would wait for them for ever
            for listener in self.servers:
                listener.close()
            auto.hub.disconnect_all()
            await super().shutdown(sockets)

    server = Server(
        uvicorn.Config(asgi, host=config.host, port=config.port, log_level="warning", lifespan="off",
                       access_log=False, ws=protocol_class(config.ws_send_buffer_bytes), ws_ping_interval=config.ws_ping_interval_s,
                       ws_ping_timeout=config.ws_ping_timeout_s,
                       # one deflate context per connection would compress every frame once per client
                       ws_per_message_deflate=False,
                       timeout_graceful_shutdown=5)  # backstop: a stream the hub does not own still ends
    )
    tasks = [asyncio.create_task(rt.feed_loop()), asyncio.create_task(rt.tick_loop()),
             asyncio.create_task(hub.run())]
    await auto.start()
    try:
        await server.serve()
    finally:
        for t in tasks:
            t.cancel()
        await auto.stop()
        if hasattr(rt.feed, "stop"):
            await rt.feed.stop()
        rt.close()


def serve(config: ServeConfig) -> None:
    logging.basicConfig(level=os.environ.get("ALFAX_LOG", "WARNING"))
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency of uvicorn[standard]
        pass
    asyncio.run(_serve(config))


def replay_state_hash(db_path: str, instruments_path: str | None = None) -> str:
    """Replay the whole journal from genesis (ignoring snapshots) and return the state hash."""
    instruments = load_instrument_config(instruments_path)
    clock = StampedClock(0)
    ledger = Ledger(db_path)
    try:
        venue = Venue(instruments, clock)
        for _seq, ts, cmd in ledger.iter_journal(0):
            clock.t = ts
            venue.handle(cmd)
        return venue.state_hash()
    finally:
        ledger.close()
