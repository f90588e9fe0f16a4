"""Prop challenges end to end against the real ``alfax serve`` process (loopback only), on an accelerated clock.

The server follows a price-controlled Binance upstream (``price_upstream.PriceUpstream``) through the live feed
adapter, so the tests set the book and the mark price; ``--clock-speed 7200`` makes a challenge day pass in
12 s of wall time. Products are the tests' own (``PRODUCTS``): tiny targets and limits, so each scenario takes a
few trades and is exact to the cent.

1. A bot passes STAGE_1 (profit + two trading days across a rollover) and STAGE_2 with the same API key, is
   FUNDED, requests a payout the operator approves (paid, TxRef, balance debited by amount / split); a payout
   one cent above the available amount is rejected ("exceeds available").
2. Another breaches the daily limit through a mark-price move: WARNING updates (50/80/95 %) then BREACH on the
   user stream, flattened at the mark, orders cancelled, evidence stored, new orders refused with -2010.
3. ``POST /fapi/v1/challenge/check``: buying ``maxSafeQty`` with a stop at ``stopPrice`` and being stopped out
   leaves equity exactly ``startBalance - proposedRisk`` above the floor; a fresh account buying one step more
   and stopped out the same way breaches, equity exactly ``startBalance - proposedRisk(q + step)``.

Timing: a challenge day is 12 s, so each scenario that must not straddle a rollover first makes sure enough of
the current venue day is left (``VenueClock.ensure_window``: the venue clock is calibrated once from an order's
``updateTime``; venue time is a linear function of wall time).
"""

from __future__ import annotations

import json
import threading
import time
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import pytest
from websockets.sync.client import connect

from alfax_harness import AlfaxServer, Rest, wait_for_market
from price_upstream import PriceUpstream

pytestmark = pytest.mark.timeout(180)

SYM = "BTCUSDT"
SPEED = 7200.0  # venue time runs 7200x: one challenge day = 12 s, one venue hour = 0.5 s
DAY_MS = 86_400_000
S = Decimal("10000")
BASE = Decimal("50000.00")  # best bid; the best ask is one tick (0.10) above
TICK = Decimal("0.10")
STEP = Decimal("0.001")
TAKER = Decimal("0.0005")
D8 = Decimal("0.00000001")


def _product(pid: str, stages: list[dict], **over) -> dict:
    p = {
        "productId": pid, "title": pid, "accountSize": "10000", "currency": "USDT", "stages": stages,
        "funded": {"maxDailyDrawdown": "0.05", "maxTotalDrawdown": "0.10"},
        "maxLeverage": 5, "symbolLeverage": {SYM: 5}, "symbolsWhitelist": [SYM], "commissionBps": "5",
        "newsTradingForbidden": False, "newsWindows": [], "payoutSplitBps": 8000, "payoutCadenceDays": 0,
        "payoutMinimum": "10", "bestDayPct": None, "inactivityDays": None, "minTradeNotionalPct": "0.005",
        "dayRolloverUtc": "00:00", "dailyMode": "fixed", "totalMode": "static",
    }
    p.update(over)
    return p


PRODUCTS = {"version": 1, "products": [
    # two stages: 20 USDT and two trading days, then 10 USDT and one trading day; payouts 80 %, minimum 10
    _product("e2e-2step", [
        {"name": "STAGE_1", "profitTarget": "0.002", "maxDailyDrawdown": "0.05", "maxTotalDrawdown": "0.10",
         "minTradingDays": 2, "maxDays": None},
        {"name": "STAGE_2", "profitTarget": "0.001", "maxDailyDrawdown": "0.05", "maxTotalDrawdown": "0.10",
         "minTradingDays": 1, "maxDays": None}]),
    # one stage with a tight daily limit (100 USDT) and an unreachable target: breach and check scenarios
    _product("e2e-tight", [
        {"name": "STAGE_1", "profitTarget": "0.5", "maxDailyDrawdown": "0.01", "maxTotalDrawdown": "0.05",
         "minTradingDays": 1, "maxDays": None}]),
]}


# ============================================================================================== helpers
def D(x) -> Decimal:
    return Decimal(str(x))


