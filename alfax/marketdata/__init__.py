"""Read model of what the feed produced (klines, tickers, trades, depth, funding), in Binance shapes."""

from .store import INTERVALS, MarketData, bucket_close, bucket_open

__all__ = ["INTERVALS", "MarketData", "bucket_close", "bucket_open"]
