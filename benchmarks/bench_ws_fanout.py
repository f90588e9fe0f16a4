"""WebSocket fan-out benchmark: alfax's stream server beside a raw ``websockets`` broadcast server, same run.

Requirement (issue): 1,000 WebSocket clients on loopback, each subscribed to bookTicker + aggTrade + user data;
report events/s delivered, p99 delay from engine event to client receipt and server CPU per 1,000 events, beside a
raw ``websockets`` broadcast baseline measured in the same run. Targets: >= 0.5x the baseline's delivered
events/s, p99 <= 50 ms.

What it does:
1. starts ``alfax serve`` (temporary database, replay feed, REST rate limits off, deep WebSocket queues), creates
   ``--accounts`` accounts with a listen key each;
2. connects ``--clients`` connections from ``--procs`` client processes (``ws_fanout_client.py``: uvloop, frames
   parsed by hand, only the stream kind and ``E`` read), each to
   ``/stream?streams=btcusdt@bookTicker/btcusdt@aggTrade/<listenKey of account i % accounts>``;
3. drives user data with an order generator over keep-alive HTTP (signed requests): per account the cycle
   LIMIT far from the touch, CANCEL it, MARKET BUY, MARKET SELL (1 + 1 + 4 + 4 user events);
   - ``steady``: ``--orders-per-s`` orders/s over all accounts (the issue's scenario; the p99 target applies);
   - ``max``: ``--max-inflight`` closed loops per account, as fast as the server answers (saturation: delivered
     events/s is the server's fan-out capacity; delays there are queueing, reported but not a target);
4. the same two phases against ``ws_fanout_baseline.py`` (``websockets.broadcast``, alfax's captured frames
   re-stamped, market frames on the same 250 ms grid at the rates alfax delivered, same order/event pattern);
5. prints delivered events/s, delay percentiles (receive wall time - ``E``; ``E`` has ms resolution), server CPU
   (utime + stime of the server process over the window) per 1,000 delivered events, events/s per server
   CPU-second (robust against other load on the machine), the CPU the rest of the machine used meanwhile
   ("others": a noisy run shows there), and the ratios. The events/s target is judged on the ``max`` phase (in
   ``steady`` both servers get the same offered load, so both deliver it); the p99 target on ``steady``.

The replay feed produces one book update per symbol per 250 ms of wall time and ~2 trades/s, whatever ``--speed``:
per connection ~4 bookTicker/s + ~2 aggTrade/s; user data is what makes the load (100 connections per account).
Pinning (2-core machine): the server under test runs on CPU 0, clients and the order generator on CPU 1
(``--no-pin`` to disable). ``--profile DIR`` records py-spy (raw collapsed stacks) of alfax during its windows and
prints the hottest functions. Default run: about 60 s.

Usage: python benchmarks/bench_ws_fanout.py [--clients 1000] [--seconds 10] [--orders-per-s 100]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import hmac
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from pathlib import Path

import httpx
import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CLIENT = HERE / "ws_fanout_client.py"
BASELINE = HERE / "ws_fanout_baseline.py"
BUCKET_PER_MS = 4  # must match ws_fanout_client.py
SYMBOL = "BTCUSDT"
STREAMS = "btcusdt@bookTicker/btcusdt@aggTrade"
CLK_TCK = os.sysconf("SC_CLK_TCK")
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_s(pid: int) -> tuple[float, float]:
    """(utime + stime, stime) of a process (all threads), seconds."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK, int(rest[12]) / CLK_TCK


