"""Drive the OFFICIAL ``alfax`` SDK 0.1.1 (installed in its own virtual environment) against a running alfax.

Run it with that environment's interpreter in isolated mode, so this repository is not importable:

    .sdkvenv/bin/python -I tests/sdk/official_sdk_check.py CONFIG.json

CONFIG.json: {"base_url", "plain": [key, secret], "challenge": [key, secret], "operator": [key, secret]}
(``plain`` a non-challenge account with 10000 USDT, ``challenge`` a STAGE_1 challenge account, ``operator`` a key
with the operator permission). Every public method of the official ``Client`` is called (the script checks that
none is left out), plus both streams. One line per method: ``OK name: detail`` or ``FAIL name: error``.
Exit code 0 only if all passed.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
import time
import traceback
import uuid
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from pathlib import Path

import alfax
from alfax import Client, MarketStream, UserStream
from alfax.errors import AlfaxAPIError, OrderError

D = Decimal
SYM = "BTCUSDT"
PRODUCT = "10k-2step"

results: list[tuple[str, bool, str]] = []
called: set[str] = set()


def check(name: str, fn) -> object:
    """Run one check; record OK/FAIL with a short detail; never raise."""
    for part in name.split("+"):
        called.add(part.strip())
    try:
        detail = fn()
        results.append((name, True, "" if detail is None else str(detail)[:160]))
        print(f"OK   {name}: {results[-1][2]}", flush=True)
        return detail
    except Exception as e:  # noqa: BLE001 - the point is to report every failure
        tb = traceback.format_exc(limit=3).strip().splitlines()
        msg = f"{type(e).__name__}: {str(e)[:400]} [{tb[-3].strip() if len(tb) >= 3 else ''}]"
        results.append((name, False, msg))
        print(f"FAIL {name}: {msg}", flush=True)
        return None


def _assert(cond, what: str = "") -> None:
    if not cond:
        raise AssertionError(what or "assertion failed")


def main(cfg: dict) -> int:
    base = cfg["base_url"]
    origin = Path(alfax.__file__).resolve()
    print(f"official alfax SDK at {origin} (version attribute {alfax.__version__})", flush=True)
    if hasattr(alfax, "AsyncClient") or "sdk" in {p.name for p in origin.parent.iterdir()}:
        print("FAIL setup: this is not the official SDK (the repository's alfax is on sys.path)")
        return 2
    plain = Client(api_key=cfg["plain"][0], api_secret=cfg["plain"][1], base_url=base)
    chal = Client(api_key=cfg["challenge"][0], api_secret=cfg["challenge"][1], base_url=base)
    op = Client(api_key=cfg["operator"][0], api_secret=cfg["operator"][1], base_url=base)
    state: dict = {}

    # ------------------------------------------------------------------ public
    check("ping", lambda: (_assert(plain.ping() == {}), "{}")[1])

    def _time():
        t = plain.server_time()
        _assert(isinstance(t, int) and t > 1_500_000_000_000, repr(t))
        return t
    check("server_time", _time)

    def _info():
        info = plain.exchange_info()
        btc = next(s for s in info.symbols if s.symbol == SYM)
        f = {x["filterType"]: x for x in btc.filters}
        state["tick"] = D(f["PRICE_FILTER"]["tickSize"]).normalize()
        state["step"] = D(f["LOT_SIZE"]["stepSize"]).normalize()
        return f"{len(info.symbols)} symbols, tick {state['tick']} step {state['step']}"
    check("exchange_info", _info)

    def _book():
        bt = plain.book_ticker(SYM)
        _assert(isinstance(bt.bidPrice, Decimal) and 0 < bt.bidPrice < bt.askPrice, repr(bt))
        every = plain.book_ticker()
        _assert(isinstance(every, list) and SYM in {b.symbol for b in every})
        state["bid"], state["ask"] = bt.bidPrice, bt.askPrice
        return f"{bt.bidPrice} / {bt.askPrice}"
    check("book_ticker", _book)

    def _klines():
        kl = plain.klines(SYM, "1m", limit=3)
        _assert(1 <= len(kl) <= 3 and isinstance(kl[0].close, Decimal))
        again = plain.klines(SYM, "1m", start_time=kl[0].openTime, end_time=kl[-1].closeTime, limit=5)
        _assert([k.openTime for k in again] == [k.openTime for k in kl])
        return f"{len(kl)} bars, last close {kl[-1].close}"
    check("klines", _klines)

    # ------------------------------------------------------------------ account
    def _account():
        acc = plain.account()
        _assert(acc.totalWalletBalance == D("10000") and acc.challenge is None, repr(acc.totalWalletBalance))
        return f"wallet {acc.totalWalletBalance}, {len(acc.positions)} positions"
    check("account", _account)

    def _position_risk():
        pr = plain.position_risk(SYM)
        _assert(len(pr) == 1 and isinstance(pr[0].positionAmt, Decimal))
        _assert(len(plain.position_risk()) >= 2)
        return f"{SYM} amt {pr[0].positionAmt} lev {pr[0].leverage}"
    check("position_risk", _position_risk)

    # ------------------------------------------------------------------ orders
    check("change_leverage", lambda: str(plain.change_leverage(symbol=SYM, leverage=5).leverage))
    tick, step = state.get("tick", D("0.1")), state.get("step", D("0.001"))
    bid, ask = state.get("bid", D("0")), state.get("ask", D("0"))
    price = ((bid * D("0.97")) / tick).to_integral_value(rounding=ROUND_DOWN) * tick
    qty = ((D("20") / ask) / step).to_integral_value(rounding=ROUND_UP) * step if ask else step

    def _new_order():
        o = plain.new_order(symbol=SYM, side="BUY", type="LIMIT", quantity=str(qty), price=str(price),
                            time_in_force="GTC", new_client_order_id="official-sdk-1")
        _assert(o.status == "NEW" and o.price == price and o.origQty == qty, repr(o))
        state["order"] = o
        return f"order {o.orderId} {o.status} {o.origQty}@{o.price}"
    check("new_order", _new_order)

    def _get_order():
        o = state["order"]
        _assert(plain.get_order(symbol=SYM, order_id=o.orderId).status == "NEW")
        _assert(plain.get_order(symbol=SYM, orig_client_order_id="official-sdk-1").orderId == o.orderId)
        return o.orderId
    check("get_order", _get_order)

    def _open_orders():
        ids = [x.orderId for x in plain.open_orders(SYM)]
        _assert(state["order"].orderId in ids and state["order"].orderId in [x.orderId for x in plain.open_orders()])
        return f"{len(ids)} open"
    check("open_orders", _open_orders)

    def _cancel():
        c = plain.cancel_order(symbol=SYM, order_id=state["order"].orderId)
        _assert(c.status == "CANCELED", c.status)
        try:
            plain.cancel_order(symbol=SYM, order_id=987654321)
            raise AssertionError("cancelling an unknown order did not raise")
        except OrderError as e:
            _assert(e.code == -2011, repr(e.code))
        return c.status
    check("cancel_order", _cancel)

    def _all_orders():
        hist = {x.orderId: x.status for x in plain.all_orders(symbol=SYM)}
        _assert(hist.get(state["order"].orderId) == "CANCELED", repr(hist))
        return f"{len(hist)} orders"
    check("all_orders", _all_orders)

    # ------------------------------------------------------------------ listen key + user stream (one fill)
    def _listen_key_and_stream():
        lk = plain.new_listen_key()
        _assert(isinstance(lk, str) and lk)
        plain.keepalive_listen_key()

        async def go():
            async with UserStream(listen_key=lk, base_url="ws" + base[4:]) as s:
                plain.new_order(symbol=SYM, side="BUY", type="MARKET", quantity=str(qty))
                async for evt in s:
                    if evt.get("e") == "ORDER_TRADE_UPDATE" and evt["o"]["X"] == "FILLED":
                        return evt

        evt = asyncio.run(asyncio.wait_for(go(), 20))
        plain.new_order(symbol=SYM, side="SELL", type="MARKET", quantity=str(qty), reduce_only=True)
        plain.close_listen_key()
        return f"listen key {lk[:8]}..., fill {evt['o']['z']} @ {evt['o']['ap']}"
    check("new_listen_key + keepalive_listen_key + close_listen_key + UserStream", _listen_key_and_stream)

    def _user_trades():
        deadline = time.monotonic() + 10
        while True:
            trades = plain.user_trades(SYM)
            if len(trades) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        _assert(len(trades) >= 2 and isinstance(trades[0].commission, Decimal), repr(trades))
        _assert([t.id for t in plain.user_trades(SYM, from_id=trades[0].id, limit=1)] == [trades[0].id])
        return f"{len(trades)} trades"
    check("user_trades", _user_trades)

    def _market_stream():
        async def go():
            async with MarketStream(["btcusdt@bookTicker"], base_url="ws" + base[4:]) as s:
                async for msg in s:
                    return msg

        msg = asyncio.run(asyncio.wait_for(go(), 20))
        _assert(msg["stream"] == "btcusdt@bookTicker", repr(msg))
        return msg["data"]["b"]
    check("MarketStream", _market_stream)

    # ------------------------------------------------------------------ challenge extensions
    def _status():
        st = chal.challenge_status()
        _assert(isinstance(st.challengeId, uuid.UUID) and st.stage == "STAGE_1" and st.status == "ACTIVE", repr(st))
        _assert(isinstance(st.currentEquity, Decimal) and isinstance(st.maxDailyDrawdown, Decimal))
        state["challenge_id"] = st.challengeId
        return f"{st.challengeId} {st.stage} equity {st.currentEquity}"
    check("challenge_status", _status)
    check("challenge", lambda: (_assert(chal.challenge().challengeId == state.get("challenge_id")), "alias ok")[1])

    def _rules():
        r = chal.challenge_rules()
        _assert(r.productId == PRODUCT and r.stages and isinstance(r.stages[0].profitTarget, Decimal), repr(r))
        return f"{r.productId} {[s.name for s in r.stages]} maxLeverage {r.maxLeverage}"
    check("challenge_rules", _rules)

    def _lifecycle():
        life = chal.challenge_lifecycle(str(state["challenge_id"]))
        _assert(life.ChallengeID == state["challenge_id"] and life.Stage == "STAGE_1" and life.Status == "ACTIVE")
        return f"{life.Stage} {life.Status}"
    check("challenge_lifecycle", _lifecycle)

    def _purchase():
        p = plain.create_challenge_purchase(product_id=PRODUCT)
        _assert(isinstance(p.purchaseId, uuid.UUID) and p.status == "initiated", repr(p))
        return f"{p.purchaseId} {p.status}"
    check("create_challenge_purchase", _purchase)

    def _request():
        p = chal.request_payout(challenge_id=str(state["challenge_id"]), amount="100")
        _assert(isinstance(p.payoutId, uuid.UUID) and p.status == "requested", repr(p))
        state["payout"] = p
        return f"{p.payoutId} {p.status}"
    check("request_payout", _request)

    def _get_payout():
        s = chal.get_payout(str(state["payout"].payoutId))
        _assert(s.Status == "requested" and s.PayoutID == state["payout"].payoutId, repr(s))
        return s.Status
    check("get_payout", _get_payout)

    def _approve():
        p = state["payout"]
        try:
            chal.approve_payout(str(p.payoutId))
            raise AssertionError("a trader key approved a payout")
        except AlfaxAPIError as e:
            _assert(e.status == 403, f"trader approve -> HTTP {e.status} {e.code}")
        raw = op.approve_payout(p.payoutId)  # the README passes the UUID as returned
        _assert(isinstance(raw, dict))
        s = chal.get_payout(str(p.payoutId))
        _assert(s.Status == "rejected" and "exceeds available" in s.FailReason, repr(s))
        return f"{s.Status}: {s.FailReason}"
    check("approve_payout", _approve)

    def _reject():
        p = chal.request_payout(challenge_id=str(state["challenge_id"]), amount="60")
        _assert(isinstance(op.reject_payout(str(p.payoutId), "official sdk check"), dict))
        s = chal.get_payout(str(p.payoutId))
        _assert(s.Status == "rejected" and s.FailReason == "official sdk check", repr(s))
        return s.Status
    check("reject_payout", _reject)

    def _close():
        with Client(base_url=base) as c:
            _assert(c.ping() == {})
        for c in (plain, chal, op):
            c.close()
        return "closed"
    check("close + __enter__ + __exit__", _close)

    official = {n for n, _ in inspect.getmembers(Client, inspect.isfunction) if not n.startswith("_")}
    missing = sorted(official - called)
    if missing:
        results.append(("coverage", False, f"methods not exercised: {missing}"))
        print(f"FAIL coverage: methods not exercised: {missing}")
    failed = [r for r in results if not r[1]]
    print(f"official SDK check: {len(results) - len(failed)} ok, {len(failed)} failing")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(json.loads(Path(sys.argv[1]).read_text())))
