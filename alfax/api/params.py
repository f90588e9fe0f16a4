"""Request parameters: a fast split-based parser and typed getters that raise Binance errors.

Parameters come from the query string AND a form body on any method; the query string wins (Binance General
Info). Values are unquoted only when they contain ``%`` or ``+`` (performance-anchors B2: ``parse_qsl`` costs
~4x the HMAC). Unknown extra parameters are ignored.
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar
from urllib.parse import unquote_plus

from alfax.domain.errors import Err, VenueError
from alfax.domain.money import MoneyError, PrecisionError, parse_fixed

E = TypeVar("E", bound=Enum)

_MAX_INT = 2**63 - 1
_ENUM_MAPS: dict[type, dict[str, Enum]] = {}


def _enum_map(cls: type) -> dict[str, Enum]:
    m = _ENUM_MAPS.get(cls)
    if m is None:
        m = _ENUM_MAPS[cls] = {e.value: e for e in cls}  # type: ignore[attr-defined]
    return m


def parse_into(raw: bytes | str, out: dict[str, str]) -> None:
    """Parse ``a=1&b=2`` into ``out`` (later keys overwrite earlier ones)."""
    if not raw:
        return
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8", "replace")
    for part in raw.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        if "%" in part or "+" in part:
            k = unquote_plus(k)
            v = unquote_plus(v)
        out[k] = v


def parse_params(query: bytes, body: bytes, form_body: bool = True) -> dict[str, str]:
    """Body first, then the query string over it (query wins)."""
    out: dict[str, str] = {}
    if body and form_body:
        parse_into(body, out)
    if query:
        parse_into(query, out)
    return out


class Params:
    """Typed access to request parameters; every getter raises the Binance error clients expect."""

    __slots__ = ("d",)

    def __init__(self, d: dict[str, str]) -> None:
        self.d = d

    def __contains__(self, name: str) -> bool:
        return bool(self.d.get(name))

    def get(self, name: str, default: str | None = None) -> str | None:
        v = self.d.get(name)
        if v is None or v == "":
            return default
        return v

    def first(self, *names: str) -> str | None:
        for n in names:
            v = self.d.get(n)
            if v:
                return v
        return None

    def str(self, name: str, default: str = "") -> str:
        v = self.d.get(name)
        return default if v is None or v == "" else v

    def req(self, name: str) -> str:
        v = self.d.get(name)
        if v is None or v == "":
            raise VenueError(Err.MANDATORY_PARAM, param=name)
        return v

    def int(self, name: str, default: int | None = None, *, required: bool = False, lo: int | None = None,
            hi: int | None = None) -> int | None:
        v = self.d.get(name)
        if v is None or v == "":
            if required:
                raise VenueError(Err.MANDATORY_PARAM, param=name)
            return default
        try:
            n = int(v)
        except ValueError:
            raise VenueError(Err.MANDATORY_PARAM if required else Err.INVALID_PARAMETER, param=name) from None
        if n > _MAX_INT or n < -_MAX_INT:
            raise VenueError(Err.INVALID_PARAMETER, param=name)
        if lo is not None and n < lo:
            raise VenueError(Err.INVALID_PARAMETER, param=name)
        if hi is not None and n > hi:
            raise VenueError(Err.INVALID_PARAMETER, param=name)
        return n

    def req_int(self, name: str, *, lo: int | None = None, hi: int | None = None) -> int:
        return self.int(name, required=True, lo=lo, hi=hi)  # type: ignore[return-value]

    def limit(self, default: int, hi: int, name: str = "limit") -> int:
        n = self.int(name, default)
        assert n is not None
        if n <= 0:
            raise VenueError(Err.INVALID_PARAMETER, param=name)
        return min(n, hi)

    def bool(self, name: str, default: bool = False) -> bool:
        v = self.d.get(name)
        if v is None or v == "":
            return default
        lv = v.lower()
        if lv == "true":
            return True
        if lv == "false":
            return False
        raise VenueError(Err.INVALID_PARAMETER, param=name)

    def req_bool(self, name: str) -> bool:
        self.req(name)
        return self.bool(name)

    def money(self, name: str, decimals: int, default: int = 0, *, required: bool = False,
              allow_negative: bool = False) -> int:
        v = self.d.get(name)
        if v is None or v == "":
            if required:
                raise VenueError(Err.MANDATORY_PARAM, param=name)
            return default
        return parse_money(name, v, decimals, allow_negative=allow_negative)

    def enum(self, name: str, cls: type[E], err: Err, default: E | None = None, *, required: bool = False) -> E:
        v = self.d.get(name)
        if v is None or v == "":
            if required or default is None:
                raise VenueError(Err.MANDATORY_PARAM, param=name)
            return default
        m = _enum_map(cls)
        e = m.get(v)
        if e is None:
            e = m.get(v.upper())
            if e is None:
                raise VenueError(err, param=name)
        return e  # type: ignore[return-value]


def parse_money(name: str, v: str, decimals: int, *, allow_negative: bool = False) -> int:
    if len(v) > 40:
        raise VenueError(Err.INVALID_PARAMETER, param=name)
    try:
        return parse_fixed(v, decimals, allow_negative=allow_negative)
    except PrecisionError:
        raise VenueError(Err.BAD_PRECISION) from None
    except MoneyError:
        raise VenueError(Err.INVALID_PARAMETER, param=name) from None
    except (ValueError, ArithmeticError):
        raise VenueError(Err.INVALID_PARAMETER, param=name) from None
