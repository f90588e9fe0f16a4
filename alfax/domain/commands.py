"""Commands: everything that can change venue state enters the engine as one of these.

The edge (api/), the feeds, the CLI, the backtester and the strategy runtime all build commands; only
``engine.Venue.handle`` executes them. Commands are journaled (ledger/) and replayed verbatim on restart, so
they hold only plain values: raw ints for money (see ``money``), strings, bools and the enums.
"""

from __future__ import annotations

from dataclasses import dataclass

from .enums import MarginType, OrderType, PositionSide, Side, TimeInForce, WorkingType


class Command:
    """Marker base. ``kind`` names the command in the journal."""

    __slots__ = ()
    kind: str = ""
    is_market_data: bool = False  # market commands may be coalesced by the runtime (see ledger/journal)


# ---------------------------------------------------------------- accounts and configuration


@dataclass(frozen=True, slots=True)
class CreateAccount(Command):
    kind = "create_account"
    account_id: int  # chosen by the caller (operator API) so replay is exact; 0 = next free id
    alias: str = ""


@dataclass(frozen=True, slots=True)
class Transfer(Command):
    """Deposit (positive) or withdrawal (negative) of USDT; TRANSFER in income history."""

    kind = "transfer"
    account_id: int
    amount: int  # USDT raw, signed
    info: str = ""


@dataclass(frozen=True, slots=True)
class SetLeverage(Command):
    kind = "set_leverage"
    account_id: int
    symbol: str
    leverage: int


@dataclass(frozen=True, slots=True)
class SetMarginType(Command):
    kind = "set_margin_type"
    account_id: int
    symbol: str
    margin_type: MarginType


@dataclass(frozen=True, slots=True)
class SetPositionMode(Command):
    kind = "set_position_mode"
    account_id: int
    dual_side: bool


@dataclass(frozen=True, slots=True)
class AdjustPositionMargin(Command):
    kind = "adjust_position_margin"
    account_id: int
    symbol: str
    position_side: PositionSide
    amount: int  # USDT raw, positive
    add: bool  # type=1 add, type=2 reduce


# ---------------------------------------------------------------- orders


@dataclass(frozen=True, slots=True)
class PlaceOrder(Command):
    """A new order. Conditional types become algo orders (``is_algo``) whatever endpoint they came from."""

    kind = "place_order"
    account_id: int
    symbol: str
    side: Side
    type: OrderType
    quantity: int = 0  # qty raw; 0 with close_position
    price: int = 0  # price raw; 0 = none
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    close_position: bool = False
    position_side: PositionSide = PositionSide.BOTH
    client_order_id: str = ""  # "" = engine generates one
    stop_price: int = 0  # trigger price raw (stopPrice / triggerPrice)
    working_type: WorkingType = WorkingType.CONTRACT_PRICE
    price_protect: bool = False
    activation_price: int = 0  # trailing stop activation price raw; 0 = activate at once
    callback_rate: int = 0  # trailing callback, rate raw (1% = 1_000_000)
    good_till_date: int = 0  # ms, GTD only
    via_algo_api: bool = False  # placed through /fapi/v1/algoOrder (answers with algoId shape)


@dataclass(frozen=True, slots=True)
class CancelOrder(Command):
    kind = "cancel_order"
    account_id: int
    symbol: str
    order_id: int = 0
    client_order_id: str = ""


@dataclass(frozen=True, slots=True)
class CancelAlgoOrder(Command):
    kind = "cancel_algo_order"
    account_id: int
    symbol: str = ""  # optional on Binance's algo API
    algo_id: int = 0
    client_algo_id: str = ""


@dataclass(frozen=True, slots=True)
class CancelAllOrders(Command):
    """Cancels regular and/or algo open orders of one symbol."""

    kind = "cancel_all_orders"
    account_id: int
    symbol: str
    regular: bool = True
    algo: bool = True


@dataclass(frozen=True, slots=True)
class AmendOrder(Command):
    """PUT /fapi/v1/order: new price and/or quantity of an open LIMIT order."""

    kind = "amend_order"
    account_id: int
    symbol: str
    side: Side
    quantity: int
    price: int
    order_id: int = 0
    client_order_id: str = ""


