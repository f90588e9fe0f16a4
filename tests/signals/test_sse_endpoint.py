"""The SSE endpoint over real HTTP on loopback (uvicorn in a thread, SQLite in tmp_path): delivery, resume cursors,
resets, keepalive/head frames, slow consumers, disconnect cleanup, auth, and Blave's example client unchanged."""

from __future__ import annotations

import ast
import hashlib
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest

from alfax.signals import sse_wire

from .server_harness import SignalServer, SseReader, wait_until

SIGNAL = {"symbol": "BTCUSDT", "side": "buy", "price": "19300", "quantity": "0.05"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with SignalServer(tmp_path_factory.mktemp("sse") / "hub.db") as s:
        yield s


@pytest.fixture(scope="module")
def key(srv):
    return srv.new_key(101)


def post_signal(srv, key, channel: str, **fields) -> dict:
    r = httpx.post(f"{srv.base_url}/signal", params={"user_code": channel}, json={**SIGNAL, **fields},
                   headers=key.headers)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def stream(srv, key, channel: str, last_id: str | None = None, headers: dict | None = None,
           path: str = "/signals/stream", **kw) -> SseReader:
    params = {"channel": channel}
    if last_id is not None:
        params["last_id"] = last_id
    rd = SseReader(srv.base_url, path, params, {"api-key": key.api_key, **(headers or {})}, **kw)
    assert rd.status == 200, rd.read_body()
    return rd


def first_frames(rd: SseReader) -> list:
    """The frames sent at once (retry, then reset or head when there is one)."""
    out = [rd.next_frame(5)]
    assert out[0].retry == 3000 and out[0].data is None
    return out


# ---------------------------------------------------------------------------------------------------- delivery

def test_publish_then_stream_delivers_every_field(srv, key):
    data = post_signal(srv, key, "deliver", comment="first")
    epoch = data["epoch"]
    with stream(srv, key, "deliver", last_id="0") as rd:
        for name, value in sse_wire.RESPONSE_HEADERS.items():
            assert rd.headers[name.lower()] == value
        first_frames(rd)
        (f,) = rd.frames(1)
        assert f.id == f"{epoch}:1" and f.event == "signal"
        assert f.json == {"action": "open", "asset_type": "PERPETUAL", "comment": "first", "exchange": "BINANCE",
                          "kind": "signal", "price": "19300", "quantity": "0.05", "side": "buy",
                          "symbol": "BTCUSDT", "id": f"{epoch}:1", "channel": "deliver", "seq": 1, "epoch": epoch,
                          "ts": data["ts"]}
        assert "\n" not in f.data  # one data line: Blave's line reader gets the whole JSON
        post_signal(srv, key, "deliver", side="sell")
        (g,) = rd.frames(1)
        assert (g.id, g.json["side"], g.json["seq"]) == (f"{epoch}:2", "sell", 2)


def test_blave_path_is_the_same_stream(srv, key):
    data = post_signal(srv, key, "blave-path")
    with stream(srv, key, "blave-path", last_id="0", path="/sse/tradingview/stream") as rd:
        (f,) = rd.frames(1)
        assert f.id == data["id"] and f.json["channel"] == "blave-path"


@pytest.mark.parametrize("last_id", [None, "$"])
def test_live_only_gets_just_new_records_and_its_start_head(srv, key, last_id):
    channel = f"live-{'none' if last_id is None else 'dollar'}"
    for _ in range(3):
        post_signal(srv, key, channel)
    with stream(srv, key, channel, last_id=last_id) as rd:
        first_frames(rd)
        head = rd.next_frame(5)
        # where this stream starts: an event without id (a cursor to keep until the first record)
        assert head.event == "head" and head.id is None and head.json["seq"] == 3
        post_signal(srv, key, channel)
        (f,) = rd.frames(1)
        assert f.seq == 4 and f.id == f"{head.json['epoch']}:4"


def test_last_event_id_header_beats_last_id_query(srv, key):
    for _ in range(5):
        data = post_signal(srv, key, "precedence")
    epoch = data["epoch"]
    with stream(srv, key, "precedence", last_id=f"{epoch}:1", headers={"Last-Event-ID": f"{epoch}:3"}) as rd:
        assert [f.seq for f in rd.frames(2)] == [4, 5]
    with stream(srv, key, "precedence", last_id=f"{epoch}:1", headers={"Last-Event-ID": " "}) as rd:
        assert [f.seq for f in rd.frames(4)] == [2, 3, 4, 5]  # a blank header counts as absent


def test_bare_seq_cursor_is_accepted(srv, key):
    for _ in range(4):
        post_signal(srv, key, "bare")
    with stream(srv, key, "bare", last_id="2") as rd:
        assert [f.seq for f in rd.frames(2)] == [3, 4]


def test_replay_after_disconnect_exactly_once_in_order(srv, key):
    for _ in range(3):
        post_signal(srv, key, "replay")
    with stream(srv, key, "replay", last_id="0") as rd:
        seen = rd.frames(3)
    assert [f.seq for f in seen] == [1, 2, 3]
    wait_until(lambda: srv.subscribers("replay") == 0, 5, "the closed stream's unsubscribe")
    for _ in range(4):
        post_signal(srv, key, "replay")  # published while nobody listens
    with stream(srv, key, "replay", headers={"Last-Event-ID": seen[-1].id}) as rd:
        first_frames(rd)
        got = rd.frames(4)
        post_signal(srv, key, "replay")
        got += rd.frames(1)
        assert [f.seq for f in got] == [4, 5, 6, 7, 8]
        with pytest.raises(TimeoutError):
            rd.frames(1, timeout=0.3)  # and nothing after it (no duplicate of the live one)


# ---------------------------------------------------------------------------------------------------- resets

def _expect_reset(rd: SseReader, reason: str, epoch: str, head_seq: int) -> None:
    first_frames(rd)
    reset = rd.next_frame(5)
    assert reset.event == "reset" and reset.id == f"{epoch}:{head_seq}"
    assert reset.json == {"channel": reset.json["channel"], "epoch": epoch, "head_seq": head_seq,
                          "id": f"{epoch}:{head_seq}", "reason": reason, "reset": True}


@pytest.mark.parametrize("cursor,reason", [("ffffffffffff:2", "epoch_changed"), ("{epoch}:99", "cursor_ahead"),
                                           ("1712054400000-0", "epoch_changed"), ("ab:cd:x", "epoch_changed")])
def test_unusable_cursor_gets_reset_then_live(srv, key, cursor, reason):
    channel = "reset-" + re.sub(r"[^A-Za-z0-9]", "", cursor)[:20]
    for _ in range(2):
        data = post_signal(srv, key, channel)
    epoch = data["epoch"]
    with stream(srv, key, channel, last_id=cursor.format(epoch=epoch)) as rd:
        _expect_reset(rd, reason, epoch, 2)
        post_signal(srv, key, channel)
        assert [f.seq for f in rd.frames(1)] == [3]


def test_expired_cursor_gets_reset(tmp_path):
    with SignalServer(tmp_path / "hub.db", retain_per_channel=3, prune_every=1) as srv:
        key = srv.new_key(1)
        for _ in range(10):
            data = post_signal(srv, key, "short")
        epoch = data["epoch"]
        with stream(srv, key, "short", headers={"Last-Event-ID": f"{epoch}:2"}) as rd:  # 3..7 are gone
            _expect_reset(rd, "cursor_expired", epoch, 10)
            post_signal(srv, key, "short")
            assert [f.seq for f in rd.frames(1)] == [11]
        with stream(srv, key, "short", headers={"Last-Event-ID": f"{epoch}:8"}) as rd:  # 9.. are retained
            assert [f.seq for f in rd.frames(3)] == [9, 10, 11]


# ---------------------------------------------------------------------------------------------------- idle frames

def test_keepalive_and_head_frames_when_idle(tmp_path):
    with SignalServer(tmp_path / "hub.db", keepalive_s=0.15, head_every_s=0.4) as srv:
        key = srv.new_key(1)
        for _ in range(2):
            data = post_signal(srv, key, "idle")
        with stream(srv, key, "idle", last_id="0") as rd:
            assert [f.seq for f in rd.frames(2, skip=())] == [1, 2]
            frames = [rd.next_frame(3) for _ in range(6)]
        keepalives = [f for f in frames if not f.fields]
        heads = [f for f in frames if f.event == "head"]
        assert keepalives and all(f.comments == ["keepalive"] for f in keepalives)
        assert heads and all(f.id is None for f in heads)  # no id line: the cursor never moves past a record
        assert heads[0].json == {"channel": "idle", "epoch": data["epoch"], "id": data["id"], "seq": 2}


def test_head_never_runs_ahead_of_the_stream(tmp_path):
    """With heads due all the time while records pour in, every head names a seq this stream already wrote."""
    with SignalServer(tmp_path / "hub.db", keepalive_s=0.002, head_every_s=0.001) as srv:
        key = srv.new_key(1)
        post_signal(srv, key, "race")
        total = 300
        with stream(srv, key, "race", last_id="0") as rd:
            publisher = threading.Thread(target=lambda: [srv.publish("race", {"i": i}) for i in range(total - 1)])
            publisher.start()
            last_seq, heads = 0, 0
            while last_seq < total:
                f = rd.next_frame(10)
                if f.event == "head":
                    heads += 1
                    assert f.json["seq"] <= last_seq, (f.json, last_seq)
                elif f.id is not None:
                    assert f.seq == last_seq + 1
                    last_seq = f.seq
            publisher.join()
        assert heads > 5


# ---------------------------------------------------------------------------------------------------- slow clients

def _fill_pipe(srv, channel: str, n: int, size: int) -> None:
    pad = "x" * size
    for i in range(n):
        srv.publish(channel, {"i": i, "pad": pad})


def test_slow_consumer_is_cut_and_resumes_from_its_cursor(tmp_path):
    # 200 x 48 KB cannot fit in the socket buffers (4 MB max here) of a client that does not read: the stream
    # blocks in send, its 4-record hub buffer overflows, and the stream ends once the client reads again
    with SignalServer(tmp_path / "hub.db", buffer=4) as srv:
        key = srv.new_key(1)
        total = 200
        rd = stream(srv, key, "slow", last_id="0", rcvbuf=4096, timeout=30)
        wait_until(lambda: srv.subscribers("slow") == 1, 5, "subscribe")
        _fill_pipe(srv, "slow", total, 48_000)
        seqs = []
        while (f := rd.next_frame(30)) is not None:
            if f.id is not None:
                seqs.append(f.seq)
        rd.close()
        assert rd.done  # the server ended the response (the final chunk), not a crash
        assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) < total
        epoch = srv.log.head("slow")[0]
        with stream(srv, key, "slow", headers={"Last-Event-ID": f"{epoch}:{seqs[-1]}"}, timeout=30) as again:
            rest = [f.seq for f in again.frames(total - len(seqs), timeout=30)]
        assert rest == list(range(len(seqs) + 1, total + 1))
        wait_until(lambda: srv.subscribers() == 0, 5, "cleanup")


