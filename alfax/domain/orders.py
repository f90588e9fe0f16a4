"""Orders, algo (conditional) orders and trades.

``Order`` and ``AlgoOrder`` are mutable entities owned by the engine; events carry ``copy()``-ed snapshots
so consumers never observe later mutation. ``Trade`` is immutable and keeps its evidence: the reference
book level or reference trade it was priced from.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from .enums import AlgoStatus, OrderStatus, OrderType, PositionSide, Side, TimeInForce, WorkingType


@dataclass(slots=True)
class Order:
    order_id: int
    account_id: int
    symbol: str
    side: Side
    type: OrderType  # LIMIT / MARKET (conditional orders become one of these when triggered) / LIQUIDATION
    orig_type: OrderType  # what the client asked for (STOP_MARKET, ... or same as type)
    quantity: int  # qty raw (origQty); for closePosition the quantity fixed at trigger time
    price: int  # price raw; 0 for MARKET
    time_in_force: TimeInForce
    position_side: PositionSide
    client_order_id: str
    reduce_only: bool = False
    close_position: bool = False
    stop_price: int = 0
    working_type: WorkingType = WorkingType.CONTRACT_PRICE
    price_protect: bool = False
    activation_price: int = 0
    callback_rate: int = 0
    good_till_date: int = 0
    status: OrderStatus = OrderStatus.NEW
    executed_qty: int = 0  # qty raw
    cum_quote: int = 0  # USDT raw (sum of price*qty of fills) -> avgPrice = cum_quote / executed_qty
    time: int = 0  # creation ms
    update_time: int = 0
    reserved_margin: int = 0  # initial margin held for the unfilled part (USDT raw)
    algo_id: int = 0  # set when this order was created by a triggered algo order

    @property
    def remaining(self) -> int:
        return self.quantity - self.executed_qty

    @property
    def is_open(self) -> bool:
        return self.status is OrderStatus.NEW or self.status is OrderStatus.PARTIALLY_FILLED

    def copy(self) -> "Order":
        return copy.copy(self)


@dataclass(slots=True)
class AlgoOrder:
    """A conditional order (STOP*, TAKE_PROFIT*, TRAILING_STOP_MARKET) waiting for its trigger."""

    algo_id: int
    account_id: int
    symbol: str
    side: Side
    order_type: OrderType
    quantity: int
    price: int
    trigger_price: int
    time_in_force: TimeInForce
    position_side: PositionSide
    client_algo_id: str
    reduce_only: bool = False
    close_position: bool = False
    working_type: WorkingType = WorkingType.CONTRACT_PRICE
    price_protect: bool = False
    activation_price: int = 0
    callback_rate: int = 0
    good_till_date: int = 0
    status: AlgoStatus = AlgoStatus.NEW
    create_time: int = 0
    update_time: int = 0
    trigger_time: int = 0
    actual_order_id: int = 0
    actual_price: int = 0  # avg fill price raw of the triggered order
    actual_qty: int = 0
    activated: bool = False  # trailing: activation price reached
    extreme_price: int = 0  # trailing: best price seen since activation (high for SELL, low for BUY)
    via_algo_api: bool = True  # False when placed through /fapi/v1/order (legacy clients see an orderId)
    reserved_margin: int = 0
    order_id: int = 0  # legacy orderId (from the order counter) when via_algo_api is False; 0 otherwise

    @property
    def is_open(self) -> bool:
        return self.status is AlgoStatus.NEW or self.status is AlgoStatus.TRIGGERING

    def copy(self) -> "AlgoOrder":
        return copy.copy(self)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a fill was priced from: a reference book level, a reference trade, or the mark price."""

    source: str  # "book" | "trade" | "quote" | "mark" (liquidation)
    ref_id: int  # reference book update id or reference trade id
    ref_price: int  # the reference price seen
    ref_qty: int  # the reference quantity available at that price (after own consumption)


@dataclass(frozen=True, slots=True)
class Trade:
    trade_id: int
    order_id: int
    account_id: int
    symbol: str
    side: Side
    position_side: PositionSide
    price: int
    qty: int
    quote_qty: int  # USDT raw
    commission: int  # USDT raw, positive = paid
    realized_pnl: int  # USDT raw
    maker: bool
    time: int
    evidence: Evidence | None = field(default=None)
