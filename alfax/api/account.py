"""Account, position and settings handlers (contract §1.2, §1.3, §1.5)."""

from __future__ import annotations

from alfax.domain.accounts import SymbolSettings
from alfax.domain.commands import AdjustPositionMargin, SetLeverage, SetMarginType, SetPositionMode
from alfax.domain.enums import MarginType, PositionSide
from alfax.domain.errors import Err, VenueError
from alfax.domain.money import AMOUNT_DECIMALS, format_trimmed
from alfax.domain.positions import Position

from . import challenge, codec
from .request import Raw, Req

SUCCESS = Raw(b'{"code":200,"msg":"success"}')


def _settings(acct, symbol: str) -> SymbolSettings:
    s = acct.settings.get(symbol)
    return s if s is not None else SymbolSettings()


def _order_notionals(r: Req, acc: int) -> dict[str, list[int]]:
    """Per symbol [bidNotional, askNotional] of open orders (USDT raw)."""
    out: dict[str, list[int]] = {}
    for o in r.ctx.venue.open_orders(acc):
        inst = r.edge.instruments.get(o.symbol)
        if inst is None:
            continue
        n = inst.notional(o.price, o.quantity - o.executed_qty) if o.price else 0
        row = out.setdefault(o.symbol, [0, 0])
        row[0 if o.side.value == "BUY" else 1] += n
    return out


def _all_positions(r: Req, acc: int, symbol: str | None) -> list[Position]:
    """Positions from the venue plus flat rows for instruments the account never traded (v2 lists all)."""
    venue = r.ctx.venue
    acct = venue.account(acc)
    have = {(p.symbol, p.position_side) for p in venue.positions(acc, symbol)}
    rows = list(venue.positions(acc, symbol))
    sides = (PositionSide.LONG, PositionSide.SHORT) if acct.dual_side else (PositionSide.BOTH,)
    for sym in ([symbol] if symbol else list(r.edge.instruments)):
        st = _settings(acct, sym)
        for side in sides:
            if (sym, side) not in have:
                rows.append(Position(acc, sym, side, margin_type=st.margin_type, leverage=st.leverage))
    rows.sort(key=lambda p: (p.symbol, p.position_side.value))
    return rows


def _metrics(r: Req, acc: int, pos: Position):
    if pos.qty == 0:
        return None
    return r.ctx.venue.position_metrics(acc, pos)


# ------------------------------------------------------------------------------------------ account / balance


def _account(r: Req, v2: bool):
    acc = r.require_account()
    venue = r.ctx.venue
    s = venue.summary(acc)
    doc: dict = {}
    if v2:
        doc.update(
            {"feeTier": 0, "feeBurn": True, "canTrade": True, "canDeposit": True, "canWithdraw": True,
             "updateTime": 0, "multiAssetsMargin": False, "tradeGroupId": -1}
        )
    doc.update(codec.account_totals(s))
    doc["assets"] = [codec.asset_json(s, r.now)]
    positions = []
    if v2:
        for pos in _all_positions(r, acc, None):
            positions.append(codec.account_position_v2(pos, _metrics(r, acc, pos), r.inst_of(pos.symbol)))
    else:
        for pos in venue.positions(acc):
            if pos.qty != 0:
                positions.append(codec.account_position_v3(pos, _metrics(r, acc, pos), r.inst_of(pos.symbol)))
    doc["positions"] = positions
    if v2:
        ch = challenge.embedded_status(r, acc)
        if ch is not None:
            doc["challenge"] = ch  # the official SDK's AccountInfo.challenge
    return doc


async def account_v2(r: Req):
    return _account(r, True)


async def account_v3(r: Req):
    return _account(r, False)


async def balance(r: Req):
    acc = r.require_account()
    s = r.ctx.venue.summary(acc)
    alias = r.ctx.venue.account(acc).alias
    return [codec.balance_json(s, alias, r.now)]


async def position_risk_v2(r: Req):
    acc = r.require_account()
    inst = r.opt_instrument()
    out = []
    for pos in _all_positions(r, acc, inst.symbol if inst else None):
        out.append(codec.position_v2(pos, _metrics(r, acc, pos), r.inst_of(pos.symbol)))
    return out


async def position_risk_v3(r: Req):
    """Only symbols with a position or open orders (Binance v3)."""
    acc = r.require_account()
    inst = r.opt_instrument()
    sym = inst.symbol if inst else None
    notionals = _order_notionals(r, acc)
    out = []
    seen: set[str] = set()
    for pos in r.ctx.venue.positions(acc, sym):
        if pos.qty == 0 and pos.symbol not in notionals:
            continue
        seen.add(pos.symbol)
        bn, an = notionals.get(pos.symbol, (0, 0))
        out.append(codec.position_v3(pos, _metrics(r, acc, pos), r.inst_of(pos.symbol), bn, an))
    acct = r.ctx.venue.account(acc)
    for s, (bn, an) in notionals.items():
        if s in seen or (sym and s != sym):
            continue
        st = _settings(acct, s)
        side = PositionSide.BOTH if not acct.dual_side else PositionSide.LONG
        pos = Position(acc, s, side, margin_type=st.margin_type, leverage=st.leverage)
        out.append(codec.position_v3(pos, None, r.inst_of(s), bn, an))
    return out


