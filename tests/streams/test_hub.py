"""StreamHub + Session on a real Venue and MarketData (no server): subscriptions, encode-once fan-out, control
frames, user data binding, listen-key expiry, slow consumers."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from alfax.domain import commands as C
from alfax.domain.enums import OrderType, Side
from alfax.marketdata.store import MarketData
from alfax.streams.frames import frame_payload, text_frame
from alfax.streams.hub import StreamHub
from alfax.streams.names import parse_stream
from alfax.streams.session import Limits, Session

from .helpers import INSTRUMENTS, SYM, T0, Sim, px, qty


class Keys:
    """Listen-key registry stand-in with the edge's resolver interface (the edge's own class lives in api/)."""

    def __init__(self) -> None:
        self.valid: dict[str, int] = {}

    def account_for(self, key: str, now_ms: int) -> int | None:
        return self.valid.get(key)


class World:
    def __init__(self) -> None:
        self.sim = Sim()
        self.market = MarketData(INSTRUMENTS)
        self.keys = Keys()
        self.now = T0
        self.hub = StreamHub(INSTRUMENTS, self.market, self.sim.v, self.keys, clock=lambda: self.now)
        self.sent: dict[Session, list[str]] = {}

    def session(self, combined=False, limits: Limits | None = None) -> Session:
        out: list[str] = []

        async def send(msg):
            out.append(msg)

        s = Session(self.hub, send, limits or Limits(), combined)
        self.sent[s] = out
        return s

    def market_cmd(self, cmd):
        self.market.on_command(self.now, cmd)
        self.sim.do(cmd)
        self.hub.on_market(self.now, cmd)


def frames(s: Session) -> list:
    return [orjson.loads(frame_payload(f)) for f in s.queue]


def run(coro_fn):
    return asyncio.run(coro_fn())


def test_parse_stream_names():
    syms = INSTRUMENTS
    assert parse_stream("btcusdt@aggTrade", syms).kind == "aggTrade"
    assert parse_stream("BTCUSDT@aggTrade", syms).name == "btcusdt@aggTrade"
    d = parse_stream("ethusdt@depth10@100ms", syms)
    assert (d.kind, d.symbol, d.levels, d.speed_ms) == ("depthN", "ETHUSDT", 10, 100)
    assert parse_stream("btcusdt@depth", syms).speed_ms == 250
    assert parse_stream("btcusdt@depth@500ms", syms).speed_ms == 500
    assert parse_stream("btcusdt@markPrice@1s", syms).speed_ms == 1000
    assert parse_stream("btcusdt@markPrice", syms).speed_ms == 3000
    ck = parse_stream("btcusdt_perpetual@continuousKline_1M", syms)
    assert (ck.kind, ck.symbol, ck.interval) == ("continuousKline", "BTCUSDT", "1M")
    assert parse_stream("!markPrice@arr@1s", syms).speed_ms == 1000
    for bad in ("0", "5", "btcusdt", "xxxusdt@aggTrade", "btcusdt@kline_7m", "btcusdt@depth15", "btcusdt@depth@1s",
                "btcusdt_current_quarter@continuousKline_1m", "!foo@arr", ""):
        assert parse_stream(bad, syms) is None, bad


def test_encode_once_raw_and_combined_sessions():
    async def go():
        w = World()
        raw, comb = w.session(), w.session(combined=True)
        w.hub.subscribe(raw, ["btcusdt@aggTrade", "0"])  # ccxt.pro's path index is ignored
        w.hub.subscribe(comb, ["BTCUSDT@aggTrade"])
        assert list(raw.subs) == ["btcusdt@aggTrade"]
        w.market_cmd(C.TradePrint(SYM, px("30001.0"), qty("0.5"), True, 77))
        (r,), (c,) = frames(raw), frames(comb)
        assert r["e"] == "aggTrade" and r["a"] == 77 and r["p"] == "30001.00" and r["q"] == "0.500" and r["m"] is True
        assert c == {"stream": "btcusdt@aggTrade", "data": r}
        assert w.hub.published == 2
        # nobody listens to @trade: nothing encoded or queued
        w.hub.unsubscribe(raw, ["btcusdt@aggTrade"])
        w.market_cmd(C.TradePrint(SYM, px("30001.0"), qty("0.5"), True, 78))
        assert len(raw.queue) == 1 and len(comb.queue) == 2

    run(go)


def test_book_ticker_only_on_top_change_and_depth_chain():
    async def go():
        w = World()
        s = w.session(combined=True)
        w.hub.subscribe(s, ["btcusdt@bookTicker", "btcusdt@depth@100ms", "btcusdt@depth5"])
        w.market_cmd(C.BookUpdate(SYM, ((px("30000.0"), qty("1")),), ((px("30000.1"), qty("1")),), 1000))
        w.market_cmd(C.BookUpdate(SYM, ((px("30000.0"), qty("1")), (px("29999.9"), qty("2"))),
                                  ((px("30000.1"), qty("1")),), 1001))  # same top
        bt = [f["data"] for f in frames(s) if f["stream"] == "btcusdt@bookTicker"]
        assert [b["u"] for b in bt] == [1000]
        w.hub._flush_depth(w.now, 100)
        w.hub._flush_depth(w.now, 250)
        w.market_cmd(C.BookUpdate(SYM, ((px("29999.9"), qty("2")),), ((px("30000.1"), qty("3")),), 1005))
        w.hub._flush_depth(w.now, 100)
        w.hub._flush_depth(w.now, 250)
        w.hub._flush_depth(w.now, 250)  # unchanged: no second partial frame
        depth = [f["data"] for f in frames(s) if f["stream"] == "btcusdt@depth@100ms"]
        assert [(d["U"], d["u"], d["pu"]) for d in depth] == [(1001, 1001, 1000), (1002, 1005, 1001)]
        assert depth[1]["b"] == [["30000.00", "0.000"]] and depth[1]["a"] == [["30000.10", "3.000"]]
        part = [f["data"] for f in frames(s) if f["stream"] == "btcusdt@depth5"]
        assert [p["u"] for p in part] == [1001, 1005] and part[1]["pu"] == 1001
        assert part[1]["b"] == [["29999.90", "2.000"]]

    run(go)


def test_control_frames_and_errors():
    async def go():
        w = World()
        s = w.session()
        for text in ('{"method":"SUBSCRIBE","params":["btcusdt@aggTrade","ethusdt@bookTicker"],"id":1700000000123}',
                     '{"method":"LIST_SUBSCRIPTIONS","id":"abc"}',
                     '{"method":"UNSUBSCRIBE","params":["ethusdt@bookTicker"],"id":3}',
                     '{"method":"GET_PROPERTY","params":["combined"],"id":4}',
                     '{"method":"SET_PROPERTY","params":["combined",true],"id":5}',
                     '{"method":"GET_PROPERTY","params":["combined"],"id":6}',
                     '{"method":"SET_PROPERTY","params":["combined","yes"],"id":7}',
                     '{"method":"SET_PROPERTY","params":["colour",true],"id":8}',
                     '{"method":"NOPE","id":9}', '{"params":[],"id":10}', '{"method":"SUBSCRIBE","params":"x","id":11}',
                     '{"method":"LIST_SUBSCRIPTIONS","id":-1}', "not json", "[1,2]"):
            s.handle_text(text)
        f = frames(s)
        assert f[0] == {"result": None, "id": 1700000000123}
        assert f[1] == {"result": ["btcusdt@aggTrade", "ethusdt@bookTicker"], "id": "abc"}
        assert f[2] == {"result": None, "id": 3}
        assert f[3] == {"result": False, "id": 4} and f[4] == {"result": None, "id": 5}
        assert f[5] == {"result": True, "id": 6} and s.combined
        assert f[6] == {"error": {"code": 1, "msg": "Invalid value type: expected Boolean"}, "id": 7}
        assert f[7] == {"error": {"code": 0, "msg": "Unknown property"}, "id": 8}
        assert f[8]["error"]["code"] == 2 and "unknown variant `NOPE`" in f[8]["error"]["msg"] and f[8]["id"] == 9
        assert f[9]["error"] == {"code": 2, "msg": "Invalid request: missing field `method`"}
        assert f[10]["error"]["code"] == 2 and f[10]["id"] == 11
        assert f[11]["error"]["code"] == 2 and "unsigned integer" in f[11]["error"]["msg"] and f[11]["id"] is None
        assert f[12]["error"]["code"] == 3 and f[12]["error"]["msg"].startswith("Invalid JSON")
        assert f[13]["error"]["code"] == 2
        assert list(s.subs) == ["btcusdt@aggTrade"]

    run(go)


def test_too_many_streams_is_refused_with_an_error_frame():
    async def go():
        w = World()
        s = w.session(limits=Limits(max_streams=3))
        s.handle_text('{"method":"SUBSCRIBE","params":["btcusdt@aggTrade","btcusdt@trade"],"id":1}')
        s.handle_text('{"method":"SUBSCRIBE","params":["btcusdt@depth","btcusdt@depth5"],"id":2}')
        f = frames(s)
        assert f[0] == {"result": None, "id": 1}
        assert f[1] == {"error": {"code": 2, "msg": "Invalid request: too many streams, at most 3 per connection"},
                        "id": 2}
        assert len(s.subs) == 2

    run(go)


def test_user_data_bound_by_listen_key_then_expired():
    async def go():
        w = World()
        w.keys.valid["k" * 64] = 1
        raw, comb, other = w.session(), w.session(combined=True), w.session()
        w.hub.subscribe(raw, ["k" * 64])  # the connector's trick: the listen key as a stream name
        assert w.hub.bind_user(comb, "k" * 64) and not w.hub.bind_user(other, "nope" * 16)
        evs = w.sim.do(C.PlaceOrder(1, SYM, Side.BUY, OrderType.MARKET, quantity=qty("0.1")))
        w.hub.on_events(evs)
        kinds = [f["e"] for f in frames(raw)]
        assert kinds == ["ORDER_TRADE_UPDATE", "TRADE_LITE", "ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"]
        assert [f["o"]["X"] for f in frames(raw) if f["e"] == "ORDER_TRADE_UPDATE"] == ["NEW", "FILLED"]
        assert [f["data"] for f in frames(comb)] == frames(raw)
        assert {f["stream"] for f in frames(comb)} == {"k" * 64}
        assert not other.queue
        # account 2's events are not encoded for anybody
        before = w.hub.published
        w.hub.on_events(w.sim.do(C.PlaceOrder(2, SYM, Side.BUY, OrderType.MARKET, quantity=qty("0.1"))))
        assert w.hub.published == before
        # expiry (or DELETE): listenKeyExpired once, then silence
        del w.keys.valid["k" * 64]
        w.hub._check_listen_keys(w.now, 1000)
        w.hub._check_listen_keys(w.now, 1000)
        last = frames(raw)[-1]
        assert last == {"e": "listenKeyExpired", "E": w.now, "listenKey": "k" * 64}
        assert [f["e"] for f in frames(raw)].count("listenKeyExpired") == 1
        n = len(raw.queue)
        w.hub.on_events(w.sim.do(C.PlaceOrder(1, SYM, Side.SELL, OrderType.MARKET, quantity=qty("0.1"))))
        assert len(raw.queue) == n and "k" * 64 not in raw.subs

    run(go)


def test_slow_consumer_is_disconnected_and_its_backlog_freed():
    async def go():
        w = World()
        s = w.session(limits=Limits(max_queue=5))
        w.hub.subscribe(s, ["btcusdt@aggTrade"])
        for i in range(10):
            w.market_cmd(C.TradePrint(SYM, px("30000.0"), qty("0.1"), False, 100 + i))
        assert s.closing == (1013, "slow consumer: more than 5 messages queued")
        assert not s.queue and s.done.done()

    run(go)


def test_kline_push_closes_the_previous_candle():
    async def go():
        w = World()
        s = w.session()
        w.hub.subscribe(s, ["btcusdt@kline_1m", "btcusdt_perpetual@continuousKline_1m"])
        minute = 60_000
        w.now = T0 - T0 % minute + 1000
        w.market_cmd(C.TradePrint(SYM, px("30000.0"), qty("1"), False, 1))
        w.hub._push_klines(w.now, 250)
        w.hub._push_klines(w.now, 250)  # unchanged: nothing new
        w.now += minute
        w.market_cmd(C.TradePrint(SYM, px("30010.0"), qty("2"), False, 2))
        w.hub._push_klines(w.now, 250)
        k = [f for f in frames(s) if f["e"] == "kline"]
        assert [(x["k"]["c"], x["k"]["x"]) for x in k] == [("30000.00", False), ("30000.00", True), ("30010.00", False)]
        ck = [f for f in frames(s) if f["e"] == "continuous_kline"]
        assert len(ck) == 3 and ck[0]["ps"] == SYM and ck[0]["ct"] == "PERPETUAL" and "s" not in ck[0]["k"]

    run(go)


@pytest.mark.parametrize("speed,name", [(1000, "btcusdt@markPrice@1s"), (3000, "btcusdt@markPrice")])
def test_mark_price_streams(speed, name):
    async def go():
        w = World()
        s = w.session(combined=True)
        w.hub.subscribe(s, [name, "!markPrice@arr" + ("@1s" if speed == 1000 else "")])
        w.market_cmd(C.MarkPriceUpdate(SYM, px("30000.5"), px("30001.0"), 10_000, T0 + 3_600_000))
        w.hub._push_marks(w.now, speed)
        one, arr = frames(s)
        assert one["data"]["p"] == "30000.50000000" and one["data"]["r"] == "0.00010000"
        assert arr["data"] == [one["data"]]

    run(go)


@pytest.mark.parametrize("n", [0, 1, 125, 126, 65535, 65536, 70000])
def test_text_frames_are_valid_unmasked_rfc6455_frames(n):
    """Parsed back by the websockets library's own frame reader (the client side of the protocol)."""
    from websockets.frames import Frame, Opcode
    from websockets.streams import StreamReader

    payload = b"x" * n
    frame = text_frame(payload)
    assert frame_payload(frame) == payload
    reader = StreamReader()
    reader.feed_data(frame)
    gen = Frame.parse(reader.read_exact, mask=False)
    try:
        next(gen)
        raise AssertionError("frame parser wanted more bytes")
    except StopIteration as stop:
        parsed = stop.value
    assert parsed.opcode is Opcode.TEXT and parsed.fin and parsed.data == payload


