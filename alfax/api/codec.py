"""Domain objects → Binance JSON shapes (contract §1).

Prices and quantities are formatted at the instrument's precision, USDT amounts at 8 dp, ids and times are ints.
Field order follows Binance's documented responses.
"""

from __future__ import annotations

from alfax.domain.enums import AlgoStatus, OrderType
from alfax.domain.instruments import Instrument
from alfax.domain.money import AMOUNT_DECIMALS, div_round_half_up, format_fixed, format_trimmed
from alfax.domain.orders import AlgoOrder, Order, Trade
from alfax.domain.wire import amt, avg_price, percent_str  # shared with the stream encoders (alfax.streams)

USDT = "USDT"
PERPETUAL_DELIVERY_DATE = 4133404800000


def p8(raw: int) -> str:
    return format_fixed(raw, 8)


def rate_str(raw: int) -> str:
    """Rate raw (8 dp) trimmed: 0.0002."""
    return format_trimmed(raw, 8)


def _fmt_price_or_zero(inst: Instrument, raw: int) -> str:
    return format_fixed(raw, inst.price_precision)


# ---------------------------------------------------------------------------------------------- orders


def order_json(o: Order, inst: Instrument) -> dict:
    # enum members go to orjson as is (it serializes their values); saves the .value lookups on the hot path
    pp = inst.price_precision
    qp = inst.quantity_precision
    ex = format_fixed(o.executed_qty, qp)
    d = {
        "orderId": o.order_id,
        "symbol": o.symbol,
        "status": o.status,
        "clientOrderId": o.client_order_id,
        "price": format_fixed(o.price, pp),
        "avgPrice": avg_price(inst, o.cum_quote, o.executed_qty),
        "origQty": format_fixed(o.quantity, qp),
        "executedQty": ex,
        "cumQty": ex,
        "cumQuote": amt(o.cum_quote),
        "timeInForce": o.time_in_force,
        "type": o.type,
        "reduceOnly": o.reduce_only,
        "closePosition": o.close_position,
        "side": o.side,
        "positionSide": o.position_side,
        "stopPrice": format_fixed(o.stop_price, pp),
        "workingType": o.working_type,
        "priceProtect": o.price_protect,
        "origType": o.orig_type,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "NONE",
        "goodTillDate": o.good_till_date,
        "time": o.time,
        "updateTime": o.update_time,
    }
    if o.orig_type is OrderType.TRAILING_STOP_MARKET or o.callback_rate:
        d["activatePrice"] = format_fixed(o.activation_price, pp)
        d["priceRate"] = percent_str(o.callback_rate)
    return d


_ALGO_TO_ORDER_STATUS = {
    AlgoStatus.NEW: "NEW",
    AlgoStatus.TRIGGERING: "NEW",
    AlgoStatus.TRIGGERED: "FILLED",
    AlgoStatus.FINISHED: "FILLED",
    AlgoStatus.CANCELED: "CANCELED",
    AlgoStatus.REJECTED: "REJECTED",
    AlgoStatus.EXPIRED: "EXPIRED",
}


def algo_as_order_json(a: AlgoOrder, inst: Instrument, actual: Order | None = None) -> dict:
    """A conditional order placed through /fapi/v1/order (legacy clients): the order shape, orderId = algoId.

    Once triggered, the status and fills come from the actual order when it is known.
    """
    pp = inst.price_precision
    qp = inst.quantity_precision
    status = _ALGO_TO_ORDER_STATUS.get(a.status, "NEW")
    executed = 0
    cum_quote = 0
    if actual is not None:
        status = actual.status.value
        executed = actual.executed_qty
        cum_quote = actual.cum_quote
    elif a.status in (AlgoStatus.TRIGGERED, AlgoStatus.FINISHED) and a.actual_qty:
        executed = a.actual_qty
        cum_quote = inst.notional(a.actual_price, a.actual_qty)
    ex = format_fixed(executed, qp)
    d = {
        "orderId": a.order_id or a.algo_id,
        "symbol": a.symbol,
        "status": status,
        "clientOrderId": a.client_algo_id,
        "price": format_fixed(a.price, pp),
        "avgPrice": avg_price(inst, cum_quote, executed),
        "origQty": format_fixed(a.quantity, qp),
        "executedQty": ex,
        "cumQty": ex,
        "cumQuote": amt(cum_quote),
        "timeInForce": a.time_in_force.value,
        "type": a.order_type.value,
        "reduceOnly": a.reduce_only,
        "closePosition": a.close_position,
        "side": a.side.value,
        "positionSide": a.position_side.value,
        "stopPrice": format_fixed(a.trigger_price, pp),
        "workingType": a.working_type.value,
        "priceProtect": a.price_protect,
        "origType": a.order_type.value,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "NONE",
        "goodTillDate": a.good_till_date,
        "time": a.create_time,
        "updateTime": a.update_time,
    }
    if a.order_type is OrderType.TRAILING_STOP_MARKET:
        d["activatePrice"] = format_fixed(a.activation_price, pp)
        d["priceRate"] = percent_str(a.callback_rate)
    return d


