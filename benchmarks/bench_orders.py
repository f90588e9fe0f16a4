"""Order-placement benchmark: signed LIMIT and MARKET orders over loopback, side by side with GET /health.

What it does (one run, same server, persistence on):
1. starts ``alfax serve`` on a temporary database (journal in SQLite WAL, ACK after COMMIT);
2. creates enough accounts through the operator API that per-account order limits never bind;
3. pre-signs the requests (70 % LIMIT GTC resting away from the touch, 30 % MARKET, alternating sides);
4. runs wrk with 64 connections against GET /health, then against POST /fapi/v1/order, and prints
   requests/s, p50 and p99 for both, and the ratio.

Needs wrk (Debian: ``apt-get install wrk``). Usage: ``python benchmarks/bench_orders.py [--seconds 10]``.
Pinning: the server runs on CPU 0 and wrk on CPU 1 when ``taskset`` exists (2-core machine).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import httpx

LUA = r"""
local reqs = {}
local n = 0
local i = 0
init = function(args)
  for line in io.lines(args[1]) do
    local m, p, b, k = line:match("([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)")
    n = n + 1
    reqs[n] = wrk.format(m, p, {["X-MBX-APIKEY"] = k, ["Content-Type"] = "application/x-www-form-urlencoded"}, b)
  end
  i = math.random(n)
end
request = function()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def signed(params: dict, secret: str) -> str:
    qs = urllib.parse.urlencode(params)
    sig = hmac.new(secret.encode(), qs.encode(), hashlib.sha256).hexdigest()
    return f"{qs}&signature={sig}"


class Operator:
    def __init__(self, base: str, creds: dict) -> None:
        self.base, self.key, self.secret = base, creds["apiKey"], creds["secretKey"]
        self.http = httpx.Client(timeout=30)

    def call(self, method: str, path: str, **params) -> dict:
        params["timestamp"] = int(time.time() * 1000)
        body = signed(params, self.secret)
        r = self.http.request(method, self.base + path, content=body,
                              headers={"X-MBX-APIKEY": self.key, "Content-Type": "application/x-www-form-urlencoded"})
        r.raise_for_status()
        return r.json()


def start_server(port: int, db: str, cpu: str | None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "alfax.cli.main", "serve", "--port", str(port), "--db", db]
    if cpu and shutil.which("taskset"):
        cmd = ["taskset", "-c", cpu] + cmd
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start:\n" + (proc.stdout.read() if proc.stdout else ""))


def wrk(url: str, seconds: int, conns: int, script: str | None, reqfile: str | None, cpu: str | None) -> dict:
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency"]
    if script:
        cmd += ["-s", script]
    cmd += [url]
    if reqfile:
        cmd += ["--", reqfile]
    if cpu and shutil.which("taskset"):
        cmd = ["taskset", "-c", cpu] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    return parse_wrk(out)


def parse_wrk(out: str) -> dict:
    def ms(v: str) -> float:
        m = re.match(r"([\d.]+)(us|ms|s)", v)
        x, unit = float(m.group(1)), m.group(2)
        return x / 1000 if unit == "us" else x * 1000 if unit == "s" else x

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "non2xx": int(bad.group(1)) if bad else 0, "requests": total}


def make_requests(path: Path, accounts: list[tuple[str, str]], mid: dict[str, tuple[int, int]], count: int) -> None:
    rng = random.Random(1)
    now = int(time.time() * 1000)
    with path.open("w") as f:
        for i in range(count):
            key, secret = accounts[i % len(accounts)]
            sym = "BTCUSDT" if i % 3 else "ETHUSDT"
            bid, ask = mid[sym]
            side = "BUY" if (i // len(accounts)) % 2 == 0 else "SELL"
            params = {"symbol": sym, "side": side, "quantity": "0.001" if sym == "BTCUSDT" else "0.010"}
            if rng.random() < 0.7:
                # resting: 1-3 % away from the touch on the passive side
                off = 1 - rng.uniform(0.01, 0.03) if side == "BUY" else 1 + rng.uniform(0.01, 0.03)
                px = (bid if side == "BUY" else ask) * off
                params.update(type="LIMIT", timeInForce="GTC", price=f"{px:.1f}" if sym == "BTCUSDT" else f"{px:.2f}")
            else:
                params.update(type="MARKET")
            params.update(recvWindow=60000, timestamp=now)
            f.write(f"POST\t/fapi/v1/order\t{signed(params, secret)}\t{key}\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--accounts", type=int, default=400)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="alfax-bench-"))
    port = free_port()
    db = str(tmp / "bench.db")
    server = start_server(port, db, cpu="0")
    base = f"http://127.0.0.1:{port}"
    try:
        op = Operator(base, json.loads(Path(db + ".operator.json").read_text()))
        accounts = []
        for _ in range(args.accounts):
            acc = op.call("POST", "/alfax/admin/accounts", alias="bench", balance="1000000")
            accounts.append((acc["apiKey"], acc["secretKey"]))
        mid = {}
        for sym in ("BTCUSDT", "ETHUSDT"):
            t = httpx.get(f"{base}/fapi/v1/ticker/bookTicker", params={"symbol": sym}).json()
            mid[sym] = (float(t["bidPrice"]), float(t["askPrice"]))
        script = tmp / "orders.lua"
        script.write_text(LUA)
        health = wrk(f"{base}/health", args.seconds, args.conns, None, None, cpu="1")
        reqfile = tmp / "orders.tsv"
        make_requests(reqfile, accounts, mid, count=int(args.seconds * 9000))
        orders = wrk(base, args.seconds, args.conns, str(script), str(reqfile), cpu="1")
        ratio = orders["rps"] / health["rps"]
        print(f"connections: {args.conns}, accounts: {args.accounts}, duration: {args.seconds}s each, persistence: SQLite WAL, ACK after COMMIT")
        print(f"{'endpoint':<26}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
        for name, r in (("GET /health", health), ("POST /fapi/v1/order", orders)):
            print(f"{name:<26}{r['rps']:>10.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}{r['non2xx']:>10}")
        print(f"orders / health ratio: {ratio:.2f}  (targets: >= 0.6x, >= 3000 orders/s, p99 <= 25 ms)")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
