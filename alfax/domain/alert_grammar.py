"""The TradingView alert grammar of shared/reference/signals.md §1.7, as a pure stdlib parser.

    parse_alert(body, now_ms=…, symbols=…) -> ParsedAlert      # never raises on any bytes/str input

A strict superset of the seed's template ``{{strategy.order.action}} {{strategy.order.contracts}} {{ticker}}
{{strategy.order.alert_message}}``::

    body     = JSON object {"cmd": "<message>" | ["<cmd>", …], "id", "secret", "ts", "ttl"} | message
    message  = command { (";" | newline) command }          ("//" after whitespace starts a comment to end of line)
    command  = VERB AMOUNT SYMBOL [ORDER_TYPE args] {FLAG | key=value}     (the order type may also follow options)
    VERB     = buy | long | sell | short | close | cancel
    AMOUNT   = * | $N | N[c | $ | $m | % | %e | %a | %m | %p]
    SYMBOL   = [VENUE:]BODY[.P]     BINANCE:BTCUSDT.P, BTC/USDT, BTC-USDT-SWAP, BTCUSDTPERP, BTC/USDT:USDT -> BTCUSDT
    ORDER    = MARKET | LIMIT p | STOP trig lim | STOP_MARKET trig | TAKE_PROFIT trig lim
             | TAKE_PROFIT_MARKET trig | TRAILING_STOP_MARKET callback% [activation]
    price    = N (absolute) | +N | -N | +N% | -N% (relative to the reference price, in price direction)
    FLAG     = reduceOnly | ro | close | postOnly | dry | validate_only | nodedup
    key      = id lev|leverage margin tif tp sl trail delay ttl ts pos expect slip tag side wt secret

Keywords, flags, keys and units are case-insensitive; values may be "quoted" (with \\" and \\\\ escapes). Every problem
is an ``AlertError`` of the catalogue (``alert_catalogue``) with a 1-based column, the offending token and a hint;
one error per failing command, and an alert with any error must not execute at all.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from decimal import Decimal
from typing import Any

from .alert_catalogue import AlertCode, AlertError, AlertWarning
from .alert_lexing import (NUM, PLACEHOLDER, Bad, Locator, Tok, clean, dec, did_you_mean, normalise_symbol,
                           placeholder_text, redact, segments, suggest, tokens, unquote)
from .alert_model import (Action, AlertCommand, Expect, IdempotencyKey, Leg, ParsedAlert, PriceKind, PriceSpec, Size,
                          SizeUnit, Trail, check_secret, derived_idempotency_key, fmt_decimal)
from .alert_envelope import parse_envelope
from .alert_values import CALLBACK_RANGE, parse_callback, parse_price, validate_option
from .enums import OrderType, Side, TimeInForce

MAX_BODY_BYTES = 4096
DEFAULT_DELAY_CAP_MS = 300_000
DEFAULT_MAX_LEVERAGE = 125
DEFAULT_VENUE = "alfax"

_VERBS = {"buy": (Action.BUY, Side.BUY), "long": (Action.BUY, Side.BUY), "sell": (Action.SELL, Side.SELL),
          "short": (Action.SELL, Side.SELL), "close": (Action.CLOSE, None), "cancel": (Action.CANCEL, None)}
_VERB_NAMES = ["buy", "sell", "long", "short", "close", "cancel"]
_ORDER_TYPES = {t.value.lower(): t for t in (OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_MARKET,
                                             OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET,
                                             OrderType.TRAILING_STOP_MARKET)}
_USAGE = {OrderType.LIMIT: "LIMIT needs a price: 'LIMIT <price>'",
          OrderType.STOP: "STOP needs '<trigger> <limit>'",
          OrderType.STOP_MARKET: "STOP_MARKET needs a trigger price: 'STOP_MARKET <trigger>'",
          OrderType.TAKE_PROFIT: "TAKE_PROFIT needs '<trigger> <limit>'",
          OrderType.TAKE_PROFIT_MARKET: "TAKE_PROFIT_MARKET needs a trigger price: 'TAKE_PROFIT_MARKET <trigger>'",
          OrderType.TRAILING_STOP_MARKET: "TRAILING_STOP_MARKET needs a callback rate: "
                                          "'TRAILING_STOP_MARKET <callback %> [<activation price>]'"}
_FLAGS = {"reduceonly": "reduceOnly", "ro": "reduceOnly", "reduce_only": "reduceOnly", "close": "close",
          "postonly": "postOnly", "post_only": "postOnly", "dry": "dry", "validate_only": "dry", "nodedup": "nodedup"}
_FLAG_NAMES = ["reduceOnly", "ro", "close", "postOnly", "dry", "validate_only", "nodedup"]
_KEYS = {"id": "id", "lev": "lev", "leverage": "lev", "margin": "margin", "tif": "tif", "tp": "tp", "sl": "sl",
         "trail": "trail", "delay": "delay", "ttl": "ttl", "ts": "ts", "pos": "pos", "expect": "expect",
         "slip": "slip", "tag": "tag", "side": "side", "wt": "wt", "secret": "secret"}
_KEY_NAMES = list(_KEYS)
_CANCEL_KEYS = {"id", "tag", "ts", "ttl", "secret", "delay", "side"}
_CANCEL_FLAGS = {"dry", "nodedup"}

_AMOUNT_RE = re.compile(rf"(?P<sign>[+-])?(?P<pre>\$)?(?P<num>{NUM})(?P<unit>\$m|\$|%[eamp]?|c)?", re.I | re.A)
_NUMERICISH = re.compile(r"[+\-$.]?[0-9]", re.A)

_HINT_VERB = "start each command with buy, sell, long, short, close or cancel, e.g. 'buy 0.001 BTCUSDT'"
_HINT_UNITS = ("amount units: c (contracts, the default), $ (USDT notional), $m (USDT margin), % or %e (of equity), "
               "%a (of available balance), %m (of available balance, as margin), %p (of the position)")
_HINT_AMOUNT = "the amount comes second: '<verb> <amount> <symbol>', e.g. 'buy 0.001 BTCUSDT'"
_HINT_ORDER = ("after the symbol: an order type (MARKET, LIMIT <price>, STOP <trigger> <limit>, STOP_MARKET <trigger>, "
               "TAKE_PROFIT <trigger> <limit>, TAKE_PROFIT_MARKET <trigger>, TRAILING_STOP_MARKET <callback%> "
               "[<activation>]), then flags and key=value options")
_HINT_OPTIONS = ("flags: reduceOnly (ro), close, postOnly, dry (validate_only), nodedup; options: id= lev= margin= "
                 "tif= tp= sl= trail= delay= ttl= ts= pos= expect= slip= tag= side= wt= secret=")
_HINT_SEPARATE = "separate commands with ';' or a new line"
_HINT_SYMBOL = "use the venue's symbol, e.g. BTCUSDT; TradingView's BINANCE:BTCUSDT.P is accepted too"


def _secs(ms: int) -> str:
    return fmt_decimal(Decimal(ms) / 1000)


# ---------------------------------------------------------------- one command


class _Fail(Exception):
    """Internal control flow of one command: carries its (first) error out of the parse."""

    def __init__(self, error: AlertError) -> None:
        super().__init__(error.message)
        self.error = error


_FIELD_OF_KEY = {"id": "id", "lev": "leverage", "margin": "margin_type", "tif": "time_in_force", "tp": "take_profit",
                 "sl": "stop_loss", "trail": "trail", "delay": "delay_ms", "ttl": "ttl_ms", "ts": "ts_ms",
                 "pos": "target_position", "expect": "expect", "slip": "slippage_pct", "tag": "tag",
                 "side": "position_side", "wt": "working_type", "secret": "secret"}


class _Command:
    """Parses the tokens of one segment into the fields of an ``AlertCommand``; raises ``_Fail`` at the first error."""

    def __init__(self, p: "_Parser", index: int, s: int, e: int) -> None:
        self.p, self.index, self.s, self.e = p, index, s, e
        self.toks = tokens(p.text, s, e)
        self.f: dict[str, Any] = {}
        self.where: dict[str, Tok] = {}  # option name -> the token that set it
        self.raw_values: dict[str, str] = {}

    # -- errors
    def fail(self, kind: AlertCode, message: str, hint: str, tok: Tok | None = None, *, at: int | None = None,
             token: str | None = None) -> _Fail:
        pos = tok.start if tok is not None else (at if at is not None else self.e)
        line, col = self.p.loc(pos)
        return _Fail(AlertError(kind, message, col, token if token is not None else (tok.text if tok else ""), hint,
                                line, self.index))

    def col(self, tok: Tok) -> int:
        return self.p.loc(tok.start)[1]

    def bad(self, b: Bad, tok: Tok) -> _Fail:
        return self.fail(b.kind, b.message, b.hint, tok)

    # -- positional part
    def parse(self) -> dict[str, Any]:
        toks = self.toks
        vt = toks[0]
        verb = vt.text.lower()
        if verb not in _VERBS:
            dym = suggest(vt.text, _VERB_NAMES)
            raise self.fail(AlertCode.VERB, f"expected buy/sell/long/short/close/cancel at col {self.col(vt)}, got "
                            f"'{vt.text}'" + (f" (did you mean '{dym}'?)" if dym else ""), _HINT_VERB, vt)
        action, side = _VERBS[verb]
        self.f.update(action=action, side=side, verb=verb)
        if len(toks) < 3:
            missing = "'<amount> <symbol>'" if len(toks) == 1 else "a symbol after the amount"
            raise self.fail(AlertCode.MISSING_ARG, f"{verb} needs {missing}", _HINT_AMOUNT, token="")
        self.f["size"] = self.amount(toks[1], action)
        self.symbol(toks[2])
        i = 3
        while i < len(toks):
            i = self.option(i)
        self.check()
        return self.f

    def amount(self, tok: Tok, action: Action) -> Size:
        t = tok.text
        if t == "*":
            return Size(SizeUnit.ALL, None, t)
        m = _AMOUNT_RE.fullmatch(t)
        if not m or (m["pre"] and m["unit"]):
            if "," in t:
                hint = "use '.' as decimal separator and no thousands separators"
                msg = f"'{t}' at col {self.col(tok)} is not a number; use '.' as decimal separator"
            else:
                lead = re.match(rf"[+-]?\$?{NUM}", t, re.A)
                hint = _HINT_UNITS if lead else _HINT_AMOUNT
                msg = f"'{t}' at col {self.col(tok)} is not a number" + (" with a known unit" if lead else "")
            raise self.fail(AlertCode.NUMBER, msg, hint, tok)
        try:
            d = dec(m["num"])
        except Bad as b:
            raise self.bad(b, tok) from None
        if m["sign"] == "-" and d != 0:
            other = {Action.BUY: "use verb sell/short for the other side",
                     Action.SELL: "use verb buy/long for the other side"}.get(action, "amounts are sizes, never signed")
            raise self.fail(AlertCode.NEGATIVE, f"amount must be ≥ 0 (got {t}); {other}", other, tok)
        unit_s = "$" if m["pre"] else (m["unit"] or "c").lower()
        unit = {"c": SizeUnit.BASE, "$": SizeUnit.QUOTE, "$m": SizeUnit.QUOTE_MARGIN, "%": SizeUnit.PCT_EQUITY,
                "%e": SizeUnit.PCT_EQUITY, "%a": SizeUnit.PCT_AVAILABLE, "%m": SizeUnit.PCT_AVAILABLE_MARGIN,
                "%p": SizeUnit.PCT_POSITION}[unit_s]
        if unit_s == "%" and action is Action.CLOSE:
            unit = SizeUnit.PCT_POSITION  # 'close 50% ETHUSDT' means half the position, as every peer reads it
        if unit in (SizeUnit.PCT_POSITION, SizeUnit.PCT_AVAILABLE_MARGIN) and d > 100:
            raise self.fail(AlertCode.RANGE, f"amount {t} out of range [0, 100]%",
                            "a share of the position or of the available balance is at most 100%", tok)
        return Size(unit, d, t)

    def symbol(self, tok: Tok) -> None:
        low = tok.text.lower()
        norm = None if low in _ORDER_TYPES or low in _FLAGS or low in _VERBS else normalise_symbol(tok.text)
        if norm is None:
            raise self.fail(AlertCode.SYMBOL, f"'{tok.text}' at col {self.col(tok)} is not a symbol",
                            _HINT_SYMBOL + "; the symbol comes third: '<verb> <amount> <symbol>'", tok)
        sym, venue = norm
        symbols = self.p.symbols
        if symbols is not None:
            raw = re.sub(r"[/_-]", "", tok.text.upper().split(":")[-1].removesuffix(".P"))
            if sym not in symbols and raw in symbols:
                sym = raw
            if sym not in symbols:
                src = "" if sym == tok.text else f" (normalised from '{tok.text}')"
                guess = next((c for c in (sym + "T", sym + "USDT") if c in symbols), None) or \
                    suggest(sym, sorted(symbols))
                raise self.fail(AlertCode.SYMBOL, f"unknown symbol '{sym}' on {self.p.venue}{src}" +
                                (f"; did you mean {guess}?" if guess else ""),
                                _HINT_SYMBOL + (f"; e.g. {guess}" if guess else ""), tok)
        self.f.update(symbol=sym, symbol_text=tok.text, symbol_venue=venue)

    # -- order type and options
    def is_word(self, tok: Tok) -> bool:
        return not _NUMERICISH.match(tok.text)

    def option(self, i: int) -> int:
        tok = self.toks[i]
        low = tok.text.lower()
        if low in _ORDER_TYPES:
            return self.order_type(i, _ORDER_TYPES[low])
        if low in _FLAGS:
            name = _FLAGS[low]
            self.f[name] = True
            self.where.setdefault(name, tok)
            return i + 1
        if "=" in tok.text:
            self.key_value(tok)
            return i + 1
        has_type = "order_type" in self.f
        if low in _VERBS:  # 'close' never gets here: it is a flag
            raise self.fail(AlertCode.TRAILING, f"unexpected '{tok.text}' at col {self.col(tok)} after complete "
                            "command; separate commands with ';'", _HINT_SEPARATE, tok)
        if _NUMERICISH.match(tok.text):
            if not has_type and i == 3:
                hint = f"did you forget the order type? e.g. 'LIMIT {tok.text}'"
            elif has_type and self.f["order_type"] in _USAGE and self.f["action"] is not Action.CANCEL:
                hint = _USAGE[self.f["order_type"]] + "; " + _HINT_SEPARATE
            else:
                hint = _HINT_SEPARATE
            raise self.fail(AlertCode.TRAILING, f"unexpected '{tok.text}' at col {self.col(tok)} after complete "
                            "command; separate commands with ';'", hint, tok)
        head, colon, _ = tok.text.partition(":")
        if colon and head.lower() in _KEYS:
            raise self.fail(AlertCode.OPTION, f"unknown option '{tok.text}' (did you mean {head}=…?)",
                            f"write options as key=value, e.g. '{head}={tok.text[len(head) + 1:]}'", tok)
        if i == 3 and not has_type:
            dym = did_you_mean(tok.text, [t.value for t in _ORDER_TYPES.values()] + _FLAG_NAMES + _KEY_NAMES)
            raise self.fail(AlertCode.ORDER_TYPE, f"unknown order type or option '{tok.text}' at col "
                            f"{self.col(tok)}{dym}", _HINT_ORDER, tok)
        cands = _FLAG_NAMES + _KEY_NAMES + ([] if has_type else [t.value for t in _ORDER_TYPES.values()])
        raise self.fail(AlertCode.OPTION, f"unknown option '{tok.text}'{did_you_mean(tok.text, cands)}",
                        _HINT_OPTIONS, tok)

    def order_type(self, i: int, ot: OrderType) -> int:
        tok = self.toks[i]
        if "order_type" in self.f:
            prev = self.f["order_type"]
            raise self.fail(AlertCode.CONFLICT, f"order type given twice ({prev.value} and {ot.value})",
                            "one order type per command; " + _HINT_SEPARATE, tok)
        self.f["order_type"] = ot
        self.where["order_type"] = tok
        i += 1
        if self.f["action"] is Action.CANCEL or ot is OrderType.MARKET:
            return i  # on cancel an order type is a filter and takes no prices

        def take(what: str) -> PriceSpec:
            nonlocal i
            if i >= len(self.toks) or self.is_word(self.toks[i]):
                raise self.fail(AlertCode.MISSING_ARG, _USAGE[ot], _USAGE[ot] + ", e.g. " + _EXAMPLE[ot], tok)
            t = self.toks[i]
            try:
                ps = parse_price(t.text, what=what)
            except Bad as b:
                raise self.bad(b, t) from None
            i += 1
            return ps

        if ot is OrderType.LIMIT:
            self.f["price"] = take("price")
        elif ot in (OrderType.STOP, OrderType.TAKE_PROFIT):
            self.f["stop_price"] = take("trigger price")
            self.f["price"] = take("limit price")
        elif ot in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET):
            self.f["stop_price"] = take("trigger price")
        else:
            if i >= len(self.toks) or self.is_word(self.toks[i]):
                raise self.fail(AlertCode.MISSING_ARG, _USAGE[ot], _USAGE[ot] + ", e.g. " + _EXAMPLE[ot], tok)
            t = self.toks[i]
            try:
                self.f["callback_pct"] = parse_callback(t.text, "TRAILING_STOP_MARKET callback")
            except Bad as b:
                raise self.bad(b, t) from None
            i += 1
            if i < len(self.toks) and _NUMERICISH.match(self.toks[i].text):
                self.f["activation_price"] = take("activation price")
        return i

    def key_value(self, tok: Tok) -> None:
        raw_key, _, raw_val = tok.text.partition("=")
        key = _KEYS.get(raw_key.lower())
        if key is None:
            dym = did_you_mean(raw_key, _KEY_NAMES + _FLAG_NAMES)
            raise self.fail(AlertCode.OPTION, f"unknown option '{raw_key}'{dym}", _HINT_OPTIONS, tok)
        if key in self.where:
            values = "" if key == "secret" else f" ({self.raw_values[key]} and {raw_val})"
            raise self.fail(AlertCode.DUP_OPTION, f"option '{key}' given twice{values}", f"give '{key}' once", tok,
                            token=redact(tok.text))
        try:
            val = validate_option(key, unquote(raw_val), self.p.max_leverage, self.p.delay_cap_ms)
        except Bad as b:
            raise self.bad(b, tok) from None
        if key == "id" and self.f["action"] is Action.CANCEL:
            self.f["filter_id"] = val
        else:
            self.f[_FIELD_OF_KEY[key]] = val
        self.where[key] = tok
        self.raw_values[key] = raw_val

    # -- semantics that need the whole command
    def conflict(self, message: str, hint: str, *names: str) -> _Fail:
        toks = [self.where[n] for n in names if n in self.where]
        tok = max(toks, key=lambda t: t.start) if toks else None
        return self.fail(AlertCode.CONFLICT, message, hint, tok)

    def check(self) -> None:
        f, w = self.f, self.where
        action, size, amt_tok = f["action"], f["size"], self.toks[1]
        flag_close, flag_ro, flag_po = f.get("close", False), f.get("reduceOnly", False), f.get("postOnly", False)
        if size.unit is SizeUnit.ALL and action in (Action.BUY, Action.SELL) and not flag_close:
            raise self.fail(AlertCode.CONFLICT, "'*' only valid for close/cancel",
                            "'*' means all: use 'close * SYM', 'cancel * SYM' or the close flag", amt_tok)
        if action is Action.CANCEL:
            if not (size.unit is SizeUnit.ALL or size.is_zero):
                raise self.fail(AlertCode.CONFLICT, f"cancel takes '*' (or 0) as amount, got '{size.text}'",
                                "cancel * SYM [LIMIT|…] [id=…] [tag=…]", amt_tok)
            for name in list(w):
                if name not in _CANCEL_KEYS and name not in _CANCEL_FLAGS and name != "order_type":
                    raise self.fail(AlertCode.CONFLICT, f"'{w[name].text}' does not apply to cancel",
                                    "cancel filters by order type, id= and tag=", w[name])
        if action is Action.CLOSE:
            for name in ("pos", "tp", "sl", "trail"):
                if name in w:
                    raise self.conflict(f"'{name}' does not apply to close", "close takes a size, an order type "
                                        "and reduce-only options; TP/SL legs and pos= are for entries", name)
        if flag_close and "pos" in w:
            raise self.conflict("'close' and 'pos=' are exclusive", "pos=0 closes too; use one of them",
                                "close", "pos")
        if (flag_close or flag_ro) and action is not Action.CLOSE:
            for name in ("tp", "sl", "trail"):
                if name in w:
                    first = "close" if flag_close else "reduceOnly"
                    raise self.conflict(f"'{first}' and '{name}=' are exclusive",
                                        "TP/SL/trailing legs protect entries; a reducing order has nothing to protect",
                                        first, name)
        if size.is_zero and not (flag_close or "pos" in w or action in (Action.CANCEL, Action.CLOSE)):
            raise self.fail(AlertCode.ZERO, "amount is 0 — only allowed with the 'close' flag, 'pos=' or 'cancel'",
                            "add the close flag ('buy 0 BTCUSDT MARKET close') or give a size", amt_tok)
        ot = f.setdefault("order_type", None)
        if action is not Action.CANCEL and ot is None:
            f["order_type"] = ot = OrderType.MARKET
        if flag_po:
            if ot is not OrderType.LIMIT:
                raise self.conflict("'postOnly' needs LIMIT", "postOnly is a maker-only LIMIT order (GTX)",
                                    "postOnly")
            if f.get("time_in_force") not in (None, TimeInForce.GTX):
                raise self.conflict(f"'postOnly' and tif={f['time_in_force'].value} are exclusive",
                                    "postOnly means tif=GTX", "postOnly", "tif")
            f["time_in_force"] = TimeInForce.GTX
        if "tif" in w and ot not in (OrderType.LIMIT, OrderType.STOP, OrderType.TAKE_PROFIT):
            raise self.conflict(f"'tif' needs LIMIT, STOP or TAKE_PROFIT (order type is {ot.value if ot else 'none'})",
                                "market and stop-market orders have no time in force", "tif")
        if "slip" in w and ot is not OrderType.MARKET:
            raise self.conflict(f"'slip' needs MARKET (order type is {ot.value if ot else 'none'})",
                                "slip= turns a market order into an IOC limit at the reference price ± slip", "slip")
        side = f.get("side")
        if side is not None:
            for key, good, name in (("tp", 1, "take profit"), ("sl", -1, "stop loss")):
                for leg in f.get("take_profit" if key == "tp" else "stop_loss", ()):
                    if leg.price.is_relative and leg.price.value * good * side.sign <= 0:
                        long_short = "long" if side is Side.BUY else "short"
                        raise self.conflict(
                            f"{key}={leg.price.text} is on the wrong side of the entry for a {long_short}",
                            f"a {long_short} uses " + ("tp=+2% sl=-1%" if side is Side.BUY else "tp=-2% sl=+1%") +
                            f": the {name} is {'above' if good * side.sign > 0 else 'below'} the entry", key)
        f["reduce_only"] = flag_ro or flag_close or action is Action.CLOSE
        f["close_position"] = flag_close or (action is Action.CLOSE and (size.unit is SizeUnit.ALL or size.is_zero))
        f["post_only"], f["dry_run"], f["nodedup"] = flag_po, f.get("dry", False), f.get("nodedup", False)
        for k in ("close", "reduceOnly", "postOnly", "dry"):
            f.pop(k, None)

    def finish(self, now_ms: int) -> None:
        """Checks that need the envelope's fields merged in: nodedup vs id, ttl needs ts, staleness."""
        f = self.f
        if f.get("nodedup") and f.get("id") is not None:
            raise self.conflict("'nodedup' and 'id=' are exclusive", "id= asks for dedupe; drop one of them",
                                "nodedup", "id")
        ttl, ts = f.get("ttl_ms"), f.get("ts_ms")
        if ttl is not None and ts is None:
            raise self.conflict("'ttl' needs 'ts'", "add ts={{timenow}} so the age of the alert is known", "ttl")
        if ttl is not None and ts is not None:
            ts_text = self.raw_values.get("ts") or self.p.envelope_raw.get("ts", "")
            ttl_text = self.raw_values.get("ttl") or self.p.envelope_raw.get("ttl", "")
            tok = self.where.get("ts")
            at = None if tok is not None else self.s
            age = now_ms - ts
            if age > ttl:
                raise self.fail(AlertCode.STALE, f"alert is {_secs(age)} s old (ts={ts_text}), ttl={ttl_text} — not "
                                "executed", "it arrived after its ttl (TradingView queue, retries, or a wrong clock); "
                                "raise ttl= if such delays are expected", tok, at=at,
                                token=tok.text if tok else "")
            if -age > ttl:
                raise self.fail(AlertCode.STALE, f"alert ts={ts_text} is {_secs(-age)} s in the future, "
                                f"ttl={ttl_text} — not executed", "the sender's clock is ahead; {{timenow}} is UTC",
                                tok, at=at, token=tok.text if tok else "")

    def freeze(self) -> AlertCommand:
        text = self.p.text[self.s:self.e]
        line, col = self.p.loc(self.s)
        fields = {k: v for k, v in self.f.items() if k in AlertCommand.__dataclass_fields__}
        return AlertCommand(index=self.index, text=text, span=(self.s, self.e), line=line, col=col, **fields)


