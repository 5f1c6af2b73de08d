"""``fyerstrade demo``: the whole platform on one machine without a Fyers account.

Steps, each printed as it starts (long ones with a progress bar on stderr):

1. start the Fyers simulator in this process, on a free 127.0.0.1 port, on the wall clock (it
   serves only complete bars, so "now" is simply now);
2. log in against it (the same ``auth login`` code path as a real account; no browser);
3. load the symbol master (NSE_CM and NSE_FO) from it;
4. fetch about ``months`` months of 1-minute, 5-minute and daily candles of the universe
   (incremental: a second demo only asks for what is new since the last one);
5. run one sample backtest of each built-in strategy that has no run in the journal yet, so the
   Runs page is not empty;
6. start the dashboard (a Streamlit child process) and print its URL; Ctrl-C (or SIGTERM) stops
   the dashboard and the simulator.

**Where the demo's data lives.** Always in its own directory, ``<data dir>/demo`` (``data/demo``
by default; ``--data-dir`` picks another), never in the data directory itself: a real account's
token, candles and journal are never mixed with simulated ones, even when ``FYERSTRADE_DATA_DIR``
points at a real store. A ``--data-dir`` holding a real account's token or any data the demo did
not create is refused before anything starts (:mod:`fyerstrade.demo_guard`). The simulator's
credentials (``SIM-100`` / ``sim-secret``) are public demo values; the dashboard child gets them
so its fetch form works against the simulator.
"""

from __future__ import annotations

import logging
import subprocess
import webbrowser
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from fyerstrade.dashboard.launcher import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DashboardSpec,
    free_port,
    port_in_use,
    sigterm_as_interrupt,
    start_dashboard,
    stop_process,
    wait_until_up,
)
from fyerstrade.demo_defaults import DEFAULT_MONTHS, DEFAULT_UNIVERSE
from fyerstrade.domain import Resolution
from fyerstrade.errors import AuthError, InputError
from fyerstrade.sim.config import DEFAULT_APP_ID, DEFAULT_SECRET

if TYPE_CHECKING:
    from fyerstrade.config import Settings
    from fyerstrade.fyers.tokens import TokenRecord

log = logging.getLogger(__name__)
IST = ZoneInfo("Asia/Kolkata")

DEMO_RESOLUTIONS = (Resolution.M1, Resolution.M5, Resolution.D)
SAMPLE_RESOLUTION = Resolution.M5
SAMPLE_DAYS = 60
#: Built-in strategies that trade within the day get an intraday sample run.
INTRADAY_STRATEGIES = frozenset({"opening_price_crossover"})
DEMO_SEED = 42

