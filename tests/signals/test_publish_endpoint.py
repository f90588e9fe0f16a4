"""Provider endpoints over real HTTP: POST /signal (Areix Submit Signal), /analysis, /feeds, GET /signal; the
envelope, durability before the answer, validate_only, dedupe, channel ownership, and every error shape."""

from __future__ import annotations

import httpx
import pytest

from alfax.ledger.signal_log import SqliteSignalLog

from .server_harness import SignalServer, SseReader

# seed 003's Submit Signal example body
AREIX_SIGNAL = {"symbol": "BTCUSDT", "datetime": "2022-10-05 12:03:11", "price": 19300, "side": "buy",
                "quantity": 0.05, "exchange": "bybit", "asset_type": "perpetual", "leverage": 5}
# seed 003's Submit Analysis example ("sl_price":, in the seed is not JSON: a price here)
AREIX_ANALYSIS = {"symbol": "BTCUSDT", "asset_type": "derivatives", "side": "long", "leverage": 1,
                  "entry_price": [], "exit_price": [], "sl_price": 41000, "effevtive_start": "2024-01-01",
                  "effevtive_end": "2024-01-02", "confidence": 4, "detail": "xxxxxxxx",
                  "translation": {"zh": {"detail": "比特幣看漲,目標四萬五"}}}
AREIX_FEED = {"topic": "XXXX", "text": "xxxxx", "url": "", "img_url": "https://xxxxxx", "youtube_url": "https://xxxxxx",
              "translation": {"zh": {"topic": "市場快訊", "text": "以太坊升級完成"}}}
