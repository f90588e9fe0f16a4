"""Headless V2 script strategy for the alfax Hummingbot check (run by ``hbot start ... --foreground``).

Copied by ``hb_runner.py`` into the Hummingbot install's ``scripts/`` directory, with its config
``conf_alfax_hb_check.yml`` in ``conf/scripts/``. Once the connector is ready it does one trading cycle on
``binance_perpetual``:

1. ONEWAY position mode and the configured leverage;
2. a MARKET BUY that opens a long, plus a LIMIT BUY 4 % under the bid (rests on the venue);
3. ``step_seconds`` later: cancels the LIMIT and closes the long with a reduce-only MARKET SELL
   (``PositionAction.CLOSE`` -> ``reduceOnly=true`` in ONEWAY mode);
4. reports ``done``.

Progress (client order ids, the connector's events, the current phase) goes to ``report_file`` as JSON after every
change, so the runner can stop the bot as soon as the cycle is done and check the orders on the venue. A phase that
does not finish within ``phase_timeout`` seconds is reported as ``stuck``.
"""

import json
import os
import time
from decimal import ROUND_UP, Decimal

from pydantic import Field

from hummingbot.core.data_type.common import MarketDict, OrderType, PositionAction, PositionMode
from hummingbot.core.event.events import (
    BuyOrderCompletedEvent,
    BuyOrderCreatedEvent,
    MarketOrderFailureEvent,
    OrderCancelledEvent,
    OrderFilledEvent,
    SellOrderCompletedEvent,
    SellOrderCreatedEvent,
)
from hummingbot.strategy.strategy_v2_base import StrategyV2Base, StrategyV2ConfigBase


class AlfaxHbCheckConfig(StrategyV2ConfigBase):
    script_file_name: str = os.path.basename(__file__)
    connector_name: str = "binance_perpetual"
    trading_pair: str = "BTC-USDT"
    leverage: int = 5
    order_notional: Decimal = Decimal("150")
    step_seconds: float = 8.0
    phase_timeout: float = 60.0
    report_file: str = Field(default="")

    def update_markets(self, markets: MarketDict) -> MarketDict:
        return markets.add_or_update(self.connector_name, self.trading_pair)


class AlfaxHbCheck(StrategyV2Base):
    def __init__(self, connectors, config: AlfaxHbCheckConfig):
        super().__init__(connectors, config)
        self.config = config
        self.phase = "wait_ready"
        self.phase_since = time.time()
        self.orders = {}
        self.events = []
        self.qty = None
        self.failure = ""

    # ------------------------------------------------------------------ helpers
    @property
    def connector(self):
        return self.connectors[self.config.connector_name]

    def _enter(self, phase: str) -> None:
        self.logger().info(f"ALFAX CHECK phase {self.phase} -> {phase}")
        self.phase, self.phase_since = phase, time.time()
        self._save()

    def _save(self) -> None:
        if not self.config.report_file:
            return
        data = {"phase": self.phase, "orders": self.orders, "qty": str(self.qty), "failure": self.failure,
                "events": self.events, "position_mode": str(self.connector.position_mode),
                "leverage": self.connector.get_leverage(self.config.trading_pair), "time": time.time()}
        tmp = self.config.report_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, default=str)
        os.replace(tmp, self.config.report_file)

    def _seen(self, kind: str, order_id: str) -> bool:
        return f"{kind}:{order_id}" in self.events

    def _record(self, kind: str, order_id: str, extra: str = "") -> None:
        self.events.append(f"{kind}:{order_id}")
        self.logger().info(f"ALFAX CHECK event {kind} {order_id} {extra}".rstrip())
        self._save()

    # ------------------------------------------------------------------ cycle
    def on_tick(self):
        pair = self.config.trading_pair
        if self.phase in ("done", "stuck"):
            return
        if time.time() - self.phase_since > self.config.phase_timeout:
            self.failure = f"phase {self.phase} did not finish within {self.config.phase_timeout:g}s"
            self._enter("stuck")
            return
        if self.phase == "wait_ready":
            self.connector.set_position_mode(PositionMode.ONEWAY)
            self.connector.set_leverage(pair, self.config.leverage)
            self._enter("setup")
        elif self.phase == "setup":
            if (self.connector.position_mode == PositionMode.ONEWAY
                    and self.connector.get_leverage(pair) == self.config.leverage):
                self._open()
        elif self.phase == "opened":
            if (self._seen("BuyOrderCompleted", self.orders["market_open"])
                    and self._seen("BuyOrderCreated", self.orders["limit_cancel"])
                    and time.time() - self.phase_since >= self.config.step_seconds):
                self.cancel(self.config.connector_name, pair, self.orders["limit_cancel"])
                self.orders["market_close"] = self.sell(self.config.connector_name, pair, self.qty, OrderType.MARKET,
                                                        position_action=PositionAction.CLOSE)
                self._enter("closing")
        elif self.phase == "closing":
            if (self._seen("SellOrderCompleted", self.orders["market_close"])
                    and self._seen("OrderCancelled", self.orders["limit_cancel"])):
                self._enter("done")

    def _open(self) -> None:
        pair = self.config.trading_pair
        rule = self.connector.trading_rules[pair]
        ask = self.connector.get_price(pair, True)
        bid = self.connector.get_price(pair, False)
        step = rule.min_base_amount_increment
        raw = max(rule.min_notional_size * Decimal("1.5"), self.config.order_notional) / ask
        self.qty = max((raw / step).to_integral_value(rounding=ROUND_UP) * step, rule.min_order_size)
        # 4 % under the bid: far from the market, inside the venue's PERCENT_PRICE band (mark x 0.95)
        limit_px = self.connector.quantize_order_price(pair, bid * Decimal("0.96"))
        self.orders["market_open"] = self.buy(self.config.connector_name, pair, self.qty, OrderType.MARKET,
                                              position_action=PositionAction.OPEN)
        self.orders["limit_cancel"] = self.buy(self.config.connector_name, pair, self.qty, OrderType.LIMIT,
                                               limit_px, position_action=PositionAction.OPEN)
        self.logger().info(f"ALFAX CHECK opened: qty {self.qty} market {self.orders['market_open']} "
                           f"limit {self.orders['limit_cancel']} @ {limit_px}")
        self._enter("opened")

    # ------------------------------------------------------------------ connector events
    def did_create_buy_order(self, event: BuyOrderCreatedEvent):
        self._record("BuyOrderCreated", event.order_id)

    def did_create_sell_order(self, event: SellOrderCreatedEvent):
        self._record("SellOrderCreated", event.order_id)

    def did_fill_order(self, event: OrderFilledEvent):
        self._record("OrderFilled", event.order_id, f"{event.trade_type.name} {event.amount} @ {event.price}")

    def did_complete_buy_order(self, event: BuyOrderCompletedEvent):
        self._record("BuyOrderCompleted", event.order_id)

    def did_complete_sell_order(self, event: SellOrderCompletedEvent):
        self._record("SellOrderCompleted", event.order_id)

    def did_cancel_order(self, event: OrderCancelledEvent):
        self._record("OrderCancelled", event.order_id)

    def did_fail_order(self, event: MarketOrderFailureEvent):
        self.failure = f"order {event.order_id} failed: {event.error_message}"
        self._record("OrderFailure", event.order_id, event.error_message or "")
        self._enter("stuck")

    def format_status(self) -> str:
        return f"alfax check: phase {self.phase}, orders {self.orders}, events {len(self.events)}"
