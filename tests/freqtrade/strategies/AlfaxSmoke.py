"""Freqtrade smoke strategy for alfax (live futures, isolated, leverage 3).

- BTC/USDT:USDT: long. Its FIRST entry is a limit 2-3 % below the ask, which never fills and is cancelled by
  ``unfilledtimeout`` (1 minute); later entries are marketable limits (0.2 % through the ask) and fill at once.
- ETH/USDT:USDT: short, entered with a marketable limit (0.2 % through the bid) immediately.
- Every trade exits with a market order ~60 s after it opened (``custom_exit``).
- ``stoploss_on_exchange``: a STOP_MARKET reduce-only algo order guards each position (-10 % of stake).
"""

from __future__ import annotations

from datetime import datetime

from pandas import DataFrame

from freqtrade.strategy import IStrategy


class AlfaxSmoke(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = "1m"
    can_short = True
    minimal_roi = {"0": 100.0}
    stoploss = -0.10
    trailing_stop = False
    use_exit_signal = True
    exit_profit_only = False
    process_only_new_candles = False
    startup_candle_count = 0
    position_adjustment_enable = False

    order_types = {
        "entry": "limit",
        "exit": "market",
        "emergency_exit": "market",
        "force_entry": "market",
        "force_exit": "market",
        "stoploss": "market",
        "stoploss_on_exchange": True,
        "stoploss_on_exchange_interval": 60,
    }
    order_time_in_force = {"entry": "GTC", "exit": "GTC"}

    HOLD_SECONDS = 60

    def __init__(self, config: dict) -> None:
        super().__init__(config)
        self._far_entry_done: set[str] = set()

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["enter_long"] = 0
        dataframe["enter_short"] = 0
        if metadata["pair"].startswith("BTC/"):
            dataframe.loc[:, "enter_long"] = 1
            dataframe.loc[:, "enter_tag"] = "alfax_long"
        elif metadata["pair"].startswith("ETH/"):
            dataframe.loc[:, "enter_short"] = 1
            dataframe.loc[:, "enter_tag"] = "alfax_short"
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        dataframe["exit_short"] = 0
        return dataframe

    def custom_entry_price(self, pair: str, trade, current_time: datetime, proposed_rate: float,
                           entry_tag: str | None, side: str, **kwargs) -> float:
        if pair.startswith("BTC/") and pair not in self._far_entry_done:
            self._far_entry_done.add(pair)
            # far from the market: never fills, times out after unfilledtimeout.entry and is cancelled
            # (freqtrade clamps custom prices to custom_price_max_distance_ratio, 2 % by default)
            return proposed_rate * 0.97
        # marketable limit: 0.2 % through the touch so the entry fills at once even if the book ticked away
        # between Freqtrade's order-book read and the order (the venue fills at the book, not at this price)
        return proposed_rate * (1.002 if side == "long" else 0.998)

    def custom_exit(self, pair: str, trade, current_time: datetime, current_rate: float,
                    current_profit: float, **kwargs):
        if (current_time - trade.open_date_utc).total_seconds() >= self.HOLD_SECONDS:
            return "alfax_time_exit"
        return None

    def leverage(self, pair: str, current_time: datetime, current_rate: float, proposed_leverage: float,
                 max_leverage: float, entry_tag: str | None, side: str, **kwargs) -> float:
        return 3.0
