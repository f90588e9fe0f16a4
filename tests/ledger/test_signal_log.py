"""SqliteSignalLog: per-channel seq + epoch, durable across reopen / crash / processes; replay, retention, cursors."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import threading
from decimal import Decimal

import pytest

from alfax.ledger.signal_log import SignalRecord, SqliteSignalLog, parse_event_id


def seqs(records):
    return [r.seq for r in records]


def test_append_assigns_gap_free_seq_and_one_epoch_per_channel(tmp_path):
    log = SqliteSignalLog(tmp_path / "s.db")
    a = [log.append("alpha", {"i": i}, 1000 + i, "prov") for i in range(5)]
    b = [log.append("beta", {"i": i}, 2000 + i) for i in range(3)]
    a.append(log.append("alpha", {"i": 5}, 1005, "prov"))
    assert seqs(a) == [1, 2, 3, 4, 5, 6] and seqs(b) == [1, 2, 3]
    assert len({r.epoch for r in a}) == 1 and len({r.epoch for r in b}) == 1
    assert a[0].epoch != b[0].epoch and len(a[0].epoch) == 12
    r = a[2]
    assert isinstance(r, SignalRecord)
    assert (r.channel, r.seq, r.ts, r.payload, r.publisher) == ("alpha", 3, 1002, {"i": 2}, "prov")
    assert r.event_id == f"{r.epoch}:3"
    assert log.head("alpha") == (a[0].epoch, 6) and log.head("beta") == (b[0].epoch, 3)
    assert log.read_after("alpha", 0) == a and log.read_after("beta", 0) == b
    assert log.channels() == ["alpha", "beta"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.seq = 9  # type: ignore[misc]
    log.close()


def test_payload_roundtrip_amounts_as_strings_and_bad_input_consumes_no_seq(tmp_path):
    log = SqliteSignalLog(tmp_path / "s.db")
    with pytest.raises(TypeError):
        log.append("c", ["not", "a", "dict"], 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        log.append("c", {"x": object()}, 1)
    with pytest.raises(ValueError):
        log.append("", {"x": 1}, 1)
    assert log.head("c") == ("", 0) and log.read_after("c", 0) == []
    r = log.append("c", {"qty": Decimal("0.0010"), "open": [{"symbol": "BTCUSDT", "side": "BUY"}]}, 5)
    assert r.seq == 1
    got = log.read_after("c", 0)[0]
    assert got.payload == {"qty": "0.0010", "open": [{"symbol": "BTCUSDT", "side": "BUY"}]}
    assert got.raw == b'{"qty":"0.0010","open":[{"symbol":"BTCUSDT","side":"BUY"}]}'
    log.close()


def test_sequence_and_epoch_survive_close_and_reopen(tmp_path):
    path = tmp_path / "s.db"
    log = SqliteSignalLog(path)
    first = [log.append("ch", {"n": i}, i) for i in range(3)]
    log.close()
    log2 = SqliteSignalLog(path)
    assert log2.head("ch") == (first[0].epoch, 3)
    r = log2.append("ch", {"n": 3}, 3)
    assert (r.seq, r.epoch) == (4, first[0].epoch)
    assert [x.payload["n"] for x in log2.read_after("ch", 0)] == [0, 1, 2, 3]
    assert seqs(log2.read_after("ch", 0)) == [1, 2, 3, 4]
    log2.close()


def test_second_instance_without_closing_the_first_shares_the_counter(tmp_path):
    path = tmp_path / "s.db"
    a = SqliteSignalLog(path)
    a.append("ch", {"by": "a"}, 1)
    a.append("ch", {"by": "a"}, 2)
    b = SqliteSignalLog(path)  # a "crashed" process's file opened by the next one while the first is still open
    assert b.append("ch", {"by": "b"}, 3).seq == 3
    assert a.append("ch", {"by": "a"}, 4).seq == 4  # the first instance does not reuse 3: the counter is in the db
    assert [(r.seq, r.payload["by"]) for r in b.read_after("ch", 0)] == [(1, "a"), (2, "a"), (3, "b"), (4, "a")]
    assert a.read_after("ch", 0) == b.read_after("ch", 0)
    assert a.head("ch") == b.head("ch")
    a.close()
    b.close()


def test_concurrent_appends_from_threads_and_two_connections(tmp_path):
    path = tmp_path / "s.db"
    stores = [SqliteSignalLog(path), SqliteSignalLog(path)]
    per_thread: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            log = stores[t % 2]
            per_thread[t] = [log.append("hot", {"t": t, "i": i}, i, f"p{t}").seq for i in range(60)]
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors
    all_seqs = sorted(s for v in per_thread.values() for s in v)
    assert all_seqs == list(range(1, 361))  # every seq exactly once: gap-free, no duplicate
    for t, v in per_thread.items():
        assert v == sorted(v) and len(set(v)) == 60  # each publisher sees its own appends strictly increasing
    stored = stores[0].read_after("hot", 0, limit=1000)
    assert seqs(stored) == list(range(1, 361))
    for t in range(6):  # each publisher's records are stored in its append order
        assert [r.payload["i"] for r in stored if r.payload["t"] == t] == list(range(60))
    assert stores[1].head("hot")[1] == 360
    for s in stores:
        s.close()


_CHILD = textwrap.dedent("""
    import sys
    from alfax.ledger.signal_log import SqliteSignalLog
    log = SqliteSignalLog(sys.argv[1])
    who, n = sys.argv[2], int(sys.argv[3])
    for i in range(n):
        r = log.append("shared", {"who": who, "i": i}, i, who)
        print(r.seq, flush=True)  # acknowledged: committed before append returned
    if n == 0:
        while True:
            r = log.append("shared", {"who": who}, 0, who)
            print(r.seq, flush=True)
