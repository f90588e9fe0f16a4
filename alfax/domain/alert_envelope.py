"""The JSON envelope of an alert body (internal to ``alert_grammar``): ``{"cmd": …, "id", "secret", "ts", "ttl"}``.

TradingView posts the Message field verbatim, with ``application/json`` when it is valid JSON. An object body is an
envelope around the grammar text in ``cmd`` (a string, or a list of strings = one command per line); its other
fields apply to every command and win over the same inline options (W103). Duplicate or unknown fields are errors
(3Commas silently ignores unknown fields, which is one of the complaints of §1.4).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from .alert_catalogue import AlertCode, AlertError
from .alert_lexing import Bad, Locator, clean, did_you_mean
from .alert_values import validate_option

ENVELOPE_FIELDS = ["cmd", "id", "secret", "ts", "ttl"]


class _DupKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for k, v in pairs:
        if k in d:
            raise _DupKey(k)
        d[k] = v
    return d


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _field_pos(raw: str, key: str) -> tuple[int, int, str]:
    m = re.search(r'"' + re.escape(key) + r'"\s*:', raw, re.I)
    if not m:
        return 1, 1, ""
    line, col = Locator(raw)(m.start())
    return line, col, raw[m.start():m.end()]


def parse_envelope(raw: str, *, max_leverage: int, delay_cap_ms: int
                   ) -> tuple[str | None, dict[str, tuple[Any, str]], list[AlertError]]:
    """(cmd text, {key: (validated value, raw text)}, errors) of a JSON envelope body."""

    def err(kind: AlertCode, message: str, hint: str, key: str | None = None) -> list[AlertError]:
        line, col, tok = _field_pos(raw, key) if key else (1, 1, "")
        return [AlertError(kind, message, col, tok, hint, line, None)]

    hint_env = ('a JSON body is an envelope: {"cmd": "buy 0.001 BTCUSDT", "id": "…", "secret": "…", "ts": "…", '
                '"ttl": "30s"}')
    try:
        obj = json.loads(raw, object_pairs_hook=_pairs, parse_float=Decimal, parse_constant=_no_constant)
    except _DupKey as dk:
        return None, {}, err(AlertCode.DUP_OPTION, f"JSON field '{dk.key}' given twice", f"give '{dk.key}' once",
                             dk.key)
    except json.JSONDecodeError as je:
        tok = raw[je.pos:je.pos + 10].split("\n")[0] if 0 <= je.pos < len(raw) else ""
        return None, {}, [AlertError(AlertCode.BAD_VALUE, f"invalid JSON envelope: {je.msg} at line {je.lineno} col "
                                     f"{je.colno}", je.colno, tok, "TradingView sends the Message field verbatim: "
                                     "check quotes, commas and braces, or send plain text", je.lineno, None)]
    except (ValueError, RecursionError) as e:
        return None, {}, err(AlertCode.BAD_VALUE, f"invalid JSON envelope: {e}", hint_env)
    if not isinstance(obj, dict):
        return None, {}, err(AlertCode.BAD_VALUE, "the JSON envelope must be an object", hint_env)
    fields: dict[str, Any] = {}
    for k, v in obj.items():
        low = k.lower()
        if low not in ENVELOPE_FIELDS:
            return None, {}, err(AlertCode.OPTION, f"unknown envelope field '{k}'{did_you_mean(k, ENVELOPE_FIELDS)}",
                                 "the JSON envelope takes cmd, id, secret, ts and ttl; put everything else in cmd", k)
        if low in fields:
            return None, {}, err(AlertCode.DUP_OPTION, f"JSON field '{low}' given twice", f"give '{low}' once", k)
        fields[low] = (k, v)
    if "cmd" not in fields:
        return None, {}, err(AlertCode.MISSING_ARG, "the JSON envelope needs a 'cmd' string", hint_env)
    ck, cv = fields.pop("cmd")
    if isinstance(cv, list) and cv and all(isinstance(x, str) for x in cv):
        cmd = "\n".join(clean(x) for x in cv)
    elif isinstance(cv, str):
        cmd = clean(cv)
    else:
        return None, {}, err(AlertCode.BAD_VALUE, "'cmd' must be a string (or a list of strings)", hint_env, ck)
    env: dict[str, tuple[Any, str]] = {}
    for low, (k, v) in fields.items():
        if isinstance(v, bool) or v is None or not isinstance(v, (str, int, Decimal)) or \
                (low == "secret" and not isinstance(v, str)) or (low == "ttl" and isinstance(v, Decimal)):
            return None, {}, err(AlertCode.BAD_VALUE, f"JSON field '{k}' has the wrong type ({type(v).__name__})",
                                 "id, secret, ts and ttl are strings (ts and ttl may be whole numbers)", k)
        text = clean(v) if isinstance(v, str) else (format(v, "f") if isinstance(v, Decimal) else str(v))
        try:
            env[low] = (validate_option(low, text, max_leverage, delay_cap_ms), text)
        except Bad as b:
            return None, {}, err(b.kind, b.message, b.hint, k)
    return cmd, env, []
