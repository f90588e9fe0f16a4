"""Helpers for scripts/ci_freqtrade.sh: free port, wait for the venue, write the Freqtrade config, verify.

    python ft_runner.py free-port
    python ft_runner.py wait --url URL [--timeout 90]
    python ft_runner.py write-config --url URL --key K --secret S --workdir DIR --out FILE
    python ft_runner.py verify --url URL --key K --secret S [--since MS]

``verify`` checks, through the signed REST API, that Freqtrade really traded on the account:
a BUY-opened and a SELL-opened position history (userTrades on BTCUSDT and ETHUSDT, with the closing
trades carrying realizedPnl), at least one cancelled LIMIT order (allOrders) and at least one algo (stop)
order (allAlgoOrders). Exit 0 when all hold, 1 otherwise; prints a summary either way.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import socket
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import httpx

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Signed:
    def __init__(self, url: str, key: str, secret: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=15, trust_env=False)
        self.key, self.secret = key, secret

    def request(self, method: str, path: str, **params):
        params["timestamp"] = int(time.time() * 1000)
        params["recvWindow"] = 10000
        q = urlencode(params)
        sig = hmac.new(self.secret.encode(), q.encode(), hashlib.sha256).hexdigest()
        r = self.http.request(method, f"{path}?{q}&signature={sig}", headers={"X-MBX-APIKEY": self.key})
        if r.status_code != 200:
            raise RuntimeError(f"{method} {path} {params} -> HTTP {r.status_code} {r.text[:300]}")
        return r.json()

    def get(self, path: str, **params):
        return self.request("GET", path, **params)

    def post(self, path: str, **params):
        return self.request("POST", path, **params)

    def delete(self, path: str, **params):
        return self.request("DELETE", path, **params)


def cmd_wait(args) -> int:
    deadline = time.monotonic() + args.timeout
    last = ""
    with httpx.Client(base_url=args.url, timeout=3, trust_env=False) as c:
        while time.monotonic() < deadline:
            try:
                if c.get("/health").status_code == 200:
                    ok = True
                    for s in ("BTCUSDT", "ETHUSDT"):
                        d = c.get("/fapi/v1/depth", params={"symbol": s, "limit": 5})
                        if d.status_code != 200 or not d.json().get("bids"):
                            ok, last = False, f"{s} depth: {d.status_code} {d.text[:200]}"
                    if ok:
                        print(f"venue ready at {args.url}")
                        return 0
            except httpx.HTTPError as e:
                last = repr(e)
            time.sleep(0.5)
    print(f"venue not ready after {args.timeout}s: {last}", file=sys.stderr)
    return 1


def cmd_write_config(args) -> int:
    text = (HERE / "config.template.json").read_text()
    base = args.url.rstrip("/")
    text = (text.replace("__BASE__", base).replace("__API_KEY__", args.key)
            .replace("__API_SECRET__", args.secret).replace("__WORKDIR__", str(Path(args.workdir).resolve())))
    cfg = json.loads(text)  # must stay valid JSON
    if args.no_exchange_stoploss:  # diagnostic mode: isolates stop-loss (algo order) problems from the rest
        cfg["order_types"]["stoploss_on_exchange"] = False
        text = json.dumps(cfg, indent=2)
    Path(args.out).write_text(text)
    print(f"wrote {args.out}")
    return 0


def cmd_seed_orders(args) -> int:
    """Diagnostic: advance the venue's orderId counter (place + cancel far limits on a throwaway account)."""
    api = Signed(args.url, args.key, args.secret)
    book = api.http.get("/fapi/v1/depth", params={"symbol": "BTCUSDT", "limit": 5}).json()
    info = api.http.get("/fapi/v1/exchangeInfo").json()
    f = {x["filterType"]: x for x in [s for s in info["symbols"] if s["symbol"] == "BTCUSDT"][0]["filters"]}
    tick = Decimal(f["PRICE_FILTER"]["tickSize"])
    px = (Decimal(book["bids"][0][0]) * Decimal("0.97") / tick).to_integral_value() * tick
    qty = (Decimal(20) / px).quantize(Decimal(f["LOT_SIZE"]["stepSize"]), rounding="ROUND_UP")
    for i in range(args.n):
        api.post("/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                 quantity=str(qty), price=str(px.normalize()))
        if i % 100 == 99:
            api.delete("/fapi/v1/allOpenOrders", symbol="BTCUSDT")
        time.sleep(0.04)
    api.delete("/fapi/v1/allOpenOrders", symbol="BTCUSDT")
    print(f"seeded {args.n} orders")
    return 0


def _all_pages(api: Signed, path: str, symbol: str, since: int) -> list[dict]:
    params = {"symbol": symbol, "limit": 1000}
    if since:
        params["startTime"] = since
    return api.get(path, **params)


def _position_history(trades: list[dict]) -> list[dict]:
    """Group a symbol's fills into position lifecycles: opened by side X, closed when net returns to 0."""
    hist: list[dict] = []
    net = Decimal(0)
    cur = None
    for t in sorted(trades, key=lambda t: (t["time"], t["id"])):
        q = Decimal(t["qty"]) * (1 if t["side"] == "BUY" else -1)
        if net == 0:
            cur = {"openSide": t["side"], "openTime": t["time"], "fills": 0, "realizedPnl": Decimal(0),
                   "closed": False, "closeFills": 0}
            hist.append(cur)
        net += q
        cur["fills"] += 1
        rp = Decimal(t.get("realizedPnl", "0"))
        cur["realizedPnl"] += rp
        if t["side"] != cur["openSide"]:
            cur["closeFills"] += 1
        if net == 0:
            cur["closed"] = True
    return hist


def cmd_verify(args) -> int:
    api = Signed(args.url, args.key, args.secret)
    problems: list[str] = []
    summary: dict = {}
    for sym, want_side in (("BTCUSDT", "BUY"), ("ETHUSDT", "SELL")):
        trades = _all_pages(api, "/fapi/v1/userTrades", sym, args.since)
        orders = _all_pages(api, "/fapi/v1/allOrders", sym, args.since)
        hist = _position_history(trades)
        summary[sym] = {
            "trades": len(trades),
            "orders": len(orders),
            "orders_by_type_status": _count((o["type"], o["status"]) for o in orders),
            "positions": [{"openSide": h["openSide"], "closed": h["closed"], "fills": h["fills"],
                           "realizedPnl": str(h["realizedPnl"].normalize())} for h in hist],
            "closing_trades_with_realizedPnl": sum(1 for t in trades if Decimal(t.get("realizedPnl", "0")) != 0),
        }
        opened = [h for h in hist if h["openSide"] == want_side]
        if not opened:
            problems.append(f"{sym}: no position opened by a {want_side} (trades: {len(trades)})")
        elif not any(h["closed"] and h["closeFills"] for h in opened):
            problems.append(f"{sym}: no {want_side}-opened position was closed")
        closes = [t for t in trades if "realizedPnl" in t]
        if not closes:
            problems.append(f"{sym}: userTrades carry no realizedPnl field")
        summary[sym]["_orders"] = orders
    cancelled_limits = [o for s in summary.values() for o in s["_orders"]
                        if o["type"] == "LIMIT" and o["status"] == "CANCELED"]
    if not cancelled_limits:
        problems.append("no cancelled LIMIT order (the far entry should have timed out and been cancelled)")
    algos = []
    for sym in ("BTCUSDT", "ETHUSDT"):
        try:
            algos += api.get("/fapi/v1/allAlgoOrders", symbol=sym)
        except RuntimeError as e:
            problems.append(f"allAlgoOrders {sym}: {e}")
    if not algos and not args.no_algo:
        problems.append("no algo (stop-loss) order in allAlgoOrders")
    income = api.get("/fapi/v1/income", limit=1000)
    for s in summary.values():
        s.pop("_orders", None)
    summary["cancelled_limit_orders"] = len(cancelled_limits)
    summary["algo_orders"] = _count((a.get("orderType"), a.get("algoStatus")) for a in algos)
    summary["income_by_type"] = _count(i["incomeType"] for i in income)
    acct = api.get("/fapi/v3/account")
    summary["wallet"] = acct.get("totalWalletBalance")
    print(json.dumps(summary, indent=2, default=str))
    if problems:
        print("FREQTRADE CHECK FAILED:\n  - " + "\n  - ".join(problems))
        return 1
    print("FREQTRADE CHECK PASSED")
    return 0


def _count(items) -> dict:
    out: dict = {}
    for it in items:
        k = "/".join(map(str, it)) if isinstance(it, tuple) else str(it)
        out[k] = out.get(k, 0) + 1
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("free-port").set_defaults(func=lambda a: print(free_port()) or 0)
    w = sub.add_parser("wait")
    w.add_argument("--url", required=True)
    w.add_argument("--timeout", type=float, default=90)
    w.set_defaults(func=cmd_wait)
    c = sub.add_parser("write-config")
    for k in ("--url", "--key", "--secret", "--workdir", "--out"):
        c.add_argument(k, required=True)
    c.add_argument("--no-exchange-stoploss", action="store_true")
    c.set_defaults(func=cmd_write_config)
    so = sub.add_parser("seed-orders")
    for k in ("--url", "--key", "--secret"):
        so.add_argument(k, required=True)
    so.add_argument("--n", type=int, default=100)
    so.set_defaults(func=cmd_seed_orders)
    v = sub.add_parser("verify")
    for k in ("--url", "--key", "--secret"):
        v.add_argument(k, required=True)
    v.add_argument("--since", type=int, default=0)
    v.add_argument("--no-algo", action="store_true", help="do not require algo orders (diagnostic runs)")
    v.set_defaults(func=cmd_verify)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
