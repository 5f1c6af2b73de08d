"""``fyerstrade backtest``: run a strategy over stored candles and keep the run in the journal;
list, show, report on and delete saved runs; list the strategies and their parameters.

Every input is checked before anything runs, and a run is saved only when it completes, so a
bad option (unknown strategy, parameter or symbol, a bad date, resolution or time window, no
candles in range) prints one ``error: ...`` line on stderr, exits with code 2 and writes nothing
to ``trading_log.sqlite``.

``--json`` prints exactly one JSON object on stdout (progress goes to stderr). Times are ISO 8601
with the IST offset (``2024-01-02T09:20:00+05:30``). Metrics that are undefined (a Sharpe ratio
of a single day) or not finite (the profit factor of a run without losing trades) are ``null``.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from fyerstrade.commands.group import command_group
from fyerstrade.commands.options import parse_date
from fyerstrade.domain import Resolution, RoundTrip, Side
from fyerstrade.errors import InputError
from fyerstrade.trading.defaults import RUN_DEFAULTS

if TYPE_CHECKING:
    from rich.console import Console

    from fyerstrade.backtest.engine import BacktestConfig
    from fyerstrade.backtest.journal import RunSummary, StoredRun
    from fyerstrade.config import Settings
    from fyerstrade.data.bars import LoadedBars
    from fyerstrade.strategies.base import Strategy

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


# ---- parsing options (pure, raising InputError with one line) --------------------------------


def parse_clock(text: str, option: str) -> time:
    """``HH:MM`` (24-hour, IST) → time."""
    m = _CLOCK.fullmatch(text.strip())
    if not m:
        raise InputError(f"{option} {text!r} is not a time of day; use HH:MM, e.g. 15:15")
    return time(int(m.group(1)), int(m.group(2)))


def parse_window(text: str) -> tuple[time, time]:
    """``HH:MM-HH:MM`` → (start, end) with start before end."""
    left, sep, right = text.partition("-")
    if not sep:
        raise InputError(f"--entry-window {text!r} must look like HH:MM-HH:MM, e.g. 09:20-14:30")
    start = parse_clock(left, "--entry-window start")
    end = parse_clock(right, "--entry-window end")
    if end <= start:
        raise InputError(f"--entry-window {text!r} ends before it starts")
    return start, end


def parse_resolution(text: str) -> Resolution:
    try:
        return Resolution.parse(text)
    except ValueError as exc:
        raise InputError(f"--resolution: {exc}") from None


def parse_mode(text: str) -> Literal["intraday", "positional"]:
    mode = text.strip().lower()
    if mode == "intraday":
        return "intraday"
    if mode == "positional":
        return "positional"
    raise InputError(f"--mode {text!r} is not a mode; use intraday or positional")


# ---- JSON shapes ------------------------------------------------------------------------------


def json_number(value: Any) -> Any:
    """A metric for strict JSON: non-finite floats become ``None`` (``null``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def trade_json(
    t: RoundTrip, entry_time: str | None = None, exit_time: str | None = None
) -> dict[str, Any]:
    """One round trip as JSON; ``entry_time``/``exit_time`` when already formatted (in bulk by
    :func:`ist_times`, the same text :func:`~fyerstrade.backtest.journal.format_ist` gives)."""
    from fyerstrade.backtest.journal import format_ist

    return {
        "symbol": t.symbol,
        "side": "long" if t.side is Side.BUY else "short",
        "quantity": t.quantity,
        "entry_time": entry_time or format_ist(t.entry_ts),
        "entry_price": t.entry_price,
        "exit_time": exit_time or format_ist(t.exit_ts),
        "exit_price": t.exit_price,
        "pnl": t.pnl,
        "costs": t.costs,
        "exit_reason": t.exit_reason,
        "product": str(t.product),
    }


def run_json(run: StoredRun, *, with_trades: bool = True) -> dict[str, Any]:
    """The JSON object of a saved run, as ``run --json`` and ``show --json`` print it."""
    out: dict[str, Any] = {
        "run_id": run.run_id,
        "strategy": run.strategy,
        "params": run.params,
        "symbols": list(run.symbols),
        "resolution": run.resolution,
        "from": run.start.isoformat(),
        "to": run.end.isoformat(),
        "mode": run.mode,
        "capital": run.capital,
        "quantity": run.quantity,
        "costs": run.costs_enabled,
        "slippage": run.slippage,
        "code_version": run.code_version,
        "duration_seconds": round(run.duration_seconds, 3),
        "metrics": {k: json_number(v) for k, v in run.metrics.items()},
    }
    used = used_facts(run)
    refused = used.get("refused_orders", {})
    out["refused_orders"] = {"count": sum(refused.values()), "reasons": refused}
    out["source_resolutions"] = used.get("source_resolutions", {})
    requested = (run.config.get("start"), run.config.get("end"))
    if None not in requested:
        out["requested"] = {"from": requested[0], "to": requested[1]}
    out["notes"] = used.get("notes", [])
    if with_trades:
        entries = ist_times([t.entry_ts for t in run.trades])
        exits = ist_times([t.exit_ts for t in run.trades])
        out["trades"] = [
            trade_json(t, a, b) for t, a, b in zip(run.trades, entries, exits, strict=True)
        ]
    return out


def used_facts(run: StoredRun) -> dict[str, Any]:
    """What the run really used (``config["used"]``: period, sources, refusals, notes); empty
    for runs saved before these were recorded."""
    used = run.config.get("used")
    return used if isinstance(used, dict) else {}


def resolution_label(resolution: Resolution) -> str:
    from fyerstrade.data.bars import resolution_label as label

    return label(resolution)


def ist_times(ts: Sequence[int]) -> list[str]:
    """Whole epoch seconds as ISO 8601 IST text (``2024-01-02T09:20:00+05:30``), in one
    vectorized pass (IST has no DST: a fixed +05:30 shift of UTC is exact)."""
    import numpy as np

    if not ts:
        return []
    local = (np.asarray(ts, dtype=np.int64) + 19_800).astype("datetime64[s]")
    return [f"{text}+05:30" for text in np.datetime_as_string(local, unit="s").tolist()]


class EncodedRows(list[str]):
    """Rows already encoded as compact JSON text, for :func:`_echo_json` to write as they are."""


_TRADE_ROW = (
    '{"symbol": %s, "side": %s, "quantity": %s, "entry_time": "%s", "entry_price": %s, '
    '"exit_time": "%s", "exit_price": %s, "pnl": %s, "costs": %s, "exit_reason": %s, '
    '"product": %s}'
)
_SIDE_TEXT = {Side.BUY: '"long"', Side.SELL: '"short"'}


def trade_rows(trades: Sequence[RoundTrip]) -> EncodedRows | None:
    """Each round trip's :func:`trade_json` as compact JSON text, the very text json's encoder
    gives, built column by column (about a third of the cost of a dict per trade and an encoder
    pass over it). ``None`` when a value is not a plain ``int``/``float`` (a numpy number, a
    bool) or not finite: the caller then takes the general path, which refuses NaN as before."""
    from fyerstrade.backtest.columns import column

    quantity = column(trades, "quantity")  # read from the columns: no object per trade
    prices = [column(trades, name) for name in ("entry_price", "exit_price", "pnl", "costs")]
    if not all(type(q) is int for q in quantity):
        return None
    for values in prices:
        if not all(type(x) is float for x in values) or not all(map(math.isfinite, values)):
            return None
    text: dict[str, str] = {}

    def encoded(values: list[str]) -> list[str]:
        for value in set(values) - text.keys():
            text[value] = _dumps(value)
        return list(map(text.__getitem__, values))

    columns = zip(
        encoded(column(trades, "symbol")),
        list(map(_SIDE_TEXT.__getitem__, column(trades, "side"))),
        map(int.__repr__, quantity),
        ist_times(column(trades, "entry_ts")),
        map(float.__repr__, prices[0]),
        ist_times(column(trades, "exit_ts")),
        map(float.__repr__, prices[1]),
        map(float.__repr__, prices[2]),
        map(float.__repr__, prices[3]),
        encoded(column(trades, "exit_reason")),
        encoded(list(map(str, column(trades, "product")))),
        strict=True,
    )
    return EncodedRows(_TRADE_ROW % row for row in columns)


def run_json_encoded(run: StoredRun) -> dict[str, Any]:
    """:func:`run_json` for :func:`_echo_json`, its trades as :class:`EncodedRows` (the same text
    once printed) when there are enough of them for ``_echo_json`` to print a row per line."""
    rows = trade_rows(run.trades) if len(run.trades) > _BULKY else None
    if rows is None:
        return run_json(run)
    out = run_json(run, with_trades=False)
    out["trades"] = rows
    return out


def summary_json(s: RunSummary) -> dict[str, Any]:
    from fyerstrade.backtest.journal import format_ist

    return {
        "run_id": s.run_id,
        "strategy": s.strategy,
        "params": s.params,
        "symbols": list(s.symbols),
        "resolution": s.resolution,
        "from": s.start.isoformat(),
        "to": s.end.isoformat(),
        "mode": s.mode,
        "capital": s.capital,
        "status": s.status,
        "created_at": format_ist(s.created_at),
        "metrics": {k: json_number(v) for k, v in s.metrics.items()},
    }


def _echo_json(obj: Any) -> None:
    """``obj`` as JSON on stdout, written piece by piece (no one big string of it all).

    Indented by two spaces, except that a long list of objects (a run's trades, a list of runs)
    gets one compact object per line, each encoded by json's C encoder: the indenting encoder is
    pure Python and took seconds for 20,000 trades."""
    out = sys.stdout
    if _bulky(obj):
        _write_rows(out, obj, "")
        out.write("\n")
    elif isinstance(obj, dict) and any(_bulky(v) for v in obj.values()):
        out.write("{\n")
        last = len(obj) - 1
        for i, (key, value) in enumerate(obj.items()):
            out.write(f"  {_dumps(key)}: ")
            if _bulky(value):
                _write_rows(out, value, "  ")
            else:
                out.write(_dumps(value, indent=2).replace("\n", "\n  "))
            out.write(",\n" if i < last else "\n")
        out.write("}\n")
    else:
        out.write(_dumps(obj, indent=2) + "\n")
    out.flush()


def _dumps(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, indent=indent, allow_nan=False, ensure_ascii=False)


#: A list of more objects than this is printed one compact object per line.
_BULKY = 8


def _bulky(value: Any) -> bool:
    if isinstance(value, EncodedRows):
        return True
    return (
        isinstance(value, list) and len(value) > _BULKY and all(isinstance(x, dict) for x in value)
    )


def _write_rows(out: Any, rows: list[dict[str, Any]] | EncodedRows, indent: str) -> None:
    out.write("[\n")
    lead = f"{indent}  "
    if isinstance(rows, EncodedRows):
        out.write(",\n".join([lead + row for row in rows]))
    else:
        encode = _row_encoder()
        out.write(",\n".join([lead + encode(row) for row in rows]))
    out.write(f"\n{indent}]")


def _row_encoder() -> Callable[[Any], str]:
    """Compact strict JSON of one row, as ``json.dumps(row, allow_nan=False,
    ensure_ascii=False)``: json's C encoder made once (``dumps`` builds one per call, which was
    most of the cost of 20,000 trades), or ``dumps`` where there is no C encoder."""
    from json import encoder as std

    plain = json.JSONEncoder(allow_nan=False, ensure_ascii=False)
    make = getattr(std, "c_make_encoder", None)  # (CPython's _json; not in typeshed)
    if make is None:
        return plain.encode
    # (markers None: no circular-reference check, as rows are plain values; json's own
    # encode_basestring for ensure_ascii=False)
    chunks = make(None, plain.default, std.encode_basestring, None, ": ", ", ", False, False,
                  False)  # fmt: skip
    return lambda row: "".join(chunks(row, 0))


# ---- tables -----------------------------------------------------------------------------------


def _console() -> Console:
    """stdout for tables: the terminal's width, or 200 columns when piped (no wrapped rows)."""
    from rich.console import Console

    console = Console(highlight=False, markup=False)
    if not console.is_terminal:
        console = Console(highlight=False, markup=False, width=200)
    return console


def _print_metrics(console: Console, run: StoredRun) -> None:
    from rich.table import Table

    from fyerstrade.reporting.html import format_metric, metric_label, ordered_metrics

    table = Table(box=None)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in ordered_metrics(run.metrics):
        table.add_row(metric_label(key), format_metric(key, value))
    console.print(table)


def _trade_summary(trades: Sequence[RoundTrip]) -> str:
    if not trades:
        return "no trades"
    wins = sum(1 for t in trades if t.pnl > 0)
    losses = sum(1 for t in trades if t.pnl < 0)
    reasons = Counter(t.exit_reason for t in trades)
    by_reason = ", ".join(f"{r} {n}" for r, n in reasons.most_common())
    best = max(trades, key=lambda t: t.pnl)
    worst = min(trades, key=lambda t: t.pnl)
    return (
        f"{len(trades)} trades: {wins} won, {losses} lost; exits: {by_reason}; "
        f"best {best.pnl:,.2f} ({best.symbol}), worst {worst.pnl:,.2f} ({worst.symbol})"
    )


def _print_trades(console: Console, trades: Sequence[RoundTrip]) -> None:
    from rich.table import Table

    from fyerstrade.backtest.journal import format_ist

    table = Table(box=None)
    for col, right in (("symbol", False), ("side", False), ("qty", True), ("entry (IST)", False),
                       ("entry ₹", True), ("exit (IST)", False), ("exit ₹", True),
                       ("P&L ₹", True), ("costs ₹", True), ("exit", False)):  # fmt: skip
        table.add_column(col, justify="right" if right else "left")
    for t in trades:
        table.add_row(
            t.symbol, "long" if t.side is Side.BUY else "short", str(t.quantity),
            format_ist(t.entry_ts)[:19].replace("T", " "), f"{t.entry_price:,.2f}",
            format_ist(t.exit_ts)[:19].replace("T", " "), f"{t.exit_price:,.2f}",
            f"{t.pnl:,.2f}", f"{t.costs:,.2f}", t.exit_reason,
        )  # fmt: skip
    console.print(table)


def _print_header(console: Console, run: StoredRun) -> None:
    params = ", ".join(f"{k}={v}" for k, v in sorted(run.params.items())) or "defaults"
    console.print(f"run {run.run_id}  ({run.code_version}, {run.duration_seconds:.2f} s)")
    asked = (run.config.get("start"), run.config.get("end"))
    period = f"{run.start} → {run.end}"
    if None not in asked and asked != (run.start.isoformat(), run.end.isoformat()):
        period += f" (asked {asked[0]} → {asked[1]})"
    console.print(
        f"{run.strategy}({params}) on {', '.join(run.symbols)} · {run.resolution} · "
        f"{period} · {run.mode} · capital {run.capital:,.0f} · "
        f"costs {'on' if run.costs_enabled else 'off'}"
    )


# ---- stores -----------------------------------------------------------------------------------


@contextmanager
def _trading(settings: Settings, *, verify: bool = False) -> Iterator[sqlite3.Connection]:
    from fyerstrade.store.db import open_trading

    conn = open_trading(settings, verify=verify)  # verify before saving: never into a damaged file
    try:
        yield conn
    except BaseException:
        conn.close()
        raise
    conn.close()
    if verify:  # verified, then written only by us through SQLite: the next save needs no check
        from fyerstrade.store.integrity import note_verified

        note_verified(settings.trading_db)


def _load_bars(settings: Settings, run: StoredRun) -> dict[str, Any]:
    """The run's candles per symbol, through the bar loader (built from finer stored bars when
    the run's resolution is not stored); symbols without candles any more are left out."""
    from fyerstrade.data.bars import load_bars
    from fyerstrade.errors import FyersTradeError
    from fyerstrade.store.db import open_historical

    res = Resolution.parse(run.resolution)
    conn = open_historical(settings)
    out: dict[str, Any] = {}
    try:
        for s in run.symbols:
            try:
                out[s] = load_bars(conn, [s], res, run.start, run.end).bars[s]
            except FyersTradeError:
                continue
    finally:
        conn.close()
    return out


# ---- commands ---------------------------------------------------------------------------------

_JSON_HELP = "Print one JSON object instead of tables."


def register(app: typer.Typer) -> None:
    group = command_group(
        "Backtest strategies on stored candles; list, show, report on and delete saved runs."
    )
    group.command("run")(run_command)
    group.command("list")(list_command)
    group.command("show")(show_command)
    group.command("report")(report_command)
    group.command("delete")(delete_command)
    group.command("strategies")(strategies_command)
    app.add_typer(group, name="backtest")


# ---- the run options (``optimize run`` and ``optimize walkforward`` declare the same) ---------

STRATEGY = typer.Option("--strategy", help="Strategy name (see `strategies`).")
SYMBOL = typer.Option("--symbol", "-s", help="Symbol, e.g. NSE:SBIN-EQ; repeatable.")
RESOLUTION = typer.Option("--resolution", "-r", help="1, 5, 15, 60, D ...")
StrategyOption = Annotated[str, STRATEGY]
SymbolOption = Annotated[list[str], SYMBOL]
ResolutionOption = Annotated[str, RESOLUTION]
FromOption = Annotated[
    str | None,
    typer.Option("--from", help="First trading date, YYYY-MM-DD (default: the first stored)."),
]
ToOption = Annotated[
    str | None,
    typer.Option(
        "--to", help="Last trading date (inclusive), YYYY-MM-DD (default: the last stored)."
    ),
]
ModeOption = Annotated[
    str,
    typer.Option(
        "--mode", help="positional (positions carry overnight) or intraday (square off daily)."
    ),
]
CapitalOption = Annotated[float, typer.Option("--capital", help="Starting capital in rupees.")]
QuantityOption = Annotated[
    int | None, typer.Option("--quantity", help="Fixed quantity per entry (else sized).")
]
NoCostsOption = Annotated[
    bool, typer.Option("--no-costs", help="Ignore brokerage and statutory charges.")
]
SlippageTicksOption = Annotated[
    float, typer.Option("--slippage-ticks", help="Adverse slippage per fill, in ticks.")
]
SlippageBpsOption = Annotated[
    float, typer.Option("--slippage-bps", help="Adverse slippage per fill, in basis points.")
]
EntryWindowOption = Annotated[
    str, typer.Option("--entry-window", help="Intraday entries only inside HH:MM-HH:MM IST.")
]
SquareOffOption = Annotated[
    str, typer.Option("--square-off", help="Intraday square-off time, HH:MM IST.")
]
MaxDailyLossOption = Annotated[
    float | None,
    typer.Option(
        "--max-daily-loss",
        help="Halt for the day once it has lost this many rupees (realized + unrealized): "
        "orders cancelled, positions closed at the next bar's open, no entry until the next day.",
    ),
]
MaxPositionsOption = Annotated[
    int | None,
    typer.Option(
        "--max-positions",
        help="No new entry while this many symbols hold a position or a working entry.",
    ),
]
StrictOption = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Refuse a range that reaches outside the stored candles (default: warn and run "
        "on the stored part).",
    ),
]


