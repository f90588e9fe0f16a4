"""BinanceFeed against a local recorded-frames server on 127.0.0.1 (real WebSocket and HTTP sockets).

Every scenario ends by comparing the feed's local book with the snapshot a fresh client would get from the
server at that point (``RecordedBinance.expected_book``), raw int by raw int.
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager
from importlib import resources

from alfax.domain.commands import BookUpdate, MarkPriceUpdate, TradePrint
from alfax.domain.instruments import load_instruments
from alfax.domain.money import parse_fixed
from alfax.feeds import BinanceFeed

from .binance_stub import RecordedBinance, market_frames

INSTRUMENTS = load_instruments(json.loads((resources.files("alfax") / "data" / "instruments.json").read_text()))
BTC, ETH = "BTCUSDT", "ETHUSDT"


def run(coro) -> None:
    async def bounded():
        async with asyncio.timeout(10):  # a hung socket fails the test instead of the suite
            await coro
    asyncio.run(bounded())


async def until(cond, timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.005)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_764_000_000_000

    def __call__(self) -> int:
        return self.now


def raw_book(sym: str, snap: dict):
    inst = INSTRUMENTS[sym]

    def side(levels):
        return tuple((parse_fixed(p, inst.price_precision), parse_fixed(q, inst.quantity_precision)) for p, q in levels)
    return side(snap["bids"]), side(snap["asks"])


@asynccontextmanager
async def running(symbols=(BTC,), **kw):
    async with RecordedBinance(symbols) as srv:
        feed = BinanceFeed(INSTRUMENTS, symbols, rest_url=srv.rest_url, ws_url=srv.ws_url,
                           backoff_min_s=0.02, backoff_max_s=0.1, **kw)
        await feed.start()
        try:
            await srv.wait_connected("public")
            await srv.wait_connected("market")
            yield srv, feed
        finally:
            await feed.stop()


class Collector:
    """Everything the runtime would have polled, kept in order."""

    def __init__(self, feed: BinanceFeed) -> None:
        self.feed, self.cmds = feed, []

    def poll(self) -> list:
        self.cmds += self.feed.poll(0)
        return self.cmds

    def books(self, sym: str = BTC) -> list[BookUpdate]:
        self.poll()
        return [c for c in self.cmds if isinstance(c, BookUpdate) and c.symbol == sym]


async def sync(srv, feed, sym: str = BTC) -> None:
    await srv.play(sym)
    await until(lambda: feed.local_book(sym)[0])


def assert_book_is_snapshot(srv, feed, sym: str = BTC) -> None:
    assert feed.local_book(sym) == raw_book(sym, srv.expected_book(sym))


def assert_ids_increase(books: list[BookUpdate]) -> None:
    ids = [b.update_id for b in books]
    assert ids == sorted(set(ids)), ids


# ---------------------------------------------------------------------------------------------- wiring


def test_connects_to_binance_routed_combined_streams():
    async def go():
        async with running((BTC, ETH)) as (srv, feed):
            assert sorted(srv.paths) == [
                "/market/stream?streams=btcusdt@aggTrade/btcusdt@markPrice@1s/ethusdt@aggTrade/ethusdt@markPrice@1s",
                "/public/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker/ethusdt@depth@100ms/ethusdt@bookTicker",
            ]
            assert feed.stale_symbols(0) == {BTC, ETH}  # connected, but nothing synced yet
            assert feed.history(10**13) == []
    run(go())


# ---------------------------------------------------------------------------------------------- depth sync


def test_normal_sequence_syncs_from_snapshot_and_emits_each_diff():
    async def go():
        async with running(depth_levels=20) as (srv, feed):
            out = Collector(feed)
            await sync(srv, feed)
            assert srv.snapshot_requests == [{"symbol": BTC, "limit": "1000"}]
            await srv.play(BTC, 10)
            await until(lambda: len(out.books()) == 11)
            frames = srv.tapes[BTC][1][:11]
            books = out.books()
            assert [b.update_id for b in books] == [f["data"]["u"] for f in frames]
            assert_book_is_snapshot(srv, feed)
            bids, asks = raw_book(BTC, srv.expected_book(BTC))
            assert books[-1].bids == bids[:20] and books[-1].asks == asks[:20]
            assert len(bids) > 20 and len(feed.local_book(BTC)[0]) == len(bids)  # full book kept, top 20 emitted
            assert books[-1].bids[0][0] < books[-1].asks[0][0]
            assert feed.stats["gaps"] == 0 and feed.stats["snapshots"] == 1
    run(go())


def test_snapshot_ahead_of_stream_bridges_with_U_le_L_le_u():
    clock = FakeClock()

    async def go():
        async with running(clock=clock) as (srv, feed):
            out = Collector(feed)
            srv.snapshot_mode = "ahead"  # L lies inside the next (unsent) diff's [U, u]
            await srv.play(BTC)  # buffered, then dropped: its u < L
            await until(lambda: srv.snapshot_requests)
            await until(lambda: feed.stats["snapshots"] == 1)
            assert feed.stale_symbols(clock.now) == {BTC}  # snapshot loaded, no bridging diff yet
            assert out.books() == []
            await srv.play(BTC)
            await until(lambda: out.books())
            assert out.books()[0].update_id == srv.tapes[BTC][1][1]["data"]["u"]
            srv.snapshot_mode = "last"
            assert_book_is_snapshot(srv, feed)
    run(go())


def test_diffs_buffered_during_snapshot_fetch_are_replayed_once():
    async def go():
        async with running() as (srv, feed):
            out = Collector(feed)
            srv.snapshot_hold = asyncio.Event()
            await srv.play(BTC)
            await until(lambda: srv.snapshot_requests)  # snapshot taken at the first diff's u, answer held
            await srv.play(BTC, 5)
            await until(lambda: feed.stats["buffered"] == 6)
            srv.snapshot_hold.set()
            await until(lambda: out.books())
            await asyncio.sleep(0.02)
            books = out.books()
            assert len(books) == 1  # the replayed intermediate books are history, only the result is emitted
            assert books[0].update_id == srv.tapes[BTC][1][5]["data"]["u"]
            assert_book_is_snapshot(srv, feed)
    run(go())


def test_gap_resyncs_to_exactly_the_book_of_a_fresh_snapshot():
    async def go():
        async with running() as (srv, feed):
            out = Collector(feed)
            await sync(srv, feed)
            await srv.play(BTC, 5)
            await srv.play(BTC, skip=True)  # the exchange moved on, the wire lost it
            await srv.play(BTC)  # pu != previous u
            await until(lambda: feed.stats["gaps"] == 1)
            await until(lambda: feed.stats["snapshots"] == 2 and feed.local_book(BTC)[0])
            assert_book_is_snapshot(srv, feed)
            # A second, fresh client at this point builds the very same book.
            fresh = BinanceFeed(INSTRUMENTS, [BTC], rest_url=srv.rest_url, ws_url=srv.ws_url)
            await fresh.start()
            try:
                await until(lambda: len(srv.conns["public"]) == 2)
                await srv.play(BTC, 3)
                await until(lambda: fresh.local_book(BTC)[0] and feed.local_book(BTC) == fresh.local_book(BTC))
                assert_book_is_snapshot(srv, fresh)
            finally:
                await fresh.stop()
            books = out.books()
            assert_ids_increase(books)
            assert books[-1].update_id == srv.books[BTC].u
    run(go())


def test_duplicate_diff_is_ignored_without_resync():
    async def go():
        async with running() as (srv, feed):
            out = Collector(feed)
            await sync(srv, feed)
            await srv.play(BTC, 3)
            await until(lambda: len(out.books()) == 4)
            await srv.resend(BTC)
            await srv.play(BTC, 2)
            await until(lambda: len(out.books()) == 6)
            assert feed.stats["gaps"] == 0 and len(srv.snapshot_requests) == 1
            assert_ids_increase(out.books())
            assert_book_is_snapshot(srv, feed)
    run(go())


def test_out_of_order_pu_resyncs():
    async def go():
        async with running() as (srv, feed):
            out = Collector(feed)
            await sync(srv, feed)
            await srv.play(BTC, 2)
            await srv.play_swapped(BTC)  # newer diff first: its pu is not the previous u
            await until(lambda: feed.stats["gaps"] == 1)
            await until(lambda: feed.stats["snapshots"] == 2 and feed.local_book(BTC)[0])
            assert_book_is_snapshot(srv, feed)
            await srv.play(BTC, 2)
            await until(lambda: out.books()[-1].update_id == srv.books[BTC].u)
            assert_book_is_snapshot(srv, feed)
            assert_ids_increase(out.books())
    run(go())


def test_disconnect_mid_stream_reconnects_and_resyncs():
    clock = FakeClock()

    async def go():
        async with running(clock=clock) as (srv, feed):
            out = Collector(feed)
            await sync(srv, feed)
            await srv.play(BTC, 3)
            await until(lambda: len(out.books()) == 4)
            await srv.drop()
            await until(lambda: not feed.local_book(BTC)[0])  # book forgotten: the chain was per connection
            assert BTC in feed.stale_symbols(clock.now)
            await srv.play(BTC, 4)  # missed while disconnected
            await until(lambda: len(srv.paths) == 4)  # both routes reconnected
            await srv.wait_connected("public")
            await srv.play(BTC)
            await until(lambda: feed.local_book(BTC)[0])
            assert feed.stats["reconnects"] >= 2 and len(srv.snapshot_requests) == 2
            assert_book_is_snapshot(srv, feed)
            assert_ids_increase(out.books())
    run(go())


def test_update_id_stays_increasing_when_upstream_ids_go_backwards():
    async def go():
        async with running() as (srv, feed):
            out = Collector(feed)
            await sync(srv, feed)
            await srv.play(BTC, 2)
            await until(lambda: len(out.books()) == 3)
            last = out.books()[-1].update_id
            srv.id_shift = 10**9  # e.g. a different upstream after a reconnect
            await srv.drop()
            await until(lambda: len(srv.paths) == 4)
            await srv.wait_connected("public")
            await srv.play(BTC)
            await until(lambda: len(out.books()) == 4)
            assert out.books()[-1].update_id == last + 1
            assert feed.local_book(BTC) == raw_book(BTC, srv.expected_book(BTC))
    run(go())


def test_failed_snapshot_requests_are_retried():
    async def go():
        async with running() as (srv, feed):
            srv.snapshot_errors = 2
            await sync(srv, feed)
            assert len(srv.snapshot_requests) == 3
            assert_book_is_snapshot(srv, feed)
    run(go())


# ---------------------------------------------------------------------------------------------- staleness


def test_stale_when_server_goes_silent_then_recovers():
    clock = FakeClock()

    async def go():
        async with running(stale_after_ms=5_000, clock=clock) as (srv, feed):
            await sync(srv, feed)
            assert feed.stale_symbols(clock.now) == {BTC}  # /market has said nothing yet
            await srv.send("market", market_frames("markPrice@1s", BTC)[0])
            await until(lambda: not feed.stale_symbols(clock.now))
            assert feed.status(clock.now)[BTC] == {"connected": True, "synced": True, "ageMs": 0, "stale": False}
            clock.now += 5_000
            assert feed.stale_symbols(clock.now) == set()  # exactly stale_after_ms: still fresh
            clock.now += 1  # silence
            assert feed.stale_symbols(clock.now) == {BTC}
            for f in market_frames("bookTicker", BTC):  # /public talks again; /market is still silent
                await srv.send("public", f)
            await until(lambda: feed.status(clock.now)[BTC]["ageMs"] == 5_001)
            assert feed.stale_symbols(clock.now) == {BTC}
            await srv.send("market", market_frames("markPrice@1s", BTC)[1])
            await until(lambda: not feed.stale_symbols(clock.now))
    run(go())


def test_stale_on_the_default_wall_clock():
    def now() -> int:
        return time.time_ns() // 1_000_000

    async def go():
        async with running(stale_after_ms=300) as (srv, feed):
            await sync(srv, feed)

            async def talk():
                await srv.send("public", market_frames("bookTicker", BTC)[0])
                await srv.send("market", market_frames("markPrice@1s", BTC)[0])
                await until(lambda: not feed.stale_symbols(now()))
            await talk()
            await until(lambda: feed.stale_symbols(now()) == {BTC})  # 300 ms of silence
            await talk()
    run(go())


def test_silent_connection_is_reopened_and_resynced():
    async def go():
        async with running(idle_reconnect_ms=200) as (srv, feed):
            await sync(srv, feed)
            await srv.play(BTC, 2)  # then nothing: both sockets stay open but silent
            await until(lambda: len(srv.paths) >= 4)
            assert feed.stats["reconnects"] >= 2
            await srv.wait_connected("public")
            await srv.play(BTC)
            await until(lambda: feed.stats["snapshots"] == 2 and feed.local_book(BTC)[0])
            assert_book_is_snapshot(srv, feed)
    run(go())


def test_every_symbol_is_stale_before_start_and_after_stop():
    clock = FakeClock()

    async def go():
        async with running((BTC, ETH), clock=clock) as (srv, feed):
            await sync(srv, feed, BTC)
            await sync(srv, feed, ETH)
            await srv.send("market", market_frames("markPrice@1s", BTC)[0])
            await srv.send("market", market_frames("markPrice@1s", ETH)[0])
            await until(lambda: not feed.stale_symbols(clock.now))
            await feed.stop()
            assert feed.stale_symbols(clock.now) == {BTC, ETH}
    idle = BinanceFeed(INSTRUMENTS, [BTC, ETH])
    assert idle.stale_symbols(0) == {BTC, ETH}
    run(go())


# ---------------------------------------------------------------------------------------------- trades, marks, frames


def test_trades_and_marks_arrive_as_exact_commands_in_arrival_order():
    async def go():
        async with running() as (srv, feed):
            trades = market_frames("aggTrade", BTC)
            marks = market_frames("markPrice@1s", BTC)
            await srv.send("market", trades[0])
            await srv.send("market", marks[0])
            await srv.send("market", trades[1])
            await srv.send("market", trades[1])  # duplicate aggregate trade id: dropped
            await srv.send("market", trades[0])  # older id: dropped
            await srv.send("market", trades[2])
            out = Collector(feed)
            await until(lambda: feed.stats["duplicates"] == 2 and len(out.poll()) == 4)
            assert out.cmds == [
                TradePrint(BTC, 9725020, 3570, buyer_is_maker=True, trade_id=2700000001),  # "97250.20" x "3.570"
                # "97250.00340166" -> 9725000; index "97250.87994487" -> 9725088 (half-up); r "0.00011892"
                MarkPriceUpdate(BTC, mark_price=9725000, index_price=9725088, funding_rate=11892,
                                next_funding_time=1764028800000),
                TradePrint(BTC, 9724970, 2066, buyer_is_maker=False, trade_id=2700000002),
                TradePrint(BTC, 9724990, 1974, buyer_is_maker=True, trade_id=2700000003),
            ]
            assert feed.poll(0) == []
    run(go())


def test_malformed_frames_and_unknown_symbols_are_skipped():
    async def go():
        async with running() as (srv, feed):
            good = market_frames("aggTrade", BTC)[0]
            bad_float = json.loads(json.dumps(good))
            bad_float["data"]["p"] = 97250.2  # a JSON number: would have gone through a float
            bad_precision = json.loads(json.dumps(good))
            bad_precision["data"]["p"] = "97250.205"
            missing = json.loads(json.dumps(good))
            del missing["data"]["a"]
            unknown_event = {"stream": "btcusdt@kline_1m", "data": {"e": "kline", "s": BTC, "k": {}}}
            for text in ("not json", "[1,2]", '{"stream":"x"}', json.dumps(bad_float), json.dumps(bad_precision),
                         json.dumps(missing), json.dumps(unknown_event)):
                await srv.send_text("market", text)
            await srv.send("market", market_frames("aggTrade", ETH)[0])  # not configured: skipped
            await srv.send_text("market", '{"result":null,"id":1}')  # control answer: ignored
            await srv.send("market", good)
            out = Collector(feed)
            await until(out.poll)
            assert out.cmds == [TradePrint(BTC, 9725020, 3570, buyer_is_maker=True, trade_id=2700000001)]
            assert feed.stats["malformed"] == 7
            assert feed.stats["reconnects"] == 0  # never crashed the connection task
            # A malformed diff breaks the pu chain: the feed notices and resyncs.
            await sync(srv, feed)
            await srv.play(BTC, skip=True)  # the exchange processed this diff, only a broken copy goes out
            await srv.send_text("public", '{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","s":"BTCUSDT"}}')
            await srv.play(BTC)
            await until(lambda: feed.stats["snapshots"] == 2 and feed.local_book(BTC)[0])
            assert feed.stats["gaps"] == 1 and feed.stats["malformed"] == 8
            assert_book_is_snapshot(srv, feed)
    run(go())


def test_two_symbols_sync_independently():
    async def go():
        async with running((BTC, ETH), depth_levels=5) as (srv, feed):
            out = Collector(feed)
            await sync(srv, feed, BTC)
            await srv.play(BTC, skip=True)
            await sync(srv, feed, ETH)
            await srv.play(ETH, 4)
            await until(lambda: len(out.books(ETH)) == 5)
            assert_book_is_snapshot(srv, feed, ETH)
            assert feed.stats["gaps"] == 0
            await srv.play(BTC)  # BTC's gap shows only now, ETH is untouched
            await until(lambda: feed.stats["gaps"] == 1 and feed.stats["snapshots"] == 3 and feed.local_book(BTC)[0])
            assert_book_is_snapshot(srv, feed, BTC)
            assert all(len(b.bids) == 5 and len(b.asks) == 5 for b in out.books(BTC) + out.books(ETH))
    run(go())
