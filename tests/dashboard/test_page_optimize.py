"""The Optimize page under AppTest: the form prefilled from the declared bounds, a mistake as one
message with nothing stored, and real sweeps and walk-forwards run in the background (polled
with a deadline) whose results, heatmap and "open as backtest" appear."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

from fyerstrade.backtest.journal import list_runs
from fyerstrade.backtest.optimize.trials import list_optimizations
from fyerstrade.config import Settings
from fyerstrade.dashboard.optimize_jobs import Job
from fyerstrade.store.db import connect
from plugins.dashboard import page_app

DEADLINE_S = 240


def _app() -> AppTest:
    return page_app("optimize")


def _set_small_space(at: AppTest, prefix: str = "opt") -> None:
    at.text_input(key=f"{prefix}-range-sma_crossover-fast").set_value("5:15:5")
    at.text_input(key=f"{prefix}-range-sma_crossover-slow").set_value("20,40")
    at.text_input(key=f"{prefix}-range-sma_crossover-allow_short").set_value("false")
    at.selectbox(key=f"{prefix}-method").set_value("grid")
    at.number_input(key=f"{prefix}-cores").set_value(1)
    at.number_input(key=f"{prefix}-min").set_value(1)


def _wait(at: AppTest) -> None:
    """Rerun the page until the background job is over (its progress bar gone)."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if "opt-job" not in at.session_state:
            return
        time.sleep(0.2)
    _end(at.session_state["opt-job"])  # (not left running into the next test)
    raise AssertionError("the background optimization did not finish in time")


def _end(job: Job) -> None:
    """Kill the job's process if it still runs, and reap it."""
    if job.running:
        job.process.kill()
    job.process.wait()


def _stored(settings: Settings) -> int:
    if not settings.trading_db.exists():
        return 0
    conn = connect(settings.trading_db)
    try:
        return len(list_optimizations(conn))
    finally:
        conn.close()


def test_empty_store_says_how_to_get_data(settings: Settings) -> None:
    at = _app()
    assert any("fyerstrade demo" in i.value for i in at.info)


def test_ranges_are_prefilled_from_the_declared_bounds(candle_store: Settings) -> None:
    at = _app()
    assert at.text_input(key="opt-range-sma_crossover-fast").value == "1:1000:1"
    assert at.text_input(key="opt-range-sma_crossover-slow").value == "2:5000:1"
    assert at.text_input(key="opt-range-sma_crossover-allow_short").value == "false,true"
    at.selectbox(key="opt-strategy").set_value("opening_price_crossover").run()
    assert at.text_input(key="opt-range-opening_price_crossover-rr1").value == "0.1:20:0.1"


def test_a_mistake_is_one_message_and_nothing_is_stored(candle_store: Settings) -> None:
    at = _app()
    at.selectbox(key="opt-method").set_value("grid")
    at.button(key="opt-run").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "more than the trial budget" in errors[0]
    assert "--method random" in errors[0]
    at.text_input(key="opt-constraint").set_value("fast < solw")
    at.button(key="opt-run").click().run()
    assert any("not a parameter" in e.value for e in at.error)
    assert _stored(candle_store) == 0


