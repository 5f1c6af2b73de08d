"""The Optimize page's form: strategy, a range per parameter prefilled from its declared bounds,
objective, method, constraint, trial budget, cores, the run options, and (walk-forward) folds.

What the widgets give is turned into a request by the CLI's own
:func:`~fyerstrade.commands.optimize.build_request`, so the page refuses exactly what
``fyerstrade optimize run`` refuses, with the same one-line message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import streamlit as st

from fyerstrade.backtest.optimize.objective import OBJECTIVES
from fyerstrade.backtest.optimize.space import optimizable, searchable
from fyerstrade.calendar import ist_date
from fyerstrade.config import Settings
from fyerstrade.dashboard import store_reads
from fyerstrade.dashboard.backtest_form import RESOLUTIONS, resolution_label
from fyerstrade.domain import Resolution
from fyerstrade.strategies.base import Param, Strategy
from fyerstrade.trading.defaults import MODES

if TYPE_CHECKING:
    from fyerstrade.backtest.optimize.runner import SweepRequest

__all__ = ["OptimizeForm", "default_range", "draw_form"]

METHODS = ("random", "tpe", "grid")
DEFAULT_TRIALS = 100
DEFAULT_SPAN_DAYS = 183


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def default_range(p: Param) -> str:
    """The text a parameter's range starts as: its declared range, choices, or its default."""
    if p.choices is not None:
        return ",".join(str(c) for c in p.choices)
    if p.type is bool:
        return "false,true"
    if optimizable(p) and p.min is not None and p.max is not None:
        step = p.step or 1
        return f"{_num(p.min)}:{_num(p.max)}:{_num(step)}"
    return str(p.default).lower() if isinstance(p.default, bool) else str(p.default)


@dataclass
class OptimizeForm:
    """What the form asked for (texts as typed)."""

    strategy: str
    ranges: dict[str, str]
    constraint: str
    objective: str
    min_trades: int
    method: str
    trials: int
    workers: int
    symbols: list[str]
    resolution: Resolution
    start: date | None
    end: date | None
    mode: str
    capital: float
    costs: bool
    folds: int = 5
    in_sample: int | None = None
    out_of_sample: int | None = None
    anchored: bool = False

    def request(self, settings: Settings) -> SweepRequest:
        """The checked request (InputError with the CLI's message when something is wrong)."""
        from fyerstrade.commands.optimize import SweepOptions, build_request
        from fyerstrade.errors import InputError

        if self.start is None or self.end is None:
            raise InputError("pick a start and an end date (fetch candles on the Data page)")
        options = SweepOptions(  # what the form does not ask for: the CLI's defaults
            strategy=self.strategy,
            symbol=list(self.symbols),
            resolution=self.resolution.value,
            from_=self.start.isoformat(),
            to=self.end.isoformat(),
            mode=self.mode,
            capital=self.capital,
            no_costs=not self.costs,
            param=[f"{k}={v}" for k, v in self.ranges.items() if v.strip()],
            constraint=[c for c in (self.constraint.strip(),) if c],
            objective=self.objective,
            min_trades=self.min_trades,
            method=self.method,
            trials=self.trials,
        )
        return build_request(settings, options)


def _ranges(cls: type[Strategy], prefix: str) -> dict[str, str]:
    st.markdown("**Search space** — `lo:hi:step`, a list `a,b,c`, or one value to fix it")
    if not cls.params:
        st.caption("This strategy takes no parameters.")
        return {}
    cols = st.columns(min(3, len(cls.params)))
    out = {}
    for i, p in enumerate(cls.params):
        with cols[i % len(cols)]:
            help_ = p.help or None
            if not searchable(p):
                help_ = f"{p.help} — not optimizable (no bounds or choices): one value".strip(" —")
            out[p.name] = st.text_input(
                p.name,
                value=default_range(p),
                help=help_,
                key=f"{prefix}-range-{cls.name}-{p.name}",
            )
    return out