# ------------------------------------------------------------------------------------------ configuration reads


async def leverage_bracket(r: Req):
    inst = r.opt_instrument()
    if inst is not None:
        return codec.leverage_bracket_json(inst)
    return [codec.leverage_bracket_json(i) for i in r.edge.instruments.values()]


async def commission_rate(r: Req):
    inst = r.instrument()
    return {
        "symbol": inst.symbol,
        "makerCommissionRate": codec.rate_str(inst.maker_fee),
        "takerCommissionRate": codec.rate_str(inst.taker_fee),
        "rpiCommissionRate": "0",
    }


async def symbol_config(r: Req):
    acc = r.require_account()
    acct = r.ctx.venue.account(acc)
    inst = r.opt_instrument()
    insts = [inst] if inst else list(r.edge.instruments.values())
    out = []
    for i in insts:
        st = _settings(acct, i.symbol)
        out.append(
            {
                "symbol": i.symbol,
                "marginType": st.margin_type.value,
                "isAutoAddMargin": "false",
                "leverage": st.leverage,
                "maxNotionalValue": format_trimmed(i.max_notional_for_leverage(st.leverage), AMOUNT_DECIMALS),
            }
        )
    return out


async def account_config(r: Req):
    acc = r.require_account()
    acct = r.ctx.venue.account(acc)
    return {
        "feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True,
        "dualSidePosition": acct.dual_side, "updateTime": 0, "multiAssetsMargin": False, "tradeGroupId": -1,
    }


async def get_multi_assets(r: Req):
    r.require_account()
    return {"multiAssetsMargin": False}


async def post_multi_assets(r: Req):
    r.require_account()
    if r.p.req_bool("multiAssetsMargin"):
        raise VenueError(Err.INVALID_PARAMETER, param="multiAssetsMargin")
    return SUCCESS


async def get_dual(r: Req):
    acc = r.require_account()
    return {"dualSidePosition": r.ctx.venue.account(acc).dual_side}


# ------------------------------------------------------------------------------------------ settings writes


async def post_dual(r: Req):
    acc = r.require_account()
    dual = r.p.req_bool("dualSidePosition")
    await r.ctx.submit(SetPositionMode(acc, dual))
    return SUCCESS


async def post_leverage(r: Req):
    acc = r.require_account()
    inst = r.instrument()
    v = r.p.req("leverage")
    try:
        lev = int(v)
    except ValueError:
        raise VenueError(Err.INVALID_LEVERAGE, leverage=v) from None
    if lev < 1 or lev > inst.max_leverage:
        raise VenueError(Err.INVALID_LEVERAGE, leverage=v)
    await r.ctx.submit(SetLeverage(acc, inst.symbol, lev))
    return {
        "leverage": lev,
        "maxNotionalValue": format_trimmed(inst.max_notional_for_leverage(lev), AMOUNT_DECIMALS),
        "symbol": inst.symbol,
    }


async def post_margin_type(r: Req):
    acc = r.require_account()
    inst = r.instrument()
    v = r.p.req("marginType").upper()
    if v == "CROSS":
        v = "CROSSED"
    try:
        mt = MarginType(v)
    except ValueError:
        raise VenueError(Err.INVALID_MARGIN_TYPE) from None
    await r.ctx.submit(SetMarginType(acc, inst.symbol, mt))
    return SUCCESS


async def post_position_margin(r: Req):
    acc = r.require_account()
    inst = r.instrument()
    p = r.p
    amount = p.money("amount", AMOUNT_DECIMALS, required=True)
    if amount <= 0:
        raise VenueError(Err.INVALID_PARAMETER, param="amount")
    t = p.req_int("type")
    if t not in (1, 2):
        raise VenueError(Err.INVALID_PARAMETER, param="type")
    side = p.enum("positionSide", PositionSide, Err.INVALID_POSITION_SIDE, PositionSide.BOTH)
    await r.ctx.submit(AdjustPositionMargin(acc, inst.symbol, side, amount, t == 1))
    return {"amount": float(p.req("amount")), "code": 200, "msg": "Successfully modify position margin.", "type": t}


async def position_margin_history(r: Req):
    r.require_account()
    r.instrument()
    return []


# ------------------------------------------------------------------------------------------ trades, income


async def user_trades(r: Req):
    acc = r.require_account()
    inst = r.instrument()
    p = r.p
    rows = r.ctx.history.user_trades(
        acc, inst.symbol, order_id=p.int("orderId", 0), from_id=p.int("fromId", 0),
        start_ms=p.int("startTime", 0), end_ms=p.int("endTime", 0), limit=p.limit(500, 1000),
    )
    return [codec.trade_json(t, inst) for t in rows]


async def income(r: Req):
    acc = r.require_account()
    inst = r.opt_instrument()
    p = r.p
    rows = r.ctx.history.income(
        acc, symbol=inst.symbol if inst else "", income_type=(p.str("incomeType")).upper(),
        start_ms=p.int("startTime", 0), end_ms=p.int("endTime", 0), limit=p.limit(100, 1000),
        page=p.int("page", 1, lo=1),
    )
    return [codec.income_json(i) for i in rows]