def algo_json(a: AlgoOrder, inst: Instrument, actual_type: str = "") -> dict:
    """The /fapi/v1/algoOrder shape (official SDK new/query algo order response)."""
    pp = inst.price_precision
    qp = inst.quantity_precision
    trailing = a.order_type is OrderType.TRAILING_STOP_MARKET
    triggered = a.actual_order_id != 0
    return {
        "algoId": a.algo_id,
        "clientAlgoId": a.client_algo_id,
        "algoType": "CONDITIONAL",
        "orderType": a.order_type.value,
        "symbol": a.symbol,
        "side": a.side.value,
        "positionSide": a.position_side.value,
        "timeInForce": a.time_in_force.value,
        "quantity": format_fixed(a.quantity, qp),
        "algoStatus": a.status.value,
        "actualOrderId": str(a.actual_order_id) if triggered else "",
        "actualType": actual_type or ("" if not triggered else _actual_type(a)),
        "actualQty": format_fixed(a.actual_qty, qp) if triggered else "",
        "actualPrice": format_fixed(a.actual_price, pp) if triggered else "",
        "triggerPrice": format_fixed(a.trigger_price, pp),
        "price": format_fixed(a.price, pp),
        "icebergQuantity": None,
        "tpTriggerPrice": "",
        "tpPrice": "",
        "slTriggerPrice": "",
        "slPrice": "",
        "tpOrderType": "",
        "selfTradePreventionMode": "NONE",
        "workingType": a.working_type.value,
        "priceMatch": "NONE",
        "closePosition": a.close_position,
        "priceProtect": a.price_protect,
        "reduceOnly": a.reduce_only,
        "activatePrice": format_fixed(a.activation_price, pp) if trailing and a.activation_price else "",
        "callbackRate": percent_str(a.callback_rate) if trailing else "",
        "createTime": a.create_time,
        "updateTime": a.update_time,
        "triggerTime": a.trigger_time,
        "goodTillDate": a.good_till_date,
    }


def _actual_type(a: AlgoOrder) -> str:
    t = a.order_type
    if t is OrderType.STOP or t is OrderType.TAKE_PROFIT:
        return "LIMIT"
    return "MARKET"


# ---------------------------------------------------------------------------------------------- trades, income


def trade_json(t: Trade, inst: Instrument) -> dict:
    buyer = t.side.value == "BUY"
    return {
        "buyer": buyer,
        "commission": amt(t.commission),
        "commissionAsset": USDT,
        "id": t.trade_id,
        "maker": t.maker,
        "orderId": t.order_id,
        "price": format_fixed(t.price, inst.price_precision),
        "qty": format_fixed(t.qty, inst.quantity_precision),
        "quoteQty": amt(t.quote_qty),
        "realizedPnl": amt(t.realized_pnl),
        "side": t.side.value,
        "positionSide": t.position_side.value,
        "symbol": t.symbol,
        "time": t.time,
        "marginAsset": USDT,
        # alfax extension: what the fill was priced from (reference book level, reference trade or quote)
        "evidence": _evidence_json(t.evidence, inst),
    }


