"""Domain errors and THE table that maps them to Binance's ``{"code", "msg"}`` and HTTP status.

Every rejection anywhere in alfax raises ``VenueError(Err.X, **fields)``. The edge renders it with
``err.code``, ``err.http_status`` and ``err.msg`` — clients (ccxt, Hummingbot, Freqtrade) match on the exact
message text, so messages are copied verbatim from Binance (contract §2 and §5).
"""

from __future__ import annotations

from enum import Enum


class Err(Enum):
    # name = (binance code, http status, message template)
    UNKNOWN = (-1000, 400, "An unknown error occured while processing the request.")
    DISCONNECTED = (-1001, 503, "Internal error; unable to process your request. Please try again.")
    UNAUTHORIZED = (-1002, 401, "You are not authorized to execute this request.")
    TOO_MANY_REQUESTS = (-1003, 429, "Too many requests; current limit is {limit} requests per minute. Please use the websocket for live updates to avoid polling the API.")
    IP_BANNED = (-1003, 418, "Way too many requests; IP banned until {until}. Please use the websocket for live updates to avoid bans.")
    TOO_MANY_ORDERS = (-1015, 429, "Too many new orders; current limit is {limit} orders per {interval}.")
    SERVICE_SHUTTING_DOWN = (-1016, 503, "This service is no longer available.")
    INVALID_TIMESTAMP = (-1021, 400, "Timestamp for this request is outside of the recvWindow.")
    TIMESTAMP_AHEAD = (-1021, 400, "Timestamp for this request was 1000ms ahead of the server's time.")
    INVALID_SIGNATURE = (-1022, 400, "Signature for this request is not valid.")
    ILLEGAL_CHARS = (-1100, 400, "Illegal characters found in parameter '{param}'; legal range is '{legal}'.")
    TOO_MANY_PARAMETERS = (-1101, 400, "Too many parameters sent for this endpoint.")
    MANDATORY_PARAM = (-1102, 400, "Mandatory parameter '{param}' was not sent, was empty/null, or malformed.")
    EITHER_PARAM = (-1102, 400, "Param '{a}' or '{b}' must be sent, but both were empty/null!")
    UNKNOWN_PARAM = (-1103, 400, "An unknown parameter was sent.")
    PARAM_NOT_REQUIRED = (-1106, 400, "Parameter '{param}' sent when not required.")
    BAD_PRECISION = (-1111, 400, "Precision is over the maximum defined for this asset.")
    INVALID_TIF = (-1115, 400, "Invalid timeInForce.")
    INVALID_ORDER_TYPE = (-1116, 400, "Invalid orderType.")
    INVALID_SIDE = (-1117, 400, "Invalid side.")
    BAD_SYMBOL = (-1121, 400, "Invalid symbol.")
    INVALID_LISTEN_KEY = (-1125, 400, "This listenKey does not exist.")
    INVALID_INTERVAL = (-1120, 400, "Invalid interval.")
    BAD_INTERVAL_RANGE = (-1127, 400, "More than {hours} hours between startTime and endTime.")
    INVALID_PARAMETER = (-1130, 400, "Data sent for parameter '{param}' is not valid.")
    NEW_ORDER_REJECTED = (-2010, 400, "{reason}")
    NO_CHALLENGE = (-4601, 400, "This account has no challenge.")
    NOT_A_CHALLENGE_START = (-4602, 400, "A challenge starts on a flat account without open orders or another challenge.")
    PAYOUT_NOT_FOUND = (-4603, 400, "Payout does not exist.")
    PAYOUT_DECIDED = (-4604, 400, "Payout is already {status}.")
    PAYOUT_AMOUNT = (-4605, 400, "Payout amount must be a positive USDT amount with at most 2 decimals.")
    PURCHASE_NOT_FOUND = (-4606, 400, "Purchase does not exist.")
    PURCHASE_PENDING = (-4607, 400, "Purchase is {status}; credentials are issued once the payment is verified.")
    CREDENTIALS_TAKEN = (-4608, 400, "The credentials of this purchase were already retrieved; they are shown exactly once.")
    UNKNOWN_PRODUCT = (-4609, 400, "Unknown productId '{product}'.")
    UNKNOWN_PROVIDER = (-4610, 400, "Unknown payment provider '{provider}'.")
    CHALLENGE_TRANSFER = (-4611, 400, "A challenge account's balance moves only by trading, funding and payouts; transfers are not allowed.")
    OPERATOR_ONLY = (-1002, 403, "You are not authorized to execute this request: an API key with the operator permission is required.")
    FEED_STALE = (-2010, 400, "Reference market feed for {symbol} is stale; orders for it are rejected until the feed recovers.")
    CHALLENGE_FAILED = (-2010, 400, "Challenge failed ({rule}): the account is read-only and new orders are rejected.")
    CHALLENGE_PASSED = (-2010, 400, "Challenge stage {stage} is passed and its account is locked; trade on the next stage (the same API key follows it).")
    CHALLENGE_CLOSED = (-2010, 400, "Challenge is {status}: the account is read-only and new orders are rejected.")
    CHALLENGE_SYMBOL = (-2010, 400, "Challenge rule symbolsWhitelist: {symbol} is not tradable in this challenge (allowed: {allowed}).")
    CHALLENGE_LEVERAGE = (-2010, 400, "Challenge rule maxLeverage: leverage {leverage}x exceeds the cap of {cap}x for {symbol}.")
    CHALLENGE_NOTIONAL = (-2010, 400, "Challenge rule maxLeverage: {symbol} position notional {notional} USDT would exceed equity x {cap} = {limit} USDT.")
    CHALLENGE_NEWS = (-2010, 400, "Challenge rule newsTradingForbidden: news window until {until} UTC; new orders are rejected.")
    CANCEL_REJECTED = (-2011, 400, "Unknown order sent.")
    NO_SUCH_ORDER = (-2013, 400, "Order does not exist.")
    BAD_API_KEY_FMT = (-2014, 401, "API-key format invalid.")
    REJECTED_MBX_KEY = (-2015, 401, "Invalid API-key, IP, or permissions for action.")
    BALANCE_NOT_SUFFICIENT = (-2018, 400, "Balance is insufficient.")
    MARGIN_NOT_SUFFICIENT = (-2019, 400, "Margin is insufficient.")
    UNABLE_TO_FILL = (-2020, 400, "Unable to fill.")
    ORDER_WOULD_IMMEDIATELY_TRIGGER = (-2021, 400, "Order would immediately trigger.")
    REDUCE_ONLY_REJECT = (-2022, 400, "ReduceOnly Order is rejected.")
    POSITION_NOT_SUFFICIENT = (-2024, 400, "Position is not sufficient.")
    MAX_OPEN_ORDER_EXCEEDED = (-2025, 400, "Reach max open order limit.")
    MAX_LEVERAGE_RATIO = (-2027, 400, "Exceeded the maximum allowable position at current leverage.")
    LEVERAGE_SMALLER_THAN_POSITION = (-2028, 400, "Leverage is smaller than permitted: insufficient margin balance.")
    INVALID_ORDER_STATUS = (-4000, 400, "Invalid order status.")
    QTY_LESS_THAN_ZERO = (-4003, 400, "Quantity less than or equal to zero.")
    QTY_LESS_THAN_MIN = (-4004, 400, "Quantity less than min quantity.")
    QTY_GREATER_THAN_MAX = (-4005, 400, "Quantity greater than max quantity.")
    STOP_PRICE_LESS_THAN_ZERO = (-4006, 400, "Stop price less than zero.")
    PRICE_LESS_THAN_ZERO = (-4007, 400, "Price less than or equal to zero.")
    PRICE_LESS_THAN_MIN = (-4013, 400, "Price less than min price.")
    PRICE_GREATER_THAN_MAX = (-4013, 400, "Price greater than max price.")
    PRICE_NOT_BY_TICK = (-4014, 400, "Price not increased by tick size.")
    INVALID_CL_ORD_ID_LEN = (-4015, 400, "Client order id length should not be more than 36 chars")
    PRICE_HIGHER_THAN_MULTIPLIER_UP = (-4016, 400, "Price is higher than mark price multiplier cap.")
    MULTIPLIER_UP_MIN = (-4024, 400, "Price is lower than mark price multiplier floor.")
    QTY_NOT_BY_STEP = (-4023, 400, "Qty not increased by step size.")
    INVALID_LEVERAGE = (-4028, 400, "Leverage {leverage} is not valid")
    INVALID_MARGIN_TYPE = (-4029, 400, "Invalid margin type.")
    NO_NEED_TO_CHANGE_MARGIN_TYPE = (-4046, 400, "No need to change margin type.")
    MARGIN_TYPE_OPEN_ORDERS = (-4047, 400, "Margin type cannot be changed if there exists open orders.")
    MARGIN_TYPE_POSITION = (-4048, 400, "Margin type cannot be changed if there exists position.")
    ADD_ISOLATED_MARGIN_REJECT = (-4050, 400, "Cross balance insufficient.")
    ISOLATED_BALANCE_INSUFFICIENT = (-4051, 400, "Isolated balance insufficient.")
    NO_NEED_TO_CHANGE_AUTO_ADD_MARGIN = (-4052, 400, "No need to change auto add margin.")
    CROSS_MARGIN_NO_ISOLATED = (-4053, 400, "Cannot add position margin: position is not isolated.")
    NO_NEED_TO_CHANGE_POSITION_SIDE = (-4059, 400, "No need to change position side.")
    INVALID_POSITION_SIDE = (-4060, 400, "Invalid position side.")
    POSITION_SIDE_NOT_MATCH = (-4061, 400, "Order's position side does not match user's setting.")
    REDUCE_ONLY_CONFLICT = (-4062, 400, "Invalid or improper reduceOnly value.")
    POSITION_SIDE_CHANGE_OPEN_ORDERS = (-4067, 400, "Position side cannot be changed if there exists open orders.")
    POSITION_SIDE_CHANGE_POSITION = (-4068, 400, "Position side cannot be changed if there exists position.")
    INVALID_BATCH_PLACE_ORDER_SIZE = (-4082, 400, "Invalid number of batch place orders.")
    INVALID_BATCH_CANCEL_SIZE = (-4087, 400, "Invalid number of cancel orders.")
    INVALID_ACTIVATION_PRICE = (-4104, 400, "Invalid activation price.")
    INVALID_CALLBACK_RATE = (-4105, 400, "Callback rate must be in [0.1, 10] (percent).")
    DUPLICATED_CLIENT_ORDER_ID = (-4116, 400, "clientOrderId is duplicated")
    REDUCE_ONLY_MARGIN_CHECK_FAILED = (-4118, 400, "ReduceOnly Order Failed. Please check your existing position and open orders")
    ALGO_TYPE_NOT_SUPPORTED = (-4120, 400, "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.")
    MARKET_ORDER_REJECT = (-4131, 400, "The counterparty's best price does not meet the PERCENT_PRICE filter limit")
    QUANTITY_EXISTS_WITH_CLOSE_POSITION = (-4137, 400, "Quantity must be zero with closePosition equals true")
    REDUCE_ONLY_MUST_BE_TRUE = (-4138, 400, "Reduce only must be true with closePosition equals true")
    CLOSE_POSITION_NO_POSITION = (-4140, 400, "Invalid symbol status for opening position.")
    STRATEGY_INVALID_TRIGGER_PRICE = (-4142, 400, "REJECT: take profit or stop order will be triggered immediately")
    MIN_NOTIONAL = (-4164, 400, "Order's notional must be no smaller than {notional} (unless you choose reduce only)")
    FOK_ORDER_REJECT = (-5021, 400, "Due to the order could not be filled immediately, the FOK order has been rejected. The order will not be recorded in the order history")
    GTX_ORDER_REJECT = (-5022, 400, "Due to the order could not be executed as maker, the Post Only order will be rejected. The order will not be recorded in the order history")
    ME_RECVWINDOW_REJECT = (-5028, 400, "Timestamp for this request is outside of the ME recvWindow.")
    GTD_TIME_INVALID = (-5040, 400, "goodTillDate timestamp must be greater than current time plus 600 seconds and smaller than 253402300799000")
    STALE_FEED = (-1008, 503, "Request throttled by system-level protection. Reduce-only/close-position orders are exempt. Please try again.")
    NOT_FOUND = (-1000, 404, "Not found.")
    SIGNAL_CHANNEL_OWNED = (-1002, 403, "You are not authorized to execute this request: this signal channel belongs to another account.")

    @property
    def code(self) -> int:
        return self.value[0]

    @property
    def http_status(self) -> int:
        return self.value[1]

    @property
    def template(self) -> str:
        return self.value[2]


class VenueError(Exception):
    """A business or input rejection, rendered by the edge as Binance's ``{"code": …, "msg": …}``."""

    __slots__ = ("err", "fields", "msg_override")

    def __init__(self, err: Err, msg: str | None = None, **fields: object) -> None:
        self.err = err
        self.fields = fields
        self.msg_override = msg
        super().__init__(self.msg)

    @property
    def code(self) -> int:
        return self.err.code

    @property
    def http_status(self) -> int:
        return self.err.http_status

    @property
    def msg(self) -> str:
        if self.msg_override is not None:
            return self.msg_override
        try:
            return self.err.template.format(**self.fields)
        except (KeyError, IndexError):
            return self.err.template

    def as_dict(self) -> dict:
        return {"code": self.code, "msg": self.msg}
