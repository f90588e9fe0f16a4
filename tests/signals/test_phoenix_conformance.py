"""Real outside Phoenix clients against the hub's endpoint (signals.md §3.2): the official npm ``phoenix`` JS client
(1.8.x, with ``ws`` as its Node transport) and the ``phoenix-channels-python-client`` package from PyPI.

Nothing of ours runs on the client side: phoenix.js reconnects and rejoins on its own, with the cursor in its join
params closure; the test only drops sockets on the server side and checks what arrived.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from phoenix_channels_python_client import PHXChannelsClient

from .test_phoenix_endpoint import ACCOUNT, EMAIL, PASSWORD, WAIT, HubServer, wait_for

JS_DIR = Path(__file__).resolve().parents[1] / "js"
SCRIPT = JS_DIR / "phoenix_client.cjs"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = HubServer(tmp_path_factory.mktemp("conf") / "hub.db")
    s.users.add(EMAIL, PASSWORD, ACCOUNT)
    yield s
    s.stop()


# ---------------------------------------------------------------------------------------------------- phoenix.js

@pytest.fixture(scope="module")
def node() -> str:
    exe = shutil.which("node")
    if exe is None:
        pytest.fail("node is not installed: the phoenix.js conformance test needs it (apt-get install nodejs)")
    if not (JS_DIR / "node_modules" / "phoenix" / "package.json").exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is not installed: cannot install tests/js (npm ci --prefix tests/js)")
        done = subprocess.run([npm, "ci", "--prefix", str(JS_DIR), "--no-audit", "--no-fund"], capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    version = json.loads((JS_DIR / "node_modules" / "phoenix" / "package.json").read_text())["version"]
    assert version.startswith("1.8."), version
    return exe


class NodeClient:
    """The phoenix.js script as a subprocess; its JSON lines are collected by a reader thread."""

    def __init__(self, node: str, srv: HubServer, token_file: Path, topic: str, count: int) -> None:
        self.lines: list[dict] = []
        self.proc = subprocess.Popen([node, str(SCRIPT), f"ws://127.0.0.1:{srv.port}/socket", str(token_file), topic,
                                      str(count)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     cwd=JS_DIR)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(json.loads(line))

    def seqs(self) -> list[int]:
        return [d["seq"] for d in list(self.lines) if "seq" in d]

    def joins(self) -> list[dict]:
        return [d["joined"] for d in list(self.lines) if "joined" in d]

    def wait(self, cond, what: str) -> None:
        deadline = time.monotonic() + 30
        while not cond():
            if self.proc.poll() is not None and not cond():
                self.reader.join(5)
                if cond():
                    return
                pytest.fail(f"phoenix.js exited ({self.proc.returncode}) before {what}: {self.lines} "
                            f"{self.proc.stderr.read()}")
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {self.lines}"
            time.sleep(0.01)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(WAIT)


def test_phoenix_js_resumes_exactly_once_across_server_side_drops(srv, node, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(srv.login()["token"])
    epoch = [srv.publish("js").epoch for _ in range(3)][0]  # before the client exists: replayed from last_seq 0
    client = NodeClient(node, srv, token_file, "algorithms:js", 10)
    try:
        client.wait(lambda: client.seqs() == [1, 2, 3], "the replay of 1..3")
        assert client.joins()[0] == {"epoch": epoch, "head_seq": 3, "replay": 3}
        srv.publish("js")
        client.wait(lambda: client.seqs()[-1:] == [4], "the live signal 4")

        # 1) a drop while the client cannot get back in (its token is revoked: phoenix.js keeps retrying and gets
        #    403) — so 5..7 are published while it is certainly away; a new token in the file lets it back in
        srv.tokens.revoke(token_file.read_text())
        assert srv.drop_all() == 1
        wait_for(lambda: not srv.endpoint.connections, "the drop")
        for _ in range(3):
            srv.publish("js")
        token_file.write_text(srv.login()["token"])
        client.wait(lambda: len(client.seqs()) >= 7, "the replay of 5..7")
        assert {"epoch": epoch, "head_seq": 7, "replay": 3} in client.joins()  # rejoined with last_seq 4

        # 2) a drop racing with publishes: whatever the order, nothing is lost or repeated
        assert srv.drop_all() == 1
        for _ in range(3):
            srv.publish("js")
        client.wait(lambda: any("done" in d for d in client.lines), "all 10 signals")
        assert client.proc.wait(WAIT) == 0
        done = next(d["done"] for d in client.lines if "done" in d)
        assert done == list(range(1, 11)), client.lines  # exactly once, in order
        assert len(client.joins()) >= 3  # phoenix.js's own reconnect + rejoin, twice
        assert sum(1 for d in client.lines if d.get("event") == "open") >= 3
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------------- Python client

@pytest.mark.parametrize("version", ["2.0", "1.0"])
def test_phoenix_channels_python_client_subscribes_receives_and_heartbeats(srv, version):
    """phoenix-channels-python-client 0.4.1: it authenticates with ``api_key=`` in the query string, joins with
    an empty payload (live only) and, in V2, drops pushes whose join_ref is not its join's — which is why the
    hub's pushes carry the join's ref."""
    token = srv.login()["token"]
    channel = f"py{version[0]}"

    async def scenario() -> tuple[list[dict], int]:
        received: list[dict] = []
        acks: list[int] = []
        got_three = asyncio.Event()

        async def on_message(message) -> None:
            if str(message.event) == "new_signals":
                received.append(message.payload)
                if len(received) >= 3:
                    got_three.set()

        async with PHXChannelsClient(f"ws://127.0.0.1:{srv.port}/socket/websocket", token,
                                     protocol_version=version, heartbeat_interval_s=0.2,
                                     on_heartbeat_ack=lambda: acks.append(1)) as client:
            await client.subscribe_to_topic(f"algorithms:{channel}", on_message)
            assert client.is_topic_joined(f"algorithms:{channel}")
            for i in range(3):
                await asyncio.to_thread(srv.publish, channel)
            await asyncio.wait_for(got_three.wait(), WAIT)
            deadline = asyncio.get_running_loop().time() + WAIT
            while len(acks) < 2:  # heartbeats every 0.2 s, each answered
                assert asyncio.get_running_loop().time() < deadline, "no heartbeat replies"
                await asyncio.sleep(0.05)
            await client.unsubscribe_from_topic(f"algorithms:{channel}")
        return received, len(acks)

    received, acks = asyncio.run(scenario())
    assert [p["seq"] for p in received] == [1, 2, 3]
    assert all(p["channel"] == channel and p["open"] and p["open"][0]["symbol"] == "BTCUSDT" for p in received)
    assert acks >= 2
    wait_for(lambda: srv.subscribers(channel) == 0, "the leave to end the subscription")
