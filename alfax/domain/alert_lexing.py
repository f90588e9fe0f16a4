"""Lexing helpers of the TradingView alert grammar (internal to ``alert_grammar``).

Splitting a message into commands, commands into tokens, 1-based line/column bookkeeping, numbers, symbol
normalisation, placeholder detection, secret redaction and did-you-mean suggestions. Stdlib only.
"""

from __future__ import annotations

import bisect
import difflib
import re
from decimal import Decimal, InvalidOperation

from .alert_catalogue import AlertCode

NUM = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?"  # unsigned; no NaN/Infinity, ASCII only
PLACEHOLDER = re.compile(r"\{\{[^{}\r\n]{0,120}\}\}")
_SYM_RE = re.compile(r"(?:(?P<venue>[A-Z][A-Z0-9_]*):)?(?P<body>[A-Z0-9/_-]+?)(?P<perp>\.P)?", re.A)
_CCXT_RE = re.compile(r"(?P<base>[A-Z0-9]+)/(?P<quote>[A-Z0-9]+):(?P<settle>[A-Z0-9]+)", re.A)
_REDACT_INLINE = re.compile(r'(?i)(\bsecret=)(\\"(?:(?!\\").)*(?:\\")?|"(?:[^"\\]|\\.)*"?|(?:[^\s;"\\]|\\(?!"))*)')
_REDACT_JSON = re.compile(r'(?i)("secret"\s*:\s*)("(?:[^"\\]|\\.)*"?|[^,}\s]*)')


class Bad(Exception):
    """A value problem without a location yet (validators raise it; the parser adds col/token)."""

    def __init__(self, kind: AlertCode, message: str, hint: str) -> None:
        super().__init__(message)
        self.kind, self.message, self.hint = kind, message, hint


class Tok:
    """A whitespace-delimited token; a "quoted part" may contain whitespace. [start, end) offsets in the message."""

    __slots__ = ("text", "start", "end")

    def __init__(self, text: str, start: int, end: int) -> None:
        self.text, self.start, self.end = text, start, end


class Locator:
    """Character offset -> (line, col), both 1-based; lines end at \\r\\n, \\n or \\r."""

    def __init__(self, text: str) -> None:
        starts = [0]
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            if c == "\r" and i + 1 < n and text[i + 1] == "\n":
                i += 1
            if c in "\r\n":
                starts.append(i + 1)
            i += 1
        self.starts = starts

    def __call__(self, pos: int) -> tuple[int, int]:
        k = bisect.bisect_right(self.starts, pos) - 1
        return k + 1, pos - self.starts[k] + 1


def suggest(word: str, candidates: list[str]) -> str | None:
    lowered = {c.lower(): c for c in candidates}
    hit = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[hit[0]] if hit else None


def did_you_mean(word: str, candidates: list[str], fmt: str = " (did you mean {}?)") -> str:
    s = suggest(word, candidates)
    return fmt.format(s) if s else ""


def dec(num: str) -> Decimal:
    try:
        d = Decimal(num)
    except InvalidOperation:  # the regexes make this unreachable; stay defensive
        raise Bad(AlertCode.NUMBER, f"'{num}' is not a number", "use digits and '.'") from None
    if d != 0 and (d.adjusted() > 15 or d.adjusted() < -12 or len(d.as_tuple().digits) > 30):
        raise Bad(AlertCode.RANGE, f"number {num} out of range", "numbers between 1e-12 and 1e15 only")
    return d


def clean(s: str) -> str:
    """Lone surrogates (from JSON escapes or a str body) become U+FFFD so every value encodes as UTF-8."""
    return s.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def segments(text: str) -> list[tuple[int, int]]:
    """Split on ';' and newlines outside quotes; drop '//' comments and blank segments; strip each one."""
    raw: list[tuple[int, int]] = []
    start, i, n, in_q = 0, 0, len(text), False
    while i < n:
        c = text[i]
        if in_q:
            if c == "\\" and i + 1 < n:
                i += 2
                continue
            if c == '"':
                in_q = False
        elif c == '"':
            in_q = True
        elif c in ";\r\n":
            raw.append((start, i))
            start = i + 1
        elif c == "/" and text.startswith("//", i) and (i == start or text[i - 1].isspace()):
            raw.append((start, i))
            while i < n and text[i] not in "\r\n":
                i += 1
            start = i
            continue
        i += 1
    raw.append((start, n))
    out = []
    for s, e in raw:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            out.append((s, e))
    return out


