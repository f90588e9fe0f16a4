"""Instruments: USDT-M perpetuals with Binance-style filters and leverage brackets, built from configuration.

All numbers are raw ints (see ``money``). ``Instrument.from_config`` takes the plain dict of one entry of
``alfax/instruments.json`` (strings for every decimal, as Binance publishes them) and validates it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .money import AMOUNT_DECIMALS, RATE_DECIMALS, format_fixed, parse_fixed


@dataclass(frozen=True, slots=True)
class Bracket:
    bracket: int
    initial_leverage: int
    notional_floor: int  # USDT raw (8 dp)
    notional_cap: int  # USDT raw (8 dp)
    maint_margin_ratio: int  # rate raw (8 dp)
    cum: int  # maintenance amount, USDT raw (8 dp)


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str
    base_asset: str
    quote_asset: str
    price_precision: int
    quantity_precision: int
    tick_size: int  # raw price units
    min_price: int
    max_price: int
    step_size: int  # raw qty units
    min_qty: int
    max_qty: int
    market_min_qty: int
    market_max_qty: int
    market_step_size: int
    min_notional: int  # USDT raw
    multiplier_up: int  # rate raw, e.g. 1.05 -> 105_000_000
    multiplier_down: int
    multiplier_decimal: int
    max_num_orders: int
    max_num_algo_orders: int
    maker_fee: int  # rate raw
    taker_fee: int  # rate raw
    liquidation_fee: int  # rate raw (clearance fee to the insurance fund)
    market_take_bound: int  # rate raw
    trigger_protect: int  # rate raw (priceProtect threshold)
    onboard_date: int
    brackets: tuple[Bracket, ...] = field(default_factory=tuple)

    # Multiplying price_raw * qty_raw gives a value at (pp+qp) decimals; this factor lifts it to 8 dp USDT.
    @property
    def notional_factor(self) -> int:
        return 10 ** (AMOUNT_DECIMALS - self.price_precision - self.quantity_precision)

    def notional(self, price_raw: int, qty_raw: int) -> int:
        """Exact USDT notional (8 dp) of qty at price."""
        return price_raw * qty_raw * self.notional_factor

    @property
    def max_leverage(self) -> int:
        return self.brackets[0].initial_leverage

    def bracket_for(self, notional_raw: int) -> Bracket:
        """Bracket containing ``notional`` (Binance: floor < notional <= cap; 0 falls in the first)."""
        n = abs(notional_raw)
        for b in self.brackets:
            if n <= b.notional_cap:
                return b
        return self.brackets[-1]

    def max_notional_for_leverage(self, leverage: int) -> int:
        """Largest position notional allowed at ``leverage`` (``maxNotionalValue``)."""
        cap = 0
        for b in self.brackets:
            if b.initial_leverage >= leverage:
                cap = b.notional_cap
        return cap

    def fmt_price(self, raw: int) -> str:
        return format_fixed(raw, self.price_precision)

    def fmt_qty(self, raw: int) -> str:
        return format_fixed(raw, self.quantity_precision)

    @classmethod
    def from_config(cls, symbol: str, cfg: dict) -> "Instrument":
        pp = int(cfg["pricePrecision"])
        qp = int(cfg["quantityPrecision"])
        if pp + qp > AMOUNT_DECIMALS:
            raise ValueError(f"{symbol}: pricePrecision + quantityPrecision must be <= {AMOUNT_DECIMALS}")
        f = cfg["filters"]

        def price(key: str) -> int:
            return parse_fixed(str(f["PRICE_FILTER"][key]), pp)

        def qty(flt: str, key: str) -> int:
            return parse_fixed(str(f[flt][key]), qp)

        def rate(v) -> int:
            return parse_fixed(str(v), RATE_DECIMALS)

        brackets = _brackets_from_config(cfg["brackets"])
        inst = cls(
            symbol=symbol,
            base_asset=cfg["baseAsset"],
            quote_asset=cfg.get("quoteAsset", "USDT"),
            price_precision=pp,
            quantity_precision=qp,
            tick_size=price("tickSize"),
            min_price=price("minPrice"),
            max_price=price("maxPrice"),
            step_size=qty("LOT_SIZE", "stepSize"),
            min_qty=qty("LOT_SIZE", "minQty"),
            max_qty=qty("LOT_SIZE", "maxQty"),
            market_min_qty=qty("MARKET_LOT_SIZE", "minQty"),
            market_max_qty=qty("MARKET_LOT_SIZE", "maxQty"),
            market_step_size=qty("MARKET_LOT_SIZE", "stepSize"),
            min_notional=parse_fixed(str(f["MIN_NOTIONAL"]["notional"]), AMOUNT_DECIMALS),
            multiplier_up=rate(f["PERCENT_PRICE"]["multiplierUp"]),
            multiplier_down=rate(f["PERCENT_PRICE"]["multiplierDown"]),
            multiplier_decimal=int(f["PERCENT_PRICE"].get("multiplierDecimal", 4)),
            max_num_orders=int(f["MAX_NUM_ORDERS"]["limit"]),
            max_num_algo_orders=int(f["MAX_NUM_ALGO_ORDERS"]["limit"]),
            maker_fee=rate(cfg["makerCommissionRate"]),
            taker_fee=rate(cfg["takerCommissionRate"]),
            liquidation_fee=rate(cfg.get("liquidationFee", "0.0125")),
            market_take_bound=rate(cfg.get("marketTakeBound", "0.05")),
            trigger_protect=rate(cfg.get("triggerProtect", "0.05")),
            onboard_date=int(cfg.get("onboardDate", 1569398400000)),
            brackets=brackets,
        )
        if inst.tick_size <= 0 or inst.step_size <= 0:
            raise ValueError(f"{symbol}: tickSize and stepSize must be positive")
        return inst


def _brackets_from_config(rows: list[dict]) -> tuple[Bracket, ...]:
    """Build brackets; ``cum`` is derived with Binance's rule and checked against any configured value.

    cum_n = cum_{n-1} + floor_n * (mmr_n - mmr_{n-1}), which makes maintenance margin continuous across tiers.
    """
    out: list[Bracket] = []
    prev_mmr = 0
    prev_cum = 0
    for i, row in enumerate(rows, start=1):
        floor = parse_fixed(str(row["notionalFloor"]), AMOUNT_DECIMALS)
        cap = parse_fixed(str(row["notionalCap"]), AMOUNT_DECIMALS)
        mmr = parse_fixed(str(row["maintMarginRatio"]), RATE_DECIMALS)
        # floor (8dp) * mmr delta (8dp) / 1e8 -> 8dp; exact because floors are whole USDT in practice.
        cum = prev_cum + floor * (mmr - prev_mmr) // 10**RATE_DECIMALS if i > 1 else 0
        if "cum" in row and parse_fixed(str(row["cum"]), AMOUNT_DECIMALS) != cum:
            raise ValueError(f"bracket {i}: configured cum {row['cum']} differs from derived {format_fixed(cum, 8)}")
        out.append(Bracket(i, int(row["initialLeverage"]), floor, cap, mmr, cum))
        prev_mmr, prev_cum = mmr, cum
    if not out:
        raise ValueError("an instrument needs at least one leverage bracket")
    return tuple(out)


def load_instruments(config: dict) -> dict[str, Instrument]:
    """``config`` is the parsed instruments document: {"symbols": {"BTCUSDT": {...}, ...}}."""
    return {sym: Instrument.from_config(sym, cfg) for sym, cfg in config["symbols"].items()}