_EXAMPLE = {OrderType.LIMIT: "'LIMIT 67000' or 'LIMIT -0.1%'", OrderType.STOP: "'STOP 66000 65900'",
            OrderType.STOP_MARKET: "'STOP_MARKET 66000'", OrderType.TAKE_PROFIT: "'TAKE_PROFIT 70000 70100'",
            OrderType.TAKE_PROFIT_MARKET: "'TAKE_PROFIT_MARKET 70000'",
            OrderType.TRAILING_STOP_MARKET: "'TRAILING_STOP_MARKET 0.5' or 'TRAILING_STOP_MARKET 0.5 71000'"}


# ---------------------------------------------------------------- the alert


class _Parser:
    def __init__(self, text: str, *, symbols: frozenset[str] | None, venue: str, max_leverage: int,
                 delay_cap_ms: int) -> None:
        self.text = text
        self.loc = Locator(text)
        self.symbols, self.venue = symbols, venue
        self.max_leverage, self.delay_cap_ms = max_leverage, delay_cap_ms
        self.envelope_raw: dict[str, str] = {}

    def run(self, now_ms: int, envelope: dict[str, tuple[Any, str]] | None
            ) -> tuple[list[AlertCommand], list[AlertError], list[AlertWarning], list[str]]:
        commands: list[AlertCommand] = []
        errors: list[AlertError] = []
        warnings: list[AlertWarning] = []
        segs = segments(self.text)
        texts = [self.text[s:e] for s, e in segs]
        if not segs:
            return [], [AlertError(AlertCode.EMPTY, "empty alert message", 1, "",
                                   "the alert's Message field is empty (or only comments/separators); write e.g. "
                                   "'{{strategy.order.action}} {{strategy.order.contracts}} {{ticker}}'")], [], texts
        for index, (s, e) in enumerate(segs):
            cmd = _Command(self, index, s, e)
            try:
                ph = list(PLACEHOLDER.finditer(self.text, s, e))
                if ph:
                    raise cmd.fail(AlertCode.PLACEHOLDER, *placeholder_text(ph, self.loc(ph[0].start())[1]),
                                   at=ph[0].start(), token=ph[0].group())
                cmd.parse()
                if envelope:
                    warnings.extend(self.merge(cmd, envelope))
                cmd.finish(now_ms)
                commands.append(cmd.freeze())
            except _Fail as fail:
                errors.append(fail.error)
        return commands, errors, warnings, texts

    def merge(self, cmd: _Command, envelope: dict[str, tuple[Any, str]]) -> list[AlertWarning]:
        out = []
        for key, (value, raw) in envelope.items():
            field = _FIELD_OF_KEY[key]
            inline_tok = cmd.where.get(key)
            if key == "id" and cmd.f["action"] is Action.CANCEL:
                inline_tok = None  # an inline id= on cancel is a filter, not the dedupe key
            if inline_tok is not None and cmd.f.get(field) != value:
                line, col = self.loc(inline_tok.start)
                shown = "***" if key == "secret" else raw
                out.append(AlertWarning(AlertCode.ENVELOPE_OVERRIDE,
                                        f"JSON field '{key}' ({shown}) overrides inline {redact(inline_tok.text)} in "
                                        f"command {cmd.index + 1}", col, redact(inline_tok.text),
                                        f"give '{key}' in one place only", line, cmd.index))
            cmd.f[field] = value
            if inline_tok is None:
                cmd.raw_values.pop(key, None)
            else:
                cmd.raw_values[key] = raw
        return out