def tokens(text: str, s: int, e: int) -> list[Tok]:
    """The tokens of the segment text[s:e]."""
    toks: list[Tok] = []
    i = s
    while i < e:
        if text[i].isspace():
            i += 1
            continue
        j = i
        while j < e and not text[j].isspace():
            if text[j] == '"':  # a quoted part runs to the closing quote (or, unterminated, to the end)
                j += 1
                while j < e and text[j] != '"':
                    j += 2 if text[j] == "\\" else 1
            j += 1
        j = min(j, e)
        toks.append(Tok(text[i:j], i, j))
        i = j
    return toks


def unquote(value: str) -> str:
    """An option value as meant: "a \\"b\\"" -> a "b"; bare values are returned as they are."""
    if '"' not in value:
        return value
    if not value.startswith('"'):
        raise Bad(AlertCode.BAD_VALUE, "quotes must enclose the whole value", 'write key="a value"')
    out, i, n = [], 1, len(value)
    while i < n:
        c = value[i]
        if c == "\\" and i + 1 < n:
            out.append(value[i + 1])
            i += 2
            continue
        if c == '"':
            if i != n - 1:
                raise Bad(AlertCode.BAD_VALUE, "text after the closing quote", 'write key="a value"')
            return "".join(out)
        out.append(c)
        i += 1
    raise Bad(AlertCode.BAD_VALUE, "unterminated quote", 'close the quote: key="a value"')


def normalise_symbol(token: str) -> tuple[str, str | None] | None:
    """(symbol, venue prefix) for a TradingView/ccxt/exchange ticker, or None when it is not a symbol at all.

    'BINANCE:BTCUSDT.P' -> ('BTCUSDT', 'BINANCE'); 'btc/usdt', 'BTC-USDT', 'BTC_USDT', 'BTCUSDTPERP',
    'BTC-USDT-SWAP', 'BTC/USDT:USDT' (ccxt) -> ('BTCUSDT', None)."""
    if not token.isascii():
        return None
    t = token.upper()
    m = _CCXT_RE.fullmatch(t)
    if m:
        return m["base"] + m["quote"], None
    m = _SYM_RE.fullmatch(t)
    if not m:
        return None
    body = re.sub(r"[/_-]", "", m["body"])
    for suffix in ("PERP", "SWAP"):
        if body.endswith(suffix) and len(body) - len(suffix) >= 5:
            body = body[: -len(suffix)]
            break
    if not body or len(body) > 32 or not any(c.isalpha() for c in body):
        return None
    return body, m["venue"]


def placeholder_text(ph: list[re.Match[str]], col: int) -> tuple[str, str]:
    first = ph[0].group()
    more = f" (and {len(ph) - 1} more)" if len(ph) > 1 else ""
    if first[2:].lstrip().startswith("strategy."):
        return (f"unsubstituted TradingView placeholder '{first}' at col {col}{more} — strategy placeholders only "
                "work in strategy (order-fill) alerts",
                "create the alert on the strategy (order fills or alert() calls), not on an indicator or drawing, "
                "or replace the placeholder with a value")
    return (f"unsubstituted TradingView placeholder '{first}' at col {col}{more} — TradingView leaves unknown or "
            "misspelt placeholders as they are",
            "check the spelling against TradingView's list, e.g. {{ticker}}, {{close}}, {{timenow}}, or replace it "
            "with a value")


def redact(text: str) -> str:
    text = _REDACT_JSON.sub(lambda m: m.group(1) + '"***"', text)
    return _REDACT_INLINE.sub(lambda m: m.group(1) + "***", text)
