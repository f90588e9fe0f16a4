"""``alfax.sdk.alphahub.Connection`` (the AlphaHub-style client with cursors) against a real hub endpoint: every
signal exactly once and in order while its socket is dropped again and again, the whole server app restarts on the
same database and port (the client's token dies with it), and the client process itself restarts from its cursor
file."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from alfax.ledger.hub_users import SqliteHubUsers
from alfax.ledger.signal_log import SqliteSignalLog
from alfax.sdk.alphahub import AuthenticationFailed, Connection
from alfax.signals.hub import SignalHub
from alfax.signals.payloads import new_signals_payload
from alfax.signals.phoenix import PhoenixEndpoint
from alfax.signals.sessions import SessionTokens
from alfax.streams.uvicorn_ws import protocol_class

EMAIL, PASSWORD, ACCOUNT = "copier@example.com", "pw-123456", 11
WAIT = 20.0


class HubApp:
    """The hub's Phoenix routes under uvicorn on 127.0.0.1 in a thread; ``port`` given = restart on that port."""

    def __init__(self, db: str, port: int = 0, socket_endpoint=None) -> None:
        """``socket_endpoint``: a WebSocket endpoint to serve instead of the hub's (a scripted peer)."""
        now_ms = lambda: int(time.time() * 1000)  # noqa: E731
        self.log = SqliteSignalLog(db)
        self.users = SqliteHubUsers(db)
        self.hub = SignalHub(self.log, now_ms)
        self.endpoint = PhoenixEndpoint(self.hub, self.users, SessionTokens(now_ms))
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self.port = sock.getsockname()[1]
        routes = self.endpoint.routes()
        if socket_endpoint is not None:
            routes = [r for r in routes if not isinstance(r, WebSocketRoute)]
            routes.append(WebSocketRoute("/socket/websocket", socket_endpoint))
        self.server = uvicorn.Server(uvicorn.Config(Starlette(routes=routes), log_level="warning",
                                                    lifespan="off", ws=protocol_class()))
        self.loop: asyncio.AbstractEventLoop | None = None

        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            await self.server.serve(sockets=[sock])

        self.thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        self.thread.start()
        wait_for(lambda: self.server.started, "uvicorn to start")

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(WAIT)

    def publish(self, channel: str, i: int):
        payload = {"action": "open", "price": f"{100 + i}.25", "quantity": "0.5", "side": "buy" if i % 2 else "sell",
                   "symbol": "ETHUSDT", "datetime": "2024-05-01T12:00:00"}
        return self.call(self.hub.publish(channel, payload))[0]

    def drop_all(self) -> int:
        return self.call(self.endpoint.drop_all(1012))

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "uvicorn did not stop"
        self.log.close()
        self.users.close()


