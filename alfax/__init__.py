"""alfax: a Binance USDT-M compatible simulated futures venue."""
__version__ = "0.1.0"
