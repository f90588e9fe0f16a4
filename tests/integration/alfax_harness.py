"""Real-process harness for the integration suites: start/kill ``alfax serve``, sign requests, market helpers.

Loopback only. Used by tests/integration, tests/cli and tests/freqtrade (importable without pytest).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON = os.environ.get("ALFAX_PYTHON", sys.executable)
BANNER_KEY_RE = re.compile(r"^  API key:    (\S+)\s*$", re.M)
BANNER_SECRET_RE = re.compile(r"^  API secret: (\S+)\s*$", re.M)
BANNER_FIRST_RE = re.compile(r"^alfax serving on (http://\S+)\s*$", re.M)

SYMBOLS = ("BTCUSDT", "ETHUSDT")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def now_ms() -> int:
    return int(time.time() * 1000)


def sign(secret: str, params: dict[str, Any] | list[tuple[str, Any]]) -> str:
    items = params.items() if isinstance(params, dict) else params
    query = urlencode([(k, _wire(v)) for k, v in items if v is not None])
    sig = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={sig}" if query else f"signature={sig}"


def _wire(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, dict)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


class Rest:
    """Minimal Binance-style REST client (httpx, sync) used to check raw wire behaviour."""

    def __init__(self, base_url: str, api_key: str | None = None, secret: str | None = None,
                 timeout: float = 15.0, local_address: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.secret = secret
        transport = httpx.HTTPTransport(local_address=local_address) if local_address else None
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout, trust_env=False, transport=transport)

    def close(self) -> None:
        self.http.close()

    def public(self, method: str, path: str, params: dict | None = None, headers: dict | None = None) -> httpx.Response:
        q = urlencode([(k, _wire(v)) for k, v in (params or {}).items() if v is not None])
        url = f"{path}?{q}" if q else path
        return self.http.request(method, url, headers=headers or {})

    def signed(self, method: str, path: str, params: dict | None = None, *, in_body: bool | None = None,
               api_key: str | None = None, secret: str | None = None, headers: dict | None = None,
               recv_window: int | None = 10000, timestamp: int | None = None) -> httpx.Response:
        p = dict(params or {})
        if recv_window is not None:
            p.setdefault("recvWindow", recv_window)
        p["timestamp"] = timestamp if timestamp is not None else now_ms()
        payload = sign(secret or self.secret or "", p)
        h = {"X-MBX-APIKEY": api_key or self.api_key or ""}
        h.update(headers or {})
        if in_body is None:
            in_body = method in ("POST", "PUT")
        if in_body:
            h.setdefault("Content-Type", "application/x-www-form-urlencoded")
            return self.http.request(method, path, content=payload.encode(), headers=h)
        return self.http.request(method, f"{path}?{payload}", headers=h)

    def ok(self, method: str, path: str, params: dict | None = None, **kw) -> Any:
        r = self.signed(method, path, params, **kw)
        assert r.status_code == 200, f"{method} {path} {params} -> HTTP {r.status_code} {r.text}"
        return r.json()

    def get_public(self, path: str, **params) -> Any:
        r = self.public("GET", path, params)
        assert r.status_code == 200, f"GET {path} {params} -> HTTP {r.status_code} {r.text}"
        return r.json()


# ----------------------------------------------------------------------------------------------------------------
# market helpers


@dataclass
class SymbolRules:
    symbol: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal
    price_precision: int
    quantity_precision: int
    mult_up: Decimal
    mult_down: Decimal

    def round_price(self, p: float | Decimal, up: bool = False) -> Decimal:
        q = (Decimal(str(p)) / self.tick).to_integral_value(rounding=ROUND_UP if up else ROUND_DOWN)
        return (q * self.tick).quantize(self.tick)

    def qty_for_notional(self, price: float | Decimal, notional: float = 12.0) -> Decimal:
        raw = Decimal(str(notional)) / Decimal(str(price))
        q = (raw / self.step).to_integral_value(rounding=ROUND_UP) * self.step
        return max(q, self.min_qty).quantize(self.step)


def symbol_rules(rest: Rest) -> dict[str, SymbolRules]:
    info = rest.get_public("/fapi/v1/exchangeInfo")
    out = {}
    for s in info["symbols"]:
        f = {x["filterType"]: x for x in s["filters"]}
        out[s["symbol"]] = SymbolRules(
            symbol=s["symbol"],
            tick=Decimal(f["PRICE_FILTER"]["tickSize"]).normalize(),
            step=Decimal(f["LOT_SIZE"]["stepSize"]).normalize(),
            min_qty=Decimal(f["LOT_SIZE"]["minQty"]),
            min_notional=Decimal(str(f["MIN_NOTIONAL"].get("notional", f["MIN_NOTIONAL"].get("minNotional")))),
            price_precision=int(s["pricePrecision"]),
            quantity_precision=int(s["quantityPrecision"]),
            mult_up=Decimal(f["PERCENT_PRICE"]["multiplierUp"]),
            mult_down=Decimal(f["PERCENT_PRICE"]["multiplierDown"]),
        )
    return out


def mark_price(rest: Rest, symbol: str) -> Decimal:
    return Decimal(rest.get_public("/fapi/v1/premiumIndex", symbol=symbol)["markPrice"])


def best_bid_ask(rest: Rest, symbol: str) -> tuple[Decimal, Decimal]:
    d = rest.get_public("/fapi/v1/depth", symbol=symbol, limit=5)
    return Decimal(d["bids"][0][0]), Decimal(d["asks"][0][0])


def wait_for_market(base_url: str, symbols=SYMBOLS, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = None
    with httpx.Client(base_url=base_url, timeout=5, trust_env=False) as c:
        while time.monotonic() < deadline:
            ready = True
            for s in symbols:
                try:
                    r = c.get("/fapi/v1/depth", params={"symbol": s, "limit": 5})
                    d = r.json() if r.status_code == 200 else {}
                    if not (d.get("bids") and d.get("asks")):
                        ready = False
                        last = f"{s}: HTTP {r.status_code} {r.text[:200]}"
                    pi = c.get("/fapi/v1/premiumIndex", params={"symbol": s})
                    if pi.status_code != 200 or not float(pi.json().get("markPrice") or 0) > 0:
                        ready = False
                        last = f"{s} premiumIndex: HTTP {pi.status_code} {pi.text[:200]}"
                except httpx.HTTPError as e:
                    ready = False
                    last = repr(e)
            if ready:
                return
            time.sleep(0.5)
    raise TimeoutError(f"no market data after {timeout}s: {last}")


# ----------------------------------------------------------------------------------------------------------------
# server process


@dataclass
class Account:
    account_id: int
    api_key: str
    secret: str


@dataclass
class AlfaxServer:
    db_path: Path
    port: int = 0
    speed: float = 1.0
    host: str = "127.0.0.1"
    extra_args: tuple[str, ...] = ()
    log_path: Path | None = None
    proc: subprocess.Popen | None = None
    api_key: str = ""
    secret: str = ""
    banner: str = ""
    starts: int = 0
    _log_fh: Any = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 90.0) -> "AlfaxServer":
        if not self.port:
            self.port = free_port()
        self.starts += 1
        self.log_path = Path(f"{self.db_path}.server{self.starts}.log")
        self._log_fh = open(self.log_path, "wb")
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        env.pop("HTTP_PROXY", None)
        env.pop("HTTPS_PROXY", None)
        cmd = [PYTHON, "-m", "alfax.cli.main", "serve", "--host", self.host, "--port", str(self.port),
               "--db", str(self.db_path), "--speed", str(self.speed), *self.extra_args]
        self.proc = subprocess.Popen(cmd, stdout=self._log_fh, stderr=subprocess.STDOUT, env=env,
                                     cwd=str(self.db_path.parent), start_new_session=True)
        self._wait_ready(timeout)
        return self

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        first = self.starts == 1 and not self.api_key
        with httpx.Client(timeout=2, trust_env=False) as c:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"alfax serve exited with {self.proc.returncode}:\n{self.log_text()[-4000:]}")
                healthy = False
                try:
                    healthy = c.get(self.base_url + "/health").status_code == 200
                except httpx.HTTPError:
                    pass
                if healthy:
                    text = self.log_text()
                    if not first:
                        return
                    k, s = BANNER_KEY_RE.search(text), BANNER_SECRET_RE.search(text)
                    if k and s:
                        self.banner = text
                        self.api_key, self.secret = k.group(1), s.group(1)
                        return
                time.sleep(0.2)
        raise TimeoutError(f"alfax serve not ready after {timeout}s:\n{self.log_text()[-4000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self._log_fh:
            self._log_fh.close()
            self._log_fh = None

    def stop(self) -> None:
        self.kill(signal.SIGINT)

    # -------------------------------------------------------------- CLI helpers
    def cli(self, *args: str, timeout: float = 30.0, with_server: bool = True) -> subprocess.CompletedProcess:
        cmd = [PYTHON, "-m", "alfax.cli.main", *args]
        if with_server:
            cmd += ["--url", self.base_url, "--db", str(self.db_path)]
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)

    def create_account(self, balance: str | float = "10000", alias: str | None = None) -> Account:
        args = ["accounts", "create", "--balance", str(balance), "--json"]
        if alias:
            args += ["--alias", alias]
        res = self.cli(*args)
        if res.returncode != 0:
            raise RuntimeError(f"alfax accounts create failed ({res.returncode}): {res.stdout}{res.stderr}")
        data = json.loads(res.stdout)
        return Account(int(data["accountId"]), data["apiKey"], data["secretKey"])

    def rest(self, account: Account | None = None, **kw) -> Rest:
        if account is None:
            return Rest(self.base_url, self.api_key, self.secret, **kw)
        return Rest(self.base_url, account.api_key, account.secret, **kw)


def ceil_to(x: float, step: float) -> float:
    return math.ceil(x / step) * step
