"""Order commands: place (regular and conditional), cancel, cancel-all, amend, countdown cancel-all; and the
trigger → child order path of algo orders."""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from ..domain import commands as C
from ..domain.enums import (AlgoStatus, ExecutionType, OrderStatus, OrderType, Side, TimeInForce)
from ..domain.errors import Err, VenueError
from ..domain.money import div_round_half_up
from ..domain.events import AlgoUpdated, OrderUpdated, TriggerRejected
from ..domain.orders import AlgoOrder, Order
from . import challenges
from .copying import copy_algo, copy_order
from . import matching, risk
from .settlement import finish
from .triggers import would_fire

if TYPE_CHECKING:  # pragma: no cover
    from .venue import Venue


def place_order(v: "Venue", cmd: C.PlaceOrder) -> None:
    risk.check_fresh(v, cmd.symbol)  # an unknown symbol or account is refused by the checks that follow
    if v.challenges:
        challenges.check_order(v, cmd)
    if cmd.type.is_conditional:
        place_algo(v, cmd)
    else:
        place_regular(v, cmd)


# ====================================================================== regular orders (LIMIT / MARKET)
def place_regular(v: "Venue", cmd: C.PlaceOrder, algo: AlgoOrder | None = None, order_id: int = 0) -> Order:
    inst = risk.instrument(v, cmd.symbol)
    acct = risk.account(v, cmd.account_id)
    now = v.now
    typ = cmd.type
    if typ is not OrderType.LIMIT and typ is not OrderType.MARKET:
        raise VenueError(Err.INVALID_ORDER_TYPE)
    risk.check_client_id(v, acct.account_id, cmd.client_order_id)
    risk.check_position_side(acct, cmd.position_side, cmd.reduce_only)
    if cmd.close_position:
        raise VenueError(Err.PARAM_NOT_REQUIRED, param="closePosition")
    market = typ is OrderType.MARKET
    risk.check_qty(inst, cmd.quantity, market)
    mkt = v.markets[cmd.symbol]
    mark = risk.mark_for(v, cmd.symbol)
    tif = cmd.time_in_force
    if market:
        if not mkt.has_book:
            raise VenueError(Err.UNABLE_TO_FILL)
        tif = TimeInForce.GTC
    else:
        risk.check_price(inst, cmd.price)
        risk.check_percent_price(inst, cmd.price, mark)
        if algo is None:
            risk.check_gtd(tif, cmd.good_till_date, now)
    dual = acct.dual_side
    reducing = risk.is_reducing(dual, cmd.side, cmd.position_side, cmd.reduce_only, False)
    reducible = risk.closable(v, acct.account_id, cmd.symbol, cmd.side, cmd.position_side)
    if reducing and reducible == 0:
        raise VenueError(Err.REDUCE_ONLY_REJECT)
    if len(v.sym_orders.get((acct.account_id, cmd.symbol), ())) >= inst.max_num_orders:
        raise VenueError(Err.MAX_OPEN_ORDER_EXCEEDED)
    buy = cmd.side is Side.BUY
    fill_cap = min(cmd.quantity, reducible) if reducing else cmd.quantity
    plan = mkt.walk(buy, 0 if market else cmd.price, fill_cap)
    if not reducing and algo is None:
        ref = cmd.price if not market else (plan[-1][0] if plan else mkt.reference_price())
        risk.check_min_notional(inst, ref, cmd.quantity)
    if not market:
        if tif is TimeInForce.GTX and plan:
            raise VenueError(Err.GTX_ORDER_REJECT)
        if tif is TimeInForce.FOK and sum(p[1] for p in plan) < cmd.quantity:
            raise VenueError(Err.FOK_ORDER_REJECT)
    if not reducing:
        if market:
            mprice = max(plan[-1][0], mark) if buy and plan else (plan[-1][0] if plan else mark)
            mprice = mprice or mark
            free = reducible
        else:
            mprice = cmd.price
            free = risk.free_reducible(v, acct.account_id, cmd.symbol, cmd.side, cmd.position_side)
        risk.check_margin(v, acct, inst, cmd.side, cmd.position_side, cmd.quantity, mprice, free)

    # ---------------------------------------------------------------- accepted: mutate from here on
    oid = order_id or v.new_order_id()
    order = Order(
        order_id=oid, account_id=acct.account_id, symbol=cmd.symbol, side=cmd.side, type=typ,
        orig_type=algo.order_type if algo is not None else typ, quantity=cmd.quantity,
        price=0 if market else cmd.price, time_in_force=tif, position_side=cmd.position_side,
        client_order_id=cmd.client_order_id or f"x-alfax-{oid}", reduce_only=cmd.reduce_only,
        close_position=algo.close_position if algo is not None else False,
        stop_price=algo.trigger_price if algo is not None else 0,
        working_type=algo.working_type if algo is not None else cmd.working_type,
        price_protect=algo.price_protect if algo is not None else cmd.price_protect,
        activation_price=algo.activation_price if algo is not None else 0,
        callback_rate=algo.callback_rate if algo is not None else 0,
        good_till_date=cmd.good_till_date if tif is TimeInForce.GTD else 0,
        time=now, update_time=now, algo_id=algo.algo_id if algo is not None else 0,
    )
    v.register_order(order)
    v.emit(OrderUpdated, account_id=order.account_id, order=copy_order(order), exec_type=ExecutionType.NEW)
    matching.take(v, order, plan, reducing)
    settle_remainder(v, order, market)
    return order


