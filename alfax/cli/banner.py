"""The text ``alfax serve`` prints on first start: demo credentials plus ready-to-paste client snippets.

``render_banner`` is called by the composition root (``alfax.server``) once, when it creates the demo account.
The first four lines are a stable, parsed format (tests and scripts read the key and secret from them):

    alfax serving on http://HOST:PORT
    Demo account 1 with 10000 USDT
      API key:    <key>
      API secret: <secret>
"""

from __future__ import annotations

import json

__all__ = ["render_banner", "ccxt_urls", "ccxt_options", "freqtrade_exchange_block"]


def _base(base_url: str) -> str:
    return base_url.rstrip("/")


def ccxt_urls(base_url: str) -> dict[str, str]:
    """``urls.api`` overrides for ccxt ``binanceusdm`` / ``binance`` pointing every futures family at alfax."""
    b = _base(base_url)
    return {
        "fapiPublic": f"{b}/fapi/v1",
        "fapiPublicV2": f"{b}/fapi/v2",
        "fapiPublicV3": f"{b}/fapi/v3",
        "fapiPrivate": f"{b}/fapi/v1",
        "fapiPrivateV2": f"{b}/fapi/v2",
        "fapiPrivateV3": f"{b}/fapi/v3",
        "fapiData": f"{b}/futures/data",
        # Only reached when fetchCurrencies/fetchMargins are left on; alfax answers these probes with [].
        "sapi": f"{b}/sapi/v1",
    }


def ccxt_options() -> dict:
    return {
        "fetchCurrencies": False,
        "fetchMargins": False,
        "fetchMarkets": {"types": ["linear"]},
        "fetchOpenOrders": {"warnWithoutSymbol": False},
    }


def freqtrade_exchange_block(base_url: str, api_key: str, secret: str) -> dict:
    ccxt_config = {
        "urls": {"api": {k: v for k, v in ccxt_urls(base_url).items() if k != "sapi"}},
        "options": {"fetchMarkets": {"types": ["linear"]}, "fetchCurrencies": False, "fetchMargins": False},
    }
    return {
        "name": "binance",
        "key": api_key,
        "secret": secret,
        "enable_ws": False,
        "only_from_ccxt": True,
        "ccxt_config": ccxt_config,
        "ccxt_async_config": ccxt_config,
        "pair_whitelist": ["BTC/USDT:USDT", "ETH/USDT:USDT"],
        "pair_blacklist": [],
    }


def _indent(text: str, n: int = 4) -> str:
    pad = " " * n
    return "\n".join(pad + line if line else line for line in text.splitlines())


def render_banner(base_url: str, api_key: str, secret: str, challenge: str = "", webhook_url: str = "") -> str:
    """``challenge``: one line describing the demo account's challenge (empty for a plain demo account);
    ``webhook_url``: the demo account's TradingView webhook."""
    b = _base(base_url)
    host_port = b.split("://", 1)[-1]
    urls = ccxt_urls(b)
    urls_py = ",\n".join(f"        {k!r}: {v!r}" for k, v in urls.items())
    ccxt_snippet = (
        "import ccxt\n"
        "ex = ccxt.binanceusdm({\n"
        f"    'apiKey': {api_key!r},\n"
        f"    'secret': {secret!r},\n"
        "    'urls': {'api': {\n"
        f"{urls_py},\n"
        "    }},\n"
        "    'options': {\n"
        "        'fetchCurrencies': False,\n"
        "        'fetchMargins': False,\n"
        "        'fetchMarkets': {'types': ['linear']},\n"
        "        'fetchOpenOrders': {'warnWithoutSymbol': False},\n"
        "    },\n"
        "})\n"
        "print(ex.fetch_balance()['USDT'])"
    )
    freqtrade_snippet = '"exchange": ' + json.dumps(freqtrade_exchange_block(b, api_key, secret), indent=2)
    pybinance_snippet = (
        "from binance.client import Client\n"
        "# class attributes must be set BEFORE the client is constructed\n"
        f"Client.API_URL = '{b}/api'\n"
        f"Client.FUTURES_URL = '{b}/fapi'\n"
        f"Client.FUTURES_DATA_URL = '{b}/futures/data'\n"
        f"client = Client({api_key!r}, {secret!r})\n"
        "print(client.futures_account_balance())"
    )
    connector_snippet = (
        "from binance.um_futures import UMFutures\n"
        f"client = UMFutures(key={api_key!r}, secret={secret!r}, base_url='{b}')\n"
        "print(client.balance())"
    )
    lines = [
        f"alfax serving on {b}",
        "Demo account 1 with 10000 USDT",
        f"  API key:    {api_key}",
        f"  API secret: {secret}",
        *([f"  Challenge:  {challenge}",
           f"  Rules, floors and room: {b}/fapi/v1/challenge (signed); pre-trade check: POST /fapi/v1/challenge/check"]
          if challenge else []),
        *([f"  TradingView webhook: {webhook_url}",
           "    alert message, e.g.: {{strategy.order.action}} {{strategy.order.contracts}} {{ticker}} "
           "{{strategy.order.alert_message}}",
           "    or by hand: buy 0.001 BTCUSDT MARKET id=manual_test   (alert log: `alfax alerts list --account 1`)"]
          if webhook_url else []),
        "",
        "Binance USDT-M REST is served at the paths clients expect (/fapi/v1, /fapi/v2, /fapi/v3, /futures/data).",
        f"Health: {b}/health    Operator credentials: <db>.operator.json (used by `alfax accounts|keys`)",
        "",
        "ccxt (binanceusdm):",
        _indent(ccxt_snippet),
        "",
        "Freqtrade config (futures, replace the \"exchange\" block; keep entry/exit_pricing.use_order_book: true):",
        _indent(freqtrade_snippet),
        "",
        "python-binance:",
        _indent(pybinance_snippet),
        "",
        "binance-futures-connector:",
        _indent(connector_snippet),
        "",
        "alfax SDK (the official SDK's API; code written for it runs unchanged):",
        _indent("import alfax\n"
                f"c = alfax.Client(api_key={api_key!r}, api_secret={secret!r}, base_url='{b}')\n"
                "print(c.challenge_status())"),
        "",
        f"(listening on {host_port}; these credentials are printed on first start only)",
    ]
    return "\n".join(lines) + "\n"
