"""The Runs page through AppTest: saved runs listed, two compared, one shown, one deleted."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from fyerstrade.backtest.journal import list_runs
from fyerstrade.config import Settings
from fyerstrade.store.db import connect
from plugins.dashboard import page_app


def _app() -> AppTest:
    return page_app("runs")


def test_no_runs_says_how_to_make_one(settings: Settings) -> None:
    at = _app()
    assert any("Backtest page" in i.value for i in at.info)


def test_saved_runs_are_listed_with_their_metrics(saved_runs: list[str]) -> None:
    at = _app()
    table = at.dataframe[0].value
    assert list(table["run"]) == saved_runs
    assert set(table["strategy"]) == {"sma_crossover"}
    assert "fast=5, slow=20" in set(table["parameters"]) | {""}
    assert "Total return" in table.columns
    # key metrics first, where the page shows them without scrolling
    assert list(table.columns)[:6] == [
        "run", "strategy", "Total return", "Sharpe", "Max drawdown", "Trades",
    ]  # fmt: skip


def test_two_runs_compare_side_by_side(saved_runs: list[str]) -> None:
    at = _app()
    at.multiselect(key="runs-selected").set_value(saved_runs).run()
    assert not at.exception, at.exception
    compare = at.dataframe[1].value
    assert list(compare.columns) == saved_runs
    assert sorted(compare.loc["parameters"].tolist()) == ["fast=10, slow=40", "fast=5, slow=20"]
    assert "Sharpe" in compare.index
    charts = at.get("plotly_chart")
    assert len(charts) == 1  # one chart with both equity curves
    figure = charts[0].proto.spec
    # legends name the strategy and its parameters, not only the run ids
    assert "sma_crossover(fast=5, slow=20)" in figure
    assert "sma_crossover(fast=10, slow=40)" in figure


def test_one_run_shows_its_results(saved_runs: list[str]) -> None:
    at = _app()
    at.multiselect(key="runs-selected").set_value(saved_runs[:1]).run()
    assert not at.exception, at.exception
    assert [m.label for m in at.metric][:2] == ["Total return", "CAGR"]
    # the Run detail draws the indicator lines the Backtest page draws (not the -1/0/+1 signal)
    price = [c.proto.spec.replace(" ", "") for c in at.get("plotly_chart")][2]
    assert '"name":"sma_fast"' in price and '"name":"sma_slow"' in price
    assert '"name":"cross"' not in price
    trades = at.dataframe[-1].value
    assert set(trades["side"]) <= {"long", "short"} and len(trades)


def test_delete_asks_for_confirmation(candle_store: Settings, saved_runs: list[str]) -> None:
    at = _app()
    at.selectbox(key="runs-delete-target").set_value(saved_runs[0]).run()
    at.button(key="runs-delete").click().run()
    assert not at.exception, at.exception
    assert any(saved_runs[0] in w.value for w in at.warning)
    assert len(list_runs(connect(candle_store.trading_db))) == 2  # not yet
    at.button(key="runs-delete-no").click().run()
    assert len(list_runs(connect(candle_store.trading_db))) == 2
    at.selectbox(key="runs-delete-target").set_value(saved_runs[0]).run()
    at.button(key="runs-delete").click().run()
    at.button(key="runs-delete-yes").click().run()
    assert not at.exception, at.exception
    assert any("Deleted run" in s.value for s in at.success)
    remaining = [r.run_id for r in list_runs(connect(candle_store.trading_db))]
    assert remaining == [saved_runs[1]]
    assert list(at.dataframe[0].value["run"]) == remaining


def test_a_run_saved_by_another_process_shows_on_the_next_rerun(saved_runs: list[str]) -> None:
    from fyerstrade.backtest.journal import load_run, save_stored_run
    from fyerstrade.config import load_settings

    at = _app()
    assert len(at.dataframe[0].value) == 2
    conn = connect(load_settings(env_file=None).trading_db)
    copy = load_run(conn, saved_runs[0])
    new_id = save_stored_run(conn, copy)  # written behind the dashboard's back (no cache clear)
    conn.close()
    at.run()
    assert new_id in list(at.dataframe[0].value["run"])