def test_a_sweep_runs_in_the_background_and_opens_as_a_backtest(candle_store: Settings) -> None:
    at = _app()
    _set_small_space(at)
    at.text_input(key="opt-constraint").set_value("fast < slow")
    at.button(key="opt-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "opt-job" in at.session_state
    _wait(at)
    assert any("finished: 6 trials" in s.value for s in at.success), [s.value for s in at.success]
    frames = [d.value for d in at.dataframe]
    assert any(len(f) == 6 and "fast" in f.columns for f in frames)
    labels = [m.label for m in at.metric]
    assert "PBO" in labels and "Deflated Sharpe" in labels
    charts = [c.proto.spec.replace(" ", "") for c in at.get("plotly_chart")]
    assert any('"type":"heatmap"' in c for c in charts)
    before = len(list_runs(connect(candle_store.trading_db)))
    at.button(key="opt-open").click().run()
    assert not at.exception, at.exception
    runs = list_runs(connect(candle_store.trading_db))
    assert len(runs) == before + 1 and runs[0].strategy == "sma_crossover"
    assert "bt-result" in at.session_state and at.session_state["opt-opened"] == runs[0].run_id


def test_open_as_backtest_while_a_job_runs_links_instead_of_switching(
    candle_store: Settings,
) -> None:
    """While a job's progress timer ticks in the browser, a server-side page switch can be
    overtaken by a tick that reruns this page in the Backtest page's place: the run is saved and
    prefilled, and a link (which stops the browser's timers when clicked) leads to it."""
    at = _app()
    _set_small_space(at)
    at.button(key="opt-run").click().run()
    _wait(at)
    finished = at.session_state["opt-pick-sweep"]
    # a second sweep that runs for as long as this test needs it
    at.text_input(key="opt-range-sma_crossover-fast").set_value("1:1000:1")
    at.text_input(key="opt-range-sma_crossover-slow").set_value("2:5000:1")
    at.selectbox(key="opt-method").set_value("random")
    at.number_input(key="opt-trials").set_value(1_000_000)
    at.button(key="opt-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    job = at.session_state["opt-job"]
    try:
        at.selectbox(key="opt-pick-sweep").set_value(finished).run()
        before = len(list_runs(connect(candle_store.trading_db)))
        at.button(key="opt-open").click().run()
        assert not at.exception, at.exception
        assert job.running and "opt-job" in at.session_state
        runs = list_runs(connect(candle_store.trading_db))
        assert len(runs) == before + 1 and at.session_state["opt-opened"] == runs[0].run_id
        assert "bt-result" in at.session_state
        links = at.get("page_link")
        assert [link.proto.label for link in links] == ["Show it on the Backtest page"]
        assert any("on the Backtest page" in s.value for s in at.success)
    finally:
        job.stop()
    _wait(at)


def test_stop_ends_a_running_sweep_and_keeps_its_trials(candle_store: Settings) -> None:
    # a sweep far too long to finish, stopped from the page while its workers evaluate blocks
    at = _app()
    at.text_input(key="opt-range-sma_crossover-fast").set_value("1:1000:1")
    at.text_input(key="opt-range-sma_crossover-slow").set_value("2:5000:1")
    at.selectbox(key="opt-method").set_value("random")
    at.number_input(key="opt-trials").set_value(1_000_000)
    at.number_input(key="opt-cores").set_value(2)
    at.button(key="opt-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    job = at.session_state["opt-job"]
    try:
        deadline = time.monotonic() + DEADLINE_S
        while _trials(candle_store, job.opt_id) == 0:  # (blocks are being evaluated)
            assert time.monotonic() < deadline and job.running, "no trial stored in time"
            time.sleep(0.2)
        at.run()
        at.button(key="opt-stop").click().run()
        _wait(at)
    finally:
        _end(job)
    assert job.exit_code == 130
    kept = _trials(candle_store, job.opt_id)
    warnings = [w.value for w in at.warning]
    assert any(f"stopped with {kept:,} trials kept (interrupted)" in w for w in warnings), warnings
    assert not at.error, [e.value for e in at.error]


def _trials(settings: Settings, opt_id: str) -> int:
    from fyerstrade.backtest.optimize.trials import count_trials

    conn = connect(settings.trading_db)
    try:
        return count_trials(conn, opt_id)
    finally:
        conn.close()


def test_a_walkforward_shows_its_folds_and_stitched_equity(candle_store: Settings) -> None:
    at = _app()
    _set_small_space(at, "wf")
    at.number_input(key="wf-folds").set_value(2)
    at.number_input(key="wf-is").set_value(20)
    at.number_input(key="wf-oos").set_value(10)
    at.button(key="wf-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    _wait(at)
    assert any("Walk-forward" in s.value and "finished" in s.value for s in at.success)
    labels = [m.label for m in at.metric]
    assert "OOS Sharpe" in labels and "PBO" in labels
    charts = [c.proto.spec.replace(" ", "") for c in at.get("plotly_chart")]
    assert any("out-of-sample(stitched)" in c for c in charts)
    table = next(d.value for d in at.dataframe if "fold" in d.value.columns)
    assert len(table) == 2 and {"fast", "slow"} <= set(table.columns)