def settle_remainder(v: "Venue", order: Order, market: bool) -> None:
    """After the taker part: rest the rest (GTC/GTD LIMIT) or expire it (MARKET, IOC, book exhausted)."""
    if not order.is_open:
        return
    acct = v.accounts[order.account_id]
    tif = order.time_in_force
    if market or tif is TimeInForce.IOC or tif is TimeInForce.FOK:
        finish(v, order, OrderStatus.EXPIRED, ExecutionType.EXPIRED)
        return
    reducing = risk.is_reducing(acct.dual_side, order.side, order.position_side, order.reduce_only,
                                order.close_position)
    reducible = risk.closable(v, order.account_id, order.symbol, order.side, order.position_side)
    if reducing and reducible == 0:
        finish(v, order, OrderStatus.EXPIRED, ExecutionType.EXPIRED)
        return
    rest(v, order, reducing, reducible)


def rest(v: "Venue", order: Order, reducing: bool, reducible: int) -> None:
    risk.reserve_one(v, order)
    prio = v.new_prio()
    v.order_prio[order.order_id] = prio
    v.resting[order.symbol].add(order, prio)


# ====================================================================== conditional (algo) orders
def place_algo(v: "Venue", cmd: C.PlaceOrder) -> AlgoOrder:
    inst = risk.instrument(v, cmd.symbol)
    acct = risk.account(v, cmd.account_id)
    now = v.now
    typ = cmd.type
    risk.check_client_id(v, acct.account_id, cmd.client_order_id)
    risk.check_position_side(acct, cmd.position_side, cmd.reduce_only)
    market_type = typ in risk.MARKET_TYPES
    if cmd.close_position:
        if typ not in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET):
            raise VenueError(Err.PARAM_NOT_REQUIRED, param="closePosition")
        if cmd.quantity != 0:
            raise VenueError(Err.QUANTITY_EXISTS_WITH_CLOSE_POSITION)
    else:
        risk.check_qty(inst, cmd.quantity, market_type)
    if typ in risk.LIMIT_PRICED:
        risk.check_price(inst, cmd.price)
    mkt = v.markets[cmd.symbol]
    if typ is OrderType.TRAILING_STOP_MARKET:
        if not risk.MIN_CALLBACK <= cmd.callback_rate <= risk.MAX_CALLBACK:
            raise VenueError(Err.INVALID_CALLBACK_RATE)
        if cmd.activation_price:
            if cmd.activation_price < 0:
                raise VenueError(Err.INVALID_ACTIVATION_PRICE)
            risk.check_price(inst, cmd.activation_price)
        trigger = cmd.activation_price
    else:
        risk.check_stop_price(inst, cmd.stop_price)
        trigger = cmd.stop_price
    risk.check_gtd(cmd.time_in_force, cmd.good_till_date, now)
    n_algo = sum(1 for a in v.acct_algos.get(acct.account_id, {}).values() if a.symbol == cmd.symbol)
    if n_algo >= inst.max_num_algo_orders:
        raise VenueError(Err.MAX_OPEN_ORDER_EXCEEDED)
    if not cmd.reduce_only and not cmd.close_position:
        ref = cmd.price if typ in risk.LIMIT_PRICED else (trigger or mkt.reference_price())
        risk.check_min_notional(inst, ref, cmd.quantity)
    cur = current_price(v, cmd.symbol, cmd.working_type)
    algo = AlgoOrder(
        algo_id=0, account_id=acct.account_id, symbol=cmd.symbol, side=cmd.side, order_type=typ,
        quantity=cmd.quantity, price=cmd.price if typ in risk.LIMIT_PRICED else 0, trigger_price=trigger,
        time_in_force=cmd.time_in_force, position_side=cmd.position_side, client_algo_id=cmd.client_order_id,
        reduce_only=cmd.reduce_only, close_position=cmd.close_position, working_type=cmd.working_type,
        price_protect=cmd.price_protect, activation_price=cmd.activation_price, callback_rate=cmd.callback_rate,
        good_till_date=cmd.good_till_date if cmd.time_in_force is TimeInForce.GTD else 0,
        create_time=now, update_time=now, via_algo_api=cmd.via_algo_api,
    )
    if typ is not OrderType.TRAILING_STOP_MARKET and cur and would_fire(algo, cur):
        raise VenueError(Err.ORDER_WOULD_IMMEDIATELY_TRIGGER)

    # ---------------------------------------------------------------- accepted
    algo.algo_id = v.new_algo_id()
    if not cmd.via_algo_api:
        algo.order_id = algo.algo_id  # one shared id space: the legacy client's orderId is the algoId
    if not algo.client_algo_id:
        algo.client_algo_id = f"x-alfax-{algo.order_id}" if algo.order_id else f"x-algo-{algo.algo_id}"
    if typ is OrderType.TRAILING_STOP_MARKET and cur and not cmd.activation_price:
        algo.activated = True
        algo.extreme_price = cur
    v.register_algo(algo)
    v.emit(AlgoUpdated, account_id=algo.account_id, algo=copy_algo(algo))
    return algo