Echo = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What ``fyerstrade demo`` was asked for."""

    data_dir: Path
    log_dir: Path
    symbols: tuple[str, ...] = DEFAULT_UNIVERSE
    months: int = DEFAULT_MONTHS
    port: int = DEFAULT_PORT
    host: str = DEFAULT_HOST
    open_browser: bool = True
    seed: int = DEMO_SEED


@dataclass(slots=True)
class DemoReport:
    """What the preparation did (shown at the end, used by tests)."""

    candles_added: int = 0
    requests: int = 0
    symbols_in_master: int = 0
    sample_runs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def demo_data_dir(settings: Settings, override: Path | None = None) -> Path:
    """``override`` when given, else ``<data dir>/demo``."""
    return override if override is not None else settings.data_dir / "demo"


def demo_settings(options: DemoOptions, sim_url: str) -> Settings:
    """Settings for the demo: its own data dir, the simulator and its public credentials.

    ``.env`` is not read: a real account's keys must not be sent to the simulator or mixed in.
    """
    from fyerstrade.config import load_settings

    return load_settings(
        env_file=None,
        data_dir=options.data_dir,
        log_dir=options.log_dir,
        fyers_url=sim_url,
        app_id=DEFAULT_APP_ID,
        secret_key=DEFAULT_SECRET,
        redirect_uri=f"http://127.0.0.1:{free_port()}/fyers/callback",
    )


def fetch_start(months: int, today: date) -> date:
    """The first date of a ``months``-month window ending ``today`` (30.5 days a month)."""
    return today - timedelta(days=round(30.5 * months))


def login_to_simulator(settings: Settings) -> TokenRecord:
    """``auth login`` against the simulator of ``settings`` (see :func:`demo_settings`), which
    approves it without a browser; the token file is saved and its record returned."""
    from fyerstrade.fyers.auth import login
    from fyerstrade.fyers.tokens import read_token

    try:
        existing = read_token(settings.token_file)
    except AuthError:
        raise InputError(
            f"{settings.token_file} cannot be read; a simulator login will not replace a token "
            "file it cannot identify (move it away if it is not a real account's)"
        ) from None
    if existing is not None and existing.app_id != settings.app_id:
        raise InputError(
            f"{settings.token_file} holds the token of app {existing.app_id}, not the "
            f"simulator's {settings.app_id}; a simulator login never replaces it (use another "
            "data directory)"
        )

    def no_prompt(question: str) -> str:
        raise RuntimeError(f"a simulator login cannot answer {question!r}")

    return login(settings, echo=lambda _: None, prompt=no_prompt, open_browser=False)


def _login(settings: Settings, echo: Echo) -> None:
    login_to_simulator(settings)
    echo("  logged in to the simulator")


def _symbol_master(settings: Settings, report: DemoReport, echo: Echo) -> None:
    from fyerstrade.data.symbols import refresh_symbol_master

    counts = refresh_symbol_master(settings)
    report.symbols_in_master = sum(counts.values())
    echo(f"  {report.symbols_in_master:,} instruments ({', '.join(sorted(counts))})")


def _fetch(
    settings: Settings, options: DemoOptions, today: date, report: DemoReport, echo: Echo
) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from fyerstrade.calendar import get_calendar
    from fyerstrade.data.history import FetchSummary, fetch_history
    from fyerstrade.fyers.client import FyersClient
    from fyerstrade.store.db import connect

    client = FyersClient.from_settings(settings)
    conn = connect(settings.historical_db, verify=True)
    try:
        with Progress(
            TextColumn("  fetching candles"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} requests"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task("fetch", total=None)

            def progress(s: FetchSummary) -> None:
                bar.update(task, total=s.planned, completed=s.completed)

            summary = fetch_history(
                conn,
                client,
                list(options.symbols),
                DEMO_RESOLUTIONS,
                calendar=get_calendar(),
                start=fetch_start(options.months, today),
                end=today,
                progress=progress,
            )
    finally:
        conn.close()
    if summary.interrupted:
        raise KeyboardInterrupt  # Ctrl-C during the fetch stops the demo (chunks are committed)
    report.candles_added = summary.candles_added
    report.requests = summary.requests
    report.errors += summary.errors
    echo(
        f"  {summary.candles_added:,} candles added in {summary.requests} requests "
        f"({summary.seconds:.1f} s)"
    )
    for err in summary.errors:
        echo(f"  warning: {err}")


def _sample_runs(settings: Settings, options: DemoOptions, report: DemoReport, echo: Echo) -> None:
    from fyerstrade.backtest.engine import BacktestConfig, run_backtest
    from fyerstrade.backtest.journal import list_runs, save_run
    from fyerstrade.calendar import ist_date
    from fyerstrade.errors import FyersTradeError
    from fyerstrade.reporting.metrics import compute_metrics
    from fyerstrade.store.candles import candle_stats
    from fyerstrade.store.db import connect
    from fyerstrade.strategies.registry import BUILTINS

    hist = connect(settings.historical_db)
    try:
        stats = {(s.symbol, s.resolution): s for s in candle_stats(hist) if s.count > 0}
    finally:
        hist.close()
    symbol = next((s for s in options.symbols if (s, SAMPLE_RESOLUTION) in stats), None)
    if symbol is None:
        echo("  no 5-minute candles stored; no sample backtests")
        return
    last = ist_date(stats[(symbol, SAMPLE_RESOLUTION)].last_ts)
    first = ist_date(stats[(symbol, SAMPLE_RESOLUTION)].first_ts)
    start = max(first, last - timedelta(days=SAMPLE_DAYS))
    conn = connect(settings.trading_db)
    try:
        for name in sorted(BUILTINS):
            if list_runs(conn, limit=1, strategy=name):
                echo(f"  {name}: already has a run")
                continue
            config = BacktestConfig(
                strategy=name,
                params={},
                symbols=[symbol],
                resolution=SAMPLE_RESOLUTION,
                start=start,
                end=last,
                mode="intraday" if name in INTRADAY_STRATEGIES else "positional",
            )
            try:
                result = run_backtest(config, settings)
            except FyersTradeError as exc:
                report.errors.append(f"{name}: {exc}")
                echo(f"  {name}: {exc}")
                continue
            metrics = compute_metrics(
                result.trades, result.equity_ts, result.equity, config.capital,
                settings.risk_free_rate, exposure=result.exposure,
            )  # fmt: skip
            run_id = save_run(conn, result, metrics)
            report.sample_runs.append(run_id)
            echo(f"  {name} on {symbol} {start} → {last}: {len(result.trades)} trades ({run_id})")
    finally:
        conn.close()


def fill_store(settings: Settings, options: DemoOptions, today: date, echo: Echo) -> DemoReport:
    """Steps 2–4 against a running simulator (``settings`` point at it): log in, load the
    symbol master, fetch the universe's candles."""
    report = DemoReport()
    from fyerstrade.demo_guard import claim_demo_dir  # imports the settings: not for --help

    claim_demo_dir(settings.data_dir, settings.app_id or DEFAULT_APP_ID)
    echo("logging in to the simulator")
    _login(settings, echo)
    echo("loading the symbol master")
    _symbol_master(settings, report, echo)
    echo(
        f"fetching {options.months} month(s) of 1-minute, 5-minute and daily candles for "
        f"{', '.join(options.symbols)}"
    )
    _fetch(settings, options, today, report, echo)
    return report


