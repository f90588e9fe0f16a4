"""Snapshot, restore and the canonical state hash.

The hash covers user state only (accounts, settings, positions, open orders with their time priority, open and
triggered algo orders incl. trailing extremes, countdown timers, counters, seq, insurance balance, margin-call
flags). The snapshot adds the reference market (book, own consumption, last/mark/index/funding) and the funding
schedule so a restored venue continues identically. Derived indexes are rebuilt on restore.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from dataclasses import fields
from operator import attrgetter
from typing import TYPE_CHECKING

import orjson

from ..domain.accounts import Account, SymbolSettings
from ..domain.challenge_state import Breach, ChallengeState, ChallengeStatus, Payout, PayoutStatus
from ..domain.enums import (AlgoStatus, MarginType, OrderStatus, OrderType, PositionSide, Side, TimeInForce,
                            WorkingType)
from ..domain.orders import AlgoOrder, Order
from ..domain.positions import Position
from ..domain.products import load_product
from .book import RefMarket
from .challenges import register
from .guard import rebuild as rebuild_guard

if TYPE_CHECKING:  # pragma: no cover
    from .venue import Venue

SNAPSHOT_VERSION = 2  # 2: orders / algo orders / positions as rows with a column header

_ENUMS = {"side": Side, "type": OrderType, "orig_type": OrderType, "order_type": OrderType,
          "time_in_force": TimeInForce, "position_side": PositionSide, "working_type": WorkingType,
          "margin_type": MarginType}


_NAMES = {cls: tuple(f.name for f in fields(cls)) for cls in (Order, AlgoOrder, Position)}


_GETTERS = {cls: attrgetter(*names) for cls, names in _NAMES.items()}


def row(obj) -> tuple:
    """Positional form (dataclass field order) for the snapshot and the hash: much cheaper than dicts. The enums
    are ``str`` subclasses, so JSON writes their wire value; tuples are written as JSON arrays."""
    return _GETTERS[type(obj)](obj)


def _load(cls, d: dict, status_enum=None):
    kw = {}
    for k, x in d.items():
        e = _ENUMS.get(k)
        if e is not None:
            x = e(x)
        elif k == "status" and status_enum is not None:
            x = status_enum(x)
        kw[k] = x
    return cls(**kw)


def _user_state(v: "Venue") -> dict:
    fmt = row
    accounts = []
    for aid in sorted(v.accounts):
        a = v.accounts[aid]
        accounts.append({
            "account_id": a.account_id, "alias": a.alias, "wallet_balance": a.wallet_balance,
            "dual_side": a.dual_side, "update_time": a.update_time,
            "settings": {s: [st.leverage, st.margin_type.value] for s, st in sorted(a.settings.items())},
        })
    positions = [fmt(v.pos_map[k]) for k in sorted(v.pos_map, key=lambda k: (k[0], k[1], k[2].value))]
    prio = v.order_prio.get
    get = _GETTERS[Order]
    vo = v.orders
    orders = [(*get(vo[oid]), prio(oid, 0)) for oid in sorted(vo)]
    algos = [fmt(v.algos[i]) for i in sorted(v.algos)]
    waiting = [[oid, fmt(v.algo_waiting[oid])] for oid in sorted(v.algo_waiting)]
    return {
        "accounts": accounts, "positions": positions, "orders": orders, "algos": algos, "algo_waiting": waiting,
        "countdowns": sorted([a, s, d] for (a, s), d in v.countdowns.items()),
        "margin_called": sorted(v.margin_called),
        "counters": {"seq": v.seq, "order": v.next_order_id, "trade": v.next_trade_id, "algo": v.next_algo_id,
                     "tran": v.next_tran_id, "prio": v.next_prio},
        "insurance_balance": v.insurance_balance,
        "rulebooks": [[ver, v.rulebooks[ver].source] for ver in sorted(v.rulebooks)],
        "challenges": [_challenge_row(v.challenges[a]) for a in sorted(v.challenges)],
        "payouts": [[*_PAYOUT_GET(v.payouts[i])] for i in sorted(v.payouts)],
    }


_CH_NAMES = tuple(f.name for f in fields(ChallengeState))
_PAYOUT_NAMES = tuple(f.name for f in fields(Payout))
_PAYOUT_GET = attrgetter(*_PAYOUT_NAMES)


def _challenge_row(st: ChallengeState) -> list:
    out = []
    for name in _CH_NAMES:
        x = getattr(st, name)
        if name == "breach" and x is not None:
            x = [x.rule, x.time, x.equity, x.balance, x.floor, [list(m) for m in x.marks], x.detail]
        elif isinstance(x, tuple):
            x = list(x)
        out.append(x)
    return out


def _restore_challenges(v: "Venue", u: dict) -> None:
    for ver, source in u.get("rulebooks", ()):
        p = load_product(source)
        v.rulebooks[ver] = p
    for r in u.get("challenges", ()):
        d = dict(zip(_CH_NAMES, r))
        d["status"] = ChallengeStatus(d["status"])
        d["warned_daily"], d["warned_total"] = tuple(d["warned_daily"]), tuple(d["warned_total"])
        b = d["breach"]
        if b is not None:
            d["breach"] = Breach(b[0], b[1], b[2], b[3], b[4], tuple(tuple(m) for m in b[5]), b[6])
        register(v, ChallengeState(**d))
    for r in u.get("payouts", ()):
        d = dict(zip(_PAYOUT_NAMES, r))
        d["status"] = PayoutStatus(d["status"])
        v.payouts[d["payout_id"]] = Payout(**d)


def canonical_json(obj) -> bytes:
    """The hashed bytes: ``json.dumps(obj, separators=(",", ":"))`` (ASCII, ``\\uXXXX`` escapes).

    orjson writes exactly the same bytes whenever its output is ASCII without DEL (it does not escape non-ASCII
    nor DEL, and cannot write ints beyond 64 bits): use it then (~10x faster), else the stdlib."""
    try:
        b = orjson.dumps(obj)
    except TypeError:  # orjson.JSONEncodeError: int beyond 64 bits, non-str dict key...
        b = None
    if b is not None and b.isascii() and b"\x7f" not in b:
        return b
    return json.dumps(obj, separators=(",", ":")).encode()


def state_hash(v: "Venue") -> str:
    # every dict in the state is built in a fixed order, so no sort_keys is needed (it is the costly part)
    return hashlib.sha256(canonical_json(_user_state(v))).hexdigest()


def _frame(v: "Venue", user) -> dict:
    return {
        "version": SNAPSHOT_VERSION,
        "columns": {"order": list(_NAMES[Order]) + ["_prio"], "algo": list(_NAMES[AlgoOrder]),
                    "position": list(_NAMES[Position])},
        "user": user,
        "markets": {s: v.markets[s].dump() for s in sorted(v.markets)},
        "next_funding_ms": v.next_funding_ms,
    }


def snapshot(v: "Venue") -> dict:
    """JSON-able. Entities are rows in dataclass field order; ``columns`` names them (orders add ``_prio``)."""
    return _frame(v, _user_state(v))


def snapshot_json(v: "Venue") -> tuple[bytes, str]:
    """``(JSON of snapshot(), state_hash())`` from ONE pass over the state: the user part is serialised once,
    hashed, and spliced into the snapshot document (which then decodes to exactly ``snapshot()``)."""
    user = canonical_json(_user_state(v))
    frame = orjson.dumps(_frame(v, None))
    head, sep, tail = frame.partition(b'"user":null')
    assert sep, "snapshot frame without its user slot"
    return head + b'"user":' + user + tail, hashlib.sha256(user).hexdigest()


def restore(v: "Venue", snap: dict) -> None:
    if snap.get("version") != SNAPSHOT_VERSION:
        raise ValueError(f"unsupported snapshot version {snap.get('version')}")
    u = snap["user"]
    cols = snap["columns"]
    oc, ac, pc = cols["order"], cols["algo"], cols["position"]
    for d in u["accounts"]:
        a = Account(d["account_id"], alias=d["alias"], wallet_balance=d["wallet_balance"], dual_side=d["dual_side"],
                    update_time=d["update_time"])
        for s, (lev, mt) in d["settings"].items():
            a.settings[s] = SymbolSettings(lev, MarginType(mt))
        v.accounts[a.account_id] = a
    for r in u["positions"]:
        p = _load(Position, dict(zip(pc, r)))
        v.pos_map[(p.account_id, p.symbol, p.position_side)] = p
        if p.qty:
            v.track_position(p)
    c = u["counters"]
    v.seq, v.next_order_id, v.next_trade_id = c["seq"], c["order"], c["trade"]
    v.next_algo_id, v.next_tran_id, v.next_prio = c["algo"], c["tran"], c["prio"]
    v.insurance_balance = u["insurance_balance"]
    v.margin_called = set(u["margin_called"])
    for r in u["orders"]:
        d = dict(zip(oc, r))
        prio = d.pop("_prio")
        o = _load(Order, d, OrderStatus)
        v.register_order(o)
        if prio:
            v.order_prio[o.order_id] = prio
            v.resting[o.symbol].add(o, prio)
    for r in u["algos"]:
        v.register_algo(_load(AlgoOrder, dict(zip(ac, r)), AlgoStatus))
    for oid, r in u["algo_waiting"]:
        v.algo_waiting[oid] = _load(AlgoOrder, dict(zip(ac, r)), AlgoStatus)
    for a, s, d in u["countdowns"]:
        v.countdowns[(a, s)] = d
        heapq.heappush(v.countdown_heap, (d, a, s))
    for s, md in snap["markets"].items():
        if s in v.markets:
            v.markets[s] = RefMarket.load(s, md)
    v.next_funding_ms = snap["next_funding_ms"]
    _restore_challenges(v, u)
    rebuild_guard(v)