def current_price(v: "Venue", symbol: str, wt) -> int:
    m = v.markets[symbol]
    return m.mark_price if wt.value == "MARK_PRICE" else m.last_price


def algo_view(algo: AlgoOrder, status: OrderStatus = OrderStatus.NEW) -> Order:
    """Order-shaped view of a legacy conditional order (placed through /fapi/v1/order)."""
    return Order(
        order_id=algo.order_id, account_id=algo.account_id, symbol=algo.symbol, side=algo.side,
        type=algo.order_type, orig_type=algo.order_type, quantity=algo.quantity, price=algo.price,
        time_in_force=algo.time_in_force, position_side=algo.position_side, client_order_id=algo.client_algo_id,
        reduce_only=algo.reduce_only, close_position=algo.close_position,
        stop_price=algo.trigger_price, working_type=algo.working_type,
        price_protect=algo.price_protect, activation_price=algo.activation_price, callback_rate=algo.callback_rate,
        good_till_date=algo.good_till_date, status=status, time=algo.create_time, update_time=algo.update_time,
        algo_id=algo.algo_id,
    )


def end_algo(v: "Venue", algo: AlgoOrder, status: AlgoStatus, reason: str = "") -> None:
    """Terminal transition of an open algo order (CANCELED / EXPIRED / REJECTED)."""
    algo.status = status
    algo.update_time = v.now
    v.algo_done(algo)
    v.emit(AlgoUpdated, account_id=algo.account_id, algo=copy_algo(algo), reject_reason=reason)


