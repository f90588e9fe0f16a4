"""THE endpoint table: one row per (method, path). It drives routing, rate-limit weights and the OpenAPI document.

Columns: method, path, weight (int, or a function of the request params), security, counts_as_order, handler,
summary. Weights follow Binance's documented IP weights (ccxt cost table, contract §3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Union

from . import account, admin, admin_challenges, automation, challenge, listenkeys, market, trading
from .auth import Security
from .request import Req, Yaml

Weight = Union[int, Callable[[Any], int]]

NONE = Security.NONE
USER_STREAM = Security.USER_STREAM
USER_DATA = Security.USER_DATA
TRADE = Security.TRADE
OPERATOR = Security.OPERATOR


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    weight: Weight
    security: Security
    counts_as_order: bool
    handler: Callable[[Req], Awaitable[Any]]
    summary: str
    exempt: bool = False  # outside rate limits (health, the OpenAPI document)

    def weight_for(self, params) -> int:
        w = self.weight
        if type(w) is int:
            return w
        return w(params)  # type: ignore[operator]


async def _health(r: Req):
    return r.ctx.health()


async def _openapi(r: Req):
    return Yaml(r.edge.openapi_yaml)


_sym = market.symbol_optional_weight


def _fapi(ver: int, name: str) -> str:
    return f"/fapi/v{ver}/{name}"


ENDPOINTS: tuple[Endpoint, ...] = (
    # ---------------------------------------------------------------- market data (public)
    Endpoint("GET", "/fapi/v1/ping", 1, NONE, False, market.ping, "Test connectivity"),
    Endpoint("GET", "/fapi/v1/time", 1, NONE, False, market.server_time, "Server time"),
    Endpoint("GET", "/fapi/v1/exchangeInfo", 1, NONE, False, market.exchange_info, "Exchange rules and symbols"),
    Endpoint("GET", "/fapi/v1/depth", market.depth_weight, NONE, False, market.depth, "Order book"),
    Endpoint("GET", "/fapi/v1/trades", 5, NONE, False, market.trades, "Recent trades"),
    Endpoint("GET", "/fapi/v1/aggTrades", 20, NONE, False, market.agg_trades, "Aggregate trades"),
    Endpoint("GET", "/fapi/v1/klines", market.klines_weight, NONE, False, market.klines, "Klines"),
    Endpoint("GET", "/fapi/v1/continuousKlines", market.klines_weight, NONE, False, market.continuous_klines,
             "Continuous contract klines (pair, contractType)"),
    Endpoint("GET", "/fapi/v1/indexPriceKlines", market.klines_weight, NONE, False, market.index_price_klines,
             "Index price klines (pair)"),
    Endpoint("GET", "/fapi/v1/markPriceKlines", market.klines_weight, NONE, False, market.mark_price_klines,
             "Mark price klines"),
    Endpoint("GET", "/fapi/v1/premiumIndexKlines", market.klines_weight, NONE, False, market.premium_index_klines,
             "Premium index klines"),
    Endpoint("GET", "/fapi/v1/premiumIndex", 1, NONE, False, market.premium_index, "Mark price and funding rate"),
    Endpoint("GET", "/fapi/v1/fundingRate", 1, NONE, False, market.funding_rate, "Funding rate history"),
    Endpoint("GET", "/fapi/v1/fundingInfo", 1, NONE, False, market.funding_info, "Funding rate caps and intervals"),
    Endpoint("GET", "/fapi/v1/ticker/24hr", _sym(1, 40), NONE, False, market.ticker_24hr, "24h ticker"),
    Endpoint("GET", "/fapi/v1/ticker/price", _sym(1, 2), NONE, False, market.ticker_price, "Last price (v1)"),
    Endpoint("GET", "/fapi/v2/ticker/price", _sym(1, 2), NONE, False, market.ticker_price, "Last price (v2)"),
    Endpoint("GET", "/fapi/v1/ticker/bookTicker", _sym(2, 5), NONE, False, market.book_ticker, "Best bid/ask"),
    Endpoint("GET", "/fapi/v1/openInterest", 1, NONE, False, market.open_interest, "Open interest"),
    Endpoint("GET", "/futures/data/openInterestHist", 1, NONE, False, market.open_interest_hist,
             "Open interest history (empty)"),
    Endpoint("GET", "/futures/data/topLongShortAccountRatio", 1, NONE, False, market.futures_data_ratio,
             "Top trader long/short account ratio (empty)"),
    Endpoint("GET", "/futures/data/topLongShortPositionRatio", 1, NONE, False, market.futures_data_ratio,
             "Top trader long/short position ratio (empty)"),
    Endpoint("GET", "/futures/data/globalLongShortAccountRatio", 1, NONE, False, market.futures_data_ratio,
             "Long/short ratio (empty)"),
    Endpoint("GET", "/futures/data/takerlongshortRatio", 1, NONE, False, market.futures_data_ratio,
             "Taker buy/sell volume (empty)"),
    # ---------------------------------------------------------------- probes from spot/margin/coin-M clients (§1.7)
    Endpoint("GET", "/api/v3/ping", 1, NONE, False, market.ping, "Spot ping probe"),
    Endpoint("GET", "/api/v3/time", 1, NONE, False, market.server_time, "Spot time probe"),
    Endpoint("GET", "/api/v3/exchangeInfo", 20, NONE, False, market.spot_exchange_info,
             "Spot exchangeInfo probe (no symbols)"),
    Endpoint("GET", "/dapi/v1/exchangeInfo", 1, NONE, False, market.spot_exchange_info,
             "Coin-M exchangeInfo probe (no symbols)"),
    Endpoint("GET", "/dapi/v1/ping", 1, NONE, False, market.ping, "Coin-M ping probe"),
    Endpoint("GET", "/sapi/v1/capital/config/getall", 10, NONE, False, market.empty_list,
             "Currencies probe (ccxt with keys): []"),
    Endpoint("GET", "/sapi/v1/margin/allPairs", 1, NONE, False, market.empty_list, "Margin pairs probe: []"),
    Endpoint("GET", "/sapi/v1/margin/isolated/allPairs", 10, NONE, False, market.empty_list,
             "Isolated margin pairs probe: []"),
    # ---------------------------------------------------------------- account (USER_DATA)
    Endpoint("GET", "/fapi/v2/account", 5, USER_DATA, False, account.account_v2, "Account information (v2)"),
    Endpoint("GET", "/fapi/v3/account", 5, USER_DATA, False, account.account_v3, "Account information (v3)"),
    Endpoint("GET", "/fapi/v2/balance", 5, USER_DATA, False, account.balance, "Balance (v2)"),
    Endpoint("GET", "/fapi/v3/balance", 5, USER_DATA, False, account.balance, "Balance (v3)"),
    Endpoint("GET", "/fapi/v2/positionRisk", 5, USER_DATA, False, account.position_risk_v2,
             "Position information (v2, every symbol)"),
    Endpoint("GET", "/fapi/v3/positionRisk", 5, USER_DATA, False, account.position_risk_v3,
             "Position information (v3, symbols with a position or open orders)"),
    Endpoint("GET", "/fapi/v1/leverageBracket", 1, USER_DATA, False, account.leverage_bracket,
             "Notional and leverage brackets"),
    Endpoint("GET", "/fapi/v1/commissionRate", 20, USER_DATA, False, account.commission_rate, "Commission rates"),
    Endpoint("GET", "/fapi/v1/symbolConfig", 5, USER_DATA, False, account.symbol_config,
             "Per-symbol leverage and margin type"),
    Endpoint("GET", "/fapi/v1/accountConfig", 5, USER_DATA, False, account.account_config, "Account configuration"),
    Endpoint("GET", "/fapi/v1/multiAssetsMargin", 30, USER_DATA, False, account.get_multi_assets,
             "Multi-assets mode (always false)"),
    Endpoint("GET", "/fapi/v1/positionSide/dual", 30, USER_DATA, False, account.get_dual, "Position mode"),
    Endpoint("GET", "/fapi/v1/userTrades", 5, USER_DATA, False, account.user_trades, "Account trade list"),
    Endpoint("GET", "/fapi/v1/income", 30, USER_DATA, False, account.income, "Income history"),
    Endpoint("GET", "/fapi/v1/positionMargin/history", 1, USER_DATA, False, account.position_margin_history,
             "Position margin change history (empty)"),
    Endpoint("GET", "/fapi/v1/order", 1, USER_DATA, False, trading.get_order, "Query order"),
    Endpoint("GET", "/fapi/v1/openOrder", 1, USER_DATA, False, trading.get_open_order, "Query current open order"),
    Endpoint("GET", "/fapi/v1/openOrders", _sym(1, 40), USER_DATA, False, trading.open_orders,
             "Current open orders"),
    Endpoint("GET", "/fapi/v1/allOrders", 5, USER_DATA, False, trading.all_orders, "All orders"),
    Endpoint("GET", "/fapi/v1/algoOrder", 1, USER_DATA, False, trading.get_algo_order, "Query algo order"),
    Endpoint("GET", "/fapi/v1/openAlgoOrders", _sym(1, 40), USER_DATA, False, trading.open_algo_orders,
             "Current open algo orders"),
    Endpoint("GET", "/fapi/v1/allAlgoOrders", 5, USER_DATA, False, trading.all_algo_orders, "All algo orders"),
    # ---------------------------------------------------------------- account settings (TRADE)
    Endpoint("POST", "/fapi/v1/positionSide/dual", 1, TRADE, False, account.post_dual, "Change position mode"),
    Endpoint("POST", "/fapi/v1/multiAssetsMargin", 1, TRADE, False, account.post_multi_assets,
             "Change multi-assets mode (only false is supported)"),
    Endpoint("POST", "/fapi/v1/leverage", 1, TRADE, False, account.post_leverage, "Change initial leverage"),
    Endpoint("POST", "/fapi/v1/marginType", 1, TRADE, False, account.post_margin_type, "Change margin type"),
    Endpoint("POST", "/fapi/v1/positionMargin", 1, TRADE, False, account.post_position_margin,
             "Modify isolated position margin"),
    # ---------------------------------------------------------------- orders (TRADE)
    Endpoint("POST", "/fapi/v1/order", 0, TRADE, True, trading.post_order, "New order"),
    Endpoint("POST", "/fapi/v1/order/test", 0, TRADE, False, challenge.order_test,
             "Test new order: validated like a real one (challenge rules included); nothing is placed"),
    Endpoint("PUT", "/fapi/v1/order", 1, TRADE, True, trading.put_order, "Modify order"),
    Endpoint("DELETE", "/fapi/v1/order", 1, TRADE, False, trading.delete_order, "Cancel order"),
    Endpoint("DELETE", "/fapi/v1/allOpenOrders", 1, TRADE, False, trading.delete_all_open_orders,
             "Cancel all open orders of a symbol"),
    Endpoint("POST", "/fapi/v1/batchOrders", 5, TRADE, True, trading.post_batch_orders, "Place multiple orders"),
    Endpoint("DELETE", "/fapi/v1/batchOrders", 1, TRADE, False, trading.delete_batch_orders,
             "Cancel multiple orders"),
    Endpoint("POST", "/fapi/v1/countdownCancelAll", 10, TRADE, False, trading.countdown_cancel_all,
             "Auto-cancel all open orders (dead-man switch)"),
    Endpoint("POST", "/fapi/v1/algoOrder", 0, TRADE, True, trading.post_algo_order, "New algo (conditional) order"),
    Endpoint("DELETE", "/fapi/v1/algoOrder", 1, TRADE, False, trading.delete_algo_order, "Cancel algo order"),
    Endpoint("DELETE", "/fapi/v1/algoOpenOrders", 1, TRADE, False, trading.delete_algo_open_orders,
             "Cancel all open algo orders of a symbol"),
    # ---------------------------------------------------------------- user data stream (USER_STREAM)
    Endpoint("POST", "/fapi/v1/listenKey", 1, USER_STREAM, False, listenkeys.post_listen_key,
             "Start (or extend) the user data stream"),
    Endpoint("PUT", "/fapi/v1/listenKey", 1, USER_STREAM, False, listenkeys.put_listen_key,
             "Keep the user data stream alive"),
    Endpoint("DELETE", "/fapi/v1/listenKey", 1, USER_STREAM, False, listenkeys.delete_listen_key,
             "Close the user data stream"),
    # ---------------------------------------------------------------- operator API (alfax)
    Endpoint("POST", "/alfax/admin/accounts", 1, OPERATOR, False, admin.create_account,
             "Create an account (alias, balance) with a read+trade key"),
    Endpoint("GET", "/alfax/admin/accounts", 1, OPERATOR, False, admin.list_accounts, "List accounts"),
    Endpoint("POST", "/alfax/admin/accounts/fund", 1, OPERATOR, False, admin.fund_account,
             "Deposit (or withdraw, negative) USDT"),
    Endpoint("POST", "/alfax/admin/keys", 1, OPERATOR, False, admin.create_key, "Create an API key"),
    Endpoint("GET", "/alfax/admin/keys", 1, OPERATOR, False, admin.list_keys, "List API keys"),
    Endpoint("DELETE", "/alfax/admin/keys", 1, OPERATOR, False, admin.revoke_key, "Revoke an API key"),
    Endpoint("GET", "/alfax/admin/state", 1, OPERATOR, False, admin.state, "State hash and journal position"),
    # ---------------------------------------------------------------- prop challenges (alfax; the official SDK's paths)
    Endpoint("GET", "/fapi/v1/challenge", 5, USER_DATA, False, challenge.status,
             "Challenge status: equity, floors, room, warnings (SDK ChallengeStatus)"),
    Endpoint("GET", "/fapi/v1/challenge/rules", 1, USER_DATA, False, challenge.rules,
             "The challenge's pinned rules (SDK ChallengeRules: fractions as strings)"),
    Endpoint("GET", "/fapi/v1/challenge/products", 1, NONE, False, challenge.products,
             "Challenge products on sale"),
    Endpoint("POST", "/fapi/v1/challenge/purchase", 5, USER_DATA, False, challenge.purchase,
             "Buy a challenge (provider 'stub' settles at once)"),
    Endpoint("GET", "/fapi/v1/challenge/purchase", 1, USER_DATA, False, challenge.purchase_status,
             "A purchase; the minted account's API key and secret are returned exactly once"),
    Endpoint("GET", "/fapi/v1/challenge/lifecycle", 1, USER_DATA, False, challenge.lifecycle,
             "Challenge lifecycle (PascalCase: ChallengeID, Stage, Status, FailReason)"),
    Endpoint("POST", "/fapi/v1/challenge/check", 1, USER_DATA, False, challenge.check,
             "Pre-trade check: would this order break a rule? allow / reduce / block and the max safe quantity"),
    Endpoint("POST", "/fapi/v1/payout", 1, USER_DATA, False, challenge.request_payout,
             "Request a payout (accepted as 'requested'; validated at approval)"),
    Endpoint("GET", "/fapi/v1/payout", 1, USER_DATA, False, challenge.get_payout,
             "Payout state (PascalCase: PayoutID, Status, TxRef, FailReason)"),
    Endpoint("GET", "/fapi/v1/payout/eligibility", 1, USER_DATA, False, challenge.payout_eligibility,
             "Payout available now and the blockers"),
    Endpoint("POST", "/fapi/v1/payout/approve", 1, USER_DATA, False, challenge.approve_payout,
             "Operator: approve a payout (gates and cap re-checked; 403 without the operator permission)"),
    Endpoint("POST", "/fapi/v1/payout/reject", 1, USER_DATA, False, challenge.reject_payout,
             "Operator: reject a payout with a reason"),
    Endpoint("POST", "/alfax/payments/webhook", 1, NONE, False, challenge.payment_webhook,
             "Payment provider webhook (HMAC-signed body): a verified payment mints the challenge"),
    # ---------------------------------------------------------------- operator API: challenges (alfax)
    Endpoint("GET", "/alfax/admin/products", 1, OPERATOR, False, admin_challenges.list_products, "List products"),
    Endpoint("GET", "/alfax/admin/products/show", 1, OPERATOR, False, admin_challenges.show_product,
             "One product with its rules version"),
    Endpoint("GET", "/alfax/admin/challenges", 1, OPERATOR, False, admin_challenges.list_challenges,
             "List challenges (every stage account)"),
    Endpoint("GET", "/alfax/admin/challenges/show", 1, OPERATOR, False, admin_challenges.show_challenge,
             "One challenge: stages, status, breach evidence"),
    Endpoint("POST", "/alfax/admin/challenges/start", 1, OPERATOR, False, admin_challenges.start_challenge,
             "Make a flat account a challenge of a product"),
    Endpoint("POST", "/alfax/admin/challenges/fail", 1, OPERATOR, False, admin_challenges.fail_challenge,
             "Fail a challenge for a rule violation (RULE_VIOLATION)"),
    Endpoint("GET", "/alfax/admin/payouts", 1, OPERATOR, False, admin_challenges.list_payouts, "List payouts"),
    Endpoint("POST", "/alfax/admin/payouts/approve", 1, OPERATOR, False, admin_challenges.approve_payout,
             "Approve a payout"),
    Endpoint("POST", "/alfax/admin/payouts/reject", 1, OPERATOR, False, admin_challenges.reject_payout,
             "Reject a payout"),
    Endpoint("GET", "/alfax/admin/audit", 1, OPERATOR, False, admin_challenges.audit_log,
             "Operator audit log"),
    # ---------------------------------------------------------------- automation (issue 5): webhook, alerts, signals
    Endpoint("GET", "/alfax/v1/webhook", 1, USER_DATA, False, automation.get_webhook,
             "This account's TradingView webhook URL and settings"),
    Endpoint("POST", "/alfax/v1/webhook", 1, TRADE, False, automation.set_webhook,
             "Set the webhook's body secret, source-address allow-list, enabled"),
    Endpoint("POST", "/alfax/v1/webhook/rotate", 1, TRADE, False, automation.rotate_webhook,
             "New webhook token (the old URL stops working at once)"),
    Endpoint("GET", "/alfax/v1/alerts", 5, USER_DATA, False, automation.list_alerts,
             "Alert log: every alert received, accepted or rejected, with its receipt"),
    Endpoint("GET", "/alfax/v1/alert", 1, USER_DATA, False, automation.get_alert, "One alert and its receipt"),
    Endpoint("GET", "/alfax/v1/subscriptions", 1, USER_DATA, False, automation.list_subscriptions,
             "Signal channels bound to this account"),
    Endpoint("POST", "/alfax/v1/subscriptions", 1, TRADE, False, automation.add_subscription,
             "Bind a signal channel to this account with a sizing rule"),
    Endpoint("DELETE", "/alfax/v1/subscriptions", 1, TRADE, False, automation.remove_subscription,
             "Unbind a signal channel"),
    Endpoint("GET", "/alfax/v1/notifications", 1, USER_DATA, False, automation.list_notifications,
             "Notifications (Areix shape, en/zh): signals received, alerts executed or rejected"),
    Endpoint("GET", "/alfax/admin/webhook", 1, OPERATOR, False, automation.get_webhook,
             "An account's TradingView webhook"),
    Endpoint("POST", "/alfax/admin/webhook", 1, OPERATOR, False, automation.set_webhook,
             "Set an account's webhook secret / allow-list / enabled"),
    Endpoint("POST", "/alfax/admin/webhook/rotate", 1, OPERATOR, False, automation.rotate_webhook,
             "Rotate an account's webhook token"),
    Endpoint("GET", "/alfax/admin/alerts", 1, OPERATOR, False, automation.list_alerts, "An account's alert log"),
    Endpoint("GET", "/alfax/admin/alert", 1, OPERATOR, False, automation.get_alert, "One alert of an account"),
    Endpoint("POST", "/alfax/admin/hub-users", 1, OPERATOR, False, automation.add_hub_user,
             "Create a signal-hub login for an account"),
    Endpoint("GET", "/alfax/admin/hub-users", 1, OPERATOR, False, automation.list_hub_users, "List signal-hub logins"),
    # ---------------------------------------------------------------- alfax meta
    Endpoint("GET", "/health", 0, NONE, False, _health, "Liveness, feed ages, ledger lag", exempt=True),
    Endpoint("GET", "/alfax-v1.yaml", 0, NONE, False, _openapi, "This OpenAPI 3.1 document", exempt=True),
)


def route_map(endpoints=ENDPOINTS) -> dict[tuple[str, str], Endpoint]:
    out: dict[tuple[str, str], Endpoint] = {}
    for e in endpoints:
        key = (e.method, e.path)
        if key in out:
            raise ValueError(f"duplicate endpoint {key}")
        out[key] = e
    return out
