"""The signals contract: a strategy's trades described as whole arrays, for the vectorized engine.

A strategy that declares ``signals`` can be backtested and optimized by the vectorized engine
(``fyerstrade.backtest.vector``), which applies the same fill, session, sizing and cost rules as
the event engine to whole arrays. The contract::

    class MyStrategy(Strategy):
        signal_indicators = {
            "fast_sma": Indicator(sma, uses=("fast",)),   # sma(bars, fast) -> array
            "slow_sma": Indicator(sma, uses=("slow",)),
        }

        @classmethod
        def signals(cls, bars: SignalBars, params: Mapping[str, Any]) -> Signals:
            cross = crossover_signal(bars.indicator("fast_sma"), bars.indicator("slow_sma"))
            return Signals(entries=cross > 0, exits=cross < 0)

Indicators are declared with the parameters they depend on (``uses``), so that a sweep computes
each one **once per distinct value of those parameters**, not once per combination:
``bars.indicator(name)`` looks the array up in an :class:`IndicatorCache` keyed by the name and
those values. Everything ``signals`` computes itself is per combination, so keep it cheap (a few
comparisons over the arrays).

What the arrays mean (element ``t`` is decided when bar ``t`` closes; every array must be causal,
its value at ``t`` computed from bars up to ``t``), for each symbol:

* flat: ``entries[t]`` buys the run's entry size (``--quantity``, or sized by free margin) at the
  next bar's open; otherwise ``short_entries[t]`` sells it short;
* long: ``exits[t]`` closes the position at the next open; otherwise ``short_entries[t]``
  reverses it (one sell of the position plus the entry size); ``entries[t]`` is ignored;
* short: the mirror (``short_exits`` closes, ``entries`` reverses, ``short_entries`` is ignored).

``stop[t]`` (optional, NaN for none) is the stop level of an entry signalled at bar ``t``. When
that entry fills, a stop order for the whole position is placed at the level (rounded to the tick)
and matched against the rest of the fill bar; if the entry filled at or beyond the stop (long:
fill ≤ stop) the position is closed at the next bar's open instead (tag ``stop``). ``targets``
(they need a stop) are profit targets in multiples of R = |fill − stop|: limit orders at
fill ± r·R (rounded to the tick) for ``fraction`` of the position, rounded down to whole lots; the
last target takes what is left. Stops and targets are reduce-only and cancelled when the position
is closed; a stop and a target reached in one bar: the stop first.

Orders are tagged ``entry_tag`` (entries and reversals), ``signal`` (exits), ``stop`` and
``target1``, ``target2``, ... (the round trip's exit reason follows the tag); the square-off and
the end of data close what is left, as in the event engine.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from fyerstrade.errors import StrategyError

if TYPE_CHECKING:
    from fyerstrade.candles import CandleArrays

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
_Fn = TypeVar("_Fn", bound=Callable[..., Any])

MAX_TARGETS = 4


@dataclass(frozen=True, slots=True)
class Target:
    """A profit target at ``r_multiple`` × R from the entry fill, for ``fraction`` of the position
    (the last target of a strategy takes whatever the others left)."""

    r_multiple: float
    fraction: float = 1.0


@dataclass(frozen=True, slots=True)
class Indicator:
    """An indicator computed as ``compute(bars, *values)``, where ``values`` are the strategy's
    parameters named in ``uses`` (in that order)."""

    compute: Callable[..., npt.ArrayLike]
    uses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Signals:
    """One symbol's signals over its whole bars (see the module docstring for their meaning)."""

    entries: BoolArray
    exits: BoolArray | None = None
    short_entries: BoolArray | None = None
    short_exits: BoolArray | None = None
    stop: FloatArray | None = None
    targets: tuple[Target, ...] = ()
    entry_tag: str = "entry"

    def checked(self, n: int, where: str) -> Signals:
        """The signals with every array converted (bool / float64, contiguous) and checked to be
        aligned with ``n`` bars; a malformed one raises ``StrategyError`` naming ``where``."""

        def flags(name: str, value: npt.ArrayLike | None) -> BoolArray | None:
            if value is None:
                return None
            arr = np.ascontiguousarray(value, dtype=np.bool_)
            if arr.shape != (n,):
                raise StrategyError(
                    f"{where}: signals.{name} has shape {arr.shape}, expected ({n},) aligned "
                    "with the bars"
                )
            return arr

        entries = flags("entries", self.entries)
        assert entries is not None
        stop = None
        if self.stop is not None:
            stop = np.ascontiguousarray(self.stop, dtype=np.float64)
            if stop.shape != (n,):
                raise StrategyError(
                    f"{where}: signals.stop has shape {stop.shape}, expected ({n},)"
                )
        if self.targets and stop is None:
            raise StrategyError(f"{where}: targets are multiples of R and need a stop array")
        if len(self.targets) > MAX_TARGETS:
            raise StrategyError(f"{where}: at most {MAX_TARGETS} targets, got {len(self.targets)}")
        total = 0.0
        for k, t in enumerate(self.targets):
            if not t.r_multiple > 0:
                raise StrategyError(f"{where}: target {k + 1} needs r_multiple > 0")
            if not 0.0 <= t.fraction <= 1.0:
                raise StrategyError(f"{where}: target {k + 1} fraction must be within 0..1")
            if k < len(self.targets) - 1:
                total += t.fraction
        if total > 1.0 + 1e-12:
            raise StrategyError(f"{where}: target fractions add up to more than 1")
        return Signals(
            entries,
            flags("exits", self.exits),
            flags("short_entries", self.short_entries),
            flags("short_exits", self.short_exits),
            stop,
            tuple(self.targets),
            self.entry_tag,
        )