def wait_until(pred, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r:.2000})")


class VenueClock:
    """Venue time = a linear function of wall time (``Runtime.venue_ms``): one calibration point is enough."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.venue0 = 0
        self.wall0 = 0.0

    def calibrate(self, rest: Rest, rounds: int = 3) -> None:
        """A resting order's ``updateTime`` is the engine's stamp (venue time) of that request; the round trip
        with the shortest wall time bounds the error best (half of it, times the speed)."""
        px = str((BASE * Decimal("0.97")).quantize(TICK))
        best = None
        for _ in range(rounds):
            t0 = time.time()
            o = rest.ok("POST", "/fapi/v1/order", {"symbol": SYM, "side": "BUY", "type": "LIMIT",
                                                   "timeInForce": "GTC", "price": px, "quantity": "0.002"})
            t1 = time.time()
            rest.ok("DELETE", "/fapi/v1/order", {"symbol": SYM, "orderId": o["orderId"]})
            if best is None or t1 - t0 < best[0]:
                best = (t1 - t0, int(o["updateTime"]), (t0 + t1) / 2)
        _, self.venue0, self.wall0 = best

    def now(self) -> int:
        return self.venue0 + int((time.time() - self.wall0) * 1000 * self.speed)

    def seconds_left_in_day(self) -> float:
        v = self.now()
        return ((v // DAY_MS + 1) * DAY_MS - v) / 1000 / self.speed

    def ensure_window(self, rest: Rest, need_s: float) -> int:
        """Return when at least ``need_s`` wall seconds of the current venue day are left and the account's
        rollover (if one was due) has been processed; returns the coming boundary (venue ms), which the caller
        can compare with event times to prove that nothing it did straddled a rollover."""
        left = self.seconds_left_in_day()
        if left < need_s + 0.5:
            time.sleep(left + 0.2)
        boundary = (self.now() // DAY_MS + 1) * DAY_MS
        wait_until(lambda: status(rest)["nextRolloverAt"] == boundary, 10, f"rollover processed (next {boundary})")
        return boundary


class UserStream:
    """The user-data stream of one API key (``/ws/<listenKey>``), collected by a background thread."""

    def __init__(self, srv: AlfaxServer, rest: Rest) -> None:
        key = rest.ok("POST", "/fapi/v1/listenKey")["listenKey"]
        url = f"ws://{srv.host}:{srv.port}/ws/{key}"
        try:
            self.ws = connect(url, open_timeout=10, close_timeout=2, legacy=True)  # websockets >= 16
        except TypeError:
            self.ws = connect(url, open_timeout=10, close_timeout=2)
        self.messages: list[dict] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for raw in self.ws:
                msg = json.loads(raw)
                with self._lock:
                    self.messages.append(msg)
        except Exception:
            pass

    def challenge_updates(self) -> list[dict]:
        with self._lock:
            return [m for m in self.messages if m.get("e") == "challengeUpdate"]

    def wait_update(self, pred, timeout: float, what: str) -> dict:
        return wait_until(lambda: next((m for m in self.challenge_updates() if pred(m)), None), timeout, what)

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
        self._thread.join(5)


def status(rest: Rest) -> dict:
    return rest.ok("GET", "/fapi/v1/challenge")


def position_amt(rest: Rest) -> Decimal:
    rows = rest.ok("GET", "/fapi/v2/positionRisk", {"symbol": SYM})
    return sum((D(p["positionAmt"]) for p in rows), Decimal(0))


CLOCK: "VenueClock | None" = None  # the module's calibrated clock (set by the fixture)


def market(rest: Rest, side: str, qty, **extra) -> dict:
    before = CLOCK.now() if CLOCK else 0
    o = rest.ok("POST", "/fapi/v1/order", {"symbol": SYM, "side": side, "type": "MARKET", "quantity": str(qty),
                                           "newOrderRespType": "RESULT", **extra})
    assert o["status"] == "FILLED", o
    if CLOCK:  # the calibration holds: the fill's venue stamp is between the clock's readings around the call
        slack = int(0.3 * 1000 * CLOCK.speed)
        assert before - slack <= o["updateTime"] <= CLOCK.now() + slack, (before, o["updateTime"], CLOCK.now())
    return o


def server_prices(rest: Rest) -> tuple[Decimal, Decimal, Decimal]:
    d = rest.get_public("/fapi/v1/depth", symbol=SYM, limit=5)
    pi = rest.get_public("/fapi/v1/premiumIndex", symbol=SYM)
    return D(d["bids"][0][0]), D(d["asks"][0][0]), D(pi["markPrice"])


def move(up: PriceUpstream, rest: Rest, bid=None, mark=None) -> None:
    """Set the upstream's book (best bid ``bid``) and/or mark and wait until the server has applied them (the
    REST read model and the engine are updated by the same feed command)."""
    if bid is not None:
        up.set_book(bid)
    if mark is not None:
        up.set_mark(mark)
    want_b, want_a, want_m = up.bid, up.ask, up.mark.quantize(Decimal("0.00000001"))
    wait_until(lambda: server_prices(rest) == (want_b, want_a, want_m), 10,
               f"server at bid {want_b} / ask {want_a} / mark {want_m}")


def round_trip(up: PriceUpstream, rest: Rest, qty: Decimal, gain: Decimal) -> tuple[dict, dict]:
    """Buy ``qty`` at the ask, move book and mark up by ``gain``, sell at the bid, move back to BASE."""
    move(up, rest, bid=BASE, mark=BASE)
    buy = market(rest, "BUY", qty)
    move(up, rest, bid=BASE + gain, mark=BASE + gain)
    sell = market(rest, "SELL", qty, reduceOnly="true")
    move(up, rest, bid=BASE, mark=BASE)
    return buy, sell


def purchase(rest: Rest, product_id: str, srv: AlfaxServer) -> Rest:
    """Buy a challenge with the stub provider; returns a client signed with the minted account's key."""
    p = rest.ok("POST", "/fapi/v1/challenge/purchase", {"productId": product_id, "provider": "stub"})
    row = rest.ok("GET", "/fapi/v1/challenge/purchase", {"purchaseId": p["purchaseId"]})
    assert row["status"] == "minted" and row["apiKey"] and row["apiSecret"], row
    return Rest(srv.base_url, row["apiKey"], row["apiSecret"])


