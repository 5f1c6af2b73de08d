"""``fyerstrade optimize``: parameter sweeps and walk-forward analysis over stored candles.

``run`` searches a strategy's parameters (grid, random or TPE) on every core, or a Ray cluster,
and stores every trial in ``trading_log.sqlite``; ``walkforward`` re-optimises fold after fold
and trades the winners out-of-sample; ``list``, ``show`` and ``delete`` manage what is stored.
The run options of ``backtest run`` apply unchanged (the same option declarations).

Every input is checked before anything runs, and an optimization is recorded only once
everything is known to be runnable: a bad option, parameter, range or constraint, a grid larger
than the trial budget, missing candles or a Ray address that does not answer prints one
``error: ...`` line, exits with code 2 and writes nothing. Ctrl-C keeps every finished trial
(exit code 130); ``--resume ID`` continues. ``--json`` prints one JSON object on stdout.
"""

from __future__ import annotations

import functools
import inspect
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Annotated, Any, get_type_hints

import typer

from fyerstrade.commands.backtest import (
    RESOLUTION,
    STRATEGY,
    SYMBOL,
    CapitalOption,
    EntryWindowOption,
    FromOption,
    ModeOption,
    NoCostsOption,
    QuantityOption,
    SlippageBpsOption,
    SlippageTicksOption,
    SquareOffOption,
    StrictOption,
    ToOption,
    _console,
    _echo_json,
    _load_checked,
    _trading,
    json_number,
    run_config,
)
from fyerstrade.commands.group import command_group
from fyerstrade.commands.optimize_print import print_sweep, print_walkforward
from fyerstrade.errors import InputError
from fyerstrade.trading.defaults import RUN_DEFAULTS

if TYPE_CHECKING:
    from fyerstrade.backtest.optimize.executors import Executor
    from fyerstrade.backtest.optimize.runner import SweepRequest
    from fyerstrade.backtest.optimize.sweep import Progress
    from fyerstrade.backtest.optimize.trials import OptimizationRecord
    from fyerstrade.config import Settings

EXIT_INTERRUPTED = 130
# ---- shared option declarations ---------------------------------------------------------------

