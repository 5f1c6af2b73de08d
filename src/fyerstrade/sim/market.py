"""The deterministic synthetic market behind the simulator (:class:`SyntheticMarket`).

Every price is a pure function of ``(seed, symbol, trading day)``:

* **Daily closes** of a root (equity or index) follow a random walk per calendar year, drawn as a
  Brownian bridge between two yearly anchors ``A[y]`` and ``A[y+1]`` that are themselves seeded
  per ``(seed, symbol, year)``. So the close of any day is found by generating one year (cached),
  never all of history, and consecutive years join up: the last close of year ``y`` is ``A[y+1]``,
  the previous close of the first session of ``y + 1``.
* **One-minute bars** of a day start at the previous close plus a small gap and run, as a bridge,
  to that day's close, with volatility a little higher at the open and a U-shaped volume profile
  (busier open and close). Prices are positive and on the instrument's tick; volumes are ints
  (indices have none, like Fyers' index candles).
* **Every other resolution** is aggregated from the one-minute bars, aligned to the session open
  as Fyers aligns candles (first open, max high, min low, last close, summed volume), so all
  resolutions agree exactly. Daily candles are stamped at 00:00 UTC of the trading date, like the
  samples in Fyers' documentation.
* **Derivatives** are priced from their root: futures at the index times ``exp(r·τ)``, options by
  Black-Scholes with a fixed volatility; they trade from about three months before their expiry
  up to the expiry day.

Hot path: numpy vectorised per day, no pandas; one symbol-year of 1-minute bars takes tens of
milliseconds (``benchmarks/bench_sim_market.py``).
"""

from __future__ import annotations

import functools
import hashlib
import math
from datetime import date, timedelta
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from fyerstrade.calendar import NSECalendar
from fyerstrade.domain import Resolution
from fyerstrade.sim.universe import Kind, SimInstrument

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DATA_START = date(2017, 7, 3)  # Fyers' history starts here
ANCHOR_YEAR = 2027  # base prices in the universe are the levels at the start of this year
ANNUAL_DRIFT = 0.11
ANCHOR_NOISE = 0.06
RATE = 0.065  # carry for futures and the risk-free rate for options
LISTING_DAYS = 92  # derivatives trade for about three months before expiry
_YEAR_SECONDS = 365.0 * 86_400
_DAY = 86_400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class Bars(NamedTuple):
    """Column arrays of one run of candles (``ts`` = bar open, epoch seconds)."""

    ts: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: IntArray

    def __len__(self) -> int:
        return len(self.ts)

    def rows(self) -> list[list[float | int]]:
        """``[[ts, o, h, l, c, v], ...]`` as Fyers sends candles."""
        return [
            [int(t), float(o), float(h), float(lo), float(c), int(v)]
            for t, o, h, lo, c, v in zip(
                self.ts, self.open, self.high, self.low, self.close, self.volume, strict=True
            )
        ]

    def take(self, mask: npt.NDArray[np.bool_]) -> Bars:
        return Bars(
            self.ts[mask],
            self.open[mask],
            self.high[mask],
            self.low[mask],
            self.close[mask],
            self.volume[mask],
        )


EMPTY = Bars(
    np.empty(0, np.int64),
    np.empty(0, np.float64),
    np.empty(0, np.float64),
    np.empty(0, np.float64),
    np.empty(0, np.float64),
    np.empty(0, np.int64),
)


def concat(parts: list[Bars]) -> Bars:
    """One :class:`Bars` of several, in order."""
    if not parts:
        return EMPTY
    if len(parts) == 1:
        return parts[0]
    return Bars(
        np.concatenate([p.ts for p in parts]),
        np.concatenate([p.open for p in parts]),
        np.concatenate([p.high for p in parts]),
        np.concatenate([p.low for p in parts]),
        np.concatenate([p.close for p in parts]),
        np.concatenate([p.volume for p in parts]),
    )


@functools.lru_cache(maxsize=4096)
def symbol_key(symbol: str) -> int:
    """A stable 63-bit integer for a symbol (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(symbol.encode(), digest_size=8).digest(), "big") >> 1


def to_tick(x: FloatArray, tick: float) -> FloatArray:
    """Round to the tick, then to paise, so 101.05 prints as 101.05 (not 101.05000000000001)."""
    return np.round(np.round(x / tick) * tick, 2)


def utc_midnight(d: date) -> int:
    """Epoch of 00:00 UTC on ``d`` (the stamp of Fyers' daily candles)."""
    return (d.toordinal() - _EPOCH_ORDINAL) * _DAY


def _erf(x: FloatArray) -> FloatArray:
    """Vectorised error function (Abramowitz & Stegun 7.1.26, absolute error < 1.5e-7: far below
    a paisa on any option price here), so pricing stays in numpy."""
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    y: FloatArray = np.sign(x) * (1.0 - poly * np.exp(-a * a))
    return y


def _norm_cdf(x: FloatArray) -> FloatArray:
    return 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))


