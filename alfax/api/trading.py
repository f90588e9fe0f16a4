"""Order handlers: /fapi/v1/order (incl. legacy conditional types), algoOrder, batches, queries (§1.4).

Legacy conditional orders (STOP*, TAKE_PROFIT*, TRAILING_STOP_MARKET posted to /fapi/v1/order by the connector
and Hummingbot) are algo orders inside the engine that also carry an ``order_id`` from the order counter; the
edge shows them in the order shape with that orderId (the triggered child order reuses it).
"""

from __future__ import annotations

import ast
import re
from decimal import Decimal

import orjson

from alfax.domain.commands import (
    AmendOrder,
    CancelAlgoOrder,
    CancelAllOrders,
    CancelOrder,
    CountdownCancelAll,
    PlaceOrder,
)
from alfax.domain.enums import CONDITIONAL_TYPES, OrderType, PositionSide, Side, TimeInForce, WorkingType
from alfax.domain.errors import Err, VenueError
from alfax.domain.events import AlgoUpdated, OrderUpdated
from alfax.domain.instruments import Instrument
from alfax.domain.orders import AlgoOrder, Order

from . import codec
from .params import Params, parse_money
from .request import Raw, Req

CANCEL_ALL_DONE = Raw(b'{"code":200,"msg":"The operation of cancel all open order is done."}')
_CLIENT_ID_RE = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_CALLBACK_DECIMALS = 6  # callbackRate is a percent; raw rate (8 dp fraction) = percent * 10**6
MAX_BATCH_PLACE = 5
MAX_BATCH_CANCEL = 10


# ------------------------------------------------------------------------------------------ parsing


def _client_id(p: Params, name: str) -> str:
    cid = p.str(name)
    if cid:
        if len(cid) > 36:
            raise VenueError(Err.INVALID_CL_ORD_ID_LEN)
        if not _CLIENT_ID_RE.match(cid):
            raise VenueError(Err.ILLEGAL_CHARS, param=name, legal="^[\\.A-Z\\:/a-z0-9_-]{1,36}$")
    return cid


def build_place(r: Req, p: Params, inst: Instrument, via_algo: bool) -> tuple[PlaceOrder, str]:
    """Build a PlaceOrder from Binance params; returns (command, newOrderRespType)."""
    pp = inst.price_precision
    qp = inst.quantity_precision
    side = p.enum("side", Side, Err.INVALID_SIDE, required=True)
    t = p.enum("type", OrderType, Err.INVALID_ORDER_TYPE, required=True)
    if t is OrderType.LIQUIDATION:
        raise VenueError(Err.INVALID_ORDER_TYPE)
    if via_algo:
        at = p.get("algoType")
        if at is not None and at.upper() != "CONDITIONAL":
            raise VenueError(Err.INVALID_PARAMETER, param="algoType")
        if t not in CONDITIONAL_TYPES:
            raise VenueError(Err.INVALID_ORDER_TYPE)
    close_position = p.bool("closePosition")
    qty_s = p.get("quantity")
    if qty_s is None:
        if not close_position:
            raise VenueError(Err.MANDATORY_PARAM, param="quantity")
        qty = 0
    else:
        if qty_s.lstrip().startswith("-"):
            raise VenueError(Err.QTY_LESS_THAN_ZERO)
        qty = parse_money("quantity", qty_s, qp)
    price = _price(p, "price", pp)
    needs_price = t is OrderType.LIMIT or t is OrderType.STOP or t is OrderType.TAKE_PROFIT
    if needs_price and not price:
        raise VenueError(Err.MANDATORY_PARAM, param="price")
    tif = p.enum("timeInForce", TimeInForce, Err.INVALID_TIF, TimeInForce.GTC)
    if via_algo:
        stop = _price(p, "triggerPrice", pp) or _price(p, "stopPrice", pp)
    else:
        stop = _price(p, "stopPrice", pp) or _price(p, "triggerPrice", pp)
    if t in CONDITIONAL_TYPES and t is not OrderType.TRAILING_STOP_MARKET and not stop:
        raise VenueError(Err.MANDATORY_PARAM, param="triggerPrice" if via_algo else "stopPrice")
    act_name = "activatePrice" if p.get("activatePrice") is not None else "activationPrice"
    activation = _price(p, act_name, pp)
    callback = 0
    cb = p.get("callbackRate")
    if cb is not None:
        callback = parse_money("callbackRate", cb, _CALLBACK_DECIMALS)
    if t is OrderType.TRAILING_STOP_MARKET and cb is None:
        raise VenueError(Err.MANDATORY_PARAM, param="callbackRate")
    resp_type = (p.get("newOrderRespType") or "ACK").upper()
    if resp_type not in ("ACK", "RESULT"):
        raise VenueError(Err.INVALID_PARAMETER, param="newOrderRespType")
    pm = p.get("priceMatch")
    if pm is not None and pm.upper() != "NONE":
        raise VenueError(Err.INVALID_PARAMETER, param="priceMatch")
    cmd = PlaceOrder(
        account_id=r.account_id,
        symbol=inst.symbol,
        side=side,
        type=t,
        quantity=qty,
        price=price,
        time_in_force=tif,
        reduce_only=p.bool("reduceOnly"),
        close_position=close_position,
        position_side=p.enum("positionSide", PositionSide, Err.INVALID_POSITION_SIDE, PositionSide.BOTH),
        client_order_id=_client_id(p, "clientAlgoId" if via_algo else "newClientOrderId"),
        stop_price=stop,
        working_type=p.enum("workingType", WorkingType, Err.INVALID_PARAMETER, WorkingType.CONTRACT_PRICE),
        price_protect=p.bool("priceProtect"),
        activation_price=activation,
        callback_rate=callback,
        good_till_date=p.int("goodTillDate", 0, lo=0) or 0,
        via_algo_api=via_algo,
    )
    return cmd, resp_type


