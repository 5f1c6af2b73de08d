"""What the Backtest page's form asks for, and its validation, free of Streamlit.

The page collects a :class:`BacktestRequest` from its widgets and calls :func:`validate`, which
returns either the keyword arguments of ``BacktestConfig`` or a list of :class:`FormProblem`
(field, message) for the page to show next to the form — a mistake never reaches the engine, and
never shows as a traceback. Strategy parameters go through the strategy's own
``validate_params`` (declared types and bounds) and constructor (checks across parameters), so
the dashboard says exactly what the CLI would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from fyerstrade.domain import Resolution
from fyerstrade.errors import FyersTradeError
from fyerstrade.strategies.base import Strategy, validate_params
from fyerstrade.trading.defaults import MODES, RUN_DEFAULTS
from fyerstrade.trading.spec import RiskLimits

SESSION_OPEN = time(9, 15)
SESSION_CLOSE = time(15, 30)
#: Resolutions offered for backtests, finest first (each read, or built from finer stored bars).
RESOLUTIONS = tuple(Resolution)


def is_index_symbol(symbol: str) -> bool:
    """Fyers names every index ``…-INDEX`` (NSE:NIFTY50-INDEX); an index cannot be traded."""
    return symbol.upper().endswith("-INDEX")


def default_symbols(stored: list[str]) -> list[str]:
    """The symbol the form starts with: the first tradable one (never an index)."""
    tradable = [s for s in stored if not is_index_symbol(s)]
    return tradable[:1] or stored[:1]


def resolution_label(r: Resolution) -> str:
    """``1 minute``, ``5 minutes``, ``daily``."""
    if r is Resolution.D:
        return "daily"
    return f"{r.minutes} minute" + ("" if r.minutes == 1 else "s")


@dataclass(frozen=True, slots=True)
class FormProblem:
    """One thing wrong with the form: which field, and what to do about it."""

    field: str
    message: str


@dataclass(slots=True)
class BacktestRequest:
    """The form's values, as the widgets give them."""

    strategy: str
    params: dict[str, Any]
    symbols: list[str]
    resolution: Resolution
    start: date | None
    end: date | None
    mode: str = RUN_DEFAULTS.mode
    capital: float = RUN_DEFAULTS.capital
    quantity: int | None = RUN_DEFAULTS.quantity
    costs: bool = RUN_DEFAULTS.costs
    slippage_ticks: float = RUN_DEFAULTS.slippage_ticks
    slippage_bps: float = RUN_DEFAULTS.slippage_bps
    entry_start: time = RUN_DEFAULTS.entry_start
    entry_end: time = RUN_DEFAULTS.entry_end
    square_off: time = RUN_DEFAULTS.square_off
    max_daily_loss: float | None = None  # rupees; None: no limit
    max_positions: int | None = None  # None: no limit
    available: tuple[date, date] | None = field(default=None)


def _param_problems(cls: type[Strategy], raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    try:
        values = validate_params(cls, raw)
        cls(**values)  # the constructor may check parameters against each other
    except FyersTradeError as exc:
        return {}, [str(exc)]
    return values, []


def validate(
    req: BacktestRequest, cls: type[Strategy]
) -> tuple[dict[str, Any] | None, list[FormProblem]]:
    """``(BacktestConfig kwargs, [])`` when the form is good, else ``(None, problems)``."""
    problems: list[FormProblem] = []
    params, messages = _param_problems(cls, req.params)
    problems += [FormProblem("params", m) for m in messages]
    if not req.symbols:
        problems.append(FormProblem("symbols", "pick at least one symbol"))
    elif all(is_index_symbol(s) for s in req.symbols):
        problems.append(
            FormProblem(
                "symbols",
                f"{', '.join(req.symbols)}: an index cannot be traded; add a stock or a future "
                "(an index can run alongside as a signal)",
            )
        )
    if req.start is None or req.end is None:
        problems.append(FormProblem("dates", "pick a start and an end date"))
    elif req.end < req.start:
        problems.append(
            FormProblem("dates", f"the end date {req.end} is before the start date {req.start}")
        )
    elif req.available is not None and (req.start < req.available[0] or req.end > req.available[1]):
        lo, hi = req.available
        problems.append(
            FormProblem(
                "dates",
                f"{req.start} → {req.end} reaches outside the stored candles ({lo} → {hi}); "
                "pick dates inside it, or use the stored range",
            )
        )
    if req.mode not in MODES:
        problems.append(FormProblem("mode", f"mode must be one of {', '.join(MODES)}"))
    if req.mode == "intraday":
        if req.resolution is Resolution.D:
            problems.append(
                FormProblem("mode", "intraday mode needs intraday bars: pick a minute resolution")
            )
        if not SESSION_OPEN <= req.entry_start < req.entry_end:
            problems.append(
                FormProblem(
                    "entry_window",
                    "the entry window must start at or after 09:15 and before it ends "
                    f"(got {req.entry_start:%H:%M}–{req.entry_end:%H:%M})",
                )
            )
        if not req.entry_end <= req.square_off <= SESSION_CLOSE:
            problems.append(
                FormProblem(
                    "square_off",
                    "square-off must be at or after the end of the entry window and by 15:30 "
                    f"(got {req.square_off:%H:%M})",
                )
            )
    if not req.capital > 0:
        problems.append(FormProblem("capital", "capital must be more than ₹0"))
    if req.quantity is not None and req.quantity < 1:
        problems.append(FormProblem("quantity", "the fixed quantity must be at least 1"))
    if req.slippage_ticks < 0 or req.slippage_bps < 0:
        problems.append(FormProblem("slippage", "slippage cannot be negative"))
    if req.max_daily_loss is not None and not 0 < req.max_daily_loss < float("inf"):
        problems.append(
            FormProblem("risk", "the max daily loss must be more than ₹0 (empty: no limit)")
        )
    if req.max_positions is not None and req.max_positions < 1:
        problems.append(FormProblem("risk", "max open positions must be at least 1 (empty: none)"))
    if problems or req.start is None or req.end is None:
        return None, problems
    kwargs: dict[str, Any] = {
        "strategy": req.strategy,
        "params": params,
        "symbols": list(req.symbols),
        "resolution": req.resolution,
        "start": req.start,
        "end": req.end,
        "mode": req.mode,
        "capital": float(req.capital),
        "quantity": req.quantity,
        "costs": req.costs,
        "slippage_ticks": float(req.slippage_ticks),
        "slippage_bps": float(req.slippage_bps),
        "risk": RiskLimits(max_daily_loss=req.max_daily_loss, max_open_positions=req.max_positions),
        "entry_start": req.entry_start,
        "entry_end": req.entry_end,
        "square_off": req.square_off,
    }
    return kwargs, []
