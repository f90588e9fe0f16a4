"""``alfax`` command line: ``serve``, ``accounts``, ``keys``, ``replay-check``.

``accounts`` and ``keys`` talk to a RUNNING server through the operator API (docs/DESIGN.md, "Operator API"),
signing requests exactly like Binance with the operator credentials from ``<db>.operator.json``.

Exit codes: 0 ok, 1 runtime failure (server unreachable, API error, missing files), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import hmac
import json
import os
import sys
import time
from typing import Any, NoReturn, Sequence
from urllib.parse import urlencode, urlsplit

from alfax.domain.money import AMOUNT_DECIMALS, MoneyError, format_trimmed, parse_fixed

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_DB = "./alfax.db"
VALID_PERMISSIONS = ("read", "trade")


class CliError(Exception):
    """A runtime failure reported as ``error: <msg>`` with exit code 1."""


# --------------------------------------------------------------------------------------------------------------
# argument types (raise ArgumentTypeError -> argparse prints usage + error and exits 2)


def int_in(lo: int, hi: int, what: str):
    """An argparse type: an integer in lo..hi, named ``what`` in the error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"invalid {what} {text!r}: must be an integer in {lo}..{hi}")
        return value

    return parse


_port = int_in(0, 65535, "port")


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: must be a positive number")
    return value


def _parse_amount(text: str, *, signed: bool) -> str:
    """USDT amount for the operator API: the domain's money parser (8 dp max, no floats), as a plain string."""
    try:
        raw = parse_fixed(text, AMOUNT_DECIMALS, allow_negative=signed)
    except MoneyError as e:
        raise argparse.ArgumentTypeError(f"invalid amount {text!r}: {e}") from None
    if raw == 0 or (raw < 0 and not signed):
        need = "a non-zero" if signed else "a positive"
        raise argparse.ArgumentTypeError(f"invalid amount {text!r}: must be {need} decimal number")
    return format_trimmed(raw, AMOUNT_DECIMALS)


def _amount(text: str) -> str:
    return _parse_amount(text, signed=False)


def _signed_amount(text: str) -> str:
    """Funding amount: non-zero decimal (negative withdraws)."""
    return _parse_amount(text, signed=True)


def _account_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid account id {text!r}: must be a positive integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"invalid account id {text!r}: must be a positive integer")
    return value


def _permissions(text: str) -> str:
    parts = [p.strip().lower() for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("invalid permissions '': expected a comma-separated subset of read,trade")
    bad = [p for p in parts if p not in VALID_PERMISSIONS]
    if bad:
        raise argparse.ArgumentTypeError(
            f"invalid permission {bad[0]!r}: expected a comma-separated subset of {','.join(VALID_PERMISSIONS)}"
        )
    ordered = [p for p in VALID_PERMISSIONS if p in parts]
    return ",".join(ordered)


def _feed(text: str) -> str:
    kind, sep, arg = text.partition(":")
    if kind in ("replay", "binance") and (not sep or arg):
        return text
    if kind == "files" and arg:
        return text
    raise argparse.ArgumentTypeError(
        f"invalid feed {text!r}: expected 'replay', 'binance[:SYM1,SYM2]' or 'files:PATH'")


def _ws_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"invalid url {text!r}: expected ws://HOST:PORT or wss://HOST")
    return text.rstrip("/")


def _url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"invalid url {text!r}: expected http://HOST:PORT")
    return text.rstrip("/")


def _api_key(text: str) -> str:
    if not text or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"invalid API key {text!r}")
    return text


# --------------------------------------------------------------------------------------------------------------
# operator API client


def operator_credentials_path(db_path: str) -> str:
    return f"{db_path}.operator.json"