def run_config(
    settings: Settings,
    strategy: type[Strategy],
    params: dict[str, Any],
    symbol: Sequence[str],
    resolution: str,
    from_: str | None,
    to: str | None,
    mode: str,
    capital: float,
    quantity: int | None,
    no_costs: bool,
    slippage_ticks: float,
    slippage_bps: float,
    entry_window: str,
    square_off: str,
    max_daily_loss: float | None = None,
    max_positions: int | None = None,
) -> BacktestConfig:
    """The run options as a checked ``BacktestConfig`` (InputError naming the option); missing
    dates default to the stored range."""
    from fyerstrade.backtest.engine import BacktestConfig
    from fyerstrade.trading.spec import RiskLimits

    res = parse_resolution(resolution)
    symbols = list(dict.fromkeys(s.strip() for s in symbol if s.strip()))
    if not symbols:
        raise InputError("give at least one --symbol, e.g. --symbol NSE:SBIN-EQ")
    start, end = _dates(settings, symbols, res, from_, to)
    if end < start:
        raise InputError(f"--to {end} is before --from {start}")
    run_mode = parse_mode(mode)
    entry_start, entry_end = parse_window(entry_window)
    square = parse_clock(square_off, "--square-off")
    if capital <= 0:
        raise InputError(f"--capital must be positive, got {capital:g}")
    if quantity is not None and quantity <= 0:
        raise InputError(f"--quantity must be positive, got {quantity}")
    if slippage_ticks < 0 or slippage_bps < 0:
        raise InputError("--slippage-ticks and --slippage-bps must not be negative")
    if max_daily_loss is not None and not 0 < max_daily_loss < float("inf"):
        raise InputError(f"--max-daily-loss must be a positive amount, got {max_daily_loss:g}")
    if max_positions is not None and max_positions < 1:
        raise InputError(f"--max-positions must be at least 1, got {max_positions}")
    risk = RiskLimits(max_daily_loss=max_daily_loss, max_open_positions=max_positions)
    config = BacktestConfig(
        strategy=strategy.name,
        params=params,
        symbols=tuple(symbols),
        resolution=res,
        start=start,
        end=end,
        mode=run_mode,
        capital=capital,
        quantity=quantity,
        costs=not no_costs,
        slippage_ticks=slippage_ticks,
        slippage_bps=slippage_bps,
        entry_start=entry_start,
        entry_end=entry_end,
        square_off=square,
        risk=risk,
    )
    config.validate()
    return config


