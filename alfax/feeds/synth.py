"""Bar-bridged synthetic market: turns real OHLCV bars into trades, quotes, a 20-level book and mark prices.

Used by ``ReplayFeed`` (bundled real data) and by ``FilesFeed`` when only klines are given.

How one symbol is generated (everything seeded, so output is a pure function of seed, start, speed and time):

Data clock. Feed time ``t`` (wall-time ms) maps to data time ``u = (t - start) * speed + phase``; ``phase`` is the
start's time of day, so at speed 1 hourly/daily bars line up with wall-clock UTC hours/days. The bar series is
played forwards, then backwards (``mirror``), then forwards again..., so the price path is continuous at the loop
point (a plain wrap-around would jump from the 2019 price straight back to 2017's). Each bar visited in one
direction is a *segment*; a backwards segment swaps the bar's open and close.

Path. Each segment owns the grid points (every ``STEP_MS`` of feed time) that fall inside it. A Brownian bridge
is pinned at open (first point), the bar's high and low (two interior knots in a seeded order) and close (last
point), sampled first at knots every ``CHUNK_STEPS`` points, then between knots per chunk; the path is clamped to
[low, high] and rounded to tickSize, so trades always stay inside the real bar and touch its high and low.

Prints. Per grid point a Poisson number of trades at the path price (rate ~3/s scaled by the bar's volume;
sizes lognormal with the bar's volume spread over the expected trade count; the side follows the move). The best
quote sits at the printed price on the aggressor's side; the spread is a few ticks, wider when the bar is
volatile; 20 levels each side with seeded gaps and depth growing away from the touch.

Mark. Once per second: index = mid * (1 + seeded smooth noise) ("other exchanges") and the mark price (median of
Binance's three prices); every 5 s the premium index from the book's impact bid/ask goes into the time-weighted
funding-rate estimate. All maths in ``alfax.domain.pricing``.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, bisect_right
from fractions import Fraction
from statistics import NormalDist

from alfax.domain.commands import BookUpdate, Command, MarkPriceUpdate, TradePrint
from alfax.domain.instruments import Instrument
from alfax.domain.pricing import (
    DEFAULT_FUNDING_CAP,
    PremiumAverager,
    RollingMean,
    funding_rate,
    impact_notional,
    impact_price,
    mark_price,
    next_funding_time,
    premium_index,
    prev_funding_time,
)

from .bars import Bar
from .base import DAY_MS, MARK_MS, STEP_MS, clamp_price, qty_to_step, tick_ceil, tick_floor

CHUNK_STEPS = 240  # knots every 60 s of feed time
LEVELS = 20
TRADE_SLOTS = 8  # trade_id = grid_index * TRADE_SLOTS + k, so ids are time-derived, increasing and restart-stable
BASIS_SAMPLES = 300  # 5 min of 1 s samples
PREMIUM_SAMPLE_MS = 5_000  # premium index sampled every 5 s into the funding average (as Binance)


_NT_SIZE = 4096
# Standard normal quantiles: NORMAL[int(random() * 4096)] is a cheap, deterministic N(0, 1) draw (about 10x faster
# than random.gauss); the discretisation is invisible at the scale of a synthetic intrabar path.
NORMAL = tuple(NormalDist().inv_cdf((i + 0.5) / _NT_SIZE) for i in range(_NT_SIZE))


def stable_rng(*parts) -> random.Random:
    """A Random seeded from a string (sha512-based in CPython, identical across processes and runs)."""
    return random.Random(":".join(str(p) for p in parts))


class ValueNoise:
    """Smooth seeded noise in [-~3, ~3]: gaussian knots every ``period_ms`` of feed time, smoothstep-interpolated."""

    __slots__ = ("key", "period", "_cache")

    def __init__(self, key: str, period_ms: int) -> None:
        self.key = key
        self.period = period_ms
        self._cache: dict[int, float] = {}

    def _z(self, j: int) -> float:
        z = self._cache.get(j)
        if z is None:
            if len(self._cache) > 8:
                self._cache.clear()
            z = self._cache[j] = stable_rng(self.key, self.period, j).gauss(0.0, 1.0)
        return z

    def __call__(self, t: int) -> float:
        j, rem = divmod(t, self.period)
        x = rem / self.period
        x = x * x * (3 - 2 * x)
        return self._z(j) * (1 - x) + self._z(j + 1) * x


class MarkEngine:
    """Binance mark price / funding estimate for one symbol, sampled once per second (state across samples)."""

    def __init__(self, inst: Instrument, funding_cap: int = DEFAULT_FUNDING_CAP) -> None:
        self.inst = inst
        self.cap = funding_cap
        self.avg = PremiumAverager()
        self.basis = RollingMean(BASIS_SAMPLES)
        self.period = -1
        self.rate = funding_rate(0, cap=funding_cap)

    def update(self, t: int, bid: int, ask: int, index: int, impact_bid: int, impact_ask: int,
               last: int | None) -> MarkPriceUpdate:
        period = prev_funding_time(t)
        if period != self.period:
            self.avg.reset()
            self.period = period
            self.rate = funding_rate(0, cap=self.cap)
        if t % PREMIUM_SAMPLE_MS == 0:
            self.avg.add(premium_index(impact_bid, impact_ask, index))
            self.rate = funding_rate(self.avg.average, cap=self.cap)
        rate = self.rate
        self.basis.add((bid + ask) // 2 - index)
        nft = next_funding_time(t)
        mark = mark_price(index, rate, nft - t, self.basis.mean, last)
        return MarkPriceUpdate(self.inst.symbol, clamp_price(mark, self.inst), index, rate, nft)


class DataClock:
    """Feed time <-> data time, with looping (mirrored or plain) over [w0, w1)."""

    def __init__(self, w0: int, w1: int, start_ms: int, speed: float, phase_ms: int | None, mirror: bool) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.w0, self.w1, self.span = w0, w1, w1 - w0
        self.start = start_ms
        self.speed = Fraction(speed).limit_denominator(1_000_000)
        self.phase = (start_ms % DAY_MS) % self.span if phase_ms is None else phase_ms
        self.mirror = mirror

    def u(self, t: int) -> Fraction:
        return (t - self.start) * self.speed + self.phase

    def t_of_u(self, u) -> Fraction:
        return self.start + (u - self.phase) / self.speed

    def forward(self, k: int) -> bool:
        return not self.mirror or k % 2 == 0


class Segment:
    """One bar visited in one direction: its grid range, tick-rounded anchors, knots and per-bar parameters."""

    __slots__ = ("k", "i", "g0", "g1", "n", "O", "H", "L", "C", "knots", "vals", "K", "sigma", "lam", "mean_size",
                 "volf", "hi_pos", "lo_pos", "fwd")


class PathSource:
    """Generates one symbol's commands on the feed grid from a bar series."""

    def __init__(self, inst: Instrument, bars: tuple[Bar, ...] | list[Bar], *, seed: int, start_ms: int,
                 speed: float, mirror: bool = True, phase_ms: int | None = None, trade_rate: float = 3.0,
                 funding_cap: int = DEFAULT_FUNDING_CAP, noise_bp: tuple[float, float] = (1.5, 5.0)) -> None:
        if not bars:
            raise ValueError(f"{inst.symbol}: empty bar series")
        self.inst = inst
        self.sym = inst.symbol
        self.bars = tuple(bars)
        self.starts = [b.start_ms for b in self.bars]
        self.seed = seed
        self.clock = DataClock(self.bars[0].start_ms, self.bars[-1].end_ms, start_ms, speed, phase_ms, mirror)
        self.trade_rate = trade_rate
        vols = sorted(b.volume for b in self.bars if b.volume > 0)
        self.median_vol = vols[len(vols) // 2] if vols else 1.0
        self.scale = 10**inst.price_precision
        self.imn = impact_notional(inst.max_leverage)
        key = f"{seed}:{inst.symbol}"
        self.noise_fast = ValueNoise(key + ":fast", 60_000)
        self.noise_slow = ValueNoise(key + ":slow", 30 * 60_000)
        self.noise_bp = noise_bp
        self.mark = MarkEngine(inst, funding_cap)
        self.last: int | None = None
        self.seg: Segment | None = None
        self._chunk_key: tuple | None = None
        self._chunk: list | None = None
        self._shape: tuple | None = None
        self._chunk_shape: tuple | None = None
        self._cg0 = self._cg1 = 0  # absolute grid range of the cached chunk
        self.bid = self.ask = 0
        self.q0b = self.q0a = 0

    # ------------------------------------------------------------------ segments

    def _segment(self, k: int, i: int) -> Segment:
        ck, b = self.clock, self.bars[i]
        fwd = ck.forward(k)
        base = k * ck.span
        if fwd:
            u0, u1 = base + b.start_ms - ck.w0, base + b.end_ms - ck.w0
        else:
            u0, u1 = base + ck.w1 - b.end_ms, base + ck.w1 - b.start_ms
        s = Segment()
        s.k, s.i, s.fwd = k, i, fwd
        s.g0 = math.ceil(ck.t_of_u(u0) / STEP_MS)
        s.g1 = math.ceil(ck.t_of_u(u1) / STEP_MS)
        s.n = max(0, s.g1 - s.g0)
        return s

    def _next(self, s: Segment) -> Segment:
        n = len(self.bars)
        if s.fwd:
            return self._segment(s.k, s.i + 1) if s.i + 1 < n else self._segment(s.k + 1, 0 if not self.clock.mirror else n - 1)
        return self._segment(s.k, s.i - 1) if s.i > 0 else self._segment(s.k + 1, 0)

    def _prev(self, s: Segment) -> Segment:
        n = len(self.bars)
        if s.fwd:
            if s.i > 0:
                return self._segment(s.k, s.i - 1)
            return self._segment(s.k - 1, 0 if self.clock.mirror else n - 1)
        return self._segment(s.k, s.i + 1) if s.i + 1 < n else self._segment(s.k - 1, n - 1)

    def _locate(self, g: int) -> Segment:
        ck = self.clock
        u = ck.u(g * STEP_MS)
        k = math.floor(u / ck.span)
        r = u - k * ck.span
        if ck.forward(k):
            i = bisect_right(self.starts, ck.w0 + r) - 1
        else:
            i = bisect_left(self.starts, ck.w1 - r) - 1
        s = self._segment(k, max(0, min(len(self.bars) - 1, i)))
        for _ in range(100_000):
            if g < s.g0:
                s = self._prev(s)
            elif g >= s.g1:
                s = self._next(s)
            else:
                return s
        raise RuntimeError("segment search did not converge")

    def _plan(self, s: Segment) -> None:
        """Anchors, knots and coarse bridge of a segment (seeded by seed, symbol, cycle, bar)."""
        inst, b, sc, tick = self.inst, self.bars[s.i], self.scale, self.inst.tick_size
        o, c = (b.open, b.close) if s.fwd else (b.close, b.open)
        H = clamp_price(tick_floor(int(math.floor(b.high * sc + 1e-6)), tick), inst)
        L = clamp_price(tick_ceil(int(math.ceil(b.low * sc - 1e-6)), tick), inst)
        if L > H:
            H = L = clamp_price(int(round((b.high + b.low) / 2 * sc / tick)) * tick, inst)
        s.H, s.L = H, L
        s.O = min(H, max(L, int(round(o * sc / tick)) * tick))
        s.C = min(H, max(L, int(round(c * sc / tick)) * tick))
        rng = stable_rng(self.seed, self.sym, s.k, s.i, "seg")
        n = s.n
        K = CHUNK_STEPS if n >= 4 * CHUNK_STEPS else max(1, n // 8)
        s.K = K
        knots = list(range(0, n - 1, K)) + [n - 1] if n >= 2 else [0]
        s.knots = knots
        s.sigma = max(0.5 * (H - L), tick) / math.sqrt(max(n, 1))
        # anchors: open, the two extremes in a seeded order, close
        anchors = {0: s.O, len(knots) - 1: s.C}
        s.hi_pos = s.lo_pos = -1
        if len(knots) >= 4:
            j1, j2 = sorted(rng.sample(range(1, len(knots) - 1), 2))
            high_first = rng.random() < (0.3 if s.C > s.O else 0.7)
            jh, jl = (j1, j2) if high_first else (j2, j1)
            anchors[jh], anchors[jl] = H, L
            s.hi_pos, s.lo_pos = knots[jh], knots[jl]
        elif len(knots) == 3:
            ext = H if (H - max(s.O, s.C)) >= (min(s.O, s.C) - L) else L
            anchors[1] = ext
            if ext == H:
                s.hi_pos = knots[1]
            else:
                s.lo_pos = knots[1]
        vals = [0.0] * len(knots)
        order = sorted(anchors)
        for a, bpos in zip(order, order[1:]):
            va, vb = float(anchors[a]), float(anchors[bpos])
            vals[a] = va
            x = va
            for j in range(a + 1, bpos):
                p, pn, pb = knots[j - 1], knots[j], knots[bpos]
                dt, rest = pn - p, pb - p
                x = x + (vb - x) * dt / rest + s.sigma * math.sqrt(dt * (pb - pn) / rest) * rng.gauss(0.0, 1.0)
                x = min(H, max(L, x))
                vals[j] = x
            vals[bpos] = vb
        s.vals = vals
        # activity, trade sizes, volatility factor
        vol = b.volume if b.volume > 0 else self.median_vol
        act = min(3.0, max(0.5, math.sqrt(vol / self.median_vol)))
        s.lam = self.trade_rate * act * STEP_MS / 1000.0
        s.mean_size = vol / max(1.0, s.lam * max(n, 1))
        hours = max((b.end_ms - b.start_ms) / 3_600_000, 1e-9)
        rel = (b.high - b.low) / max((b.high + b.low) / 2, 1e-12) / math.sqrt(hours)
        s.volf = min(5.0, max(0.3, rel / 0.01))

    # ------------------------------------------------------------------ chunks

    def _gen_chunk(self, s: Segment, c: int) -> list:
        """Steps of chunk ``c`` of segment ``s``: [(g, price, side_buy, trades)], plus the chunk's book shape."""
        inst, tick = self.inst, self.inst.tick_size
        knots, vals = s.knots, s.vals
        rng = stable_rng(self.seed, self.sym, s.k, s.i, c)
        last_chunk = c >= len(knots) - 2
        p0 = knots[c]
        p1 = knots[c + 1] if len(knots) > 1 else 0
        end = p1 + 1 if last_chunk else p1
        if len(knots) == 1:
            end = 1
        H, L, sig = s.H, s.L, s.sigma
        v0 = vals[c]
        v1 = vals[c + 1] if len(knots) > 1 else v0
        gauss, rand = rng.gauss, rng.random
        nt = NORMAL
        lam_exp = math.exp(-s.lam)
        ms = s.mean_size
        smu = math.log(max(ms, 1e-12)) - 0.5  # lognormal sigma 1.0, mean = ms
        step_g = s.g0
        step = inst.step_size
        qf = 10**inst.quantity_precision / step
        q_lo = max(inst.min_qty, step)
        q_hi = min(inst.market_max_qty, inst.max_qty)
        exp = math.exp
        prev_price = int(round((vals[c - 1] if c > 0 else v0) / tick)) * tick
        steps = []
        x = v0
        for pos in range(p0, end):
            if pos == p0:
                x = v0
            elif pos == p1:
                x = v1
            else:
                rest = p1 - (pos - 1)
                x = x + (v1 - x) / rest + sig * math.sqrt((rest - 1) / rest) * nt[int(rand() * _NT_SIZE)]
                x = H if x > H else L if x < L else x
            price = int(round(x / tick)) * tick
            price = H if price > H else L if price < L else price
            forced = pos == 0 or pos == s.n - 1 or pos == s.hi_pos or pos == s.lo_pos
            # Poisson(lam) by multiplication (lam ~ 0.4..2.3)
            k, prod = 0, rand()
            while prod > lam_exp and k < TRADE_SLOTS - 1:
                k += 1
                prod *= rand()
            if forced and k == 0:
                k = 1
            if pos == s.hi_pos:
                buy = True
            elif pos == s.lo_pos:
                buy = False
            elif price != prev_price:
                buy = price > prev_price
            else:
                buy = rand() < 0.5
            trades = None
            if k:
                tid0 = (step_g + pos) * TRADE_SLOTS
                trades = []
                for j in range(k):
                    q = int(round(exp(smu + nt[int(rand() * _NT_SIZE)]) * qf)) * step
                    trades.append((tid0 + j, q_lo if q < q_lo else q_hi if q > q_hi else q))
            steps.append((step_g + pos, price, buy, trades))
            prev_price = price
        # book shape for this chunk: gaps (ticks) and depth per level, both sides; spread distribution
        mid = max(v0, float(tick))
        base = 3000.0 * 10**inst.price_precision / mid  # ~3000 USDT at the touch
        gmax = 1 + int(s.volf * 1.5)
        shape = []
        for _side in range(2):
            offs, qs, off = [], [], 0
            for j in range(LEVELS):
                if j:
                    off += tick * (1 + int(rand() * gmax))
                offs.append(off)
                qs.append(qty_to_step(base * (1 + 0.35 * j) * math.exp(0.35 * gauss(0.0, 1.0) - 0.06), inst))
            shape.append((offs, qs))
        spread_mean = 0.6 * s.volf
        spreads = [1 + min(8, int(rng.expovariate(1.0 / spread_mean))) for _ in range(16)]
        top_q = [qty_to_step(base * math.exp(0.6 * gauss(0.0, 1.0) - 0.18), inst) for _ in range(16)]
        # impact prices relative to the touch (Binance impact margin notional walked through this shape)
        fac = inst.notional_factor
        ref = int(round(mid / tick)) * tick
        bids = [(ref - o_, q) for o_, q in zip(*shape[0])]
        asks = [(ref + o_, q) for o_, q in zip(*shape[1])]
        ib = impact_price(bids, self.imn, fac)
        ia = impact_price(asks, self.imn, fac)
        imp = (ref - ib if ib is not None else shape[0][0][-1], ia - ref if ia is not None else shape[1][0][-1])
        self._shape = (shape, spreads, top_q, imp)
        return steps

    def _step(self, g: int):
        if self._cg0 <= g < self._cg1:  # fast path: inside the cached chunk
            return self._chunk[g - self._cg0]
        s = self.seg
        if s is None or not (s.g0 <= g < s.g1):
            s = self._next(s) if s is not None and g == s.g1 else None
            if s is None or not (s.g0 <= g < s.g1):
                s = self._locate(g)
            self._plan(s)
            self.seg = s
        pos = g - s.g0
        K = s.K
        nk = len(s.knots)
        c = 0 if nk < 2 else min(pos // K, nk - 2)
        key = (s.k, s.i, c)
        if key != self._chunk_key:
            self._chunk = self._gen_chunk(s, c)
            self._chunk_key = key
            self._chunk_shape = self._shape
            self._cg0 = s.g0 + s.knots[c]
            self._cg1 = self._cg0 + len(self._chunk)
        return self._chunk[pos - s.knots[c]]

    # ------------------------------------------------------------------ output

    def book(self, g: int) -> BookUpdate:
        shape = self._chunk_shape[0]
        bid, ask = self.bid, self.ask
        (bo, bq), (ao, aq) = shape
        bids = ((bid, self.q0b),) + tuple(zip([bid - o for o in bo[1:]], bq[1:]))
        asks = ((ask, self.q0a),) + tuple(zip([ask + o for o in ao[1:]], aq[1:]))
        lo = self.inst.min_price
        if bids[-1][0] < lo:
            bids = tuple(lv for lv in bids if lv[0] >= lo)
        return BookUpdate(self.sym, bids, asks, update_id=g)

    def produce(self, t: int, out: list[Command], mode: int = 2, force_book: bool = False) -> None:
        """Append the commands of grid time ``t`` (a multiple of STEP_MS). mode 2 = live (book every step),
        1 = history (book once a minute or when forced), 0 = warm-up (state only, nothing appended)."""
        g = t // STEP_MS
        _, price, buy, trades = self._step(g)
        tick = self.inst.tick_size
        _, spreads, top_q, imp = self._chunk_shape
        sp = spreads[g & 15] * tick
        if buy:
            self.ask, self.bid = price, max(price - sp, tick)
        else:
            self.bid, self.ask = price, price + sp
        self.q0b = top_q[g & 15]
        self.q0a = top_q[(g + 7) & 15]
        if trades:
            self.last = price
            if mode:
                sym = self.sym
                for tid, q in trades:
                    out.append(TradePrint(sym, price, q, not buy, tid))
        if mode == 2 or (mode == 1 and (force_book or g % CHUNK_STEPS == 0)):
            out.append(self.book(g))
        if t % MARK_MS == 0:
            mid2 = self.bid + self.ask
            nz = (self.noise_bp[0] * self.noise_fast(t) + self.noise_bp[1] * self.noise_slow(t)) * 1e-4
            index = clamp_price(int(round(mid2 * (1.0 + nz) / 2)), self.inst)
            m = self.mark.update(t, self.bid, self.ask, index, self.bid - imp[0], self.ask + imp[1], self.last)
            if mode:
                out.append(m)
