"""Value syntax of the alert grammar's prices and ``key=value`` options (internal to ``alert_grammar``).

Each validator takes the option's text and returns the typed value, or raises ``Bad`` (kind, message, hint) that
the parser turns into an ``AlertError`` located at the offending token.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from .alert_catalogue import AlertCode
from .alert_lexing import NUM, Bad, dec
from .alert_model import Expect, Leg, PriceKind, PriceSpec, Trail, fmt_decimal
from .enums import MarginType, PositionSide, TimeInForce, WorkingType

CALLBACK_RANGE = (Decimal("0.1"), Decimal("10"))  # Binance USD-M TRAILING_STOP_MARKET callbackRate, %
MAX_LEGS = 10
_PRICE_RE = re.compile(rf"(?P<sign>[+-])?(?P<num>{NUM})(?P<pct>%)?", re.A)
_PCT_RE = re.compile(rf"(?P<num>{NUM})%?", re.A)
_SNUM_RE = re.compile(rf"[+-]?{NUM}", re.A)
_DURATION_RE = re.compile(rf"(?P<num>{NUM})(?P<unit>ms|s|m|h)?", re.I | re.A)
_EPOCH_RE = re.compile(r"[0-9]{1,16}(?:\.[0-9]{1,6})?", re.A)
_ID_RE = re.compile(r"[A-Za-z0-9._:/-]{1,32}", re.A)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _v_id(v: str) -> str:
    if not _ID_RE.fullmatch(v):
        raise Bad(AlertCode.BAD_VALUE, f"id must match [A-Za-z0-9._:/-]{{1,32}} (got '{v}')",
                  "e.g. id={{strategy.order.id}} or id=long_breakout; no spaces, at most 32 characters")
    return v


def _v_lev(v: str, max_lev: int) -> int:
    s = v[:-1] if v[-1:] in ("x", "X") else v
    if not s.isascii() or not s.isdigit() or len(s) > 6:
        raise Bad(AlertCode.BAD_VALUE, f"leverage must be a whole number (got '{v}')", "e.g. lev=5")
    n = int(s)
    if not 1 <= n <= max_lev:
        raise Bad(AlertCode.RANGE, f"leverage {n} out of range [1, {max_lev}]", f"use lev=1 … lev={max_lev}")
    return n


def _v_margin(v: str) -> MarginType:
    m = {"isolated": MarginType.ISOLATED, "cross": MarginType.CROSSED, "crossed": MarginType.CROSSED}.get(v.lower())
    if m is None:
        raise Bad(AlertCode.BAD_VALUE, f"margin must be isolated or cross (got '{v}')",
                  "margin=isolated or margin=cross")
    return m


def _v_tif(v: str) -> TimeInForce:
    t = {"gtc": TimeInForce.GTC, "ioc": TimeInForce.IOC, "fok": TimeInForce.FOK, "gtx": TimeInForce.GTX}.get(v.lower())
    if t is None:
        raise Bad(AlertCode.RANGE, f"tif '{v}' out of range [GTC, IOC, FOK, GTX]", "tif=GTC, IOC, FOK or GTX "
                  "(postOnly is GTX)")
    return t


def parse_price(text: str, *, what: str = "price") -> PriceSpec:
    m = _PRICE_RE.fullmatch(text)
    if not m:
        hint = "use '.' as decimal separator and no thousands separators" if "," in text else \
            "an absolute price (67000) or a relative one: +0.5, -10, +2%, -0.1%"
        raise Bad(AlertCode.NUMBER, f"'{text}' is not a {what}", hint)
    d = dec(m["num"])
    if not m["sign"]:
        if m["pct"]:
            raise Bad(AlertCode.NUMBER, f"'{text}' is not a {what}",
                      f"relative prices carry a sign: +{m['num']}% (above) or -{m['num']}% (below the reference)")
        if d <= 0:
            raise Bad(AlertCode.RANGE, f"{what} must be > 0 (got {text})", "an absolute price is positive")
        return PriceSpec(PriceKind.ABSOLUTE, d, text)
    d = -d if m["sign"] == "-" else d
    if m["pct"]:
        if d <= -100:
            raise Bad(AlertCode.RANGE, f"relative {what} {text} out of range (-100%, ∞)", "e.g. -1% or +2%")
        return PriceSpec(PriceKind.PERCENT, d, text)
    return PriceSpec(PriceKind.OFFSET, d, text)


def parse_pct(v: str, what: str) -> Decimal:
    m = _PCT_RE.fullmatch(v)
    if not m:
        raise Bad(AlertCode.BAD_VALUE, f"{what} must be a percentage like 0.5 or 0.5% (got '{v}')", "e.g. 0.5%")
    return dec(m["num"])


def parse_callback(v: str, label: str) -> Decimal:
    d = parse_pct(v, label)
    lo, hi = CALLBACK_RANGE
    if not lo <= d <= hi:
        raise Bad(AlertCode.RANGE, f"{label} {fmt_decimal(d)} % out of range [{lo}, {hi}]",
                  f"the callback rate is a percentage between {lo} and {hi}")
    return d


def _v_legs(v: str, key: str) -> tuple[Leg, ...]:
    parts = v.split(",")
    if len(parts) > MAX_LEGS:
        raise Bad(AlertCode.RANGE, f"{key} has {len(parts)} legs, at most {MAX_LEGS}", "use fewer legs")
    legs: list[Leg] = []
    for p in parts:
        if not p:
            raise Bad(AlertCode.BAD_VALUE, f"empty leg in {key}='{v}'",
                      f"{key}=price{{,price[:N%]}}, e.g. tp=+2%:50%,+4%:50% or sl=-1%")
        price_s, _, share_s = p.partition(":")
        try:
            price = parse_price(price_s, what=f"{key} price")
        except Bad as b:
            raise Bad(AlertCode.BAD_VALUE if b.kind is AlertCode.NUMBER else b.kind, b.message,
                      f"{key} prices are absolute (71000) or relative to the entry (+2%, -1%); split legs with "
                      f"':N%', e.g. tp=+2%:50%,+4%:50%") from None
        share = None
        if ":" in p:
            m = _PCT_RE.fullmatch(share_s)
            if not m:
                raise Bad(AlertCode.BAD_VALUE, f"{key} leg share must be like 50% (got '{share_s}')",
                          "e.g. tp=+2%:50%,+4%:50%")
            share = dec(m["num"])
            if not 0 < share <= 100:
                raise Bad(AlertCode.RANGE, f"{key} leg share {share_s} out of range (0, 100]", "e.g. :50%")
        legs.append(Leg(price, share))
    given = [x.share_pct for x in legs if x.share_pct is not None]
    total = sum(given, Decimal(0))
    if total > 100:
        raise Bad(AlertCode.RANGE, f"{key} leg shares add up to {fmt_decimal(total)}% (> 100%)",
                  "the shares of the legs are % of the entry and add up to at most 100%")
    if total == 100 and len(given) < len(legs):
        raise Bad(AlertCode.RANGE, f"{key} legs without a share get nothing: the others already take 100%",
                  "give every leg a share, or leave room for the ones without")
    return tuple(legs)


def _v_trail(v: str) -> Trail:
    pct_s, at, price_s = v.partition("@")
    cb = parse_callback(pct_s, "trail callback")
    act = None
    if at:
        try:
            act = parse_price(price_s, what="trail activation price")
        except Bad as b:
            raise Bad(AlertCode.BAD_VALUE if b.kind is AlertCode.NUMBER else b.kind, b.message,
                      "trail=<callback %>[@<activation price>], e.g. trail=0.8@71000") from None
    return Trail(cb, act)


def _v_duration(v: str, key: str) -> int:
    m = _DURATION_RE.fullmatch(v)
    if not m:
        raise Bad(AlertCode.BAD_VALUE, f"{key} must be a duration like 30s, 500ms or 2m (got '{v}')", "N[ms|s|m|h]")
    factor = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}[(m["unit"] or "s").lower()]
    ms = dec(m["num"]) * factor
    if ms != ms.to_integral_value():
        raise Bad(AlertCode.BAD_VALUE, f"{key} {v} is not a whole number of milliseconds", "e.g. 1500ms")
    return int(ms)


def _v_ts(v: str) -> int:
    if _EPOCH_RE.fullmatch(v):
        d = Decimal(v)
        ms = d * 1000 if d < Decimal(10) ** 11 else d  # below 1e11: epoch seconds (until year 5138), else ms
        return int(ms.to_integral_value())
    try:
        dt = datetime.fromisoformat(v)
    except (ValueError, OverflowError):
        raise Bad(AlertCode.BAD_VALUE, f"ts must be ISO-8601 or epoch seconds/milliseconds (got '{v}')",
                  "use ts={{timenow}}, e.g. 2025-01-15T14:30:05Z") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    try:
        delta = dt - _EPOCH
    except OverflowError:  # pragma: no cover - aware datetimes within year 1..9999 subtract fine
        raise Bad(AlertCode.BAD_VALUE, f"ts out of range (got '{v}')", "use ts={{timenow}}") from None
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _v_pos(v: str) -> Decimal:
    if not _SNUM_RE.fullmatch(v):
        hint = "use '.' as decimal separator" if "," in v else "pos={{strategy.position_size}}, e.g. pos=-0.02"
        raise Bad(AlertCode.BAD_VALUE, f"pos must be a signed number (got '{v}')", hint)
    return dec(v)


def _v_enum(v: str, key: str, table: dict[str, Any], spelled: str, hint: str) -> Any:
    out = table.get(v.lower())
    if out is None:
        raise Bad(AlertCode.BAD_VALUE, f"{key} must be {spelled} (got '{v}')", hint)
    return out


def _v_slip(v: str) -> Decimal:
    d = parse_pct(v, "slip")
    if not 0 <= d < 100:
        raise Bad(AlertCode.RANGE, f"slip {fmt_decimal(d)} % out of range [0, 100)", "e.g. slip=0.2%")
    return d


def _v_tag(v: str) -> str:
    if not 1 <= len(v) <= 32 or not v.isprintable():
        raise Bad(AlertCode.BAD_VALUE, f"tag must be 1-32 printable characters (got '{v}')", "e.g. tag=grid")
    return v


def _v_secret(v: str) -> str:
    if not v:
        raise Bad(AlertCode.BAD_VALUE, "secret is empty", "secret=<your webhook secret>")
    return v


def validate_option(key: str, v: str, max_lev: int, delay_cap_ms: int) -> Any:
    if v == "":
        raise Bad(AlertCode.BAD_VALUE, f"{key} has an empty value", f"write {key}=<value> without spaces around '='")
    if key == "id":
        return _v_id(v)
    if key == "lev":
        return _v_lev(v, max_lev)
    if key == "margin":
        return _v_margin(v)
    if key == "tif":
        return _v_tif(v)
    if key in ("tp", "sl"):
        return _v_legs(v, key)
    if key == "trail":
        return _v_trail(v)
    if key == "delay":
        ms = _v_duration(v, key)
        if ms > delay_cap_ms:
            raise Bad(AlertCode.RANGE, f"delay {v} is over the cap of {delay_cap_ms // 1000} s",
                      f"delay=0 … {delay_cap_ms // 1000}s")
        return ms
    if key == "ttl":
        ms = _v_duration(v, key)
        if ms <= 0:
            raise Bad(AlertCode.RANGE, f"ttl must be > 0 (got '{v}')", "e.g. ttl=30s")
        return ms
    if key == "ts":
        return _v_ts(v)
    if key == "pos":
        return _v_pos(v)
    if key == "expect":
        return _v_enum(v, key, {"flat": Expect.FLAT, "long": Expect.LONG, "short": Expect.SHORT},
                       "flat, long or short", "expect={{strategy.prev_market_position}}")
    if key == "slip":
        return _v_slip(v)
    if key == "tag":
        return _v_tag(v)
    if key == "side":
        return _v_enum(v, key, {"long": PositionSide.LONG, "short": PositionSide.SHORT}, "long or short",
                       "side= picks the hedge-mode position side")
    if key == "wt":
        return _v_enum(v, key, {"mark": WorkingType.MARK_PRICE, "last": WorkingType.CONTRACT_PRICE,
                                "mark_price": WorkingType.MARK_PRICE, "contract_price": WorkingType.CONTRACT_PRICE},
                       "mark or last", "wt=mark or wt=last (the stop trigger price source)")
    return _v_secret(v)
