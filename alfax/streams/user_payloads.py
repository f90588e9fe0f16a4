"""User data stream payloads (contract §4.5): engine events -> Binance USDT-M user-data WS dicts.

Formatting follows the REST codec (prices/quantities at the instrument precision, USDT amounts at 8 dp, ids and
times ints). ``alfax.api.codec`` cannot be imported from here (import-linter: consumers never import the edge),
so only the tiny ``avgPrice`` rule is restated below with the domain money helpers; tests/streams compare it
with the codec's output so the two cannot drift.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping, Protocol

from alfax.domain import margin as M
from alfax.domain.enums import MarginType, OrderType
from alfax.domain.challenge_wire import payout_state_json, update_json
from alfax.domain.events import (
    ChallengeUpdated,
    PayoutUpdated,
    AccountConfigUpdated,
    AccountUpdated,
    AlgoUpdated,
    Event,
    MarginCall,
    OrderUpdated,
    TriggerRejected,
)
from alfax.domain.instruments import Instrument
from alfax.domain.money import format_fixed
from alfax.domain.orders import AlgoOrder, Order
from alfax.domain.positions import Position
from alfax.domain.wire import amt, avg_price, percent_str

USDT = "USDT"
STP_NONE = "NONE"  # selfTradePreventionMode: alfax has no self-trade prevention (REST says "NONE" too)
PRICE_MATCH_NONE = "NONE"


class _MarketLike(Protocol):
    mark_price: int


class VenueLike(Protocol):
    instruments: Mapping[str, Instrument]

    def market(self, symbol: str) -> _MarketLike: ...


# ---------------------------------------------------------------------------------------------- formatting


def _mt_lower(mt: MarginType) -> str:
    return "isolated" if mt is MarginType.ISOLATED else "cross"


# ---------------------------------------------------------------------------------------------- ORDER_TRADE_UPDATE


def order_trade_update(ev: OrderUpdated, inst: Instrument) -> dict:
    """ORDER_TRADE_UPDATE for one order event; fills (``ev.trade``) fill l/L/n/t/m/rp."""
    o: Order = ev.order
    t = ev.trade
    pp, qp = inst.price_precision, inst.quantity_precision
    trailing = o.orig_type is OrderType.TRAILING_STOP_MARKET
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": ev.ts,
        "T": ev.ts,
        "o": {
            "s": o.symbol,
            "c": o.client_order_id,
            "S": o.side.value,
            "o": o.type.value,
            "f": o.time_in_force.value,
            "q": format_fixed(o.quantity, qp),
            "p": format_fixed(o.price, pp),
            "ap": avg_price(inst, o.cum_quote, o.executed_qty),
            "sp": format_fixed(o.stop_price, pp),
            "x": ev.exec_type.value,
            "X": o.status.value,
            "i": o.order_id,
            "l": format_fixed(t.qty if t else 0, qp),
            "z": format_fixed(o.executed_qty, qp),
            "L": format_fixed(t.price if t else 0, pp),
            "N": USDT,
            "n": amt(t.commission if t else 0),
            "T": t.time if t else ev.ts,
            "t": t.trade_id if t else 0,
            "b": amt(0),
            "a": amt(0),
            "m": bool(t.maker) if t else False,
            "R": o.reduce_only,
            "wt": o.working_type.value,
            "ot": o.orig_type.value,
            "ps": o.position_side.value,
            "cp": o.close_position,
            "AP": format_fixed(o.activation_price, pp) if trailing else format_fixed(0, pp),
            "cr": percent_str(o.callback_rate) if trailing else "0",
            "pP": o.price_protect,
            "si": 0,
            "ss": 0,
            "rp": amt(t.realized_pnl if t else 0),
            "V": STP_NONE,
            "pm": PRICE_MATCH_NONE,
            "gtd": o.good_till_date,
            "er": "0",
        },
    }


def trade_lite(ev: OrderUpdated, inst: Instrument) -> dict | None:
    """TRADE_LITE for a fill (None when the event carries no trade)."""
    t = ev.trade
    if t is None:
        return None
    o = ev.order
    pp, qp = inst.price_precision, inst.quantity_precision
    return {
        "e": "TRADE_LITE",
        "E": ev.ts,
        "T": t.time,
        "s": o.symbol,
        "q": format_fixed(o.quantity, qp),
        "p": format_fixed(o.price, pp),
        "m": bool(t.maker),
        "c": o.client_order_id,
        "S": o.side.value,
        "L": format_fixed(t.price, pp),
        "l": format_fixed(t.qty, qp),
        "t": t.trade_id,
        "i": o.order_id,
    }


# ---------------------------------------------------------------------------------------------- ACCOUNT_UPDATE


def position_row(pos: Position, inst: Instrument, mark_price: int) -> dict:
    """One ``a.P[]`` row; ``up`` at ``mark_price`` (price raw; 0 = unknown -> up 0)."""
    upnl = M.unrealized_pnl(inst, pos.qty, pos.entry_notional, mark_price) if (mark_price and pos.qty) else 0
    return {
        "s": pos.symbol,
        "pa": format_fixed(pos.qty, inst.quantity_precision),
        "ep": format_fixed(M.entry_price_8dp(inst, pos.qty, pos.entry_notional), 8),
        "bep": format_fixed(M.break_even_price_8dp(inst, pos.qty, pos.entry_notional, pos.break_even_fee), 8),
        "cr": amt(0),  # accumulated realized is not tracked per position by the engine (gap, see package doc)
        "up": amt(upnl),
        "mt": _mt_lower(pos.margin_type),
        "iw": amt(pos.isolated_wallet if pos.margin_type is MarginType.ISOLATED else 0),
        "ps": pos.position_side.value,
    }


def account_update(ev: AccountUpdated, instruments: Mapping[str, Instrument],
                   mark_of: Callable[[str], int]) -> dict:
    return {
        "e": "ACCOUNT_UPDATE",
        "E": ev.ts,
        "T": ev.ts,
        "a": {
            "m": ev.reason.value,
            "B": [{"a": USDT, "wb": amt(ev.wallet_balance), "cw": amt(ev.cross_wallet_balance),
                   "bc": amt(ev.balance_change)}],
            "P": [position_row(p, instruments[p.symbol], mark_of(p.symbol)) for p in ev.positions],
        },
    }


# ---------------------------------------------------------------------------------------------- MARGIN_CALL


def margin_call(ev: MarginCall, instruments: Mapping[str, Instrument]) -> dict:
    rows = []
    for pos, mm, mark in zip(ev.positions, ev.maint_margins, ev.mark_prices):
        inst = instruments[pos.symbol]
        upnl = M.unrealized_pnl(inst, pos.qty, pos.entry_notional, mark) if mark else 0
        rows.append({
            "s": pos.symbol,
            "ps": pos.position_side.value,
            "pa": format_fixed(pos.qty, inst.quantity_precision),
            "mt": pos.margin_type.value,  # MARGIN_CALL uses CROSSED/ISOLATED (contract example)
            "iw": amt(pos.isolated_wallet if pos.margin_type is MarginType.ISOLATED else 0),
            "mp": format_fixed(mark, inst.price_precision),
            "up": amt(upnl),
            "mm": amt(mm),
        })
    return {"e": "MARGIN_CALL", "E": ev.ts, "cw": amt(ev.cross_wallet_balance), "p": rows}


# ---------------------------------------------------------------------------------------------- ACCOUNT_CONFIG_UPDATE


def account_config_update(ev: AccountConfigUpdated) -> dict | None:
    """Leverage change -> ``ac {s, l}``. Binance pushes nothing for a position-mode or margin-type change
    (margin type shows up as ACCOUNT_UPDATE MARGIN_TYPE_CHANGE), so those return None."""
    if ev.symbol and ev.leverage:
        return {"e": "ACCOUNT_CONFIG_UPDATE", "E": ev.ts, "T": ev.ts, "ac": {"s": ev.symbol, "l": ev.leverage}}
    return None


def multi_assets_config_update(ts: int, multi_assets: bool) -> dict:
    """Multi-assets mode change -> ``ai {j}`` (alfax is USDT-only, so this is only ever ``false``)."""
    return {"e": "ACCOUNT_CONFIG_UPDATE", "E": ts, "T": ts, "ai": {"j": bool(multi_assets)}}


# ---------------------------------------------------------------------------------------------- ALGO_UPDATE


def _actual_type(a: AlgoOrder) -> str:
    return "LIMIT" if a.order_type in (OrderType.STOP, OrderType.TAKE_PROFIT) else "MARKET"


def algo_update(ev: AlgoUpdated, inst: Instrument) -> dict:
    a: AlgoOrder = ev.algo
    pp, qp = inst.price_precision, inst.quantity_precision
    triggered = a.actual_order_id != 0
    return {
        "e": "ALGO_UPDATE",
        "T": ev.ts,
        "E": ev.ts,
        "o": {
            "caid": a.client_algo_id,
            "aid": a.algo_id,
            "at": "CONDITIONAL",
            "o": a.order_type.value,
            "s": a.symbol,
            "S": a.side.value,
            "ps": a.position_side.value,
            "f": a.time_in_force.value,
            "q": format_fixed(a.quantity, qp),
            "X": a.status.value,
            "ai": str(a.actual_order_id) if triggered else "",  # a string on Binance (REST actualOrderId too)
            "ap": format_fixed(a.actual_price, pp),
            "aq": format_fixed(a.actual_qty, qp),
            "act": _actual_type(a) if triggered else "",
            "tp": format_fixed(a.trigger_price, pp),
            "p": format_fixed(a.price, pp),
            "V": STP_NONE,
            "wt": a.working_type.value,
            "pm": PRICE_MATCH_NONE,
            "cp": a.close_position,
            "pP": a.price_protect,
            "R": a.reduce_only,
            "tt": a.trigger_time,
            "gtd": a.good_till_date,
            "rm": ev.reject_reason,
        },
    }


# ---------------------------------------------------------------------------------------------- others


def conditional_order_trigger_reject(ev: TriggerRejected) -> dict:
    return {"e": "CONDITIONAL_ORDER_TRIGGER_REJECT", "E": ev.ts, "T": ev.ts,
            "or": {"s": ev.symbol, "i": ev.order_id, "r": ev.reason}}


def listen_key_expired(listen_key: str, ts: int) -> dict:
    return {"e": "listenKeyExpired", "E": ts, "listenKey": listen_key}


# ---------------------------------------------------------------------------------------------- batch


def encode_user_events(events: Iterable[Event], venue_like: VenueLike) -> list[tuple[int, dict]]:
    """One engine event batch -> ``[(account_id, payload)]`` in event order.

    A fill gives TRADE_LITE then ORDER_TRADE_UPDATE (Binance sends the lite event first). Events with no user
    stream counterpart (AccountCreated, Income, Liquidated, TrailingStopMoved, position-mode config) give
    nothing. ``venue_like`` needs ``.instruments`` and ``.market(symbol).mark_price`` (for ACCOUNT_UPDATE ``up``).
    """
    instruments = venue_like.instruments
    marks: dict[str, int] = {}

    def mark_of(symbol: str) -> int:
        m = marks.get(symbol)
        if m is None:
            m = marks[symbol] = venue_like.market(symbol).mark_price
        return m

    out: list[tuple[int, dict]] = []
    for ev in events:
        if isinstance(ev, OrderUpdated):
            inst = instruments[ev.order.symbol]
            if ev.trade is not None:
                out.append((ev.account_id, trade_lite(ev, inst)))  # type: ignore[arg-type]
            out.append((ev.account_id, order_trade_update(ev, inst)))
        elif isinstance(ev, AccountUpdated):
            out.append((ev.account_id, account_update(ev, instruments, mark_of)))
        elif isinstance(ev, AlgoUpdated):
            out.append((ev.account_id, algo_update(ev, instruments[ev.algo.symbol])))
        elif isinstance(ev, MarginCall):
            out.append((ev.account_id, margin_call(ev, instruments)))
        elif isinstance(ev, AccountConfigUpdated):
            p = account_config_update(ev)
            if p is not None:
                out.append((ev.account_id, p))
        elif isinstance(ev, TriggerRejected):
            out.append((ev.account_id, conditional_order_trigger_reject(ev)))
        elif isinstance(ev, ChallengeUpdated):
            out.append((ev.account_id, challenge_update(ev, instruments)))
        elif isinstance(ev, PayoutUpdated):
            out.append((ev.account_id, payout_update(ev)))
    return out


def challenge_update(ev: ChallengeUpdated, instruments: Mapping[str, Instrument]) -> dict:
    """``challengeUpdate``: envelope + every ChallengeStatus field as strings + ``reason`` (domain/challenge_wire)."""
    return update_json(ev.reason.value, ev.view, ev.ts, instruments, ev.new_warnings)


def payout_update(ev: PayoutUpdated) -> dict:
    """``payoutUpdate`` (alfax): the PayoutState of the SDK (PascalCase) in a Binance envelope."""
    return {"e": "payoutUpdate", "E": ev.ts, "T": ev.ts, **payout_state_json(ev.payout)}
