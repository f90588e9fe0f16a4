"""Binance USDT-M public payloads -> raw ints (pure functions, no I/O).

Every decimal arrives as a JSON string and is converted with ``alfax.domain.money``; a JSON number where Binance
sends a string is refused (a float would already have lost precision). Traded and quoted values (trade price and
quantity, depth levels) must fit the instrument's precision exactly (trailing zeros are fine): a non-zero digit
beyond it means our instrument table disagrees with the venue, and rounding would silently merge or move levels.
Mark and index prices and the funding rate are *computed* upstream and carry more digits ("11794.15000000",
"11784.62659091"), so they are rounded half-up (away from zero, like ``money.div_round_half_up``).

Any malformed payload raises ``WireError`` (a ``ValueError``); callers log and skip it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from alfax.domain.bars import Bar
from alfax.domain.commands import MarkPriceUpdate, TradePrint
from alfax.domain.instruments import Instrument
from alfax.domain.money import RATE_DECIMALS, MoneyError, PrecisionError, check_raw, parse_fixed

Level = tuple[int, int]  # (price raw, qty raw)


class WireError(ValueError):
    """A frame that does not have Binance's shape (skipped, never fatal)."""


def parse_rounded(text: object, decimals: int, *, allow_negative: bool = False) -> int:
    """Raw int at ``decimals``: exact when it fits, otherwise rounded half away from zero (computed values)."""
    if not isinstance(text, str):
        raise WireError(f"decimal must be a JSON string, got {type(text).__name__}")
    try:
        return parse_fixed(text, decimals, allow_negative=allow_negative)
    except PrecisionError:
        pass
    except MoneyError as e:
        raise WireError(str(e)) from None
    try:
        d = Decimal(text.strip()).scaleb(decimals).to_integral_value(rounding=ROUND_HALF_UP)
        return check_raw(int(d))
    except (InvalidOperation, MoneyError) as e:  # pragma: no cover - parse_fixed already validated the text
        raise WireError(str(e)) from None


def parse_exact(text: object, decimals: int) -> int:
    """Raw int at ``decimals``; trailing zeros accepted, any further non-zero digit refused."""
    if not isinstance(text, str):
        raise WireError(f"decimal must be a JSON string, got {type(text).__name__}")
    try:
        return parse_fixed(text, decimals)
    except MoneyError as e:
        raise WireError(str(e)) from None


def _int(data: dict, key: str) -> int:
    v = data.get(key)
    if type(v) is not int:  # bool is an int subclass; ids are never booleans
        raise WireError(f"field {key!r} must be an integer, got {v!r}")
    return v


def _levels(raw: object, inst: Instrument, *, allow_zero: bool) -> tuple[Level, ...]:
    if not isinstance(raw, list):
        raise WireError("depth side must be a list")
    out = []
    for lv in raw:
        if not isinstance(lv, list) or len(lv) < 2:
            raise WireError(f"bad depth level {lv!r}")
        p = parse_exact(lv[0], inst.price_precision)
        q = parse_exact(lv[1], inst.quantity_precision)
        if p <= 0 or (q == 0 and not allow_zero):
            raise WireError(f"bad depth level {lv!r}")
        out.append((p, q))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class DepthEvent:
    """One ``depthUpdate`` (diff depth): levels are absolute quantities, qty 0 removes the level."""

    U: int  # first update id in the event
    u: int  # final update id in the event
    pu: int  # final update id of the previous event on this stream
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    E: int = 0


@dataclass(frozen=True, slots=True)
class DepthSnapshot:
    """``GET /fapi/v1/depth`` answer."""

    last_update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


def depth_event(data: dict, inst: Instrument) -> DepthEvent:
    if data.get("e") != "depthUpdate":
        raise WireError(f"not a depthUpdate: {data.get('e')!r}")
    U, u, pu = _int(data, "U"), _int(data, "u"), _int(data, "pu")
    if U > u:
        raise WireError(f"depthUpdate U {U} > u {u}")
    bids = _levels(data.get("b"), inst, allow_zero=True)
    asks = _levels(data.get("a"), inst, allow_zero=True)
    return DepthEvent(U, u, pu, bids, asks, data["E"] if type(data.get("E")) is int else 0)