def _evidence_json(e, inst: Instrument) -> dict | None:
    if e is None:
        return None
    return {"source": e.source, "refId": e.ref_id, "refPrice": format_fixed(e.ref_price, inst.price_precision),
            "refQty": format_fixed(e.ref_qty, inst.quantity_precision)}


def income_json(i) -> dict:
    return {
        "symbol": i.symbol,
        "incomeType": getattr(i.income_type, "value", str(i.income_type)),
        "income": amt(i.amount),
        "asset": USDT,
        "info": i.info,
        "time": i.ts,
        "tranId": i.tran_id,
        "tradeId": str(i.trade_id) if i.trade_id else "",
    }


# ---------------------------------------------------------------------------------------------- positions


def _margin_type_lower(mt) -> str:
    return "isolated" if getattr(mt, "value", mt) == "ISOLATED" else "cross"


def _position_prices(pos, m, inst: Instrument) -> dict:
    """Fields the v2 and v3 positionRisk rows share, in Binance's order."""
    return {
        "symbol": pos.symbol,
        "positionAmt": format_fixed(pos.qty, inst.quantity_precision),
        "entryPrice": p8(m.entry_price_8dp) if m else "0.0",
        "breakEvenPrice": p8(m.break_even_price_8dp) if m else "0.0",
        "markPrice": p8(_rescale_price(m.mark_price, inst)) if m else "0.00000000",
        "unRealizedProfit": amt(m.unrealized_pnl) if m else amt(0),
        "liquidationPrice": p8(m.liquidation_price) if m else "0",
    }


def position_v3(pos, m, inst: Instrument, bid_notional: int = 0, ask_notional: int = 0) -> dict:
    """/fapi/v3/positionRisk row. ``m`` is engine.summary.PositionMetrics (None = flat, no metrics)."""
    isolated = getattr(pos.margin_type, "value", pos.margin_type) == "ISOLATED"
    return {
        **_position_prices(pos, m, inst),
        "positionSide": pos.position_side.value,
        "isolatedMargin": amt(m.isolated_margin) if (m and isolated) else amt(0),
        "notional": amt(m.notional) if m else amt(0),
        "marginAsset": USDT,
        "isolatedWallet": amt(pos.isolated_wallet) if isolated else amt(0),
        "initialMargin": amt(m.initial_margin) if m else amt(0),
        "maintMargin": amt(m.maint_margin) if m else amt(0),
        "positionInitialMargin": amt(m.initial_margin) if m else amt(0),
        "openOrderInitialMargin": amt(0),
        "adl": 0,
        "bidNotional": amt(bid_notional),
        "askNotional": amt(ask_notional),
        "updateTime": pos.update_time,
    }


def position_v2(pos, m, inst: Instrument) -> dict:
    """/fapi/v2/positionRisk row (adds leverage/marginType; Hummingbot reads leverage)."""
    isolated = getattr(pos.margin_type, "value", pos.margin_type) == "ISOLATED"
    max_notional = m.max_notional if m else inst.max_notional_for_leverage(pos.leverage)
    return {
        **_position_prices(pos, m, inst),
        "leverage": str(pos.leverage),
        "maxNotionalValue": format_trimmed(max_notional, AMOUNT_DECIMALS),
        "marginType": _margin_type_lower(pos.margin_type),
        "isolatedMargin": amt(m.isolated_margin) if (m and isolated) else amt(0),
        "isAutoAddMargin": "false",
        "positionSide": pos.position_side.value,
        "notional": amt(m.notional) if m else amt(0),
        "isolatedWallet": amt(pos.isolated_wallet) if isolated else amt(0),
        "updateTime": pos.update_time,
        "isolated": isolated,
        "adlQuantile": 0,
    }


def account_position_v3(pos, m, inst: Instrument) -> dict:
    isolated = getattr(pos.margin_type, "value", pos.margin_type) == "ISOLATED"
    return {
        "symbol": pos.symbol,
        "positionSide": pos.position_side.value,
        "positionAmt": format_fixed(pos.qty, inst.quantity_precision),
        "unrealizedProfit": amt(m.unrealized_pnl) if m else amt(0),
        "isolatedMargin": amt(m.isolated_margin) if (m and isolated) else amt(0),
        "notional": amt(m.notional) if m else amt(0),
        "isolatedWallet": amt(pos.isolated_wallet) if isolated else amt(0),
        "initialMargin": amt(m.initial_margin) if m else amt(0),
        "maintMargin": amt(m.maint_margin) if m else amt(0),
        "updateTime": pos.update_time,
    }