def test_without_a_raw_frame_writer_frames_go_through_asgi_send_as_text():
    """Under an ASGI server without the alfax.frame_writer extension, the writer task sends websocket.send text."""
    async def go():
        w = World()
        s = w.session()
        w.hub.subscribe(s, ["btcusdt@aggTrade"])
        task = asyncio.get_running_loop().create_task(s.write_loop())
        w.market_cmd(C.TradePrint(SYM, px("30000.0"), qty("0.1"), False, 5))
        s.handle_text('{"method":"LIST_SUBSCRIPTIONS","id":1}')
        for _ in range(50):
            if len(w.sent[s]) == 2:
                break
            await asyncio.sleep(0.01)
        s.close(1000, "bye")
        await asyncio.wait_for(task, 1)
        msgs = w.sent[s]
        assert [m["type"] for m in msgs] == ["websocket.send", "websocket.send"]
        assert orjson.loads(msgs[0]["text"])["a"] == 5
        assert orjson.loads(msgs[1]["text"]) == {"result": ["btcusdt@aggTrade"], "id": 1}

    run(go)


def test_force_order_snapshot_latest_liquidation_per_second():
    """Binance: per symbol, only the latest liquidation of each 1000 ms is pushed; none when nothing happened."""
    from alfax.domain.enums import MarginType

    async def go():
        w = World()
        s = w.session(combined=True)
        w.hub.subscribe(s, ["btcusdt@forceOrder", "!forceOrder@arr"])
        for acct in (1, 2):
            w.sim.do(C.SetMarginType(acct, SYM, MarginType.ISOLATED))
            w.sim.do(C.SetLeverage(acct, SYM, 100))
        w.sim.book([("30000.0", "5")], [("30000.0", "5")])
        w.sim.do(C.PlaceOrder(1, SYM, Side.BUY, OrderType.MARKET, quantity=qty("1")))
        w.sim.do(C.PlaceOrder(2, SYM, Side.BUY, OrderType.MARKET, quantity=qty("2")))
        w.hub._push_force_orders(w.now, 1000)
        assert not s.queue  # no liquidation, no frame
        w.hub.on_events(w.sim.mark("29000.0"))  # both accounts liquidated in one batch
        w.hub._push_force_orders(w.now, 1000)
        f = frames(s)
        assert [x["stream"] for x in f] == ["btcusdt@forceOrder", "!forceOrder@arr"]
        assert f[0]["data"] == f[1]["data"] and f[0]["data"]["o"]["s"] == SYM
        assert f[0]["data"]["o"]["q"] == "2.000"  # the latest one of the window (account 2's)
        w.hub._push_force_orders(w.now + 1000, 1000)
        assert len(s.queue) == 2

    run(go)