def test_client_that_stops_reading_is_dropped_after_send_timeout(tmp_path):
    with SignalServer(tmp_path / "hub.db", send_timeout_s=0.3) as srv:
        key = srv.new_key(1)
        rd = stream(srv, key, "stuck", last_id="0", rcvbuf=4096)
        wait_until(lambda: srv.subscribers("stuck") == 1, 5, "subscribe")
        _fill_pipe(srv, "stuck", 120, 48_000)
        # nobody reads, yet the server lets go of the stream (and its subscriber) on its own
        wait_until(lambda: srv.subscribers("stuck") == 0, 10, "the send-timeout sweeper")
        rd.close()


def test_disconnect_removes_the_subscriber(srv, key):
    rd = stream(srv, key, "bye")
    wait_until(lambda: srv.subscribers("bye") == 1, 5, "subscribe")
    rd.close()
    wait_until(lambda: srv.subscribers("bye") == 0, 5, "unsubscribe after the client left")


def test_dropped_streams_end_cleanly(srv, key):
    rd = stream(srv, key, "dropme")
    wait_until(lambda: srv.subscribers("dropme") == 1, 5, "subscribe")
    assert srv.drop_streams("dropme") == 1
    while rd.next_frame(5) is not None:
        pass
    assert rd.done
    wait_until(lambda: srv.subscribers("dropme") == 0, 5, "unsubscribe")