StrategyArg = Annotated[str | None, STRATEGY]
SymbolArg = Annotated[list[str] | None, SYMBOL]
ResolutionArg = Annotated[str | None, RESOLUTION]
ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        help="Search NAME over lo:hi[:step], a list a,b,c, or fix it: NAME=value. Repeatable; "
        "parameters not given search their declared range.",
    ),
]
ConstraintOption = Annotated[
    list[str] | None,
    typer.Option("--constraint", "-c", help="A condition every trial meets, e.g. 'fast < slow'."),
]
ObjectiveOption = Annotated[
    str,
    typer.Option(
        "--objective",
        help="sharpe, sortino, calmar, total_return, cagr, profit_factor, expectancy, win_rate, "
        "final_equity, max_drawdown (minimised), volatility (minimised).",
    ),
]
MinTradesOption = Annotated[
    int, typer.Option("--min-trades", help="Trials with fewer round trips do not qualify.")
]
MethodOption = Annotated[str, typer.Option("--method", help="grid, random or tpe.")]
TrialsOption = Annotated[
    int | None,
    typer.Option(
        "--trials",
        "-n",
        help="Trial budget (random/tpe: default 200; grid: refused when larger, default 10,000).",
    ),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of random and tpe.")]
WorkersOption = Annotated[
    int | None,
    typer.Option("--workers", "-j", help="Processes (default: every core; 1: in this process)."),
]
RayOption = Annotated[
    str | None,
    typer.Option("--ray", help="Evaluate on a running Ray cluster: auto or HOST:PORT."),
]
EngineOption = Annotated[
    str, typer.Option("--engine", help="auto (vectorized when possible), event or vector.")
]
ResumeOption = Annotated[
    str | None, typer.Option("--resume", help="Continue a stopped optimization by its id.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]

DEFAULT_RANDOM_TRIALS = 200
DEFAULT_GRID_BUDGET = 10_000


def register(app: typer.Typer) -> None:
    group = command_group(
        "Optimize strategy parameters (grid, random, TPE) and walk forward; stored trials."
    )
    group.command("run")(run_command)
    group.command("walkforward")(walkforward_command)
    group.command("list")(list_command)
    group.command("show")(show_command)
    group.command("delete")(delete_command)
    app.add_typer(group, name="optimize")


# ---- building a request -----------------------------------------------------------------------


@dataclass(frozen=True)
class SweepOptions:
    """What ``optimize run`` and ``optimize walkforward`` share (and the dashboard's form sends):
    the run options of ``backtest run``, the search, and where it runs. Declared once, here:
    :func:`sweep_command` makes these fields a command's CLI options."""

    strategy: StrategyArg = None
    symbol: SymbolArg = None
    resolution: ResolutionArg = None
    from_: FromOption = None
    to: ToOption = None
    mode: ModeOption = RUN_DEFAULTS.mode
    capital: CapitalOption = RUN_DEFAULTS.capital
    quantity: QuantityOption = None
    no_costs: NoCostsOption = False
    slippage_ticks: SlippageTicksOption = RUN_DEFAULTS.slippage_ticks
    slippage_bps: SlippageBpsOption = RUN_DEFAULTS.slippage_bps
    entry_window: EntryWindowOption = RUN_DEFAULTS.entry_window_text
    square_off: SquareOffOption = RUN_DEFAULTS.square_off_text
    strict: StrictOption = False
    param: ParamOption = None
    constraint: ConstraintOption = None
    objective: ObjectiveOption = "sharpe"
    min_trades: MinTradesOption = 5
    method: MethodOption = "grid"
    trials: TrialsOption = None
    seed: SeedOption = 0
    # a command's own options are listed here in --help
    workers: WorkersOption = None
    ray: RayOption = None
    resume: ResumeOption = None
    as_json: JsonOption = False


_OWN_OPTIONS_AFTER = "seed"


def sweep_command(command: Callable[..., None]) -> Callable[..., None]:
    """``command(options: SweepOptions, **own)`` as a typer command: its CLI options are the
    fields of :class:`SweepOptions` and the command's own keyword parameters."""
    hints = get_type_hints(SweepOptions, include_extras=True)
    keyword = inspect.Parameter.KEYWORD_ONLY
    shared = [
        inspect.Parameter(f.name, keyword, default=f.default, annotation=hints[f.name])
        for f in fields(SweepOptions)
    ]
    own = list(inspect.signature(command, eval_str=True).parameters.values())[1:]
    cut = [p.name for p in shared].index(_OWN_OPTIONS_AFTER) + 1
    params = [*shared[:cut], *(p.replace(kind=keyword) for p in own), *shared[cut:]]
    names = [f.name for f in fields(SweepOptions)]

    @functools.wraps(command)
    def cli(**kw: Any) -> None:
        command(SweepOptions(**{name: kw.pop(name) for name in names}), **kw)

    cli.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    cli.__annotations__ = {p.name: p.annotation for p in params}
    return cli


def build_request(settings: Settings, o: SweepOptions) -> SweepRequest:
    """Every option checked (InputError naming the first mistake); nothing loaded or written."""
    from fyerstrade.backtest.optimize.constraints import parse_constraint
    from fyerstrade.backtest.optimize.methods import check_method
    from fyerstrade.backtest.optimize.objective import parse_objective
    from fyerstrade.backtest.optimize.runner import SweepRequest
    from fyerstrade.backtest.optimize.space import build_space
    from fyerstrade.backtest.optimize.sweep import SweepSpec, plan
    from fyerstrade.strategies.base import parse_param_pairs
    from fyerstrade.strategies.registry import get_strategy

    missing = [
        name
        for name, value in (
            ("--strategy", o.strategy), ("--symbol", o.symbol), ("--resolution", o.resolution),
        )
        if not value
    ]  # fmt: skip
    if missing:
        raise InputError(f"give {', '.join(missing)} (or --resume ID to continue a stored one)")
    assert o.strategy and o.symbol and o.resolution
    cls = get_strategy(o.strategy, settings)
    config = run_config(
        settings, cls, {}, o.symbol, o.resolution, o.from_, o.to, o.mode, o.capital, o.quantity,
        o.no_costs, o.slippage_ticks, o.slippage_bps, o.entry_window, o.square_off,
    )  # fmt: skip
    space = build_space(cls, parse_param_pairs(o.param or []))
    names = [p.name for p in cls.params]
    constraints = [parse_constraint(c, names, cls.name) for c in o.constraint or []]
    how = check_method(o.method)
    budget = (
        o.trials
        if o.trials is not None
        else (DEFAULT_GRID_BUDGET if how == "grid" else DEFAULT_RANDOM_TRIALS)
    )
    objective = parse_objective(o.objective, o.min_trades)
    spec = SweepSpec(space, constraints, objective, how, budget, o.seed)
    plan(spec)  # a constraint that excludes everything, a grid over the budget: refused here
    return SweepRequest(config, spec)


def make_executor(workers: int | None, ray: str | None) -> Executor:
    """The executor the options ask for, connected (a Ray address that does not answer is an
    InputError here, before anything is written)."""
    from fyerstrade.backtest.optimize.executors import PoolExecutor, SerialExecutor

    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    if ray is not None:
        if workers is not None:
            raise InputError("--workers and --ray exclude each other (Ray uses the cluster's CPUs)")
        from fyerstrade.backtest.optimize.ray_executor import RayExecutor

        executor = RayExecutor(ray.strip())
        executor.connect()
        return executor
    if workers == 1:
        return SerialExecutor()
    return PoolExecutor(workers)


def _check_not_running(rec: OptimizationRecord) -> None:
    from fyerstrade.backtest.optimize.trials import STATUS_COMPLETED, STATUS_RUNNING

    if rec.status == STATUS_COMPLETED:
        raise InputError(f"{rec.opt_id} is complete; nothing to resume")
    pid = rec.summary.get("pid")
    if rec.status == STATUS_RUNNING and isinstance(pid, int) and pid != os.getpid():
        try:
            os.kill(pid, 0)
        except OSError:
            return
        raise InputError(f"{rec.opt_id} is still running (process {pid}); stop it first")


def _mark_pid(conn: sqlite3.Connection, opt_id: str) -> None:
    from fyerstrade.backtest.optimize import trials as store

    rec = store.load_optimization(conn, opt_id)
    store.update_optimization(conn, opt_id, summary={**rec.summary, "pid": os.getpid()})


# ---- progress ---------------------------------------------------------------------------------


@contextmanager
def _progress(label: str, objective: str, direction: int) -> Iterator[Progress]:
    """A bar with trials done, the best score so far and the ETA on stderr (a terminal only)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda done, total, best: None
        return
    with Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[best]}"),
        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=console,
        transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task(label, total=None, best="")

        def update(done: int, total: int, best: float | None) -> None:
            shown = "" if best is None else f"best {objective} {best * direction:.4g}"
            bar.update(task, completed=done, total=total, best=shown)

        yield update


# ---- commands ---------------------------------------------------------------------------------


@sweep_command
def run_command(
    o: SweepOptions,
    engine: EngineOption = "auto",
    top: Annotated[
        int, typer.Option("--top", help="Save the best N as backtest runs (event engine, costs).")
    ] = 0,
) -> None:
    """Search a strategy's parameters and store every trial."""
    from fyerstrade.backtest.evaluate import period_days
    from fyerstrade.backtest.optimize import trials as store
    from fyerstrade.backtest.optimize.runner import (
        load_bars,
        request_from_record,
        save_top,
        start_sweep,
        sweep_report,
    )
    from fyerstrade.cli import settings

    cfg = settings()
    if top < 0:
        raise InputError(f"--top must not be negative, got {top}")
    if engine not in ("auto", "event", "vector"):
        raise InputError(f"--engine {engine!r} is not an engine; use auto, event or vector")
    with _trading(cfg) as conn:
        rec = None
        if o.resume is not None:
            rec = store.load_optimization(conn, o.resume)
            if rec.kind != "sweep":
                raise InputError(
                    f"{o.resume} is a walk-forward; resume it with `optimize walkforward`"
                )
            _check_not_running(rec)
            request = request_from_record(rec, cfg)
        else:
            request = build_request(cfg, o)
        checked = _load_checked(cfg, request.config, strict=o.strict)
        bars, table = load_bars(request.config, cfg, checked)
        executor = make_executor(o.workers, o.ray)
        if engine == "vector":
            from fyerstrade.backtest.evaluate import vector_unsupported

            reason = vector_unsupported(request.config, cfg)
            if reason is not None:
                raise InputError(f"--engine vector: {reason}")
        if rec is None:
            rec = start_sweep(conn, request, period_days(request.config, bars), cfg)
        _mark_pid(conn, rec.opt_id)
        if engine == "event":
            store.update_optimization(conn, rec.opt_id, engine="event")
            rec.engine = "event"
        direction = request.spec.objective.direction
        try:
            with _progress("optimize", request.spec.objective.metric, direction) as progress:
                _run_sweep(conn, rec, request, executor, bars, table, cfg, engine, progress)
        except KeyboardInterrupt:
            done = store.count_trials(conn, rec.opt_id)
            typer.echo(
                f"stopped: {done} finished trials are stored; continue with "
                f"`fyerstrade optimize run --resume {rec.opt_id}`",
                err=True,
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None
        if top:
            save_top(conn, store.load_optimization(conn, rec.opt_id), top, bars, table, cfg)
        report = sweep_report(conn, rec.opt_id)
    if o.as_json:
        _echo_json(report)
        return
    console = _console()
    print_sweep(console, report)
    console.print(f"stored as {rec.opt_id}: `fyerstrade optimize show {rec.opt_id}`")


def _run_sweep(
    conn: sqlite3.Connection,
    rec: OptimizationRecord,
    request: SweepRequest,
    executor: Executor,
    bars: Any,
    table: Any,
    cfg: Settings,
    engine: str,
    progress: Progress,
) -> None:
    from dataclasses import replace

    from fyerstrade.backtest.optimize.job import EvaluationJob
    from fyerstrade.backtest.optimize.runner import execute_sweep

    job = replace(EvaluationJob.create(request.config, bars, table, cfg), engine=engine)  # type: ignore[arg-type]
    executor.open(job)
    try:
        execute_sweep(conn, rec, request, executor, bars, table, cfg, progress=progress, job=job)
    finally:
        executor.close()


@sweep_command
def walkforward_command(
    o: SweepOptions,
    folds: Annotated[int, typer.Option("--folds", help="Number of folds.")] = 5,
    in_sample: Annotated[
        int | None, typer.Option("--in-sample", help="In-sample trading days per fold.")
    ] = None,
    out_of_sample: Annotated[
        int | None,
        typer.Option("--out-of-sample", help="Out-of-sample trading days per fold."),
    ] = None,
    anchored: Annotated[
        bool, typer.Option("--anchored/--rolling", help="Grow the in-sample window, or slide it.")
    ] = False,
) -> None:
    """Walk forward: optimise in-sample, trade the winner out-of-sample, fold after fold."""
    from fyerstrade.backtest.evaluate import period_days
    from fyerstrade.backtest.optimize import trials as store
    from fyerstrade.backtest.optimize.runner import load_bars, request_from_record
    from fyerstrade.backtest.optimize.walkforward import (
        folds_of,
        plan_folds,
        run_walkforward,
        start_walkforward,
    )
    from fyerstrade.cli import settings

    cfg = settings()
    with _trading(cfg) as conn:
        rec = None
        if o.resume is not None:
            rec = store.load_optimization(conn, o.resume)
            if rec.kind != "walkforward":
                raise InputError(f"{o.resume} is a sweep; resume it with `optimize run --resume`")
            _check_not_running(rec)
            request = request_from_record(rec, cfg)
            plan = folds_of(rec)
        else:
            request = build_request(cfg, o)
        checked = _load_checked(cfg, request.config, strict=o.strict)
        bars, table = load_bars(request.config, cfg, checked)
        days = period_days(request.config, bars)
        if rec is None:
            plan = plan_folds(days, folds, in_sample, out_of_sample, anchored)
        executor = make_executor(o.workers, o.ray)
        if rec is None:
            scheme = {
                "anchored": anchored,
                "folds": folds,
                "in_sample": in_sample,
                "out_of_sample": out_of_sample,
            }
            rec = start_walkforward(conn, request, plan, days, cfg, scheme)
        _mark_pid(conn, rec.opt_id)
        direction = request.spec.objective.direction
        try:
            with _progress("walk-forward", request.spec.objective.metric, direction) as progress:
                report = run_walkforward(
                    conn, rec, request, plan, executor, bars, table, cfg, progress=progress
                )
        except KeyboardInterrupt:
            typer.echo(
                f"stopped: finished folds and trials are stored; continue with "
                f"`fyerstrade optimize walkforward --resume {rec.opt_id}`",
                err=True,
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None
    if o.as_json:
        _echo_json(report)
        return
    print_walkforward(_console(), report)


def list_command(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 20,
    strategy: Annotated[str | None, typer.Option("--strategy", help="Only this strategy.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List stored optimizations, newest first."""
    from rich.table import Table

    from fyerstrade.backtest.journal import format_ist
    from fyerstrade.backtest.optimize.objective import OBJECTIVES
    from fyerstrade.backtest.optimize.trials import list_optimizations
    from fyerstrade.cli import settings

    with _trading(settings()) as conn:
        rows = list_optimizations(conn, limit=limit, strategy=strategy)
    if as_json:
        _echo_json([
            {
                "id": r.opt_id, "kind": r.kind, "strategy": r.strategy, "method": r.method,
                "objective": r.objective, "budget": r.budget, "status": r.status,
                "trials": r.trials, "symbols": list(r.symbols), "from": r.start, "to": r.end,
                "best": json_number(None if r.best_score is None
                                    else r.best_score * OBJECTIVES.get(r.objective, 1)),
                "created_at": format_ist(r.created_at),
            }
            for r in rows
        ])  # fmt: skip
        return
    if not rows:
        typer.echo("no optimizations yet; start one with `fyerstrade optimize run`")
        return
    table = Table(box=None)
    for col in ("id", "kind", "strategy", "method", "objective", "trials", "best", "status",
                "symbols", "from", "to"):  # fmt: skip
        table.add_column(col, no_wrap=col in ("id", "strategy"))
    for r in rows:
        best = (
            "" if r.best_score is None else f"{r.best_score * OBJECTIVES.get(r.objective, 1):.4g}"
        )
        table.add_row(
            r.opt_id, r.kind, r.strategy, r.method, r.objective, f"{r.trials}", best, r.status,
            ", ".join(r.symbols), r.start, r.end,
        )  # fmt: skip
    _console().print(table)


def show_command(
    opt_id: Annotated[str, typer.Argument(help="An id from `fyerstrade optimize list`.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Trials shown.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Show a stored optimization: its best trials, PBO and DSR (or a walk-forward's folds)."""
    from fyerstrade.backtest.optimize import trials as store
    from fyerstrade.backtest.optimize.runner import sweep_report
    from fyerstrade.backtest.optimize.walkforward import walkforward_report
    from fyerstrade.cli import settings

    with _trading(settings()) as conn:
        rec = store.load_optimization(conn, opt_id)
        if rec.kind == "walkforward":
            report = walkforward_report(conn, rec.opt_id)
        else:
            report = sweep_report(conn, rec.opt_id)
    if as_json:
        _echo_json(report)
    elif rec.kind == "walkforward":
        print_walkforward(_console(), report)
    else:
        print_sweep(_console(), report, limit)


def delete_command(
    opt_id: Annotated[str, typer.Argument(help="An id from `fyerstrade optimize list`.")],
) -> None:
    """Delete a stored optimization with its trials (and a walk-forward's fold searches)."""
    from fyerstrade.backtest.optimize.trials import delete_optimization
    from fyerstrade.cli import settings

    with _trading(settings()) as conn:
        n = delete_optimization(conn, opt_id)
    typer.echo(f"deleted {opt_id}" + (f" and its {n - 1} fold searches" if n > 1 else ""))
