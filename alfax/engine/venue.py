"""The venue: deterministic single writer. ``handle(command) -> list[Event]``; queries for the edge.

Stage order per command (exchange-core style): risk pre-check (``risk``) → matching against the reference
market (``matching``/``book``) → settlement (``settlement``). Time-driven work (GTD expiry, countdown cancel-all,
funding) runs after a command succeeded, from the time read once at the start of ``handle``.
"""

from __future__ import annotations

import heapq
from typing import Callable

from ..domain import commands as C
from ..domain.accounts import Account
from ..domain.challenge_state import ChallengeState, ChallengeView, CheckResult, Payout
from ..domain.enums import BalanceReason, IncomeType, OrderType, PositionSide, Side
from ..domain.errors import Err, VenueError
from ..domain.events import AccountUpdated, Event, Income
from ..domain.instruments import Instrument
from ..domain.orders import AlgoOrder, Order
from ..domain.positions import Position
from ..domain.products import Product
from . import accounts as A
from . import challenges as CH
from . import guard
from . import market as MK
from . import ordering as O
from . import persist, precheck, queries, timers
from .book import RefMarket
from .clock import Clock
from .copying import copy_position
from .resting import RestingIndex
from .summary import AccountSummary, MarketState, PositionMetrics
from .triggers import TriggerIndex

PosKey = tuple[int, str, PositionSide]