def run_command(
    strategy: StrategyOption,
    symbol: SymbolOption,
    resolution: ResolutionOption,
    from_: FromOption = None,
    to: ToOption = None,
    mode: ModeOption = RUN_DEFAULTS.mode,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE strategy parameter.")
    ] = None,
    capital: CapitalOption = RUN_DEFAULTS.capital,
    quantity: QuantityOption = None,
    no_costs: NoCostsOption = False,
    slippage_ticks: SlippageTicksOption = RUN_DEFAULTS.slippage_ticks,
    slippage_bps: SlippageBpsOption = RUN_DEFAULTS.slippage_bps,
    entry_window: EntryWindowOption = RUN_DEFAULTS.entry_window_text,
    square_off: SquareOffOption = RUN_DEFAULTS.square_off_text,
    max_daily_loss: MaxDailyLossOption = None,
    max_positions: MaxPositionsOption = None,
    strict: StrictOption = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON object: run_id, metrics (undefined or infinite values are null) "
            "and trades (times ISO 8601 with +05:30).",
        ),
    ] = False,
) -> None:
    """Backtest a strategy on stored candles, save the run and print its metrics."""
    from fyerstrade.backtest.engine import run_backtest
    from fyerstrade.backtest.journal import save_stored_run, stored_from_result
    from fyerstrade.cli import settings, state
    from fyerstrade.reporting.metrics import compute_metrics
    from fyerstrade.reporting.refusals import refusal_line
    from fyerstrade.strategies.base import parse_param_pairs, validate_params
    from fyerstrade.strategies.registry import get_strategy

    # Every check first: nothing runs and nothing is written on bad input.
    cfg = settings()
    with _interruptible():
        cls = get_strategy(strategy, cfg)
    params = validate_params(cls, parse_param_pairs(param or []))
    config = run_config(
        cfg, cls, params, symbol, resolution, from_, to, mode, capital, quantity, no_costs,
        slippage_ticks, slippage_bps, entry_window, square_off, max_daily_loss, max_positions,
    )  # fmt: skip
    loaded = _load_checked(cfg, config, strict=strict)
    with _interruptible(), _progress() as progress:
        result = run_backtest(config, cfg, progress=progress, loaded=loaded)
    metrics = compute_metrics(
        result.trades,
        result.equity_ts,
        result.equity,
        capital,
        risk_free_rate=cfg.risk_free_rate,
        exposure=result.exposure,
    )
    # The run as saved is what we print: nothing is read back from the journal.
    saved = stored_from_result(result, metrics)
    del result  # the bars and per-bar lists of the run are not needed any more
    with _trading(cfg, verify=True) as conn:
        run_id = save_stored_run(conn, saved)
    refused = refusal_line(used_facts(saved).get("refused_orders", {}))
    if refused:
        typer.echo(f"note: {refused}", err=True)
    if as_json:
        _echo_json(run_json_encoded(saved))
    else:
        console = _console()
        _print_header(console, saved)
        _print_metrics(console, saved)
        console.print(_trade_summary(saved.trades))
        if refused:
            console.print(refused)
        console.print(
            f"saved as {run_id}: `fyerstrade backtest show {run_id} --trades`, "
            f"`fyerstrade backtest report {run_id} --html report.html`"
        )
    state.nothing_open = True  # the stores are closed, the output written: see cli.run