@dataclass(frozen=True, slots=True)
class CountdownCancelAll(Command):
    """Arm (countdown_ms > 0) or disarm (0) the dead-man switch of one symbol."""

    kind = "countdown_cancel_all"
    account_id: int
    symbol: str
    countdown_ms: int


# ---------------------------------------------------------------- prop challenges (issue 4)


@dataclass(frozen=True, slots=True)
class StartChallenge(Command):
    """Turn a flat account into a challenge stage: wallet set to the stage's start balance, leverage clamped to
    the product's caps. ``product`` is the product's canonical JSON (``Product.source``): the rules are pinned
    in the journal itself, so they never change under a running challenge and replay needs no products file."""

    kind = "start_challenge"
    account_id: int
    challenge_id: str  # canonical UUID, the same for every stage of one challenge
    product: str
    stage: str = "STAGE_1"


@dataclass(frozen=True, slots=True)
class FailChallenge(Command):
    """Operator: fail a challenge for a rule violation found outside the engine (RULE_VIOLATION)."""

    kind = "fail_challenge"
    account_id: int
    reason: str
    rule: str = "RULE_VIOLATION"


@dataclass(frozen=True, slots=True)
class RequestPayout(Command):
    """Accepted as ``requested``; the gates and the cap are checked at approval (§B8)."""

    kind = "request_payout"
    account_id: int
    payout_id: str  # canonical UUID
    amount: int  # USDT raw
    currency: str = "USDT"


@dataclass(frozen=True, slots=True)
class DecidePayout(Command):
    """Operator: approve (gates and cap re-checked; paid at once with ``tx_ref``) or reject with a reason."""

    kind = "decide_payout"
    payout_id: str
    approve: bool
    reason: str = ""
    tx_ref: str = ""


# ---------------------------------------------------------------- reference market (from feeds)


@dataclass(frozen=True, slots=True)
class BookUpdate(Command):
    """Full top-of-book snapshot of the reference L2 book (best first). Resets remembered own consumption."""

    kind = "book"
    is_market_data = True
    symbol: str
    bids: tuple[tuple[int, int], ...]  # (price raw, qty raw), best first
    asks: tuple[tuple[int, int], ...]
    update_id: int = 0


@dataclass(frozen=True, slots=True)
class TradePrint(Command):
    """A reference-market trade."""

    kind = "trade"
    is_market_data = True
    symbol: str
    price: int
    qty: int
    buyer_is_maker: bool
    trade_id: int = 0


@dataclass(frozen=True, slots=True)
class MarkPriceUpdate(Command):
    kind = "mark"
    is_market_data = True
    symbol: str
    mark_price: int
    index_price: int
    funding_rate: int  # rate raw, the current estimate ("lastFundingRate")
    next_funding_time: int


@dataclass(frozen=True, slots=True)
class FeedStatus(Command):
    """The reference feed of ``symbol`` became stale (no usable data: disconnected, resyncing, silent) or fresh
    again. Journaled, so replay sees the same rejections. While stale, orders for the symbol are rejected and
    nothing (fills, triggers, liquidation, funding) is evaluated on its prices."""

    kind = "feed"
    # Not coalescible market data: whether a later update was evaluated depends on this flag, so it is journaled
    # in place (after the pending market updates before it), never folded into the latest-per-symbol slot.
    is_market_data = False
    symbol: str
    stale: bool


@dataclass(frozen=True, slots=True)
class Tick(Command):
    """Time passes: GTD expiry, countdown cancel-all, funding at 00/08/16 UTC. Sent by the runtime each second."""

    kind = "tick"
    is_market_data = True


@dataclass(frozen=True, slots=True)
class Restart(Command):
    """Journaled at every start: bumps id counters so ids never repeat even if unacknowledged work was lost."""

    kind = "restart"
    id_gap: int = 100_000


ALL_COMMANDS: dict[str, type] = {
    c.kind: c
    for c in (
        CreateAccount, Transfer, SetLeverage, SetMarginType, SetPositionMode, AdjustPositionMargin,
        PlaceOrder, CancelOrder, CancelAlgoOrder, CancelAllOrders, AmendOrder, CountdownCancelAll,
        StartChallenge, FailChallenge, RequestPayout, DecidePayout,
        BookUpdate, TradePrint, MarkPriceUpdate, FeedStatus, Tick, Restart,
    )
}