class Venue:
    def __init__(self, instruments: dict[str, Instrument], clock: Clock) -> None:
        self.instruments = instruments
        self.clock = clock
        self.now = 0
        self.seq = 0
        self.next_order_id = 0
        self.next_trade_id = 0
        self.next_algo_id = 0
        self.next_tran_id = 0
        self.next_prio = 0
        self.insurance_balance = 0
        self.accounts: dict[int, Account] = {}
        self.pos_map: dict[PosKey, Position] = {}
        self.acct_positions: dict[int, set[PosKey]] = {}  # open positions per account (derived)
        self.symbol_holders: dict[str, set[int]] = {s: set() for s in instruments}  # derived
        self.orders: dict[int, Order] = {}  # open regular orders
        self.order_prio: dict[int, int] = {}  # time priority of open resting orders
        self.acct_orders: dict[int, dict[int, Order]] = {}  # derived
        # (acct, symbol) -> open orders, iterated in order-id (time) order (derived; see register_order)
        self.sym_orders: dict[tuple[int, str], dict[int, Order]] = {}
        # (acct, symbol, side, positionSide) -> open LIMIT orders, in order-id order (derived): the orders that
        # share one position's reducible capacity (risk.free_reducible / reserve_all)
        self.side_orders: dict[tuple[int, str, Side, PositionSide], dict[int, Order]] = {}
        self.ooim: dict[int, int] = {}  # account -> sum of reserved_margin of its open orders (derived)
        # order id -> (open qty, mark, price, leverage, margin): risk.reserve_all cache of a pure function (derived)
        self.reserve_memo: dict[int, tuple] = {}
        self.algos: dict[int, AlgoOrder] = {}  # open algo orders
        self.acct_algos: dict[int, dict[int, AlgoOrder]] = {}  # derived
        self.legacy: dict[int, int] = {}  # legacy order id -> algo id (derived)
        self.algo_waiting: dict[int, AlgoOrder] = {}  # child order id -> triggered algo awaiting its end
        self.client_ids: dict[tuple[int, str], tuple[str, int]] = {}  # (acct, cid) -> ("o"|"a", id) (derived)
        self.resting: dict[str, RestingIndex] = {s: RestingIndex() for s in instruments}
        self.triggers: dict[str, TriggerIndex] = {s: TriggerIndex() for s in instruments}
        self.markets: dict[str, RefMarket] = {s: RefMarket(s) for s in instruments}
        self.gtd_heap: list[tuple[int, int, int]] = []  # (good_till_date, 0 order / 1 algo, id) (derived)
        self.countdowns: dict[tuple[int, str], int] = {}  # (acct, symbol) -> deadline ms
        self.countdown_heap: list[tuple[int, int, str]] = []  # derived
        self.margin_called: set[int] = set()  # accounts currently beyond the margin-call ratio
        self.next_funding_ms = 0  # next 00/08/16 UTC boundary to settle (schedule, not user state)
        # prop challenges (engine/challenges.py): state per stage account, pinned rulebooks, payouts
        self.challenges: dict[int, ChallengeState] = {}
        self.challenge_accounts: dict[str, list[int]] = {}  # challenge id -> stage accounts (derived)
        self.rulebooks: dict[str, Product] = {}  # rules version -> product (pinned by StartChallenge)
        self.payouts: dict[str, Payout] = {}
        self.rollover_heap: list[tuple[int, int]] = []  # (next rollover ms, account) (derived)
        self.challenge_fills: dict[int, bool] = {}  # accounts filled in this command -> a fill reduced exposure
        self.guard = guard.Guard(instruments)  # which accounts a mark update must evaluate (derived)
        self.carry: list[Event] = []  # rollover events of a command that was then rejected (see handle)
        self.out: list[Event] = []
        self._dispatch: dict[type, Callable] = {
            C.CreateAccount: A.create_account,
            C.Transfer: A.transfer,
            C.SetLeverage: A.set_leverage,
            C.SetMarginType: A.set_margin_type,
            C.SetPositionMode: A.set_position_mode,
            C.AdjustPositionMargin: A.adjust_position_margin,
            C.PlaceOrder: O.place_order,
            C.CancelOrder: O.cancel_order,
            C.CancelAlgoOrder: O.cancel_algo_order,
            C.CancelAllOrders: O.cancel_all_orders,
            C.AmendOrder: O.amend_order,
            C.CountdownCancelAll: O.countdown_cancel_all,
            C.StartChallenge: CH.start_challenge,
            C.FailChallenge: CH.fail_challenge,
            C.RequestPayout: CH.request_payout,
            C.DecidePayout: CH.decide_payout,
            C.BookUpdate: MK.on_book,
            C.TradePrint: MK.on_trade,
            C.MarkPriceUpdate: MK.on_mark,
            C.FeedStatus: MK.on_feed_status,
            C.Tick: _noop,
            C.Restart: _restart,
        }

    # ================================================================== command entry point
    def handle(self, cmd: C.Command) -> list[Event]:
        """Execute one command; returns its events (seq-numbered). Raises ``VenueError`` with the state unchanged
        (all checks run before any mutation). Time-driven work (GTD, countdown, funding) runs after the command
        succeeded, so a rejected command never changes anything."""
        self.now = self.clock.now_ms()
        fn = self._dispatch.get(type(cmd))
        if fn is None:
            raise VenueError(Err.UNKNOWN)
        self.out = out = self.carry
        self.carry = []
        self.guard.scan_from = 0
        rh = self.rollover_heap
        if rh and rh[0][0] <= self.now:
            # challenge rollovers run BEFORE the command, so the snapshot sees the marks as they were at R_d
            CH.roll_due(self)
        try:
            fn(self, cmd)
        except VenueError:
            # the command changed nothing; rollover work done before it stays done, and its events go out with
            # the next command (a replay, which never sees the rejected command, rolls over there: same state)
            self.carry, self.out, self.challenge_fills = out, [], {}
            raise
        timers.run(self)
        if self.challenge_fills:
            CH.after_command(self)
        guard.refresh(self)
        self.out = []
        return out

    # ================================================================== event and id helpers
    def emit(self, cls: type, **kw) -> Event:
        self.seq += 1
        ev = cls(seq=self.seq, ts=self.now, **kw)
        self.out.append(ev)
        return ev

    def new_order_id(self) -> int:
        self.next_order_id += 1
        return self.next_order_id

    def new_trade_id(self) -> int:
        self.next_trade_id += 1
        return self.next_trade_id

    def new_algo_id(self) -> int:
        # algoIds and orderIds share one id space, as on Binance: Freqtrade stores both in one
        # UNIQUE(pair, order_id) column and crashes if an algoId equals an orderId of the same symbol.
        self.next_order_id += 1
        self.next_algo_id = self.next_order_id
        return self.next_order_id

    def new_tran_id(self) -> int:
        self.next_tran_id += 1
        return self.next_tran_id

    def new_prio(self) -> int:
        self.next_prio += 1
        return self.next_prio

    def income(self, account_id: int, kind: IncomeType, amount: int, symbol: str = "", trade_id: int = 0,
               info: str = "") -> None:
        self.emit(Income, account_id=account_id, tran_id=self.new_tran_id(), income_type=kind, amount=amount,
                  symbol=symbol, trade_id=trade_id, info=info)

    def account_updated(self, acct: Account, reason: BalanceReason, balance_change: int = 0,
                        positions: tuple[Position, ...] = ()) -> None:
        acct.update_time = self.now
        iso = 0
        for key in self.acct_positions.get(acct.account_id, ()):
            iso += self.pos_map[key].isolated_wallet
        self.emit(AccountUpdated, account_id=acct.account_id, reason=reason, wallet_balance=acct.wallet_balance,
                  cross_wallet_balance=acct.wallet_balance - iso, balance_change=balance_change,
                  positions=tuple(copy_position(p) for p in positions))

    # ================================================================== state bookkeeping
    def position(self, account_id: int, symbol: str, pside: PositionSide) -> Position:
        key = (account_id, symbol, pside)
        pos = self.pos_map.get(key)
        if pos is None:
            s = self.accounts[account_id].symbol_settings(symbol)
            pos = self.pos_map[key] = Position(account_id, symbol, pside, margin_type=s.margin_type,
                                                 leverage=s.leverage, update_time=self.now)
        return pos

    def track_position(self, pos: Position) -> None:
        key = (pos.account_id, pos.symbol, pos.position_side)
        if pos.qty:
            self.acct_positions.setdefault(pos.account_id, set()).add(key)
            self.symbol_holders[pos.symbol].add(pos.account_id)
        else:
            s = self.acct_positions.get(pos.account_id)
            if s is not None:
                s.discard(key)
            if not any(k[1] == pos.symbol for k in self.acct_positions.get(pos.account_id, ())):
                self.symbol_holders[pos.symbol].discard(pos.account_id)
            if pos.isolated_wallet == 0 and pos.break_even_fee == 0:
                # flat positions carry no state beyond the settings; drop them to keep state small
                self.pos_map.pop(key, None)

    def register_order(self, order: Order) -> None:
        oid = order.order_id
        self.orders[oid] = order
        self.acct_orders.setdefault(order.account_id, {})[oid] = order
        key = (order.account_id, order.symbol)
        so = self.sym_orders.get(key)
        if so is None:
            so = self.sym_orders[key] = {}
        _insert_in_id_order(so, oid, order)
        if order.type is OrderType.LIMIT:
            key = (order.account_id, order.symbol, order.side, order.position_side)
            so = self.side_orders.get(key)
            if so is None:
                so = self.side_orders[key] = {}
            _insert_in_id_order(so, oid, order)
        if order.reserved_margin:
            self.ooim[order.account_id] = self.ooim.get(order.account_id, 0) + order.reserved_margin
        self.client_ids[(order.account_id, order.client_order_id)] = ("o", order.order_id)
        if order.good_till_date and order.time_in_force.value == "GTD":
            heapq.heappush(self.gtd_heap, (order.good_till_date, 0, order.order_id))

    def order_done(self, order: Order) -> None:
        """Forget a terminal order (filled/canceled/expired) and finish the algo order that created it."""
        oid = order.order_id
        if self.orders.pop(oid, None) is None:
            return
        self.acct_orders[order.account_id].pop(oid, None)
        self.sym_orders[(order.account_id, order.symbol)].pop(oid, None)
        if order.type is OrderType.LIMIT:
            self.side_orders[(order.account_id, order.symbol, order.side, order.position_side)].pop(oid, None)
        self.order_prio.pop(oid, None)
        if order.reserved_margin:
            self.ooim[order.account_id] -= order.reserved_margin
        self.reserve_memo.pop(oid, None)
        k = (order.account_id, order.client_order_id)
        if self.client_ids.get(k) == ("o", oid):
            del self.client_ids[k]
        self.resting[order.symbol].remove(oid)
        order.reserved_margin = 0
        algo = self.algo_waiting.pop(oid, None)
        if algo is not None:
            O.finish_algo(self, algo, order)

    def set_reserved(self, order: Order, margin: int) -> None:
        """Set the initial margin held by an OPEN (registered) order, keeping the per-account sum current."""
        d = margin - order.reserved_margin
        if d:
            order.reserved_margin = margin
            ooim = self.ooim
            ooim[order.account_id] = ooim.get(order.account_id, 0) + d

    def register_algo(self, algo: AlgoOrder) -> None:
        self.algos[algo.algo_id] = algo
        self.acct_algos.setdefault(algo.account_id, {})[algo.algo_id] = algo
        self.client_ids[(algo.account_id, algo.client_algo_id)] = ("a", algo.algo_id)
        if algo.order_id:
            self.legacy[algo.order_id] = algo.algo_id
        self.triggers[algo.symbol].add(algo)
        if algo.good_till_date and algo.time_in_force.value == "GTD":
            heapq.heappush(self.gtd_heap, (algo.good_till_date, 1, algo.algo_id))

    def algo_done(self, algo: AlgoOrder) -> None:
        aid = algo.algo_id
        if self.algos.pop(aid, None) is None:
            return
        self.acct_algos[algo.account_id].pop(aid, None)
        k = (algo.account_id, algo.client_algo_id)
        if self.client_ids.get(k) == ("a", aid):
            del self.client_ids[k]
        if algo.order_id:
            self.legacy.pop(algo.order_id, None)
        self.triggers[algo.symbol].remove(aid)

    # ================================================================== persistence
    def state_hash(self) -> str:
        return persist.state_hash(self)

    def snapshot(self) -> dict:
        return persist.snapshot(self)

    def snapshot_json(self) -> tuple[bytes, str]:
        """``(JSON bytes of snapshot(), state_hash())`` in one pass (what the runtime's periodic snapshot stores)."""
        return persist.snapshot_json(self)

    @classmethod
    def restore(cls, instruments: dict[str, Instrument], clock: Clock, snap: dict) -> "Venue":
        v = cls(instruments, clock)
        persist.restore(v, snap)
        return v

    # ================================================================== queries (read-only)
    def has_account(self, account_id: int) -> bool:
        return account_id in self.accounts

    def account(self, account_id: int) -> Account:
        acct = self.accounts.get(account_id)
        if acct is None:
            raise VenueError(Err.REJECTED_MBX_KEY)
        return acct

    def open_orders(self, account_id: int, symbol: str | None = None) -> list[Order]:
        return queries.open_orders(self, account_id, symbol)

    def open_algo_orders(self, account_id: int, symbol: str | None = None) -> list[AlgoOrder]:
        out = [a for a in self.acct_algos.get(account_id, {}).values() if symbol is None or a.symbol == symbol]
        out.sort(key=lambda a: a.algo_id)
        return out

    def open_order(self, account_id: int, symbol: str, order_id: int = 0, client_order_id: str = "") -> Order | None:
        return queries.open_order(self, account_id, symbol, order_id, client_order_id)

    def open_algo(self, account_id: int, algo_id: int = 0, client_algo_id: str = "") -> AlgoOrder | None:
        return queries.open_algo(self, account_id, algo_id, client_algo_id)

    def positions(self, account_id: int, symbol: str | None = None) -> list[Position]:
        """One position per (symbol, side) of the account's mode, open or not (flat ones are fresh objects)."""
        return queries.positions(self, account_id, symbol)

    def summary(self, account_id: int) -> AccountSummary:
        return queries.summary(self, account_id)

    def position_metrics(self, account_id: int, position: Position) -> PositionMetrics:
        return queries.position_metrics(self, account_id, position)

    def market(self, symbol: str) -> MarketState:
        return queries.market(self, symbol)

    def challenge_view(self, account_id: int) -> ChallengeView:
        """Raises VenueError(NO_CHALLENGE) for a plain account."""
        return CH.view(self, account_id)

    def stage_account(self, account_id: int) -> int:
        """The newest stage account of ``account_id``'s challenge (itself for plain accounts)."""
        return CH.stage_account(self, account_id)

    def payout_blockers(self, account_id: int, amount: int | None) -> list[str]:
        return CH.payout_blockers(self, self.challenges[account_id], amount)

    def challenge_precheck(self, cmd: C.PlaceOrder) -> None:
        """The challenge rules of the risk stage for an order, without placing it (order/test, challenge/check).
        Raises VenueError(-2010 …) naming the rule."""
        CH.check_order(self, cmd)

    def challenge_check(self, cmd: C.PlaceOrder) -> CheckResult:
        return precheck.check(self, cmd)



def _insert_in_id_order(d: dict, oid: int, order: Order) -> None:
    if d and oid < next(reversed(d)):
        # an id older than the newest open one (the pre-assigned id of a triggered legacy conditional order):
        # keep the dict in id order, so claim scans can stop early without sorting
        d[oid] = order
        items = sorted(d.items())
        d.clear()
        d.update(items)
    else:
        d[oid] = order


def _noop(v: Venue, cmd: C.Command) -> None:
    return None


def _restart(v: Venue, cmd: C.Restart) -> None:
    gap = max(0, cmd.id_gap)
    v.next_order_id += gap
    v.next_trade_id += gap
    v.next_algo_id += gap
    v.next_tran_id += gap