# ---------------------------------------------------------------------------------------------------- access

def _refused(srv, params: dict, headers: dict, method: str = "GET") -> tuple[int, dict]:
    rd = SseReader(srv.base_url, "/signals/stream", params, headers, method=method)
    try:
        return rd.status, orjson.loads(rd.read_body())
    finally:
        rd.close()


def test_auth_sources_and_refusals(srv, key):
    srv.access.tokens["tok-123"] = 55
    ok = [{"headers": {"x-api-key": key.api_key}}, {"headers": {"X-MBX-APIKEY": key.api_key}},
          {"headers": {"api-key": key.api_key, "secret-key": key.secret}}, {"params": {"api_key": key.api_key}},
          {"params": {"api_token": "tok-123"}}]
    for case in ok:
        rd = SseReader(srv.base_url, "/signals/stream", {"channel": "auth", **case.get("params", {})},
                       case.get("headers", {}))
        assert rd.status == 200, case
        rd.close()
    refused = [{}, {"x-api-key": "nope"}, {"api-key": key.api_key, "secret-key": "wrong"}]
    for headers in refused:
        status, body = _refused(srv, {"channel": "auth"}, headers)
        assert status == 401 and body == {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action.",
                                          "data": None, "error": True, "success": False}, headers
    status, body = _refused(srv, {"channel": "auth", "api_token": "stale"}, {})
    assert status == 401 and body["code"] == -2015