def wait_for(cond, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


class ClientThread:
    """A ``Connection`` running in its own thread and event loop, recording what ``on_signal`` got."""

    def __init__(self, app: HubApp, algo_ids, cursor_path=None, on_reset=None, password: str = PASSWORD) -> None:
        self.got: list[tuple[object, dict]] = []
        self.error: BaseException | None = None
        self.conn = Connection(EMAIL, password, algo_ids, lambda i, info: self.got.append((i, info)),
                               base_url=f"http://127.0.0.1:{app.port}", cursor_path=cursor_path, heartbeat_s=0.5,
                               on_reset=on_reset, reconnect_max_s=0.3)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            asyncio.run(self.conn.run())
        except BaseException as exc:  # reported by the test
            self.error = exc

    def seqs(self, algo_id) -> list[int]:
        return [info["seq"] for i, info in list(self.got) if i == algo_id]

    def stop(self) -> None:
        self.conn.stop()
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the client did not stop"


@pytest.fixture
def db(tmp_path) -> str:
    path = str(tmp_path / "hub.db")
    users = SqliteHubUsers(path)
    users.add(EMAIL, PASSWORD, ACCOUNT)
    users.close()
    return path


def test_exactly_once_in_order_across_drops_and_a_server_restart(db, tmp_path):
    app = HubApp(db)
    state = {"app": app}
    gate = threading.Lock()  # held by the provider per publish, by the test across the restart
    published = {"14": 0, "alpha": 0}
    stop = threading.Event()

    def provider() -> None:
        i = 0
        while not stop.is_set():
            channel = "14" if i % 3 else "alpha"
            with gate:
                rec = state["app"].publish(channel, i)
            assert rec.seq == published[channel] + 1
            published[channel] = rec.seq
            i += 1
            time.sleep(0.002)  # a steady stream, not a burst

    client = ClientThread(app, [14, "alpha"], cursor_path=tmp_path / "cursors.json")
    feeder = threading.Thread(target=provider, daemon=True)
    try:
        wait_for(lambda: client.conn.stats.connects == 1 and len(client.conn.cursors) == 2, "the first session")
        feeder.start()

        def drops(n: int) -> None:
            for _ in range(n):
                before = len(client.got)
                # (signals still buffered from the dropped socket arrive first: wait for the new socket too)
                wait_for(lambda: len(client.got) >= before + 15 and len(state["app"].endpoint.connections) == 1,
                         "signals between drops")
                assert state["app"].drop_all() == 1

        drops(4)
        with gate:  # restart the whole app: same database file, same port, a fresh (empty) token store
            port = state["app"].port
            state["app"].stop()
            state["app"] = HubApp(db, port=port)
        drops(3)
        before = len(client.got)
        wait_for(lambda: len(client.got) >= before + 15, "signals after the last drop")
        stop.set()
        feeder.join(WAIT)
        wait_for(lambda: client.seqs(14) == list(range(1, published["14"] + 1))
                 and client.seqs("alpha") == list(range(1, published["alpha"] + 1)),
                 "every published signal", timeout=WAIT)
        assert client.error is None
        assert published["14"] > 60 and published["alpha"] > 30
        stats = client.conn.stats
        assert stats.connects >= 8  # 1 + a new session after each of the 7 drops (and the restart)
        assert stats.logins == 2  # the token was reused after each drop, refused (403) after the restart
        assert stats.delivered == published["14"] + published["alpha"] and stats.resets == 0

        # what on_signal got is the pushed payload itself (AlphaHub's info dict, plus the cursor fields)
        client.stop()  # (the cursor file is written just after each on_signal: read it once the client is done)
        records = state["app"].log.read_after("alpha", 0, 10_000)
        assert [info for i, info in client.got if i == "alpha"] == [new_signals_payload([r]) for r in records]
        assert all(isinstance(i, int) for i, _ in client.got if i == 14)  # ids come back as given
        cursors = json.loads((tmp_path / "cursors.json").read_text())["cursors"]
        assert cursors["14"]["last_seq"] == published["14"] and cursors["alpha"]["last_seq"] == published["alpha"]
    finally:
        stop.set()
        client.stop()
        state["app"].stop()


def test_a_restarted_client_resumes_from_its_cursor_file_and_reports_a_reset(db, tmp_path):
    app = HubApp(db)
    cursor_path = tmp_path / "cursors.json"
    try:
        first = ClientThread(app, [7], cursor_path=cursor_path)
        wait_for(lambda: first.conn.stats.connects == 1 and first.conn.cursors, "the first session's head cursor")
        for i in range(3):
            app.publish("7", i)
        wait_for(lambda: first.seqs(7) == [1, 2, 3], "signals 1..3")
        first.stop()

        for i in range(3, 8):  # published while no client runs
            app.publish("7", i)
        second = ClientThread(app, [7], cursor_path=cursor_path)
        wait_for(lambda: second.seqs(7) == [4, 5, 6, 7, 8], "exactly the missed 4..8")
        second.stop()

        # history lost on the server (a reset gives the channel a new epoch): the client is told, then continues
        new_epoch, head = app.log.reset("7")
        resets: list[dict] = []
        third = ClientThread(app, [7], cursor_path=cursor_path, on_reset=lambda i, notice: resets.append(notice))
        wait_for(lambda: len(resets) == 1, "the reset notice")
        assert resets[0]["reason"] == "epoch_changed" and resets[0]["epoch"] == new_epoch
        assert resets[0]["head_seq"] == head
        rec = app.publish("7", 99)
        wait_for(lambda: third.seqs(7) == [rec.seq], "the first signal of the new epoch")
        assert third.conn.cursors == {"7": {"epoch": new_epoch, "last_seq": rec.seq}}
        third.stop()
    finally:
        app.stop()


def test_wrong_password_raises_instead_of_retrying_forever(db):
    app = HubApp(db)
    try:
        client = ClientThread(app, [1], password="not-the-password")
        client.thread.join(WAIT)
        assert isinstance(client.error, AuthenticationFailed)
        assert httpx.post(f"http://127.0.0.1:{app.port}/api/v1/session",
                          data={"user[email]": EMAIL, "user[password]": PASSWORD}).status_code == 200
    finally:
        app.stop()


def test_duplicates_dropped_gaps_and_heads_rejoin_with_the_cursor(db):
    """Against a scripted Phoenix peer (real login routes, a socket that misbehaves on purpose): a repeated seq is
    dropped, a gap or a head ahead of the cursor makes the client re-join with ``{"last_seq", "epoch"}``, and a
    push of an outdated join is ignored."""
    seen: list[list] = []
    script_error: list[BaseException] = []

    async def scripted(ws) -> None:
        async def expect(event: str) -> list:
            while True:
                frame = json.loads(await ws.receive_text())
                seen.append(frame)
                if frame[2] == "phoenix":
                    await ws.send_text(json.dumps([None, frame[1], "phoenix", "phx_reply",
                                                   {"response": {}, "status": "ok"}]))
                elif frame[3] == event:
                    return frame

        async def push(join_ref, event: str, seq: int) -> None:
            payload = {"channel": "9", "close": [], "epoch": "e1", "first_seq": seq, "seq": seq,
                       "open": [{"price": 1.5, "seq": seq, "side": "buy", "symbol": "X", "timestamp": "t"}]}
            if event == "head":
                payload = {"channel": "9", "epoch": "e1", "id": f"e1:{seq}", "seq": seq}
            await ws.send_text(json.dumps([join_ref, None, "algorithms:9", event, payload]))

        await ws.accept()
        try:
            join = await expect("phx_join")
            assert join[4] == {}  # no cursor yet: AlphaHub's live-only join
            await ws.send_text(json.dumps([join[0], join[1], join[2], "phx_reply", {"response": {}, "status": "ok"}]))
            await push(join[0], "head", 2)  # the cursor starts at the head
            await push(join[0], "new_signals", 3)
            await push(join[0], "new_signals", 3)  # duplicate
            await push(join[0], "new_signals", 5)  # gap: 4 is missing
            rejoin = await expect("phx_join")
            assert rejoin[4] == {"last_seq": 3, "epoch": "e1"} and rejoin[0] != join[0]
            await push(join[0], "new_signals", 4)  # from the outdated join: ignored
            await ws.send_text(json.dumps([rejoin[0], rejoin[1], rejoin[2], "phx_reply", {
                "response": {"epoch": "e1", "head_seq": 5, "replay": 2}, "status": "ok"}]))
            await push(rejoin[0], "new_signals", 4)
            await push(rejoin[0], "new_signals", 5)
            await push(None, "head", 6)  # ahead of the cursor (a broadcast: null join_ref is accepted)
            third = await expect("phx_join")
            assert third[4] == {"last_seq": 5, "epoch": "e1"}
            await ws.send_text(json.dumps([third[0], third[1], third[2], "phx_reply", {
                "response": {"epoch": "e1", "head_seq": 6, "replay": 1}, "status": "ok"}]))
            await push(third[0], "new_signals", 6)
            await expect("never")  # keep answering heartbeats until the client leaves
        except AssertionError as exc:
            script_error.append(exc)
        except Exception:
            pass

    app = HubApp(db, socket_endpoint=scripted)
    try:
        client = ClientThread(app, [9])
        wait_for(lambda: client.seqs(9) == [3, 4, 5, 6] or script_error, "seqs 3..6")
        assert not script_error, script_error
        assert client.seqs(9) == [3, 4, 5, 6]
        assert client.conn.stats.duplicates == 1 and client.conn.stats.rejoins == 2
        assert client.conn.cursors == {"9": {"epoch": "e1", "last_seq": 6}}
        client.stop()
    finally:
        app.stop()