# ============================================================================================== fixtures
class Venue:
    def __init__(self, srv: AlfaxServer, up: PriceUpstream, operator: Rest, clock: VenueClock) -> None:
        self.srv, self.up, self.operator, self.clock = srv, up, operator, clock


@pytest.fixture(scope="module")
def venue(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("challenge_e2e")
    products = tmp / "products.json"
    products.write_text(json.dumps(PRODUCTS))
    cfg = tmp / "serve.json"
    cfg.write_text(json.dumps({"rate_limits": {"enabled": False}, "stale_after_ms": 5000}))
    up = PriceUpstream(SYM, str(BASE), interval_s=0.1).start()
    srv = AlfaxServer(db_path=tmp / "alfax.db", extra_args=(
        "--feed", f"binance:{SYM}", "--binance-rest-url", up.rest_url, "--binance-ws-url", up.ws_url,
        "--clock-speed", str(int(SPEED)), "--products", str(products), "--demo-product", "e2e-2step",
        "--config", str(cfg)))
    operator = None
    try:
        srv.start()
        wait_for_market(srv.base_url, symbols=(SYM,), timeout=30)
        op = json.loads(Path(f"{srv.db_path}.operator.json").read_text())
        operator = Rest(srv.base_url, op["apiKey"], op["secretKey"])
        plain = operator.ok("POST", "/alfax/admin/accounts", {"balance": "10000", "alias": "clock"})
        clock_rest = Rest(srv.base_url, plain["apiKey"], plain["secretKey"])
        clock = VenueClock(SPEED)
        clock.calibrate(clock_rest)
        clock_rest.close()
        global CLOCK
        CLOCK = clock
        yield Venue(srv, up, operator, clock)
    finally:
        if operator is not None:
            operator.close()
        srv.stop()
        up.stop()
        if srv.proc and srv.proc.returncode not in (0, -2, 130, None):
            print(f"alfax serve exited with {srv.proc.returncode}; log tail:\n{srv.log_text()[-3000:]}")
        assert not up.errors, up.errors


# ============================================================================================== 1. pass → payout
def test_bot_passes_both_stages_and_is_paid_out(venue):
    srv, up, clock = venue.srv, venue.up, venue.clock
    rest = srv.rest()  # the demo key: account 1 is a STAGE_1 challenge of e2e-2step
    stream = UserStream(srv, rest)
    try:
        st = status(rest)
        assert (st["stage"], st["status"], st["productId"], st["accountId"]) == ("STAGE_1", "ACTIVE", "e2e-2step", 1)
        assert D(st["profitTarget"]) == Decimal("20") and st["minTradingDays"] == 2
        rules = rest.ok("GET", "/fapi/v1/challenge/rules")
        assert rules["currentStage"] == "STAGE_1" and rules["challengeId"] == st["challengeId"]
        challenge_id = st["challengeId"]
        qty = Decimal("0.1")

        # ---- day 1: +300 on 0.1 BTC = 29.99 gross, ~25 net: the target is met, one trading day is missing
        clock.ensure_window(rest, 4)
        buy, sell = round_trip(up, rest, qty, Decimal("300"))
        assert D(buy["avgPrice"]) == BASE + TICK and D(sell["avgPrice"]) == BASE + 300
        st = status(rest)
        assert st["stage"] == "STAGE_1" and st["status"] == "ACTIVE" and st["tradingDays"] == 1
        assert D(st["profitCurrent"]) >= D(st["profitTarget"]) and st["passMissing"] == ["minTradingDays"]
        day1_rollover = st["nextRolloverAt"]

        # ---- the rollover (12 s of wall time at most): the new day opens at the flat balance
        st = wait_until(lambda: (s := status(rest))["nextRolloverAt"] > day1_rollover and s, 20, "rollover")
        assert st["nextRolloverAt"] == day1_rollover + DAY_MS
        assert st["dayOpenEquity"] == st["walletBalance"] and st["status"] == "ACTIVE"
        stream.wait_update(lambda m: m["reason"] == "ROLLOVER" and m["accountId"] == 1, 10, "ROLLOVER update")

        # ---- day 2: the second trading day; the closing fill passes STAGE_1
        clock.ensure_window(rest, 4)
        round_trip(up, rest, qty, Decimal("300"))
        passed = stream.wait_update(lambda m: m["reason"] == "PASS", 10, "PASS update")
        assert (passed["accountId"], passed["stage"], passed["status"]) == (1, "STAGE_1", "PASSED")
        stage2_account = passed["nextAccountId"]
        assert stage2_account and stage2_account != 1

        # the same API key now trades the STAGE_2 account
        st = status(rest)
        assert (st["stage"], st["status"], st["accountId"], st["previousAccountId"]) == (
            "STAGE_2", "ACTIVE", stage2_account, 1)
        assert st["challengeId"] == challenge_id and D(st["walletBalance"]) == S and st["tradingDays"] == 0
        assert st["passMissing"] == ["profitTarget", "minTradingDays"]
        acct = rest.ok("GET", "/fapi/v2/account")
        assert acct["challenge"]["stage"] == "STAGE_2" and D(acct["totalWalletBalance"]) == S

        # ---- STAGE_2: 10 USDT and one trading day, passed on the closing fill -> FUNDED
        clock.ensure_window(rest, 4)
        round_trip(up, rest, qty, Decimal("300"))
        passed2 = stream.wait_update(lambda m: m["reason"] == "PASS" and m["stage"] == "STAGE_2", 10,
                                     "STAGE_2 PASS update")
        st = status(rest)
        assert (st["stage"], st["status"], st["accountId"]) == ("FUNDED", "ACTIVE", passed2["nextAccountId"])
        lc = rest.ok("GET", "/fapi/v1/challenge/lifecycle", {"challengeId": challenge_id})
        assert (lc["ChallengeID"], lc["Stage"], lc["Status"], lc["FailReason"]) == (challenge_id, "FUNDED", "ACTIVE", "")

        # ---- FUNDED: +1000 on 0.1 BTC, then a payout of 50 USDT (80 % split: 62.50 debited)
        round_trip(up, rest, qty, Decimal("1000"))
        st = status(rest)
        equity = D(st["currentEquity"])
        assert equity == D(st["walletBalance"]) > S and st["openPositions"] == 0
        available = ((equity - S) * Decimal("0.8")).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        assert D(st["payoutAvailable"]) == available
        elig = rest.ok("GET", "/fapi/v1/payout/eligibility", {"amount": str(available)})
        assert elig["blockers"] == [] and D(elig["available"]) == available

        po = rest.ok("POST", "/fapi/v1/payout", {"challengeId": challenge_id, "amount": "50.00"})
        assert po["status"] == "requested"
        pid = po["payoutId"]
        assert rest.ok("GET", "/fapi/v1/payout", {"id": pid})["Status"] == "requested"
        r = rest.signed("POST", "/fapi/v1/payout/approve", {"id": pid})  # a trader cannot approve
        assert r.status_code == 403 and r.json()["code"] == -1002, r.text
        # the operator key approves on the SDK's path (PascalCase PayoutState)
        decided = venue.operator.ok("POST", "/fapi/v1/payout/approve", {"id": pid})
        assert decided["Status"] == "paid" and decided["TxRef"], decided
        state = rest.ok("GET", "/fapi/v1/payout", {"id": pid})
        assert (state["Status"], state["TxRef"], state["FailReason"]) == ("paid", decided["TxRef"], "")
        assert D(state["Amount"]) == Decimal("50") and D(state["Debited"]) == Decimal("62.5")
        after = status(rest)
        assert D(after["walletBalance"]) == D(st["walletBalance"]) - Decimal("62.5")
        assert D(after["paidTotal"]) == Decimal("50")
        stream.wait_update(lambda m: m["reason"] == "PAYOUT", 10, "PAYOUT update")

        # ---- one cent over what is available now: rejected at approval, nothing debited
        avail2 = D(after["payoutAvailable"])
        assert avail2 == ((D(after["currentEquity"]) - S) * Decimal("0.8")).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        over = rest.ok("POST", "/fapi/v1/payout", {"challengeId": challenge_id, "amount": str(avail2 + Decimal("0.01"))})
        # (this time through the operator API: camelCase, the same gates)
        decided = venue.operator.ok("POST", "/alfax/admin/payouts/approve", {"id": over["payoutId"]})
        assert decided["status"] == "rejected" and "exceeds available" in decided["failReason"], decided
        state = rest.ok("GET", "/fapi/v1/payout", {"id": over["payoutId"]})
        assert state["Status"] == "rejected" and "exceeds available" in state["FailReason"], state
        assert D(status(rest)["walletBalance"]) == D(after["walletBalance"])
    finally:
        stream.close()
        rest.close()


# ============================================================================================== 2. daily breach
def test_mark_move_breaches_the_daily_limit_with_warnings_flatten_and_evidence(venue):
    srv, up, clock = venue.srv, venue.up, venue.clock
    demo = srv.rest()
    rest = purchase(demo, "e2e-tight", srv)
    stream = UserStream(srv, rest)
    try:
        move(up, rest, bid=BASE, mark=BASE)
        boundary = clock.ensure_window(rest, 7)
        qty = Decimal("0.1")
        market(rest, "BUY", qty)
        # orders that the breach must cancel: a resting limit and a protective stop
        rest.ok("POST", "/fapi/v1/order", {"symbol": SYM, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                           "price": str((BASE * Decimal("0.97")).quantize(TICK)), "quantity": "0.01"})
        rest.ok("POST", "/fapi/v1/order", {"symbol": SYM, "side": "SELL", "type": "STOP_MARKET",
                                           "stopPrice": "45000", "closePosition": "true", "workingType": "MARK_PRICE"})
        st = status(rest)
        e0, m0 = D(st["currentEquity"]), up.mark
        floor, limit = D(st["dailyFloorEquity"]), D(st["maxDailyDrawdown"])
        assert (floor, limit) == (S - 100, Decimal(100)) and st["warnings"] == []

        def mark_for(equity: Decimal) -> Decimal:  # equity moves by qty per unit of mark
            return (m0 + (equity - e0) / qty).quantize(Decimal("0.01"), rounding=ROUND_DOWN)

        ref = floor + limit
        # each move lands between two levels: exactly one new warning per move
        for pct, target in ((50, ref - limit * Decimal("0.65")), (80, ref - limit * Decimal("0.875")),
                            (95, ref - limit * Decimal("0.975"))):
            move(up, rest, mark=mark_for(target))
            st = wait_until(lambda: (s := status(rest))["warnings"] and s["warnings"][-1]["usedPct"] == pct and s,
                            10, f"{pct} % warning")
            assert st["status"] == "ACTIVE" and {"rule": "DAILY_DRAWDOWN", "usedPct": pct} in st["warnings"]
        breach_mark = mark_for(floor - 10)
        move(up, rest, mark=breach_mark)
        st = wait_until(lambda: (s := status(rest))["status"] == "FAILED" and s, 10, "FAILED")

        assert st["failReason"] == "DAILY_DRAWDOWN" and st["stage"] == "STAGE_1"
        ev = st["breach"]
        assert ev["rule"] == "DAILY_DRAWDOWN" and ev["marks"] == {SYM: str(breach_mark)}
        assert ev["time"] < boundary  # the whole scenario ran inside one challenge day
        assert D(ev["equity"]) <= D(ev["floor"]) == floor
        expected_eq = e0 + qty * (breach_mark - m0)
        assert D(ev["equity"]) == expected_eq, (ev, expected_eq)
        # flattened at the mark, every order cancelled
        assert position_amt(rest) == 0 and st["openPositions"] == 0
        assert rest.ok("GET", "/fapi/v1/openOrders", {"symbol": SYM}) == []
        assert rest.ok("GET", "/fapi/v1/openAlgoOrders", {"symbol": SYM}) == []
        last = max(rest.ok("GET", "/fapi/v1/userTrades", {"symbol": SYM}), key=lambda t: t["id"])
        assert last["side"] == "SELL" and D(last["price"]) == breach_mark and D(last["qty"]) == qty
        # the account is locked: a new order is refused naming the rule
        r = rest.signed("POST", "/fapi/v1/order", {"symbol": SYM, "side": "BUY", "type": "MARKET", "quantity": "0.01"})
        assert r.status_code == 400 and r.json()["code"] == -2010 and "DAILY_DRAWDOWN" in r.json()["msg"], r.text
        lc = rest.ok("GET", "/fapi/v1/challenge/lifecycle", {"challengeId": st["challengeId"]})
        assert (lc["Status"], lc["FailReason"]) == ("FAILED", "DAILY_DRAWDOWN") and lc["Breach"] == ev

        # the user stream: WARNING 50, 80, 95 then BREACH, in that order
        stream.wait_update(lambda m: m["reason"] == "BREACH", 10, "BREACH update")
        ups = stream.challenge_updates()
        order = []
        for i, m in enumerate(ups):
            if m["reason"] == "WARNING":
                order += [(i, w["usedPct"]) for w in m["newWarnings"] if w["rule"] == "DAILY_DRAWDOWN"]
            elif m["reason"] == "BREACH":
                order.append((i, "BREACH"))
        assert [x for _, x in order] == [50, 80, 95, "BREACH"], [(m["reason"], m["newWarnings"]) for m in ups]
        breach_msg = next(m for m in ups if m["reason"] == "BREACH")
        assert breach_msg["status"] == "FAILED" and breach_msg["breach"] == ev
    finally:
        stream.close()
        rest.close()
        move(up, demo, bid=BASE, mark=BASE)
        demo.close()


# ============================================================================================== 3. the check
def test_check_max_safe_quantity_is_honoured_to_the_step(venue):
    srv, up, clock = venue.srv, venue.up, venue.clock
    demo = srv.rest()
    stop = BASE - 500  # 49500.00: the stop the bot would attach
    try:
        def scenario(rest: Rest, qty: Decimal | None) -> tuple[dict, dict, int]:
            """(check answer for ``qty`` (None: ask with 0.001 to learn maxSafeQty), status after the stop-out,
            the rollover boundary the scenario ran before)."""
            move(up, rest, bid=BASE, mark=BASE)
            boundary = clock.ensure_window(rest, 6)
            params = {"symbol": SYM, "side": "BUY", "type": "MARKET", "stopPrice": str(stop)}
            if qty is None:
                probe = rest.ok("POST", "/fapi/v1/challenge/check", {**params, "quantity": "0.001"})
                qty = D(probe["maxSafeQty"])
            chk = rest.ok("POST", "/fapi/v1/challenge/check", {**params, "quantity": str(qty)})
            buy = market(rest, "BUY", qty)
            assert D(buy["avgPrice"]) == D(chk["estimatedFillPrice"]) == BASE + TICK
            rest.ok("POST", "/fapi/v1/order", {"symbol": SYM, "side": "SELL", "type": "STOP_MARKET",
                                               "stopPrice": str(stop), "closePosition": "true",
                                               "workingType": "MARK_PRICE"})
            # the book first (the stop's market order fills at the best bid = the stop price), then the mark
            move(up, rest, bid=stop)
            move(up, rest, mark=stop)
            wait_until(lambda: position_amt(rest) == 0, 10, "stopped out")
            last = max(rest.ok("GET", "/fapi/v1/userTrades", {"symbol": SYM}), key=lambda t: t["id"])
            assert last["side"] == "SELL" and D(last["price"]) == stop and D(last["qty"]) == qty, last
            return chk, status(rest), boundary

        # ---- maxSafeQty with a stop: bought and stopped out, equity stays above the floor
        a = purchase(demo, "e2e-tight", srv)
        try:
            chk, st, boundary = scenario(a, None)
            q = D(chk["maxSafeQty"])
            assert chk["decision"] == "allow" and D(chk["requestedQty"]) == q > 0, chk
            assert D(chk["roomDailyAfter"]) > 0
            risk = D(chk["proposedRisk"])
            # the check's model: entry fee + (fill - stop) x q + exit fee at the stop
            model = (TAKER * (BASE + TICK) * q).quantize(D8) + (BASE + TICK - stop) * q + (TAKER * stop * q).quantize(D8)
            assert risk == model, (risk, model)
            assert st["status"] == "ACTIVE" and st["nextRolloverAt"] == boundary, st  # no rollover meanwhile
            assert D(st["walletBalance"]) == D(st["currentEquity"]) == S - risk  # exactly what the check predicted
            assert D(st["currentEquity"]) > D(st["dailyFloorEquity"]) == S - 100
        finally:
            a.close()

        # ---- a fresh account, one step more: the check says "reduce"; stopped out, it breaches
        b = purchase(demo, "e2e-tight", srv)
        try:
            chk2, _, boundary = scenario(b, q + STEP)
            assert chk2["decision"] == "reduce" and D(chk2["maxSafeQty"]) == q, chk2
            risk2 = D(chk2["proposedRisk"])
            assert D(chk2["roomDailyAfter"]) <= 0 and S - risk2 <= S - 100 < S - risk
            st2 = wait_until(lambda: (s := status(b))["status"] == "FAILED" and s, 10, "FAILED after stop-out")
            assert st2["failReason"] == "DAILY_DRAWDOWN" and st2["breach"]["time"] < boundary
            assert D(st2["breach"]["equity"]) == S - risk2 <= D(st2["breach"]["floor"]) == S - 100
        finally:
            b.close()
    finally:
        move(up, demo, bid=BASE, mark=BASE)
        demo.close()


# ============================================================================================== operator key
def test_operator_key_reaches_the_sdk_payout_decisions(venue):
    """``POST /fapi/v1/payout/approve|reject`` are USER_DATA endpoints that demand the operator permission
    themselves: the operator key (permission OPERATOR only) must get past the edge's READ check to the payout
    logic (an unknown id: -4603), not be refused for its key (401/-2015, the bug this guards against)."""
    missing = "00000000-0000-4000-8000-000000000000"
    for path in ("/fapi/v1/payout/approve", "/fapi/v1/payout/reject"):
        r = venue.operator.signed("POST", path, {"id": missing, "reason": "test"})
        assert r.status_code == 400 and r.json()["code"] == -4603, (path, r.status_code, r.text)