def depth_snapshot(data: object, inst: Instrument) -> DepthSnapshot:
    if not isinstance(data, dict):
        raise WireError("depth snapshot must be an object")
    return DepthSnapshot(_int(data, "lastUpdateId"), _levels(data.get("bids"), inst, allow_zero=False),
                         _levels(data.get("asks"), inst, allow_zero=False))


def agg_trade(data: dict, inst: Instrument) -> TradePrint:
    if data.get("e") != "aggTrade":
        raise WireError(f"not an aggTrade: {data.get('e')!r}")
    m = data.get("m")
    if not isinstance(m, bool):
        raise WireError(f"aggTrade m must be a boolean, got {m!r}")
    px = parse_exact(data.get("p"), inst.price_precision)
    qty = parse_exact(data.get("q"), inst.quantity_precision)
    if px <= 0 or qty <= 0:
        raise WireError("aggTrade with a zero price or quantity")
    return TradePrint(inst.symbol, px, qty, buyer_is_maker=m, trade_id=_int(data, "a"))


def mark_price(data: dict, inst: Instrument) -> MarkPriceUpdate:
    if data.get("e") != "markPriceUpdate":
        raise WireError(f"not a markPriceUpdate: {data.get('e')!r}")
    mark = parse_rounded(data.get("p"), inst.price_precision)
    index = parse_rounded(data.get("i"), inst.price_precision)
    if mark <= 0 or index <= 0:
        raise WireError("markPriceUpdate with a zero mark or index price")
    rate = parse_rounded(data.get("r"), RATE_DECIMALS, allow_negative=True)
    return MarkPriceUpdate(inst.symbol, mark_price=mark, index_price=index, funding_rate=rate,
                           next_funding_time=_int(data, "T"))


def book_ticker(data: dict, inst: Instrument) -> tuple[Level, Level]:
    """Best (bid, ask) of a ``bookTicker``; validated so that only well-formed frames count as liveness."""
    if data.get("e") != "bookTicker":
        raise WireError(f"not a bookTicker: {data.get('e')!r}")
    _int(data, "u")
    return ((parse_exact(data.get("b"), inst.price_precision), parse_exact(data.get("B"), inst.quantity_precision)),
            (parse_exact(data.get("a"), inst.price_precision), parse_exact(data.get("A"), inst.quantity_precision)))


# ---------------------------------------------------------------------------------------------- REST klines

KLINE_KINDS = ("trade", "mark", "index", "premium")


def kline_bar(row: object, inst: Instrument, kind: str) -> Bar:
    """One REST kline row ``[openTime, o, h, l, c, volume, closeTime, quoteVolume, trades, takerBuyVolume,
    takerBuyQuote, ignore]`` -> Bar. Trade prices must fit the tick precision; mark/index prices and premium rates
    are computed values and are rounded half-up (premium at RATE_DECIMALS)."""
    if not isinstance(row, list) or len(row) < 9 or not isinstance(row[0], int):
        raise WireError(f"kline row {row!r:.80}")
    if kind == "trade":
        pp, qp = inst.price_precision, inst.quantity_precision
        o, h, lo, c = (parse_exact(x, pp) for x in row[1:5])
        return Bar(row[0], o, h, lo, c, volume=parse_exact(row[5], qp), quote_volume=parse_rounded(row[7], pp + qp),
                   trades=int(row[8]), taker_buy_volume=parse_exact(row[9], qp) if len(row) > 9 else 0,
                   taker_buy_quote=parse_rounded(row[10], pp + qp) if len(row) > 10 else 0)
    d = RATE_DECIMALS if kind == "premium" else inst.price_precision
    neg = kind == "premium"
    o, h, lo, c = (parse_rounded(x, d, allow_negative=neg) for x in row[1:5])
    return Bar(row[0], o, h, lo, c, trades=int(row[8]) if isinstance(row[8], int) else 0)
