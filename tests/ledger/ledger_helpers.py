"""Shared builders for the ledger tests: hypothesis strategies from type hints, sample domain objects."""

from __future__ import annotations

import dataclasses
import types
import typing
from enum import Enum

from hypothesis import strategies as st

from alfax.domain.enums import (
    AlgoStatus, ExecutionType, IncomeType, OrderStatus, OrderType, PositionSide, Side, TimeInForce,
)
from alfax.domain.events import AlgoUpdated, Income, OrderUpdated
from alfax.domain.orders import AlgoOrder, Evidence, Order, Trade

RAW_INTS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=-(10**22), max_value=10**22),  # beyond 64 bits: MAX_RAW
    st.sampled_from([0, 1, -1, 2**63, -(2**63) - 1, 2**64]),
)
TEXT = st.text(max_size=20)


def strategy_for(tp):
    if tp is int:
        return RAW_INTS
    if tp is str:
        return TEXT
    if tp is bool:
        return st.booleans()
    if tp is type(None):
        return st.none()
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*[strategy_for(a) for a in typing.get_args(tp)])
    if isinstance(tp, type) and issubclass(tp, Enum):
        return st.sampled_from(list(tp))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return builds_all(tp)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(strategy_for(args[0]), max_size=4).map(tuple)
        return st.tuples(*[strategy_for(a) for a in args])
    if origin is frozenset:
        return st.frozensets(strategy_for(typing.get_args(tp)[0]), max_size=4)
    raise NotImplementedError(tp)


def builds_all(cls):
    """Every field drawn (defaults included), so omission-of-defaults in the codec is exercised too."""
    hints = typing.get_type_hints(cls)
    return st.builds(cls, **{f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(cls)})


def order(order_id, account_id=1, symbol="BTCUSDT", time=1000, status=OrderStatus.NEW, coid=None, **kw) -> Order:
    return Order(
        order_id=order_id, account_id=account_id, symbol=symbol, side=Side.BUY, type=OrderType.LIMIT,
        orig_type=OrderType.LIMIT, quantity=10, price=6_500_000, time_in_force=TimeInForce.GTC,
        position_side=PositionSide.BOTH, client_order_id=coid or f"c{order_id}", status=status, time=time,
        update_time=time, **kw,
    )


def trade(trade_id, order_id, account_id=1, symbol="BTCUSDT", time=1000) -> Trade:
    return Trade(
        trade_id=trade_id, order_id=order_id, account_id=account_id, symbol=symbol, side=Side.BUY,
        position_side=PositionSide.BOTH, price=6_500_000, qty=1, quote_qty=65_000_00000000 // 1000,
        commission=2_600_000, realized_pnl=0, maker=False, time=time,
        evidence=Evidence("book", 77, 6_500_000, 5),
    )


def algo(algo_id, account_id=1, symbol="BTCUSDT", create_time=1000, status=AlgoStatus.NEW, caid=None) -> AlgoOrder:
    return AlgoOrder(
        algo_id=algo_id, account_id=account_id, symbol=symbol, side=Side.SELL, order_type=OrderType.STOP_MARKET,
        quantity=5, price=0, trigger_price=6_000_000, time_in_force=TimeInForce.GTC, position_side=PositionSide.BOTH,
        client_algo_id=caid or f"a{algo_id}", status=status, create_time=create_time, update_time=create_time,
    )


def order_event(seq, o: Order, exec_type=ExecutionType.NEW, t: Trade | None = None) -> OrderUpdated:
    return OrderUpdated(seq=seq, ts=o.update_time, account_id=o.account_id, order=o, exec_type=exec_type, trade=t)


def income_event(seq, account_id=1, income_type=IncomeType.COMMISSION, amount=-100, symbol="BTCUSDT", ts=1000,
                 tran_id=None) -> Income:
    return Income(seq=seq, ts=ts, account_id=account_id, tran_id=tran_id or seq, income_type=income_type,
                  amount=amount, symbol=symbol, trade_id=0, info="")


def algo_event(seq, a: AlgoOrder) -> AlgoUpdated:
    return AlgoUpdated(seq=seq, ts=a.update_time, account_id=a.account_id, algo=a)
