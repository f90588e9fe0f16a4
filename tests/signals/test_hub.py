"""SignalHub edge cases on a real SqliteSignalLog: race-free attach under concurrent publishing, slow consumers,
dedupe, listeners, cursor statuses, disconnect_all."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from alfax.ledger.signal_log import SqliteSignalLog
from alfax.signals.hub import SignalHub, SlowConsumer


def clock() -> int:
    return time.time_ns() // 1_000_000


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def drain(sub, until_seq: int, timeout: float = 10.0) -> list[int]:
    """Seqs handed to ``sub`` until ``until_seq`` is reached."""
    got: list[int] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while not got or got[-1] < until_seq:
        left = deadline - asyncio.get_running_loop().time()
        assert left > 0, f"timed out at {got[-1:]} waiting for {until_seq}"
        got += [p.seq for p in await sub.get(left)]
    return got


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_attach_while_publishing_never_gaps_or_duplicates(tmp_path, seed):
    """Subscribers attach (live, at the head, or behind it) at random moments while a publisher appends; each sees
    one contiguous run of seqs ending at the last record: nothing between replay and live is lost or doubled."""
    rng = random.Random(seed)
    total = 1200

    async def main():
        log = SqliteSignalLog(tmp_path / f"h{seed}.db", retain_per_channel=100_000)
        hub = SignalHub(log, clock)
        await hub.head("c")

        async def publisher():
            for i in range(total):
                await hub.publish("c", {"i": i})
                if rng.random() < 0.3:
                    await asyncio.sleep(0)

        async def consumer(delay_steps: int, mode: str):
            for _ in range(delay_steps):
                await asyncio.sleep(0)
            epoch, head = await hub.head("c")
            cursor = None if mode == "live" else head if mode == "head" else max(0, head - rng.randint(0, 300))
            att = await hub.attach("c", epoch if cursor is not None else None, cursor)
            heads.append(att.head_seq)
            try:
                assert att.status == ("live" if cursor is None else "ok")
                start = (att.head_seq if cursor is None else cursor) + 1
                seqs = [p.seq for p in att.backlog]
                if not seqs or seqs[-1] < total:
                    seqs += await drain(att.subscriber, total)
                assert seqs == list(range(start, total + 1)), f"{mode} from {start}: gap or duplicate"
            finally:
                hub.unsubscribe(att.subscriber)

        heads: list[int] = []
        consumers = [consumer(rng.randint(0, 4000), rng.choice(["live", "head", "behind"])) for _ in range(40)]
        await asyncio.gather(publisher(), *consumers)
        assert sum(0 < h < total for h in heads) >= 20, heads  # most attached while the publisher was running
        assert hub.subscriber_count() == 0
        log.close()

    run(main())


def test_slow_consumer_overflows_and_resumes_from_the_log(tmp_path):
    async def main():
        log = SqliteSignalLog(tmp_path / "h.db")
        hub = SignalHub(log, clock, buffer=8)
        slow = (await hub.attach("c", None, None)).subscriber
        fast = (await hub.attach("c", None, None)).subscriber
        got_fast: list[int] = []
        for i in range(20):
            await hub.publish("c", {"i": i})
            got_fast += [p.seq for p in fast.poll()]
        assert got_fast == list(range(1, 21))  # the fast one is unaffected
        assert slow.overflowed and not slow._items  # its backlog was freed at once
        with pytest.raises(SlowConsumer):
            await slow.get(0.1)
        hub.unsubscribe(slow)
        # the client reconnects with its cursor (it had seen nothing): the log replays everything
        epoch, _ = await hub.head("c")
        att = await hub.attach("c", epoch, 0)
        assert att.status == "ok" and [p.seq for p in att.backlog] == list(range(1, 21))
        await hub.publish("c", {"i": 20})
        assert [p.seq for p in await att.subscriber.get(1)] == [21]
        log.close()

    run(main())


def test_dedupe_key_publishes_once_and_fans_out_once(tmp_path):
    async def main():
        log = SqliteSignalLog(tmp_path / "h.db")
        hub = SignalHub(log, clock)
        seen: list[int] = []
        hub.listeners.append(lambda p: seen.append(p.seq))
        sub = (await hub.attach("c", None, None)).subscriber
        r1, new1 = await hub.publish("c", {"x": 1}, "7", dedupe_key="k1")
        r2, new2 = await hub.publish("c", {"x": 2}, "7", dedupe_key="k1")
        assert new1 and not new2 and r2.seq == r1.seq == 1 and r2.payload == {"x": 1}
        assert [p.seq for p in await sub.get(1)] == [1]
        assert await sub.get(0.05) == []
        assert seen == [1]
        log.close()

    run(main())


def test_failing_listener_never_breaks_publish(tmp_path):
    async def main():
        log = SqliteSignalLog(tmp_path / "h.db")
        hub = SignalHub(log, clock)
        calls: list[int] = []

        def boom(p):
            raise RuntimeError("listener bug")

        hub.listeners += [boom, lambda p: calls.append(p.seq)]
        record, new = await hub.publish("c", {"x": 1})
        assert new and record.seq == 1 and calls == [1]
        log.close()

    run(main())


def test_attach_statuses_other_epoch_expired_ahead_bare_seq(tmp_path):
    async def main():
        log = SqliteSignalLog(tmp_path / "h.db", retain_per_channel=3, prune_every=1)
        hub = SignalHub(log, clock)
        for i in range(10):
            await hub.publish("c", {"i": i})
        epoch, head = await hub.head("c")
        assert head == 10
        cases = {
            ("ffffffffffff", 9): ("reset", "epoch_changed"),
            (epoch, 2): ("reset", "cursor_expired"),  # 3..6 are gone
            (epoch, 11): ("reset", "cursor_ahead"),
            (epoch, 7): ("ok", ""),
            (None, 8): ("ok", ""),  # a bare seq: only the sequence is checked
        }
        for (ep, seq), (status, reason) in cases.items():
            att = await hub.attach("c", ep, seq)
            try:
                assert (att.status, att.reason, att.epoch, att.head_seq) == (status, reason, epoch, 10), (ep, seq)
                if status == "ok":
                    assert [p.seq for p in att.backlog] == list(range(seq + 1, 11))
                else:
                    assert att.backlog == [] and att.subscriber.last_seq == 10
            finally:
                hub.unsubscribe(att.subscriber)
        log.close()

    run(main())


def test_disconnect_all_cuts_live_subscribers_only(tmp_path):
    async def main():
        log = SqliteSignalLog(tmp_path / "h.db")
        hub = SignalHub(log, clock)
        a = (await hub.attach("a", None, None)).subscriber
        b = (await hub.attach("b", None, None)).subscriber
        waiter = asyncio.create_task(a.get(5))
        await asyncio.sleep(0)
        assert hub.disconnect_all("a") == 1
        with pytest.raises(SlowConsumer):
            await waiter  # a waiting transport wakes at once
        await hub.publish("b", {"x": 1})
        assert [p.seq for p in await b.get(1)] == [1]
        assert hub.disconnect_all() == 2 - 1  # a is already cut; b now
        hub.unsubscribe(a)
        hub.unsubscribe(b)
        assert hub.subscriber_count() == 0
        c = (await hub.attach("a", None, None)).subscriber  # new subscribers are not affected
        await hub.publish("a", {"x": 2})
        assert [p.seq for p in await c.get(1)] == [1]
        log.close()

    run(main())


def test_unsubscribed_subscriber_gets_nothing_more(tmp_path):
    async def main():
        log = SqliteSignalLog(tmp_path / "h.db")
        hub = SignalHub(log, clock)
        sub = (await hub.attach("c", None, None)).subscriber
        hub.unsubscribe(sub)
        await hub.publish("c", {"x": 1})
        assert sub.poll() == [] and hub.subscriber_count("c") == 0
        log.close()

    run(main())