def account_position_v2(pos, m, inst: Instrument) -> dict:
    isolated = getattr(pos.margin_type, "value", pos.margin_type) == "ISOLATED"
    max_notional = m.max_notional if m else inst.max_notional_for_leverage(pos.leverage)
    return {
        "symbol": pos.symbol,
        "initialMargin": amt(m.initial_margin) if m else amt(0),
        "maintMargin": amt(m.maint_margin) if m else amt(0),
        "unrealizedProfit": amt(m.unrealized_pnl) if m else amt(0),
        "positionInitialMargin": amt(m.initial_margin) if m else amt(0),
        "openOrderInitialMargin": amt(0),
        "leverage": str(pos.leverage),
        "isolated": isolated,
        "entryPrice": p8(m.entry_price_8dp) if m else "0.0",
        "breakEvenPrice": p8(m.break_even_price_8dp) if m else "0.0",
        "maxNotional": format_trimmed(max_notional, AMOUNT_DECIMALS),
        "bidNotional": amt(0),
        "askNotional": amt(0),
        "positionSide": pos.position_side.value,
        "positionAmt": format_fixed(pos.qty, inst.quantity_precision),
        "notional": amt(m.notional) if m else amt(0),
        "isolatedWallet": amt(pos.isolated_wallet) if isolated else amt(0),
        "updateTime": pos.update_time,
        # positionRisk fields the official alfax SDK's AccountInfo.positions requires (extra keys are harmless
        # to Binance clients)
        "markPrice": p8(_rescale_price(m.mark_price, inst)) if m else "0.00000000",
        "unRealizedProfit": amt(m.unrealized_pnl) if m else amt(0),
        "liquidationPrice": p8(m.liquidation_price) if m else "0",
        "marginType": _margin_type_lower(pos.margin_type),
        "isolatedMargin": amt(m.isolated_margin) if (m and isolated) else amt(0),
    }


def _rescale_price(raw: int, inst: Instrument) -> int:
    """price raw at price precision -> 8 dp."""
    return raw * 10 ** (8 - inst.price_precision)


# ---------------------------------------------------------------------------------------------- account


def account_totals(s) -> dict:
    """The ``total*`` block shared by /fapi/v2/account and /fapi/v3/account (s: AccountSummary)."""
    return {
        "totalInitialMargin": amt(s.initial_margin),
        "totalMaintMargin": amt(s.maint_margin),
        "totalWalletBalance": amt(s.wallet_balance),
        "totalUnrealizedProfit": amt(s.unrealized_pnl),
        "totalMarginBalance": amt(s.margin_balance),
        "totalPositionInitialMargin": amt(s.position_initial_margin),
        "totalOpenOrderInitialMargin": amt(s.open_order_initial_margin),
        "totalCrossWalletBalance": amt(s.cross_wallet_balance),
        "totalCrossUnPnl": amt(s.cross_unrealized_pnl),
        "availableBalance": amt(s.available_balance),
        "maxWithdrawAmount": amt(s.max_withdraw_amount),
    }


def _update_time(s, fallback: int) -> int:
    # quirk Q5: ccxt skips assets whose updateTime is 0 -> funded assets always carry a non-zero time
    t = s.update_time
    if not t and s.wallet_balance:
        t = fallback or 1
    return t


def asset_json(s, now_ms: int) -> dict:
    return {
        "asset": USDT,
        "walletBalance": amt(s.wallet_balance),
        "unrealizedProfit": amt(s.unrealized_pnl),
        "marginBalance": amt(s.margin_balance),
        "maintMargin": amt(s.maint_margin),
        "initialMargin": amt(s.initial_margin),
        "positionInitialMargin": amt(s.position_initial_margin),
        "openOrderInitialMargin": amt(s.open_order_initial_margin),
        "crossWalletBalance": amt(s.cross_wallet_balance),
        "crossUnPnl": amt(s.cross_unrealized_pnl),
        "availableBalance": amt(s.available_balance),
        "maxWithdrawAmount": amt(s.max_withdraw_amount),
        "marginAvailable": True,
        "updateTime": _update_time(s, now_ms),
    }


