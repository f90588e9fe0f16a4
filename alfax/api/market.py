"""Public market-data handlers (NONE security) and the spot/sapi/dapi probes clients hit anyway (§1.1, §1.7)."""

from __future__ import annotations

import orjson

from alfax.domain.errors import Err, VenueError
from alfax.domain.money import format_fixed

from . import codec
from .request import Raw, Req

KLINE_INTERVALS = frozenset(
    ["1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"]
)


# ------------------------------------------------------------------------------------------ exchangeInfo


class ExchangeInfoCache:
    """exchangeInfo is built once from the instruments; only serverTime changes per request."""

    def __init__(self, instruments: dict, rate_limits: list[dict]) -> None:
        doc = {
            "timezone": "UTC",
            "serverTime": 0,
            "futuresType": "U_MARGINED",
            "rateLimits": rate_limits,
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [codec.symbol_json(i) for i in instruments.values()],
        }
        body = orjson.dumps(doc)
        marker = b'"serverTime":0,'
        i = body.index(marker)
        self.head = body[: i + len(b'"serverTime":')]
        self.tail = body[i + len(marker) - 1 :]

    def render(self, now: int) -> bytes:
        return b"".join((self.head, str(now).encode(), self.tail))


async def exchange_info(r: Req):
    return Raw(r.edge.exchange_info.render(r.now))


_SPOT_INFO_HEAD = b'{"timezone":"UTC","serverTime":'
_SPOT_INFO_TAIL = b',"rateLimits":[],"exchangeFilters":[],"symbols":[]}'


async def spot_exchange_info(r: Req):
    return Raw(_SPOT_INFO_HEAD + str(r.now).encode() + _SPOT_INFO_TAIL)


async def ping(r: Req):
    return Raw(b"{}")


async def server_time(r: Req):
    return Raw(b'{"serverTime":' + str(r.now).encode() + b"}")


async def empty_list(r: Req):
    return Raw(b"[]")


# ------------------------------------------------------------------------------------------ book and trades


def depth_weight(p) -> int:
    try:
        n = int(p.get("limit") or 500)
    except ValueError:
        return 20
    if n <= 50:
        return 2
    if n <= 100:
        return 5
    if n <= 500:
        return 10
    return 20


async def depth(r: Req):
    inst = r.instrument()
    limit = r.p.limit(500, 1000)
    return r.ctx.market.depth(inst.symbol, limit)


async def trades(r: Req):
    inst = r.instrument()
    return r.ctx.market.trades(inst.symbol, r.p.limit(500, 1000))


async def agg_trades(r: Req):
    inst = r.instrument()
    p = r.p
    return r.ctx.market.agg_trades(
        inst.symbol, from_id=p.int("fromId"), start_ms=p.int("startTime"), end_ms=p.int("endTime"),
        limit=p.limit(500, 1000),
    )


# ------------------------------------------------------------------------------------------ klines


def klines_weight(p) -> int:
    try:
        n = int(p.get("limit") or 500)
    except ValueError:
        return 10
    if n < 100:
        return 1
    if n < 500:
        return 2
    if n <= 1000:
        return 5
    return 10


def _klines(r: Req, symbol_param: str, price: str):
    inst = r.instrument(symbol_param)
    p = r.p
    interval = p.req("interval")
    if interval not in KLINE_INTERVALS:
        raise VenueError(Err.INVALID_INTERVAL)
    return r.ctx.market.klines(
        inst.symbol, interval, start_ms=p.int("startTime"), end_ms=p.int("endTime"), limit=p.limit(500, 1500),
        price=price,
    )


async def klines(r: Req):
    return _klines(r, "symbol", "trade")


async def mark_price_klines(r: Req):
    return _klines(r, "symbol", "mark")


async def index_price_klines(r: Req):
    return _klines(r, "pair", "index")


async def premium_index_klines(r: Req):
    return _klines(r, "symbol", "premium")


async def continuous_klines(r: Req):
    ct = r.p.req("contractType").upper()
    if ct != "PERPETUAL":
        r.instrument("pair")
        raise VenueError(Err.INVALID_PARAMETER, param="contractType")
    return _klines(r, "pair", "trade")


# ------------------------------------------------------------------------------------------ tickers, funding


def _per_symbol(r: Req, fn):
    inst = r.opt_instrument()
    if inst is not None:
        return fn(inst.symbol)
    return [fn(s) for s in r.edge.instruments]


def symbol_optional_weight(one: int, all_: int):
    def w(p) -> int:
        return one if p.get("symbol") else all_

    return w


async def premium_index(r: Req):
    return _per_symbol(r, r.ctx.market.premium_index)


async def funding_rate(r: Req):
    inst = r.opt_instrument()
    p = r.p
    return r.ctx.market.funding_rates(
        inst.symbol if inst else None, start_ms=p.int("startTime"), end_ms=p.int("endTime"),
        limit=p.limit(100, 1000),
    )


async def funding_info(r: Req):
    return [
        {
            "symbol": s,
            "adjustedFundingRateCap": "0.02000000",
            "adjustedFundingRateFloor": "-0.02000000",
            "fundingIntervalHours": 8,
            "disclaimer": False,
        }
        for s in r.edge.instruments
    ]


async def ticker_24hr(r: Req):
    return _per_symbol(r, r.ctx.market.ticker_24hr)


async def ticker_price(r: Req):
    return _per_symbol(r, r.ctx.market.price_ticker)


async def book_ticker(r: Req):
    return _per_symbol(r, r.ctx.market.book_ticker)


def _open_interest_raw(r: Req, symbol: str) -> int:
    """Sum of |position| over all accounts (the venue has no counterparties), qty raw; 0 if unknown."""
    venue = r.ctx.venue
    fn = getattr(venue, "open_interest", None)
    try:
        if fn is not None:
            return int(fn(symbol))
        holders = getattr(venue, "symbol_holders", None)
        if not isinstance(holders, dict):
            return 0
        total = 0
        for acc in list(holders.get(symbol, ())):
            for pos in venue.positions(acc, symbol):
                total += abs(pos.qty)
        return total
    except Exception:  # an optional query; never fail a public endpoint on it
        return 0


async def open_interest(r: Req):
    inst = r.instrument()
    raw = _open_interest_raw(r, inst.symbol)
    return {"openInterest": format_fixed(raw, inst.quantity_precision), "symbol": inst.symbol, "time": r.now}


async def open_interest_hist(r: Req):
    r.instrument()
    r.p.req("period")
    return []


async def futures_data_ratio(r: Req):
    r.instrument()
    return []