def _dates(
    settings: Settings, symbols: list[str], resolution: Resolution, prefix: str
) -> tuple[date | None, date | None]:
    first_ts, last_ts = store_reads.stored_range(settings, symbols, resolution)
    d1, d2 = st.columns(2)
    if not (first_ts and last_ts):
        if symbols:
            st.warning(f"No {resolution_label(resolution)} candles stored for all of these.")
        return None, None
    lo, hi = ist_date(first_ts), ist_date(last_ts)
    start = d1.date_input(
        "Start", value=max(lo, hi - timedelta(days=DEFAULT_SPAN_DAYS)), min_value=lo,
        max_value=hi, key=f"{prefix}-start",
    )  # fmt: skip
    end = d2.date_input("End", value=hi, min_value=lo, max_value=hi, key=f"{prefix}-end")
    return (
        start if isinstance(start, date) else None,
        end if isinstance(end, date) else None,
    )


def draw_form(
    settings: Settings, strategies: dict[str, type[Strategy]], prefix: str, walkforward: bool
) -> OptimizeForm | None:
    """Draw the form; the filled form when its Run button was clicked, else None."""
    names = sorted(strategies)
    first = names.index("sma_crossover") if "sma_crossover" in names else 0
    name = st.selectbox("Strategy", names, index=first, key=f"{prefix}-strategy")
    cls = strategies[name]
    if cls.description:
        st.caption(cls.description)
    ranges = _ranges(cls, prefix)
    constraint = st.text_input(
        "Constraint", value="", key=f"{prefix}-constraint",
        placeholder="e.g. fast < slow", help="Every trial meets it: names, numbers, < <= == "
        "and/or/not, + - * / and abs/min/max.",
    )  # fmt: skip
    c1, c2, c3, c4, c5 = st.columns(5)
    objective = c1.selectbox("Objective", list(OBJECTIVES), key=f"{prefix}-objective")
    min_trades = int(c2.number_input("Min trades", value=5, min_value=0, key=f"{prefix}-min"))
    method = c3.selectbox("Method", METHODS, key=f"{prefix}-method")
    trials = int(
        c4.number_input("Trial budget", value=DEFAULT_TRIALS, min_value=1, key=f"{prefix}-trials")
    )
    from fyerstrade.backtest.optimize.executors import default_workers

    cores = default_workers()
    workers = int(
        c5.number_input("Cores", value=cores, min_value=1, max_value=max(cores, 64),
                        key=f"{prefix}-cores")
    )  # fmt: skip
    stored = store_reads.stored_symbols(settings)
    s1, s2, s3 = st.columns([3, 1, 1])
    symbols: list[str] = s1.multiselect(
        "Symbols", stored, default=stored[:1], key=f"{prefix}-symbols"
    )
    from fyerstrade.dashboard.pages.backtest import _resolutions_for

    offered = (_resolutions_for(settings, symbols) if symbols else []) or list(RESOLUTIONS)
    resolution: Resolution = s2.selectbox(
        "Resolution", offered, format_func=resolution_label, key=f"{prefix}-resolution"
    )
    mode = s3.radio("Mode", MODES, index=1, horizontal=True, key=f"{prefix}-mode")
    start, end = _dates(settings, symbols, resolution, prefix)
    k1, k2 = st.columns(2)
    capital = float(
        k1.number_input("Capital (₹)", value=100_000.0, step=10_000.0, key=f"{prefix}-capital")
    )
    costs = k2.checkbox("Indian trading costs", value=True, key=f"{prefix}-costs")
    form = OptimizeForm(
        strategy=name, ranges=ranges, constraint=str(constraint or ""), objective=str(objective),
        min_trades=min_trades, method=str(method), trials=trials, workers=workers,
        symbols=symbols, resolution=resolution, start=start, end=end, mode=str(mode),
        capital=capital, costs=bool(costs),
    )  # fmt: skip
    if walkforward:
        w1, w2, w3, w4 = st.columns(4)
        form.folds = int(w1.number_input("Folds", value=4, min_value=1, key=f"{prefix}-folds"))
        is_days = int(w2.number_input("In-sample days (0: auto)", value=0, min_value=0,
                                      key=f"{prefix}-is"))  # fmt: skip
        oos_days = int(w3.number_input("Out-of-sample days (0: auto)", value=0, min_value=0,
                                       key=f"{prefix}-oos"))  # fmt: skip
        form.in_sample = is_days or None
        form.out_of_sample = oos_days or None
        form.anchored = w4.radio("Windows", ("rolling", "anchored"), horizontal=True,
                                 key=f"{prefix}-scheme") == "anchored"  # fmt: skip
    label = "Run walk-forward" if walkforward else "Run optimization"
    if not st.button(label, type="primary", key=f"{prefix}-run"):
        return None
    return form