def parse_alert(body: bytes | bytearray | memoryview | str, *, now_ms: int,
                symbols: Collection[str] | None = None, venue: str = DEFAULT_VENUE,
                max_leverage: int = DEFAULT_MAX_LEVERAGE, max_bytes: int = MAX_BODY_BYTES,
                delay_cap_ms: int = DEFAULT_DELAY_CAP_MS) -> ParsedAlert:
    """Parse one webhook body (plain text, or a JSON envelope) received at ``now_ms``.

    Never raises for any bytes/str input: problems come back in ``ParsedAlert.errors``. ``symbols``: the venue's
    tradable symbols; when given, an unknown symbol is E007 (with a did-you-mean). ``max_leverage`` bounds lev=.
    """
    if isinstance(body, (bytearray, memoryview)):
        body = bytes(body)
    if isinstance(body, bytes):
        size = len(body)
        text = body[: max_bytes * 2].decode("utf-8", "replace")
    elif isinstance(body, str):
        text = clean(body)
        size = len(text.encode("utf-8"))
    else:
        raise TypeError(f"alert body must be bytes or str, not {type(body).__name__}")
    if text.startswith("\ufeff"):
        text = text[1:]
    sym_set = None if symbols is None else frozenset(s.upper() for s in symbols)

    def result(commands=(), errors=(), warnings=(), envelope="text", parsed="", texts=()) -> ParsedAlert:
        return ParsedAlert(tuple(commands), tuple(errors), tuple(warnings), envelope, parsed, tuple(texts), size,
                           redact(text), now_ms)

    if size > max_bytes:
        text = text[:max_bytes] + "…"
        return result(errors=[AlertError(AlertCode.TOO_LONG, f"alert body too long ({size} > {max_bytes} bytes)", 1,
                                         "", f"keep the alert under {max_bytes} bytes; split it into several alerts",
                                         1, None)])
    if not text.strip():
        return result(errors=[AlertError(AlertCode.EMPTY, "empty alert message", 1, "",
                                         "the alert's Message field is empty; write e.g. '{{strategy.order.action}} "
                                         "{{strategy.order.contracts}} {{ticker}}'", 1, None)], parsed=text)
    stripped = text.lstrip()
    envelope: dict[str, tuple[Any, str]] | None = None
    kind = "text"
    message = text
    if stripped.startswith("{") and not stripped.startswith("{{"):
        kind = "json"
        ph = list(PLACEHOLDER.finditer(text))
        if ph:
            line, col = Locator(text)(ph[0].start())
            msg, hint = placeholder_text(ph, col)
            return result(errors=[AlertError(AlertCode.PLACEHOLDER, msg, col, ph[0].group(), hint, line, None)],
                          envelope=kind)
        cmd, envelope, errs = parse_envelope(text, max_leverage=max_leverage, delay_cap_ms=delay_cap_ms)
        if errs or cmd is None:
            return result(errors=errs, envelope=kind)
        message = cmd
    p = _Parser(message, symbols=sym_set, venue=venue, max_leverage=max_leverage, delay_cap_ms=delay_cap_ms)
    if envelope:
        p.envelope_raw = {k: raw for k, (_, raw) in envelope.items()}
    commands, errors, warnings, texts = p.run(now_ms, envelope)
    return result(commands, errors, warnings, kind, message, texts)


__all__ = ["CALLBACK_RANGE", "DEFAULT_DELAY_CAP_MS", "DEFAULT_MAX_LEVERAGE", "MAX_BODY_BYTES", "Action",
           "AlertCode", "AlertCommand", "AlertError", "AlertWarning", "Expect", "IdempotencyKey", "Leg",
           "ParsedAlert", "PriceKind", "PriceSpec", "Size", "SizeUnit", "Trail", "check_secret",
           "derived_idempotency_key", "normalise_symbol", "parse_alert"]