def balance_json(s, alias: str, now_ms: int) -> dict:
    return {
        "accountAlias": alias or "alfax",
        "asset": USDT,
        "balance": amt(s.wallet_balance),
        "crossWalletBalance": amt(s.cross_wallet_balance),
        "crossUnPnl": amt(s.cross_unrealized_pnl),
        "availableBalance": amt(s.available_balance),
        "maxWithdrawAmount": amt(s.max_withdraw_amount),
        "marginAvailable": True,
        "updateTime": _update_time(s, now_ms),
    }


# ---------------------------------------------------------------------------------------------- instruments


def _num(raw: int, decimals: int):
    """Raw fixed-point -> JSON number (int when whole), for leverageBracket which Binance sends as numbers."""
    q, r = divmod(raw, 10**decimals)
    if r == 0:
        return q
    return float(format_trimmed(raw, decimals))


def leverage_bracket_json(inst: Instrument) -> dict:
    return {
        "symbol": inst.symbol,
        "notionalCoef": 1.0,
        "brackets": [
            {
                "bracket": b.bracket,
                "initialLeverage": b.initial_leverage,
                "notionalCap": _num(b.notional_cap, AMOUNT_DECIMALS),
                "notionalFloor": _num(b.notional_floor, AMOUNT_DECIMALS),
                "maintMarginRatio": _num(b.maint_margin_ratio, 8),
                "cum": float(format_trimmed(b.cum, AMOUNT_DECIMALS)),
            }
            for b in inst.brackets
        ],
    }


def symbol_json(inst: Instrument) -> dict:
    """One ``exchangeInfo.symbols[]`` entry (contract §1.1)."""
    b0 = inst.brackets[0]
    mmp = format_fixed(div_round_half_up(b0.maint_margin_ratio * 100, 10**4), 4)  # percent, 4 dp
    rmp = format_fixed(div_round_half_up(100 * 10**4, b0.initial_leverage), 4)
    return {
        "symbol": inst.symbol,
        "pair": inst.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": PERPETUAL_DELIVERY_DATE,
        "onboardDate": inst.onboard_date,
        "status": "TRADING",
        "maintMarginPercent": mmp,
        "requiredMarginPercent": rmp,
        "baseAsset": inst.base_asset,
        "quoteAsset": inst.quote_asset,
        "marginAsset": USDT,
        "pricePrecision": inst.price_precision,
        "quantityPrecision": inst.quantity_precision,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": format_fixed(inst.trigger_protect // 10**4, 4),
        "liquidationFee": format_fixed(inst.liquidation_fee // 100, 6),
        "marketTakeBound": format_trimmed(inst.market_take_bound, 8),
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": inst.fmt_price(inst.min_price),
                "maxPrice": inst.fmt_price(inst.max_price),
                "tickSize": inst.fmt_price(inst.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": inst.fmt_qty(inst.min_qty),
                "maxQty": inst.fmt_qty(inst.max_qty),
                "stepSize": inst.fmt_qty(inst.step_size),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": inst.fmt_qty(inst.market_min_qty),
                "maxQty": inst.fmt_qty(inst.market_max_qty),
                "stepSize": inst.fmt_qty(inst.market_step_size),
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": inst.max_num_orders},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": inst.max_num_algo_orders},
            {"filterType": "MIN_NOTIONAL", "notional": format_trimmed(inst.min_notional, AMOUNT_DECIMALS)},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": format_fixed(inst.multiplier_up // 10 ** (8 - inst.multiplier_decimal), inst.multiplier_decimal),
                "multiplierDown": format_fixed(inst.multiplier_down // 10 ** (8 - inst.multiplier_decimal), inst.multiplier_decimal),
                "multiplierDecimal": str(inst.multiplier_decimal),
            },
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                       "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "permissionSets": ["GRID", "COPY"],
    }
