"""The Optimize page: search a strategy's parameters, or walk forward, and study the results.

Two tabs, Sweep and Walk-forward. Each has the form (strategy, a range per parameter prefilled
from its declared bounds, objective, method, constraint, trial budget, cores, run options) and
a Run button. A run is recorded here (a mistake is one message under the form, nothing stored)
and then executed by ``fyerstrade optimize ... --resume ID`` in a process of its own
(:mod:`~fyerstrade.dashboard.optimize_jobs`), so a long sweep never blocks the page: a fragment
polls the trial store every second for trials done and the best so far, with a Stop button that
keeps what finished. Below, the stored optimizations of the tab's kind can be picked and their
results studied (:mod:`~fyerstrade.dashboard.optimize_results`).
"""

from __future__ import annotations

import logging
from typing import Any

import streamlit as st

from fyerstrade.config import Settings
from fyerstrade.dashboard import store_reads
from fyerstrade.dashboard.optimize_form import OptimizeForm, draw_form
from fyerstrade.dashboard.optimize_jobs import STOPPED_CODES, Job, launch, log_tail
from fyerstrade.errors import FyersTradeError
from fyerstrade.logs import redact
from fyerstrade.store.db import connect
from fyerstrade.strategies.registry import available_strategies, load_errors

log = logging.getLogger(__name__)
JOB_KEY = "opt-job"
FLASH_KEY = "opt-flash"
PICK_KEY = "opt-pick-{kind}"
POLL_SECONDS = 1.0


def _start(settings: Settings, form: OptimizeForm, kind: str) -> bool:
    """Check and record the request, then start it in the background (True); a mistake is
    shown (False)."""
    from fyerstrade.backtest.evaluate import period_days
    from fyerstrade.backtest.optimize.runner import load_bars, start_sweep
    from fyerstrade.backtest.optimize.sweep import plan

    try:
        request = form.request(settings)
        bars, _ = load_bars(request.config, settings)
        days = period_days(request.config, bars)
        planned = plan(request.spec).trials
        conn = connect(settings.trading_db)
        try:
            if kind == "sweep":
                rec = start_sweep(conn, request, days, settings)
            else:
                from fyerstrade.backtest.optimize.walkforward import plan_folds, start_walkforward

                folds = plan_folds(
                    days, form.folds, form.in_sample, form.out_of_sample, form.anchored
                )
                scheme = {
                    "anchored": form.anchored,
                    "folds": form.folds,
                    "in_sample": form.in_sample,
                    "out_of_sample": form.out_of_sample,
                }
                rec = start_walkforward(conn, request, folds, days, settings, scheme)
                planned *= len(folds)
        finally:
            conn.close()
    except FyersTradeError as exc:
        st.error(str(exc))
        return False
    job = launch(settings, rec.opt_id, kind, planned, form.workers)
    st.session_state[JOB_KEY] = job
    st.session_state[PICK_KEY.format(kind=kind)] = rec.opt_id
    return True


def _progress_numbers(settings: Settings, job: Job) -> tuple[str, int, float | None]:
    """(status, trials stored, best score) of the job's optimization and its folds."""
    from fyerstrade.backtest.optimize import trials as store

    conn = connect(settings.trading_db)
    try:
        rec = store.load_optimization(conn, job.opt_id)
        ids = [rec.opt_id] + [c.opt_id for c in store.children(conn, rec.opt_id)]
        done = sum(store.count_trials(conn, i) for i in ids)
        scores = [s for s in (store.best_score(conn, i) for i in ids) if s is not None]
        return rec.status, done, (max(scores) if rec.kind == "sweep" and scores else None)
    finally:
        conn.close()


@st.fragment(run_every=POLL_SECONDS)
def progress_panel(settings: Settings) -> None:
    """The running job's progress, refreshed every second while it runs."""
    job = st.session_state.get(JOB_KEY)
    if not isinstance(job, Job):
        return
    status, done, best = _progress_numbers(settings, job)
    what = "Walk-forward" if job.kind == "walkforward" else "Optimization"
    fraction = min(1.0, done / job.planned) if job.planned else 0.0
    best_text = "" if best is None else f" · best score {best:.4g}"
    if job.running:
        st.progress(fraction, text=f"{what} {job.opt_id}: {done:,} of {job.planned:,} trials"
                    f"{best_text}")  # fmt: skip
        if st.button("Stop", key="opt-stop"):
            job.stop()
        return
    code = job.exit_code
    st.session_state.pop(JOB_KEY, None)
    if code == 0:
        flash = ("success", f"{what} {job.opt_id} finished: {done:,} trials{best_text}.")
    elif code in STOPPED_CODES:
        flash = ("warning", f"{what} {job.opt_id} stopped with {done:,} trials kept ({status}).")
    else:
        reason = redact(log_tail(job)) or f"exit code {code}"
        flash = ("error", f"{what} {job.opt_id} failed: {reason}")
    st.session_state[FLASH_KEY] = flash
    st.rerun(scope="app")  # the whole page: the results below include the new trials


