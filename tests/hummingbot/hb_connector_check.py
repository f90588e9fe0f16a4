"""Connector-level Hummingbot check: the unmodified ``binance_perpetual`` connector against a running alfax.

Runs under the Hummingbot venv (Python 3.12), started by ``hb_runner.py``:

    ALFAX_HB_REST_URL=http://127.0.0.1:PORT/fapi/ ALFAX_HB_WS_URL=ws://127.0.0.1:PORT/ \
    PYTHONPATH=tests/hummingbot/pypath  python hb_connector_check.py --key K --secret S --report out.json

Only the two URL constants are changed (by ``pypath/sitecustomize.py``, or here if it is not on the path).
Steps, each bounded: the connector reaches ``ready`` (symbol map, order-book snapshot + depth stream, balances,
trading rules, funding info, user stream) -> ONEWAY position mode and leverage -> MARKET BUY (open) filled ->
position seen -> MARKET SELL reduce-only (close) filled -> position gone -> LIMIT BUY far below the market
created (open on the venue) and cancelled. Every step waits for the connector's own events (OrderFilled,
Buy/SellOrderCompleted, BuyOrderCreated, OrderCancelled), i.e. what the venue's REST answers and user-data
stream made Hummingbot believe. The client order ids and timings are written to ``--report`` for the REST-side
verification in ``hb_runner.py``. Exit 0 = all steps passed; 1 = a step failed (the message says which).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from decimal import ROUND_UP, Decimal
from pathlib import Path

import hummingbot.connector.derivative.binance_perpetual.binance_perpetual_constants as CONSTANTS

T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"[hb-connector {time.monotonic() - T0:6.1f}s] {msg}", flush=True)


class StepFailed(Exception):
    pass


def patch_urls() -> None:
    rest, ws = os.environ.get("ALFAX_HB_REST_URL", ""), os.environ.get("ALFAX_HB_WS_URL", "")
    if not rest or not ws:
        raise SystemExit("ALFAX_HB_REST_URL and ALFAX_HB_WS_URL must be set")
    if CONSTANTS.PERPETUAL_BASE_URL != rest or CONSTANTS.PERPETUAL_WS_URL != ws:
        CONSTANTS.PERPETUAL_BASE_URL, CONSTANTS.PERPETUAL_WS_URL = rest, ws  # sitecustomize not on the path
    log(f"PERPETUAL_BASE_URL={CONSTANTS.PERPETUAL_BASE_URL} PERPETUAL_WS_URL={CONSTANTS.PERPETUAL_WS_URL}")


async def main_async(args) -> int:
    from hummingbot.connector.derivative.binance_perpetual.binance_perpetual_derivative import (
        BinancePerpetualDerivative,
    )
    from hummingbot.core.clock import Clock, ClockMode
    from hummingbot.core.data_type.common import OrderType, PositionAction, PositionMode
    from hummingbot.core.event.event_logger import EventLogger
    from hummingbot.core.event.events import AccountEvent, MarketEvent

    pair = args.pair
    report: dict = {"pair": pair, "orders": {}, "timings": {}, "steps": []}
    report_path = Path(args.report)

    def save() -> None:
        report_path.write_text(json.dumps(report, indent=2, default=str))

    connector = BinancePerpetualDerivative(
        binance_perpetual_api_key=args.key,
        binance_perpetual_api_secret=args.secret,
        trading_pairs=[pair],
        trading_required=True,
    )
    events = EventLogger()
    for tag in (*MarketEvent, AccountEvent.PositionModeChangeSucceeded, AccountEvent.PositionModeChangeFailed):
        connector.add_listener(tag, events)

    def find_event(kind: str, order_id: str | None = None):
        for e in events.event_log:
            if type(e).__name__ == kind and (order_id is None or getattr(e, "order_id", None) == order_id):
                return e
        return None

    def failure_for(order_id: str) -> str | None:
        e = find_event("MarketOrderFailureEvent", order_id)
        return None if e is None else f"order {order_id} failed in Hummingbot: {getattr(e, 'error_message', e)}"

    async def wait_until(what: str, pred, timeout: float, order_id: str | None = None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = pred()
            if value:
                return value
            if order_id and (msg := failure_for(order_id)):
                raise StepFailed(f"{what}: {msg}")
            await asyncio.sleep(0.1)
        raise StepFailed(f"{what}: not within {timeout:g}s")

    async def step(name: str, coro):
        t = time.monotonic()
        log(f"step: {name}")
        result = await coro
        dt = round(time.monotonic() - t, 2)
        report["timings"][name] = dt
        report["steps"].append(name)
        save()
        log(f"ok: {name} ({dt}s)")
        return result

    clock = Clock(ClockMode.REALTIME, tick_size=1.0)
    clock.add_iterator(connector)
    rc = 1
    with clock:
        clock_task = asyncio.ensure_future(clock.run())
        try:
            # ---- 1. ready
            async def ready():
                last_print = 0.0
                deadline = time.monotonic() + args.ready_timeout
                while time.monotonic() < deadline:
                    if connector.ready:
                        return
                    if time.monotonic() - last_print > 5:
                        last_print = time.monotonic()
                        log(f"  status_dict={connector.status_dict}")
                    await asyncio.sleep(0.1)
                missing = [k for k, v in connector.status_dict.items() if not v]
                raise StepFailed(f"connector not ready after {args.ready_timeout:g}s; not initialised: {missing} "
                                 f"(user_stream_initialized needs any frame on /private/ws, e.g. the pong; "
                                 f"order_books_initialized needs the depth snapshot and the public/stream socket)")
            await step("ready", ready())
            report["status_dict"] = connector.status_dict
            rule = connector.trading_rules[pair]
            report["trading_rule"] = {k: str(getattr(rule, k)) for k in (
                "min_order_size", "min_price_increment", "min_base_amount_increment", "min_notional_size")}
            report["balance_USDT"] = str(connector.get_balance("USDT"))
            log(f"  trading rule {report['trading_rule']}, USDT balance {report['balance_USDT']}")
            if connector.get_balance("USDT") <= 0:
                raise StepFailed("USDT balance is 0 after ready (GET /fapi/v2/account assets[].walletBalance)")

            # ---- 2. position mode + leverage
            async def setup():
                connector.set_position_mode(PositionMode.ONEWAY)
                # success and failure both arrive as a PositionModeChangeEvent; the mode tells them apart
                ev = await wait_until("position mode ONEWAY", lambda: find_event("PositionModeChangeEvent"), 15)
                if connector.position_mode != PositionMode.ONEWAY:
                    raise StepFailed(f"position mode is {connector.position_mode} after set_position_mode(ONEWAY) "
                                     f"({getattr(ev, 'message', '')})")
                connector.set_leverage(pair, args.leverage)
                await wait_until(f"leverage {args.leverage}", lambda: connector.get_leverage(pair) == args.leverage, 15)
            await step("position_mode_and_leverage", setup())

            # ---- 3. size the orders from the live book and the venue's rules
            book = connector.get_order_book(pair)
            best_bid, best_ask = Decimal(str(book.get_price(False))), Decimal(str(book.get_price(True)))
            step_size = rule.min_base_amount_increment
            raw = max(rule.min_notional_size * Decimal("1.5"), Decimal(args.notional)) / best_ask
            qty = max((raw / step_size).to_integral_value(rounding=ROUND_UP) * step_size, rule.min_order_size)
            qty = connector.quantize_order_amount(pair, qty)
            report["qty"], report["best_bid"], report["best_ask"] = str(qty), str(best_bid), str(best_ask)
            log(f"  book {best_bid} / {best_ask}; order quantity {qty}")

            def position_amount() -> Decimal:
                return sum((p.amount for p in connector.account_positions.values() if p.trading_pair == pair),
                           Decimal(0))

            # ---- 4. MARKET open
            async def market_open():
                oid = connector.buy(pair, qty, OrderType.MARKET, Decimal("NaN"), position_action=PositionAction.OPEN)
                report["orders"]["market_open"] = oid
                save()
                t = time.monotonic()
                await wait_until(f"MARKET BUY {oid} filled", lambda: find_event("OrderFilledEvent", oid), 30, oid)
                # REST polling of fills runs every 120 s while the user stream is alive (10 s at best): a fill
                # seen within a few seconds came from the user-data stream's ORDER_TRADE_UPDATE.
                report["fill_latency_s"] = round(time.monotonic() - t, 2)
                if report["fill_latency_s"] > args.fill_latency:
                    raise StepFailed(f"MARKET BUY {oid}: fill seen after {report['fill_latency_s']}s, not through the "
                                     f"user-data stream (ORDER_TRADE_UPDATE on /private/ws) within {args.fill_latency:g}s")
                await wait_until(f"MARKET BUY {oid} completed",
                                 lambda: find_event("BuyOrderCompletedEvent", oid), 30, oid)
                await wait_until(f"long position of {qty} {pair} after the buy (ACCOUNT_UPDATE or v2/positionRisk)",
                                 lambda: position_amount() == qty, args.position_timeout)
            await step("market_open_filled", market_open())

            # ---- 5. MARKET close, reduce-only
            async def market_close():
                oid = connector.sell(pair, qty, OrderType.MARKET, Decimal("NaN"), position_action=PositionAction.CLOSE)
                report["orders"]["market_close"] = oid
                save()
                await wait_until(f"MARKET SELL (reduceOnly) {oid} filled",
                                 lambda: find_event("OrderFilledEvent", oid), 30, oid)
                await wait_until(f"MARKET SELL {oid} completed",
                                 lambda: find_event("SellOrderCompletedEvent", oid), 30, oid)
                await wait_until("position closed after the reduce-only sell", lambda: position_amount() == 0,
                                 args.position_timeout)
            await step("market_close_filled", market_close())

            # ---- 6. LIMIT far from the market, then cancel
            async def limit_cancel():
                # 4 % under the bid: far from the market, inside the venue's PERCENT_PRICE band (-4024 below mark x 0.95)
                px = connector.quantize_order_price(pair, best_bid * Decimal("0.96"))
                report["limit_price"] = str(px)
                oid = connector.buy(pair, qty, OrderType.LIMIT, px, position_action=PositionAction.OPEN)
                report["orders"]["limit_cancel"] = oid
                save()
                await wait_until(f"LIMIT BUY {oid} @ {px} created",
                                 lambda: find_event("BuyOrderCreatedEvent", oid), 30, oid)
                await wait_until(f"LIMIT BUY {oid} has an exchange order id",
                                 lambda: (o := connector.in_flight_orders.get(oid)) is not None
                                 and o.exchange_order_id is not None, 15, oid)
                await asyncio.sleep(args.limit_rest_seconds)
                if find_event("OrderFilledEvent", oid):
                    raise StepFailed(f"LIMIT BUY {oid} at {px} (4% under the bid) was filled")
                connector.cancel(pair, oid)
                await wait_until(f"LIMIT BUY {oid} cancelled", lambda: find_event("OrderCancelledEvent", oid), 30, oid)
            await step("limit_placed_and_cancelled", limit_cancel())

            # ---- 7. the streams kept the book and the mark price alive: diffs applied on top of the snapshot
            ob = connector.get_order_book(pair)
            fi = connector.get_funding_info(pair)
            report["book"] = {"snapshot_uid": ob.snapshot_uid, "last_diff_uid": ob.last_diff_uid,
                              "last_trade_price": ob.last_trade_price, "mark_price": str(fi.mark_price),
                              "index_price": str(fi.index_price), "funding_rate": str(fi.rate)}
            log(f"  order book / funding: {report['book']}")
            if not ob.last_diff_uid > ob.snapshot_uid:
                raise StepFailed(f"no depth diff applied on top of the REST snapshot (snapshot_uid={ob.snapshot_uid}, "
                                 f"last_diff_uid={ob.last_diff_uid}): public/stream @depth U/u/pu chain?")
            report["events"] = sorted({type(e).__name__ for e in events.event_log})
            report["passed"] = True
            rc = 0
        except StepFailed as e:
            report["passed"] = False
            report["failure"] = str(e)
            report["status_dict"] = connector.status_dict
            log(f"FAILED: {e}")
        finally:
            report["events_seen"] = [f"{type(e).__name__}:{getattr(e, 'order_id', '')}" for e in events.event_log]
            report["timings"]["total"] = round(time.monotonic() - T0, 2)
            save()
            try:
                await asyncio.wait_for(connector.stop_network(), 10)
            except Exception as e:  # noqa: BLE001 - shutdown noise must not hide the verdict
                log(f"stop_network: {e!r}")
            clock_task.cancel()
            await asyncio.gather(clock_task, return_exceptions=True)  # Clock.run_til raises on cancel
    return rc


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--key", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--pair", default="BTC-USDT")
    p.add_argument("--leverage", type=int, default=5)
    p.add_argument("--notional", default="150", help="USDT notional per order (raised to 1.5x MIN_NOTIONAL)")
    p.add_argument("--ready-timeout", type=float, default=60)
    p.add_argument("--position-timeout", type=float, default=20)
    p.add_argument("--limit-rest-seconds", type=float, default=2)
    p.add_argument("--fill-latency", type=float, default=5, help="max seconds from MARKET order to its fill event")
    p.add_argument("--report", required=True)
    p.add_argument("--log", default="hb_connector.log", help="Hummingbot's own log lines (INFO)")
    args = p.parse_args()
    logging.basicConfig(filename=args.log, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    patch_urls()
    try:
        return asyncio.run(asyncio.wait_for(main_async(args), args.ready_timeout + 240))
    except asyncio.TimeoutError:
        log("FAILED: overall time limit")
        return 1


if __name__ == "__main__":
    sys.exit(main())