ERROR_KEYS = {"code", "msg", "data", "error", "success"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with SignalServer(tmp_path_factory.mktemp("pub") / "hub.db") as s:
        yield s


@pytest.fixture(scope="module")
def alice(srv):
    return srv.new_key(1)


@pytest.fixture(scope="module")
def bob(srv):
    return srv.new_key(2)


def post(srv, path: str, channel: str | None, body=None, key=None, headers: dict | None = None, **kw):
    params = {"user_code": channel} if channel is not None else {}
    hdrs = {**(key.headers if key else {}), **(headers or {})}
    if body is not None and "content" not in kw:
        kw["json"] = body
    return httpx.post(f"{srv.base_url}{path}", params=params, headers=hdrs, **kw)


def assert_error(r: httpx.Response, status: int, code: int) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert ERROR_KEYS <= set(body) and body["code"] == code and body["error"] is True and body["success"] is False
    assert body["data"] is None and isinstance(body["msg"], str) and body["msg"]
    return body


# ---------------------------------------------------------------------------------------------------- /signal

def test_submit_signal_answers_after_the_durable_append(srv, alice):
    r = post(srv, "/signal", "areix", AREIX_SIGNAL, alice)
    assert r.status_code == 200, r.text
    body = r.json()
    data = body["data"]
    assert {k: body[k] for k in ("error", "msg", "success")} == {"error": False, "msg": "successfully stored/executed",
                                                                  "success": True}
    assert set(data) == {"channel", "seq", "epoch", "id", "ts", "duplicate"}
    assert (data["channel"], data["seq"], data["id"], data["duplicate"]) == ("areix", 1, f"{data['epoch']}:1", False)
    # a second connection to the file sees it: it was committed before the answer
    other = SqliteSignalLog(srv.db_path)
    try:
        (rec,) = other.read_after("areix", 0)
    finally:
        other.close()
    assert rec.publisher == "1" and rec.ts == data["ts"]
    assert rec.payload == {"action": "open", "asset_type": "PERPETUAL", "datetime": "2022-10-05T12:03:11",
                           "exchange": "BYBIT", "kind": "signal", "leverage": 5, "price": "19300", "quantity": "0.05",
                           "side": "buy", "symbol": "BTCUSDT", "ts": 1664971391000}


def test_validate_only_checks_but_stores_nothing(srv, alice, bob):
    r = post(srv, "/signal", "vo", {**AREIX_SIGNAL, "validate_only": True}, alice)
    assert r.status_code == 200 and r.json()["msg"] == "successfully validated"
    assert r.json()["data"]["signal"]["symbol"] == "BTCUSDT"
    assert srv.log.head("vo")[1] == 0 and srv.log.channel_owner("vo") is None  # not stored, not claimed
    r = post(srv, "/signal", "vo", {**AREIX_SIGNAL, "validate_only": True, "side": "hold"}, alice)
    assert assert_error(r, 400, -1130)["errors"] == [{"field": "side", "message": "must be one of buy, sell"}]
    assert post(srv, "/signal", "vo", AREIX_SIGNAL, bob).status_code == 200  # the channel was still free


def test_dedupe_key_and_idempotency_key_return_the_original(srv, alice):
    first = post(srv, "/signal", "dedupe", {**AREIX_SIGNAL, "dedupe_key": "order-1"}, alice).json()["data"]
    again = post(srv, "/signal", "dedupe", {**AREIX_SIGNAL, "dedupe_key": "order-1", "side": "sell"}, alice)
    assert again.status_code == 200
    assert again.json()["data"] == {**first, "duplicate": True}
    h1 = post(srv, "/signal", "dedupe", AREIX_SIGNAL, alice, {"Idempotency-Key": "retry-7"}).json()["data"]
    h2 = post(srv, "/signal", "dedupe", AREIX_SIGNAL, alice, {"Idempotency-Key": "retry-7"}).json()["data"]
    assert h1["seq"] == 2 and h2 == {**h1, "duplicate": True}
    assert [r.seq for r in srv.log.read_after("dedupe", 0)] == [1, 2]
    assert srv.log.read_after("dedupe", 0)[0].payload["side"] == "buy"  # the original, not the retry's body
    r = post(srv, "/signal", "dedupe", {**AREIX_SIGNAL, "dedupe_key": "a"}, alice, {"Idempotency-Key": "b"})
    assert assert_error(r, 400, -1130)["errors"][0]["field"] == "dedupe_key"


def test_first_publisher_owns_the_channel(srv, alice, bob):
    assert post(srv, "/signal", "owned", AREIX_SIGNAL, alice).status_code == 200
    for path, body in (("/signal", AREIX_SIGNAL), ("/analysis", AREIX_ANALYSIS), ("/feeds", AREIX_FEED),
                       ("/signal", {**AREIX_SIGNAL, "validate_only": True})):
        r = post(srv, path, "owned", body, bob)
        assert assert_error(r, 403, -1002)["msg"].endswith("this signal channel belongs to another account.")
    alice2 = srv.new_key(1)  # another key of the same account
    assert post(srv, "/signal", "owned", AREIX_SIGNAL, alice2).status_code == 200
    assert srv.log.channel_owner("owned") == 1 and srv.log.head("owned")[1] == 2


def test_ownership_survives_a_restart(tmp_path):
    db = tmp_path / "hub.db"
    with SignalServer(db) as srv:
        a, b = srv.new_key(1), srv.new_key(2)
        assert post(srv, "/signal", "mine", AREIX_SIGNAL, a).status_code == 200
    with SignalServer(db) as srv:
        assert_error(post(srv, "/signal", "mine", AREIX_SIGNAL, b), 403, -1002)
        assert post(srv, "/signal", "mine", AREIX_SIGNAL, a).json()["data"]["seq"] == 2


def test_bad_input_gets_400_with_every_field_error(srv, alice):
    r = post(srv, "/signal", "bad", None, alice, content=b'{"symbol": "BTC', headers={"content-type": "application/json"})
    body = assert_error(r, 400, -1130)
    assert body["errors"][0]["field"] == "" and body["errors"][0]["message"].startswith("malformed JSON")
    r = post(srv, "/signal", "bad", {"side": "hold", "quantiy": 1, "price": "-5", "leverage": 500}, alice)
    errors = {e["field"]: e["message"] for e in assert_error(r, 400, -1130)["errors"]}
    assert errors == {"quantiy": "unknown field", "symbol": "required", "side": "must be one of buy, sell",
                      "price": "must be greater than 0", "leverage": "must be an integer from 1 to 125"}
    assert_error(post(srv, "/signal", "bad", [1, 2], alice), 400, -1130)
    assert_error(post(srv, "/signal", "bad", None, alice, content=b""), 400, -1130)
    big = post(srv, "/signal", "bad", None, alice, content=b"{" + b" " * 70_000 + b"}")
    assert_error(big, 400, -1101)
    assert srv.log.head("bad")[1] == 0


def test_keys_and_channel_parameter(srv, alice):
    body = assert_error(post(srv, "/signal", "keys", AREIX_SIGNAL), 401, -2015)
    assert body["msg"] == "Invalid API-key, IP, or permissions for action."
    assert_error(post(srv, "/signal", "keys", AREIX_SIGNAL, headers={"x-api-key": "unknown"}), 401, -2015)
    assert_error(post(srv, "/signal", "keys", AREIX_SIGNAL, headers={"api-key": alice.api_key, "secret-key": "no"}),
                 401, -2015)
    ok = post(srv, "/signal", "keys", AREIX_SIGNAL, headers={"X-MBX-APIKEY": alice.api_key})
    assert ok.status_code == 200
    assert "'user_code'" in assert_error(post(srv, "/signal", None, AREIX_SIGNAL, alice), 400, -1102)["msg"]
    assert_error(post(srv, "/signal", "bad channel!", AREIX_SIGNAL, alice), 400, -1130)
    assert_error(post(srv, "/signal", "x" * 65, AREIX_SIGNAL, alice), 400, -1130)


def test_unsupported_methods_get_json_404(srv, alice):
    assert_error(httpx.put(f"{srv.base_url}/signal", params={"user_code": "m"}, headers=alice.headers), 404, -1000)
    assert_error(httpx.get(f"{srv.base_url}/feeds", params={"user_code": "m"}, headers=alice.headers), 404, -1000)


# ---------------------------------------------------------------------------------------------------- list

def test_get_signal_lists_retained_records_for_any_key(srv, alice, bob):
    for side in ("buy", "sell", "buy"):
        post(srv, "/signal", "listing", {**AREIX_SIGNAL, "side": side}, alice)
    r = httpx.get(f"{srv.base_url}/signal", params={"user_code": "listing"}, headers=bob.headers)  # not the owner
    assert r.status_code == 200 and r.json()["success"] is True
    items = r.json()["data"]
    assert [(i["seq"], i["side"], i["kind"], i["channel"]) for i in items] == [
        (1, "buy", "signal", "listing"), (2, "sell", "signal", "listing"), (3, "buy", "signal", "listing")]
    assert all(i["id"] == f"{i['epoch']}:{i['seq']}" for i in items)
    page = httpx.get(f"{srv.base_url}/signal", params={"user_code": "listing", "after_seq": 1, "limit": 1},
                     headers=bob.headers).json()["data"]
    assert [i["seq"] for i in page] == [2]
    empty = httpx.get(f"{srv.base_url}/signal", params={"user_code": "nobody-here"}, headers=bob.headers)
    assert empty.status_code == 200 and empty.json()["data"] == []
    for bad in ({"limit": 0}, {"limit": 1001}, {"after_seq": -1}, {"limit": "ten"}):
        r = httpx.get(f"{srv.base_url}/signal", params={"user_code": "listing", **bad}, headers=bob.headers)
        assert_error(r, 400, -1130)
    assert_error(httpx.get(f"{srv.base_url}/signal", params={"user_code": "listing"}), 401, -2015)


# ---------------------------------------------------------------------------------------------------- analysis/feeds

def test_analysis_and_feed_are_stored_on_the_channel_and_streamed(srv, alice):
    for path, body in (("/analysis", AREIX_ANALYSIS), ("/feeds", AREIX_FEED)):
        r = post(srv, path, "research", body, alice)
        assert r.status_code == 200, r.text
        assert r.json() == {"data": None, "error": False, "msg": "successfully submitted", "success": True}
    analysis, feed = (r.payload for r in srv.log.read_after("research", 0))
    assert analysis == {"asset_type": "derivatives", "confidence": 4, "detail": "xxxxxxxx",
                        "effevtive_end": "2024-01-02T00:00:00", "effevtive_start": "2024-01-01T00:00:00",
                        "entry_price": [], "exit_price": [], "kind": "analysis", "leverage": 1, "side": "long",
                        "sl_price": "41000", "symbol": "BTCUSDT",
                        "translation": {"zh": {"detail": "比特幣看漲,目標四萬五"}}}
    assert feed == {**AREIX_FEED, "kind": "feed"}
    with SseReader(srv.base_url, "/signals/stream", {"channel": "research", "last_id": "0"}, alice.headers) as rd:
        a, f = rd.frames(2)
    assert (a.event, f.event) == ("analysis", "feed")
    assert a.json["translation"]["zh"]["detail"] == "比特幣看漲,目標四萬五"
    assert f.json["translation"]["zh"] == {"topic": "市場快訊", "text": "以太坊升級完成"}


def test_analysis_and_feed_validation(srv, alice):
    r = post(srv, "/analysis", "research-bad", {"symbol": "BTCUSDT", "side": "up", "entry_price": "100",
                                                "exit_price": [1, "x"], "confidence": 4.5,
                                                "effective_start": "2024-02-01", "effevtive_end": "2024-01-01",
                                                "translation": {"zh": {"text": "錯"}}}, alice)
    errors = {e["field"]: e["message"] for e in assert_error(r, 400, -1130)["errors"]}
    assert errors == {"side": "must be one of long, short, buy, sell",
                      "entry_price": "must be a list of at most 20 prices",
                      "exit_price[1]": "not a number: 'x'", "confidence": "must be an integer from 0 to 100",
                      "effevtive_end": "before effevtive_start", "translation.zh.text": "unknown field"}
    r = post(srv, "/feeds", "research-bad", {"url": "ftp://x", "translation": "zh"}, alice)
    errors = {e["field"]: e["message"] for e in assert_error(r, 400, -1130)["errors"]}
    assert set(errors) == {"text", "url", "translation"}
    r = post(srv, "/analysis", "research-bad", {**AREIX_ANALYSIS, "dedupe_key": "a-1"}, alice)
    r2 = post(srv, "/analysis", "research-bad", {**AREIX_ANALYSIS, "dedupe_key": "a-1"}, alice)
    assert r.status_code == r2.status_code == 200
    assert srv.log.head("research-bad")[1] == 1  # the retry was not stored twice


# ---------------------------------------------------------------------------------------------------- failures

def test_a_broken_log_gets_503_never_500(tmp_path):
    with SignalServer(tmp_path / "hub.db") as srv:
        key = srv.new_key(1)
        assert post(srv, "/signal", "c", AREIX_SIGNAL, key).status_code == 200
        srv.log.close()  # the database connection is gone
        body = assert_error(post(srv, "/signal", "c", AREIX_SIGNAL, key), 503, -1001)
        assert "Traceback" not in body["msg"]
        assert_error(httpx.get(f"{srv.base_url}/signal", params={"user_code": "c"}, headers=key.headers), 503, -1001)
        assert_error(post(srv, "/feeds", "c", AREIX_FEED, key), 503, -1001)
        srv.log = SqliteSignalLog(srv.db_path)  # so that stop() has something to close