def load_operator_credentials(db_path: str) -> tuple[str, str]:
    path = operator_credentials_path(db_path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise CliError(
            f"operator credentials not found at {path} (start `alfax serve --db {db_path}` first, "
            "or pass --db pointing at the server's database)"
        ) from None
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read operator credentials {path}: {exc}") from None
    try:
        key, secret = str(data["apiKey"]), str(data["secretKey"])
    except (KeyError, TypeError):
        raise CliError(f"operator credentials {path} must be a JSON object with apiKey and secretKey") from None
    return key, secret


def sign_params(secret: str, params: dict[str, Any]) -> str:
    """Binance signing: urlencoded params (incl. timestamp) + ``&signature=<hex hmac-sha256>``."""
    query = urlencode([(k, _wire(v)) for k, v in params.items() if v is not None])
    sig = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={sig}" if query else f"signature={sig}"


def _wire(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class OperatorClient:
    def __init__(self, url: str, api_key: str, secret: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.secret = secret
        self.timeout = timeout

    def request(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        import httpx

        params = dict(params or {})
        params.setdefault("recvWindow", 10000)
        params["timestamp"] = int(time.time() * 1000)
        payload = sign_params(self.secret, params)
        headers = {"X-MBX-APIKEY": self.api_key}
        target = self.url + path
        try:
            with httpx.Client(timeout=self.timeout, trust_env=False) as client:
                if method == "POST":
                    headers["Content-Type"] = "application/x-www-form-urlencoded"
                    resp = client.request(method, target, content=payload.encode(), headers=headers)
                else:
                    resp = client.request(method, f"{target}?{payload}", headers=headers)
        except httpx.TimeoutException:
            raise CliError(f"alfax at {self.url} did not answer within {self.timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach alfax at {self.url} ({exc.__class__.__name__}: {exc}); is `alfax serve` running?") from None
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code >= 400:
            if isinstance(body, dict) and "code" in body:
                raise CliError(f"server answered HTTP {resp.status_code}: code {body.get('code')}: {body.get('msg')}")
            raise CliError(f"server answered HTTP {resp.status_code}: {resp.text[:300]}")
        if body is None:
            raise CliError(f"server answered HTTP {resp.status_code} with a non-JSON body: {resp.text[:300]}")
        return body


def _client(args: argparse.Namespace) -> OperatorClient:
    key, secret = load_operator_credentials(args.db)
    return OperatorClient(args.url, key, secret)


# --------------------------------------------------------------------------------------------------------------
# output helpers


def _emit_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=False))


def _table(rows: list[dict], columns: list[str]) -> str:
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    out = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(columns)).rstrip()]
    for row in cells:
        out.append("  ".join(v.ljust(widths[i]) for i, v in enumerate(row)).rstrip())
    return "\n".join(out)


def _perm_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


# --------------------------------------------------------------------------------------------------------------
# commands


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        cfg = _load_config_file(args.config) if args.config else {}
    except CliError as exc:
        _usage_error(args, f"--config: {exc}")
    host = args.host if args.host is not None else cfg.get("host", "127.0.0.1")
    port = args.port if args.port is not None else cfg.get("port", 8080)
    db = args.db if args.db is not None else cfg.get("db", cfg.get("db_path", DEFAULT_DB))
    feed = args.feed if args.feed is not None else cfg.get("feed", "replay")
    speed = args.speed if args.speed is not None else cfg.get("speed", 1.0)
    instruments = args.instruments if args.instruments is not None else cfg.get("instruments", cfg.get("instruments_path"))
    try:
        port = _port(str(port))
        feed = _feed(str(feed))
        speed = _positive_number(str(speed))
    except argparse.ArgumentTypeError as exc:
        _usage_error(args, f"{args.config}: {exc}")
    if instruments is not None and not os.path.isfile(instruments):
        _usage_error(args, f"--instruments: file not found: {instruments}")
    if feed.startswith("files:") and not os.path.exists(feed[len("files:"):]):
        _usage_error(args, f"--feed: path not found: {feed[len('files:'):]}")

    from alfax.server import ServeConfig, serve  # lazy: the composition root pulls in every package

    # any other ServeConfig field may come from the config file (WebSocket limits, stale threshold, …)
    known = {f.name for f in dataclasses.fields(ServeConfig)}
    extra = {k: v for k, v in cfg.items() if k in known and k not in ("host", "port", "db_path", "feed", "speed",
                                                                       "instruments_path")}
    if args.binance_rest_url is not None:
        extra["binance_rest_url"] = args.binance_rest_url
    if args.binance_ws_url is not None:
        extra["binance_ws_url"] = args.binance_ws_url
    if args.clock_speed is not None:
        extra["clock_speed"] = args.clock_speed
    if args.products is not None:
        if not os.path.isfile(args.products):
            _usage_error(args, f"--products: file not found: {args.products}")
        extra["products_path"] = args.products
    if args.demo_product is not None:
        extra["demo_product"] = args.demo_product
    if args.public_url is not None:
        extra["public_url"] = args.public_url
    if args.trusted_proxy:
        extra["trusted_proxies"] = tuple(args.trusted_proxy)
    config = ServeConfig(
        host=host, port=port, db_path=db, feed=feed, speed=speed, instruments_path=instruments, **extra
    )
    result = serve(config)
    return int(result) if isinstance(result, int) else 0