def black_scholes(
    spot: FloatArray, strike: float, tau: FloatArray, vol: float, call: bool
) -> FloatArray:
    """European option value (no dividends) at ``RATE``; ``tau`` in years."""
    tau = np.maximum(tau, 1e-6)
    sd = vol * np.sqrt(tau)
    d1 = (np.log(spot / strike) + (RATE + 0.5 * vol * vol) * tau) / sd
    d2 = d1 - sd
    disc = strike * np.exp(-RATE * tau)
    if call:
        return spot * _norm_cdf(d1) - disc * _norm_cdf(d2)
    return disc * _norm_cdf(-d2) - spot * _norm_cdf(-d1)


class _Year(NamedTuple):
    days: IntArray  # date ordinals of the year's sessions
    closes: FloatArray  # close of each session
    start_level: float  # A[y]: the previous close of the first session


class SyntheticMarket:
    """Deterministic prices for a seed. Thread-safe (pure functions behind ``lru_cache``)."""

    def __init__(self, seed: int, cal: NSECalendar, day_cache: int = 4096) -> None:
        self.seed = seed
        self.cal = cal
        self._year = functools.lru_cache(maxsize=1024)(self._build_year)
        self._root_minutes = functools.lru_cache(maxsize=day_cache)(self._build_root_minutes)

    # ------------------------------------------------------------------ daily levels

    def _anchor(self, root: SimInstrument, year: int) -> float:
        rng = np.random.default_rng([self.seed, symbol_key(root.symbol), year, 0])
        drift = ANNUAL_DRIFT * (year - ANCHOR_YEAR)
        return root.base_price * math.exp(drift + ANCHOR_NOISE * float(rng.standard_normal()))

    def _build_year(self, root: SimInstrument, year: int) -> _Year:
        days = np.array(
            [d.toordinal() for d in self.cal.trading_days(date(year, 1, 1), date(year, 12, 31))],
            dtype=np.int64,
        )
        a0 = math.log(self._anchor(root, year))
        a1 = math.log(self._anchor(root, year + 1))
        n = len(days)
        rng = np.random.default_rng([self.seed, symbol_key(root.symbol), year, 1])
        walk = np.cumsum(rng.normal(0.0, root.daily_vol, n))
        k = np.arange(1, n + 1) / n
        log_close = a0 + walk - k * walk[-1] + k * (a1 - a0)
        return _Year(days, np.exp(log_close), math.exp(a0))

    def _locate(self, root: SimInstrument, d: date) -> tuple[_Year, int]:
        year = self._year(root, d.year)
        i = int(np.searchsorted(year.days, d.toordinal()))
        if i >= len(year.days) or year.days[i] != d.toordinal():
            raise ValueError(f"{d} is not an NSE trading day")
        return year, i

    def close_on(self, root: SimInstrument, d: date) -> float:
        """The (unrounded) close of a root on trading day ``d``."""
        year, i = self._locate(root, d)
        return float(year.closes[i])

    def previous_close(self, root: SimInstrument, d: date) -> float:
        """The close of the session before trading day ``d``."""
        year, i = self._locate(root, d)
        return float(year.closes[i - 1]) if i > 0 else year.start_level

    # ------------------------------------------------------------------ one-minute bars

    def _build_root_minutes(self, root: SimInstrument, d: date) -> Bars:
        ts = self.cal.minute_bars(d)
        n = len(ts)
        if n == 0:
            return EMPTY
        prev = self.previous_close(root, d)
        close = self.close_on(root, d)
        shape, weights, k = _profiles(n)
        rng = np.random.default_rng([self.seed, symbol_key(root.symbol), d.toordinal(), 2])
        gap = float(rng.standard_normal())
        z = rng.standard_normal((4, n))  # moves, upper wicks, lower wicks, volume noise
        sigma = root.daily_vol
        first = prev * math.exp(0.25 * sigma * gap)
        step = shape * (0.8 * sigma / math.sqrt(float(np.dot(shape, shape))))
        walk = np.cumsum(z[0] * step)
        path = walk - k * walk[-1] + k * (math.log(close) - math.log(first))
        closes = first * np.exp(path)
        opens = np.empty(n)
        opens[0] = first
        opens[1:] = closes[:-1]
        ohlc = np.empty((4, n))
        ohlc[0] = opens
        ohlc[3] = closes
        ohlc[1] = np.maximum(opens, closes) * np.exp(np.abs(z[1]) * step * 0.6)
        ohlc[2] = np.minimum(opens, closes) * np.exp(-np.abs(z[2]) * step * 0.6)
        if root.kind is Kind.INDEX:
            volume = np.zeros(n, dtype=np.int64)
        else:
            volume = _volume(z[3], weights, root.daily_volume)
        return _finish(ts, ohlc, volume, root.tick)

    def lists(self, inst: SimInstrument, d: date) -> bool:
        """Whether ``inst`` trades on ``d`` (derivatives only near their expiry)."""
        if d < DATA_START or not self.cal.is_trading_day(d):
            return False
        if inst.expiry is None:
            return True
        return inst.expiry - timedelta(days=LISTING_DAYS) < d <= inst.expiry

    def minute_bars(self, inst: SimInstrument, d: date, root: SimInstrument | None = None) -> Bars:
        """The 1-minute bars of ``inst`` on ``d`` (empty when it does not trade that day).
        Derivatives need their ``root`` instrument."""
        if not self.lists(inst, d):
            return EMPTY
        if not inst.is_derivative:
            return self._root_minutes(inst, d)
        if root is None:
            raise ValueError(f"{inst.symbol} is priced from its underlying; pass root=")
        return self._derivative_minutes(inst, root, d)

    def _derivative_minutes(self, inst: SimInstrument, root: SimInstrument, d: date) -> Bars:
        under = self._root_minutes(root, d)
        n = len(under)
        if n == 0:
            return EMPTY
        tau_open = (inst.expiry_ts - under.ts) / _YEAR_SECONDS
        tau_close = (inst.expiry_ts - under.ts - 60) / _YEAR_SECONDS
        if inst.kind is Kind.FUTURE:
            carry_open = np.exp(RATE * np.maximum(tau_open, 0.0))
            carry_close = np.exp(RATE * np.maximum(tau_close, 0.0))
            o, h = under.open * carry_open, under.high * carry_open
            lo, c = under.low * carry_open, under.close * carry_close
        else:
            call = inst.option_type == "CE"
            o = black_scholes(under.open, inst.strike, tau_open, inst.iv, call)
            c = black_scholes(under.close, inst.strike, tau_close, inst.iv, call)
            up = black_scholes(under.high, inst.strike, tau_open, inst.iv, call)
            down = black_scholes(under.low, inst.strike, tau_open, inst.iv, call)
            h, lo = (up, down) if call else (down, up)
        rng = np.random.default_rng([self.seed, symbol_key(inst.symbol), d.toordinal(), 3])
        volume = _volume(rng.standard_normal(n), _profiles(n)[1], inst.daily_volume)
        return _finish(under.ts, np.stack((o, h, lo, c)), volume, inst.tick)

    # ------------------------------------------------------------------ other resolutions

    def bars(
        self,
        inst: SimInstrument,
        resolution: Resolution,
        d: date,
        root: SimInstrument | None = None,
    ) -> Bars:
        """``inst``'s candles of ``resolution`` on ``d``, aggregated from its 1-minute bars."""
        minutes = self.minute_bars(inst, d, root)
        if len(minutes) == 0 or resolution is Resolution.M1:
            return minutes
        if resolution is Resolution.D:
            starts = np.array([utc_midnight(d)], dtype=np.int64)
            bucket = np.zeros(len(minutes), dtype=np.int64)
        else:
            starts = np.asarray(self.cal.bar_times(d, resolution), dtype=np.int64)
            bucket = np.searchsorted(starts, minutes.ts, side="right") - 1
        return aggregate(minutes, starts, bucket)