def test_bad_channel_and_method(srv, key):
    hdr = {"x-api-key": key.api_key}
    status, body = _refused(srv, {}, hdr)
    assert status == 400 and body["code"] == -1102 and "'channel'" in body["msg"]
    status, body = _refused(srv, {"channel": "no spaces/allowed"}, hdr)
    assert status == 400 and body["code"] == -1130 and body["errors"][0]["field"] == "channel"
    status, body = _refused(srv, {"channel": "x" * 65}, hdr)
    assert status == 400 and body["code"] == -1130
    status, body = _refused(srv, {"channel": "ok"}, hdr, method="DELETE")
    assert status == 404 and body["code"] == -1000


def test_head_request_opens_no_subscription(srv, key):
    rd = SseReader(srv.base_url, "/signals/stream", {"channel": "headreq"}, {"x-api-key": key.api_key},
                   method="HEAD")
    assert rd.status == 200 and rd.headers["content-type"] == sse_wire.CONTENT_TYPE
    rd.close()
    assert srv.subscribers("headreq") == 0


def test_event_names_follow_the_record_kind(srv, key):
    srv.publish("kinds", {"kind": "analysis", "symbol": "BTCUSDT"})
    srv.publish("kinds", {"action": "buy"})  # no kind (e.g. a TradingView alert): a signal
    srv.publish("kinds", {"kind": "bad\nkind"})  # never a broken frame
    with stream(srv, key, "kinds", last_id="0") as rd:
        assert [f.event for f in rd.frames(3)] == ["analysis", "signal", "signal"]


# ---------------------------------------------------------------------------------------------------- Blave

# Blave's example client (seed 004, examples/tradingview-stream.md), verbatim. The seed's copy lost its
# indentation (and PEP 8 comment spacing); test_blave_example_matches_the_seed checks that this is the same code
# line for line, whitespace aside.
BLAVE_EXAMPLE = '''\
import json
import time
import requests
from dotenv import dotenv_values
_env = dotenv_values()
HEADERS = {"api-key": _env["blave_api_key"], "secret-key": _env["blave_secret_key"]}
BASE_URL = "https://api.blave.org"
CHANNEL = "test"
def handle_signal(data: dict):
    """Called once per TradingView alert. Put your trading logic here."""
    action = data.get("action", "").lower()
    symbol = data.get("symbol", "")
    price = data.get("price", "")
    if action == "buy":
        print(f"→ BUY {symbol} @ {price}")
        # place_order(symbol, "buy", ...)
    elif action == "sell":
        print(f"→ SELL {symbol} @ {price}")
        # place_order(symbol, "sell", ...)
    else:
        print(f"→ Unknown action: {data}")
def stream(channel: str, last_id: str = "$"):
    """Open SSE connection and yield (last_id, data) for each signal."""
    url = f"{BASE_URL}/sse/tradingview/stream"
    params = {"channel": channel, "last_id": last_id}
    with requests.get(url, headers=HEADERS, params=params,
                      stream=True, timeout=None) as resp:
        resp.raise_for_status()
        buf = ""
        for chunk in resp.iter_content(chunk_size=1, decode_unicode=True):
            buf += chunk
            if buf.endswith("\\n"):
                line = buf.strip()
                buf = ""
                if line.startswith("data: "):
                    data = json.loads(line[6:])
                    last_id = data.get("id", last_id)
                    yield last_id, data
def run():
    last_id = "$"  # only new signals; pass saved last_id on restart to replay missed ones
    while True:
        try:
            print(f"Connecting to channel '{CHANNEL}' (last_id={last_id})...")
            for last_id, data in stream(CHANNEL, last_id):
                print(f"Signal: {data}")
                handle_signal(data)
        except Exception as e:
            print(f"Disconnected: {e} — reconnecting in 3 s...")
            time.sleep(3)
if __name__ == "__main__":
    run()
'''

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"


# sha256 of the seed's example, whitespace-normalised line by line (the seed file lost its indentation)
BLAVE_SEED_SHA256 = "92fd1af0f9898db8ea6a64d1d01ebf9ab13c5bc01ecd101ceed613187ec3cfaa"


def _normalised(code: str) -> list[str]:
    return [" ".join(line.split()) for line in code.splitlines() if line.strip()]


