"""Pure pieces of the dashboard: form validation, indicator filtering, launcher arguments."""

from __future__ import annotations

import itertools
from datetime import date, time
from pathlib import Path

import numpy as np
import pytest

from fyerstrade.config import Settings
from fyerstrade.dashboard.backtest_form import BacktestRequest, validate
from fyerstrade.dashboard.fetch_panel import parse_symbols
from fyerstrade.dashboard.launcher import DashboardSpec, child_environment, streamlit_command
from fyerstrade.dashboard.results_view import chart_indicators, equity_csv, equity_frame
from fyerstrade.domain import Resolution
from fyerstrade.strategies.sma_crossover import SmaCrossover
from plugins.dashboard import STORE_SYMBOLS


def _req(**kw: object) -> BacktestRequest:
    base: dict[str, object] = {
        "strategy": "sma_crossover", "params": {"fast": "5", "slow": 20},
        "symbols": ["NSE:SBIN-EQ"], "resolution": Resolution.M5,
        "start": date(2026, 10, 1), "end": date(2026, 11, 20),
        "available": (date(2026, 9, 1), date(2026, 11, 20)),
    }  # fmt: skip
    base.update(kw)
    return BacktestRequest(**base)  # type: ignore[arg-type]


def test_a_good_form_becomes_backtest_config_kwargs() -> None:
    kwargs, problems = validate(_req(), SmaCrossover)
    assert problems == []
    assert kwargs is not None
    assert kwargs["params"] == {"fast": 5, "slow": 20, "allow_short": False}  # converted, filled
    assert kwargs["symbols"] == ["NSE:SBIN-EQ"] and kwargs["mode"] == "positional"


def test_every_mistake_is_named_by_field() -> None:
    kwargs, problems = validate(
        _req(params={"fsat": 3}, start=date(2026, 11, 20), end=date(2026, 11, 1), capital=0.0,
             quantity=0, slippage_bps=-1.0),
        SmaCrossover,
    )  # fmt: skip
    assert kwargs is None
    fields = {p.field: p.message for p in problems}
    assert "did you mean 'fast'" in fields["params"]
    assert "before the start date" in fields["dates"]
    assert set(fields) == {"params", "dates", "capital", "quantity", "slippage"}


def test_dates_outside_the_store_and_intraday_rules() -> None:
    _, problems = validate(_req(start=date(2025, 1, 1), end=date(2025, 2, 1)), SmaCrossover)
    assert [p.field for p in problems] == ["dates"]
    assert "reaches outside the stored candles (2026-09-01 → 2026-11-20)" in problems[0].message
    _, problems = validate(_req(start=date(2026, 8, 1), end=date(2026, 10, 1)), SmaCrossover)
    assert [p.field for p in problems] == ["dates"]  # partly outside is outside too
    _, problems = validate(
        _req(mode="intraday", resolution=Resolution.D, square_off=time(15, 45)), SmaCrossover
    )
    assert {p.field for p in problems} == {"mode", "square_off"}


def test_signals_are_not_drawn_over_candles() -> None:
    levels = np.array([np.nan, 101.5, 102.0])
    cross = np.array([np.nan, 0.0, 1.0, -1.0, 0.0])
    kept = chart_indicators({"sma": levels, "cross": cross})
    assert list(kept) == ["sma"]


def test_parse_symbols() -> None:
    assert parse_symbols("nse:sbin-eq, NSE:TCS-EQ\nNSE:SBIN-EQ") == ["NSE:SBIN-EQ", "NSE:TCS-EQ"]


def test_streamlit_is_bound_headless_and_told_the_data_dir(tmp_path: Path) -> None:
    spec = DashboardSpec(data_dir=tmp_path / "d", port=8599, extra_env={"FYERS_APP_ID": "SIM-100"})
    argv = streamlit_command(spec)
    pairs = dict(itertools.pairwise(argv))
    assert pairs["--server.address"] == "127.0.0.1" and pairs["--server.port"] == "8599"
    assert pairs["--server.headless"] == "true"
    assert pairs["--browser.gatherUsageStats"] == "false"
    served = Path(argv[argv.index("run") + 1])
    assert served.as_posix().endswith("fyerstrade/dashboard/served/app.py")
    assert not (served.parent / "pages").exists()  # Streamlit's pages/ discovery never applies
    env = child_environment(spec)
    assert env["FYERSTRADE_DATA_DIR"] == str((tmp_path / "d").resolve())
    assert env["FYERS_APP_ID"] == "SIM-100"


@pytest.mark.parametrize("n", [0, 1, 47_310])
def test_equity_csv_is_what_pandas_writes(n: int) -> None:
    rng = np.random.default_rng(n)
    ts = 1_779_335_100 + 60 * np.arange(n, dtype=np.int64)
    equity = 1e6 + np.cumsum(rng.normal(0.0, 50.0, n))
    if n > 10:
        ts[5] += 7  # a time off the minute
        equity[3:9] = [1e16, 1e-7, -0.0, 123.0, 0.1 + 0.2, 5e-324]
    expected = equity_frame(ts, equity).to_csv(index=False).encode()
    assert equity_csv(ts, equity) == expected


def test_equity_csv_of_a_curve_with_nan_or_inf_is_still_pandas() -> None:
    ts = 1_779_335_100 + 60 * np.arange(3, dtype=np.int64)
    equity = np.array([1.0, np.nan, np.inf])
    assert equity_csv(ts, equity) == equity_frame(ts, equity).to_csv(index=False).encode()


def test_run_progress_is_drawn_in_steps_not_at_every_report() -> None:
    from fyerstrade.dashboard.pages.backtest import PROGRESS_STEPS, stepped

    drawn: list[float] = []
    report = stepped(drawn.append)
    report(-0.5)
    for i in range(101):  # the engine reports every 1 %
        report(i / 100)
    report(1.2)
    assert len(drawn) == PROGRESS_STEPS + 1
    assert drawn[0] == 0.0 and drawn[-1] == 1.0
    assert drawn == sorted(drawn) and all(0.0 <= d <= 1.0 for d in drawn)


def test_warm_up_loads_what_the_first_page_and_the_first_run_would_import(
    candle_store: Settings,
) -> None:
    """The first browser session's favicon (PIL, with the plugins opening its bytes loads), the
    page icons' name list, its first Run's engine, plotly JSON and pyarrow converter are imported
    before the server listens, and the candle store's summary the form reads is cached: the
    first page reads no store (the store's reader, made to fail after the warm-up, is not
    called)."""
    import subprocess
    import sys

    wanted = [
        "PIL.PngImagePlugin", "PIL.JpegImagePlugin", "streamlit.material_icon_names",
        "fyerstrade.backtest.engine", "fyerstrade.trading.costs",
        "fyerstrade.backtest.journal", "plotly.io._json", "pyarrow.pandas_compat",
    ]  # fmt: skip
    code = (
        "import sys\n"
        "from fyerstrade.dashboard.serve import warm_up\n"
        "warm_up()\n"
        f"print([m for m in {wanted!r} if m not in sys.modules])\n"
        "from fyerstrade.dashboard import store_reads\n"
        "def unread(conn): raise AssertionError('the candle store was read again')\n"
        "store_reads.candle_stats = unread\n"
        "print(store_reads.stored_symbols(store_reads.dashboard_settings()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    missing, symbols = out.stdout.strip().splitlines()[-2:]
    assert missing == "[]"
    assert symbols == repr(list(STORE_SYMBOLS))
