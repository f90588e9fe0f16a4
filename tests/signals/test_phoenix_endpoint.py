"""The Phoenix channels endpoint and the session API (signals.md §3; seed 002), over real HTTP and WebSockets.

A real uvicorn (the server's WebSocket protocol class) on 127.0.0.1 in a background thread serves the routes of a
real hub on a real SQLite file; the tests talk to it with httpx and the ``websockets`` client, frame by frame.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from alfax.ledger.hub_users import SqliteHubUsers
from alfax.ledger.signal_log import SqliteSignalLog
from alfax.signals import phoenix_wire as wire
from alfax.signals.hub import SignalHub
from alfax.signals.payloads import new_signals_payload
from alfax.signals.phoenix import PhoenixEndpoint
from alfax.signals.sessions import SessionTokens
from alfax.streams.uvicorn_ws import protocol_class

EMAIL, PASSWORD, ACCOUNT = "Trader@Example.com", "s3cret-pass", 7
WAIT = 10.0  # upper bound for any condition wait; tests normally finish far sooner


class Clock:
    """An injectable wall clock (ms) for the token TTLs."""

    def __init__(self) -> None:
        self.ms = 1_700_000_000_000

    def __call__(self) -> int:
        return self.ms


class HubServer:
    """uvicorn on 127.0.0.1 (port 0, or a given port to restart on) serving a hub's Phoenix routes."""

    def __init__(self, db, *, port: int = 0, clock=None, buffer: int | None = None, **endpoint_kw) -> None:
        self.db = str(db)
        self.clock = clock or (lambda: int(time.time() * 1000))
        self.log = SqliteSignalLog(self.db)
        self.users = SqliteHubUsers(self.db)
        self.tokens = SessionTokens(self.clock)
        self.hub = SignalHub(self.log, self.clock, **({"buffer": buffer} if buffer else {}))
        self.endpoint = PhoenixEndpoint(self.hub, self.users, self.tokens, **endpoint_kw)
        app = Starlette(routes=self.endpoint.routes())
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", ws=protocol_class(),
                                                    ws_per_message_deflate=False))
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + WAIT
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            await self.server.serve(sockets=[self.sock])

        asyncio.run(main())

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/socket/websocket"

    def call(self, coro):
        """Run a coroutine on the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(WAIT)

    def publish(self, channel: str, payload: dict | None = None):
        record, new = self.call(self.hub.publish(channel, payload or signal()))
        assert new
        return record

    def subscribers(self, channel: str | None = None) -> int:
        async def count() -> int:
            return self.hub.subscriber_count(channel)
        return self.call(count())

    def drop_all(self, code: int = 1012) -> int:
        return self.call(self.endpoint.drop_all(code))

    def login(self, email: str = EMAIL, password: str = PASSWORD) -> dict:
        r = httpx.post(self.base_url + "/api/v1/session", data={"user[email]": email, "user[password]": password})
        assert r.status_code == 200, r.text
        return r.json()["data"]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "uvicorn did not stop"
        self.log.close()
        self.users.close()


def signal(i: int = 0, side: str = "buy") -> dict:
    return {"action": "open", "asset_type": "PERPETUAL", "datetime": "2024-05-01T12:00:00", "exchange": "BINANCE",
            "price": f"{100 + i}.5", "quantity": "0.01", "side": side, "symbol": "BTCUSDT", "ts": 1714564800000}


def wait_for(cond, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def recv(ws, timeout: float = WAIT) -> list:
    return json.loads(ws.recv(timeout))


def recv_event(ws, event: str, timeout: float = WAIT) -> list:
    """The next frame with ``event``, skipping ``head`` pushes (which may come at any time)."""
    deadline = time.monotonic() + timeout
    while True:
        frame = recv(ws, max(0.01, deadline - time.monotonic()))
        if frame[3] == event:
            return frame
        assert frame[3] == "head", f"unexpected frame {frame}"


def signals_until(ws, last_seq: int) -> list[int]:
    """Seqs of the ``new_signals`` pushes received up to ``last_seq`` (heads skipped)."""
    seqs: list[int] = []
    while not seqs or seqs[-1] < last_seq:
        seqs.append(recv_event(ws, "new_signals")[4]["seq"])
    return seqs


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = HubServer(tmp_path_factory.mktemp("phx") / "hub.db")
    s.users.add(EMAIL, PASSWORD, ACCOUNT)
    yield s
    s.stop()


@pytest.fixture
def token(srv) -> str:
    return srv.login()["token"]


def open_ws(srv, token: str, **kw):
    return connect(f"{srv.ws_url}?vsn=2.0.0&api_token={token}", open_timeout=WAIT, **kw)


# ---------------------------------------------------------------------------------------------------- session API

def test_login_issues_pow_shaped_tokens_and_refuses_bad_credentials(srv):
    r = httpx.post(srv.base_url + "/api/v1/session", data={"user[email]": "trader@EXAMPLE.com",
                                                            "user[password]": PASSWORD},
                   headers={"Content-Type": "application/x-www-form-urlencoded"})  # exactly as seed 002 sends it
    assert r.status_code == 200
    body = r.json()
    assert list(body) == ["data"] and sorted(body["data"]) == ["renew_token", "token"]
    assert srv.tokens.account_for(body["data"]["token"]) == ACCOUNT
    assert body["data"]["token"] != body["data"]["renew_token"]

    for email, password in ((EMAIL, "wrong"), ("nobody@example.com", PASSWORD)):
        r = httpx.post(srv.base_url + "/api/v1/session", data={"user[email]": email, "user[password]": password})
        assert r.status_code == 401
        assert r.json() == {"error": {"status": 401, "message": "Invalid email or password"}, "code": -1002,
                            "msg": "Invalid email or password"}

    r = httpx.post(srv.base_url + "/api/v1/session", data={"user[email]": EMAIL})
    assert r.status_code == 400 and r.json()["code"] == -1102 and "user[password]" in r.json()["msg"]
    assert r.json()["error"]["status"] == 400

    # a JSON body {"user": {...}} and query-string params (Phoenix merges both) log in too
    r = httpx.post(srv.base_url + "/api/v1/session", json={"user": {"email": EMAIL, "password": PASSWORD}})
    assert r.status_code == 200 and srv.tokens.account_for(r.json()["data"]["token"]) == ACCOUNT
    r = httpx.post(srv.base_url + "/api/v1/session", params={"user[email]": EMAIL, "user[password]": PASSWORD})
    assert r.status_code == 200


def test_renew_and_logout(srv):
    pair = srv.login()
    r = httpx.post(srv.base_url + "/api/v1/session/renew", headers={"Authorization": pair["renew_token"]})
    assert r.status_code == 200
    new = r.json()["data"]
    assert sorted(new) == ["renew_token", "token"] and new["token"] != pair["token"]
    # the renewal token works once; the old pair is gone
    r = httpx.post(srv.base_url + "/api/v1/session/renew", headers={"Authorization": pair["renew_token"]})
    assert r.status_code == 401 and r.json()["error"] == {"status": 401, "message": "Invalid token"}
    assert r.json()["code"] == -1002
    with pytest.raises(InvalidStatus) as exc:
        open_ws(srv, pair["token"])
    assert exc.value.response.status_code == 403
    with open_ws(srv, new["token"]) as ws:
        ws.send('[null,"1","phoenix","heartbeat",{}]')
        assert recv(ws)[3] == "phx_reply"
    r = httpx.delete(srv.base_url + "/api/v1/session", headers={"Authorization": new["token"]})
    assert r.status_code == 200 and r.json() == {"data": {}}
    with pytest.raises(InvalidStatus) as exc:
        open_ws(srv, new["token"])
    assert exc.value.response.status_code == 403
    assert httpx.delete(srv.base_url + "/api/v1/session").status_code == 401


def test_token_expiry_refuses_the_upgrade(tmp_path):
    clock = Clock()
    s = HubServer(tmp_path / "hub.db", clock=clock)
    try:
        s.users.add(EMAIL, PASSWORD, ACCOUNT)
        token = s.login()["token"]
        clock.ms += 30 * 60_000 - 1
        with open_ws(s, token):  # still valid one ms before the 30 minutes
            pass
        clock.ms += 1
        with pytest.raises(InvalidStatus) as exc:
            open_ws(s, token)
        assert exc.value.response.status_code == 403
        for bad in ("", "nope"):
            with pytest.raises(InvalidStatus) as exc:
                open_ws(s, bad)
            assert exc.value.response.status_code == 403
        with pytest.raises(InvalidStatus) as exc:  # an unsupported serializer version is refused too
            connect(f"{s.ws_url}?vsn=3.0.0&api_token={s.login()['token']}", open_timeout=WAIT)
        assert exc.value.response.status_code == 403
    finally:
        s.stop()


# ---------------------------------------------------------------------------------------------------- seed 002

def test_seed_002_frames_byte_for_byte(srv, token):
    with open_ws(srv, token) as ws:
        ws.send(json.dumps([None, None, "algorithms:14", "phx_join", {}]))  # AlphaHub builds frames with json.dumps
        assert ws.recv(WAIT) == '[null,null,"algorithms:14","phx_reply",{"response":{},"status":"ok"}]'
        head = recv(ws)  # the first head right after the join
        assert head[:4] == [None, None, "algorithms:14", "head"] and set(head[4]) == {"channel", "epoch", "id", "seq"}
        ws.send('[null,null,"phoenix","heartbeat",{}]')
        assert ws.recv(WAIT) == '[null,null,"phoenix","phx_reply",{"response":{},"status":"ok"}]'
        ws.send('[null,"2","phoenix","heartbeat",{}]')
        assert ws.recv(WAIT) == '[null,"2","phoenix","phx_reply",{"response":{},"status":"ok"}]'

        record = srv.publish("14", signal(1, "sell"))
        text = ws.recv(WAIT)
        assert text == wire.encode(wire.push("algorithms:14", "new_signals", new_signals_payload([record])))
        assert text.startswith('[null,null,"algorithms:14","new_signals",{')
        push = json.loads(text)
        info = push[4]
        assert info["close"] == [] and len(info["open"]) == 1
        item = info["open"][0]
        assert {k: item[k] for k in ("price", "side", "symbol", "timestamp")} == {
            "price": 101.5, "side": "sell", "symbol": "BTCUSDT", "timestamp": "2024-05-01T12:00:00"}
        assert (info["seq"], info["epoch"], item["seq"]) == (record.seq, record.epoch, record.seq)


# ---------------------------------------------------------------------------------------------------- resume

def test_join_with_cursor_replays_exactly_the_missed_records_then_live(srv, token):
    records = [srv.publish("resume", signal(i)) for i in range(5)]
    epoch = records[0].epoch
    with open_ws(srv, token) as ws:
        ws.send(json.dumps(["3", "3", "algorithms:resume", "phx_join", {"last_seq": 2, "epoch": epoch}]))
        assert recv(ws) == ["3", "3", "algorithms:resume", "phx_reply",
                            {"response": {"epoch": epoch, "head_seq": 5, "replay": 3}, "status": "ok"}]
        replayed = [recv(ws) for _ in range(3)]
        assert [f[4]["seq"] for f in replayed] == [3, 4, 5]
        assert all(f[:4] == ["3", None, "algorithms:resume", "new_signals"] for f in replayed)
        assert [f[4] for f in replayed] == [new_signals_payload([r]) for r in records[2:]]
        head = recv(ws)
        assert head == ["3", None, "algorithms:resume", "head",
                        {"channel": "resume", "epoch": epoch, "id": f"{epoch}:5", "seq": 5}]
        srv.publish("resume", signal(6))
        assert signals_until(ws, 6) == [6]

    # a cursor given as a bare seq (no epoch) is served too; at the head there is nothing to replay
    with open_ws(srv, token) as ws:
        ws.send(json.dumps([None, None, "algorithms:resume", "phx_join", {"last_seq": 6}]))
        assert recv(ws)[4] == {"response": {"epoch": epoch, "head_seq": 6, "replay": 0}, "status": "ok"}
        assert recv(ws)[3] == "head"


def test_replay_and_live_interleave_exactly_once_while_publishing(srv, token):
    """Signals published while joins are being served (subscribe-before-read): no loss, no duplicate."""
    first = srv.publish("race")
    stop = threading.Event()
    published: list[int] = [first.seq]

    def provider() -> None:
        while not stop.is_set() and len(published) < 400:
            published.append(srv.publish("race").seq)

    t = threading.Thread(target=provider)
    t.start()
    got: list[int] = []
    try:
        for _ in range(4):  # reconnect with the cursor several times while the provider keeps publishing
            with open_ws(srv, token) as ws:
                try:
                    ws.send(json.dumps(["1", "1", "algorithms:race", "phx_join",
                                        {"last_seq": got[-1] if got else 0, "epoch": first.epoch}]))
                    assert recv(ws)[4]["status"] == "ok"
                    target = len(got) + 20
                    while len(got) < target:
                        got.append(recv_event(ws, "new_signals")[4]["seq"])
                finally:
                    ws.close_socket()  # an abrupt drop, with pushes still in flight
    finally:
        stop.set()
        t.join(WAIT)
    assert got == list(range(1, len(got) + 1))


def test_reset_when_the_cursor_cannot_be_served(srv, token):
    rec = [srv.publish("reset", signal(i)) for i in range(3)][-1]
    with open_ws(srv, token) as ws:
        ws.send(json.dumps(["1", "1", "algorithms:reset", "phx_join", {"last_seq": 2, "epoch": "0123456789ab"}]))
        reply = recv(ws)
        assert reply[3] == "phx_reply" and reply[4] == {"status": "ok", "response": {
            "channel": "reset", "epoch": rec.epoch, "head_seq": 3, "id": f"{rec.epoch}:3",
            "reason": "epoch_changed", "reset": True}}
        assert recv(ws)[3] == "head"  # nothing replayed: the client continues from the head
        srv.publish("reset")
        assert signals_until(ws, 4) == [4]

        ws.send(json.dumps(["2", "2", "algorithms:reset", "phx_join", {"last_seq": 99, "epoch": rec.epoch}]))
        assert recv_event(ws, "phx_close")[:2] == ["1", "1"]  # the replaced join ends first
        reply = recv_event(ws, "phx_reply")
        assert reply[4]["response"]["reset"] is True and reply[4]["response"]["reason"] == "cursor_ahead"
        assert reply[4]["response"]["head_seq"] == 4


# ---------------------------------------------------------------------------------------------------- channel rules

def test_unmatched_topics_are_refused(srv, token):
    with open_ws(srv, token) as ws:
        for topic in ("rooms:1", "algorithms:", "algorithms:bad id", "algorithms:" + "x" * 65, "algorithms:a/b"):
            ws.send(json.dumps([None, "1", topic, "phx_join", {}]))
            assert recv(ws) == [None, "1", topic, "phx_reply",
                                {"response": {"reason": "unmatched topic"}, "status": "error"}]
        ws.send(json.dumps([None, "2", "algorithms:nojoin", "ping", {}]))  # an event on a topic never joined
        assert recv(ws)[4] == {"response": {"reason": "unmatched topic"}, "status": "error"}


def test_leave_replies_ok_then_closes_and_stops_the_pushes(srv, token):
    with open_ws(srv, token) as ws:
        ws.send('["1","1","algorithms:leave","phx_join",{}]')
        assert recv(ws)[4]["status"] == "ok"
        wait_for(lambda: srv.subscribers("leave") == 1, "the subscription")
        ws.send('["1","2","algorithms:leave","phx_leave",{}]')
        assert recv_event(ws, "phx_reply") == ["1", "2", "algorithms:leave", "phx_reply",
                                               {"response": {}, "status": "ok"}]
        assert recv(ws) == ["1", "1", "algorithms:leave", "phx_close", {}]
        assert srv.subscribers("leave") == 0
        srv.publish("leave")
        ws.send('[null,"3","phoenix","heartbeat",{}]')
        assert recv(ws)[:4] == [None, "3", "phoenix", "phx_reply"]  # and no signal before it
        with pytest.raises(TimeoutError):
            ws.recv(0.2)


def test_duplicate_join_replaces_the_old_subscription(srv, token):
    with open_ws(srv, token) as ws:
        ws.send('["1","1","algorithms:dup","phx_join",{}]')
        assert recv(ws)[4]["status"] == "ok"
        ws.send('["2","2","algorithms:dup","phx_join",{"last_seq":0}]')
        assert recv_event(ws, "phx_close") == ["1", "1", "algorithms:dup", "phx_close", {}]
        assert recv_event(ws, "phx_reply")[:2] == ["2", "2"]
        assert srv.subscribers("dup") == 1
        srv.publish("dup")
        push = recv_event(ws, "new_signals")
        assert push[0] == "2"  # the new join's ref
    wait_for(lambda: srv.subscribers("dup") == 0, "cleanup after the socket closed")


def test_malformed_frames_are_ignored_and_the_socket_lives_on(srv, token):
    with open_ws(srv, token) as ws:
        for junk in ("not json", "{}", "[1,2]", '[null,null,"",  "x",{}]', '[1,null,"t","e",{}]', "[]",
                     '[null,null,"algorithms:1","phx_join",[]]'):
            ws.send(junk)
        ws.send(b"\x00\x01binary")
        ws.send('[null,"9","phoenix","heartbeat",{}]')
        assert recv(ws) == [None, "9", "phoenix", "phx_reply", {"response": {}, "status": "ok"}]


# ---------------------------------------------------------------------------------------------------- auth variants

def test_phoenix_js_subprotocol_auth_token_param_and_vsn_1(srv, token):
    b64 = base64.b64encode(token.encode()).decode().rstrip("=")
    with connect(f"{srv.ws_url}?vsn=2.0.0", subprotocols=["phoenix", f"base64url.bearer.phx.{b64}"],
                 open_timeout=WAIT) as ws:
        assert ws.subprotocol == "phoenix"
        ws.send('[null,"1","phoenix","heartbeat",{}]')
        assert recv(ws)[3] == "phx_reply"
    with pytest.raises(InvalidStatus):
        connect(f"{srv.ws_url}?vsn=2.0.0", subprotocols=["phoenix", "base64url.bearer.phx.bm9wZQ"],
                open_timeout=WAIT)

    with connect(f"{srv.ws_url}?token={token}", open_timeout=WAIT) as ws:  # no vsn: V2
        ws.send('[null,"1","phoenix","heartbeat",{}]')
        assert recv(ws) == [None, "1", "phoenix", "phx_reply", {"response": {}, "status": "ok"}]

    with connect(f"{srv.ws_url}?vsn=1.0.0&api_token={token}", open_timeout=WAIT) as ws:  # V1 object frames
        ws.send(json.dumps({"topic": "algorithms:v1", "event": "phx_join", "payload": {}, "ref": "1"}))
        assert json.loads(ws.recv(WAIT)) == {"event": "phx_reply", "payload": {"response": {}, "status": "ok"},
                                             "ref": "1", "topic": "algorithms:v1"}
        record = srv.publish("v1")
        while (frame := json.loads(ws.recv(WAIT)))["event"] == "head":
            pass
        assert frame == {"event": "new_signals", "payload": new_signals_payload([record]), "ref": None,
                         "topic": "algorithms:v1"}


# ---------------------------------------------------------------------------------------------------- timers

def test_idle_socket_is_closed_and_heartbeats_keep_it_open(tmp_path):
    s = HubServer(tmp_path / "hub.db", idle_timeout_s=0.5)
    try:
        s.users.add(EMAIL, PASSWORD, ACCOUNT)
        token = s.login()["token"]
        with open_ws(s, token) as ws:
            ws.send('[null,null,"algorithms:idle","phx_join",{}]')
            started = time.monotonic()
            with pytest.raises(ConnectionClosed):
                while True:
                    ws.recv(WAIT)  # the join reply and a head, then the close
            assert ws.close_code == 1001
            assert time.monotonic() - started >= 0.4
        wait_for(lambda: s.subscribers() == 0, "the subscription to go with the socket")

        with open_ws(s, token) as ws:
            until = time.monotonic() + 1.5  # three idle timeouts, bridged by heartbeats every 0.1 s
            n = 0
            while time.monotonic() < until:
                n += 1
                ws.send(json.dumps([None, str(n), "phoenix", "heartbeat", {}]))
                assert recv(ws)[1] == str(n)
                time.sleep(0.1)
    finally:
        s.stop()


def test_head_pushes_every_interval_with_the_join_ref(tmp_path):
    s = HubServer(tmp_path / "hub.db", head_every_s=0.2)
    try:
        s.users.add(EMAIL, PASSWORD, ACCOUNT)
        rec = s.publish("heads")
        with open_ws(s, s.login()["token"]) as ws:
            ws.send('["5","5","algorithms:heads","phx_join",{}]')
            assert recv(ws)[3] == "phx_reply"
            t0 = time.monotonic()
            heads = [recv(ws) for _ in range(3)]
            assert time.monotonic() - t0 >= 0.3  # the first at once, then every 0.2 s
            assert all(h == ["5", None, "algorithms:heads", "head",
                             {"channel": "heads", "epoch": rec.epoch, "id": f"{rec.epoch}:1", "seq": 1}]
                       for h in heads)
            s.publish("heads")
            frame = recv(ws)
            while frame[3] == "head" and frame[4]["seq"] == 1:
                frame = recv(ws)
            assert frame[3] == "new_signals" and frame[4]["seq"] == 2  # the signal before any head showing it
            assert recv(ws)[4]["seq"] == 2
    finally:
        s.stop()


def test_a_consumer_that_stops_reading_is_cut_off(tmp_path):
    s = HubServer(tmp_path / "hub.db", send_timeout_s=0.5)
    try:
        s.users.add(EMAIL, PASSWORD, ACCOUNT)
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        with connect(f"{s.ws_url}?api_token={s.login()['token']}", sock=sock, open_timeout=WAIT, max_queue=1) as ws:
            try:
                ws.send('[null,null,"algorithms:slow","phx_join",{}]')
                assert recv(ws)[3] == "phx_reply"
                wait_for(lambda: s.subscribers("slow") == 1, "the subscription")
                big = {"open": [{"price": 1.5, "side": "buy", "symbol": f"SYM{i}", "timestamp": "2024-05-01T12:00:00"}
                                for i in range(400)]}
                for _ in range(100):  # ~6 MB the client never reads: far beyond the socket buffers
                    s.publish("slow", big)
                wait_for(lambda: not s.endpoint.connections, "the server to give up on the socket")
                assert s.subscribers("slow") == 0
            finally:
                ws.close_socket()
    finally:
        s.stop()


def test_drop_all_closes_every_socket(srv, token):
    with open_ws(srv, token) as a, open_ws(srv, token) as b:
        for ws in (a, b):
            ws.send('[null,null,"algorithms:drop","phx_join",{}]')
            assert recv(ws)[3] == "phx_reply"
        assert srv.drop_all(1012) >= 2
        for ws in (a, b):
            with pytest.raises(ConnectionClosed):
                while True:
                    ws.recv(WAIT)
            assert ws.close_code == 1012
    wait_for(lambda: srv.subscribers("drop") == 0, "the subscriptions to be dropped")