def _load_config_file(path: str) -> dict:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise CliError(f"cannot read config {path}: {exc}") from None
    try:
        if path.endswith(".toml"):
            import tomllib

            data = tomllib.loads(raw.decode())
            data = data.get("serve", data)
        else:
            data = json.loads(raw)
    except ValueError as exc:
        raise CliError(f"cannot parse config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise CliError(f"config {path} must be an object of serve options")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def _usage_error(args: argparse.Namespace, message: str) -> NoReturn:
    parser: argparse.ArgumentParser = args._parser
    parser.error(message)


def cmd_accounts_create(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"balance": args.balance}
    if args.alias:
        params["alias"] = args.alias
    res = _client(args).request("POST", "/alfax/admin/accounts", params)
    if args.json:
        _emit_json(res)
        return 0
    alias = f" ({args.alias})" if args.alias else ""
    print(f"Account {res.get('accountId')}{alias} created with {args.balance} USDT")
    print(f"  API key:    {res.get('apiKey')}")
    print(f"  API secret: {res.get('secretKey')}")
    return 0


def cmd_accounts_list(args: argparse.Namespace) -> int:
    res = _client(args).request("GET", "/alfax/admin/accounts")
    if args.json:
        _emit_json(res)
        return 0
    rows = res if isinstance(res, list) else []
    print(_table(rows, ["accountId", "alias", "walletBalance"]))
    return 0


def cmd_accounts_fund(args: argparse.Namespace) -> int:
    res = _client(args).request("POST", "/alfax/admin/accounts/fund", {"accountId": args.account_id, "amount": args.amount})
    if args.json:
        _emit_json(res)
        return 0
    print(f"Account {res.get('accountId', args.account_id)} wallet balance: {res.get('walletBalance')} USDT")
    return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    res = _client(args).request("POST", "/alfax/admin/keys", {"accountId": args.account_id, "permissions": args.permissions})
    if args.json:
        _emit_json(res)
        return 0
    print(f"Key created for account {args.account_id} ({_perm_text(res.get('permissions', args.permissions))})")
    print(f"  API key:    {res.get('apiKey')}")
    print(f"  API secret: {res.get('secretKey')}")
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    params = {"accountId": args.account} if args.account is not None else {}
    res = _client(args).request("GET", "/alfax/admin/keys", params)
    if args.json:
        _emit_json(res)
        return 0
    rows = []
    for r in res if isinstance(res, list) else []:
        r = dict(r)
        r["permissions"] = _perm_text(r.get("permissions", ""))
        r["enabled"] = "yes" if r.get("enabled") in (True, "true") else "no"
        rows.append(r)
    print(_table(rows, ["apiKey", "accountId", "permissions", "enabled", "label"]))
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    res = _client(args).request("DELETE", "/alfax/admin/keys", {"apiKey": args.api_key})
    if args.json:
        _emit_json(res)
        return 0
    print(f"Key {res.get('apiKey', args.api_key)} revoked")
    return 0


def cmd_replay_check(args: argparse.Namespace) -> int:
    if not os.path.isfile(args.db):
        raise CliError(f"database not found: {args.db}")
    from alfax.server import replay_state_hash  # lazy

    if args.instruments:
        print(replay_state_hash(args.db, args.instruments))
    else:
        print(replay_state_hash(args.db))
    return 0


# --------------------------------------------------------------------------------------------------------------
# parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alfax",
        description="Self-hosted simulated Binance USDT-M perpetual futures venue.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("serve", help="run the venue (REST + WS) in the foreground")
    p.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=None, help="TCP port (default 8080)")
    p.add_argument("--db", default=None, help="SQLite journal path (default ./alfax.db)")
    p.add_argument("--feed", type=_feed, default=None, help="market data: replay (bundled), binance[:SYM,…] (live Binance public streams) or files:PATH (default replay)")
    p.add_argument("--binance-rest-url", type=_url, default=None,
                   help="REST base of the live feed (default https://fapi.binance.com)")
    p.add_argument("--binance-ws-url", type=_ws_url, default=None,
                   help="WebSocket base of the live feed (default wss://fstream.binance.com)")
    p.add_argument("--speed", type=_positive_number, default=None, help="replay speed multiplier (default 1)")
    p.add_argument("--instruments", default=None, metavar="PATH", help="instruments JSON (default: bundled)")
    p.add_argument("--clock-speed", type=_positive_number, default=None,
                   help="venue time runs N times faster than wall time (rehearse challenge rollovers, trading days "
                        "and funding in seconds; default 1)")
    p.add_argument("--products", default=None, metavar="PATH", help="challenge products JSON (default: bundled)")
    p.add_argument("--demo-product", default=None, metavar="ID",
                   help="product of the demo account's challenge at first start (default 10k-2step; '' = plain)")
    p.add_argument("--public-url", type=_url, default=None, metavar="URL",
                   help="base URL users paste into TradingView (TradingView only posts to ports 80/443: your reverse "
                        "proxy or tunnel); shown in webhook URLs (default: the bind address)")
    p.add_argument("--trusted-proxy", action="append", default=[], metavar="IP",
                   help="a reverse proxy whose X-Forwarded-For gives the webhook's source address (repeatable)")
    p.add_argument("--config", default=None, metavar="PATH", help="JSON/TOML file with serve options; flags override it")
    p.set_defaults(func=cmd_serve, _parser=p)

    def operator_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--url", type=_url, default=DEFAULT_URL, help=f"server base URL (default {DEFAULT_URL})")
        sp.add_argument("--db", default=DEFAULT_DB, help="server database path; operator credentials are read from <db>.operator.json")
        sp.add_argument("--json", action="store_true", help="print the raw JSON response")

    acc = sub.add_parser("accounts", help="manage accounts on a running server")
    acc_sub = acc.add_subparsers(dest="accounts_command", metavar="ACTION")
    acc_sub.required = True
    sp = acc_sub.add_parser("create", help="create an account and its first API key")
    sp.add_argument("--alias", default=None)
    sp.add_argument("--balance", type=_amount, default="10000", help="initial USDT balance (default 10000)")
    operator_opts(sp)
    sp.set_defaults(func=cmd_accounts_create, _parser=sp)
    sp = acc_sub.add_parser("list", help="list accounts")
    operator_opts(sp)
    sp.set_defaults(func=cmd_accounts_list, _parser=sp)
    sp = acc_sub.add_parser("fund", help="deposit (or, if negative, withdraw) USDT")
    sp.add_argument("account_id", type=_account_id, metavar="ACCOUNT_ID")
    sp.add_argument("amount", type=_signed_amount, metavar="AMOUNT")
    operator_opts(sp)
    sp.set_defaults(func=cmd_accounts_fund, _parser=sp)

    keys = sub.add_parser("keys", help="manage API keys on a running server")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION")
    keys_sub.required = True
    sp = keys_sub.add_parser("create", help="create an API key for an account")
    sp.add_argument("account_id", type=_account_id, metavar="ACCOUNT_ID")
    sp.add_argument("--permissions", type=_permissions, default="read,trade", help="comma-separated: read,trade (default both)")
    operator_opts(sp)
    sp.set_defaults(func=cmd_keys_create, _parser=sp)
    sp = keys_sub.add_parser("list", help="list API keys")
    sp.add_argument("--account", type=_account_id, default=None, metavar="ID")
    operator_opts(sp)
    sp.set_defaults(func=cmd_keys_list, _parser=sp)
    sp = keys_sub.add_parser("revoke", help="disable an API key")
    sp.add_argument("api_key", type=_api_key, metavar="API_KEY")
    operator_opts(sp)
    sp.set_defaults(func=cmd_keys_revoke, _parser=sp)

    from .challenges import add_commands  # products, challenges, payouts, audit (alfax/cli/challenges.py)

    add_commands(sub, operator_opts)
    from .automation import add_commands as add_automation  # webhook, alerts, hub-users (alfax/cli/automation.py)

    add_automation(sub, operator_opts)

    sp = sub.add_parser("replay-check", help="replay the journal offline and print the resulting state hash")
    sp.add_argument("--db", required=True, help="database to replay")
    sp.add_argument("--instruments", default=None, metavar="PATH", help="instruments JSON the server ran with (default: bundled)")
    sp.set_defaults(func=cmd_replay_check, _parser=sp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        print(f"alfax: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
