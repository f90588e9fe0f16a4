"""Challenge products (issue 4): stages and rules, loaded from a JSON document such as ``alfax/data/products.json``.

Stdlib only, like ``instruments``: the caller reads the file, ``load_products(doc)`` validates and returns typed,
frozen products. Fractions of the stage start balance are raw ints at 8 dp, USDT amounts raw ints at 8 dp.
``rules_version`` is a hash of the product's canonical JSON: a challenge stores it at purchase, so rules never
change under a running challenge (a changed product gets a new version; running challenges keep theirs).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .challenge import DailyMode, TotalMode
from .money import AMOUNT_DECIMALS, RATE_DECIMALS, MoneyError, format_trimmed, parse_fixed

STAGE_NAMES = ("STAGE_1", "STAGE_2", "STAGE_3")
FUNDED = "FUNDED"
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class ProductError(ValueError):
    """A product document that cannot be used; the message names the product and the field."""


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    profit_target: int  # fraction raw (None for FUNDED is 0)
    max_daily_loss: int  # fraction raw
    max_total_loss: int  # fraction raw
    min_trading_days: int = 0
    max_days: int | None = None


@dataclass(frozen=True, slots=True)
class Product:
    product_id: str
    title: str
    account_size: int  # USDT raw
    currency: str
    stages: tuple[Stage, ...]  # evaluation stages in order; FUNDED follows the last one
    funded: Stage
    max_leverage: int
    symbol_leverage: tuple[tuple[str, int], ...]
    symbols_whitelist: tuple[str, ...]
    commission_bps: int  # raw at 8 dp (bps may be fractional)
    news_trading_forbidden: bool
    news_windows: tuple[tuple[int, int], ...]  # [start ms, end ms) UTC
    payout_split_bps: int
    payout_cadence_days: int
    payout_minimum: int  # USDT raw
    best_day_fraction: int | None
    inactivity_days: int | None
    min_trade_notional_fraction: int
    rollover_minute: int  # minutes after 00:00 UTC
    daily_mode: DailyMode
    total_mode: TotalMode
    rules_version: str
    source: str = ""  # the canonical JSON the version hashes: what a challenge pins (journaled, replayable)

    def stage(self, name: str) -> Stage:
        if name == FUNDED:
            return self.funded
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)

    def next_stage(self, name: str) -> str:
        """The stage minted when ``name`` passes (FUNDED after the last evaluation stage)."""
        names = [s.name for s in self.stages]
        i = names.index(name)
        return names[i + 1] if i + 1 < len(names) else FUNDED

    def leverage_cap(self, symbol: str) -> int:
        return min(dict(self.symbol_leverage).get(symbol, self.max_leverage), self.max_leverage)

    def in_news_window(self, ts_ms: int) -> bool:
        return any(a <= ts_ms < b for a, b in self.news_windows)

    def rules_json(self) -> dict:
        """``GET /fapi/v1/challenge/rules`` (the SDK's ChallengeRules: fractions as strings)."""
        frac = lambda raw: format_trimmed(raw, RATE_DECIMALS)  # noqa: E731
        return {
            "productId": self.product_id, "accountSize": format_trimmed(self.account_size, AMOUNT_DECIMALS),
            "currency": self.currency,
            "stages": [{"name": s.name, "profitTarget": frac(s.profit_target), "maxDailyDrawdown": frac(s.max_daily_loss),
                        "maxTotalDrawdown": frac(s.max_total_loss), "minTradingDays": s.min_trading_days,
                        "maxDays": s.max_days} for s in self.stages],
            "maxLeverage": self.max_leverage, "symbolsWhitelist": list(self.symbols_whitelist),
            "commissionBps": format_trimmed(self.commission_bps, 8),
            "newsTradingForbidden": self.news_trading_forbidden, "payoutSplitBps": self.payout_split_bps,
            # extensions (the SDK model allows extra fields)
            "rulesVersion": self.rules_version, "symbolLeverage": dict(self.symbol_leverage),
            "funded": {"maxDailyDrawdown": frac(self.funded.max_daily_loss),
                       "maxTotalDrawdown": frac(self.funded.max_total_loss)},
            "payoutCadenceDays": self.payout_cadence_days,
            "payoutMinimum": format_trimmed(self.payout_minimum, AMOUNT_DECIMALS),
            "bestDayPct": None if self.best_day_fraction is None else frac(self.best_day_fraction),
            "inactivityDays": self.inactivity_days,
            "minTradeNotionalPct": frac(self.min_trade_notional_fraction),
            "dayRolloverUtc": f"{self.rollover_minute // 60:02d}:{self.rollover_minute % 60:02d}",
            "dailyMode": self.daily_mode.value, "totalMode": self.total_mode.value,
            "breachRule": "equity <= floor (touching a floor is a breach); equity on mark prices, fees and funding "
                          "included; daily floor = max(balance, equity) at rollover - maxDailyDrawdown x startBalance",
            "payoutMode": "debit",
        }


def load_product(source: str) -> Product:
    """One product from its canonical JSON (``Product.source``): how a pinned challenge gets its rules back."""
    try:
        d = json.loads(source)
    except ValueError:
        raise ProductError("pinned product is not valid JSON") from None
    return _product(d, None)


def load_products(doc: dict, symbols: set[str] | None = None) -> dict[str, Product]:
    """Validate a products document (``{"products": [...]}``); ``symbols`` = the venue's instruments, if given."""
    items = doc.get("products") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items:
        raise ProductError("products document needs a non-empty 'products' list")
    out: dict[str, Product] = {}
    for item in items:
        p = _product(item, symbols)
        if p.product_id in out:
            raise ProductError(f"duplicate productId {p.product_id!r}")
        out[p.product_id] = p
    return out


def _product(d: Any, symbols: set[str] | None) -> Product:
    if not isinstance(d, dict):
        raise ProductError("each product must be an object")
    pid = d.get("productId")
    if not isinstance(pid, str) or not pid:
        raise ProductError("product without a productId")
    f = _Fields(pid, d)
    stages = tuple(_stage(f, i, s) for i, s in enumerate(f.list("stages")))
    if not stages:
        raise ProductError(f"{pid}: at least one stage")
    if [s.name for s in stages] != list(STAGE_NAMES[: len(stages)]):
        raise ProductError(f"{pid}: stages must be named {', '.join(STAGE_NAMES[: len(stages)])} in order")
    fd = f.obj("funded")
    funded = Stage(FUNDED, 0, f.fraction(fd, "maxDailyDrawdown", "funded."), f.fraction(fd, "maxTotalDrawdown", "funded."))
    max_lev = f.int("maxLeverage", 1, 125)
    sym_lev = tuple(sorted((str(k), f.check_int(v, f"symbolLeverage.{k}", 1, max_lev))
                           for k, v in f.obj("symbolLeverage", {}).items()))
    whitelist = tuple(f.list("symbolsWhitelist"))
    if symbols is not None:
        unknown = sorted({s for s in whitelist if s not in symbols} | {s for s, _ in sym_lev if s not in symbols})
        if unknown:
            raise ProductError(f"{pid}: symbols not listed on this venue: {', '.join(unknown)}")
    rollover = d.get("dayRolloverUtc", "00:00")
    m = _HHMM.match(rollover) if isinstance(rollover, str) else None
    if not m:
        raise ProductError(f"{pid}: dayRolloverUtc must be 'HH:MM' (UTC)")
    best = d.get("bestDayPct")
    inactivity = d.get("inactivityDays")
    try:
        daily_mode, total_mode = DailyMode(d.get("dailyMode", "fixed")), TotalMode(d.get("totalMode", "static"))
    except ValueError as e:
        raise ProductError(f"{pid}: {e}") from None
    canonical = json.dumps(d, sort_keys=True, separators=(",", ":"))
    return Product(
        product_id=pid, title=str(d.get("title", pid)), account_size=f.amount("accountSize"),
        currency=f.str("currency", "USDT"), stages=stages, funded=funded, max_leverage=max_lev,
        symbol_leverage=sym_lev, symbols_whitelist=whitelist,
        commission_bps=f.decimal(d.get("commissionBps", "0"), "commissionBps", 8),
        news_trading_forbidden=bool(d.get("newsTradingForbidden", False)),
        news_windows=tuple(_window(f, w) for w in f.list("newsWindows", [])),
        payout_split_bps=f.int("payoutSplitBps", 1, 10_000), payout_cadence_days=f.int("payoutCadenceDays", 0, 3650),
        payout_minimum=f.amount("payoutMinimum"),
        best_day_fraction=None if best is None else f.fraction(d, "bestDayPct"),
        inactivity_days=None if inactivity is None else f.int("inactivityDays", 1, 3650),
        min_trade_notional_fraction=f.fraction(d, "minTradeNotionalPct"),
        rollover_minute=int(m.group(1)) * 60 + int(m.group(2)), daily_mode=daily_mode, total_mode=total_mode,
        rules_version=hashlib.sha256(canonical.encode()).hexdigest()[:16], source=canonical,
    )


def _stage(f: "_Fields", i: int, s: Any) -> Stage:
    if not isinstance(s, dict):
        raise ProductError(f"{f.pid}: stages[{i}] must be an object")
    where = f"stages[{i}]."
    max_days = s.get("maxDays")
    return Stage(name=str(s.get("name")), profit_target=f.fraction(s, "profitTarget", where),
                 max_daily_loss=f.fraction(s, "maxDailyDrawdown", where),
                 max_total_loss=f.fraction(s, "maxTotalDrawdown", where),
                 min_trading_days=f.check_int(s.get("minTradingDays"), where + "minTradingDays", 0, 3650),
                 max_days=None if max_days is None else f.check_int(max_days, where + "maxDays", 1, 3650))


def _window(f: "_Fields", w: Any) -> tuple[int, int]:
    try:
        start, end = datetime.fromisoformat(w["start"]), datetime.fromisoformat(w["end"])
        if start.tzinfo is None or end.tzinfo is None:  # a naive time would be read in the server's zone
            raise ValueError("no offset")
        a, b = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    except (KeyError, TypeError, ValueError):
        raise ProductError(f"{f.pid}: newsWindows entries need ISO-8601 'start' and 'end' with a UTC offset") from None
    if b <= a:
        raise ProductError(f"{f.pid}: news window ends before it starts")
    return a, b


class _Fields:
    """Field readers that name the product and field in every error."""

    def __init__(self, pid: str, d: dict) -> None:
        self.pid, self.d = pid, d

    def _err(self, field: str, what: str) -> ProductError:
        return ProductError(f"{self.pid}: {field} {what}")

    def list(self, key: str, default: list | None = None) -> list:
        v = self.d.get(key, default)
        if not isinstance(v, list):
            raise self._err(key, "must be a list")
        return v

    def obj(self, key: str, default: dict | None = None) -> dict:
        v = self.d.get(key, default)
        if not isinstance(v, dict):
            raise self._err(key, "must be an object")
        return v

    def str(self, key: str, default: str) -> str:
        v = self.d.get(key, default)
        if not isinstance(v, str) or not v:
            raise self._err(key, "must be a non-empty string")
        return v

    def check_int(self, v: Any, field: str, lo: int, hi: int) -> int:
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise self._err(field, f"must be an integer in {lo}..{hi}")
        return v

    def int(self, key: str, lo: int, hi: int) -> int:
        return self.check_int(self.d.get(key), key, lo, hi)

    def decimal(self, v: Any, field: str, decimals: int) -> int:
        if not isinstance(v, str):  # a JSON number would already be a float
            raise self._err(field, "must be a decimal string")
        try:
            return parse_fixed(v, decimals)
        except MoneyError as e:
            raise self._err(field, f"is not a valid amount ({e})") from None

    def amount(self, key: str) -> int:
        raw = self.decimal(self.d.get(key), key, AMOUNT_DECIMALS)
        if raw <= 0:
            raise self._err(key, "must be positive")
        return raw

    def fraction(self, d: dict, key: str, where: str = "") -> int:
        raw = self.decimal(d.get(key), where + key, RATE_DECIMALS)
        if not 0 <= raw <= 10**RATE_DECIMALS:
            raise self._err(where + key, "must be a fraction between 0 and 1 (e.g. \"0.05\")")
        return raw
