"""Exact, generic serialisation of domain commands and events (and the values nested in them).

Records are plain JSON-able dicts driven by dataclass fields and type hints:

- a command or event becomes ``{"k": kind, field: value, ...}``; nested dataclasses (``Order``, ``AlgoOrder``,
  ``Trade``, ``Evidence``, ``Position``) become ``{field: value, ...}`` (their type is known from the hints);
- fields equal to their dataclass default are omitted (compact; decoding restores the default);
- enums are stored as their values, tuples as lists (restored to tuples, nested tuples included), ints stay
  ints, ``None`` stays ``None``.

``dumps``/``loads`` turn a record into bytes and back with orjson; ints beyond 64 bits (orjson cannot write
them and would read them back as floats) fall back to the stdlib json module behind a one-byte marker, so
money never loses a digit.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from enum import Enum
from typing import Any, Callable

import orjson

from alfax.domain import commands as _commands
from alfax.domain import events as _events
from alfax.domain.commands import ALL_COMMANDS, Command
from alfax.domain.events import Event

KIND = "k"

_MISSING = dataclasses.MISSING
_PLAIN = (int, str, bool, float, type(None))


class CodecError(ValueError):
    pass


def _build_event_registry() -> dict[str, type]:
    reg: dict[str, type] = {}
    for obj in vars(_events).values():
        if isinstance(obj, type) and issubclass(obj, Event) and obj is not Event and obj.kind:
            if obj.kind in reg and reg[obj.kind] is not obj:
                raise CodecError(f"duplicate event kind {obj.kind!r}")
            reg[obj.kind] = obj
    return reg


ALL_EVENTS: dict[str, type] = _build_event_registry()


# ---------------------------------------------------------------- per-type encoders / decoders from hints


def _encoder_for(tp: Any) -> Callable[[Any], Any] | None:
    """Return a function encoding a value of hinted type ``tp``; None means identity."""
    if tp in _PLAIN or tp is Any:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = [_encoder_for(a) for a in args]
        if all(e is None for e in inner):
            return None
        if len(args) == 1:
            enc = inner[0]
            return lambda v: None if v is None else enc(v)
        return _encode_any
    if isinstance(tp, type) and issubclass(tp, Enum):
        return _enum_value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        plan = _plan(tp)
        return lambda v: plan.enc(v, None)
    if origin in (tuple, list, frozenset, set):
        args = typing.get_args(tp)
        if origin is tuple and args and (len(args) != 2 or args[1] is not Ellipsis):
            encs = [_encoder_for(a) for a in args]
            if all(e is None for e in encs):
                return list
            return lambda v: [v2 if e is None else e(v2) for e, v2 in zip(encs, v)]
        inner = _encoder_for(args[0]) if args else _encode_any
        if inner is None:
            if origin in (frozenset, set):
                return lambda v: sorted(v)
            return list
        if origin in (frozenset, set):
            return lambda v: sorted(inner(x) for x in v)
        return lambda v: [inner(x) for x in v]
    if origin is dict:
        _, vt = typing.get_args(tp) or (Any, Any)
        inner = _encoder_for(vt)
        if inner is None:
            return dict
        return lambda v: {k: inner(x) for k, x in v.items()}
    return _encode_any


def _decoder_for(tp: Any) -> Callable[[Any], Any] | None:
    """Return a function decoding a record value into hinted type ``tp``; None means identity."""
    if tp in _PLAIN or tp is Any:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            decs = [_decoder_for(a) for a in args]
            if all(d is None for d in decs):
                return None
            raise CodecError(f"cannot decode ambiguous union {tp!r}")
        dec = _decoder_for(args[0])
        if dec is None:
            return None
        return lambda v: None if v is None else dec(v)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        plan = _plan(tp)
        return lambda v: plan.dec(v)
    if origin in (tuple, list, frozenset, set):
        args = typing.get_args(tp)
        ctor = {tuple: tuple, list: list, frozenset: frozenset, set: set}[origin]
        if origin is tuple and args and (len(args) != 2 or args[1] is not Ellipsis):
            decs = [_decoder_for(a) for a in args]
            if all(d is None for d in decs):
                return tuple
            return lambda v: tuple(x if d is None else d(x) for d, x in zip(decs, v))
        inner = _decoder_for(args[0]) if args else None
        if inner is None:
            return ctor
        return lambda v: ctor(inner(x) for x in v)
    if origin is dict:
        _, vt = typing.get_args(tp) or (Any, Any)
        inner = _decoder_for(vt)
        if inner is None:
            return dict
        return lambda v: {k: inner(x) for k, x in v.items()}
    raise CodecError(f"no decoder for type {tp!r}")


def _enum_value(v: Enum) -> Any:
    return v.value


def _encode_any(v: Any) -> Any:
    if v is None or type(v) in _PLAIN:
        return v
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, (tuple, list)):
        return [_encode_any(x) for x in v]
    if dataclasses.is_dataclass(v):
        return _encode_fields(_plan(type(v)), v)
    if isinstance(v, dict):
        return {k: _encode_any(x) for k, x in v.items()}
    raise CodecError(f"cannot encode {type(v).__name__}")


class _Plan:
    __slots__ = ("cls", "fields", "enc", "dec")

    def __init__(self, cls: type, fields: list[tuple[str, Any, Callable | None, Callable | None]]):
        self.cls = cls
        # (name, default or _MISSING, encoder, decoder)
        self.fields = fields
        self.enc: Callable[[Any, dict | None], dict] = lambda obj, out=None: _encode_fields_slow(self, obj, out)
        self.dec: Callable[[dict], Any] = lambda rec: _decode_fields_slow(self, rec)


def _compile(plan: _Plan) -> None:
    """Generate straight-line encode/decode functions for one class (same semantics as the ``_slow`` loops,
    which remain the reference and the error path; the hypothesis round-trip tests cover both)."""
    ns: dict[str, Any] = {"CLS": plan.cls, "_slow_dec": _decode_fields_slow}
    enc_lines = ["def _enc(obj, r=None):", "    if r is None:", "        r = {}"]
    dec_lines = ["def _dec(rec):", "    try:", "        kw = {}", "        g = rec.get"]
    for i, (name, default, enc, dec) in enumerate(plan.fields):
        enc_lines.append(f"    v = obj.{name}")
        if enc is None:
            expr = "v"
        elif enc is _enum_value:
            expr = "v if v is None else v._value_"
        else:
            ns[f"E{i}"] = enc
            expr = f"v if v is None else E{i}(v)"
        if default is _MISSING:
            enc_lines.append(f"    r[{name!r}] = {expr}")
        else:
            ns[f"D{i}"] = default
            if default is None:
                cond = "v is not None"
            elif isinstance(default, (bool, Enum)):
                cond = f"v is not D{i}"
            else:
                ns[f"T{i}"] = type(default)
                cond = f"not (type(v) is T{i} and v == D{i})"
            enc_lines.append(f"    if {cond}:")
            enc_lines.append(f"        r[{name!r}] = {expr}")
        # decode
        if dec is None:
            dexpr = "v"
        elif isinstance(dec, type) and issubclass(dec, Enum):
            ns[f"M{i}"] = dec._value2member_map_
            dexpr = f"v if v is None else M{i}[v]"
        else:
            ns[f"F{i}"] = dec
            dexpr = f"v if v is None else F{i}(v)"
        if default is _MISSING:
            dec_lines.append(f"        v = rec[{name!r}]")
            dec_lines.append(f"        kw[{name!r}] = {dexpr}")
        else:
            dec_lines.append(f"        v = g({name!r}, _M)")
            dec_lines.append("        if v is not _M:")
            dec_lines.append(f"            kw[{name!r}] = {dexpr}")
    enc_lines.append("    return r")
    dec_lines += ["        return CLS(**kw)", "    except (KeyError, TypeError, ValueError):",
                  "        return _slow_dec(PLAN, rec)  # the reference path: raises CodecError with context"]
    ns["_M"] = _MISSING
    ns["PLAN"] = plan
    exec("\n".join(enc_lines) + "\n\n" + "\n".join(dec_lines), ns)  # noqa: S102 - generated from dataclass fields
    plan.enc = ns["_enc"]
    plan.dec = ns["_dec"]


_PLANS: dict[type, _Plan] = {}


def _plan(cls: type) -> _Plan:
    p = _PLANS.get(cls)
    if p is not None:
        return p
    hints = typing.get_type_hints(cls)
    fields = []
    p = _Plan(cls, fields)
    _PLANS[cls] = p  # registered before recursion (self-referential types)
    for f in dataclasses.fields(cls):
        if f.name == KIND:
            raise CodecError(f"{cls.__name__} has a field named {KIND!r}")
        if f.default is not _MISSING:
            default = f.default
        elif f.default_factory is not _MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = _MISSING
        tp = hints[f.name]
        fields.append((f.name, default, _encoder_for(tp), _decoder_for(tp)))
    _compile(p)
    return p


def _encode_fields(plan: _Plan, obj: Any, out: dict | None = None) -> dict:
    return plan.enc(obj, out)


def _decode_fields(plan: _Plan, rec: dict) -> Any:
    return plan.dec(rec)


def _encode_fields_slow(plan: _Plan, obj: Any, out: dict | None = None) -> dict:
    rec = {} if out is None else out
    for name, default, enc, _ in plan.fields:
        v = getattr(obj, name)
        if default is not _MISSING and type(v) is type(default) and v == default:
            continue
        rec[name] = v if (enc is None or v is None) else enc(v)
    return rec


def _decode_fields_slow(plan: _Plan, rec: dict) -> Any:
    kw = {}
    for name, _, _, dec in plan.fields:
        if name in rec:
            v = rec[name]
            try:
                kw[name] = v if (dec is None or v is None) else dec(v)
            except (ValueError, TypeError, KeyError) as e:
                raise CodecError(f"bad {plan.cls.__name__}.{name} in {rec!r}: {e}") from None
    try:
        return plan.cls(**kw)
    except TypeError as e:
        raise CodecError(f"cannot build {plan.cls.__name__} from {rec!r}: {e}") from None


# ---------------------------------------------------------------- public API


def encode(obj: Any) -> dict:
    """Command, Event or nested domain dataclass -> JSON-able dict (commands/events carry ``"k"``)."""
    plan = _PLANS.get(type(obj))
    if plan is None:
        if not dataclasses.is_dataclass(obj):
            raise CodecError(f"cannot encode {type(obj).__name__}: not a domain dataclass")
        plan = _plan(type(obj))
    kind = getattr(obj, "kind", None)
    if kind and isinstance(obj, (Command, Event)):
        return _encode_fields(plan, obj, {KIND: kind})
    return _encode_fields(plan, obj)


def decode_command(rec: dict) -> Command:
    try:
        cls = ALL_COMMANDS[rec[KIND]]
    except KeyError:
        raise CodecError(f"unknown command record {rec!r}") from None
    return _decode_fields(_PLANS.get(cls) or _plan(cls), rec)


def decode_event(rec: dict) -> Event:
    try:
        cls = ALL_EVENTS[rec[KIND]]
    except KeyError:
        raise CodecError(f"unknown event record {rec!r}") from None
    return _decode_fields(_PLANS.get(cls) or _plan(cls), rec)


def decode_as(cls: type, rec: dict) -> Any:
    """Decode a nested dataclass record (Order, AlgoOrder, Trade, Position, ...) of a known type."""
    return _decode_fields(_PLANS.get(cls) or _plan(cls), rec)


_BIG = b"J"  # marker: payload written by the stdlib json module (ints beyond 64 bits)


def dumps(rec: Any) -> bytes:
    try:
        return orjson.dumps(rec)
    except orjson.JSONEncodeError:
        return _BIG + json.dumps(rec, separators=(",", ":"), ensure_ascii=False).encode()


def loads(data: bytes | str) -> Any:
    if isinstance(data, str):
        data = data.encode()
    if data[:1] == _BIG:
        return json.loads(data[1:])
    return orjson.loads(data)


def dumps_command(cmd: Command) -> bytes:
    return dumps(encode(cmd))


def loads_command(data: bytes) -> Command:
    return decode_command(loads(data))


def dumps_event(ev: Event) -> bytes:
    return dumps(encode(ev))


def loads_event(data: bytes) -> Event:
    return decode_event(loads(data))


# Build every plan eagerly so registry/hint problems surface at import time.
for _c in list(ALL_COMMANDS.values()) + list(ALL_EVENTS.values()):
    _plan(_c)
del _c
_ = _commands  # keep the module import explicit (registry source)