class SignalSource(Protocol):
    """What the indicator cache needs of a strategy class (``Strategy`` is one)."""

    name: ClassVar[str]
    signal_indicators: ClassVar[Mapping[str, Indicator]]


class IndicatorCache:
    """One symbol's indicator arrays, each computed once per distinct value of the parameters
    it uses (keyed by the function and those values, so ``SMA(close, 20)`` is computed once even
    when both a fast and a slow average ask for it); least recently used arrays are dropped
    beyond ``max_bytes``.

    ``computed`` counts the computations (a sweep's tests read it). ``compiled`` maps an
    indicator function (or a helper ``signals`` calls through ``SignalBars.twin``) to a faster
    twin that gives the same values to the bit (the vectorized engine's
    ``backtest.vector.indicators.COMPILED``)."""

    def __init__(
        self,
        strategy: type[SignalSource],
        bars: CandleArrays,
        max_bytes: int = 256 * 2**20,
        compiled: Mapping[Callable[..., Any], Callable[..., Any]] | None = None,
    ) -> None:
        self.strategy = strategy
        self.bars = bars
        self.max_bytes = max_bytes
        self.compiled = compiled or {}
        self.computed = 0
        self._arrays: OrderedDict[tuple[Any, ...], FloatArray] = OrderedDict()
        self._bytes = 0

    def get(self, name: str, params: Mapping[str, Any]) -> FloatArray:
        spec = self.strategy.signal_indicators.get(name)
        if spec is None:
            known = ", ".join(self.strategy.signal_indicators) or "none declared"
            raise StrategyError(
                f"{self.strategy.name}: no signal indicator {name!r} ({known}); declare it in "
                "signal_indicators"
            )
        values = tuple(params[p] for p in spec.uses)
        key = (spec.compute, *values)  # two names for one computation share the array
        arr = self._arrays.get(key)
        if arr is not None:
            self._arrays.move_to_end(key)
            return arr
        compute: Callable[..., npt.ArrayLike] = self.compiled.get(spec.compute, spec.compute)
        return self._keep(key, name, compute(self.bars, *values))

    def precompute(
        self,
        params: Sequence[Mapping[str, Any]],
        batched: Mapping[Callable[..., Any], Callable[..., Sequence[npt.ArrayLike]]],
    ) -> None:
        """Compute, ahead of ``get``, every indicator the combinations ``params`` will ask for
        whose function has a batch twin in ``batched`` (``batch(bars, values)``: one array per
        value, the same values as the function's, to the bit), each function's missing values
        in one call. Indicators of several parameters, and a batch that would not fit in
        ``max_bytes``, are left to ``get``."""
        wanted: dict[Callable[..., Any], dict[Any, str]] = {}
        for name, spec in self.strategy.signal_indicators.items():
            if spec.compute not in batched or len(spec.uses) != 1:
                continue
            for p in params:
                value = p.get(spec.uses[0])
                if value is not None and (spec.compute, value) not in self._arrays:
                    wanted.setdefault(spec.compute, {}).setdefault(value, name)
        n = len(self.bars)
        for compute, names in wanted.items():
            if (len(names) + len(self._arrays)) * n * 8 > self.max_bytes:
                continue
            values = list(names)
            for value, arr in zip(values, batched[compute](self.bars, values), strict=True):
                self._keep((compute, value), names[value], arr)

    def _keep(self, key: tuple[Any, ...], name: str, values: npt.ArrayLike) -> FloatArray:
        """Check a computed indicator, make it read-only and cache it (least recently used
        arrays dropped beyond ``max_bytes``)."""
        arr = np.ascontiguousarray(values, dtype=np.float64)
        n = len(self.bars)
        if arr.shape != (n,):
            raise StrategyError(
                f"{self.strategy.name}: indicator {name!r} has shape {arr.shape}, expected "
                f"({n},) aligned with the bars"
            )
        arr.setflags(write=False)
        self.computed += 1
        self._arrays[key] = arr
        self._bytes += arr.nbytes
        while self._bytes > self.max_bytes and len(self._arrays) > 1:
            _, old = self._arrays.popitem(last=False)
            self._bytes -= old.nbytes
        return arr

    def bind(self, params: Mapping[str, Any]) -> SignalBars:
        return SignalBars(self, params)


class SignalBars:
    """What ``signals`` sees: one symbol's candle arrays and its indicators for one parameter
    combination (``indicator(name)``)."""

    __slots__ = ("_cache", "_params")

    def __init__(self, cache: IndicatorCache, params: Mapping[str, Any]) -> None:
        self._cache = cache
        self._params = params

    @property
    def arrays(self) -> CandleArrays:
        return self._cache.bars

    @property
    def ts(self) -> npt.NDArray[np.int64]:
        return self._cache.bars.ts

    @property
    def open(self) -> FloatArray:
        return self._cache.bars.open

    @property
    def high(self) -> FloatArray:
        return self._cache.bars.high

    @property
    def low(self) -> FloatArray:
        return self._cache.bars.low

    @property
    def close(self) -> FloatArray:
        return self._cache.bars.close

    @property
    def volume(self) -> npt.NDArray[np.int64]:
        return self._cache.bars.volume

    def __len__(self) -> int:
        return len(self._cache.bars)

    def indicator(self, name: str) -> FloatArray:
        """The declared indicator ``name`` for this combination's parameter values."""
        return self._cache.get(name, self._params)

    def twin(self, fn: _Fn) -> _Fn:
        """``fn``'s compiled twin when the engine has one (same results to the bit: the
        vectorized engine's ``COMPILED``), else ``fn`` itself: for a helper ``signals`` calls
        once per combination, such as ``sma_crossover.crossings``."""
        found: _Fn = self._cache.compiled.get(fn, fn)  # type: ignore[assignment]
        return found