def _dates(
    settings: Settings, symbols: list[str], res: Resolution, from_: str | None, to: str | None
) -> tuple[date, date]:
    """``--from``/``--to``, each defaulting to the first/last date the store holds (said on
    stderr, so the period is never a surprise)."""
    start = parse_date(from_, "--from") if from_ is not None else None
    end = parse_date(to, "--to") if to is not None else None
    if start is not None and end is not None:
        return start, end
    from fyerstrade.data.bars import stored_span
    from fyerstrade.store.db import open_historical

    conn = open_historical(settings)
    try:
        span = stored_span(conn, symbols, res)
    finally:
        conn.close()
    if span is None:
        raise InputError(
            f"no {resolution_label(res)} candles (or finer ones) stored for "
            f"{', '.join(symbols)} to take the dates from; give --from and --to, or fetch with "
            f"`fyerstrade data fetch --symbol {symbols[0]} --resolution {res.value}`"
        )
    start, end = start or span[0], end or span[1]
    typer.echo(f"note: period {start} → {end} (the stored range fills what was not given)",
               err=True)  # fmt: skip
    return start, end


def _load_checked(settings: Settings, config: BacktestConfig, *, strict: bool) -> LoadedBars:
    """The run's bars, after saying (stderr) what the user must know before it runs: indices
    that cannot be traded, bars built from a finer resolution, a range reaching outside the
    stored data (an error with ``--strict``)."""
    from fyerstrade.data.bars import is_index, load_bars
    from fyerstrade.store.db import open_historical

    conn = open_historical(settings)
    try:
        loaded = load_bars(conn, config.symbols, config.resolution, config.start, config.end)
    finally:
        conn.close()
    indices = [s for s, ins in loaded.instruments.items() if is_index(ins)]
    if indices and len(indices) == len(loaded.instruments):
        raise InputError(
            f"{', '.join(indices)} {'is an index' if len(indices) == 1 else 'are indices'} and "
            "cannot be traded; add a tradable symbol (a stock or a future) — an index can run "
            "alongside as a signal"
        )
    for s in indices:
        typer.echo(f"note: {s} is an index: the strategy can read it, orders on it are refused",
                   err=True)  # fmt: skip
    for note in loaded.notes:
        typer.echo(f"warning: {note}", err=True)
    built = loaded.source_text()
    if built:
        typer.echo(f"note: {resolution_label(config.resolution)} bars {built}", err=True)
    if loaded.outside:
        if strict:
            raise InputError(f"{loaded.outside_message()} (--strict)")
        typer.echo(f"warning: {loaded.outside_message()}", err=True)
    return loaded


@contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C before anything is saved: one line and exit 130. Inside strategy code the
    interruption names the strategy, symbol, bar and line (an ``on_data`` that never returns
    is otherwise a silent hang); the progress bar is closed first."""
    from fyerstrade.logs import redact

    try:
        yield
    except KeyboardInterrupt as exc:
        where = f": {redact(str(exc))}" if str(exc) else ""
        typer.echo(f"interrupted{where}; nothing was saved", err=True)
        raise typer.Exit(130) from None


@contextmanager
def _progress() -> Iterator[Callable[[float], None]]:
    """A progress callback (fraction done, 0..1) drawing a bar on stderr; silent when stderr is
    not a terminal, so ``--json`` output and logs stay clean (and rich is not even imported)."""
    if not (
        sys.stderr.isatty() or os.environ.get("FORCE_COLOR") or os.environ.get("TTY_COMPATIBLE")
    ):
        yield lambda fraction: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda fraction: None
        return
    with Progress(
        "backtest", BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
        console=console, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("backtest", total=1.0)

        def update(fraction: float) -> None:
            bar.update(task, completed=fraction)

        yield update


def list_command(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 20,
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="Only runs of this strategy.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=_JSON_HELP)] = False,
) -> None:
    """List saved runs, newest first, with their headline metrics."""
    from rich.table import Table

    from fyerstrade.backtest.journal import list_runs
    from fyerstrade.cli import settings
    from fyerstrade.reporting.html import format_metric

    with _trading(settings()) as conn:
        runs = list_runs(conn, limit=limit, strategy=strategy)
    if as_json:
        _echo_json([summary_json(r) for r in runs])
        return
    if not runs:
        typer.echo("no saved runs yet; start one with `fyerstrade backtest run`")
        return
    table = Table(box=None)
    table.add_column("run id", no_wrap=True)
    table.add_column("strategy", no_wrap=True)
    table.add_column("symbols")
    for col in ("res", "mode", "from", "to"):
        table.add_column(col, no_wrap=True)
    for col in ("return", "sharpe", "max dd", "trades", "final equity"):
        table.add_column(col, justify="right")
    for r in runs:
        m = r.metrics
        symbols = ", ".join(r.symbols[:3]) + (
            f" +{len(r.symbols) - 3}" if len(r.symbols) > 3 else ""
        )
        table.add_row(
            r.run_id, r.strategy, symbols, r.resolution, r.mode, str(r.start), str(r.end),
            *(format_metric(k, m.get(k))
              for k in ("total_return", "sharpe", "max_drawdown", "trades", "final_equity")),
        )  # fmt: skip
    _console().print(table)


def show_command(
    run_id: Annotated[str, typer.Argument(help="A run id from `fyerstrade backtest list`.")],
    trades: Annotated[bool, typer.Option("--trades", help="Also list every round trip.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help=_JSON_HELP)] = False,
) -> None:
    """Show a saved run: its configuration, metrics and (with --trades) its round trips."""
    from fyerstrade.backtest.journal import load_run
    from fyerstrade.cli import settings

    with _trading(settings()) as conn:
        run = load_run(conn, run_id)
    if as_json:
        out = run_json(run, with_trades=trades)
        out["config"] = run.config
        _echo_json(out)
        return
    console = _console()
    _print_header(console, run)
    _print_metrics(console, run)
    console.print(_trade_summary(run.trades))
    if trades and run.trades:
        _print_trades(console, run.trades)


def report_command(
    run_id: Annotated[str, typer.Argument(help="A run id from `fyerstrade backtest list`.")],
    html: Annotated[Path, typer.Option("--html", help="Write the HTML report to this file.")],
) -> None:
    """Write a self-contained HTML report (metrics, equity, drawdown, price with trades)."""
    from fyerstrade.backtest.journal import load_run
    from fyerstrade.cli import settings
    from fyerstrade.reporting.html import write_html_report
    from fyerstrade.reporting.plots import strategy_indicators

    cfg = settings()
    with _trading(cfg) as conn:
        run = load_run(conn, run_id)
    bars = _load_bars(cfg, run)
    indicators, plots = strategy_indicators(cfg, run.strategy, run.params, bars)
    new_folder = not html.parent.exists()
    try:
        out = write_html_report(run, html, bars=bars, indicators=indicators, plots=plots)
    except OSError as exc:
        raise InputError(f"cannot write {html}: {exc.strerror or exc}") from None
    created = f"; created the folder {html.parent}" if new_folder else ""
    typer.echo(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB){created}")


def delete_command(
    run_id: Annotated[str, typer.Argument(help="A run id from `fyerstrade backtest list`.")],
    yes: Annotated[bool, typer.Option("--yes", help="Delete without asking.")] = False,
) -> None:
    """Delete a saved run with its trades and equity curve (asks first; --yes does not)."""
    import sys

    from fyerstrade.backtest.journal import delete_run, load_run
    from fyerstrade.cli import settings

    with _trading(settings()) as conn:
        run = load_run(conn, run_id)  # an unknown id: one line naming it
        if not yes:
            what = f"run {run_id} ({run.strategy}, {run.start} → {run.end})"
            if not sys.stdin.isatty():
                raise InputError(f"deleting {what} cannot be undone; add --yes to delete it")
            if not typer.confirm(f"Delete {what}? This cannot be undone", default=False):
                typer.echo("nothing deleted")
                raise typer.Exit(1)
        delete_run(conn, run_id)
    typer.echo(f"deleted {run_id}")


def strategies_command(
    as_json: Annotated[bool, typer.Option("--json", help=_JSON_HELP)] = False,
) -> None:
    """List the strategies and their parameters (type, default, bounds, help)."""
    from fyerstrade.cli import settings
    from fyerstrade.strategies.listing import list_strategies

    listing, problems = list_strategies(settings())
    for problem in problems:
        typer.echo(f"warning: {problem}", err=True)
    if as_json:
        _echo_json(listing)
        return
    bold = _styled(sys.stdout)
    for info in listing:
        typer.echo(f"{_bold(info['name'], bold)}  {info['description']}")
        rows = [
            [p["name"], p["type"], str(p["default"]), _bound(p["min"]), _bound(p["max"]),
             _bound(p["step"]), p["help"]]
            for p in info["params"]
        ]  # fmt: skip
        header = ["parameter", "type", "default", "min", "max", "step", "help"]
        typer.echo(_plain_table(header, rows, bold))
        typer.echo("")


def _styled(stream: Any) -> bool:
    """Bold text only on a terminal that takes it (not when piped, NO_COLOR or TERM=dumb)."""
    isatty = getattr(stream, "isatty", None)
    return (
        callable(isatty)
        and bool(isatty())
        and "NO_COLOR" not in os.environ
        and os.environ.get("TERM") != "dumb"
    )


def _bold(text: str, bold: bool) -> str:
    return f"\x1b[1m{text}\x1b[0m" if bold else text


def _plain_table(header: list[str], rows: list[list[str]], bold: bool) -> str:
    """Columns padded to their widest cell, two spaces before each (no wrapping: a terminal
    folds a long line itself); the header in bold on a terminal."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        text = "".join(f"  {cell:<{width}} " for cell, width in zip(cells, widths, strict=True))
        return text.rstrip()

    top = line(header)
    return "\n".join([_bold(top, bold), *(line(row) for row in rows)])


def _bound(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"
