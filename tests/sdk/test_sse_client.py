"""SignalStream (alfax.sdk.sse_client) against a real signal-hub server on loopback: every signal exactly once and
in order while the connection is cut again and again, resume across a process restart via the cursor file, reset,
permanent errors, async callbacks, duplicate and gap handling."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from signals.server_harness import SignalServer, wait_until  # noqa: E402

from alfax.sdk.sse_client import SignalStream, SignalStreamError  # noqa: E402

SIGNAL = {"symbol": "BTCUSDT", "side": "buy", "quantity": "0.01"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with SignalServer(tmp_path_factory.mktemp("sdk-sse") / "hub.db") as s:
        yield s


@pytest.fixture(scope="module")
def key(srv):
    return srv.new_key(21)


class Collector:
    def __init__(self) -> None:
        self.items: list[dict] = []
        self.resets: list[dict] = []
        self.lock = threading.Lock()

    def on_signal(self, data: dict) -> None:
        with self.lock:
            self.items.append(data)

    def on_reset(self, notice: dict) -> None:
        self.resets.append(notice)

    @property
    def seqs(self) -> list[int]:
        with self.lock:
            return [d["seq"] for d in self.items]


def start(stream: SignalStream) -> threading.Thread:
    errors: list[BaseException] = []

    def target():
        try:
            stream.run()
        except BaseException as exc:  # surfaced by finish()
            errors.append(exc)

    t = threading.Thread(target=target, daemon=True)
    t.errors = errors  # type: ignore[attr-defined]
    t.start()
    return t


def finish(stream: SignalStream, t: threading.Thread) -> None:
    stream.stop()
    t.join(10)
    assert not t.is_alive(), "run() did not return after stop()"
    assert not t.errors, t.errors  # type: ignore[attr-defined]


def post(srv, key, channel: str, n: int = 1, **fields) -> list[dict]:
    out = []
    with httpx.Client() as c:
        for _ in range(n):
            r = c.post(f"{srv.base_url}/signal", params={"user_code": channel}, json={**SIGNAL, **fields},
                       headers=key.headers)
            assert r.status_code == 200, r.text
            out.append(r.json()["data"])
    return out


def test_every_signal_exactly_once_in_order_while_connections_keep_dropping(srv, key):
    total = 300
    got = Collector()
    stream = SignalStream(srv.base_url, "drops", api_key=key.api_key, secret=key.secret, on_signal=got.on_signal,
                          reconnect_delay=0.01)
    t = start(stream)
    wait_until(lambda: srv.subscribers("drops") == 1, 10, "the stream's first connection")
    stop = threading.Event()
    cuts: list[int] = []

    def dropper():
        while not stop.is_set():
            cuts.append(srv.drop_streams("drops"))
            stop.wait(0.02)

    d = threading.Thread(target=dropper, daemon=True)
    d.start()
    try:
        with httpx.Client() as c:
            for i in range(total):
                r = c.post(f"{srv.base_url}/signal", params={"user_code": "drops"}, json={**SIGNAL, "comment": str(i)},
                           headers=key.headers)
                assert r.status_code == 200
                if i % 25 == 0:
                    time.sleep(0.01)
    finally:
        stop.set()
        d.join()
    wait_until(lambda: got.seqs[-1:] == [total], 20, f"seq {total} (got {len(got.seqs)})")
    finish(stream, t)
    assert got.seqs == list(range(1, total + 1))
    assert [d["comment"] for d in got.items] == [str(i) for i in range(total)]
    assert sum(cuts) >= 5 and stream.connections >= 5  # the connection really was cut, repeatedly


def test_cursor_file_resumes_after_a_restart(srv, key, tmp_path):
    cursor = tmp_path / "state" / "alpha.cursor"
    first = Collector()
    s1 = SignalStream(srv.base_url, "restart", api_key=key.api_key, on_signal=first.on_signal, cursor_path=cursor,
                      reconnect_delay=0.01)
    t1 = start(s1)
    wait_until(lambda: srv.subscribers("restart") == 1, 10, "subscribe")
    data = post(srv, key, "restart", 3)
    wait_until(lambda: len(first.seqs) == 3, 10, "three signals")
    finish(s1, t1)
    assert cursor.read_text() == data[-1]["id"]
    post(srv, key, "restart", 2)  # while no process follows the channel
    second = Collector()
    # last_id="$" would mean "only new", but the cursor file wins: this program already got to seq 3
    s2 = SignalStream(srv.base_url, "restart", api_key=key.api_key, on_signal=second.on_signal, cursor_path=cursor,
                      last_id="$", reconnect_delay=0.01)
    t2 = start(s2)
    wait_until(lambda: len(second.seqs) >= 2, 10, "the two missed signals")
    post(srv, key, "restart", 1)
    wait_until(lambda: len(second.seqs) >= 3, 10, "the live one")
    finish(s2, t2)
    assert first.seqs == [1, 2, 3] and second.seqs == [4, 5, 6]
    assert cursor.read_text() == f"{data[0]['epoch']}:6"
    assert [p.name for p in cursor.parent.iterdir()] == ["alpha.cursor"]  # no temp files left behind


def test_a_live_start_loses_nothing_when_it_reconnects_before_the_first_signal(srv, key):
    got = Collector()
    stream = SignalStream(srv.base_url, "early-drop", api_key=key.api_key, on_signal=got.on_signal,
                          reconnect_delay=0.3)
    post(srv, key, "early-drop", 2)  # history from before it started: not wanted
    t = start(stream)
    wait_until(lambda: srv.subscribers("early-drop") == 1, 10, "subscribe")
    wait_until(lambda: stream.last_id is not None, 10, "the start head as cursor")
    srv.drop_streams("early-drop")
    post(srv, key, "early-drop", 1)  # published while it is away (it waits 0.3 s before reconnecting)
    wait_until(lambda: got.seqs == [3], 10, "the signal published during the gap")
    finish(stream, t)


def test_reset_calls_on_reset_and_continues(srv, key):
    data = post(srv, key, "resets", 2)
    got = Collector()
    stream = SignalStream(srv.base_url, "resets", api_key=key.api_key, on_signal=got.on_signal,
                          on_reset=got.on_reset, last_id="ffffffffffff:1", reconnect_delay=0.01)
    t = start(stream)
    wait_until(lambda: got.resets, 10, "the reset")
    post(srv, key, "resets", 1)
    wait_until(lambda: got.seqs == [3], 10, "the next signal")
    finish(stream, t)
    epoch = data[0]["epoch"]
    assert got.resets == [{"channel": "resets", "epoch": epoch, "head_seq": 2, "id": f"{epoch}:2",
                           "reason": "epoch_changed", "reset": True}]
    assert stream.last_id == f"{epoch}:3"


def test_permanent_refusal_ends_run_with_an_error(srv):
    stream = SignalStream(srv.base_url, "refused", api_key="not-a-key", on_signal=lambda d: None)
    with pytest.raises(SignalStreamError) as info:
        stream.run()
    assert info.value.status == 401 and json.loads(info.value.body)["code"] == -2015


def test_arun_with_async_callbacks_and_stop_from_inside(srv, key):
    got: list[int] = []

    async def main():
        stream = None

        async def on_signal(data: dict) -> None:
            await asyncio.sleep(0)
            got.append(data["seq"])
            if len(got) == 2:
                stream.stop()

        stream = SignalStream(srv.base_url, "async", api_key=key.api_key, last_id="0", on_signal=on_signal)
        await asyncio.wait_for(stream.arun(), 10)

    post(srv, key, "async", 3)
    asyncio.run(main())
    assert got == [1, 2]


def test_callback_error_ends_run_and_the_record_comes_again(srv, key, tmp_path):
    post(srv, key, "cb-error", 2)
    cursor = tmp_path / "c"
    seen: list[int] = []

    def flaky(data):
        seen.append(data["seq"])
        if data["seq"] == 2:
            raise RuntimeError("handler bug")

    s = SignalStream(srv.base_url, "cb-error", api_key=key.api_key, last_id="0", on_signal=flaky, cursor_path=cursor)
    with pytest.raises(RuntimeError, match="handler bug"):
        s.run()
    assert seen == [1, 2] and cursor.read_text().endswith(":1")  # 2 was not marked handled
    again = Collector()
    s2 = SignalStream(srv.base_url, "cb-error", api_key=key.api_key, on_signal=again.on_signal, cursor_path=cursor)
    t = start(s2)
    wait_until(lambda: again.seqs == [2], 10, "the unhandled record, again")
    finish(s2, t)


def test_duplicates_are_dropped_and_a_head_past_the_cursor_asks_for_a_resume():
    got = Collector()
    s = SignalStream("http://127.0.0.1:9", "c", last_id="e1:5", on_signal=got.on_signal)

    def event(kind: str, doc: dict) -> bool:
        return asyncio.run(s._handle(kind, doc.get("id"), json.dumps(doc)))

    assert event("signal", {"id": "e1:5", "seq": 5}) and got.seqs == []  # at the cursor: already handled
    assert event("signal", {"id": "e1:6", "seq": 6}) and got.seqs == [6]
    assert event("signal", {"id": "e1:6", "seq": 6}) and got.seqs == [6]  # a replayed duplicate
    assert event("head", {"epoch": "e1", "seq": 6, "id": "e1:6"}) is True
    assert event("head", {"epoch": "e1", "seq": 9, "id": "e1:9"}) is False  # 7..9 missed: reconnect
    assert event("head", {"epoch": "e2", "seq": 1, "id": "e2:1"}) is False  # history replaced: reconnect
    assert s.last_id == "e1:6"