def _price(p: Params, name: str, decimals: int) -> int:
    v = p.get(name)
    if v is None:
        return 0
    if v.lstrip().startswith("-"):
        raise VenueError(Err.PRICE_LESS_THAN_ZERO if name == "price" else Err.STOP_PRICE_LESS_THAN_ZERO)
    return parse_money(name, v, decimals)


# ------------------------------------------------------------------------------------------ event picking


def _placed_order(events, cmd: PlaceOrder, resp_type: str) -> Order | None:
    oid = 0
    first = last = None
    for ev in events:
        if type(ev) is OrderUpdated:
            o = ev.order
            if oid == 0:
                if o.account_id != cmd.account_id or o.symbol != cmd.symbol or o.algo_id:
                    continue
                if cmd.client_order_id and o.client_order_id != cmd.client_order_id:
                    continue
                oid = o.order_id
                first = last = o
            elif o.order_id == oid:
                last = o
    return last if resp_type == "RESULT" else first


def _placed_algo(events, cmd: PlaceOrder) -> tuple[AlgoOrder | None, Order | None]:
    aid = 0
    algo = None
    for ev in events:
        if type(ev) is AlgoUpdated:
            a = ev.algo
            if aid == 0:
                if a.account_id != cmd.account_id or a.symbol != cmd.symbol:
                    continue
                if cmd.client_order_id and a.client_algo_id != cmd.client_order_id:
                    continue
                aid = a.algo_id
                algo = a
            elif a.algo_id == aid:
                algo = a
    actual = None
    if algo is not None:
        for ev in events:
            if type(ev) is OrderUpdated and ev.order.algo_id == aid:
                actual = ev.order
    return algo, actual


def _last_order(events, order_id: int) -> Order | None:
    found = None
    for ev in events:
        if type(ev) is OrderUpdated and ev.order.order_id == order_id:
            found = ev.order
    return found


def _last_algo(events, algo_id: int) -> AlgoOrder | None:
    found = None
    for ev in events:
        if type(ev) is AlgoUpdated and ev.algo.algo_id == algo_id:
            found = ev.algo
    return found


def legacy_json(r: Req, a: AlgoOrder, actual: Order | None = None) -> dict:
    inst = r.inst_of(a.symbol)
    if actual is None and a.actual_order_id:
        actual = _find_order(r, a.account_id, a.symbol, a.actual_order_id, "")
    d = codec.algo_as_order_json(a, inst, actual)
    d["orderId"] = a.order_id or a.algo_id
    return d


# ------------------------------------------------------------------------------------------ placing


async def place(r: Req, p: Params, via_algo: bool) -> dict:
    inst = r.instrument() if p is r.p else _inst_from(r, p)
    cmd, resp_type = build_place(r, p, inst, via_algo)
    events = await r.ctx.submit(cmd)
    if cmd.type in CONDITIONAL_TYPES:
        algo, actual = _placed_algo(events, cmd)
        if algo is None:
            raise VenueError(Err.UNKNOWN)
        if via_algo:
            return codec.algo_json(algo, inst)
        return legacy_json(r, algo, actual)
    o = _placed_order(events, cmd, resp_type)
    if o is None:
        raise VenueError(Err.UNKNOWN)
    return codec.order_json(o, inst)