def prepare(settings: Settings, options: DemoOptions, today: date, echo: Echo) -> DemoReport:
    """Steps 2–5 against a running simulator: :func:`fill_store`, then the sample runs."""
    report = fill_store(settings, options, today, echo)
    echo("sample backtests")
    _sample_runs(settings, options, report, echo)
    return report


def run_demo(
    options: DemoOptions,
    echo: Echo,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> int:
    """The whole demo; blocks until Ctrl-C/SIGTERM or the dashboard exits; returns its exit code
    (0 after a requested stop). A data directory holding a real account's token or data is
    refused before anything starts (:mod:`fyerstrade.demo_guard`)."""
    from fyerstrade.demo_guard import claim_demo_dir

    claim_demo_dir(options.data_dir, DEFAULT_APP_ID)
    if port_in_use(options.host, options.port):
        raise InputError(
            f"port {options.port} on {options.host} is already in use (another dashboard?); "
            f"pass --port with a free port, e.g. --port {free_port(options.host)}"
        )
    from fyerstrade.sim import SimConfig, SimServer

    today = datetime.now(IST).date()
    sim = SimServer(SimConfig(port=0, seed=options.seed, per_minute=1_000))
    dashboard: subprocess.Popen[bytes] | None = None
    with sigterm_as_interrupt():
        try:
            url = sim.start()
            echo(f"simulator: {url} (app id {DEFAULT_APP_ID})")
            settings = demo_settings(options, url)
            echo(f"demo data: {options.data_dir.resolve()}")
            prepare(settings, options, today, echo)
            spec = DashboardSpec(
                data_dir=options.data_dir,
                port=options.port,
                host=options.host,
                log_dir=options.log_dir,
                extra_env=simulator_env(url, settings),
            )
            echo("starting the dashboard")
            dashboard = start_dashboard(spec)
            wait_until_up(spec.url, dashboard)
            echo(f"dashboard: {spec.url}  (Ctrl-C stops the dashboard and the simulator)")
            if on_ready is not None:
                on_ready(spec.url)
            if options.open_browser:
                webbrowser.open(spec.url)
            return int(dashboard.wait())
        except KeyboardInterrupt:
            echo("stopping the dashboard and the simulator")
            return 0
        finally:
            if dashboard is not None:
                stop_process(dashboard)
            sim.stop()


def simulator_env(url: str, settings: Settings) -> dict[str, str]:
    """The environment that points the dashboard child at the simulator."""
    return {
        "FYERSTRADE_FYERS_URL": url,
        "FYERS_APP_ID": DEFAULT_APP_ID,
        "FYERS_SECRET_KEY": DEFAULT_SECRET,
        "FYERS_REDIRECT_URI": settings.redirect_uri,
    }


def parse_universe(symbols: Sequence[str]) -> tuple[str, ...]:
    """Symbols from repeated/comma-separated options, upper-cased, in order, no duplicates."""
    out: list[str] = []
    for item in symbols:
        for part in item.split(","):
            s = part.strip().upper()
            if s and s not in out:
                out.append(s)
    return tuple(out) or DEFAULT_UNIVERSE