def _pick(settings: Settings, kind: str) -> str | None:
    from fyerstrade.backtest.optimize.trials import list_optimizations

    conn = connect(settings.trading_db)
    try:
        rows = [r for r in list_optimizations(conn, limit=200) if r.kind == kind]
    finally:
        conn.close()
    if not rows:
        st.caption("Nothing stored yet: run one above (or `fyerstrade optimize`).")
        return None
    labels = {r.opt_id: f"{r.opt_id} · {r.strategy} · {r.method} · {r.objective}" for r in rows}
    key = PICK_KEY.format(kind=kind)
    if st.session_state.get(key) not in labels:
        st.session_state[key] = rows[0].opt_id
    picked: str = st.selectbox("Stored", list(labels), format_func=labels.__getitem__, key=key)
    row = next(r for r in rows if r.opt_id == picked)
    st.caption(
        f"{row.status} · {row.trials:,} trials · {', '.join(row.symbols)} · {row.start} → {row.end}"
    )
    return picked


def _results(settings: Settings, kind: str, polling: bool) -> None:
    from fyerstrade.backtest.optimize.runner import sweep_report
    from fyerstrade.backtest.optimize.walkforward import walkforward_report
    from fyerstrade.dashboard.optimize_results import render_sweep, render_walkforward

    opt_id = _pick(settings, kind)
    if opt_id is None:
        return
    conn = connect(settings.trading_db)
    try:
        report: dict[str, Any] = (
            sweep_report(conn, opt_id) if kind == "sweep" else walkforward_report(conn, opt_id)
        )
    finally:
        conn.close()
    if kind == "sweep":
        render_sweep(settings, report, polling)
    else:
        render_walkforward(report)


def _tab(settings: Settings, strategies: dict[str, Any], kind: str) -> None:
    prefix = "opt" if kind == "sweep" else "wf"
    busy = isinstance(st.session_state.get(JOB_KEY), Job)
    with st.container(border=True):
        form = draw_form(settings, strategies, prefix, walkforward=kind == "walkforward")
        if form is not None:
            if busy:
                st.warning("An optimization is running; stop it or wait for it first.")
            elif _start(settings, form, kind):
                st.rerun()  # the progress panel above the tabs shows the new job
    st.header("Results")
    try:
        _results(settings, kind, busy)
    except FyersTradeError as exc:
        st.error(str(exc))
    except Exception as exc:  # a bug: one line here, the traceback in the log
        log.exception("optimize results failed")
        st.error(f"unexpected {type(exc).__name__}: {redact(str(exc))} (traceback in the log)")


def render_page() -> None:
    """Draw the Optimize page."""
    st.title("Optimize")
    settings = store_reads.dashboard_settings()
    try:
        strategies = available_strategies(settings)
    except FyersTradeError as exc:
        st.error(str(exc))
        return
    for problem in load_errors():
        st.warning(problem)
    if not store_reads.stored_symbols(settings):
        st.info(
            "The candle store is empty. Fetch candles on the Data page "
            "(or `fyerstrade data fetch`), or run `fyerstrade demo` for a filled demo store."
        )
        return
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash is not None:
        level, text = flash
        {"success": st.success, "warning": st.warning}.get(level, st.error)(text)
    if isinstance(st.session_state.get(JOB_KEY), Job):
        # Only while a job runs: a fragment's `run_every` is a timer in the browser, and a tick
        # that reaches the server after a switch to another page (open as backtest) reruns the
        # page the browser still thinks it is on, which blanks the new page.
        progress_panel(settings)
    sweep, walk = st.tabs(["Sweep", "Walk-forward"])
    with sweep:
        _tab(settings, strategies, "sweep")
    with walk:
        _tab(settings, strategies, "walkforward")