def machine_busy_s() -> float:
    """CPU seconds spent busy by the whole machine (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / CLK_TCK  # minus idle and iowait


def self_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def signed(params: dict, secret: str) -> str:
    qs = urllib.parse.urlencode(params)
    return f"{qs}&signature={hmac.new(secret.encode(), qs.encode(), hashlib.sha256).hexdigest()}"


def pin(cpu: int | None):
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


# ================================================================================================= alfax setup
class AlfaxProcess:
    def __init__(self, tmp: Path, speed: float, cpu: int | None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.db = tmp / "fanout.db"
        cfg = tmp / "serve.json"
        cfg.write_text(json.dumps({"rate_limits": {"enabled": False}, "ws_max_incoming_per_s": 1000,
                                   "ws_max_queue": 100_000, "print_banner": False}))
        self.log = open(tmp / "alfax.log", "wb")
        cmd = [sys.executable, "-m", "alfax.cli.main", "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--db", str(self.db), "--speed", str(speed), "--config", str(cfg)]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=str(tmp), env=env,
                                     preexec_fn=pin(cpu))
        self.pid = self.proc.pid
        self.http = httpx.Client(base_url=self.base, timeout=30, trust_env=False)
        deadline = time.time() + 120
        while True:
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit("alfax serve did not start:\n" + (tmp / "alfax.log").read_text()[-3000:])
            try:
                if self.http.get("/health").status_code == 200 and self.book()[0] > 0:
                    break
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            time.sleep(0.3)
        creds = json.loads(Path(str(self.db) + ".operator.json").read_text())
        self.op_key, self.op_secret = creds["apiKey"], creds["secretKey"]

    def book(self) -> tuple[float, float]:
        t = self.http.get("/fapi/v1/ticker/bookTicker", params={"symbol": SYMBOL}).json()
        return float(t["bidPrice"]), float(t["askPrice"])

    def operator(self, method: str, path: str, **params) -> dict:
        params["timestamp"] = int(time.time() * 1000)
        r = self.http.request(method, path, content=signed(params, self.op_secret),
                              headers={"X-MBX-APIKEY": self.op_key,
                                       "Content-Type": "application/x-www-form-urlencoded"})
        r.raise_for_status()
        return r.json()

    def create_accounts(self, n: int) -> list[dict]:
        out = []
        for i in range(n):
            acc = self.operator("POST", "/alfax/admin/accounts", alias=f"fanout{i}", balance="10000000")
            lk = self.http.post("/fapi/v1/listenKey", headers={"X-MBX-APIKEY": acc["apiKey"]})
            lk.raise_for_status()
            out.append({"key": acc["apiKey"], "secret": acc["secretKey"], "listenKey": lk.json()["listenKey"]})
        return out

    def rules(self) -> dict:
        info = self.http.get("/fapi/v1/exchangeInfo").json()
        s = next(x for x in info["symbols"] if x["symbol"] == SYMBOL)
        f = {x["filterType"]: x for x in s["filters"]}
        mn = f["MIN_NOTIONAL"]
        return {"tick": Decimal(f["PRICE_FILTER"]["tickSize"]).normalize(),
                "step": Decimal(f["LOT_SIZE"]["stepSize"]).normalize(),
                "min_qty": Decimal(f["LOT_SIZE"]["minQty"]),
                "min_notional": Decimal(str(mn.get("notional", mn.get("minNotional"))))}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.http.close()
        self.log.close()


# ================================================================================================= order generator
class OrderGen:
    """Closed order loops over keep-alive HTTP connections: paced (steady, one loop per account) or unpaced (max,
    ``inflight`` loops per account)."""

    def __init__(self, port: int, accounts: list[dict], rules: dict, price: list[float]) -> None:
        self.port = port
        self.accounts = accounts
        self.rules = rules
        self.price = price  # [best bid], refreshed by the sample connection
        self.rate = 0.0  # orders/s over all accounts; 0 = stopped; inf = unpaced
        self.ok = 0
        self.errors = 0
        self.first_errors: list[str] = []
        self.tasks: list[asyncio.Task] = []
        notional = rules["min_notional"] * Decimal("1.5")
        raw = notional / Decimal(str(price[0]))
        step = rules["step"]
        self.qty = str(max((raw / step).to_integral_value(rounding=ROUND_UP) * step, rules["min_qty"]).quantize(step))

    def start(self, inflight: int = 1) -> None:
        """One paced loop per account; ``inflight - 1`` more per account that run only unpaced (max)."""
        n = len(self.accounts)
        self.tasks = [asyncio.create_task(self._worker(w, self.accounts[w % n])) for w in range(n * inflight)]

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def _far_price(self) -> str:
        tick = self.rules["tick"]
        p = Decimal(str(self.price[0] * 0.97))
        return str(((p / tick).to_integral_value(rounding=ROUND_DOWN) * tick).quantize(tick))

    async def _worker(self, idx: int, acc: dict) -> None:
        loop = asyncio.get_running_loop()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        key, secret = acc["key"], acc["secret"]
        head = f"Host: 127.0.0.1:{self.port}\r\nX-MBX-APIKEY: {key}\r\n"
        n = 0
        next_t: float | None = None
        cid = ""
        extra = idx >= len(self.accounts)
        while True:
            rate = self.rate
            if rate <= 0 or (extra and rate != float("inf")):
                await asyncio.sleep(0.05)
                next_t = None
                continue
            if rate != float("inf"):
                if next_t is None:  # accounts staggered over one interval: orders evenly spread in time
                    next_t = loop.time() + idx / rate
                else:
                    next_t += len(self.accounts) / rate
                delay = next_t - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -1.0:
                    next_t = loop.time()  # fell behind: do not burst to catch up
            op = n % 4
            ts = int(time.time() * 1000)
            if op == 1:
                qs = signed({"symbol": SYMBOL, "origClientOrderId": cid, "recvWindow": 60000, "timestamp": ts}, secret)
                req = f"DELETE /fapi/v1/order?{qs} HTTP/1.1\r\n{head}\r\n"
            else:
                p = {"symbol": SYMBOL, "side": "SELL" if op == 3 else "BUY", "quantity": self.qty}
                if op == 0:
                    cid = f"f{idx}x{n}"
                    p.update(type="LIMIT", timeInForce="GTC", price=self._far_price(), newClientOrderId=cid)
                else:
                    p.update(type="MARKET")
                p.update(recvWindow=60000, timestamp=ts)
                body = signed(p, secret)
                req = (f"POST /fapi/v1/order HTTP/1.1\r\n{head}Content-Type: application/x-www-form-urlencoded\r\n"
                       f"Content-Length: {len(body)}\r\n\r\n{body}")
            writer.write(req.encode())
            hdr = await reader.readuntil(b"\r\n\r\n")
            status = int(hdr[9:12])
            length = 0
            for line in hdr.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body_in = await reader.readexactly(length) if length else b""
            n += 1
            if status == 200:
                self.ok += 1
            else:
                self.errors += 1
                if len(self.first_errors) < 3:
                    self.first_errors.append(f"{status} {body_in[:200].decode(errors='replace')}")


# ================================================================================================= template capture
class Sample:
    """One extra connection (account 0's streams): keeps the generator's reference bid fresh and captures one
    frame of every kind for the baseline (the exact text alfax sent, so sizes match)."""

    def __init__(self, url: str, price: list[float]) -> None:
        self.url = url
        self.price = price
        self.t: dict = {}
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        from websockets.asyncio.client import connect

        async with connect(self.url, compression=None, max_queue=None) as ws:
            async for msg in ws:
                d = orjson.loads(msg)["data"]
                e = d.get("e")
                t = self.t
                if e == "bookTicker":
                    self.price[0] = float(d["b"])
                    t.setdefault("book", msg)
                elif e == "aggTrade":
                    t.setdefault("agg", msg)
                elif e == "ORDER_TRADE_UPDATE":
                    o = d["o"]
                    if o["o"] == "LIMIT" and o["X"] == "NEW":
                        t.setdefault("limit", [msg])
                    elif o["X"] == "CANCELED":
                        t.setdefault("cancel", [msg])
                    elif o["o"] == "MARKET":
                        t.setdefault(f"m_{o['S']}_{o['X']}", msg)
                elif e == "TRADE_LITE":
                    t.setdefault(f"tl_{d['S']}", msg)
                elif e == "ACCOUNT_UPDATE":
                    side = "BUY" if "tl_SELL" not in t else "SELL"
                    t.setdefault(f"au_{side}", msg)

    def templates(self) -> dict | None:
        t = self.t
        out = {"book": t.get("book"), "agg": t.get("agg"), "limit": t.get("limit"), "cancel": t.get("cancel")}
        for side, name in (("BUY", "market_buy"), ("SELL", "market_sell")):
            fill = t.get(f"m_{side}_FILLED") or t.get(f"m_{side}_PARTIALLY_FILLED")
            out[name] = [t.get(f"m_{side}_NEW"), t.get(f"tl_{side}"), fill, t.get(f"au_{side}")]
        flat = [v for v in out.values() if not isinstance(v, list)] + [x for v in out.values() if isinstance(v, list)
                                                                       for x in v]
        return out if all(flat) else None


# ================================================================================================= client fleet
class Fleet:
    def __init__(self) -> None:
        self.procs: list[asyncio.subprocess.Process] = []

    async def start(self, tmp: Path, tag: str, port: int, paths: list[str], nprocs: int) -> tuple[int, int]:
        per = [paths[i::nprocs] for i in range(nprocs)]
        for i, ps in enumerate(per):
            spec = tmp / f"fleet-{tag}-{i}.json"
            spec.write_text(json.dumps({"host": "127.0.0.1", "port": port, "paths": ps, "concurrency": 50}))
            self.procs.append(await asyncio.create_subprocess_exec(
                sys.executable, str(CLIENT), str(spec), stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE))
        ok = bad = 0
        for p in self.procs:
            line = (await asyncio.wait_for(p.stdout.readline(), 120)).decode().split(maxsplit=3)
            if not line or line[0] != "READY":
                raise SystemExit(f"client process failed: {line}")
            ok, bad = ok + int(line[1]), bad + int(line[2])
            if int(line[2]):
                print(f"  client connect failures: {line[3:]}", flush=True)
        return ok, bad

    async def window(self, name: str, t0: float, t1: float) -> dict:
        for p in self.procs:
            p.stdin.write(f"window {name} {t0} {t1}\n".encode())
            await p.stdin.drain()
        reports = [json.loads(await asyncio.wait_for(p.stdout.readline(), t1 - time.time() + 60))
                   for p in self.procs]
        merged: dict = {"hist": collections.Counter(), "hist_u": collections.Counter(), "closes": set()}
        for r in reports:
            for k in ("book", "agg", "user", "other", "noe", "bytes", "cpu_s", "open"):
                merged[k] = merged.get(k, 0) + r[k]
            merged["max_ms"] = max(merged.get("max_ms", 0.0), r["max_ms"])
            merged["hist"].update({int(k): v for k, v in r["hist"].items()})
            merged["hist_u"].update({int(k): v for k, v in r["hist_u"].items()})
            merged["closes"].update(r["closes"])
        return merged

    async def stop(self) -> None:
        for p in self.procs:
            try:
                p.stdin.write(b"quit\n")
                await p.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass
        for p in self.procs:
            try:
                await asyncio.wait_for(p.wait(), 20)
            except asyncio.TimeoutError:
                p.kill()
                await p.wait()
        self.procs = []


def percentile(hist: collections.Counter, q: float) -> float:
    total = sum(hist.values())
    if not total:
        return float("nan")
    need = q * total
    acc = 0
    for k in sorted(hist):
        acc += hist[k]
        if acc >= need:
            return (k + 1) / BUCKET_PER_MS
    return float("nan")


async def sleep_until(t: float) -> None:
    await asyncio.sleep(max(0.0, t - time.time()))


async def measure(fleet: Fleet, name: str, pid: int, seconds: float, orders) -> dict:
    """One window: client counts + server CPU + orders acknowledged (``orders()`` -> running total)."""
    t0 = time.time() + 0.3
    t1 = t0 + seconds
    task = asyncio.create_task(fleet.window(name, t0, t1))
    await sleep_until(t0)
    (c0, k0), o0, b0, s0 = proc_cpu_s(pid), await orders(), machine_busy_s(), self_cpu_s()
    await sleep_until(t1)
    (c1, k1), o1, b1, s1 = proc_cpu_s(pid), await orders(), machine_busy_s(), self_cpu_s()
    m = await task
    others = max(0.0, (b1 - b0) - (c1 - c0) - m["cpu_s"] - (s1 - s0))
    events = m["book"] + m["agg"] + m["user"]
    hm, hu = m["hist"], m["hist_u"]
    h = hm + hu
    return {"name": name, "seconds": seconds, "events": events, "eps": events / seconds,
            "book": m["book"] / seconds, "agg": m["agg"] / seconds, "user": m["user"] / seconds,
            "other": m["other"], "mbps": m["bytes"] / seconds / 1e6,
            "p50": percentile(h, 0.50), "p99": percentile(h, 0.99), "p999": percentile(h, 0.999),
            "max": m["max_ms"], "p99_market": percentile(hm, 0.99), "p99_user": percentile(hu, 0.99),
            "p50_market": percentile(hm, 0.5), "p50_user": percentile(hu, 0.5), "cpu_pct": 100 * (c1 - c0) / seconds,
            "cpu_per_1k_ms": 1e6 * (c1 - c0) / events if events else float("nan"),
            "orders_ps": (o1 - o0) / seconds, "clients_cpu_pct": 100 * m["cpu_s"] / seconds,
            "open": m["open"], "closes": sorted(m["closes"]), "others_pct": 100 * others / seconds,
            "gen_cpu_pct": 100 * (s1 - s0) / seconds, "sys_share": (k1 - k0) / (c1 - c0) if c1 > c0 else 0.0}


class Profiler:
    def __init__(self, outdir: Path | None) -> None:
        self.outdir = outdir
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, pid: int, name: str, seconds: float) -> None:
        if self.outdir is None:
            return
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        out = self.outdir / f"{name}.txt"
        p = subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200",
                              "--format", "raw", "--output", str(out), "--nonblocking"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append((name, p))

    def report(self) -> None:
        for name, p in self.procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
            path = self.outdir / f"{name}.txt"
            if path.exists():
                summarize_profile(name, path)


def summarize_profile(name: str, path: Path, top: int = 25) -> None:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks (all threads, active only)."""
    self_c: collections.Counter = collections.Counter()
    incl: collections.Counter = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = []
        for f in stack.split(";"):
            fn, _, loc = f.partition(" (")
            frames.append(f"{fn} ({loc.split(':')[0]})" if loc else fn)
        total += n
        self_c[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    if not total:
        print(f"\npy-spy {name}: no samples")
        return
    print(f"\npy-spy {name}: {total} samples (active, all threads); top self time:")
    for f, c in self_c.most_common(top):
        print(f"  {100 * c / total:5.1f}%  {f}")
    print(f"py-spy {name}: top inclusive time:")
    for f, c in incl.most_common(top + 15):
        print(f"  {100 * c / total:5.1f}%  {f}")


# ================================================================================================= the run
async def run_alfax(args, tmp: Path, prof: Profiler) -> tuple[list[dict], dict | None]:
    t_start = time.time()
    srv = AlfaxProcess(tmp, args.speed, cpu=0 if args.pin else None)
    fleet = Fleet()
    gen = None
    sample = None
    try:
        accounts = srv.create_accounts(args.accounts)
        rules = srv.rules()
        price = [srv.book()[0]]
        print(f"alfax up on :{srv.port} (pid {srv.pid}) in {time.time() - t_start:.1f} s; "
              f"{args.accounts} accounts with listen keys", flush=True)
        paths = [f"/stream?streams={STREAMS}/{accounts[i % args.accounts]['listenKey']}" for i in range(args.clients)]
        t = time.time()
        ok, bad = await fleet.start(tmp, "alfax", srv.port, paths, args.procs)
        print(f"alfax: {ok} clients connected ({bad} failed) in {time.time() - t:.1f} s", flush=True)
        sample = Sample(f"ws://127.0.0.1:{srv.port}{paths[0]}", price)
        sample.start()
        gen = OrderGen(srv.port, accounts, rules, price)
        gen.start(args.max_inflight)

        async def orders() -> int:
            return gen.ok

        results = []
        for phase, rate in (("steady", float(args.orders_per_s)), ("max", float("inf"))):
            gen.rate = rate
            await asyncio.sleep(args.warmup)
            prof.start(srv.pid, f"alfax-{phase}", args.seconds)
            r = await measure(fleet, phase, srv.pid, args.seconds, orders)
            r["errors"] = gen.errors
            results.append(r)
            print(f"  alfax {phase}: {r['eps']:,.0f} events/s, p99 {r['p99']:.1f} ms, "
                  f"{r['orders_ps']:,.0f} orders/s, server CPU {r['cpu_pct']:.0f} %", flush=True)
        gen.rate = 0
        if gen.errors:
            print(f"  order errors: {gen.errors}, e.g. {gen.first_errors}", flush=True)
        return results, sample.templates()
    finally:
        if gen is not None:
            await gen.stop()
        if sample is not None and sample.task is not None:
            sample.task.cancel()
            await asyncio.gather(sample.task, return_exceptions=True)
        await fleet.stop()
        srv.stop()


async def run_baseline(args, tmp: Path, templates: dict, steady: dict) -> list[dict]:
    tpl_path = tmp / "templates.json"
    tpl_path.write_text(json.dumps(templates))
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(BASELINE), str(port), str(tpl_path), stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, preexec_fn=pin(0 if args.pin else None))
    fleet = Fleet()
    lock = asyncio.Lock()

    async def control(line: str) -> int:
        async with lock:
            proc.stdin.write(line.encode() + b"\n")
            await proc.stdin.drain()
            return int((await proc.stdout.readline()).split()[1])

    try:
        if (await asyncio.wait_for(proc.stdout.readline(), 30)).strip() != b"READY":
            raise SystemExit("baseline server did not start")
        paths = [f"/g/{i % args.accounts}" for i in range(args.clients)]
        ok, bad = await fleet.start(tmp, "base", port, paths, args.procs)
        print(f"baseline: {ok} clients connected ({bad} failed)", flush=True)
        # the market rates alfax delivered per connection, so the baseline's load has the same shape
        book_ps, agg_ps = steady["book"] / args.clients, steady["agg"] / args.clients
        results = []
        for phase, rate in (("steady", str(args.orders_per_s)), ("max", "max")):
            await control(f"phase {rate} {book_ps:.3f} {agg_ps:.3f}")
            await asyncio.sleep(args.warmup)
            r = await measure(fleet, phase, proc.pid, args.seconds, lambda: control("count"))
            r["errors"] = 0
            results.append(r)
            print(f"  baseline {phase}: {r['eps']:,.0f} events/s, p99 {r['p99']:.1f} ms, "
                  f"{r['orders_ps']:,.0f} orders/s, server CPU {r['cpu_pct']:.0f} %", flush=True)
        await control("idle")
        return results
    finally:
        await fleet.stop()
        try:
            proc.stdin.write(b"quit\n")
            await proc.stdin.drain()
            await asyncio.wait_for(proc.wait(), 10)
        except Exception:  # noqa: BLE001
            proc.kill()
            await proc.wait()


def print_table(args, alfax: list[dict], base: list[dict]) -> None:
    print()
    print(f"fan-out: {args.clients} WebSocket clients ({args.procs} processes) on loopback, each on "
          f"btcusdt@bookTicker + btcusdt@aggTrade + user data ({args.accounts} accounts, "
          f"{args.clients // args.accounts} connections per listen key); {args.seconds:g} s windows; "
          f"server {'pinned to CPU 0, clients + order generator on CPU 1' if args.pin else 'not pinned'}")
    print(f"steady = {args.orders_per_s} orders/s (per account: LIMIT, CANCEL, MARKET BUY, MARKET SELL); "
          f"max = {args.max_inflight} closed order loops per account (saturation: delays there are queueing)")
    rows = []
    for i in range(2):
        rows += [("alfax", alfax[i])] + ([("raw websockets", base[i])] if i < len(base) else [])
    hdr = (f"{'server':<15}{'load':<7}{'events/s':>9}{'book/s':>7}{'agg/s':>7}{'user/s':>8}{'MB/s':>6}"
           f"{'p50':>6}{'p99':>7}{'p99.9':>7}{'max':>6}{'p99 mkt':>8}{'p99 usr':>8}"
           f"{'srv CPU':>8}{'sys':>5}{'ms/1k ev':>9}{'ev/s/core':>10}{'orders/s':>9}{'clients':>8}{'others':>7}")
    print(hdr)
    print("-" * len(hdr))
    for name, r in rows:
        per_core = r["eps"] / (r["cpu_pct"] / 100) if r["cpu_pct"] else float("nan")
        print(f"{name:<15}{r['name']:<7}{r['eps']:>9,.0f}{r['book']:>7,.0f}{r['agg']:>7,.0f}{r['user']:>8,.0f}"
              f"{r['mbps']:>6.1f}{r['p50']:>6.1f}{r['p99']:>7.1f}{r['p999']:>7.1f}{r['max']:>6.0f}"
              f"{r['p99_market']:>8.1f}{r['p99_user']:>8.1f}{r['cpu_pct']:>7.0f}%{100 * r['sys_share']:>4.0f}%"
              f"{r['cpu_per_1k_ms']:>9.1f}{per_core:>10,.0f}{r['orders_ps']:>9,.0f}{r['clients_cpu_pct']:>7.0f}%"
              f"{r['others_pct']:>6.0f}%")
    print("delays in ms (receive wall time - E); srv CPU = server process utime+stime (sys = stime share); "
          "ev/s/core = events/s per server CPU-second;\nclients = the client fleet's CPU; others = the rest of "
          "the machine (other processes; high values mean a noisy run)")
    for name, r in rows:
        if r["closes"] or r["other"] or r.get("errors") or r["open"] != args.clients:
            print(f"  note {name} {r['name']}: open at end {r['open']}, closes {r['closes']}, other frames "
                  f"{r['other']}, order errors {r.get('errors')}")
    if len(base) == 2:
        rs = alfax[0]["eps"] / base[0]["eps"]
        rm = alfax[1]["eps"] / base[1]["eps"]
        cs = alfax[0]["cpu_per_1k_ms"] / base[0]["cpu_per_1k_ms"]
        cm = alfax[1]["cpu_per_1k_ms"] / base[1]["cpu_per_1k_ms"]
        print(f"alfax / baseline delivered events/s: max {rm:.2f}x (steady, same offered load: {rs:.2f}x)   "
              f"target >= {TARGET_RATIO}x: {'MET' if rm >= TARGET_RATIO else 'MISSED'}")
        print(f"alfax / baseline events/s per server CPU-second: max {1 / cm:.2f}x, steady {1 / cs:.2f}x "
              f"(server CPU per 1,000 events: {cm:.2f}x, {cs:.2f}x)")
    p99 = alfax[0]["p99"]
    print(f"alfax p99 delay engine event -> client at {args.orders_per_s} orders/s: {p99:.1f} ms   "
          f"target <= {TARGET_P99_MS:g} ms: {'MET' if p99 <= TARGET_P99_MS else 'MISSED'}")


async def main_async(args) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="alfax-fanout-"))
    prof = Profiler(Path(args.profile) if args.profile else None)
    if prof.outdir:
        prof.outdir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    try:
        alfax, templates = await run_alfax(args, tmp, prof)
        base: list[dict] = []
        if args.no_baseline:
            pass
        elif templates is None:
            print("could not capture alfax frames for the baseline (no user events seen?)", flush=True)
        else:
            base = await run_baseline(args, tmp, templates, alfax[0])
        print_table(args, alfax, base)
        print(f"total bench time {time.time() - t0:.0f} s")
        prof.report()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--procs", type=int, default=4, help="client processes (default 4)")
    ap.add_argument("--accounts", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=10.0, help="measured window per phase (default 10)")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--orders-per-s", type=int, default=100, help="steady phase order rate over all accounts")
    ap.add_argument("--max-inflight", type=int, default=2, help="max phase: concurrent order loops per account")
    ap.add_argument("--speed", type=float, default=1.0, help="alfax --speed (the feed's frame rate does not depend "
                                                             "on it: one book update per symbol per 250 ms)")
    ap.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin server / clients to CPUs")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--profile", metavar="DIR", help="py-spy alfax during its windows (raw stacks in DIR)")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.clients * 2 + 1024)), hard))
    if args.pin and (os.cpu_count() or 1) < 2:
        args.pin = False
    if args.pin:
        os.sched_setaffinity(0, {1})  # this process (order generator) and the client fleet
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(main_async(args))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