@functools.cache
def _profiles(n: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per-minute shapes of an ``n``-minute session: volatility (a little higher at the open),
    volume weights (U-shaped: busier open and close, summing to 1) and the bridge fraction."""
    i = np.arange(n)
    shape = 1.0 + 1.2 * np.exp(-i / 25.0) + 0.4 * np.exp(-(n - 1 - i) / 40.0)
    u = 1.0 + 2.0 * np.exp(-i / 20.0) + 1.5 * np.exp(-(n - 1 - i) / 25.0)
    return shape, u / u.sum(), (i + 1) / n


def _volume(noise: FloatArray, weights: FloatArray, daily: int) -> IntArray:
    """Integer volumes: the day's volume spread by ``weights`` with log-normal noise."""
    raw = np.rint(daily * weights * np.exp(0.35 * noise))
    out: IntArray = np.maximum(raw, 1).astype(np.int64)
    return out


def _finish(ts: IntArray, ohlc: FloatArray, volume: IntArray, tick: float) -> Bars:
    """Bars on the tick: rows of ``ohlc`` are open, high, low, close; the high and low are widened
    to cover open and close after rounding, and every price is at least one tick."""
    t = np.maximum(np.rint(ohlc / tick), 1.0)
    t[1] = np.maximum(t[1], np.maximum(t[0], t[3]))
    t[2] = np.minimum(t[2], np.minimum(t[0], t[3]))
    p = np.round(t * tick, 2)
    return Bars(ts, p[0], p[1], p[2], p[3], volume)


def aggregate(minutes: Bars, starts: IntArray, bucket: IntArray) -> Bars:
    """Candles of ``starts`` from 1-minute bars, where ``bucket[i]`` is the index into ``starts``
    of minute ``i`` (non-decreasing)."""
    first = np.flatnonzero(np.concatenate(([True], np.diff(bucket) != 0)))
    last = np.concatenate((first[1:] - 1, [len(bucket) - 1]))
    return Bars(
        starts[bucket[first]],
        minutes.open[first],
        np.maximum.reduceat(minutes.high, first),
        np.minimum.reduceat(minutes.low, first),
        minutes.close[last],
        np.add.reduceat(minutes.volume, first),
    )