def test_blave_example_matches_the_seed():
    """Our indented copy is the seed's example line for line: checked against the seed file when shared/ is beside
    the checkout, and always against the seed's pinned digest (CI checks out the repository alone)."""
    ours = _normalised(BLAVE_EXAMPLE)
    assert hashlib.sha256("\n".join(ours).encode()).hexdigest() == BLAVE_SEED_SHA256
    seeds = sorted(SEEDS.glob("004_*.txt"))
    if seeds:
        text = seeds[0].read_text(encoding="utf-8")
        block = text[text.index("FILE:examples/tradingview-stream.md"):]
        block = block[block.index("```python\n") + len("```python\n"):]
        assert _normalised(block[:block.index("```")]) == ours


class _Lines:
    """A subprocess's stdout lines, read by a thread, waited for with timeouts."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.q: queue.Queue[str] = queue.Queue()
        self.all: list[str] = []
        threading.Thread(target=self._pump, args=(proc,), daemon=True).start()

    def _pump(self, proc) -> None:
        for line in proc.stdout:
            self.q.put(line.rstrip("\n"))

    def until(self, pred, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.q.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no matching line within {timeout}s; output so far: {self.all[-20:]}") from None
            self.all.append(line)
            if pred(line):
                return line


def test_blave_example_client_works_unchanged(tmp_path, srv):
    """Blave's example, pointed at us (BASE_URL is the only change), follows channel "test": alerts are handled
    exactly once, in order, across a dropped connection (it resumes with the last data.id as last_id)."""
    key = srv.new_key(404)
    script = tmp_path / "blave_stream.py"
    script.write_text(BLAVE_EXAMPLE.replace('BASE_URL = "https://api.blave.org"', f'BASE_URL = "{srv.base_url}"'),
                      encoding="utf-8")
    (tmp_path / ".env").write_text(f"blave_api_key={key.api_key}\nblave_secret_key={key.secret}\n")
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env["PYTHONIOENCODING"] = "utf-8"
    proc = subprocess.Popen([sys.executable, "-u", str(script)], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, encoding="utf-8", env=env)
    try:
        out = _Lines(proc)
        out.until(lambda s: s == "Connecting to channel 'test' (last_id=$)...")
        wait_until(lambda: srv.subscribers("test") == 1, 10, "the example's connection")
        # TradingView alerts (as the webhook router publishes them) and one Areix signal
        srv.publish("test", {"action": "buy", "symbol": "BTCUSDT", "price": "65000"})
        srv.publish("test", {"action": "sell", "symbol": "ETHUSDT", "price": "3100.5"})
        out.until(lambda s: s == "→ SELL ETHUSDT @ 3100.5")
        srv.drop_streams("test")
        reconnect = out.until(lambda s: s.startswith("Connecting to channel 'test' (last_id="))
        epoch = srv.log.head("test")[0]
        assert reconnect == f"Connecting to channel 'test' (last_id={epoch}:2)..."
        srv.publish("test", {"action": "buy", "symbol": "SOLUSDT", "price": "150"})
        post_signal(srv, key, "test", symbol="XRPUSDT")
        out.until(lambda s: s.startswith("Signal: ") and "XRPUSDT" in s)
    finally:
        proc.kill()
        proc.wait(10)
    signals = [ast.literal_eval(s[len("Signal: "):]) for s in out.all if s.startswith("Signal: ")]
    records = [d for d in signals if "symbol" in d]
    assert [d["seq"] for d in records] == [1, 2, 3, 4]  # each exactly once, in order, across the reconnect
    assert [d["symbol"] for d in records] == ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]
    assert all(d["id"] == f"{epoch}:{d['seq']}" for d in records)
    assert "→ BUY BTCUSDT @ 65000" in out.all and "→ BUY SOLUSDT @ 150" in out.all
    assert not [s for s in out.all if s.startswith("Disconnected:")]  # no error on the way


def test_server_shutdown_ends_open_streams_promptly(tmp_path):
    srv = SignalServer(tmp_path / "hub.db").start()
    key = srv.new_key(1)
    readers = [stream(srv, key, f"shutdown-{i % 2}") for i in range(3)]
    wait_until(lambda: srv.subscribers() == 3, 5, "three streams")
    t0 = time.monotonic()
    srv.stop()
    assert time.monotonic() - t0 < 3.0  # not uvicorn's 5 s grace timeout: the streams ended at once
    for rd in readers:
        while rd.next_frame(5) is not None:
            pass
        assert rd.done  # each response was completed (final chunk), not cut mid-frame
        rd.close()