""")


def _child(path, who: str, n: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _CHILD, str(path), who, str(n)], stdout=subprocess.PIPE, text=True,
                            cwd=os.getcwd())


def test_two_processes_append_to_one_channel(tmp_path):
    path = tmp_path / "s.db"
    SqliteSignalLog(path).close()
    procs = [_child(path, "p1", 80), _child(path, "p2", 80)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    acked = [[int(x) for x in out.split()] for out in outs]
    for a in acked:
        assert len(a) == 80 and a == sorted(a)
    assert sorted(acked[0] + acked[1]) == list(range(1, 161))
    log = SqliteSignalLog(path)
    stored = log.read_after("shared", 0, limit=500)
    assert seqs(stored) == list(range(1, 161))
    assert {r.seq for r in stored if r.publisher == "p1"} == set(acked[0])
    assert len({r.epoch for r in stored}) == 1
    log.close()


def test_killed_process_loses_no_acknowledged_signal(tmp_path):
    path = tmp_path / "s.db"
    p = _child(path, "k", 0)  # appends forever until killed
    acked: list[int] = []
    assert p.stdout is not None
    for line in p.stdout:
        acked.append(int(line))
        if len(acked) >= 40:
            break
    p.send_signal(signal.SIGKILL)
    p.wait(30)
    acked.extend(int(x) for x in p.stdout.read().split())
    log = SqliteSignalLog(path)
    stored = seqs(log.read_after("shared", 0, limit=10_000))
    assert stored == list(range(1, len(stored) + 1))  # gap-free
    assert set(acked) <= set(stored)  # every acknowledged signal is in the log
    epoch, head = log.head("shared")
    assert head == len(stored)
    r = log.append("shared", {"after": "crash"}, 1)
    assert (r.seq, r.epoch) == (head + 1, epoch)
    log.close()


def test_read_after_pages_in_order(tmp_path):
    log = SqliteSignalLog(tmp_path / "s.db")
    for i in range(25):
        log.append("ch", {"i": i}, i)
    pages, cursor = [], 0
    while True:
        page = log.read_after("ch", cursor, limit=10)
        if not page:
            break
        pages.append(seqs(page))
        cursor = page[-1].seq
    assert pages == [list(range(1, 11)), list(range(11, 21)), list(range(21, 26))]
    assert seqs(log.read_after("ch", 23)) == [24, 25]
    assert log.read_after("ch", 25) == [] and log.read_after("ch", 3, limit=0) == []
    assert log.read_after("nope", 0) == []
    assert seqs(log.read_after("ch", -5, limit=2)) == [1, 2]
    log.close()


def test_retention_and_cursor_status(tmp_path):
    log = SqliteSignalLog(tmp_path / "s.db", retain_per_channel=5)
    assert log.prune_every == 1
    for i in range(12):
        log.append("ch", {"i": i}, i)
    for i in range(3):
        log.append("other", {"i": i}, i)
    epoch = log.head("ch")[0]
    assert log.oldest_retained("ch") == 8 and seqs(log.read_after("ch", 0)) == [8, 9, 10, 11, 12]
    assert log.oldest_retained("other") == 1 and seqs(log.read_after("other", 0)) == [1, 2, 3]
    cs = log.cursor_status
    assert cs("ch", epoch, 7) == "ok"  # missed 8..12, all retained
    assert cs("ch", epoch, 6) == "reset"  # missed 7, which is gone
    assert cs("ch", epoch, 0) == "reset"
    assert cs("ch", epoch, 12) == "ok"
    assert cs("ch", epoch, 13) == "ahead"
    assert cs("ch", "feedfacecafe", 12) == "reset"  # another epoch
    assert cs("ch", None, 7) == "ok" and cs("ch", "", 6) == "reset" and cs("ch", None, 99) == "ahead"
    assert cs("other", epoch, 3) == "reset"  # channel epochs are independent
    log.close()


def test_pruning_every_n_appends_and_explicit_prune(tmp_path):
    path = tmp_path / "s.db"
    log = SqliteSignalLog(path, retain_per_channel=5, prune_every=4)
    for i in range(7):
        log.append("ch", {"i": i}, i)
    # pruned once, at the 4th append (nothing older than seq 0 to drop); 7 records kept until the next prune
    assert log.oldest_retained("ch") == 1
    log.append("ch", {"i": 7}, 7)  # 8th append prunes seq <= 3
    assert log.oldest_retained("ch") == 4 and seqs(log.read_after("ch", 0)) == [4, 5, 6, 7, 8]
    log.append("ch", {"i": 8}, 8)
    assert log.oldest_retained("ch") == 4
    assert log.cursor_status("ch", None, 3) == "ok"  # status follows what is actually retained
    assert log.prune() == 1
    assert log.oldest_retained("ch") == 5 and log.cursor_status("ch", None, 3) == "reset"
    log.close()
    assert SqliteSignalLog(path).oldest_retained("ch") == 5
    assert SqliteSignalLog(tmp_path / "d.db").prune_every == 256  # default retain 10,000: prune every 256 appends


def test_reset_changes_epoch_drops_history_and_keeps_counting(tmp_path):
    path = tmp_path / "s.db"
    log = SqliteSignalLog(path)
    for i in range(4):
        log.append("ch", {"i": i}, i)
    old_epoch = log.head("ch")[0]
    new_epoch, last = log.reset("ch")
    assert new_epoch != old_epoch and last == 4
    assert log.head("ch") == (new_epoch, 4)
    assert log.read_after("ch", 0) == [] and log.oldest_retained("ch") == 5
    assert log.cursor_status("ch", old_epoch, 4) == "reset"  # same seq, other epoch
    assert log.cursor_status("ch", new_epoch, 4) == "ok"
    assert log.cursor_status("ch", new_epoch, 3) == "reset"
    r = log.append("ch", {"i": 4}, 4)
    assert (r.seq, r.epoch) == (5, new_epoch)
    log.close()
    log2 = SqliteSignalLog(path)
    assert log2.head("ch") == (new_epoch, 5)
    assert [(x.seq, x.epoch) for x in log2.read_after("ch", 0)] == [(5, new_epoch)]
    log2.close()


def test_dedupe_key_returns_the_existing_record(tmp_path):
    path = tmp_path / "s.db"
    log = SqliteSignalLog(path)
    r1 = log.append("ch", {"v": 1}, 10, "prov", dedupe_key="sig-1")
    r2, new = log.append_once("ch", {"v": "retry"}, 20, "prov", dedupe_key="sig-1")
    assert not new and r2 == r1 and r2.payload == {"v": 1} and r2.ts == 10 and r2.dedupe_key == "sig-1"
    assert log.head("ch")[1] == 1
    r3, new3 = log.append_once("ch", {"v": 2}, 30, dedupe_key="sig-2")
    assert new3 and r3.seq == 2
    assert log.append("other", {"v": 1}, 40, dedupe_key="sig-1").seq == 1  # keys are per channel
    assert log.append("ch", {"v": 3}, 50).seq == 3 and log.append("ch", {"v": 3}, 50).seq == 4  # no key: no dedupe
    log.close()
    log2 = SqliteSignalLog(path)
    assert log2.append("ch", {"v": "late retry"}, 60, dedupe_key="sig-2").seq == 2  # durable across reopen
    assert log2.head("ch")[1] == 4
    log2.close()


def test_unknown_channel_and_ensure_channel(tmp_path):
    log = SqliteSignalLog(tmp_path / "s.db")
    assert log.head("new") == ("", 0) and log.oldest_retained("new") == 1 and log.channels() == []
    assert log.cursor_status("new", None, 0) == "ok"
    assert log.cursor_status("new", None, 3) == "ahead"
    assert log.cursor_status("new", "abc", 0) == "reset"
    epoch, last = log.ensure_channel("new", 5)
    assert last == 0 and epoch and log.channels() == ["new"]
    assert log.ensure_channel("new") == (epoch, 0)  # idempotent
    assert log.cursor_status("new", epoch, 0) == "ok"
    r = log.append("new", {}, 6)
    assert (r.seq, r.epoch) == (1, epoch)  # a subscriber that joined early keeps its epoch
    log.close()


def test_parse_event_id():
    assert parse_event_id("ab12:1047") == ("ab12", 1047)
    assert parse_event_id(" 42 ") == (None, 42)
    assert parse_event_id("0") == (None, 0)
    for bad in (None, "", ":5", "e:", "e:-1", "e:1.5", "abc", "e:99999999999999999999", "e:٣"):
        assert parse_event_id(bad) is None, bad
    log_epoch = "0123456789ab"
    rec = SignalRecord("c", 7, log_epoch, 0, {})
    assert parse_event_id(rec.event_id) == (log_epoch, 7)