def fire(v: "Venue", algo: AlgoOrder) -> None:
    """The trigger condition was met (and price protection allows it): create the actual order."""
    now = v.now
    algo.status = AlgoStatus.TRIGGERING
    algo.trigger_time = now
    algo.update_time = now
    v.algo_done(algo)  # leaves the open set (and frees its client id for the legacy child)
    v.emit(AlgoUpdated, account_id=algo.account_id, algo=copy_algo(algo))
    typ = OrderType.LIMIT if algo.order_type in (OrderType.STOP, OrderType.TAKE_PROFIT) else OrderType.MARKET
    qty = algo.quantity
    if algo.close_position:
        qty = risk.closable(v, algo.account_id, algo.symbol, algo.side, algo.position_side)
    tif = algo.time_in_force if typ is OrderType.LIMIT else TimeInForce.GTC
    child = C.PlaceOrder(
        account_id=algo.account_id, symbol=algo.symbol, side=algo.side, type=typ, quantity=qty,
        price=algo.price if typ is OrderType.LIMIT else 0, time_in_force=tif,
        reduce_only=(algo.reduce_only or algo.close_position) and not v.accounts[algo.account_id].dual_side,
        position_side=algo.position_side,
        client_order_id=algo.client_algo_id if algo.order_id else "", working_type=algo.working_type,
        good_till_date=algo.good_till_date,
    )
    if algo.close_position and qty == 0:
        _reject(v, algo, VenueError(Err.REDUCE_ONLY_REJECT))
        return
    try:
        if v.challenges and not child.reduce_only:
            # the challenge rules hold when a stop triggers too (a stop-entry must not exceed the caps, nor open
            # inside a news window or on a locked account); protective reduce-only exits always go through
            challenges.check_order(v, child)
        order = place_regular(v, child, algo=algo, order_id=algo.order_id)
    except VenueError as e:
        _reject(v, algo, e)
        return
    algo.status = AlgoStatus.TRIGGERED
    algo.actual_order_id = order.order_id
    algo.update_time = now
    v.emit(AlgoUpdated, account_id=algo.account_id, algo=copy_algo(algo))
    if order.is_open:
        v.algo_waiting[order.order_id] = algo
    else:
        finish_algo(v, algo, order)


def _reject(v: "Venue", algo: AlgoOrder, e: VenueError) -> None:
    algo.status = AlgoStatus.REJECTED
    algo.update_time = v.now
    v.emit(AlgoUpdated, account_id=algo.account_id, algo=copy_algo(algo), reject_reason=e.msg)
    v.emit(TriggerRejected, account_id=algo.account_id, symbol=algo.symbol, order_id=algo.order_id, reason=e.msg)


def finish_algo(v: "Venue", algo: AlgoOrder, order: Order) -> None:
    algo.status = AlgoStatus.FINISHED
    algo.actual_qty = order.executed_qty
    if order.executed_qty:
        inst = v.instruments[order.symbol]
        algo.actual_price = div_round_half_up(order.cum_quote, order.executed_qty * inst.notional_factor)
    algo.update_time = v.now
    v.emit(AlgoUpdated, account_id=algo.account_id, algo=copy_algo(algo))


# ====================================================================== cancel / amend / countdown
def _find_open(v: "Venue", account_id: int, symbol: str, order_id: int, cid: str) -> Order | AlgoOrder | None:
    if order_id:
        o = v.orders.get(order_id)
        if o is not None and o.account_id == account_id and o.symbol == symbol:
            return o
        aid = v.legacy.get(order_id)
        if aid is not None:
            a = v.algos[aid]
            if a.account_id == account_id and a.symbol == symbol:
                return a
        return None
    if cid:
        hit = v.client_ids.get((account_id, cid))
        if hit is None:
            return None
        kind, i = hit
        if kind == "o":
            o = v.orders[i]
            return o if o.symbol == symbol else None
        a = v.algos[i]
        return a if a.order_id and a.symbol == symbol else None
    raise VenueError(Err.EITHER_PARAM, a="orderId", b="origClientOrderId")


def cancel_order(v: "Venue", cmd: C.CancelOrder) -> None:
    risk.instrument(v, cmd.symbol)
    found = _find_open(v, cmd.account_id, cmd.symbol, cmd.order_id, cmd.client_order_id)
    if found is None:
        raise VenueError(Err.CANCEL_REJECTED)
    if isinstance(found, AlgoOrder):
        end_algo(v, found, AlgoStatus.CANCELED)
    else:
        finish(v, found, OrderStatus.CANCELED, ExecutionType.CANCELED)


def cancel_algo_order(v: "Venue", cmd: C.CancelAlgoOrder) -> None:
    a = None
    if cmd.algo_id:
        a = v.algos.get(cmd.algo_id)
    elif cmd.client_algo_id:
        hit = v.client_ids.get((cmd.account_id, cmd.client_algo_id))
        if hit is not None and hit[0] == "a":
            a = v.algos[hit[1]]
    else:
        raise VenueError(Err.EITHER_PARAM, a="algoId", b="clientAlgoId")
    if a is None or a.account_id != cmd.account_id or (cmd.symbol and a.symbol != cmd.symbol):
        raise VenueError(Err.NO_SUCH_ORDER)
    end_algo(v, a, AlgoStatus.CANCELED)


def cancel_all_orders(v: "Venue", cmd: C.CancelAllOrders) -> None:
    risk.instrument(v, cmd.symbol)
    cancel_all(v, cmd.account_id, cmd.symbol, cmd.regular, cmd.algo)


