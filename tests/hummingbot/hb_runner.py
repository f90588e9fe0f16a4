"""Hummingbot ``binance_perpetual`` end-to-end check against a real ``alfax serve`` (loopback only).

Runs under the alfax venv (Python 3.11, alfax + httpx + websockets); drives a separate Hummingbot venv
(Python 3.12, ``--hb-python``). Used by ``scripts/ci_hummingbot.sh``.

    python tests/hummingbot/hb_runner.py run --hb-python /path/hbvenv/bin/python [--phases connector,cli]
    python tests/hummingbot/hb_runner.py probe [--url URL]      # REST + WebSocket preflight only

``run``:
1. starts ``alfax serve`` on a free loopback port with a fresh temp database (``--speed 1``);
2. preflight: the REST calls and the three WebSockets Hummingbot needs, checked with plain clients, so a
   venue gap is reported as "what was sent / what came back" before Hummingbot even starts;
3. phase ``connector``: a fresh account (``alfax accounts create``), then ``hb_connector_check.py`` in the
   Hummingbot venv: the unmodified connector reaches ready, MARKET open, reduce-only MARKET close, far LIMIT
   placed and cancelled, each confirmed by the connector's own events;
4. phase ``cli``: another fresh account, keys stored with ``hbot connect binance_perpetual --keys-stdin``, then
   ``hbot start conf_alfax_hb_check.yml --foreground`` runs the V2 script ``alfax_hb_check.py`` headless
   until it reports its cycle done; SIGTERM = graceful stop;
5. verifies both accounts through alfax's signed REST API: the orders with Hummingbot's client ids
   (``x-nbQe1H39`` prefix) are FILLED (market open/close, the close reduce-only) and CANCELED (limit), their
   fills are in userTrades, and no position is left.

The two connector URL constants are replaced at import time by ``pypath/sitecustomize.py`` (PYTHONPATH), nothing
else in Hummingbot is changed. Prints ``HUMMINGBOT CHECK PASSED`` and the timings, or ``HUMMINGBOT CHECK FAILED``
with the reasons; exit status 0 / 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

import httpx  # noqa: E402

from alfax_harness import AlfaxServer, Rest, wait_for_market  # noqa: E402

BROKER_PREFIX = "x-nbQe1H39"  # binance_perpetual_constants.BROKER_ID: Hummingbot's client order id prefix
SYMBOL, PAIR = "BTCUSDT", "BTC-USDT"
SCRIPT, CONF = "alfax_hb_check.py", "conf_alfax_hb_check.yml"
T0 = time.monotonic()


def say(msg: str) -> None:
    print(f"[hb-runner {time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def hb_env(base_url: str) -> dict:
    host = base_url.split("://", 1)[1]
    env = dict(os.environ)
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(k, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["ALFAX_HB_REST_URL"] = f"http://{host}/fapi/"
    env["ALFAX_HB_WS_URL"] = f"ws://{host}/"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE / "pypath"), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


# ------------------------------------------------------------------------------------------------------------------
# preflight: what Hummingbot will send, with plain clients (reference freqtrade-hummingbot.md §2.3-2.6)


def preflight(base_url: str, key: str, secret: str) -> list[str]:
    problems: list[str] = []
    rest = Rest(base_url, key, secret)

    def check(what: str, r: httpx.Response, pred=lambda j: True) -> dict | list | None:
        try:
            body = r.json()
        except ValueError:
            body = None
        if r.status_code != 200 or body is None or not pred(body):
            problems.append(f"{what}: HTTP {r.status_code} {r.text[:300]}")
            return None
        return body

    check("GET /fapi/v1/time", rest.public("GET", "/fapi/v1/time"), lambda j: isinstance(j.get("serverTime"), int))
    check("GET /fapi/v1/ping", rest.public("GET", "/fapi/v1/ping"))
    info = check("GET /fapi/v1/exchangeInfo", rest.public("GET", "/fapi/v1/exchangeInfo"))
    if info:
        s = next((s for s in info.get("symbols", []) if s.get("symbol") == SYMBOL), None)
        if not s:
            problems.append(f"exchangeInfo has no {SYMBOL}")
        else:
            f = {x.get("filterType"): x for x in s.get("filters", [])}
            if s.get("contractType") not in ("PERPETUAL", "TRADIFI_PERPETUAL") or s.get("status") != "TRADING":
                problems.append(f"exchangeInfo {SYMBOL}: contractType={s.get('contractType')} status={s.get('status')}"
                                " (Hummingbot needs PERPETUAL + TRADING)")
            if s.get("pair") != SYMBOL:
                problems.append(f"exchangeInfo {SYMBOL}: pair={s.get('pair')!r} (Hummingbot keys the symbol map by it)")
            if "notional" not in f.get("MIN_NOTIONAL", {}):
                problems.append(f"exchangeInfo {SYMBOL}: no MIN_NOTIONAL.notional filter")
    # signed GET without recvWindow (Hummingbot never sends one)
    check("GET /fapi/v1/positionSide/dual (no recvWindow)",
          rest.signed("GET", "/fapi/v1/positionSide/dual", recv_window=None),
          lambda j: "dualSidePosition" in j)
    # listenKey: API-key header only, JSON content type, empty body, no signature
    lk = check("POST /fapi/v1/listenKey (Content-Type: application/json, empty body)",
               rest.http.post("/fapi/v1/listenKey", headers={"X-MBX-APIKEY": key, "Content-Type": "application/json"}),
               lambda j: bool(j.get("listenKey")))
    check("GET /fapi/v1/depth?limit=1000", rest.public("GET", "/fapi/v1/depth", {"symbol": SYMBOL, "limit": 1000}),
          lambda j: isinstance(j.get("lastUpdateId"), int) and j.get("bids") and j.get("asks"))
    check("GET /fapi/v1/premiumIndex", rest.public("GET", "/fapi/v1/premiumIndex", {"symbol": SYMBOL}),
          lambda j: "markPrice" in j and "lastFundingRate" in j and "nextFundingTime" in j)
    check("GET /fapi/v1/income FUNDING_FEE", rest.signed("GET", "/fapi/v1/income",
                                                         {"symbol": SYMBOL, "incomeType": "FUNDING_FEE"},
                                                         recv_window=None), lambda j: isinstance(j, list))
    check("GET /fapi/v2/account", rest.signed("GET", "/fapi/v2/account", recv_window=None),
          lambda j: any(a.get("asset") == "USDT" and "availableBalance" in a and "walletBalance" in a
                        for a in j.get("assets", [])))
    check("GET /fapi/v2/positionRisk", rest.signed("GET", "/fapi/v2/positionRisk", recv_window=None),
          lambda j: isinstance(j, list) and all("positionSide" in p and "entryPrice" in p for p in j))
    # Python bools arrive as True/False (POST: form body)
    check("POST /fapi/v1/leverage", rest.signed("POST", "/fapi/v1/leverage", {"symbol": SYMBOL, "leverage": 5},
                                                recv_window=None),
          lambda j: j.get("leverage") == 5 and isinstance(j.get("leverage"), int))
    rest.close()
    if lk:
        problems += asyncio.run(_ws_preflight(base_url, lk["listenKey"]))
    return problems


def _ws_connect(url: str):
    import websockets

    try:
        return websockets.connect(url, open_timeout=5, proxy=None)  # websockets >= 15: never via a proxy
    except TypeError:
        return websockets.connect(url, open_timeout=5)


async def _ws_preflight(base_url: str, listen_key: str) -> list[str]:

    ws_base = "ws://" + base_url.split("://", 1)[1] + "/"
    problems: list[str] = []

    async def sub(path: str, stream: str, sid: int, want: set[str], n: int = 2) -> list[dict]:
        url = ws_base + path
        try:
            async with _ws_connect(url) as ws:
                await ws.send(json.dumps({"method": "SUBSCRIBE", "params": [stream], "id": sid}))
                got: list[dict] = []
                acked = False
                deadline = time.monotonic() + 12
                while time.monotonic() < deadline and len(got) < n:
                    try:
                        msg = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
                    except asyncio.TimeoutError:
                        break
                    if "result" in msg:
                        acked = msg.get("result") is None and msg.get("id") == sid
                        if not acked:
                            problems.append(f"WS {path} SUBSCRIBE {stream}: ack {msg} (want {{'result': None, 'id': {sid}}})")
                        continue
                    if msg.get("stream") != stream or not isinstance(msg.get("data"), dict):
                        problems.append(f"WS {path} {stream}: not combined-stream wrapped: {str(msg)[:200]}")
                        return got
                    missing = want - set(msg["data"])
                    if missing:
                        problems.append(f"WS {path} {stream}: data lacks {sorted(missing)}: {str(msg)[:200]}")
                        return got
                    got.append(msg["data"])
                if not acked:
                    problems.append(f"WS {path}: no {{'result': null, 'id': {sid}}} ack for SUBSCRIBE {stream}")
                if len(got) < n:
                    problems.append(f"WS {path} {stream}: {len(got)} events in 12 s (want {n})")
                return got
        except Exception as e:  # noqa: BLE001 - report any connect/handshake failure verbatim
            problems.append(f"WS {url} SUBSCRIBE {stream}: {type(e).__name__}: {e}")
            return []

    depth = await sub("public/stream", "btcusdt@depth", 1, {"e", "E", "T", "s", "U", "u", "pu", "b", "a"}, n=3)
    for prev, cur in zip(depth, depth[1:]):
        if cur["pu"] != prev["u"]:
            problems.append(f"WS public/stream btcusdt@depth: pu={cur['pu']} != previous u={prev['u']}")
    await sub("market/stream", "btcusdt@aggTrade", 2, {"s", "m", "a", "E", "p", "q"}, n=1)
    await sub("market/stream", "btcusdt@markPrice", 3, {"s", "i", "p", "T", "r"}, n=1)
    url = f"{ws_base}private/ws?listenKey={listen_key}"
    try:
        async with _ws_connect(url) as ws:
            pong = await ws.ping()
            await asyncio.wait_for(pong, 5)
    except Exception as e:  # noqa: BLE001
        problems.append(f"WS {ws_base}private/ws?listenKey=…: ping/pong failed: {type(e).__name__}: {e}")
    return problems


# ------------------------------------------------------------------------------------------------------------------
# REST verification of what Hummingbot did


def verify_account(base_url: str, key: str, secret: str, ids: dict, label: str) -> tuple[list[str], dict]:
    problems: list[str] = []
    rest = Rest(base_url, key, secret)
    orders = rest.ok("GET", "/fapi/v1/allOrders", {"symbol": SYMBOL, "limit": 1000})
    trades = rest.ok("GET", "/fapi/v1/userTrades", {"symbol": SYMBOL, "limit": 1000})
    positions = rest.ok("GET", "/fapi/v2/positionRisk", {"symbol": SYMBOL})
    rest.close()
    by_cid = {o.get("clientOrderId"): o for o in orders}
    summary = {"orders": [{k: o.get(k) for k in ("clientOrderId", "orderId", "type", "side", "status", "origQty",
                                                   "executedQty", "avgPrice", "price", "reduceOnly")}
                          for o in orders],
               "trades": len(trades),
               "positionAmt": [p.get("positionAmt") for p in positions]}
    stray = [c for c in by_cid if not str(c).startswith(BROKER_PREFIX)]
    if stray:
        problems.append(f"{label}: orders without Hummingbot's {BROKER_PREFIX} client id: {stray}")
    expect = {
        "market_open": dict(type="MARKET", side="BUY", status="FILLED"),
        "market_close": dict(type="MARKET", side="SELL", status="FILLED", reduceOnly=True),
        "limit_cancel": dict(type="LIMIT", side="BUY", status="CANCELED"),
    }
    for role, want in expect.items():
        cid = ids.get(role)
        if not cid:
            problems.append(f"{label}: Hummingbot never created the {role} order")
            continue
        if not cid.startswith(BROKER_PREFIX):
            problems.append(f"{label}: {role} client id {cid} lacks the {BROKER_PREFIX} prefix")
        o = by_cid.get(cid)
        if o is None:
            problems.append(f"{label}: {role} order {cid} is not in /fapi/v1/allOrders")
            continue
        for k, v in want.items():
            if o.get(k) != v:
                problems.append(f"{label}: {role} {cid}: {k}={o.get(k)!r}, want {v!r}")
        filled = sum((Decimal(t["qty"]) for t in trades if t.get("orderId") == o.get("orderId")), Decimal(0))
        if want["status"] == "FILLED":
            if filled == 0 or filled != Decimal(o.get("executedQty", "0")):
                problems.append(f"{label}: {role} {cid}: userTrades qty {filled} vs executedQty {o.get('executedQty')}")
        elif filled != 0 or Decimal(o.get("executedQty", "0")) != 0:
            problems.append(f"{label}: {role} {cid} was (partly) filled: {filled}")
    if any(Decimal(str(p.get("positionAmt", "0"))) != 0 for p in positions):
        problems.append(f"{label}: position left open: {summary['positionAmt']}")
    return problems, summary


# ------------------------------------------------------------------------------------------------------------------
# phases


def phase_connector(args, srv: AlfaxServer, work: Path) -> tuple[list[str], dict]:
    acct = srv.create_account(balance="10000", alias="hb-connector")
    report = work / "hb_connector_report.json"
    cmd = [args.hb_python, str(HERE / "hb_connector_check.py"), "--key", acct.api_key, "--secret", acct.secret,
           "--report", str(report), "--log", str(work / "hb_connector.log")]
    say(f"phase connector: account {acct.account_id}; {Path(args.hb_python).name} hb_connector_check.py")
    t = time.monotonic()
    try:
        res = subprocess.run(cmd, env=hb_env(srv.base_url), cwd=work, timeout=args.connector_timeout,
                             stdout=sys.stdout, stderr=subprocess.STDOUT)
        rc = res.returncode
    except subprocess.TimeoutExpired:
        rc = "timeout"
    took = round(time.monotonic() - t, 1)
    data = json.loads(report.read_text()) if report.exists() else {}
    problems = []
    if rc != 0 or not data.get("passed"):
        problems.append(f"connector check exit {rc}: {data.get('failure', 'no report')}")
    resyncs = _grep(work / "hb_connector.log", ("Forcing a snapshot resync",))
    if resyncs:  # Hummingbot's depth data source re-snapshots when a diff's pu is not the previous u
        problems.append(f"connector: {len(resyncs)} depth resync(s) (pu chain broken): {resyncs[0][:300]}")
    if problems:
        _tail(work / "hb_connector.log", "Hummingbot log (hb_connector.log), warnings and errors",
              only=("WARNING", "ERROR", "Traceback", "Error", "rror"))
    vp, summary = verify_account(srv.base_url, acct.api_key, acct.secret, data.get("orders", {}), "connector")
    summary.update(took_s=took, steps=data.get("timings"), hb_ids=data.get("orders"),
                   fill_latency_s=data.get("fill_latency_s"), book=data.get("book"))
    return problems + vp, summary


def hb_root(hb_python: str) -> Path:
    out = subprocess.run([hb_python, "-c", "import hummingbot; print(hummingbot.root_path())"],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"cannot import hummingbot with {hb_python}: {out.stderr[-2000:]}")
    return Path(out.stdout.strip().splitlines()[-1])


def phase_cli(args, srv: AlfaxServer, work: Path) -> tuple[list[str], dict]:
    acct = srv.create_account(balance="10000", alias="hb-cli")
    root = hb_root(args.hb_python)
    name = Path(CONF).stem
    say(f"phase cli: account {acct.account_id}; Hummingbot root {root}")
    pid_file = root / "data" / "bot" / "bot.pid"
    if pid_file.exists():
        try:
            pid = int(pid_file.read_text().strip())
            os.kill(pid, 0)
            return [f"cli: a Hummingbot bot (pid {pid}) is already running from {root}; stop it first"], {}
        except (ValueError, ProcessLookupError, PermissionError):
            pass
    for d in ("conf/connectors", "conf/scripts", "conf/strategies", "conf/controllers", "scripts", "logs", "data"):
        (root / d).mkdir(parents=True, exist_ok=True)
    report = work / "hb_cli_report.json"
    shutil.copy(HERE / SCRIPT, root / "scripts" / SCRIPT)
    (root / "conf" / "scripts" / CONF).write_text((HERE / CONF).read_text().replace("__REPORT_FILE__", str(report)))
    for stale in (root / "data" / f"{name}.sqlite", root / "logs" / f"logs_{name}.log"):
        stale.unlink(missing_ok=True)  # a previous run's tracked orders would be restored from the trades DB
    env = hb_env(srv.base_url)
    env["HBOT_PASSWORD"] = args.hb_password
    hbot = [args.hb_python, "-m", "hummingbot.cli.main"]
    res = subprocess.run([*hbot, "connect", "binance_perpetual", "--keys-stdin", "--replace"], env=env, cwd=work,
                         input=json.dumps({"binance_perpetual_api_key": acct.api_key,
                                           "binance_perpetual_api_secret": acct.secret}),
                         capture_output=True, text=True, timeout=180)
    if res.returncode != 0:
        return [f"cli: `hbot connect binance_perpetual --keys-stdin` exit {res.returncode}: "
                f"{(res.stdout + res.stderr)[-1500:]} (a keystore from another password? it lives in {root}/conf)"], {}
    say("hbot connect: keys stored (encrypted) in conf/connectors/binance_perpetual.yml")
    t = time.monotonic()
    out_path = work / "hbot_start.out"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([*hbot, "start", CONF, "--foreground"], env=env, cwd=work, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    say(f"hbot start {CONF} --foreground (pid {proc.pid}); waiting for the script's cycle")
    data: dict = {}
    last_phase = None
    deadline = time.monotonic() + args.cli_seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            data = json.loads(report.read_text())
        except (OSError, ValueError):
            data = data or {}
        if data.get("phase") != last_phase:
            last_phase = data.get("phase")
            say(f"  script phase: {last_phase}")
        if last_phase in ("done", "stuck"):
            break
        time.sleep(0.5)
    run_s = round(time.monotonic() - t, 1)
    exited_early = proc.poll()
    if exited_early is None:
        say("stopping the bot (SIGTERM: graceful stop, cancels open orders)")
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    took = round(time.monotonic() - t, 1)
    problems = []
    if exited_early is not None:
        problems.append(f"cli: the bot exited on its own (rc {exited_early}) before the cycle was done")
    if data.get("phase") != "done":
        why = data.get("failure") or ("" if data else "no report: the script never ran, or the connector never "
                                      "became ready (see the Hummingbot log)")
        problems.append(f"cli: the script ended in phase {data.get('phase')!r} after {run_s}s {why}".rstrip())
    log_path = root / "logs" / f"logs_{name}.log"
    resyncs = _grep(log_path, ("Forcing a snapshot resync",))
    if resyncs:
        problems.append(f"cli: {len(resyncs)} depth resync(s) (pu chain broken): {resyncs[0][:300]}")
    if problems:
        _tail(out_path, "hbot start output", lines=40)
        _tail(log_path, f"Hummingbot log ({log_path}), warnings and errors",
              only=("WARNING", "ERROR", "Traceback", "rror"))
    else:
        errors = _grep(log_path, ("ERROR",))
        if errors:
            say(f"note: {len(errors)} ERROR lines in {log_path.name} (run passed); last: {errors[-1][:300]}")
    vp, summary = verify_account(srv.base_url, acct.api_key, acct.secret, data.get("orders", {}), "cli")
    summary.update(took_s=took, cycle_s=run_s, hb_ids=data.get("orders"), events=data.get("events"),
                   bot_exit=proc.returncode)
    return problems + vp, summary


def _grep(path: Path, needles) -> list[str]:
    try:
        return [ln for ln in path.read_text(errors="replace").splitlines() if any(n in ln for n in needles)]
    except OSError:
        return []


def _tail(path: Path, title: str, lines: int = 60, only=None) -> None:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        print(f"---- {title}: {path} missing")
        return
    if only:
        text = [ln for ln in text if any(n in ln for n in only)]
    print(f"---- {title} (last {lines})")
    for ln in text[-lines:]:
        print(ln[:600])


def cmd_run(args) -> int:
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    runners = {"connector": phase_connector, "cli": phase_cli}
    if not phases or any(p not in runners for p in phases):
        print(f"--phases: comma list of {sorted(runners)}, got {args.phases!r}", file=sys.stderr)
        return 2
    work = Path(args.workdir or tempfile.mkdtemp(prefix="alfax-hb."))
    work.mkdir(parents=True, exist_ok=True)
    srv = AlfaxServer(db_path=work / "alfax.db", speed=1.0)
    timings: dict = {}
    problems: list[str] = []
    summary: dict = {}
    try:
        t = time.monotonic()
        srv.start(timeout=120)
        wait_for_market(srv.base_url, timeout=90)
        timings["alfax_start_s"] = round(time.monotonic() - t, 1)
        say(f"alfax serving on {srv.base_url} (db {srv.db_path})")
        t = time.monotonic()
        pre = preflight(srv.base_url, srv.api_key, srv.secret)
        timings["preflight_s"] = round(time.monotonic() - t, 1)
        if pre:
            print("---- preflight: what Hummingbot needs that the venue did not answer as expected")
            for p in pre:
                print(f"  - {p}")
            if not args.ignore_preflight:
                problems += [f"preflight: {p}" for p in pre]
        else:
            say("preflight passed (REST endpoints + public/stream, market/stream, private/ws)")
        for ph in phases if not problems else []:
            t = time.monotonic()
            try:
                pp, s = runners[ph](args, srv, work)
            except Exception as e:  # noqa: BLE001 - a crash in a phase is a failed check, with its reason
                pp, s = [f"{ph}: {type(e).__name__}: {e}"], {}
            timings[f"{ph}_s"] = round(time.monotonic() - t, 1)
            summary[ph] = s
            problems += pp
            say(f"phase {ph}: {'ok' if not pp else 'FAILED'} ({timings[f'{ph}_s']}s)")
    except Exception as e:  # noqa: BLE001 - the venue did not start, or the preflight crashed
        problems.append(f"{type(e).__name__}: {e}")
    finally:
        srv.stop()
        timings["total_s"] = round(time.monotonic() - T0, 1)
    print(json.dumps({"summary": summary, "timings": timings}, indent=2, default=str))
    if problems:
        text = srv.log_text()
        marker = "these credentials are printed on first start only)"
        text = text.split(marker, 1)[-1]  # skip the first-start banner (demo credentials and snippets)
        print("---- alfax server log after the banner (tail)")
        print(text[-3000:])
        print("HUMMINGBOT CHECK FAILED:\n  - " + "\n  - ".join(problems))
        print(f"work dir kept: {work}")
        return 1
    print(f"HUMMINGBOT CHECK PASSED  (timings: {json.dumps(timings)})")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def cmd_probe(args) -> int:
    """Preflight only: against --url (with --key/--secret) or a server started here."""
    if args.url:
        problems = preflight(args.url, args.key, args.secret)
    else:
        work = Path(tempfile.mkdtemp(prefix="alfax-hb-probe."))
        srv = AlfaxServer(db_path=work / "alfax.db", speed=1.0)
        try:
            srv.start(timeout=120)
            wait_for_market(srv.base_url, timeout=90)
            problems = preflight(srv.base_url, srv.api_key, srv.secret)
        finally:
            srv.stop()
            shutil.rmtree(work, ignore_errors=True)
    for p in problems:
        print(f"  - {p}")
    print("PROBE OK" if not problems else f"PROBE: {len(problems)} problem(s)")
    return 1 if problems else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--hb-python", required=True, help="python of the Hummingbot venv (3.12)")
    r.add_argument("--phases", default="connector,cli", help="comma list of: connector, cli")
    r.add_argument("--workdir", default="")
    r.add_argument("--keep", action="store_true", help="keep the work dir after success")
    r.add_argument("--connector-timeout", type=float, default=300)
    r.add_argument("--cli-seconds", type=float, default=180, help="max time for the hbot script's cycle")
    r.add_argument("--hb-password", default=os.environ.get("HBOT_PASSWORD", "alfax-ci"),
                   help="keystore password (the first one used creates the keystore in the install)")
    r.add_argument("--ignore-preflight", action="store_true", help="run Hummingbot even if the preflight fails")
    r.set_defaults(func=cmd_run)
    pr = sub.add_parser("probe")
    pr.add_argument("--url", default="")
    pr.add_argument("--key", default="")
    pr.add_argument("--secret", default="")
    pr.set_defaults(func=cmd_probe)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
