"""Raw ``websockets`` broadcast server: the baseline of ``bench_ws_fanout.py``.

No venue behind it: frames are alfax's own frames captured in the same run (same streams, same sizes), with the
``"E"`` field re-stamped when the event is "made" here, just before ``websockets.broadcast``. Clients connect to
``/g/<group>``; a group stands for one account (its connections share a listen key in the alfax run).

Load shape = the alfax run's: market frames on the feed's 250 ms grid to every connection (bookTicker and
aggTrade at the per-second rates alfax delivered), and "orders" cycling LIMIT, CANCEL, MARKET BUY, MARKET SELL
over the groups round robin, each sending that order's user frames (1, 1, 4, 4 — as alfax does) to its group.

Control (stdin lines): ``phase ORDERS_PER_S|max BOOK_PER_S AGG_PER_S``, ``idle``, ``count``, ``quit``; in ``max``
the orders are produced as fast as the loop allows, pausing only while some socket of the group has more than 1 MB
unsent (so memory stays bounded when the clients are the bottleneck, as alfax's bounded queues do).
stdout: ``READY`` once listening; after every control line ``ORDERS <n>`` (orders produced so far).
Usage: python ws_fanout_baseline.py PORT TEMPLATES.json
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time

from websockets.asyncio.server import broadcast, serve

STEP_S = 0.25
MAX_BUFFER = 1 << 20


class Template:
    """A captured frame split around its ``"E"`` digits: prefix + str(E) + suffix."""

    __slots__ = ("prefix", "suffix")

    def __init__(self, text: str) -> None:
        i = text.index('"E":') + 4
        j = text.index(",", i)
        self.prefix, self.suffix = text[:i], text[j:]

    def render(self, e_ms: int) -> str:
        return f"{self.prefix}{e_ms}{self.suffix}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Baseline:
    def __init__(self, templates: dict) -> None:
        self.book = Template(templates["book"])
        self.agg = Template(templates["agg"])
        self.ops = [[Template(t) for t in templates[k]] for k in ("limit", "cancel", "market_buy", "market_sell")]
        self.groups: dict[str, set] = {}
        self.all: set = set()
        self.mode = "idle"
        self.rate = 0.0
        self.book_per_s = 0.0
        self.agg_per_s = 0.0
        self.orders = 0
        self.gen = 0  # bumps on every phase change: the old producer loop exits

    async def handler(self, ws) -> None:
        path = ws.request.path if ws.request is not None else "/g/0"
        g = path.rsplit("/", 1)[-1]
        self.groups.setdefault(g, set()).add(ws)
        self.all.add(ws)
        try:
            await ws.wait_closed()
        finally:
            self.all.discard(ws)
            self.groups.get(g, set()).discard(ws)

    # ------------------------------------------------------------------ market grid
    async def market_loop(self) -> None:
        loop = asyncio.get_running_loop()
        t = loop.time()
        book_acc = agg_acc = 0.0
        while True:
            t += STEP_S
            await asyncio.sleep(max(0.0, t - loop.time()))
            if self.mode == "idle" or not self.all:
                continue
            book_acc += self.book_per_s * STEP_S
            # the same mean per step as alfax delivered (alfax's feed draws a random count per 250 ms step)
            agg_acc += self.agg_per_s * STEP_S
            n_book = int(book_acc)
            book_acc -= n_book
            n_agg = int(agg_acc)
            agg_acc -= n_agg
            e = now_ms()
            for _ in range(n_book):
                broadcast(self.all, self.book.render(e))
            for _ in range(n_agg):
                broadcast(self.all, self.agg.render(e))

    # ------------------------------------------------------------------ orders
    async def order_loop(self, gen: int) -> None:
        loop = asyncio.get_running_loop()
        keys = sorted(self.groups, key=lambda k: int(k) if k.isdigit() else 0)
        if not keys:
            return
        t = loop.time()
        i = 0
        paced = self.mode != "max"
        if paced and self.rate <= 0:
            return
        interval = 1.0 / self.rate if paced and self.rate > 0 else 0.0
        while self.gen == gen:
            g = keys[i % len(keys)]
            op = self.ops[(i // len(keys)) % 4]
            i += 1
            conns = self.groups.get(g)
            if conns:
                e = now_ms()
                for tpl in op:
                    broadcast(conns, tpl.render(e))
            self.orders += 1
            if paced:
                t += interval
                delay = t - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif i % 16 == 0:
                    await asyncio.sleep(0)
            else:
                await asyncio.sleep(0)
                while (self.gen == gen and conns
                       and max(c.transport.get_write_buffer_size() for c in conns) > MAX_BUFFER):
                    await asyncio.sleep(0.001)


async def main(port: int, templates_path: str) -> None:
    b = Baseline(json.loads(open(templates_path).read()))
    loop = asyncio.get_running_loop()
    async with serve(b.handler, "127.0.0.1", port, compression=None, ping_interval=None, max_queue=None,
                     backlog=4096):
        print("READY", flush=True)
        market = asyncio.create_task(b.market_loop())
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = (await reader.readline()).decode().split()
            if not line or line[0] == "quit":
                break
            if line[0] == "count":
                print(f"ORDERS {b.orders}", flush=True)
                continue
            b.gen += 1
            if line[0] == "phase":
                b.mode = "max" if line[1] == "max" else "paced"
                b.rate = 0.0 if line[1] == "max" else float(line[1])
                b.book_per_s, b.agg_per_s = float(line[2]), float(line[3])
                asyncio.create_task(b.order_loop(b.gen))
            else:
                b.mode = "idle"
            print(f"ORDERS {b.orders}", flush=True)
        market.cancel()


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 65536)), hard))
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