def _inst_from(r: Req, p: Params) -> Instrument:
    sym = p.req("symbol")
    inst = r.edge.instruments.get(sym) or r.edge.instruments.get(sym.upper())
    if inst is None:
        raise VenueError(Err.BAD_SYMBOL)
    return inst


async def post_order(r: Req):
    r.require_account()
    return await place(r, r.p, via_algo=False)


async def post_algo_order(r: Req):
    r.require_account()
    return await place(r, r.p, via_algo=True)


def _batch_value(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format(Decimal(repr(v)), "f")
    raise VenueError(Err.INVALID_PARAMETER, param="batchOrders")


def _json_list(r: Req, *names: str) -> list | None:
    raw = r.p.first(*names)
    if raw is None:
        return None
    try:
        v = orjson.loads(raw)
    except orjson.JSONDecodeError:
        # python-binance builds the batch from a Python repr ('%27' -> '%22'): True/False/None may remain
        try:
            v = ast.literal_eval(raw)
        except Exception:
            raise VenueError(Err.INVALID_PARAMETER, param=names[0]) from None
    if not isinstance(v, list):
        raise VenueError(Err.INVALID_PARAMETER, param=names[0])
    return v


async def post_batch_orders(r: Req):
    r.require_account()
    items = _json_list(r, "batchOrders")
    if items is None:
        raise VenueError(Err.MANDATORY_PARAM, param="batchOrders")
    if not items or len(items) > MAX_BATCH_PLACE:
        raise VenueError(Err.INVALID_BATCH_PLACE_ORDER_SIZE)
    out = []
    for it in items:
        if not isinstance(it, dict):
            out.append(VenueError(Err.INVALID_PARAMETER, param="batchOrders").as_dict())
            continue
        try:
            p = Params({str(k): _batch_value(v) for k, v in it.items()})
            out.append(await place(r, p, via_algo=False))
        except VenueError as e:
            out.append(e.as_dict())
    return out


# ------------------------------------------------------------------------------------------ lookups


def _find_order(r: Req, acc: int, symbol: str, oid: int, cid: str) -> Order | None:
    """Open orders first (the engine also answers open legacy conditional orders here), then history."""
    o = r.ctx.venue.open_order(acc, symbol, oid, cid)
    if o is None:
        o = r.ctx.history.get_order(acc, symbol, oid, cid)
    return o


def _find_closed_legacy_algo(r: Req, acc: int, symbol: str, oid: int, cid: str) -> AlgoOrder | None:
    """A legacy conditional order that ended before it triggered (canceled/expired/rejected) lives only in the
    algo history, which is keyed by algoId/clientAlgoId: look up by client id, else scan the recent algo
    history of the symbol for the legacy orderId (only on this not-found path)."""
    h = r.ctx.history
    if cid:
        a = h.get_algo(acc, 0, cid)
        if a is not None and a.symbol == symbol and not a.via_algo_api and (not oid or a.order_id == oid):
            return a
        return None
    if oid:
        for a in h.all_algos(acc, symbol, 0, 0, 1000):
            if a.order_id == oid and not a.via_algo_api:
                return a
    return None


def _order_ids(p: Params) -> tuple[int, str]:
    oid = p.int("orderId", 0) or 0
    cid = p.str("origClientOrderId")
    if not oid and not cid:
        raise VenueError(Err.EITHER_PARAM, a="orderId", b="origClientOrderId")
    return oid, cid


def _open_legacy_algo(r: Req, acc: int, o: Order) -> AlgoOrder | None:
    """The open algo order behind an order-shaped view returned by venue.open_order (untriggered legacy)."""
    if not o.algo_id:
        return None
    for a in r.ctx.venue.open_algo_orders(acc, o.symbol):
        if a.algo_id == o.algo_id and a.order_id == o.order_id:
            return a
    return None


def _render_order(r: Req, acc: int, o: Order, inst: Instrument) -> dict:
    a = _open_legacy_algo(r, acc, o) if o.algo_id else None
    if a is not None:
        return legacy_json(r, a)
    return codec.order_json(o, inst)


async def get_order(r: Req):
    acc = r.require_account()
    inst = r.instrument()
    oid, cid = _order_ids(r.p)
    o = _find_order(r, acc, inst.symbol, oid, cid)
    if o is None:  # it may have just left the book on a tick whose rows are not committed yet
        await r.ctx.settled()
        o = _find_order(r, acc, inst.symbol, oid, cid)
    if o is not None:
        return _render_order(r, acc, o, inst)
    a = _find_closed_legacy_algo(r, acc, inst.symbol, oid, cid)
    if a is not None:
        return legacy_json(r, a)
    raise VenueError(Err.NO_SUCH_ORDER)


async def get_open_order(r: Req):
    acc = r.require_account()
    inst = r.instrument()
    oid, cid = _order_ids(r.p)
    o = r.ctx.venue.open_order(acc, inst.symbol, oid, cid)
    if o is None:
        raise VenueError(Err.NO_SUCH_ORDER)
    return _render_order(r, acc, o, inst)


async def open_orders(r: Req):
    acc = r.require_account()
    inst = r.opt_instrument()
    sym = inst.symbol if inst else None
    out = [codec.order_json(o, r.inst_of(o.symbol)) for o in r.ctx.venue.open_orders(acc, sym)]
    for a in r.ctx.venue.open_algo_orders(acc, sym):
        if not a.via_algo_api:
            out.append(legacy_json(r, a))
    return out


async def all_orders(r: Req):
    """History plus open orders; without ``symbol`` (allowed since 2026-08) every symbol is merged."""
    acc = r.require_account()
    inst = r.opt_instrument()
    p = r.p
    oid = p.int("orderId", 0) or 0
    start, end = p.int("startTime", 0) or 0, p.int("endTime", 0) or 0
    limit = p.limit(500, 1000)
    insts = [inst] if inst is not None else list(r.edge.instruments.values())
    rows: dict[int, tuple[int, dict]] = {}
    for i in insts:
        sym = i.symbol
        for o in r.ctx.history.all_orders(acc, sym, oid, start, end, limit):
            rows[o.order_id] = (o.time, codec.order_json(o, i))
        for o in r.ctx.venue.open_orders(acc, sym):
            if o.order_id >= oid and (not start or o.time >= start) and (not end or o.time <= end):
                rows[o.order_id] = (o.time, codec.order_json(o, i))
        for a in r.ctx.venue.open_algo_orders(acc, sym):
            if not a.via_algo_api and a.order_id >= oid and (not start or a.create_time >= start) \
                    and (not end or a.create_time <= end):
                rows[a.order_id] = (a.create_time, legacy_json(r, a))
    if oid:
        ordered = [rows[k][1] for k in sorted(rows)][:limit]
    else:
        ordered = [v[1] for _, v in sorted(rows.items(), key=lambda kv: (kv[1][0], kv[0]))]
        if len(ordered) > limit:
            ordered = ordered[:limit] if start and not end else ordered[-limit:]
    return ordered


# ------------------------------------------------------------------------------------------ cancel / amend


async def _cancel_one(r: Req, acc: int, inst: Instrument, oid: int, cid: str) -> dict:
    o = r.ctx.venue.open_order(acc, inst.symbol, oid, cid)
    if o is None:
        raise VenueError(Err.CANCEL_REJECTED)
    legacy = _open_legacy_algo(r, acc, o) if o.algo_id else None
    events = await r.ctx.submit(CancelOrder(acc, inst.symbol, o.order_id))
    done = _last_order(events, o.order_id)
    if done is not None:
        return codec.order_json(done, inst)
    if legacy is not None:
        return legacy_json(r, _last_algo(events, legacy.algo_id) or legacy)
    return codec.order_json(o, inst)


async def delete_order(r: Req):
    acc = r.require_account()
    inst = r.instrument()
    oid, cid = _order_ids(r.p)
    return await _cancel_one(r, acc, inst, oid, cid)


async def delete_all_open_orders(r: Req):
    acc = r.require_account()
    inst = r.instrument()
    await r.ctx.submit(CancelAllOrders(acc, inst.symbol, regular=True, algo=True))
    return CANCEL_ALL_DONE


async def delete_batch_orders(r: Req):
    acc = r.require_account()
    inst = r.instrument()
    ids = _json_list(r, "orderIdList", "orderidlist")
    cids = _json_list(r, "origClientOrderIdList", "origclientorderidlist")
    if ids is None and cids is None:
        raise VenueError(Err.EITHER_PARAM, a="orderIdList", b="origClientOrderIdList")
    targets: list[tuple[int, str]] = []
    for v in ids or []:
        if isinstance(v, bool):
            raise VenueError(Err.INVALID_PARAMETER, param="orderIdList")
        try:
            targets.append((int(v), ""))
        except (TypeError, ValueError):
            raise VenueError(Err.INVALID_PARAMETER, param="orderIdList") from None
    for v in cids or []:
        if not isinstance(v, (str, int)) or isinstance(v, bool):
            raise VenueError(Err.INVALID_PARAMETER, param="origClientOrderIdList")
        targets.append((0, str(v)))
    if not targets or len(targets) > MAX_BATCH_CANCEL:
        raise VenueError(Err.INVALID_BATCH_CANCEL_SIZE)
    out = []
    for oid, cid in targets:
        try:
            out.append(await _cancel_one(r, acc, inst, oid, cid))
        except VenueError as e:
            out.append(e.as_dict())
    return out


async def put_order(r: Req):
    acc = r.require_account()
    inst = r.instrument()
    p = r.p
    oid, cid = _order_ids(p)
    side = p.enum("side", Side, Err.INVALID_SIDE, required=True)
    qty = p.money("quantity", inst.quantity_precision, required=True)
    price = p.money("price", inst.price_precision, required=True)
    o = r.ctx.venue.open_order(acc, inst.symbol, oid, cid)
    if o is None:
        raise VenueError(Err.NO_SUCH_ORDER)
    events = await r.ctx.submit(AmendOrder(acc, inst.symbol, side, qty, price, order_id=o.order_id))
    return codec.order_json(_last_order(events, o.order_id) or o, inst)


async def countdown_cancel_all(r: Req):
    acc = r.require_account()
    inst = r.instrument()
    ms = r.p.req_int("countdownTime", lo=0)
    await r.ctx.submit(CountdownCancelAll(acc, inst.symbol, ms))
    return {"symbol": inst.symbol, "countdownTime": str(ms)}


# ------------------------------------------------------------------------------------------ algo API


def _algo_ids(p: Params) -> tuple[int, str]:
    aid = p.int("algoId", 0) or 0
    cid = p.str("clientAlgoId")
    if not aid and not cid:
        raise VenueError(Err.EITHER_PARAM, a="algoId", b="clientAlgoId")
    return aid, cid


def _find_open_algo(r: Req, acc: int, aid: int, cid: str) -> AlgoOrder | None:
    fn = getattr(r.ctx.venue, "open_algo", None)
    if fn is not None:
        return fn(acc, aid, "" if aid else cid)
    for a in r.ctx.venue.open_algo_orders(acc):
        if (aid and a.algo_id == aid) or (not aid and a.client_algo_id == cid):
            return a
    return None


async def get_algo_order(r: Req):
    acc = r.require_account()
    aid, cid = _algo_ids(r.p)
    a = _find_open_algo(r, acc, aid, cid) or r.ctx.history.get_algo(acc, aid, "" if aid else cid)
    if a is None:  # it may have just triggered on a tick whose rows are not committed yet
        await r.ctx.settled()
        a = _find_open_algo(r, acc, aid, cid) or r.ctx.history.get_algo(acc, aid, "" if aid else cid)
    if a is None:
        raise VenueError(Err.NO_SUCH_ORDER)
    return codec.algo_json(a, r.inst_of(a.symbol))


async def delete_algo_order(r: Req):
    acc = r.require_account()
    aid, cid = _algo_ids(r.p)
    a = _find_open_algo(r, acc, aid, cid)
    if a is None:
        raise VenueError(Err.CANCEL_REJECTED)
    await r.ctx.submit(CancelAlgoOrder(acc, a.symbol, algo_id=a.algo_id))
    return {"algoId": a.algo_id, "clientAlgoId": a.client_algo_id, "code": "200", "msg": "success"}


async def open_algo_orders(r: Req):
    acc = r.require_account()
    inst = r.opt_instrument()
    rows = r.ctx.venue.open_algo_orders(acc, inst.symbol if inst else None)
    return [codec.algo_json(a, r.inst_of(a.symbol)) for a in rows]


async def all_algo_orders(r: Req):
    acc = r.require_account()
    inst = r.opt_instrument()
    p = r.p
    start, end, limit = p.int("startTime", 0) or 0, p.int("endTime", 0) or 0, p.limit(500, 1000)
    # history holds finished algo orders; open ones live in the engine
    merged = {a.algo_id: a for a in r.ctx.history.all_algos(acc, inst.symbol if inst else "", start, end, limit)}
    for a in r.ctx.venue.open_algo_orders(acc, inst.symbol if inst else None):
        if (not start or a.create_time >= start) and (not end or a.create_time <= end):
            merged[a.algo_id] = a
    rows = sorted(merged.values(), key=lambda a: (a.create_time, a.algo_id))
    rows = rows[:limit] if start and not end else rows[-limit:]
    return [codec.algo_json(a, r.inst_of(a.symbol)) for a in rows]


async def delete_algo_open_orders(r: Req):
    acc = r.require_account()
    inst = r.instrument()
    await r.ctx.submit(CancelAllOrders(acc, inst.symbol, regular=False, algo=True))
    return CANCEL_ALL_DONE
