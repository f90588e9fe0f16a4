"""R1: symbol filters and the margin pre-check. Pure reads: nothing here mutates venue state.

Everything raises ``VenueError`` with Binance's code; the venue only mutates after these checks pass, so a
rejection leaves the state exactly as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain import margin as M
from ..domain.accounts import Account
from ..domain.enums import MarginType, OrderStatus, OrderType, PositionSide, Side, TimeInForce
from ..domain.errors import Err, VenueError
from ..domain.instruments import Instrument
from ..domain.money import RATE_SCALE, format_trimmed, AMOUNT_DECIMALS
from ..domain.positions import Position

if TYPE_CHECKING:  # pragma: no cover
    from .venue import Venue

MAX_CLIENT_ID = 36
GTD_MIN_AHEAD_MS = 600_000
GTD_MAX = 253402300799000
MIN_CALLBACK = 100_000  # 0.1 %
MAX_CALLBACK = 10_000_000  # 10 %
MARKET_TYPES = frozenset({OrderType.MARKET, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET,
                          OrderType.TRAILING_STOP_MARKET})
LIMIT_PRICED = frozenset({OrderType.LIMIT, OrderType.STOP, OrderType.TAKE_PROFIT})
_EMPTY: dict = {}


# ---------------------------------------------------------------- account figures
class Figures:
    """Margin figures of one account at current marks (all USDT raw)."""

    __slots__ = ("wallet", "cross_wallet", "upnl", "cross_upnl", "pos_im", "cross_pos_im", "maint",
                 "cross_maint", "ooim", "iso_wallets")

    @property
    def available(self) -> int:
        return self.cross_wallet + self.cross_upnl - self.cross_pos_im - self.ooim

    @property
    def max_withdraw(self) -> int:
        return max(0, min(self.available, self.cross_wallet + min(0, self.cross_upnl) - self.cross_pos_im - self.ooim))


def mark_for(v: "Venue", symbol: str, pos: Position | None = None) -> int:
    m = v.markets[symbol]
    p = m.mark_price or m.last_price
    if p:
        return p
    if pos is not None and pos.qty:
        inst = v.instruments[symbol]
        return M.entry_price_raw(inst, pos.qty, pos.entry_notional)
    return m.reference_price()


def figures(v: "Venue", account_id: int) -> Figures:
    acct = v.accounts[account_id]
    f = Figures()
    upnl = cross_upnl = pos_im = cross_pos_im = maint = cross_maint = iso = 0
    for key in v.acct_positions.get(account_id, ()):
        pos = v.pos_map[key]
        inst = v.instruments[pos.symbol]
        mark = mark_for(v, pos.symbol, pos)
        u = M.unrealized_pnl(inst, pos.qty, pos.entry_notional, mark)
        n = inst.notional(mark, abs(pos.qty))
        im = M.initial_margin(n, pos.leverage)
        mm = M.maintenance_margin(inst, n)
        upnl += u
        pos_im += im
        maint += mm
        if pos.margin_type is MarginType.ISOLATED:
            iso += pos.isolated_wallet
        else:
            cross_upnl += u
            cross_pos_im += im
            cross_maint += mm
    ooim = v.ooim.get(account_id, 0)  # kept current by Venue.set_reserved / register_order / order_done
    f.wallet = acct.wallet_balance
    f.iso_wallets = iso
    f.cross_wallet = acct.wallet_balance - iso
    f.upnl, f.cross_upnl, f.pos_im, f.cross_pos_im = upnl, cross_upnl, pos_im, cross_pos_im
    f.maint, f.cross_maint, f.ooim = maint, cross_maint, ooim
    return f


def available(v: "Venue", account_id: int) -> int:
    """``figures(v, account_id).available`` without the maintenance-margin work (the order path's check)."""
    acct = v.accounts[account_id]
    cross = acct.wallet_balance - v.ooim.get(account_id, 0)
    keys = v.acct_positions.get(account_id)
    if keys:
        pos_map = v.pos_map
        instruments = v.instruments
        for key in keys:
            pos = pos_map[key]
            if pos.margin_type is MarginType.ISOLATED:
                cross -= pos.isolated_wallet
                continue
            inst = instruments[pos.symbol]
            mark = mark_for(v, pos.symbol, pos)
            qty = pos.qty
            n = inst.notional(mark, qty if qty > 0 else -qty)
            cross += (n - pos.entry_notional if qty > 0 else pos.entry_notional - n) if qty else 0
            cross -= M.initial_margin(n, pos.leverage)
    return cross


# ---------------------------------------------------------------- common order checks
def instrument(v: "Venue", symbol: str) -> Instrument:
    inst = v.instruments.get(symbol)
    if inst is None:
        raise VenueError(Err.BAD_SYMBOL)
    return inst


def check_fresh(v: "Venue", symbol: str) -> None:
    """No new order or amendment on a symbol whose reference feed is stale (FeedStatus)."""
    m = v.markets.get(symbol)
    if m is not None and m.stale:
        raise VenueError(Err.FEED_STALE, symbol=symbol)


def account(v: "Venue", account_id: int) -> Account:
    acct = v.accounts.get(account_id)
    if acct is None:
        raise VenueError(Err.REJECTED_MBX_KEY)
    return acct


def check_client_id(v: "Venue", account_id: int, cid: str) -> None:
    if len(cid) > MAX_CLIENT_ID:
        raise VenueError(Err.INVALID_CL_ORD_ID_LEN)
    if cid and (account_id, cid) in v.client_ids:
        raise VenueError(Err.DUPLICATED_CLIENT_ORDER_ID)


def check_position_side(acct: Account, pside: PositionSide, reduce_only: bool) -> None:
    if acct.dual_side:
        if pside is PositionSide.BOTH:
            raise VenueError(Err.POSITION_SIDE_NOT_MATCH)
        if reduce_only:
            raise VenueError(Err.PARAM_NOT_REQUIRED, param="reduceonly")
    elif pside is not PositionSide.BOTH:
        raise VenueError(Err.POSITION_SIDE_NOT_MATCH)


def check_qty(inst: Instrument, qty: int, market: bool) -> None:
    if qty <= 0:
        raise VenueError(Err.QTY_LESS_THAN_ZERO)
    if market:
        lo, hi, step = inst.market_min_qty, inst.market_max_qty, inst.market_step_size
    else:
        lo, hi, step = inst.min_qty, inst.max_qty, inst.step_size
    if qty < lo:
        raise VenueError(Err.QTY_LESS_THAN_MIN)
    if qty > hi:
        raise VenueError(Err.QTY_GREATER_THAN_MAX)
    if (qty - lo) % step:
        raise VenueError(Err.QTY_NOT_BY_STEP)


def check_price(inst: Instrument, price: int) -> None:
    if price <= 0:
        raise VenueError(Err.PRICE_LESS_THAN_ZERO)
    if price < inst.min_price:
        raise VenueError(Err.PRICE_LESS_THAN_MIN)
    if price > inst.max_price:
        raise VenueError(Err.PRICE_GREATER_THAN_MAX)
    if (price - inst.min_price) % inst.tick_size:
        raise VenueError(Err.PRICE_NOT_BY_TICK)


def check_stop_price(inst: Instrument, price: int) -> None:
    if price <= 0:
        raise VenueError(Err.MANDATORY_PARAM, param="stopPrice") if price == 0 else VenueError(
            Err.STOP_PRICE_LESS_THAN_ZERO)
    check_price(inst, price)


def check_percent_price(inst: Instrument, price: int, mark: int) -> None:
    if not mark:
        return
    if price * RATE_SCALE > mark * inst.multiplier_up:
        raise VenueError(Err.PRICE_HIGHER_THAN_MULTIPLIER_UP)
    if price * RATE_SCALE < mark * inst.multiplier_down:
        raise VenueError(Err.MULTIPLIER_UP_MIN)


def check_min_notional(inst: Instrument, price: int, qty: int) -> None:
    if price and inst.notional(price, qty) < inst.min_notional:
        raise VenueError(Err.MIN_NOTIONAL, notional=format_trimmed(inst.min_notional, AMOUNT_DECIMALS))


def check_gtd(tif: TimeInForce, gtd: int, now: int) -> None:
    if tif is TimeInForce.GTD:
        if gtd <= 0:
            raise VenueError(Err.MANDATORY_PARAM, param="goodTillDate")
        if gtd <= now + GTD_MIN_AHEAD_MS or gtd >= GTD_MAX:
            raise VenueError(Err.GTD_TIME_INVALID)


# ---------------------------------------------------------------- positions and margin
def is_reducing(dual: bool, side: Side, pside: PositionSide, reduce_only: bool, close_position: bool) -> bool:
    if reduce_only or close_position:
        return True
    return dual and ((side is Side.SELL and pside is PositionSide.LONG) or
                     (side is Side.BUY and pside is PositionSide.SHORT))


def closable(v: "Venue", account_id: int, symbol: str, side: Side, pside: PositionSide) -> int:
    """How much an order of ``side`` can reduce the position it targets (0 if it would not reduce)."""
    pos = v.pos_map.get((account_id, symbol, pside))
    if pos is None or pos.qty == 0:
        return 0
    if side is Side.BUY:
        return -pos.qty if pos.qty < 0 else 0
    return pos.qty if pos.qty > 0 else 0


def leverage_of(acct: Account, symbol: str) -> int:
    s = acct.settings.get(symbol)
    return s.leverage if s is not None else 20


def margin_type_of(acct: Account, symbol: str) -> MarginType:
    s = acct.settings.get(symbol)
    return s.margin_type if s is not None else MarginType.CROSSED


def order_margin(inst: Instrument, side: Side, price: int, open_qty: int, mark: int, leverage: int) -> int:
    """Initial margin for the opening part of an order: notional / leverage + open loss (Binance)."""
    if open_qty <= 0:
        return 0
    return M.initial_margin(inst.notional(price, open_qty), leverage) + M.open_loss(
        inst, side.sign, price, open_qty, mark or price)


def check_margin(v: "Venue", acct: Account, inst: Instrument, side: Side, pside: PositionSide, qty: int,
                 price: int, reducible: int, extra_available: int = 0) -> int:
    """Raise -2019 / -2027 if opening ``qty - reducible`` at ``price`` is not affordable; return the margin."""
    open_qty = qty - reducible
    if open_qty <= 0:
        return 0
    lev = leverage_of(acct, inst.symbol)
    mark = mark_for(v, inst.symbol)
    pos = v.pos_map.get((acct.account_id, inst.symbol, pside))
    cur = pos.qty if pos is not None else 0
    after = abs(cur + side.sign * qty)
    if inst.notional(price, after) > inst.max_notional_for_leverage(lev):
        raise VenueError(Err.MAX_LEVERAGE_RATIO)
    need = order_margin(inst, side, price, open_qty, mark, lev)
    if need > available(v, acct.account_id) + extra_available:
        raise VenueError(Err.MARGIN_NOT_SUFFICIENT)
    return need


# ---------------------------------------------------------------- open-order margin reservations
def _claims(v: "Venue", account_id: int, symbol: str, side: Side, pside: PositionSide, dual: bool,
            exclude: int = 0):
    """Open LIMIT orders that may use the position's reducible capacity, in time (order id) order
    (``Venue.sym_orders`` iterates in order-id order, see ``Venue.register_order``)."""
    return [o for o in v.sym_orders.get((account_id, symbol), {}).values()
            if o.side is side and o.position_side is pside and o.type is OrderType.LIMIT
            and o.order_id != exclude and not is_reducing(dual, o.side, o.position_side, o.reduce_only, False)]


def free_reducible(v: "Venue", account_id: int, symbol: str, side: Side, pside: PositionSide,
                   exclude: int = 0) -> int:
    """Reducible capacity left for a new order after older open orders on the same side claimed theirs."""
    cap = closable(v, account_id, symbol, side, pside)
    if cap == 0:
        return 0
    if is_reducing(v.accounts[account_id].dual_side, side, pside, False, False):
        return cap  # hedge-mode closing side: every order on it is reducing, none claims capacity
    # same as walking _claims(...) in order-id order, without building the list: stops at the first order
    # newer than ``exclude`` or when the capacity is used up
    for o in v.side_orders.get((account_id, symbol, side, pside), _EMPTY).values():
        oid = o.order_id
        if oid > exclude > 0:
            break
        if oid == exclude or o.reduce_only:
            continue
        r = o.quantity - o.executed_qty
        cap -= r if r < cap else cap
        if cap == 0:
            break
    return cap


def reserve_one(v: "Venue", order) -> None:
    """Initial margin held by one resting order: its opening part (beyond the reducible capacity older
    orders left), notional / leverage + open loss. Reduce-only / closing orders hold none."""
    acct = v.accounts[order.account_id]
    if is_reducing(acct.dual_side, order.side, order.position_side, order.reduce_only, order.close_position):
        v.set_reserved(order, 0)
        return
    red = free_reducible(v, order.account_id, order.symbol, order.side, order.position_side, exclude=order.order_id)
    inst = v.instruments[order.symbol]
    v.set_reserved(order, order_margin(inst, order.side, order.price, order.remaining - red,
                                       mark_for(v, order.symbol), leverage_of(acct, order.symbol)))


_GROUPS = tuple((s, p) for s in (Side.BUY, Side.SELL)
                for p in (PositionSide.BOTH, PositionSide.LONG, PositionSide.SHORT))


def reserve_all(v: "Venue", account_id: int, symbol: str, only: tuple[Side, PositionSide] | None = None) -> None:
    """Recompute the reservations of the account's open LIMIT orders of ``symbol`` (after the position, the
    leverage or the set of orders changed): reducible capacity is allocated to orders in time order.
    ``only`` limits the work to the orders of one (side, positionSide), the only ones a fill can affect.

    Each (side, positionSide) group shares one reducible capacity, so groups are independent; within a group
    ``Venue.side_orders`` iterates in order-id (time) order."""
    side_orders = v.side_orders
    acct = None
    new, partial = OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED
    for side, pside in (_GROUPS if only is None else (only,)):
        group = side_orders.get((account_id, symbol, side, pside))
        if not group:
            continue
        if acct is None:
            acct = v.accounts[account_id]
            inst = v.instruments[symbol]
            mark = mark_for(v, symbol)
            lev = leverage_of(acct, symbol)
            memo = v.reserve_memo
        closing = is_reducing(acct.dual_side, side, pside, False, False)  # hedge mode: every order reduces
        cap = -1
        for oid, o in group.items():
            st = o.status
            if st is not new and st is not partial:
                continue
            if closing or o.reduce_only or o.close_position:
                if o.reserved_margin:
                    v.set_reserved(o, 0)
                continue
            if cap < 0:
                cap = closable(v, account_id, symbol, side, pside)
            rem = o.quantity - o.executed_qty
            if cap:
                red = cap if cap < rem else rem
                cap -= red
                rem -= red
            # order_margin is a pure function of (open qty, mark, price, leverage) for a given order: most orders
            # of a re-reservation (after a fill) keep all four, so reuse the last result (exactly the same value)
            price = o.price
            h = memo.get(oid)
            if h is not None and h[0] == rem and h[1] == mark and h[2] == price and h[3] == lev:
                m = h[4]
            else:
                m = order_margin(inst, side, price, rem, mark, lev)
                memo[oid] = (rem, mark, price, lev, m)
            if m != o.reserved_margin:
                v.set_reserved(o, m)