def cancel_all(v: "Venue", account_id: int, symbol: str, regular: bool = True, algo: bool = True,
               status: OrderStatus = OrderStatus.CANCELED) -> None:
    if regular:
        for o in sorted(v.sym_orders.get((account_id, symbol), {}).values(), key=lambda o: o.order_id):
            if o.is_open:
                finish(v, o, status,
                       ExecutionType.CANCELED if status is OrderStatus.CANCELED else ExecutionType.EXPIRED)
    if algo:
        for a in sorted((a for a in v.acct_algos.get(account_id, {}).values() if a.symbol == symbol),
                        key=lambda a: a.algo_id):
            if a.algo_id in v.algos:
                end_algo(v, a, AlgoStatus.CANCELED)


def amend_order(v: "Venue", cmd: C.AmendOrder) -> None:
    inst = risk.instrument(v, cmd.symbol)
    risk.check_fresh(v, cmd.symbol)
    challenges.check_amend(v, cmd.account_id)
    found = _find_open(v, cmd.account_id, cmd.symbol, cmd.order_id, cmd.client_order_id)
    if found is None or isinstance(found, AlgoOrder):
        raise VenueError(Err.NO_SUCH_ORDER)
    order: Order = found
    if order.type is not OrderType.LIMIT:
        raise VenueError(Err.INVALID_ORDER_STATUS)
    if cmd.side is not order.side:
        raise VenueError(Err.INVALID_SIDE)
    risk.check_qty(inst, cmd.quantity, False)
    if cmd.quantity <= order.executed_qty:
        raise VenueError(Err.INVALID_PARAMETER, param="quantity")
    risk.check_price(inst, cmd.price)
    mark = risk.mark_for(v, cmd.symbol)
    risk.check_percent_price(inst, cmd.price, mark)
    acct = v.accounts[order.account_id]
    reducing = risk.is_reducing(acct.dual_side, order.side, order.position_side, order.reduce_only, False)
    reducible = risk.closable(v, order.account_id, order.symbol, order.side, order.position_side)
    if not reducing:
        risk.check_min_notional(inst, cmd.price, cmd.quantity)
    remaining = cmd.quantity - order.executed_qty
    mkt = v.markets[cmd.symbol]
    buy = order.side is Side.BUY
    plan = mkt.walk(buy, cmd.price, min(remaining, reducible) if reducing else remaining)
    if order.time_in_force is TimeInForce.GTX and plan:
        raise VenueError(Err.GTX_ORDER_REJECT)
    if not reducing:
        # the order's current reservation is released by the amendment, so it counts as available
        free = risk.free_reducible(v, order.account_id, order.symbol, order.side, order.position_side,
                                   exclude=order.order_id)
        risk.check_margin(v, acct, inst, order.side, order.position_side, remaining, cmd.price, free,
                          extra_available=order.reserved_margin)

    # ---------------------------------------------------------------- accepted
    v.resting[order.symbol].remove(order.order_id)
    v.order_prio.pop(order.order_id, None)
    order.quantity = cmd.quantity
    order.price = cmd.price
    order.update_time = v.now
    v.set_reserved(order, 0)
    v.emit(OrderUpdated, account_id=order.account_id, order=copy_order(order), exec_type=ExecutionType.AMENDMENT)
    matching.take(v, order, plan, reducing)
    if order.is_open:
        reducible = risk.closable(v, order.account_id, order.symbol, order.side, order.position_side)
        if reducing and reducible == 0:
            finish(v, order, OrderStatus.EXPIRED, ExecutionType.EXPIRED)
        else:
            rest(v, order, reducing, reducible)
            risk.reserve_all(v, order.account_id, order.symbol)  # later orders' capacity may have moved


def countdown_cancel_all(v: "Venue", cmd: C.CountdownCancelAll) -> None:
    risk.instrument(v, cmd.symbol)
    risk.account(v, cmd.account_id)
    if cmd.countdown_ms < 0:
        raise VenueError(Err.INVALID_PARAMETER, param="countdownTime")
    key = (cmd.account_id, cmd.symbol)
    if cmd.countdown_ms == 0:
        v.countdowns.pop(key, None)
        return
    deadline = v.now + cmd.countdown_ms
    v.countdowns[key] = deadline
    heapq.heappush(v.countdown_heap, (deadline, cmd.account_id, cmd.symbol))
